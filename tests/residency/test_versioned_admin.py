"""Issue 14, defects 1 and 2: no admin change form of any model loses someone else's update.

Two coordinators open the same change page; A saves a change, then B saves a change to another
field from the page they read. B gets a 409 conflict page that names the saved version and
keeps what B typed, with A's field updated to A's value; saving that page as shown keeps both
changes.
"""

from __future__ import annotations

import datetime
import threading
from html.parser import HTMLParser

import pytest
from django.contrib.admin.helpers import AdminForm
from django.db import transaction
from django.test import Client
from django.urls import reverse

from residency import services
from residency.errors import ConcurrentEdit
from residency.models import Assignment, Person, RotationTemplate
from scheduling.models import CurriculumRequirement
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    CurriculumRequirementFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


class _FormParser(HTMLParser):
    """The fields a browser would submit from the page's main form: what is in the HTML, not
    what the form object holds (a field the page does not render is not posted)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name, value) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._add(name, attrs.get("value", "on"))
            else:
                self._add(name, attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._add(name, "")

    def handle_endtag(self, tag) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data) -> None:
        if self._textarea:
            self.data[self._textarea][-1] += (
                data.removeprefix("\n") if not self.data[self._textarea][-1] else data
            )


def page_data(response) -> dict:
    """What the browser would post back from a rendered change form (form and inlines)."""
    html = response.content.decode()
    model_name = response.context["opts"].model_name
    start = html.index(f'id="{model_name}_form"')
    parser = _FormParser()
    parser.feed(html[start : html.index("</form>", start)])
    data = {key: values if len(values) != 1 else values[0] for key, values in parser.data.items()}
    data.pop("csrfmiddlewaretoken", None)
    return {**data, "_save": "Save"}


def conflict_page_data(response) -> dict:
    """What the conflict page posts back when saved as shown."""
    form = response.context["adminform"].form
    data = {key: form.data.getlist(key) for key in form.data}
    return {key: values if len(values) != 1 else values[0] for key, values in data.items()}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rotation():
    return RotationTemplateFactory(name="Wards", max_people=4)


# model -> (make an object, A's change, B's change); each change is (field, posted, stored).
CASES = {
    "person": (
        lambda: PersonFactory(name="Ann"),
        ("name", "Ann Smith", "Ann Smith"),
        ("active", None, False),
    ),
    "academic year": (
        # Far from the factory's sequence of years (unique labels, no overlaps).
        lambda: AcademicYearFactory(
            label="2190-91",
            start_date=datetime.date(2190, 7, 1),
            end_date=datetime.date(2191, 6, 30),
        ),
        ("label", "2190/91", "2190/91"),
        ("end_date", "2191-06-29", datetime.date(2191, 6, 29)),
    ),
    "resident year": (
        lambda: ResidentYearFactory(pgy_level=1),
        ("pgy_level", "2", 2),
        ("academic_year", None, None),  # B changes the year: see the test's setup
    ),
    "block": (
        lambda: BlockFactory(),
        ("end_date", None, None),  # set from the object
        ("number", "7", 7),
    ),
    "rotation": (
        _rotation,
        ("name", "General wards", "General wards"),
        ("max_people", "6", 6),
    ),
    "absence": (
        lambda: AbsenceFactory(note="trip"),
        ("note", "family trip", "family trip"),
        ("status", "denied", "denied"),
    ),
    "curriculum requirement": (
        lambda: CurriculumRequirementFactory(min_blocks=1, max_blocks=3),
        ("min_blocks", "2", 2),
        ("max_blocks", "5", 5),
    ),
}


def _resolve(obj, change):
    """Fill in the changes whose values depend on the object."""
    field, posted, stored = change
    if field == "end_date" and posted is None:  # a block one day shorter
        stored = obj.end_date - datetime.timedelta(days=1)
        posted = stored.isoformat()
    if field == "academic_year" and stored is None:
        stored = AcademicYearFactory()
        posted = str(stored.pk)
        stored = stored.pk
        field = "academic_year_id"
    return field, posted, stored


def _post_change(data: dict, change) -> dict:
    field, posted, _stored = change
    field = field.removesuffix("_id")
    data = dict(data)
    if posted is None:
        data.pop(field, None)
    else:
        data[field] = posted
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_a_stale_admin_save_is_refused_and_keeps_both_changes(case, coordinator):
    make, change_a, change_b = CASES[case]
    obj = make()
    change_a, change_b = _resolve(obj, change_a), _resolve(obj, change_b)
    url = change_url(obj)
    a, b = login(coordinator), login(coordinator)
    read_by_a = page_data(a.get(url))
    read_by_b = page_data(b.get(url))

    saved = a.post(url, _post_change(read_by_a, change_a))
    assert saved.status_code == 302, saved.content[:2000]

    stale = b.post(url, _post_change(read_by_b, change_b))
    assert stale.status_code == 409
    assert "saved a newer version" in stale.content.decode()
    obj.refresh_from_db()
    assert getattr(obj, change_a[0]) == change_a[2]  # A's change is still there
    assert getattr(obj, change_b[0]) != change_b[2]  # B's is not saved...
    shown = conflict_page_data(stale)
    assert shown.get(change_b[0].removesuffix("_id")) == change_b[1]  # ...but kept on the page
    assert shown["expected_version"] == str(obj.version)

    again = b.post(url, shown)
    assert again.status_code == 302, again.content[:2000]
    obj.refresh_from_db()
    assert getattr(obj, change_a[0]) == change_a[2]
    assert getattr(obj, change_b[0]) == change_b[2]


@pytest.mark.django_db
def test_conflict_page_saved_as_shown_keeps_the_other_coordinators_role(coordinator):
    """Defect 2: A changes only the role; B, stale, changes only the notes and saves the
    conflict page as shown: A's role stays (values_read travels with the form)."""
    assignment = AssignmentFactory(notes="", role=Assignment.Role.PRIMARY)
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    url = change_url(assignment)
    a, b = login(coordinator), login(coordinator)
    read_by_a = page_data(a.get(url))
    read_by_b = page_data(b.get(url))
    assert "values_read" in read_by_b

    assert a.post(url, {**read_by_a, "role": Assignment.Role.BACKUP}).status_code == 302
    stale = b.post(url, {**read_by_b, "notes": "bring a pager"})
    assert stale.status_code == 409
    assert b.post(url, conflict_page_data(stale)).status_code == 302

    assignment.refresh_from_db()
    assert (assignment.role, assignment.notes) == (Assignment.Role.BACKUP, "bring a pager")


