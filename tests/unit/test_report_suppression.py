"""Secondary suppression (`report/suppression.py`): a suppressed figure alone in a line that
adds up to a shown total takes the next smallest with it, until nothing changes; and the
report's breakdowns apply it, in their tables and their charts."""

from __future__ import annotations

from services.reporting.report.figures import Figure, count_figure
from services.reporting.report.suppression import column_lines, protect, protect_columns, row_lines

T = 5


def figures(*counts: int) -> list[Figure]:
    return [count_figure(n, T) for n in counts]


def texts(cells: list[Figure]) -> list[str]:
    return [c.text for c in cells]


def test_one_suppressed_cell_takes_the_next_smallest_positive_one_with_it():
    (line,) = protect_columns([figures(3, 40, 12, 0, 25)])
    assert texts(line) == ["1\u20135", "40", "suppressed", "0", "25"]
    assert [c.value for c in line] == [None, 40.0, None, 0.0, 25.0]
    assert all(c.suppressed for c in (line[0], line[2]))


def test_two_suppressed_cells_are_left_as_they_are():
    (line,) = protect_columns([figures(3, 2, 40, 12)])
    assert texts(line) == ["1\u20135", "1\u20135", "40", "12"]


def test_nothing_suppressed_and_a_total_of_zero_change_nothing():
    (shown,) = protect_columns([figures(6, 40, 12)])
    assert texts(shown) == ["6", "40", "12"]
    (zeros,) = protect_columns([figures(0, 0, 0)])
    assert texts(zeros) == ["0", "0", "0"]
    assert protect_columns([]) == []


def test_zeros_are_never_hidden_and_a_lone_positive_figure_needs_no_partner():
    # The only positive figure is the suppressed one: the total is that figure, itself suppressed.
    (line,) = protect_columns([figures(0, 4, 0)])
    assert texts(line) == ["0", "1\u20135", "0"]


def test_ties_take_the_first_in_the_line():
    (line,) = protect_columns([figures(9, 2, 9)])
    assert texts(line) == ["suppressed", "1\u20135", "9"]


def test_a_two_way_table_iterates_until_every_row_and_column_is_stable():
    # rows: teams; columns: categories; both add up to totals the report shows
    grid = [figures(2, 10, 20), figures(30, 40, 50), figures(60, 70, 80)]
    cells = protect(grid, [*row_lines(3, range(3)), *column_lines(3, range(3))])
    hidden = {(r, c) for r in range(3) for c in range(3) if cells[r][c].suppressed}
    # row 0 hides 10 with the 2; column 0 then hides 30, column 1 hides 40; row 1 then has two.
    assert hidden == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for r in range(3):
        in_row = sum(1 for c in range(3) if cells[r][c].suppressed)
        in_column = sum(1 for c in range(3) if cells[c][r].suppressed)
        assert in_row != 1 and in_column != 1


def test_only_the_lines_named_are_protected():
    grid = [figures(2, 100), figures(50, 7)]
    cells = protect(grid, column_lines(2, [0]))  # column 1 has no total shown
    assert [texts(row) for row in cells] == [["1\u20135", "100"], ["suppressed", "7"]]


def test_the_reports_audit_breakdowns_hide_the_next_smallest_in_table_and_chart_and_state_the_grade_rule():
    from datetime import date

    from services.reporting.facts import Facts
    from services.reporting.followups import GradedAudit
    from services.reporting.report.content import build_report
    from services.reporting.report.model import Chart, Paragraph
    from shared.events import Grade
    from tests.unit.test_report_sections import audit, inputs_of, loaded, rows

    grades = [Grade.GOOD] * 20 + [Grade.REQUIRES_IMPROVEMENT] * 9 + [Grade.INADEQUATE] * 3
    audits = {
        f"a{i}": GradedAudit(audit(f"a{i}", "send", date(2022, 8, 1), audit_type="themed" if i < 3 else "routine"), g)
        for i, g in enumerate(grades)
    }
    report = build_report(loaded(inputs_of(Facts(), audits=audits, overall_grade_rule="best_fit")))
    assert rows(report, "audit-grades") == [
        ("Outstanding", ["0", "0%", "0"]),
        ("Good", ["20", "62%", "0"]),
        ("Requires improvement", ["suppressed", "\u2013", "0"]),
        ("Inadequate", ["1\u20135", "\u2013", "0"]),
    ]
    # audit types: 3 themed (suppressed) alone in the column: routine (29) goes with it
    assert dict(rows(report, "audit-by-type"))["Routine"][0] == "suppressed"
    audits_section = next(s for s in report.sections if s.id == "audits")
    chart = next(b for b in audits_section.blocks if isinstance(b, Chart) and b.id == "chart-audit-grades")
    assert ">9<" not in chart.svg and ">20<" in chart.svg
    grade_table = next(b for b in audits_section.blocks if getattr(b, "id", None) == "audit-grades")
    assert "best-fit" in grade_table.note and "\u201cbest_fit\u201d" in grade_table.note
    about = next(s for s in report.sections if s.id == "about")
    said = " ".join(b.text for b in about.blocks if isinstance(b, Paragraph))
    assert "overall-grade rule (\u201cbest_fit\u201d)" in said and "next smallest" in said
