"""Notifications (issue 10): the outbox is written with the change, delivered once, retried on
SMTP errors, left pending (and sent later) when Redis is down, and shown only to their owner."""

from __future__ import annotations

import datetime
import smtplib

import django_rq
import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.utils import timezone
from redis import Redis
from rq import Queue

from residency import notifications, services
from residency.models import Notification, NotificationPreference
from tests.concurrency import run_concurrently
from tests.factories import AbsenceFactory, PersonFactory, RotationTemplateFactory
from tests.residency.editing_support import client_for, edit_url, resident_assignment

Status = Notification.EmailStatus
Kind = Notification.Kind


class FailingBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("connection refused")


def move(assignment, coordinator):
    other = RotationTemplateFactory(name="Clinic", code="CLIN")
    return services.assignment_update(
        assignment_id=assignment.pk, version=assignment.version, rotation=other, by=coordinator
    )


def dead_queue(name: str = "notifications") -> Queue:
    return Queue(name, connection=Redis(host="127.0.0.1", port=1, socket_connect_timeout=1))


@pytest.mark.django_db
def test_a_coordinator_edit_notifies_the_person_and_an_own_edit_does_not(
    coordinator, resident, django_capture_on_commit_callbacks
):
    assignment = resident_assignment(person=resident)
    with django_capture_on_commit_callbacks() as callbacks:
        move(assignment, coordinator)
    (note,) = Notification.objects.all()
    assert (note.user, note.kind, note.email_status) == (
        resident.user,
        Kind.SCHEDULE_CHANGED,
        "pending",
    )
    assert "-> Clinic" in note.body
    assert note.email == resident.email
    assert len(callbacks) == 1  # the delivery job is enqueued on commit

    services.assignment_update(
        assignment_id=assignment.pk, version=2, notes="mine", by=resident.user
    )
    assert Notification.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_notification_exactly_once(coordinator):
    people = PersonFactory.create_batch(6)
    notifications.notify_people(
        people=people, kind=Kind.SWAP_REQUESTED, subject="Hello", body="A swap for you."
    )
    ids = list(Notification.objects.values_list("pk", flat=True))
    mail.outbox.clear()
    attempts = []
    real = notifications.notification_deliver

    def counting(**kwargs):
        sent = real(**kwargs)
        attempts.append((kwargs["notification_id"], sent))
        return sent

    notifications.notification_deliver = counting
    try:
        # Two deliveries of the same ids (the job ran twice, or the job and the cron command),
        # released together: both try to claim every row.
        outcomes = run_concurrently(
            lambda: notifications.notifications_deliver(notification_ids=ids),
            lambda: notifications.notifications_deliver(notification_ids=ids),
        )
    finally:
        notifications.notification_deliver = real
    assert [o.error for o in outcomes] == [None, None]
    assert sum(o.result for o in outcomes) == 6
    assert len(attempts) == 12  # every row was contended
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    assert set(Notification.objects.values_list("email_status", flat=True)) == {Status.SENT}


