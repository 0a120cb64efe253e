"""Benchmarking: the authority beside its statistical neighbours, its region and England on
each KPI with a published comparator, with its rank in each ("1st in the region, 12th
nationally"). The year is the latest up to the quarter's with comparator figures; the
authority's figure is its own published KPI value for that year (small numbers suppressed)
or, where qaloop has none, its published figure. Other authorities' live figures are not
shown here: a published report compares with published figures only."""

from __future__ import annotations

from services.reporting.benchmarks.domain import Benchmark, BenchmarkTable, Standing, ordinal
from services.reporting.benchmarks.measures import PERCENT

from ..figures import EN_DASH, Figure
from ..model import Block, Paragraph, Row, Section, Table
from .quarter import ReportQuarter

__all__ = ["benchmarking_section"]

_SOURCE = {"qaloop": "qaloop", "published": "published"}


def _figure(b: Benchmark, value: float | None) -> Figure:
    if value is None:
        return Figure(EN_DASH)
    return Figure(f"{value:.1%}" if b.measure.scale == PERCENT else f"{value:.1f}", value)


def _rank(s: Standing) -> Figure:
    if s.rank is None:
        return Figure(EN_DASH)
    return Figure(f"{ordinal(s.rank)} of {s.of}", float(s.rank))


def _ours(b: Benchmark) -> Figure:
    shown = _figure(b, b.value)
    if b.source is None:
        return shown
    return Figure(f"{shown.text} ({_SOURCE[b.source]})", shown.value)


def _row(b: Benchmark) -> Row:
    better = "higher is better" if b.higher_is_better else "lower is better"
    return Row(
        f"{b.measure.title} ({better})",
        [
            _ours(b),
            _figure(b, b.neighbours_mean),
            _rank(b.neighbours),
            _figure(b, b.region_value),
            _rank(b.in_region),
            _figure(b, b.england_value),
            _rank(b.nationally),
        ],
    )


def _blocks(table: BenchmarkTable) -> list[Block]:
    who = table.authority
    region = f" in the {who.region_name} region" if who is not None else ""
    listed = len(table.neighbours)
    blocks: list[Block] = [
        Paragraph(
            f"Financial year {table.period.label}: authority {table.tenant}{region} beside its {listed} statistical "
            "neighbours (DfE's list), its region and England. Rank 1 is best, whichever way is better for the "
            "measure; authorities with the same figure share a rank. “(qaloop)” marks our own figure from qaloop, "
            "“(published)” our published figure where qaloop has none. Comparator figures are the published ones."
        ),
        Table(
            "benchmarks",
            f"How we compare, {table.period.label}",
            [
                "Measure",
                "Our figure",
                "Neighbours' mean",
                "Rank: neighbours",
                "Region",
                "Rank: region",
                "England",
                "Rank: England",
            ],
            [_row(b) for b in table.benchmarks],
            note="Neighbours' mean: the mean of the neighbours with a published figure.",
        ),
    ]
    blocks.extend(Paragraph(f"{b.measure.title}: {b.summary()}.") for b in table.benchmarks)
    return blocks


def benchmarking_section(q: ReportQuarter) -> Section:
    table = q.inputs.benchmarks
    if table is None or not table.benchmarks:
        blocks: list[Block] = [
            Paragraph(
                "No comparator figures have been imported for this year or an earlier one "
                "(`qaloop benchmarks import FILE`: DfE's statistical neighbours and published figures)."
            )
        ]
    else:
        blocks = _blocks(table)
    return Section("benchmarking", "Benchmarking across authorities", blocks)
