"""Residents' wishes: weighed by the solver (honoured when the rules allow, shared fairly),
reported per person, entered on the residents' page before the coordinator's deadline."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import transaction
from django.utils import timezone

from residency.errors import RuleViolation
from residency.locking import lock_rows
from residency.models import Absence, Person
from scheduling import preference_services
from scheduling.models import FairnessGroup, PreferenceWindow, RotationWish
from scheduling.problem import problem_load
from scheduling.report import result_report
from scheduling.search import ScheduleSolve
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    HolidayFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    UserFactory,
)


@pytest.fixture
def two(db):
    """Two PGY-1 residents; in every block one is on the wards and one on the elective."""
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(2)]
    ward = RotationTemplateFactory(name="Wards", heavy=True, min_people=1, max_people=1,
                                   allowed_pgy_levels=[1])  # fmt: skip
    elective = RotationTemplateFactory(name="Elective", min_people=1, max_people=1,
                                       allowed_pgy_levels=[1])  # fmt: skip
    people = [PersonFactory(name=name, with_login=True) for name in ("Ada", "Ben")]
    for person in people:
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
    return {"year": year, "blocks": blocks, "ward": ward, "elective": elective, "people": people}


def _solve(year):
    problem = problem_load(academic_year=year)
    result = ScheduleSolve(problem, time_limit=10, workers=1).run()
    assert result.found
    result.report = result_report(problem=problem, result=result)
    return {(pid, bid): rot for pid, bid, rot, _ in result.assignments}, result


@pytest.mark.parametrize("wisher", [0, 1])
def test_a_first_choice_the_rules_allow_is_honoured(two, wisher):
    # Either resident may have the elective in block 1: the one who wished for it gets it.
    # (Both ways round, so a fixed tie-break cannot pass the test by luck.)
    person, other = two["people"][wisher], two["people"][1 - wisher]
    RotationWish.objects.create(person=person, block=two["blocks"][0], rotation=two["elective"],
                                rank=1)  # fmt: skip
    given, result = _solve(two["year"])

    assert given[person.pk, two["blocks"][0].pk] == two["elective"].pk
    assert given[other.pk, two["blocks"][0].pk] == two["ward"].pk
    row = next(r for r in result.report["wishes"]["people"] if r["person_id"] == person.pk)
    assert (row["wished_blocks"], row["first"], row["any"]) == (1, 1, 1)


def test_wishes_that_cannot_all_be_honoured_are_shared_between_people(two):
    # Both want the elective in both blocks; it holds one. The total is the same whoever wins,
    # so only the per-person fairness term splits it one each.
    for person in two["people"]:
        for block in two["blocks"]:
            RotationWish.objects.create(person=person, block=block, rotation=two["elective"],
                                        rank=1)  # fmt: skip
    _, result = _solve(two["year"])

    assert [r["first"] for r in result.report["wishes"]["people"]] == [1, 1]


def test_a_requested_vacation_keeps_its_block_off_heavy_rotations(two):
    ada = two["people"][0]
    block = two["blocks"][1]
    AbsenceFactory(person=ada, start_date=block.start_date, status=Absence.Status.REQUESTED)
    given, result = _solve(two["year"])

    assert given[ada.pk, block.pk] == two["elective"].pk
    assert result.report["wishes"]["vacations_kept"] == 1


def test_a_fairness_group_is_balanced_within_the_cohort(db):
    # Nights are not heavy here; only the fairness group makes the two residents share them.
    year = AcademicYearFactory()
    for _ in range(4):
        BlockFactory(academic_year=year)
    nights = RotationTemplateFactory(name="Nights", min_people=1, max_people=1,
                                     allowed_pgy_levels=[1])  # fmt: skip
    RotationTemplateFactory(name="Clinic", min_people=1, max_people=1, allowed_pgy_levels=[1])
    people = [PersonFactory() for _ in range(2)]
    for person in people:
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
    group = FairnessGroup.objects.create(name="Nights", weight=5)
    group.rotations.add(nights)

    given, result = _solve(year)

    per_person = [sum(1 for (pid, _), rot in given.items() if pid == p.pk and rot == nights.pk)
                  for p in people]  # fmt: skip
    assert per_person == [2, 2]
    assert result.group_spreads["Nights PGY-1"] == 0


@pytest.mark.parametrize("holiday_blocks_only", [False, True])
def test_a_holiday_group_shares_the_nights_that_fall_on_holidays(db, holiday_blocks_only):
    # Ada has the nights of blocks 1 and 3, both with a holiday; Ben those of 2 and 4. Both
    # have two nights, so a plain "Nights" group keeps the current schedule; counted over the
    # holiday blocks only, Ada has 2 and Ben 0 (spread 2 x weight 5 = 10 outweighs the 2
    # person-blocks that change), so the holiday group gives each one holiday night.
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(4)]
    nights = RotationTemplateFactory(name="Nights", min_people=1, max_people=1,
                                     allowed_pgy_levels=[1])  # fmt: skip
    clinic = RotationTemplateFactory(name="Clinic", min_people=1, max_people=1,
                                     allowed_pgy_levels=[1])  # fmt: skip
    ada, ben = PersonFactory(name="Ada"), PersonFactory(name="Ben")
    for person in (ada, ben):
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
    for i, block in enumerate(blocks):
        on_nights, on_clinic = (ada, ben) if i % 2 == 0 else (ben, ada)
        AssignmentFactory(person=on_nights, block=block, rotation=nights)
        AssignmentFactory(person=on_clinic, block=block, rotation=clinic)
    for block in (blocks[0], blocks[2]):
        HolidayFactory(date=block.start_date + datetime.timedelta(days=3))
    group = FairnessGroup.objects.create(
        name="Holiday nights", weight=5, holiday_blocks_only=holiday_blocks_only
    )
    group.rotations.add(nights)

    given, result = _solve(year)

    holiday_nights = {
        person.name: sum(given[person.pk, b.pk] == nights.pk for b in (blocks[0], blocks[2]))
        for person in (ada, ben)
    }
    if holiday_blocks_only:
        assert holiday_nights == {"Ada": 1, "Ben": 1}
        assert result.group_spreads["Holiday nights PGY-1"] == 0
        assert result.changes == 2  # Ada and Ben trade one holiday block
        assert result.report["holiday_blocks"] == [1, 3]
    else:
        assert holiday_nights == {"Ada": 2, "Ben": 0}
        assert result.changes == 0
        assert result.report["holiday_blocks"] == []


# -- entering wishes ------------------------------------------------------------------------


@pytest.fixture
def window(two):
    return PreferenceWindow.objects.create(
        academic_year=two["year"], deadline=timezone.now() + datetime.timedelta(days=7)
    )


def test_resident_enters_a_wish_and_a_vacation_request_on_the_page(client, two, window):
    ada = two["people"][0]
    client.force_login(ada.user)
    page = client.get("/generation/wishes/")
    assert page.status_code == 200 and "My wishes for" in page.content.decode()

    response = client.post("/generation/wishes/add/", {
        "year": two["year"].pk, "block": two["blocks"][0].pk, "rank": 1,
        "rotation": two["elective"].pk,
    })  # fmt: skip
    assert response.status_code == 302
    assert RotationWish.objects.filter(person=ada, rank=1, rotation=two["elective"]).exists()

    response = client.post("/generation/wishes/vacation/", {
        "year": two["year"].pk, "start_date": two["blocks"][1].start_date,
        "end_date": two["blocks"][1].start_date + datetime.timedelta(days=6),
    })  # fmt: skip
    assert response.status_code == 302
    assert Absence.objects.get(person=ada).status == Absence.Status.REQUESTED


def test_a_second_wish_of_the_same_rank_is_a_form_error(client, two, window):
    ada = two["people"][0]
    RotationWish.objects.create(person=ada, block=two["blocks"][0], rotation=two["ward"], rank=1)
    client.force_login(ada.user)
    response = client.post("/generation/wishes/add/", {
        "year": two["year"].pk, "block": two["blocks"][0].pk, "rank": 1,
        "rotation": two["elective"].pk,
    })  # fmt: skip
    assert response.status_code == 422
    assert "You already have a choice #1 for block 1" in response.content.decode()
    assert RotationWish.objects.filter(person=ada).count() == 1


def test_after_the_deadline_wishes_are_refused(client, two, window):
    PreferenceWindow.objects.filter(pk=window.pk).update(
        deadline=timezone.now() - datetime.timedelta(minutes=1)
    )
    ada = two["people"][0]
    client.force_login(ada.user)
    response = client.post("/generation/wishes/add/", {
        "year": two["year"].pk, "block": two["blocks"][0].pk, "rank": 1,
        "rotation": two["elective"].pk,
    })  # fmt: skip
    assert response.status_code == 422
    assert "The deadline for wishes" in response.content.decode()
    assert not RotationWish.objects.exists()


def test_bad_input_and_non_residents(client, two, window):
    ada = two["people"][0]
    client.force_login(ada.user)
    response = client.post("/generation/wishes/add/", {"year": "x", "block": "nope", "rank": 9})
    assert response.status_code == 400
    faculty = PersonFactory(faculty=True, with_login=True)
    client.force_login(faculty.user)
    assert client.get("/generation/wishes/").status_code == 404


def test_between_windows_the_page_says_so_and_links_the_closed_ones(client, two):
    # The menu links to the page all year: with no window open it is a page, not "not found".
    ada = two["people"][0]
    client.force_login(ada.user)
    page = client.get("/generation/wishes/")
    assert page.status_code == 200
    assert "No wishes are being collected right now" in page.content.decode()
    assert "Earlier windows" not in page.content.decode()

    PreferenceWindow.objects.create(
        academic_year=two["year"], deadline=timezone.now() - datetime.timedelta(days=1)
    )
    page = client.get("/generation/wishes/")
    assert page.status_code == 200
    link = f'href="?year={two["year"].pk}"'
    assert "Earlier windows" in page.content.decode() and link in page.content.decode()
    closed = client.get(f"/generation/wishes/?year={two['year'].pk}")
    assert closed.status_code == 200 and "Closed" in closed.content.decode()
    assert client.get("/generation/wishes/?year=999999").status_code == 404


def test_the_menu_offers_wishes_to_residents_only(client, two):
    ada = two["people"][0]
    client.force_login(ada.user)
    assert 'href="/generation/wishes/"' in client.get("/schedule/").content.decode()
    faculty = PersonFactory(faculty=True, with_login=True)
    client.force_login(faculty.user)
    assert 'href="/generation/wishes/"' not in client.get("/schedule/").content.decode()
    # A session from before the kind was kept at login still offers it, as before.
    session = client.session
    del session["person_kind"]
    session.save()
    assert 'href="/generation/wishes/"' in client.get("/schedule/").content.decode()


def test_admin_lists_wishes_and_windows(client, two, window):
    RotationWish.objects.create(person=two["people"][0], block=two["blocks"][0],
                                rotation=two["elective"], rank=1)  # fmt: skip
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in ("/admin/scheduling/rotationwish/", "/admin/scheduling/preferencewindow/",
                "/admin/scheduling/fairnessgroup/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
    assert "Ada" in client.get("/admin/scheduling/rotationwish/").content.decode()


def test_coordinator_adds_a_holiday_fairness_group_in_the_admin(client, two):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = client.get("/admin/scheduling/fairnessgroup/add/").content.decode()
    assert "holiday_blocks_only" in form
    response = client.post("/admin/scheduling/fairnessgroup/add/", {
        "name": "Holiday wards", "rotations": [two["ward"].pk], "weight": 5,
        "holiday_blocks_only": "on", "active": "on",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    group = FairnessGroup.objects.get(name="Holiday wards")
    assert group.holiday_blocks_only and list(group.rotations.all()) == [two["ward"]]
    listing = client.get("/admin/scheduling/fairnessgroup/?holiday_blocks_only__exact=1")
    assert "Holiday wards" in listing.content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_wishes_of_one_rank_sent_at_once_one_wins_the_other_is_told(two, window, settings):
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000  # long enough for both to be seen waiting
    # Two tabs: both pass the "rank free?" check only if they overlap; the person-row lock
    # makes the second wait for the first and then see its rank taken.
    ada = two["people"][0]
    block = two["blocks"][0]
    outcomes = [Outcome(), Outcome(), Outcome()]
    locked, release = threading.Event(), threading.Event()

    def hold_the_person_row():  # another session holds the lock; both requests queue behind it
        with transaction.atomic():
            lock_rows(Person.objects.filter(pk=ada.pk))
            locked.set()
            assert release.wait(60)

    threads = [run_in_thread(hold_the_person_row, outcomes[2])]
    assert locked.wait(60)
    threads += [
        run_in_thread(lambda rot=rot: preference_services.rotation_wish_add(
            person=ada, block_id=block.pk, rotation_id=rot.pk, rank=1), outcome)
        for rot, outcome in zip((two["ward"], two["elective"]), outcomes[:2], strict=True)
    ]  # fmt: skip
    try:
        wait_for_lock_waiters(2)
    finally:
        release.set()  # never leave the holder (and its lock) behind
    join_all(threads)

    assert outcomes[2].error is None
    errors = [o.error for o in outcomes[:2] if o.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], RuleViolation)
    assert "already have a choice #1" in errors[0].message
    assert RotationWish.objects.filter(person=ada, block=block).count() == 1


def test_api_wishes_add_list_refuse_and_delete(client, two, window):
    ada = two["people"][0]
    client.force_login(ada.user)
    body = {"block": two["blocks"][0].pk, "rotation": two["elective"].pk, "rank": 1}
    created = client.post("/api/wishes", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["rank"] == 1
    again = client.post("/api/wishes", body | {"rank": 2}, content_type="application/json")
    assert again.status_code == 422 and "rotation" in again.json()["errors"]
    bad = client.post("/api/wishes", {"block": "x", "rank": True}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"block", "rotation", "rank"}
    assert [w["id"] for w in client.get("/api/wishes").json()["wishes"]] == [created.json()["id"]]
    assert client.delete(f"/api/wishes/{created.json()['id']}").status_code == 204
    assert not RotationWish.objects.exists()
    client.force_login(PersonFactory(faculty=True, with_login=True).user)
    assert client.get("/api/wishes").status_code == 404
