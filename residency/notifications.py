"""Notifications through a transactional outbox (issue 10).

Writing: the service that makes a change calls ``notify_people`` / ``notify_coordinators``
inside its transaction. The rows commit or roll back with the change; on commit an rq job is
enqueued with their ids. If Redis is down then, the rows simply stay pending and
``manage.py deliver_notifications`` (cron) sends them.

Sending: ``notification_deliver`` claims one row with a conditional UPDATE (pending -> sending);
exactly one worker gets the row, so two workers (the job and the cron command, or two jobs) never
e-mail it twice. A failed send goes back to pending with a backoff (1, 2, 4... minutes), and after
``ROTA_NOTIFICATION_MAX_ATTEMPTS`` is marked failed, shown in the admin. A worker that dies
between sending and marking leaves a "sending" row that is handed out again after
``ROTA_NOTIFICATION_CLAIM_TIMEOUT_SECONDS``: the one case that may e-mail twice (at-least-once
beats never).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from redis.exceptions import RedisError

from residency.models import Assignment, Block, Person, RotationTemplate
from residency.notification_models import Notification, NotificationPreference
from residency.selectors import COORDINATORS_GROUP

logger = logging.getLogger(__name__)
Kind = Notification.Kind
EmailStatus = Notification.EmailStatus
QUEUE = "notifications"  # RQ_QUEUES; workers run `rqworker default notifications`


@dataclass(frozen=True)
class Recipient:
    user_id: int | None
    email: str


def _recipients_for_people(people: Iterable[Person]) -> list[Recipient]:
    seen, recipients = set(), []
    for person in people:
        if person is None or person.pk in seen:
            continue
        seen.add(person.pk)
        recipients.append(Recipient(person.user_id, person.email))
    return recipients


def _create(recipients: list[Recipient], *, kind: str, subject: str, body: str, url: str):
    """Insert the rows (in the caller's transaction) and enqueue their delivery on commit."""
    if not recipients:
        return []
    user_ids = [r.user_id for r in recipients if r.user_id]
    muted = set(
        NotificationPreference.objects.filter(
            user_id__in=user_ids, kind=kind, email=False
        ).values_list("user_id", flat=True)
    )
    rows = Notification.objects.bulk_create(
        Notification(
            user_id=r.user_id,
            email=r.email,
            kind=kind,
            subject=subject[:200],
            body=body,
            url=url[:300],
            email_status=(
                EmailStatus.SKIPPED if not r.email or r.user_id in muted else EmailStatus.PENDING
            ),
        )
        for r in recipients
    )
    ids = [row.pk for row in rows if row.email_status == EmailStatus.PENDING]
    if ids:
        transaction.on_commit(lambda: _enqueue_delivery(notification_ids=ids))
    return rows


def notify_people(
    *, people: Iterable[Person], kind: str, subject: str, body: str, url: str = ""
) -> list[Notification]:
    """Notify ``people`` (in-app if they have a login, by e-mail unless they turned it off)."""
    return _create(_recipients_for_people(people), kind=kind, subject=subject, body=body, url=url)


def notify_coordinators(*, kind: str, subject: str, body: str, url: str = "") -> list:
    users = get_user_model().objects.filter(
        is_active=True, is_staff=True, groups__name=COORDINATORS_GROUP
    )
    recipients = [Recipient(u.pk, u.email) for u in users.distinct().order_by("pk")]
    return _create(recipients, kind=kind, subject=subject, body=body, url=url)


def _enqueue_delivery(*, notification_ids: list[int]) -> None:
    """After commit. With Redis down the rows stay pending for `deliver_notifications`; the
    change itself has already committed and its actor must not see an error."""
    try:
        django_rq.get_queue(QUEUE).enqueue(
            "residency.jobs.deliver_notifications", notification_ids=notification_ids
        )
    except (RedisError, OSError) as error:
        logger.warning(
            "Could not queue delivery of notifications %s (%s); "
            "`manage.py deliver_notifications` will send them.",
            notification_ids,
            error,
        )


# --- delivery ------------------------------------------------------------------------------


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=2 ** max(attempts - 1, 0))


