"""The quarterly report's benchmarking page (report/sections/benchmarking.py) on plain
inputs: each KPI with comparators beside its neighbours, region and England, with ranks;
and a plain sentence when nothing has been imported."""

from __future__ import annotations

from dataclasses import replace

from services.reporting import kpis
from services.reporting.benchmarks import domain
from services.reporting.benchmarks.domain import ENGLAND, Authority, BenchmarkTable, Comparators
from services.reporting.benchmarks.measures import measure_of
from services.reporting.facts import Facts
from services.reporting.report.content import build_report
from services.reporting.report.figures import EN_DASH
from services.reporting.report.model import Paragraph, Table
from shared.calendar import parse_period

from .test_report_sections import Q2, inputs_of, loaded

ME = "E10000034"
WM = "E12000005"
YEAR = parse_period("2021-22")


def _table() -> BenchmarkTable:
    me = Authority(ME, "Demo", WM, "West Midlands")
    others = {f"E1090000{i}": Authority(f"E1090000{i}", f"LA {i}", WM, "West Midlands") for i in range(1, 4)}
    assess, reref = measure_of("assessments_within_45_days_pct"), measure_of("re_referrals_within_12_months_pct")
    assert assess and reref
    c = Comparators(
        {ME: me, **others},
        {ME: tuple(others)},
        {
            assess.measure: {"E10900001": 90.0, "E10900002": 80.0, "E10900003": 70.0, WM: 81.0, ENGLAND: 82.5},
            reref.measure: {ME: 12.0, "E10900001": 20.0, ENGLAND: 21.0},
        },
    )
    live = {assess.kpi: kpis.rate_value(assess.kpi, 85, 100)}
    rows = domain.benchmarks(c, ME, live=live, targets={})
    return BenchmarkTable(ME, YEAR, me, list(others.values()), False, [], rows)


def _section(report):
    (section,) = [s for s in report.sections if s.id == "benchmarking"]
    return section


def test_the_benchmarking_page_shows_each_kpi_beside_its_comparators_with_ranks():
    inputs = replace(loaded(inputs_of(Facts())), benchmarks=_table())
    section = _section(build_report(inputs))
    assert section.heading == "Benchmarking across authorities"
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    cells = {r.header: [c.text for c in r.cells] for r in table.rows}
    assert cells["Assessments completed within 45 working days (%) (higher is better)"] == [
        "85.0% (qaloop)",
        "80.0%",
        "2nd of 4",
        "81.0%",
        "2nd of 4",
        "82.5%",
        "2nd of 4",
    ]
    assert cells["Referrals that were re-referrals within 12 months (%) (lower is better)"] == [
        "12.0% (published)",
        "20.0%",
        "1st of 2",
        EN_DASH,
        "1st of 2",
        "21.0%",
        "1st of 2",
    ]
    words = " ".join(b.text for b in section.blocks if isinstance(b, Paragraph))
    assert "Financial year 2021-22" in words
    assert "2nd of 4 among its neighbours, 2nd of 4 in the region, 2nd of 4 nationally" in words


def test_without_comparators_the_page_says_how_to_import_them():
    section = _section(build_report(loaded(inputs_of(Facts()))))
    assert "qaloop benchmarks import" in section.blocks[0].text
    assert Q2.label  # the report is for a quarter; the page names the year it shows when it has one