@pytest.mark.django_db
def test_every_versioned_admin_renders_the_hidden_fields(coordinator):
    client = login(coordinator)
    for make, _a, _b in CASES.values():
        response = client.get(change_url(make()))
        form = response.context["adminform"]
        assert isinstance(form, AdminForm)
        html = response.content.decode()
        assert 'name="expected_version"' in html and 'name="values_read"' in html


@pytest.mark.django_db
def test_versioned_update_refuses_a_stale_version_and_save_bumps_it():
    rotation = RotationTemplateFactory(name="Wards")
    rotation.name = "Clinic"
    assert services.versioned_update(instance=rotation, version=1, fields=["name"]) == 2
    rotation.name = "Nights"
    with pytest.raises(ConcurrentEdit) as refused:
        services.versioned_update(instance=rotation, version=1, fields=["name"])
    assert refused.value.current.name == "Clinic"
    # A plain save (a script) bumps the version too, so a form opened before it is stale.
    person = PersonFactory()
    person.name = "Renamed"
    person.save()
    assert person.version == 2
    person.save(update_fields=["name"])
    assert Person.objects.get(pk=person.pk).version == 3


def _race(coordinator, obj, model, changes: dict[str, dict], settings):
    """Both coordinators read version 1 and save at the same moment: both pass validation and
    queue behind a row lock the test holds, so the version check must settle it."""
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000
    url = change_url(obj)
    read = page_data(login(coordinator).get(url))
    locked, release = threading.Event(), threading.Event()

    def hold_row():
        with transaction.atomic():
            model.objects.select_for_update().get(pk=obj.pk)
            locked.set()
            assert release.wait(60)

    def save(change):
        return lambda: login(coordinator).post(url, {**read, **change}).status_code

    holder = run_in_thread(hold_row, Outcome())
    assert locked.wait(60)
    outcomes = {name: Outcome() for name in changes}
    savers = [run_in_thread(save(changes[name]), outcomes[name]) for name in changes]
    try:
        wait_for_lock_waiters(2)
    finally:
        release.set()
    join_all([holder, *savers])
    assert all(o.error is None for o in outcomes.values()), outcomes
    statuses = {name: o.result for name, o in outcomes.items()}
    assert sorted(statuses.values()) == [302, 409]
    return next(name for name, status in statuses.items() if status == 302)


@pytest.mark.django_db(transaction=True)
def test_rename_and_capacity_change_race_one_wins_nothing_lost(coordinator, settings):
    rotation = RotationTemplateFactory(name="Wards", max_people=4)
    winner = _race(
        coordinator,
        rotation,
        RotationTemplate,
        {"rename": {"name": "General wards"}, "capacity": {"max_people": "6"}},
        settings,
    )
    rotation.refresh_from_db()
    expected = {"rename": ("General wards", 4), "capacity": ("Wards", 6)}[winner]
    assert (rotation.name, rotation.max_people, rotation.version) == (*expected, 2)


@pytest.mark.django_db(transaction=True)
def test_curriculum_requirement_race_one_wins(coordinator, settings):
    requirement = CurriculumRequirementFactory(min_blocks=1, max_blocks=3)
    winner = _race(
        coordinator,
        requirement,
        CurriculumRequirement,
        {"min": {"min_blocks": "2"}, "max": {"max_blocks": "5"}},
        settings,
    )
    requirement.refresh_from_db()
    expected = {"min": (2, 3), "max": (1, 5)}[winner]
    assert (requirement.min_blocks, requirement.max_blocks, requirement.version) == (*expected, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_the_delete_page_refuses_to_delete_a_newer_version(case, coordinator):
    make, _a, _b = CASES[case]
    obj = make()
    meta = obj._meta
    delete_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])
    client = login(coordinator)
    page = client.get(delete_url)
    assert page.status_code == 200
    assert f'name="expected_version" value="{obj.version}"' in page.content.decode()
    # A colleague saves a change after the delete page was shown.
    type(obj).objects.get(pk=obj.pk).save()

    refused = client.post(delete_url, {"post": "yes", "expected_version": "1"}, follow=True)
    assert type(obj).objects.filter(pk=obj.pk).exists()
    shown = [str(m) for m in refused.context["messages"]]
    assert any("after you opened the delete page" in m for m in shown), shown

    assert client.post(delete_url, {"post": "yes", "expected_version": "2"}).status_code == 302
    assert not type(obj).objects.filter(pk=obj.pk).exists()
