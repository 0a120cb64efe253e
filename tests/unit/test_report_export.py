"""The exporter (`report/export.py`): CSV that Excel opens safely (UTF-8 with a BOM, formula
injection neutralised, suppressed figures as their marker) and XLSX workbooks that openpyxl
reads back with the right sheets, rows and numbers."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import openpyxl
import pytest

from services.reporting.report.export import (
    Workbook,
    data_uri,
    report_tables,
    report_workbook,
    safe_cell,
    sheet_names,
    table_csv,
    tables_xlsx,
)
from services.reporting.report.figures import Figure, count_figure, kpi_figure, rate_figure, text
from services.reporting.report.model import Row, Table
from services.reporting.report.suppression import hidden

T = 5


def table(table_id: str = "teams") -> Table:
    return Table(
        table_id,
        "Complaints by team, 2022-23-Q2",
        ["Team", "Received", "Upheld", "Commentary"],
        [
            Row('=HYPERLINK("http://x")', [count_figure(1234, T), rate_figure(3, 10, T), text("+44 left a note")]),
            Row("small-team", [count_figure(3, T), rate_figure(1, 2, T), text("-1 point; @mention\ttab")]),
            Row("Zoë's team \u2013 north", [hidden(), Figure("3.5 days", 3.5), text("\rcarriage")]),
        ],
        note="A note under the table.",
    )


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_a_spreadsheet_would_read_as_a_formula_gets_an_apostrophe(start: str):
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert safe_cell(f"a{start}") == f"a{start}"
    assert safe_cell("") == ""


def test_csv_is_utf8_with_a_bom_and_every_dangerous_cell_is_neutralised():
    body = table_csv(table())
    assert b"\r\n" in body
    rows = read_csv(body)
    assert rows[0] == ["Team", "Received", "Upheld", "Commentary"]
    assert rows[1] == ['\'=HYPERLINK("http://x")', "1,234", "30%", "'+44 left a note"]
    assert rows[2] == ["small-team", "1\u20135", "suppressed", "'-1 point; @mention\ttab"]
    assert rows[3] == ["Zoë's team \u2013 north", "suppressed", "3.5 days", "'\rcarriage"]
    assert len(rows) == 4


def test_csv_never_holds_a_suppressed_number():
    secret = count_figure(4, T)
    assert secret.value is None
    body = table_csv(Table("t", "c", ["Row", "N"], [Row("a", [secret])])).decode("utf-8-sig")
    assert "4" not in body.replace("1\u20135", "")


def test_xlsx_has_a_sheet_per_table_with_caption_header_rows_numbers_and_note():
    other = replace(table("other"), rows=[Row("one", [count_figure(0, T), kpi_figure(None, T), text("x")])])
    book = openpyxl.load_workbook(io.BytesIO(tables_xlsx([table(), other], Workbook("Title", ["About it."]))))
    assert book.sheetnames == ["Contents", "teams", "other"]
    contents = [r for r in book["Contents"].iter_rows(values_only=True) if any(r)]
    assert contents[0][0] == "Title" and contents[1][0] == "About it."
    assert ("teams", "Complaints by team, 2022-23-Q2") in [r[:2] for r in contents]
    sheet = [list(r) for r in book["teams"].iter_rows(values_only=True)]
    assert sheet[0][0] == "Complaints by team, 2022-23-Q2"
    assert sheet[2] == ["Team", "Received", "Upheld", "Commentary"]
    # Numbers are numbers (formats as the report prints them); text stays text, never a formula.
    assert sheet[3] == ['=HYPERLINK("http://x")', 1234, 0.3, "+44 left a note"]
    assert book["teams"]["A4"].data_type == "s"
    assert book["teams"]["B4"].number_format == "#,##0" and book["teams"]["C4"].number_format == "0%"
    assert sheet[4][:3] == ["small-team", "1\u20135", "suppressed"]
    assert sheet[5][:3] == ["Zoë's team \u2013 north", "suppressed", 3.5]
    assert sheet[7][0] == "A note under the table."
    assert [list(r) for r in book["other"].iter_rows(min_row=4, max_row=4, values_only=True)] == [
        ["one", 0, "no data", "x"]
    ]


def test_a_single_table_workbook_has_just_its_sheet():
    book = openpyxl.load_workbook(io.BytesIO(tables_xlsx([table()])))
    assert book.sheetnames == ["teams"]


def test_sheet_names_are_excel_safe_and_unique():
    long = "a" * 40
    names = sheet_names([table(long), table(long), table("x/y:z"), table("contents")])
    assert names == ["a" * 31, "a" * 29 + "-2", "x-y-z", "contents-2"]
    assert all(len(n) <= 31 for n in names)


def test_data_uri_carries_the_file():
    uri = data_uri("text/csv; charset=utf-8", b"abc")
    assert uri == "data:text/csv;base64,YWJj"


def test_report_workbook_has_every_table_of_the_report(monkeypatch):
    from services.reporting.facts import Facts
    from services.reporting.report.content import build_report
    from tests.unit.test_report_sections import inputs_of, loaded

    report = build_report(loaded(inputs_of(Facts())))
    tables = report_tables(report)
    assert len(tables) > 10 and len({t.id for t in tables}) == len(tables)
    book = openpyxl.load_workbook(io.BytesIO(report_workbook(report)))
    assert book.sheetnames == ["Contents", *sheet_names(tables)]
    kpi_sheet = book[sheet_names(tables)[tables.index(next(t for t in tables if t.id == "kpis-audit"))]]
    assert [c.value for c in kpi_sheet[3]][:2] == ["KPI", "This quarter"]
