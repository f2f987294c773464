"""The year grid's rows as HTML, built in Python.

The largest program's grid is some 3,800 cells. Rendering each through the template language
(a few tags, an {% url %} and two properties per cell) took most of a second on the benchmark
machine; the same markup built here with ``escape`` takes a small fraction of that. Everything
else on the page stays in the template (templates/residency/year_grid.html)."""

from __future__ import annotations

from urllib.parse import quote

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from residency.year_grid import GridRow, YearGrid


def grid_rows_render(grid: YearGrid, *, coordinator: bool, me_id: int | None, back: str) -> None:
    """Fill each row's ``html`` with its ``<tr>``. Coordinators' cells link to the
    version-checked edit (returning to ``back``) or, when empty, to the admin's add form for that
    person and block."""
    edit = reverse("assignment_edit", args=[0]).replace("/0/", "/{}/")
    add = reverse("admin:residency_assignment_add")
    own_schedule = reverse("schedule")
    person_schedule = reverse("person_schedule", args=[0]).replace("/0/", "/{}/")
    year_query = f"?year={grid.academic_year.pk}"
    next_query = "?next=" + quote(back, safe="/")
    for group in grid.groups:
        for row in group.rows:
            row.html = mark_safe(
                _row(row, coordinator, me_id, edit, add, own_schedule, person_schedule,
                     year_query, next_query)
            )  # fmt: skip


def _row(
    row: GridRow,
    coordinator: bool,
    me_id: int | None,
    edit: str,
    add: str,
    own_schedule: str,
    person_schedule: str,
    year_query: str,
    next_query: str,
) -> str:
    person = row.person
    name = escape(person.name)
    if coordinator:
        label = f'<a href="{person_schedule.format(person.pk)}{year_query}">{name}</a>'
    elif person.pk == me_id:
        label = f'<a href="{own_schedule}{year_query}">{name}</a>'
    else:
        label = name
    parts = [
        f"<tr{' class=me' if person.pk == me_id else ''}>"
        f'<th class="person" scope="row" title="{name}">{label}</th>'
    ]
    for cell in row.cells:
        a = cell.assignment
        if a is not None:
            code = escape(a.rotation.code)
            if coordinator:
                inner = f'<a href="{edit.format(a.pk)}{next_query}">{code}</a>'
            else:
                inner = f'<span class="code">{code}</span>'
        elif coordinator:
            inner = (
                f'<a href="{add}?person={person.pk}&amp;block={cell.block.pk}" '
                f'aria-label="Assign {name} in block {cell.block.number}">+</a>'
            )
        else:
            inner = '<span class="code">·</span>'
        parts.append(f'<td class="{cell.css}" title="{escape(cell.title)}">{inner}</td>')
    parts.append("</tr>")
    return "".join(parts)
