"""Benchmarking use cases (services/reporting/benchmarks/handlers.py) on an in-memory store
and fixed live KPI values: peers only when opted in, seen suppressed whatever the reader's
role; the report's year is the latest with figures up to the quarter's; quarters refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from services.reporting import kpis
from services.reporting.benchmarks import handlers
from services.reporting.benchmarks.domain import Authority, Comparators
from services.reporting.benchmarks.lait import FigureFile, NeighbourFile
from shared.calendar import Period, parse_period

ME, PEER = "E10000034", "E10000035"
ASSESS = "casework.assessment_within_45_days_rate"
MEASURE = "assessments_within_45_days_pct"


@dataclass
class MemoryStore:
    figures: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # year -> measure -> area
    opted_in: set[str] = field(default_factory=set)

    async def replace_neighbours(self, tenant: str, file: NeighbourFile) -> None:
        raise AssertionError("not used")

    async def replace_figures(self, tenant: str, file: FigureFile) -> None:
        raise AssertionError("not used")

    async def comparators(self, tenant: str, year: str, measures: Sequence[str]) -> Comparators:
        me = Authority(ME, "Me", "E12000005", "West Midlands")
        return Comparators({ME: me}, {ME: ()}, self.figures.get(year, {}))

    async def set_live_comparison(self, tenant: str, opted_in: bool, actor: str) -> None:
        (self.opted_in.add if opted_in else self.opted_in.discard)(tenant)

    async def live_peers(self, tenant: str) -> tuple[bool, list[str]]:
        if tenant not in self.opted_in:
            return False, []
        return True, sorted(self.opted_in - {tenant})

    async def latest_year(self, tenant: str, up_to: str) -> str | None:
        return max((y for y in self.figures if y <= up_to), default=None)


@dataclass
class FixedKpis:
    """ME: 40 of 50 within 45 days; PEER: 4 of 4 (a small number)."""

    asked: list[tuple[str, bool]] = field(default_factory=list)

    async def values(
        self, tenant: str, period: Period, kpi_ids: Sequence[str], *, detail: bool
    ) -> dict[str, kpis.KpiValue]:
        self.asked.append((tenant, detail))
        value = kpis.rate_value(ASSESS, 40, 50) if tenant == ME else kpis.rate_value(ASSESS, 4, 4)
        return {ASSESS: value} if ASSESS in kpi_ids else {}


YEAR = parse_period("2022-23")


async def _table(store: MemoryStore, live: FixedKpis, period: Period = YEAR):
    return await handlers.benchmark_table(store, live, ME, period, detail=True, targets={}, threshold=5)


async def test_peers_appear_only_when_both_have_opted_in_and_are_suppressed_for_a_detail_reader():
    store, live = MemoryStore({"2022-23": {MEASURE: {ME: 70.0}}}), FixedKpis()
    await handlers.set_live_comparison(store, PEER, True, "admin")
    (row,) = (await _table(store, live)).benchmarks
    assert row.live == () and (row.value, row.source) == (0.8, "qaloop")
    await handlers.set_live_comparison(store, ME, True, "admin")
    table = await _table(store, live)
    (row,) = table.benchmarks
    assert table.live_peers == [PEER]
    assert [(p.authority, p.value, p.suppressed) for p in row.live] == [(PEER, None, True)]
    assert (PEER, True) in live.asked  # read raw, suppressed by the domain rule


async def test_no_figures_for_the_year_lists_nothing_and_asks_no_kpis():
    live = FixedKpis()
    table = await _table(MemoryStore({"2021-22": {MEASURE: {ME: 70.0}}}), live)
    assert table.benchmarks == [] and live.asked == []


async def test_benchmarks_are_by_financial_year():
    with pytest.raises(ValueError, match="financial year"):
        await _table(MemoryStore(), FixedKpis(), parse_period("2022-23-Q2"))


@pytest.mark.parametrize(
    ("quarter", "year"),
    [("2023-24-Q1", "2022-23"), ("2022-23-Q4", "2022-23"), ("2021-22-Q1", "2021-22"), ("2020-21-Q4", None)],
)
async def test_the_report_shows_the_latest_year_with_figures_up_to_the_quarters(quarter, year):
    store = MemoryStore({"2021-22": {MEASURE: {ME: 60.0}}, "2022-23": {MEASURE: {ME: 70.0}}})
    await handlers.set_live_comparison(store, ME, True, "a")
    await handlers.set_live_comparison(store, PEER, True, "a")
    live = FixedKpis()
    table = await handlers.report_benchmarks(store, live, ME, parse_period(quarter), targets={}, threshold=5)
    if year is None:
        assert table is None
        return
    assert table is not None and table.period.label == year
    assert table.live_peers == [] and table.benchmarks[0].live == ()  # published report: no live peers
    assert live.asked == [(ME, False)]  # its own figures, published
