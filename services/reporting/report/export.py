"""Tables as CSV and XLSX (issue 14, item 11): the one exporter of every table of the
quarterly report and of the dashboard, both built as `model.Table`s of formatted `Figure`s.

* **CSV**: UTF-8 with a byte-order mark (so that Excel reads the accents and dashes as UTF-8),
  a header row (the table's columns) and one row per table row, each cell the text the report
  prints. A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
  a leading apostrophe, so that a spreadsheet never takes it for a formula (CSV injection:
  a team name or a commentary is free text).
* **XLSX** (XlsxWriter): one sheet per table, named by the table's id; its caption, the header
  row, the rows and its note. Counts, rates and average days are numbers with the report's
  number format (a count 1,234, a rate 45%, 3.2 days); every other cell is a string written as
  a string (XlsxWriter never reads it as a formula or a link). A workbook of several tables
  starts with a contents sheet.

Suppressed figures are exported as the marker the report prints ("1-5", "suppressed"), never
the hidden number: a `Figure` that is suppressed holds no value to write.

Pure: no I/O (the workbook is built in memory).
"""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from .figures import Figure
from .model import QuarterlyReport, Table

__all__ = [
    "CSV_MEDIA_TYPE",
    "XLSX_MEDIA_TYPE",
    "Workbook",
    "data_uri",
    "report_tables",
    "report_workbook",
    "safe_cell",
    "sheet_names",
    "table_csv",
    "tables_xlsx",
]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")
_RATE = re.compile(r"^\d+%$")
_DAYS = re.compile(r"^\d+\.\d days$")
_SHEET_NAME_MAX = 31
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def safe_cell(value: str) -> str:
    """A CSV cell that no spreadsheet reads as a formula: a leading apostrophe before = + - @,
    a tab or a carriage return."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _texts(table: Table) -> list[list[str]]:
    return [list(table.columns), *([row.header, *(cell.text for cell in row.cells)] for row in table.rows)]


def table_csv(table: Table) -> bytes:
    """The table as CSV: UTF-8 with a BOM, CRLF line ends (RFC 4180), every cell safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in _texts(table):
        writer.writerow([safe_cell(cell) for cell in line])
    return (BOM + out.getvalue()).encode("utf-8")


@dataclass(frozen=True)
class Workbook:
    """What a workbook says about itself: its title (the contents sheet's heading) and lines of
    words under it (the period, how small numbers are shown)."""

    title: str
    about: Sequence[str] = ()


def sheet_names(tables: Sequence[Table]) -> list[str]:
    """A sheet name per table: its id, as Excel allows (at most 31 characters, none of
    []:*?/\\), made unique by a number where two would be the same."""
    names: list[str] = []
    seen: set[str] = set()
    for table in tables:
        base = _NOT_IN_SHEET_NAMES.sub("-", table.id)[:_SHEET_NAME_MAX] or "table"
        name, n = base, 1
        while name.lower() in seen or name.lower() == "contents":
            n += 1
            suffix = f"-{n}"
            name = base[: _SHEET_NAME_MAX - len(suffix)] + suffix
        seen.add(name.lower())
        names.append(name)
    return names


class _Writer:
    """One XlsxWriter workbook in memory, with the formats the report's figures need."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self.buffer,
            {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
        )
        self.bold = self.book.add_format({"bold": True})
        self.title = self.book.add_format({"bold": True, "font_size": 13})
        self.note = self.book.add_format({"italic": True, "font_color": "#505a5f"})
        self.numbers = {
            "count": self.book.add_format({"num_format": "#,##0"}),
            "rate": self.book.add_format({"num_format": "0%"}),
            "days": self.book.add_format({"num_format": '0.0 "days"'}),
        }

    def cell(self, sheet: Any, row: int, col: int, figure: Figure) -> None:
        kind = _number_kind(figure)
        if kind is None or figure.value is None:
            sheet.write_string(row, col, figure.text)
        else:
            sheet.write_number(row, col, figure.value, self.numbers[kind])

    def table(self, name: str, table: Table) -> None:
        sheet = self.book.add_worksheet(name)
        sheet.write_string(0, 0, table.caption, self.title)
        for col, heading in enumerate(table.columns):
            sheet.write_string(2, col, heading, self.bold)
        for r, row in enumerate(table.rows, start=3):
            sheet.write_string(r, 0, row.header, self.bold)
            for col, figure in enumerate(row.cells, start=1):
                self.cell(sheet, r, col, figure)
        if table.note:
            sheet.write_string(len(table.rows) + 4, 0, table.note, self.note)
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, max(len(table.columns) - 1, 1), 16)
        sheet.freeze_panes(3, 1)

    def contents(self, about: Workbook, tables: Sequence[Table], names: Sequence[str]) -> None:
        sheet = self.book.add_worksheet("Contents")
        sheet.write_string(0, 0, about.title, self.title)
        for r, line in enumerate(about.about, start=1):
            sheet.write_string(r, 0, line)
        top = len(about.about) + 2
        sheet.write_string(top, 0, "Sheet", self.bold)
        sheet.write_string(top, 1, "Table", self.bold)
        for r, (name, table) in enumerate(zip(names, tables, strict=True), start=top + 1):
            sheet.write_url(r, 0, f"internal:'{name}'!A1", string=name)
            sheet.write_string(r, 1, table.caption)
        sheet.set_column(0, 0, 30)
        sheet.set_column(1, 1, 90)

    def close(self) -> bytes:
        self.book.close()
        return self.buffer.getvalue()


def _number_kind(figure: Figure) -> str | None:
    """How a shown figure is written as a number: "count", "rate" or "days" where its text is
    one of those as `figures.py` formats them; None for every other cell (words, changes,
    markers), which is written as its text."""
    if not figure.numeric or figure.suppressed or figure.value is None:
        return None
    if _COUNT.match(figure.text):
        return "count"
    if _RATE.match(figure.text):
        return "rate"
    if _DAYS.match(figure.text):
        return "days"
    return None


def tables_xlsx(tables: Sequence[Table], about: Workbook | None = None) -> bytes:
    """The tables as an XLSX workbook, a sheet each (after a contents sheet when ``about`` is
    given)."""
    writer = _Writer()
    names = sheet_names(tables)
    if about is not None:
        writer.contents(about, tables, names)
    for name, table in zip(names, tables, strict=True):
        writer.table(name, table)
    return writer.close()


def report_tables(report: QuarterlyReport) -> list[Table]:
    """Every table of the report, in the order it prints them."""
    return [block for section in report.sections for block in section.blocks if isinstance(block, Table)]


def report_workbook(report: QuarterlyReport) -> bytes:
    """The whole report's tables as one workbook: a contents sheet, then a sheet per table."""
    t = report.threshold
    about = Workbook(
        report.title,
        [
            f"{report.period_text}; authority {report.tenant}; produced by qaloop on {report.generated_on}.",
            f"Small numbers are suppressed: a count from 1 to {t} reads \u201c1\u2013{t}\u201d, a rate or "
            f"average over 1 to {t} cases, or a figure hidden so that another cannot be worked out from a "
            "total, reads \u201csuppressed\u201d.",
        ],
    )
    return tables_xlsx(report_tables(report), about)


def data_uri(media_type: str, body: bytes) -> str:
    """A data: URI of ``body``, for a download link in a self-contained HTML report."""
    return f"data:{media_type.split(';')[0]};base64,{base64.b64encode(body).decode('ascii')}"
