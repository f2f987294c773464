"""Issue 14: regression tests for defects 4 to 8 (generation parameters, login throttling,
the job dashboard, management commands' exit status, and the small ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import ManagementUtility
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from residency import services as residency_services
from residency.demo import DEMO_PASSWORD
from residency.models import Assignment
from residency.selectors import COORDINATORS_GROUP
from scheduling.models import GenerationRun
from tests.factories import (
    PASSWORD,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def staff_outside_coordinators(db):
    return UserFactory(username="staffer", is_staff=True)


# --- 4. generation parameters are validated at the door -------------------------------------


@pytest.mark.parametrize("seed", [2**31, -1, 2**63, 10**30])
def test_an_out_of_range_seed_is_refused_before_anything_is_queued(coordinator, redis_conn, seed):
    year = BlockFactory().academic_year
    client = logged_in(coordinator)
    response = client.post(
        "/api/generation-runs",
        json.dumps({"academic_year": year.pk, "seed": seed}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "seed" in response.json()["errors"]
    page = client.post("/generation/", {"academic_year": year.pk, "seed": str(seed)})
    assert page.status_code == 400
    assert not GenerationRun.objects.exists()


def test_the_largest_seed_is_accepted(coordinator, redis_conn):
    year = BlockFactory().academic_year
    response = logged_in(coordinator).post(
        "/api/generation-runs",
        json.dumps({"academic_year": year.pk, "seed": 2**31 - 1}),
        content_type="application/json",
    )
    assert response.status_code == 202
    assert GenerationRun.objects.get().parameters["seed"] == 2**31 - 1


def test_the_service_refuses_a_seed_the_solver_cannot_take(redis_conn):
    from residency.errors import RuleViolation
    from scheduling import services

    year = BlockFactory().academic_year
    with pytest.raises(RuleViolation) as refused:
        services.generation_run_start(academic_year_id=year.pk, seed=2**31, enqueue=False)
    assert refused.value.field == "seed"


# --- 5. login throttling and password strength ----------------------------------------------


def _login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.axes
def test_wrong_passwords_lock_the_username_with_a_clear_message(settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory(username="ann")
    client = Client()
    for _ in range(4):
        assert _login(client, "ann", "wrong").status_code == 200  # the form again
    assert _login(client, "ann", "wrong").status_code == 429  # the fifth locks
    locked = _login(client, "ann", PASSWORD)  # even the right password, now
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    assert locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "_auth_user_id" not in client.session
    # Another address is refused too: the username's own counter.
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert _login(other, "ann", PASSWORD).status_code == 429
    assert user.pk  # the account itself is untouched


@pytest.mark.axes
def test_wrong_passwords_from_one_address_lock_that_address(settings):
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(username="bob")
    client = Client(REMOTE_ADDR="10.1.1.1")
    for n in range(5):  # a different username each time: only the address counter grows
        _login(client, f"guess{n}", "wrong")
    assert _login(client, "bob", PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="10.2.2.2")
    assert _login(elsewhere, "bob", PASSWORD).status_code == 302


@pytest.mark.axes
def test_a_coordinator_unlocks_from_the_admin(settings, coordinator):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="cat")
    client = Client()
    for _ in range(3):
        _login(client, "cat", "wrong")
    assert _login(client, "cat", PASSWORD).status_code == 429
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    assert attempts

    admin = logged_in(coordinator)
    assert admin.get("/admin/axes/accessattempt/").status_code == 200
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _login(client, "cat", PASSWORD).status_code == 302


@pytest.mark.axes
def test_a_successful_login_resets_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="dan")
    client = Client()
    for _ in range(2):
        _login(client, "dan", "wrong")
    assert _login(client, "dan", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        _login(client, "dan", "wrong")
    assert _login(client, "dan", PASSWORD).status_code == 302


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901234", "annsmith2040"])
def test_weak_passwords_are_refused(password):
    user = UserFactory.build(username="annsmith2040", first_name="Ann", last_name="Smith")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_the_demo_password_is_set_without_the_validators():
    # Demo seeding sets it with set_password(), which the validators never see: it works as is.
    assert len(DEMO_PASSWORD) > 0
    user = UserFactory(username="demo-check")
    user.set_password(DEMO_PASSWORD)
    user.save()
    assert Client().login(username="demo-check", password=DEMO_PASSWORD)


# --- 6. the job dashboard ---------------------------------------------------------------------


def test_the_job_dashboard_is_for_coordinators_only(staff_outside_coordinators, coordinator):
    staff = logged_in(staff_outside_coordinators)
    for base in ("/admin/rq/", "/admin/django_rq/dashboard/"):  # both of django-rq's mounts
        for path in ("", "queues/0/", "workers/0/"):
            assert staff.get(base + path).status_code == 403, base + path
        refused = staff.post(base + "queues/0/empty/", {"post": "yes"})
        assert refused.status_code == 403
    assert logged_in(coordinator).get("/admin/django_rq/dashboard/").status_code == 200
    assert logged_in(coordinator).get("/admin/rq/").status_code == 200
    anonymous = Client().get("/admin/rq/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


# Queue indexes past the configured queues (default, notifications) name nothing.
@pytest.mark.parametrize(
    "path",
    [
        "/admin/rq/queues/99/",
        "/admin/rq/workers/99/",
        "/admin/rq/queues/2147483648/",
        "/admin/rq/queues/99/finished/",
        "/admin/rq/queues/0/no-such-job/",
        "/admin/rq/workers/0/no-such-worker/",
        "/admin/rq/schedulers/5/",
        "/admin/django_rq/dashboard/queues/99/",
        "/admin/django_rq/dashboard/workers/99/",
        "/admin/django_rq/dashboard/queues/2147483648/",
    ],
)
def test_bad_dashboard_ids_are_404(coordinator, redis_conn, path):
    assert logged_in(coordinator).get(path).status_code == 404


# --- 7. management commands exit non-zero when nothing happened ------------------------------


def run_command(*argv) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ManagementUtility(["manage.py", *argv]).execute()
        except SystemExit as exited:
            code = exited.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_generate_now_that_fails_exits_1_and_says_why_on_stderr(redis_conn):
    # One block and a rotation that needs a resident in it, but no resident: no schedule.
    year = BlockFactory().academic_year
    RotationTemplateFactory(min_people=1, max_people=1, allowed_pgy_levels=[1])
    code, _out, err = run_command("generate_schedule", year.label, "--now", "--time-limit", "5")
    run = GenerationRun.objects.get()
    assert run.status == GenerationRun.Status.FAILED
    assert code == 1
    assert f"Generation #{run.pk}: failed" in err


@pytest.mark.django_db(transaction=True)  # a command closes the connections when it ends
def test_unknown_year_and_bad_seed_exit_1(redis_conn):
    year = BlockFactory().academic_year
    assert run_command("generate_schedule", "no-such-year")[0] == 1
    code, _out, err = run_command("generate_schedule", year.label, "--seed", str(2**31))
    assert code == 1 and "seed" in err
    code, _out, err = run_command("match_swaps", "--year", "999999")
    assert code == 1 and "No academic year" in err


@pytest.mark.django_db(transaction=True)
def test_validate_schedule_with_violations_exits_1_on_stderr():
    year = BlockFactory().academic_year
    rotation = RotationTemplateFactory(min_people=1, allowed_pgy_levels=[1])
    assert rotation.min_people == 1
    code, _out, err = run_command("validate_schedule", year.label)
    assert code == 1
    assert "violation(s)" in err


@pytest.mark.django_db(transaction=True)
def test_reaping_without_redis_exits_1(monkeypatch):
    from scheduling import services
    from scheduling.management.commands import reap_generation_runs

    def down(**kwargs):
        raise RedisConnectionError("connection refused")

    # The command's module is imported before anything is patched: imported first while
    # services' name is patched, it would bind the stand-in, and undoing the patches would then
    # leave the stand-in in the command for every later test.
    monkeypatch.setattr(services, "generation_runs_reap", down)
    monkeypatch.setattr(reap_generation_runs, "generation_runs_reap", down)
    code, _out, err = run_command("reap_generation_runs")
    assert code == 1 and "Nothing reaped" in err


# --- 8. the small ones ---------------------------------------------------------------------


def test_generation_start_503_says_when_to_retry(coordinator, monkeypatch):
    from scheduling import services

    def down(**kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(services, "generation_runs_reap", down)
    year = BlockFactory().academic_year
    client = logged_in(coordinator)
    api = client.post(
        "/api/generation-runs",
        json.dumps({"academic_year": year.pk}),
        content_type="application/json",
    )
    assert api.status_code == 503
    assert api["Retry-After"] == "5"
    page = client.post("/generation/", {"academic_year": year.pk})
    assert page.status_code == 503
    assert page["Retry-After"] == "5"


def test_api_names_the_last_editor_by_display_name_not_login(coordinator):
    coordinator.first_name, coordinator.last_name = "Cora", "Ordinator"
    coordinator.save()
    faculty = PersonFactory(faculty=True, with_login=True, name="Dr Fay")
    rotation = RotationTemplateFactory(staffed_by="faculty", allowed_pgy_levels=[])
    assignment = AssignmentFactory(person=faculty, rotation=rotation)
    residency_services.assignment_update(
        assignment_id=assignment.pk, version=1, by=coordinator, notes="x"
    )
    data = logged_in(faculty.user).get(f"/api/assignments/{assignment.pk}").json()
    assert data["updated_by"] == "Cora Ordinator"
    assert "coordinator" not in json.dumps(data)  # the login name
    residency_services.assignment_update(
        assignment_id=assignment.pk, version=2, by=faculty.user, notes="y"
    )
    data = logged_in(faculty.user).get(f"/api/assignments/{assignment.pk}").json()
    assert data["updated_by"] == "Dr Fay"
    assert faculty.user.username not in json.dumps(data)


def test_bulk_delete_names_rows_a_colleague_already_deleted(coordinator, monkeypatch):
    rows = []
    for _ in range(4):
        a = AssignmentFactory()
        ResidentYearFactory(person=a.person, academic_year=a.block.academic_year, pgy_level=1)
        rows.append(a)
    client = logged_in(coordinator)
    selected = {"action": "delete_selected", "_selected_action": [a.pk for a in rows]}
    confirm = {**selected, "post": "yes", **{f"version_{a.pk}": "1" for a in rows}}
    # A colleague deletes one before the confirmation is posted, and two more while this bulk
    # delete is working through the list (after it read them).
    Assignment.objects.filter(pk=rows[0].pk).delete()
    from residency.admin import assignments as admin_module

    real_delete = admin_module.services.assignment_delete
    calls = []

    def colleague_deletes_first(**kwargs):
        if not calls:
            Assignment.objects.filter(pk__in=[rows[2].pk, rows[3].pk]).delete()
        calls.append(kwargs)
        return real_delete(**kwargs)

    monkeypatch.setattr(admin_module.services, "assignment_delete", colleague_deletes_first)
    response = client.post("/admin/residency/assignment/", confirm, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert "Deleted 1 assignment(s)." in shown
    assert "3 assignment(s) had already been deleted by someone else." in shown
    assert not any(m.startswith("Kept") for m in shown), shown
    assert not Assignment.objects.filter(pk__in=[a.pk for a in rows]).exists()


# --- CSP -----------------------------------------------------------------------------------


def test_pages_send_a_strict_content_security_policy(coordinator):
    resident = PersonFactory(with_login=True)
    for client, path in ((Client(), "/accounts/login/"), (logged_in(resident.user), "/"),
                         (logged_in(coordinator), "/admin/")):  # fmt: skip
        policy = client.get(path)["Content-Security-Policy"]
        directives = {
            part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()
        }
        assert directives["script-src"] == ["'self'"], policy
        assert directives["style-src"] == ["'self'"], policy
        assert directives["default-src"] == ["'self'"], policy


TEMPLATE_DIRS = [Path(django_settings.BASE_DIR) / d for d in ("templates", "residency",
                                                               "swaps", "scheduling")]  # fmt: skip
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|<style|\sstyle=|\son\w+="
)


def test_no_template_holds_inline_script_style_or_handlers():
    offenders = []
    for base in TEMPLATE_DIRS:
        for path in base.rglob("*.html"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if INLINE.search(line):
                    offenders.append(f"{path}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_staff_outside_coordinators_sees_no_model_in_the_admin(staff_outside_coordinators):
    group = Group.objects.filter(name=COORDINATORS_GROUP).first()
    assert group is None or not staff_outside_coordinators.groups.filter(pk=group.pk).exists()
    client = logged_in(staff_outside_coordinators)
    assert client.get("/admin/residency/assignment/").status_code == 403
    assert client.get("/admin/axes/accessattempt/").status_code == 403
