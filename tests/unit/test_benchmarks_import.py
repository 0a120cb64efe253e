"""Comparator files (services/reporting/benchmarks/lait.py and handlers): the shipped sample
reads, every bad row is reported at (line, column), and a file with any bad row imports
nothing (the store is never called)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.reporting.benchmarks import handlers
from services.reporting.benchmarks.domain import Comparators
from services.reporting.benchmarks.lait import MAX_ROWS, FigureFile, NeighbourFile, read_comparator_file
from shared.errors import Invalid

SAMPLE = Path(__file__).parents[2] / "services" / "reporting" / "benchmarks" / "sample"
FIGURES_HEADER = "la_code,la_name,measure,year,value\n"
NEIGHBOURS_HEADER = "la_code,la_name,region_code,region_name," + ",".join(f"sn{i}" for i in range(1, 11)) + "\n"


def _problems(data: str | bytes) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(Invalid) as caught:
        read_comparator_file(data.encode() if isinstance(data, str) else data)
    return [(p.field, p.reason) for p in caught.value.problems]


def test_the_sample_files_read_whole():
    neighbours = read_comparator_file((SAMPLE / "neighbours.csv").read_bytes())
    figures = read_comparator_file((SAMPLE / "figures.csv").read_bytes())
    assert isinstance(neighbours, NeighbourFile) and isinstance(figures, FigureFile)
    assert len(neighbours.authorities) == 24
    assert len(neighbours.neighbours["E10000034"]) == 10
    assert figures.ignored == {"children_looked_after_rate_per_10000": 2}
    assert figures.not_published > 0
    assert {y for y, _ in figures.covered} == {"2021-22", "2022-23"}
    assert "NOT REAL DATA" in (SAMPLE / "figures.csv").read_text().splitlines()[0]


def test_figures_read_with_symbols_years_and_comments():
    data = (
        "# a comment line before the header\n"
        "LA_Code,LA_Name,Measure,Year,Value\n"
        "E10000034,Demo,assessments_within_45_days_pct,2022/23,81.5\n"
        "E12000005,West Midlands,assessments_within_45_days_pct,2022-23,c\n"
        "E92000001,England,assessments_within_45_days_pct,2022-23,82\n"
        "\n"
        "E92000001,England,some_other_measure,2022-23,5\n"
    )
    file = read_comparator_file(data.encode("utf-8-sig"))
    assert isinstance(file, FigureFile)
    assert [(f.area, f.year, f.value) for f in file.figures] == [
        ("E10000034", "2022-23", 81.5),
        ("E92000001", "2022-23", 82.0),
    ]
    assert file.not_published == 1
    assert file.ignored == {"some_other_measure": 1}
    assert file.covered == {("2022-23", "assessments_within_45_days_pct")}


def test_every_bad_figure_row_is_reported_by_line_and_column():
    data = (
        FIGURES_HEADER
        + "E10000034,Demo,assessments_within_45_days_pct,2022-23,81.5\n"  # line 2: good
        + "X1,Demo,assessments_within_45_days_pct,2022-23,81.5\n"  # 3: code
        + "E10000034,Demo,assessments_within_45_days_pct,2022-24,81.5\n"  # 4: year
        + "E10000034,Demo,assessments_within_45_days_pct,2021-22,101\n"  # 5: percent > 100
        + "E10000034,Demo,Bad Measure,2022-23,1\n"  # 6: measure code
        + "E10000034,,sw_average_caseload,2022-23,abc\n"  # 7: name and value
        + "E10000034,Demo,assessments_within_45_days_pct,2022-23,70\n"  # 8: duplicate of line 2
    )
    problems = _problems(data)
    assert [p[0] for p in problems] == [
        (3, "la_code"),
        (4, "year"),
        (5, "value"),
        (6, "measure"),
        (7, "la_name"),
        (7, "value"),
        (8, "la_code"),
    ]
    assert "line 2" in problems[-1][1]


def test_a_figure_file_with_a_missing_or_unknown_column_is_refused_at_the_header():
    problems = _problems("# c\nla_code,la_name,measure,year,valeu\nE10000034,D,m,2022-23,1\n")
    assert ((2, "value"), "required column missing") in problems
    assert ((2, "valeu"), "unknown column") in problems


def test_neighbour_rows_are_checked_and_neighbours_must_have_rows():
    sn = ",".join(["E10900001"] + [""] * 9)
    data = (
        NEIGHBOURS_HEADER
        + f"E10000034,Demo,E12000005,West Midlands,{sn}\n"  # line 2: E10900001 has no row
        + "E10000035,Other,E1200000,West Midlands,E10000035,,,,,,,,,\n"  # 3: region code; own neighbour
        + "E10000036,Third,E12000005,West Midlands,E10000034,E10000034,,,,,,,,\n"  # 4: twice
        + "E10000036,Again,E12000005,West Midlands,,,,,,,,,,\n"  # 5: listed twice
    )
    problems = _problems(data)
    fields = [p[0] for p in problems]
    assert (3, "region_code") in fields
    assert (3, "sn1") in fields
    assert (4, "sn2") in fields
    assert (5, "la_code") in fields
    assert (2, "sn1") in fields


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"", ("file",)),
        (b"a,b,c\n1,2,3\n", (1, "header")),
        (b"la_code,la_name,measure,year,value\n", ("file",)),  # no data rows
        (b"la_code,la_name\x00,measure\n", ("file",)),
        (FIGURES_HEADER.encode() + b"E10000034,D,m,2022-23,1,extra\n", (2, "row")),
    ],
)
def test_unreadable_files_are_refused_with_where(data, where):
    assert _problems(data)[0][0] == where


def test_windows_1252_text_is_read():
    data = (FIGURES_HEADER + "E10000034,Caf\xe9 County,sw_average_caseload,2022-23,17\n").encode("cp1252")
    file = read_comparator_file(data)
    assert isinstance(file, FigureFile) and file.figures[0].value == 17.0


def test_rows_are_bounded():
    rows = "".join(f"E10000034,D,m{i},2022-23,1\n" for i in range(MAX_ROWS + 1))
    problems = _problems(FIGURES_HEADER + rows)
    assert problems[-1][0] == (MAX_ROWS + 2, "file")


def test_the_report_lists_at_most_a_hundred_problems_then_counts_the_rest():
    rows = "".join("bad,D,m,2022-23,1\n" for _ in range(150))
    problems = _problems(FIGURES_HEADER + rows)
    assert len(problems) == 101 and problems[-1][1] == "and 50 more problems"


@dataclass
class FakeStore:
    calls: list[str] = field(default_factory=list)

    async def replace_neighbours(self, tenant: str, file: NeighbourFile) -> None:
        self.calls.append(f"neighbours {tenant} {len(file.authorities)}")

    async def replace_figures(self, tenant: str, file: FigureFile) -> None:
        self.calls.append(f"figures {tenant} {len(file.figures)}")

    async def comparators(self, tenant, year, measures):  # pragma: no cover - not used here
        return Comparators()

    async def set_live_comparison(self, tenant, opted_in, actor):  # pragma: no cover
        pass

    async def live_peers(self, tenant):  # pragma: no cover
        return False, []


async def test_a_file_with_one_bad_row_imports_nothing():
    store = FakeStore()
    good = (SAMPLE / "figures.csv").read_text()
    with pytest.raises(Invalid) as caught:
        await handlers.import_comparator_file(
            store, "E10000034", (good + "E10000034,D,sw_average_caseload,2030-31,x y\n").encode()
        )
    assert store.calls == []
    assert caught.value.problems[0].field[1] == "value"


async def test_imports_replace_for_the_tenant():
    store = FakeStore()
    n = await handlers.import_comparator_file(store, "E10000034", (SAMPLE / "neighbours.csv").read_bytes())
    f = await handlers.import_comparator_file(store, "E10000034", (SAMPLE / "figures.csv").read_bytes())
    assert (n.kind, n.rows) == ("neighbours", 24)
    assert f.kind == "figures" and f.ignored == {"children_looked_after_rate_per_10000": 2}
    assert store.calls == ["neighbours E10000034 24", f"figures E10000034 {f.rows}"]