def notification_deliver(*, notification_id: int, now: datetime.datetime | None = None) -> bool:
    """E-mail one notification if it is pending and due; True if this call sent it."""
    now = now or timezone.now()
    # The claim: one conditional UPDATE. Of two workers racing for the row, exactly one sees
    # "1 row updated"; the other does nothing. Sending happens outside any transaction, so a
    # slow SMTP server holds no lock.
    claimed = (
        Notification.objects.filter(pk=notification_id, email_status=EmailStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(email_status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return False
    notification = Notification.objects.get(pk=notification_id)
    body = notification.body
    if notification.url:
        body += f"\n\n{settings.ROTA_SITE_URL}{notification.url}"
    body += (
        "\n\n--\nRota. Choose which e-mails you get: "
        f"{settings.ROTA_SITE_URL}/notifications/settings/"
    )
    try:
        send_mail(
            notification.subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.email],
            fail_silently=False,
        )
    except Exception as error:  # SMTP errors, timeouts, refused recipients: all retried
        failed = notification.attempts >= settings.ROTA_NOTIFICATION_MAX_ATTEMPTS
        logger.warning("E-mail of notification #%s failed: %r", notification_id, error)
        Notification.objects.filter(pk=notification_id, email_status=EmailStatus.SENDING).update(
            email_status=EmailStatus.FAILED if failed else EmailStatus.PENDING,
            next_attempt_at=None if failed else now + _backoff(notification.attempts),
            claimed_at=None,
            last_error=repr(error)[:2000],
        )
        return False
    Notification.objects.filter(pk=notification_id, email_status=EmailStatus.SENDING).update(
        email_status=EmailStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def notifications_deliver(*, notification_ids: list[int]) -> int:
    """The job: send these (each claimed on its own); the number sent."""
    return sum(notification_deliver(notification_id=pk) for pk in notification_ids)


def notifications_deliver_pending(*, now: datetime.datetime | None = None) -> int:
    """The cron command: hand back claims of dead workers, then send everything due."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(seconds=settings.ROTA_NOTIFICATION_CLAIM_TIMEOUT_SECONDS)
    Notification.objects.filter(email_status=EmailStatus.SENDING, claimed_at__lt=stale).update(
        email_status=EmailStatus.PENDING, claimed_at=None
    )
    due = (
        Notification.objects.filter(email_status=EmailStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(notification_deliver(notification_id=pk, now=now) for pk in list(due))


def notifications_retry(*, notification_ids: list[int]) -> int:
    """Give failed e-mails a fresh set of attempts (the admin's action), sent now if the queue
    is up, else by the next `deliver_notifications`."""
    with transaction.atomic():
        ids = list(
            Notification.objects.filter(
                pk__in=notification_ids, email_status=EmailStatus.FAILED
            ).values_list("pk", flat=True)
        )
        Notification.objects.filter(pk__in=ids, email_status=EmailStatus.FAILED).update(
            email_status=EmailStatus.PENDING, next_attempt_at=None, attempts=0, last_error=""
        )
        if ids:
            transaction.on_commit(lambda: _enqueue_delivery(notification_ids=ids))
    return len(ids)


# --- the in-app list ------------------------------------------------------------------------


def notifications_mark_read(*, user, notification_ids: list[int] | None = None) -> int:
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        rows = rows.filter(pk__in=notification_ids)
    return rows.update(read_at=timezone.now())


def notification_preferences_set(*, user, email_kinds: Iterable[str]) -> None:
    """E-mail exactly the kinds in ``email_kinds``; the others are in-app only."""
    wanted = set(email_kinds)
    with transaction.atomic():
        for kind in Kind.values:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": kind in wanted}
            )


def notification_email_kinds(*, user) -> set[str]:
    muted = set(
        NotificationPreference.objects.filter(user=user, email=False).values_list("kind", flat=True)
    )
    return set(Kind.values) - muted


def unread_count(request: HttpRequest) -> dict:
    """Context processor: the unread count in the header (one COUNT for logged-in users)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()
    }


# --- one digest per publish / coordinator edit ----------------------------------------------

Placement = dict[tuple[int, int], int]  # (person id, block id) -> rotation id


def assignment_placements(*, block_ids: Iterable[int]) -> Placement:
    """Who is on what in these blocks: the "before" of a publish's digest."""
    rows = Assignment.objects.filter(block_id__in=list(block_ids)).values_list(
        "person_id", "block_id", "rotation_id"
    )
    return {(person, block): rotation for person, block, rotation in rows}


def schedule_changes_notify(
    *, before: Placement, after: Placement, what: str, skip_user_id: int | None = None
) -> int:
    """One notification per person whose assignments differ between ``before`` and ``after``
    (a published schedule, a coordinator's edit, a bulk move), listing every change. Returns
    how many people were notified."""
    changed: dict[int, list[tuple[int, int | None, int | None]]] = {}
    for key in set(before) | set(after):
        if before.get(key) != after.get(key):
            person_id, block_id = key
            changed.setdefault(person_id, []).append((block_id, before.get(key), after.get(key)))
    if not changed:
        return 0
    blocks = Block.objects.select_related("academic_year").in_bulk(
        {block for rows in changed.values() for block, _, _ in rows}
    )
    rotations = RotationTemplate.objects.in_bulk(
        {r for rows in changed.values() for _, a, b in rows for r in (a, b) if r}
    )
    people = Person.objects.in_bulk(list(changed))

    def name(rotation_id):
        return rotations[rotation_id].name if rotation_id in rotations else "nothing"

    for person_id, rows in sorted(changed.items()):
        person = people.get(person_id)
        if person is None or (skip_user_id and person.user_id == skip_user_id):
            continue  # nobody needs telling about their own edit
        rows.sort(key=lambda row: (blocks[row[0]].start_date, row[0]))
        lines = [
            f"- {blocks[block]}: {name(old)} -> {name(new)}"
            f" ({blocks[block].start_date:%b %d} to {blocks[block].end_date:%b %d})"
            for block, old, new in rows
        ]
        notify_people(
            people=[person],
            kind=Kind.SCHEDULE_CHANGED,
            subject=f"Your schedule changed: {len(rows)} block(s)",
            body=f"{what} changed your assignments:\n" + "\n".join(lines),
            url="/schedule/",
        )
    return len(changed)


def _placement(assignment: Assignment | None) -> Placement:
    if assignment is None:
        return {}
    return {(assignment.person_id, assignment.block_id): assignment.rotation_id}


def assignment_change_notify(*, before: Assignment | None, after: Assignment | None, by) -> int:
    """A single edit (edit page, API, admin) that moved someone: tell them, unless it was their
    own edit."""
    who = "A coordinator"
    if by is not None and getattr(by, "is_authenticated", False):
        who = by.get_full_name() or by.get_username()
    return schedule_changes_notify(
        before=_placement(before),
        after=_placement(after),
        what=f"{who}'s edit",
        skip_user_id=getattr(by, "pk", None),
    )


def absence_decision_notify(*, absence) -> None:
    """The person hears that their absence was approved or denied."""
    if absence.status not in ("approved", "denied"):
        return
    notify_people(
        people=[absence.person],
        kind=Kind.ABSENCE_DECIDED,
        subject=f"Your {absence.get_kind_display().lower()} was {absence.status}",
        body=(
            f"Your {absence.get_kind_display().lower()} from {absence.start_date} to "
            f"{absence.end_date} was {absence.status}."
        ),
        url="/schedule/",
    )
