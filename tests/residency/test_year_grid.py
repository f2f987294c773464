"""The year grid: layout, markers, filters, capacity footer, access, exports and query count."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from residency import year_grid as grids
from residency.models import RotationTemplate, readable_text_color, relative_luminance
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db


def build(*, people: int, blocks: int):
    """A year with ``people`` residents (PGY 1 and 2 alternating) and ``people`` faculty, each
    on a rotation in every block, plus one absence per person."""
    year = AcademicYearFactory()
    block_rows = [BlockFactory(academic_year=year) for _ in range(blocks)]
    wards = RotationTemplate.objects.filter(code="WARDS").first() or RotationTemplateFactory(
        name="Wards", code="WARDS", min_people=1, max_people=2
    )
    clinic = RotationTemplate.objects.filter(code="CLIN").first() or RotationTemplateFactory(
        name="Clinic",
        code="CLIN",
        staffed_by="faculty",
        allowed_pgy_levels=[],
        min_people=people + 1,
        max_people=99,
    )
    for n in range(people):
        resident = PersonFactory(name=f"Resident {n:03d}")
        ResidentYearFactory(person=resident, academic_year=year, pgy_level=1 + n % 2)
        doc = PersonFactory(name=f"Dr {n:03d}", kind="faculty")
        for block in block_rows:
            AssignmentFactory(person=resident, block=block, rotation=wards, pinned=n == 0)
            AssignmentFactory(person=doc, block=block, rotation=clinic)
        AbsenceFactory(
            person=resident, start_date=block_rows[0].start_date, end_date=block_rows[0].end_date
        )
    return year, block_rows, wards, clinic


def test_grid_groups_people_by_kind_and_pgy_with_markers_and_capacity(coordinator):
    year, _blocks, wards, _clinic = build(people=3, blocks=2)
    response = client_for(coordinator).get(f"/schedule/year/{year.label}/")
    assert response.status_code == 200
    grid = response.context["grid"]
    assert [g.label for g in grid.groups] == ["PGY-1 residents", "PGY-2 residents", "Faculty"]
    assert [r.person.name for r in grid.groups[0].rows] == ["Resident 000", "Resident 002"]
    first = grid.groups[0].rows[0].cells[0]
    assert first.assignment.rotation == wards
    assert "pinned" in first.css and "away" in first.css and f"rot-{wards.pk}" in first.css
    assert "Pinned" in first.title and "Away" in first.title
    assert "Vacation" not in first.title  # the kind of leave is nobody else's business
    footer = {row.rotation.code: [c.count for c in row.cells] for row in grid.capacity}
    assert footer == {"WARDS": [3, 3], "CLIN": [3, 3]}  # faculty do not count toward WARDS
    capacity = {row.rotation.code: row.cells for row in grid.capacity}
    assert all(c.over and c.css == "over" for c in capacity["WARDS"])  # 3 residents, at most 2
    assert all(c.under and c.css == "under" for c in capacity["CLIN"])  # 3 faculty, at least 4
    body = response.content.decode()
    assert "3 people (needs 1 to 2) (too many)" in body
    # Coordinators' cells open the version-checked edit and come back to the grid.
    assignment = first.assignment
    assert f"/assignments/{assignment.pk}/edit/?next=/schedule/year/{year.label}/" in body


def test_grid_is_for_everyone_logged_in_but_only_coordinators_edit(resident, client):
    year, *_ = build(people=2, blocks=2)
    assert client.get("/schedule/year/").status_code == 302  # login first
    response = client_for(resident.user).get(f"/schedule/year/{year.label}/")
    assert response.status_code == 200
    assert "/edit/" not in response.content.decode()
    assert client_for(resident.user).get("/schedule/year/no-such/").status_code == 404


def test_current_year_by_default(resident):
    today = timezone.localdate()
    start = datetime.date(today.year if today.month >= 7 else today.year - 1, 7, 1)
    year = AcademicYearFactory(start_date=start, end_date=start.replace(year=start.year + 1))
    AcademicYearFactory(start_date=datetime.date(2090, 7, 1), end_date=datetime.date(2091, 6, 30))
    response = client_for(resident.user).get("/schedule/year/")
    assert response.context["year"] == year


def test_filters_choose_rows_and_capacity_counts_everyone(coordinator):
    year, _blocks, _wards, clinic = build(people=4, blocks=1)
    client = client_for(coordinator)
    url = f"/schedule/year/{year.label}/"

    def names(query):
        grid = client.get(url, query).context["grid"]
        return [r.person.name for g in grid.groups for r in g.rows], grid

    shown, grid = names({"pgy": "2"})
    assert shown == ["Resident 001", "Resident 003"]
    # Capacity is the program's: the filter hides rows, not people from the counts.
    assert {r.rotation.code: r.cells[0].count for r in grid.capacity} == {"WARDS": 4, "CLIN": 4}
    assert names({"kind": "faculty"})[0] == ["Dr 000", "Dr 001", "Dr 002", "Dr 003"]
    assert names({"q": "dr 00"})[0] == ["Dr 000", "Dr 001", "Dr 002", "Dr 003"]
    shown, grid = names({"rotation": str(clinic.pk)})
    assert shown == ["Dr 000", "Dr 001", "Dr 002", "Dr 003"]
    # Mangled filters are ignored rather than refused.
    assert len(names({"pgy": "nine", "rotation": "x", "kind": "robot"})[0]) == 8


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_for_coordinators_with_colours(coordinator, resident, fmt):
    year, _blocks, wards, _clinic = build(people=2, blocks=3)
    wards.color = "#3f4a8a"
    wards.save()
    url = f"/schedule/year/{year.label}/export.{fmt}"
    assert client_for(resident.user).get(url).status_code == 403
    response = client_for(coordinator).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0][:3] == ["Person", "Group", rows[0][2]] and rows[0][2].startswith("Block 1")
        assert rows[1] == ["Resident 000", "PGY-1 residents", "WARDS", "WARDS", "WARDS"]
    else:
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet["A2"].value == "Resident 000" and sheet["C2"].value == "WARDS"
        assert sheet["C2"].fill.fgColor.rgb.endswith("3F4A8A")
        assert sheet["C2"].font.color.rgb.endswith("FFFFFF")  # white on dark blue


def test_csv_cells_never_start_a_formula(coordinator):
    year, *_ = build(people=1, blocks=1)
    PersonFactory(name="=HYPERLINK(1)")
    body = client_for(coordinator).get(f"/schedule/year/{year.label}/export.csv").content
    assert b"'=HYPERLINK(1)" in body


def test_own_schedule_exports_for_everyone(resident):
    year, blocks, wards, _ = build(people=0, blocks=2)
    ResidentYearFactory(person=resident, academic_year=year)
    AssignmentFactory(person=resident, block=blocks[0], rotation=wards, notes="=1+1")
    client = client_for(resident.user)
    body = client.get(f"/schedule/export.csv?year={year.pk}").content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][0] == "1" and rows[1][3] == "Wards" and rows[1][6] == "'=1+1"
    assert rows[2][3] == "Not assigned"
    response = client.get(f"/schedule/export.xlsx?year={year.pk}")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["D2"].value == "Wards"
    assert client.get(f"/schedule/export.pdf?year={year.pk}").status_code == 404


def test_grid_query_count_does_not_grow_with_people_or_blocks(coordinator, resident):
    small, *_ = build(people=2, blocks=2)
    big, *_ = build(people=12, blocks=6)
    for user in (coordinator, resident.user):
        counts = []
        for year in (small, big):
            client = client_for(user)
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/schedule/year/{year.label}/").status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1], counts


def test_grid_selector_reads_six_queries(django_assert_num_queries):
    year, *_ = build(people=5, blocks=4)
    with django_assert_num_queries(6):
        grid = grids.year_grid(academic_year=year)
        for group in grid.groups:
            for row in group.rows:
                for cell in row.cells:
                    assert cell.css and cell.title


def test_rotation_colours_default_by_kind_and_stay_readable():
    leave = RotationTemplateFactory(kind=RotationTemplate.Kind.LEAVE)
    night = RotationTemplateFactory(kind=RotationTemplate.Kind.NIGHT)
    one, two = RotationTemplateFactory(), RotationTemplateFactory()
    assert leave.display_color == "#d9d9d9" and night.text_color == "#ffffff"
    assert one.display_color != two.display_color
    for rotation in (leave, night, one, two):
        background = relative_luminance(rotation.display_color)
        text = relative_luminance(rotation.text_color)
        light, dark = max(background, text), min(background, text)
        assert (light + 0.05) / (dark + 0.05) >= 4.5  # WCAG AA for normal text
    assert readable_text_color("#ffffff") == "#000000"


def test_rotation_colour_is_checked_by_the_database():
    from django.db import IntegrityError

    rotation = RotationTemplateFactory()
    with pytest.raises(IntegrityError):
        RotationTemplate.objects.filter(pk=rotation.pk).update(color="red; x")


def test_rotation_colours_stylesheet(client):
    rotation = RotationTemplateFactory(color="#123456")
    response = client.get("/schedule/rotations.css")
    assert response["Content-Type"].startswith("text/css")
    assert f".rot-{rotation.pk} {{ background-color: #123456; color: #ffffff; }}" in (
        response.content.decode()
    )


def test_labels_with_slashes_and_spaces_work(coordinator):
    year = AcademicYearFactory(label="2070/71 main")
    BlockFactory(academic_year=year)
    client = client_for(coordinator)
    response = client.get("/schedule/year/2070/71 main/")
    assert response.status_code == 200 and response.context["year"] == year
    assert client.get("/schedule/year/2070/71 main/export.csv").status_code == 200


def test_colleagues_see_approved_absences_only(coordinator, resident):
    year, blocks, *_ = build(people=1, blocks=2)
    someone = PersonFactory(name="Resident 999")
    ResidentYearFactory(person=someone, academic_year=year)
    AbsenceFactory(
        person=someone,
        start_date=blocks[1].start_date,
        end_date=blocks[1].start_date,
        status="requested",
    )

    def cell(user):
        grid = client_for(user).get(f"/schedule/year/{year.label}/").context["grid"]
        row = next(r for g in grid.groups for r in g.rows if r.person == someone)
        return row.cells[1]

    assert "(requested)" in cell(coordinator).title
    assert cell(resident.user).absences == []


def test_names_and_codes_are_escaped_in_the_grid(coordinator):
    year, blocks, *_ = build(people=1, blocks=1)
    evil = PersonFactory(name='<script>alert("x")</script>')
    AssignmentFactory(
        person=evil, block=blocks[0], rotation=RotationTemplateFactory(code="<b>X</b>")
    )
    body = client_for(coordinator).get(f"/schedule/year/{year.label}/?q=%3Cscript").content
    assert b"<script>alert" not in body and b"<b>X</b>" not in body
    assert b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert b"&lt;b&gt;X&lt;/b&gt;" in body