@pytest.mark.django_db
def test_a_claimed_notification_is_not_sent_again():
    (note,) = notifications.notify_people(
        people=[PersonFactory()], kind=Kind.SWAP_ACCEPTED, subject="s", body="b"
    )
    mail.outbox.clear()
    assert notifications.notification_deliver(notification_id=note.pk) is True
    assert notifications.notification_deliver(notification_id=note.pk) is False
    assert notifications.notifications_deliver_pending() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_redis_down_at_commit_leaves_it_pending_and_the_command_sends_it(
    coordinator, resident, monkeypatch, caplog
):
    assignment = resident_assignment(person=resident)
    monkeypatch.setattr(django_rq, "get_queue", lambda name="default": dead_queue(name))
    updated = move(assignment, coordinator)  # commits; the enqueue after commit fails
    assert updated.version == 2
    note = Notification.objects.get()
    assert note.email_status == Status.PENDING
    assert "Could not queue delivery" in caplog.text

    mail.outbox.clear()
    call_command("deliver_notifications")
    note.refresh_from_db()
    assert note.email_status == Status.SENT
    assert [m.to for m in mail.outbox] == [[resident.email]]
    assert "Clinic" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_smtp_failure_never_fails_the_edit_is_retried_then_shown_failed(
    coordinator, resident, settings, monkeypatch
):
    settings.EMAIL_BACKEND = "tests.residency.test_notifications.FailingBackend"
    settings.ROTA_NOTIFICATION_MAX_ATTEMPTS = 3
    # The delivery job runs inline, at commit, inside the coordinator's request.
    real_get_queue = django_rq.get_queue
    monkeypatch.setattr(
        django_rq,
        "get_queue",
        lambda name="default": Queue(
            name, connection=real_get_queue(name).connection, is_async=False
        ),
    )
    assignment = resident_assignment(person=resident)
    other = RotationTemplateFactory(name="Clinic", code="CLIN")
    response = client_for(coordinator).post(
        edit_url(assignment),
        {
            "version": 1,
            "person": resident.pk,
            "rotation": other.pk,
            "role": "primary",
            "notes": "",
        },
    )
    assert response.status_code == 302  # the change is saved; mail trouble is not the actor's

    note = Notification.objects.get()
    assert (note.email_status, note.attempts) == (Status.PENDING, 1)
    assert "connection refused" in note.last_error
    first_retry = note.next_attempt_at
    assert first_retry > timezone.now()
    # Not due yet: nothing is tried.
    assert notifications.notifications_deliver_pending() == 0
    assert Notification.objects.get().attempts == 1

    later = first_retry + datetime.timedelta(seconds=1)
    notifications.notifications_deliver_pending(now=later)
    note.refresh_from_db()
    assert (note.email_status, note.attempts) == (Status.PENDING, 2)
    # The backoff doubles: 1 minute after the first failure, 2 after the second.
    assert note.next_attempt_at - later == datetime.timedelta(minutes=2)
    notifications.notifications_deliver_pending(now=note.next_attempt_at)
    note.refresh_from_db()
    assert (note.email_status, note.attempts) == (Status.FAILED, 3)

    page = client_for(coordinator).get("/admin/residency/notification/?email_status=failed")
    assert page.status_code == 200
    assert note.subject in page.content.decode()

    # Once the SMTP server is fixed, the coordinator sends it again from the admin.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    response = client_for(coordinator).post(
        "/admin/residency/notification/", {"action": "retry", "_selected_action": [note.pk]}
    )
    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.email_status, note.attempts) == (Status.SENT, 1)  # the inline queue sent it
    assert [m.to for m in mail.outbox] == [[resident.email]]


@pytest.mark.django_db
def test_email_opt_out_per_kind_keeps_the_in_app_notification(resident):
    client = client_for(resident.user)
    kinds = [k for k in Kind.values if k != Kind.SCHEDULE_CHANGED]
    assert client.post("/notifications/settings/", {"email_kinds": kinds}).status_code == 302
    assert NotificationPreference.objects.get(kind=Kind.SCHEDULE_CHANGED).email is False
    assert client.post("/notifications/settings/", {"email_kinds": ["nonsense"]}).status_code == 400

    notifications.notify_people(
        people=[resident], kind=Kind.SCHEDULE_CHANGED, subject="a", body="b"
    )
    notifications.notify_people(people=[resident], kind=Kind.SWAP_ACCEPTED, subject="c", body="d")
    statuses = dict(Notification.objects.values_list("kind", "email_status"))
    assert statuses == {Kind.SCHEDULE_CHANGED: Status.SKIPPED, Kind.SWAP_ACCEPTED: Status.PENDING}


@pytest.mark.django_db
def test_in_app_list_shows_only_your_own_with_an_unread_count(resident, faculty):
    notifications.notify_people(
        people=[resident], kind=Kind.SWAP_ACCEPTED, subject="Mine", body="x"
    )
    notifications.notify_people(
        people=[faculty], kind=Kind.SWAP_ACCEPTED, subject="Theirs", body="y"
    )
    client = client_for(resident.user)
    page = client.get("/notifications/")
    assert [n.subject for n in page.context["notifications"]] == ["Mine"]
    assert page.context["unread_notifications"] == 1
    assert 'class="badge">1<' in page.content.decode()

    theirs = Notification.objects.get(subject="Theirs")
    client.post("/notifications/read/", {"id": [theirs.pk]})  # not theirs to mark
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    client.post("/notifications/read/")
    assert client.get("/notifications/").context["unread_notifications"] == 0


@pytest.mark.django_db
def test_absence_approved_or_denied_in_the_admin_tells_the_person(coordinator, resident):
    absence = AbsenceFactory(person=resident, status="requested")
    client = client_for(coordinator)
    data = {
        "person": resident.pk,
        "start_date": absence.start_date,
        "end_date": absence.end_date,
        "kind": absence.kind,
        "status": "approved",
        "note": "",
        "expected_version": absence.version,  # the versioned admin form (issue 14)
        "values_read": "",
    }
    response = client.post(f"/admin/residency/absence/{absence.pk}/change/", data)
    assert response.status_code == 302, response.content
    note = Notification.objects.get()
    assert (note.user, note.kind) == (resident.user, Kind.ABSENCE_DECIDED)
    assert "was approved" in note.subject
    # Saving again without a status change tells nobody anything new.
    absence.refresh_from_db()
    data.update(expected_version=absence.version, note="again")
    assert client.post(f"/admin/residency/absence/{absence.pk}/change/", data).status_code == 302
    assert Notification.objects.count() == 1
