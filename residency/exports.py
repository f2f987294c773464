"""Excel and CSV files of the year grid and of one person's schedule. They only lay out what the
selectors read (residency.year_grid.year_grid, schedule_for_person)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from residency.selectors import ScheduleRow
from residency.year_grid import YearGrid

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: object) -> object:
    """Keep spreadsheet apps from running text as a formula (CSV/formula injection): a name or a
    note starting with = + - @ is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _block_header(grid: YearGrid) -> list[str]:
    return [
        f"Block {b.number} ({b.start_date:%d %b} to {b.end_date:%d %b %Y})" for b in grid.blocks
    ]


def _grid_rows(grid: YearGrid) -> Iterable[list]:
    for group in grid.groups:
        for row in group.rows:
            yield (
                row,
                [
                    row.person.name,
                    group.label,
                    *(c.assignment.rotation.code if c.assignment else "" for c in row.cells),
                ],
            )


def grid_csv(grid: YearGrid) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Person", "Group", *_block_header(grid)])
    for _row, values in _grid_rows(grid):
        writer.writerow([safe_cell(v) for v in values])
    return out.getvalue()


def grid_xlsx(grid: YearGrid) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = grid.academic_year.label[:31]
    sheet.append(["Person", "Group", *_block_header(grid)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row, values in _grid_rows(grid):
        sheet.append([safe_cell(v) for v in values])
        for column, cell in enumerate(row.cells, start=3):
            if cell.assignment is None:
                continue
            rotation = cell.assignment.rotation
            target = sheet.cell(row=sheet.max_row, column=column)
            target.fill = PatternFill("solid", fgColor=rotation.display_color[1:].upper())
            target.font = Font(color=rotation.text_color[1:].upper())
            target.alignment = Alignment(horizontal="center")
    sheet.freeze_panes = "C2"
    sheet.column_dimensions["A"].width = 26
    sheet.column_dimensions["B"].width = 18
    for column in range(3, 3 + len(grid.blocks)):
        sheet.column_dimensions[get_column_letter(column)].width = 13
    legend = book.create_sheet("Rotations")
    legend.append(["Code", "Rotation", "Fewest people", "Most people"])
    for rotation in grid.rotations:
        legend.append([rotation.code, rotation.name, rotation.min_people, rotation.max_people])
        legend.cell(row=legend.max_row, column=1).fill = PatternFill(
            "solid", fgColor=rotation.display_color[1:].upper()
        )
        legend.cell(row=legend.max_row, column=1).font = Font(color=rotation.text_color[1:].upper())
    legend.column_dimensions["B"].width = 30
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SCHEDULE_HEADER = ["Block", "First day", "Last day", "Rotation", "Code", "Role", "Notes"]


def _schedule_values(rows: list[ScheduleRow]) -> Iterable[list]:
    for row in rows:
        a = row.assignment
        yield [
            row.block.number,
            row.block.start_date,
            row.block.end_date,
            a.rotation.name if a else "Not assigned",
            a.rotation.code if a else "",
            a.get_role_display() if a else "",
            a.notes if a else "",
        ]


def schedule_csv(rows: list[ScheduleRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SCHEDULE_HEADER)
    for values in _schedule_values(rows):
        writer.writerow([safe_cell(v) for v in values])
    return out.getvalue()


def schedule_xlsx(rows: list[ScheduleRow], *, title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(SCHEDULE_HEADER)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row, values in zip(rows, _schedule_values(rows), strict=True):
        sheet.append([safe_cell(v) for v in values])
        if row.assignment is not None:
            rotation = row.assignment.rotation
            for column in (4, 5):
                target = sheet.cell(row=sheet.max_row, column=column)
                target.fill = PatternFill("solid", fgColor=rotation.display_color[1:].upper())
                target.font = Font(color=rotation.text_color[1:].upper())
        for column in (2, 3):
            sheet.cell(row=sheet.max_row, column=column).number_format = "yyyy-mm-dd"
    for column, width in zip("ABCDEFG", (7, 12, 12, 30, 9, 12, 40), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
