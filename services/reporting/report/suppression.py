"""Secondary suppression (issue 14, item 10): a suppressed figure in a breakdown must not be
recoverable by subtracting the figures shown beside it from a total shown elsewhere.

Primary suppression (`figures.py`, `kpis.apply_publication_rules`) hides a count from 1 to
the threshold. In a breakdown whose lines add up to a total the report or dashboard shows (the
audits by grade add up to the audits completed, the complaints by category to the complaints
received), one hidden figure alone in its line is the total minus the others. So, in every
such line (a row or a column named by the table), when exactly one figure is suppressed, the
smallest figure shown in that line is suppressed too; a suppression can leave another line
with exactly one, so this repeats until nothing changes.

Readings (DOMAIN.md is silent; a QA officer's and the statistics convention's expectations):

* the "next smallest" figure is the smallest *positive* figure shown (ties: the first in the
  line's order). A zero is not hidden: it needs no protecting, and hiding it under a marker
  would claim a count that is not there. A line whose only positive figure is the suppressed
  one needs nothing more: its total is that figure, and is itself suppressed;
* a figure hidden this way reads "suppressed" (not the count range "1-5", which it may not
  be in), in the table, the chart, the CSV and the XLSX alike; its value is gone from the
  `Figure`, so nothing drawn from it can show more than its text;
* a line with two or more figures suppressed, or with none, is left as it is (the rule the
  issue states). A total of zero has no suppressed figure, so nothing changes.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.reporting import kpis

from .figures import SUPPRESSED_RATE, Figure, kpi_figure

__all__ = ["Line", "column_lines", "hidden", "kpi_line", "protect", "protect_columns", "row_lines"]

Line = Sequence[tuple[int, int]]  # (row, column) of each figure of a line that adds up to a shown total


def hidden() -> Figure:
    """A figure hidden by secondary suppression."""
    return Figure(SUPPRESSED_RATE, None, suppressed=True)


def column_lines(n_rows: int, columns: Iterable[int]) -> list[Line]:
    """Each of ``columns`` (cell indexes) down the rows, as a line."""
    return [[(r, c) for r in range(n_rows)] for c in columns]


def row_lines(n_rows: int, columns: Sequence[int]) -> list[Line]:
    """Each row across ``columns`` (cell indexes), as a line."""
    return [[(r, c) for c in columns] for r in range(n_rows)]


def _shown_positive(cell: Figure) -> bool:
    return not cell.suppressed and cell.value is not None and cell.value > 0


def protect(grid: Sequence[Sequence[Figure]], lines: Iterable[Line]) -> list[list[Figure]]:
    """``grid`` (rows of figures) with secondary suppression applied along ``lines``."""
    cells = [list(row) for row in grid]
    todo = [list(line) for line in lines]
    changed = True
    while changed:
        changed = False
        for line in todo:
            if sum(1 for r, c in line if cells[r][c].suppressed) != 1:
                continue
            candidates = [(r, c) for r, c in line if _shown_positive(cells[r][c])]
            if not candidates:
                continue
            r, c = min(candidates, key=lambda rc: cells[rc[0]][rc[1]].value or 0.0)
            cells[r][c] = hidden()
            changed = True
    return cells


def protect_columns(column_figures: Sequence[Sequence[Figure]]) -> list[list[Figure]]:
    """Several lists of figures, each a line on its own (a column of a breakdown, a series of
    a chart), each protected: ``protect`` on the lists as columns."""
    if not column_figures:
        return []
    n = len(column_figures[0])
    grid = [[column[r] for column in column_figures] for r in range(n)]
    protected = protect(grid, column_lines(n, range(len(column_figures))))
    return [[protected[r][c] for r in range(n)] for c in range(len(column_figures))]


def kpi_line(published: Sequence[kpis.KpiValue], teams: Sequence[tuple[str, str]], threshold: int) -> list[Figure]:
    """Published values of one KPI across a per-team breakdown (``teams``: every team of it), as
    figures protected by the one rule of by-team tables (`kpis.protect_teams`: the member on
    the fewest cases, a count's value or a rate's denominator, is the one hidden): a figure
    hidden only so that another cannot be worked out reads "suppressed", not the small-count
    range."""
    protected = kpis.protect_teams(published, teams)
    return [
        hidden() if after.suppressed and not before.suppressed else kpi_figure(before, threshold)
        for before, after in zip(published, protected, strict=True)
    ]
