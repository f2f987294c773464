"""The shift generation pages (scheduling/shift_views.py): the start form, a shifts run's draft
as month calendars with its changes marked, the fairness and requests table, publish and
discard from the page, and the admin's view of a shifts run. Runs and drafts are made by hand
(ShiftChange rows and a report), so these tests do not depend on the solver."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from residency.models import Person
from scheduling import services
from scheduling.models import GenerationRun, ShiftChange
from shifts.models import Shift, ShiftRequest
from tests.factories import (
    BlockFactory,
    CoverageRuleFactory,
    GenerationRunFactory,
    PersonFactory,
    ShiftFactory,
    ShiftTypeFactory,
)

pytestmark = pytest.mark.django_db
Status = GenerationRun.Status
DAY = datetime.timedelta(days=1)


@pytest.fixture
def coordinator_client(client, coordinator):
    client.force_login(coordinator)
    return client


@dataclass
class Draft:
    run: GenerationRun
    start: datetime.date
    ann: object
    ben: object
    cal: object
    nc: object
    we: object
    removed: Shift  # Ann's night call on the first day, which the draft removes
    kept: Shift  # Ann's night call on the second day, which it keeps


REPORT = {
    "people": [
        {
            "name": "Ann Able", "cohort": "PGY-1", "shifts": {"NC": 1}, "points": 1,
            "points_year_to_date": 3, "weekend_holiday_shifts": 0, "weekend_holiday_points": 0,
            "requests": 1, "requests_honoured": 1, "changes": 1,
        },
        {
            "name": "Ben Baker", "cohort": "PGY-1", "shifts": {"NC": 2}, "points": 2,
            "points_year_to_date": 2, "weekend_holiday_shifts": 1, "weekend_holiday_points": 1,
            "requests": 1, "requests_honoured": 0, "changes": 2,
        },
        # A partial entry (an older report): everything it lacks shows "-".
        {"name": "Cal Cole"},
    ],
    "cohorts": [
        {
            "cohort": "PGY-1", "people": 2, "points_min": 1, "points_max": 2, "points_spread": 1,
            "year_points_min": 2, "year_points_max": 3, "year_points_spread": 1,
        }
    ],
    "requests": 2,
    "requests_honoured": 1,
}  # fmt: skip


@pytest.fixture
def draft(db) -> Draft:
    """A READY shifts run over 26 July - 3 August (two month grids) that removes Ann's night
    call on the first day, gives it to Ben, and adds Ben a night call on the fifth day,
    where Ben asked for the whole day off (so that request is not honoured)."""
    year = BlockFactory().academic_year
    start = year.start_date + 25 * DAY
    end = start + 8 * DAY
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc, min_people=1, max_people=1)
    we = ShiftTypeFactory(code="WE", name="Weekend call", start_time=datetime.time(8, 0))
    ann = PersonFactory(name="Ann Able")
    ben = PersonFactory(name="Ben Baker")
    cal = PersonFactory(name="Cal Cole")
    removed = ShiftFactory(person=ann, shift_type=nc, date=start)
    kept = ShiftFactory(person=ann, shift_type=nc, date=start + DAY)
    ShiftFactory(person=cal, shift_type=we, date=start + 2 * DAY)
    ShiftRequest.objects.create(
        person=ben, date=start + 4 * DAY, kind=ShiftRequest.Kind.OFF, priority=1
    )
    ShiftRequest.objects.create(
        person=ann, date=start + DAY, shift_type=nc, kind=ShiftRequest.Kind.ON, priority=2
    )
    report = {**REPORT, "people": [dict(p) for p in REPORT["people"]]}
    for entry, person in zip(report["people"], (ann, ben, cal), strict=True):
        entry["person"] = person.pk
    run = GenerationRunFactory(
        academic_year=year,
        kind=GenerationRun.Kind.SHIFTS,
        start_date=start,
        end_date=end,
        status=Status.READY,
        progress=100,
        parameters={"time_limit_seconds": 10, "seed": 0, "workers": 1, "keep": "changes"},
        snapshot_at=timezone.now(),
        rows_kept=2,
        rows_added=2,
        rows_removed=1,
        rows_changed=1,
        report=report,
    )
    ShiftChange.objects.bulk_create(
        [
            ShiftChange(
                run=run, kind="remove", person=ann, date=start, shift_type=nc,
                shift_id=removed.pk, version_read=removed.version,
            ),
            ShiftChange(run=run, kind="add", person=ben, date=start, shift_type=nc),
            ShiftChange(run=run, kind="add", person=ben, date=start + 4 * DAY, shift_type=nc),
        ]
    )  # fmt: skip
    return Draft(run, start, ann, ben, cal, nc, we, removed, kept)


def _day(html: str, day: datetime.date) -> str:
    """The calendar row of ``day``."""
    match = re.search(rf'<tr id="d{day:%Y-%m-%d}".*?</tr>', html, re.S)
    assert match, f"no calendar row for {day}"
    return match.group(0)


def _input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', match.group(0)) if match else None
    return value.group(1) if value else None


# -- the start form ------------------------------------------------------------------------


def test_the_form_prefills_from_a_quick_choice_and_lists_the_choices(coordinator_client):
    year = BlockFactory(number=1).academic_year
    start, end = year.start_date, year.start_date + 27 * DAY

    page = coordinator_client.get(f"/generation/shifts/?start={start}&end={end}&keep=all")

    html = page.content.decode()
    assert page.status_code == 200
    assert (_input_value(html, "start"), _input_value(html, "end")) == (str(start), str(end))
    assert re.search(r'<input type="radio" name="keep" value="all"[^>]*checked', html)
    assert f'<option value="{year.pk}" selected>' in html
    # The year lies ahead of today: its first month stands in for this and next month.
    assert "This month" not in html and "Next month" not in html
    assert f'data-start="{start}" data-end="{year.start_date + 30 * DAY}">First month' in html
    assert f'data-start="{start}" data-end="{end}">Block 1' in html
    assert 'src="/static/scheduling/shift_start.js"' in html


def test_the_form_starts_with_the_years_first_month_when_today_is_outside_it(
    coordinator_client,
):
    year = BlockFactory().academic_year  # far ahead of today

    html = coordinator_client.get("/generation/shifts/").content.decode()

    first_month_end = year.start_date + 30 * DAY
    assert (_input_value(html, "start"), _input_value(html, "end")) == (
        str(year.start_date), str(first_month_end),
    )  # fmt: skip


def test_the_form_queues_a_shifts_run(coordinator_client, coordinator, redis_conn):
    year = BlockFactory().academic_year
    start = year.start_date + 31 * DAY

    response = coordinator_client.post(
        "/generation/shifts/",
        {
            "kind": "shifts", "academic_year": year.pk, "start": start,
            "end": start + 30 * DAY, "keep": "all", "time_limit_seconds": 20,
            "auto_publish": "on",
        },
    )  # fmt: skip

    run = GenerationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/generation/runs/{run.pk}/"
    assert (run.kind, run.start_date, run.end_date, run.requested_by) == (
        "shifts", start, start + 30 * DAY, coordinator,
    )  # fmt: skip
    assert (run.parameters["keep"], run.parameters["time_limit_seconds"], run.auto_publish) == (
        "all", 20, True,
    )  # fmt: skip


def test_a_period_the_service_refuses_is_422_next_to_its_field_keeping_what_was_typed(
    coordinator_client,
):
    year = BlockFactory().academic_year
    start = year.start_date - 5 * DAY  # before the year

    response = coordinator_client.post(
        "/generation/shifts/",
        {
            "kind": "shifts", "academic_year": year.pk, "start": start,
            "end": year.start_date + 9 * DAY, "keep": "none", "time_limit_seconds": 42,
        },
    )  # fmt: skip

    html = response.content.decode()
    assert response.status_code == 422
    field = re.search(r'<div class="field has-error" id="field-start">.*?</div>', html, re.S)
    assert field and "The first day must be inside" in field.group(0)
    assert _input_value(html, "start") == str(start)
    assert _input_value(html, "end") == str(year.start_date + 9 * DAY)
    assert _input_value(html, "time_limit_seconds") == "42"
    assert re.search(r'<input type="radio" name="keep" value="none"[^>]*checked', html)
    assert not GenerationRun.objects.exists()


def test_input_that_does_not_parse_is_400_with_the_error_on_the_field(coordinator_client):
    year = BlockFactory().academic_year

    response = coordinator_client.post(
        "/generation/shifts/",
        {
            "kind": "shifts", "academic_year": year.pk, "start": year.start_date + 9 * DAY,
            "end": year.start_date, "time_limit_seconds": "soon",
        },
    )  # fmt: skip

    html = response.content.decode()
    assert response.status_code == 400
    assert "The last day must not come before the first." in html
    assert "Enter a whole number." in html
    assert _input_value(html, "time_limit_seconds") == "soon"
    assert not GenerationRun.objects.exists()


def test_while_a_run_is_active_the_form_answers_409_linking_to_it(coordinator_client, redis_conn):
    year = BlockFactory().academic_year
    running = GenerationRunFactory(academic_year=year, status=Status.RUNNING)
    redis_conn.set(services.lock_name(year.pk), services.lock_token(running.pk), ex=60)
    start = year.start_date + 3 * DAY

    response = coordinator_client.post(
        "/generation/shifts/",
        {
            "kind": "shifts",
            "academic_year": year.pk,
            "start": start,
            "end": start + 6 * DAY,
            "keep": "changes",
        },
    )

    html = response.content.decode()
    assert response.status_code == 409
    assert f'<a href="/generation/runs/{running.pk}/">Go to run #{running.pk}</a>' in html
    assert "is already running" in html
    assert _input_value(html, "start") == str(start)
    assert list(GenerationRun.objects.values_list("pk", flat=True)) == [running.pk]


def test_the_pages_link_to_the_form(coordinator_client):
    BlockFactory()
    assert b'href="/generation/shifts/"' in coordinator_client.get("/generation/").content
    calendar = coordinator_client.get("/shifts/calendar/?month=2041-02").content.decode()
    assert 'href="/generation/shifts/?start=2041-02-01&amp;end=2041-02-28"' in calendar


# -- the draft -----------------------------------------------------------------------------


def test_the_draft_shows_month_calendars_with_the_changes_marked(coordinator_client, draft):
    page = coordinator_client.get(f"/generation/runs/{draft.run.pk}/")

    html = page.content.decode()
    assert page.status_code == 200
    year = draft.start.year
    assert (
        f'<h3>July {year} <a class="month-link" href="/shifts/calendar/?month={year}-07">' in html
    )
    assert f"<h3>August {year} " in html
    first = _day(html, draft.start)
    assert (
        '<div class="entry removed"><del>Ann Able</del> <span class="tag">removed</span>' in first
    )
    assert '<div class="entry new">Ben Baker <span class="tag">new</span></div>' in first
    assert '<div class="entry kept">Ann Able</div>' in _day(html, draft.start + DAY)
    assert '<div class="entry kept">Cal Cole</div>' in _day(html, draft.start + 2 * DAY)
    assert '<div class="entry new">Ben Baker' in _day(html, draft.start + 4 * DAY)
    # Coverage counts the draft: nobody on night call on the fourth day.
    assert "1 uncovered" in _day(html, draft.start + 3 * DAY)
    assert "1 uncovered" not in first
    assert 'id="draft-counts">2 new, 1 removed, 2 unchanged.' in html
    assert f'action="/generation/runs/{draft.run.pk}/publish/"' in html
    assert f'action="/generation/runs/{draft.run.pk}/discard/"' in html
    assert "Proposed shift changes: 3, 2 people" in html
    assert 'href="/static/scheduling/shift_pages.css"' in html


def test_the_fairness_table_shows_points_requests_and_the_cohort_spread(coordinator_client, draft):
    html = coordinator_client.get(f"/generation/runs/{draft.run.pk}/").content.decode()

    table = re.search(r'<table class="fairness".*?</table>', html, re.S).group(0)
    rows = {
        name: re.search(
            rf"<tr[^>]*>\s*<th scope=\"row\"><a [^>]*>{name}</a></th>.*?</tr>", table, re.S
        )
        for name in ("Ann Able", "Ben Baker", "Cal Cole")
    }
    ben = rows["Ben Baker"].group(0)
    assert 'class="highest"' in ben and '<span class="tag">most</span>' in ben
    assert "0 / 1" in ben
    assert f"{draft.start + 4 * DAY:%a %-d %b}: off the whole day (high)" in ben
    ann = rows["Ann Able"].group(0)
    assert 'class="lowest"' in ann and "1 / 1" in ann and "all honoured" in ann
    assert f'href="?person={draft.ben.pk}#shift-draft"' in ben
    cal = rows["Cal Cole"].group(0)
    assert cal.count('<td class="num">-</td>') >= 3 and '<td class="unmet-cell">-</td>' in cal
    assert "PGY-1: spread 1 point(s) this period (1 to 2), 1 over the year so far (2 to 3)" in table
    cohorts = re.search(r'<table class="fairness cohorts".*?</table>', html, re.S).group(0)
    assert re.search(r"PGY-1</th><td class=\"num\">2</td><td class=\"num\">1 to 2</td>", cohorts)
    assert "Requests honoured: <strong>1 of 2</strong>" in html


def test_a_run_without_a_report_renders_the_calendar_and_says_so(coordinator_client, draft):
    GenerationRun.objects.filter(pk=draft.run.pk).update(report={})

    page = coordinator_client.get(f"/generation/runs/{draft.run.pk}/")

    assert page.status_code == 200
    assert b'id="shift-fairness-missing"' in page.content
    assert b'<div class="entry new">Ben Baker' in page.content


def test_the_filters_narrow_the_calendar(coordinator_client, draft):
    url = f"/generation/runs/{draft.run.pk}/"

    ben = coordinator_client.get(f"{url}?person={draft.ben.pk}").content.decode()
    night = coordinator_client.get(f"{url}?type={draft.nc.pk}").content.decode()
    changed = coordinator_client.get(f"{url}?changed=1").content.decode()
    junk = coordinator_client.get(f"{url}?type=x&person=99999999999999999999")

    ann = coordinator_client.get(f"{url}?person={draft.ann.pk}").content.decode()
    assert f'id="d{draft.start + 2 * DAY:%Y-%m-%d}"' not in ben  # nothing of Ben's that day
    # Day one in Ann's view: only her removed shift shows, yet Ben (hidden) covers it.
    assert "<del>Ann Able</del>" in _day(ann, draft.start)
    assert "uncovered" not in _day(ann, draft.start)
    assert "Ben Baker" in _day(ben, draft.start)
    assert "Cal Cole</div>" not in night and '<th scope="col">Weekend call' not in night
    assert f'id="d{draft.start + DAY:%Y-%m-%d}"' not in changed  # nothing changes that day
    assert f'id="d{draft.start + 4 * DAY:%Y-%m-%d}"' in changed
    assert junk.status_code == 200 and b"Cal Cole</div>" in junk.content


def test_publishing_from_the_page_shows_the_published_shifts(coordinator_client, draft):
    response = coordinator_client.post(f"/generation/runs/{draft.run.pk}/publish/")

    assert response.status_code == 302
    html = coordinator_client.get(response["Location"]).content.decode()
    assert "Shifts as published" in html
    assert set(Shift.objects.filter(date=draft.start).values_list("person__name", flat=True)) == {
        "Ben Baker"
    }
    first = _day(html, draft.start)
    assert '<div class="entry new">Ben Baker <span class="tag">new</span></div>' in first
    assert '<div class="entry removed"><del>Ann Able</del>' in first
    assert 'id="draft-actions"' not in html
    # Ben now has the shift he asked not to have; the table still lists it.
    assert f"{draft.start + 4 * DAY:%a %-d %b}: off the whole day (high)" in html


def test_a_stale_publish_is_409_and_marks_the_changed_shift_keeping_the_page(
    coordinator_client, draft
):
    Shift.objects.filter(pk=draft.removed.pk).update(
        version=F("version") + 1, updated_at=timezone.now()
    )

    response = coordinator_client.post(f"/generation/runs/{draft.run.pk}/publish/")

    html = response.content.decode()
    assert response.status_code == 409
    assert 'id="stale-rows"' in html and "Ann Able, Night call on" in html
    assert '<div class="entry removed stale"><del>Ann Able</del>' in _day(html, draft.start)
    assert 'id="draft-actions"' in html  # still a draft: nothing was written
    assert not Shift.objects.filter(person=draft.ben).exists()


def test_discarding_from_the_page(coordinator_client, draft):
    response = coordinator_client.post(f"/generation/runs/{draft.run.pk}/discard/")

    assert response.status_code == 302
    html = coordinator_client.get(response["Location"]).content.decode()
    draft.run.refresh_from_db()
    assert draft.run.status == Status.DISCARDED
    assert "What this run proposed (not published)" in html
    assert Shift.objects.filter(pk=draft.removed.pk).exists()


def test_an_active_shifts_run_polls_and_shows_no_calendar(coordinator_client, draft):
    GenerationRun.objects.filter(pk=draft.run.pk).update(status=Status.QUEUED)

    html = coordinator_client.get(f"/generation/runs/{draft.run.pk}/").content.decode()

    assert 'src="/static/scheduling/run_detail.js"' in html
    assert 'id="shift-draft"' not in html and 'id="shift-fairness"' not in html


def test_the_admin_shows_a_shifts_runs_changes(client, coordinator, draft):
    client.force_login(coordinator)

    page = client.get(f"/admin/scheduling/generationrun/{draft.run.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    inline = re.search(r'id="shift_changes-group".*?</fieldset>', html, re.S).group(0)
    assert inline.count("Ben Baker") == 2 and inline.count("Ann Able") == 1
    assert str(draft.removed.pk) in inline
    assert 'id="changes-group"' not in html  # no empty block-changes inline on a shifts run


def test_the_draft_page_reads_a_fixed_number_of_queries(coordinator_client, draft):
    url = f"/generation/runs/{draft.run.pk}/"
    coordinator_client.get(url)  # warm: session, user, content types
    with CaptureQueriesContext(connection) as few:
        coordinator_client.get(url)
    for n in range(6):  # more people, shifts, changes and requests
        person = PersonFactory(name=f"Extra {n}")
        ShiftFactory(person=person, shift_type=draft.we, date=draft.start + n * DAY)
        ShiftChange.objects.create(
            run=draft.run, kind="add", person=person, date=draft.start + n * DAY,
            shift_type=draft.nc,
        )  # fmt: skip
        ShiftRequest.objects.create(person=person, date=draft.start, kind="off")
    report = draft.run.report
    extras = Person.objects.filter(name__startswith="Extra")
    report["people"] += [
        {"person": p.pk, "name": p.name, "cohort": "PGY-2", "shifts": {"NC": 1}} for p in extras
    ]
    GenerationRun.objects.filter(pk=draft.run.pk).update(report=report)
    with CaptureQueriesContext(connection) as many:
        page = coordinator_client.get(url)

    assert page.status_code == 200 and b"Extra 5" in page.content
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
