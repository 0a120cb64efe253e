"""Benchmarking rules (DOMAIN.md "Benchmarking across authorities"): an authority's value for
a KPI beside its statistical neighbours' mean, its region's and England's published figures,
with its rank in each (1 = best, honouring the KPI's direction), and what it sees of the
authorities served by the same deployment that have opted in to live comparison.

Pure: no I/O. The readings where DOMAIN.md is silent (README "Readings of DOMAIN.md"):

* **Ranks** are competition ranks ("1224"): 1 + the number of comparators strictly better,
  so tied authorities share the better rank. A group is ranked over the values it has: the
  authority's own and the published figures of the group's other authorities that have one
  (``of`` says how many); an authority without a figure for the measure (suppressed or
  never published) is left out, not counted as worst. No rank when the authority has no value.
* **The authority's value** is its live qaloop KPI for the period where qaloop has one it
  may show (not null, not suppressed), else its own published figure; the response says
  which (``source``). A suppressed live value is never ranked (a rank would reveal it).
* **Neighbours' mean**: the plain mean of the published figures of the authority's
  statistical neighbours that have one (``counted`` of ``listed``); null when none has.
* **Region and England figures** are the published ones (the file's region and England
  rows), never recomputed here; the ranks in the region and nationally are among the
  authorities of the file (with the region the neighbour list gives each one).
* **Direction**: the deployment's target for the KPI (`kpis.Target.higher_is_better`) where
  one is configured, else the measure's polarity in the mapping table (`measures.py`).
* **Live comparison**: only between tenants that have both opted in; another tenant's live
  values are always published ones (`kpis.apply_publication_rules(detail=False)`): small
  numbers suppressed, whatever the reader's role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.reporting import kpis
from shared.calendar import Period

from .measures import MEASURES, Measure

__all__ = [
    "ENGLAND",
    "Authority",
    "Benchmark",
    "BenchmarkTable",
    "Comparators",
    "LivePeer",
    "Standing",
    "benchmark",
    "benchmarks",
    "direction",
    "is_authority",
    "is_region",
    "mean",
    "ordinal",
    "peers_seen",
    "rank_among",
]

ENGLAND = "E92000001"  # ONS code of England: the national figure's row
REGION_PREFIX = "E12"  # ONS codes of the nine English regions
Source = Literal["qaloop", "published"]


def is_region(code: str) -> bool:
    return code.startswith(REGION_PREFIX)


def is_authority(code: str) -> bool:
    """A local authority's code (not England's, not a region's)."""
    return code != ENGLAND and not is_region(code)


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    region_code: str
    region_name: str


@dataclass(frozen=True)
class Comparators:
    """One tenant's imported comparator data for one year: the authorities of its neighbour
    list (each with its region), each authority's statistical neighbours in DfE's order, and
    the published figures by measure code and area code (authorities, regions and England),
    as published (a percentage as 0-100)."""

    authorities: Mapping[str, Authority] = field(default_factory=dict)
    neighbours: Mapping[str, Sequence[str]] = field(default_factory=dict)
    figures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def figure(self, measure: Measure, code: str) -> float | None:
        """The published figure of an area, on the KPI's scale (a fraction for a rate)."""
        value = self.figures.get(measure.measure, {}).get(code)
        return None if value is None else measure.from_published(value)

    def figures_of(self, measure: Measure, codes: Iterable[str]) -> list[float]:
        out = []
        for code in codes:
            value = self.figure(measure, code)
            if value is not None:
                out.append(value)
        return out


@dataclass(frozen=True)
class Standing:
    """A rank (1 = best; None when the authority has no value) among ``of`` values ranked."""

    rank: int | None
    of: int

    def describe(self, where: str) -> str:
        """ "1st of 11 among its neighbours", or "not ranked in the region"."""
        return f"{ordinal(self.rank)} of {self.of} {where}" if self.rank is not None else f"not ranked {where}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_among(value: float | None, others: Sequence[float], higher_is_better: bool) -> Standing:
    """The rank of ``value`` among itself and ``others`` (competition ranking: ties share the
    better rank). Without a value: no rank, ``of`` counting the others only."""
    if value is None:
        return Standing(None, len(others))
    better = sum(1 for other in others if (other > value if higher_is_better else other < value))
    return Standing(1 + better, 1 + len(others))


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def direction(measure: Measure, targets: Mapping[str, kpis.Target]) -> bool:
    """True when a higher value is better: the KPI's configured target, else the measure's polarity."""
    target = targets.get(measure.kpi)
    return target.higher_is_better if target is not None else measure.higher_is_better


@dataclass(frozen=True)
class LivePeer:
    """What one tenant sees of another that has opted in: its published live value."""

    authority: str
    value: float | None
    suppressed: bool


def peers_seen(peers: Mapping[str, kpis.KpiValue], threshold: int) -> list[LivePeer]:
    """Other tenants' live values of one KPI (by tenant) as a published table shows them: small numbers
    suppressed (`kpis.apply_publication_rules`, never with detail), whatever the reader's role."""
    out = []
    for authority in sorted(peers):
        (seen,) = kpis.apply_publication_rules([peers[authority]], detail=False, threshold=threshold)
        value = None if seen.value is None else float(seen.value)
        out.append(LivePeer(authority, value, seen.suppressed))
    return out


@dataclass(frozen=True)
class Benchmark:
    """One KPI of one authority beside its comparators."""

    measure: Measure
    higher_is_better: bool
    value: float | None
    source: Source | None
    published_value: float | None
    neighbours_mean: float | None
    neighbours_counted: int
    neighbours_listed: int
    neighbours: Standing
    region: Authority | None  # the authority's own row (its region's code and name)
    region_value: float | None
    in_region: Standing
    england_value: float | None
    nationally: Standing
    live: tuple[LivePeer, ...] = ()
    live_standing: Standing | None = None

    def summary(self) -> str:
        """ "1st of 11 among its neighbours, 1st of 14 in the region, 12th of 150 nationally"."""
        parts = [self.neighbours.describe("among its neighbours")]
        if self.region is not None:
            parts.append(self.in_region.describe("in the region"))
        parts.append(self.nationally.describe("nationally"))
        return ", ".join(parts)


def _own_value(live: kpis.KpiValue | None, published: float | None) -> tuple[float | None, Source | None]:
    if live is not None and live.value is not None and not live.suppressed:
        return float(live.value), "qaloop"
    if published is not None:
        return published, "published"
    return None, None


def benchmark(
    measure: Measure,
    comparators: Comparators,
    tenant: str,
    *,
    live: kpis.KpiValue | None = None,
    higher_is_better: bool | None = None,
    peers: Sequence[LivePeer] = (),
) -> Benchmark:
    """The authority ``tenant`` on ``measure``: its value (``live``: its KPI value as its
    reader may see it), its neighbours', region's and England's figures, and its ranks."""
    better = measure.higher_is_better if higher_is_better is None else higher_is_better
    published = comparators.figure(measure, tenant)
    value, source = _own_value(live, published)
    listed = [n for n in comparators.neighbours.get(tenant, ()) if n != tenant]
    around = comparators.figures_of(measure, listed)
    own = comparators.authorities.get(tenant)
    region_members = (
        [a.code for a in comparators.authorities.values() if a.region_code == own.region_code and a.code != tenant]
        if own is not None
        else []
    )
    national = [c for c in comparators.figures.get(measure.measure, {}) if is_authority(c) and c != tenant]
    shown_peers = [p.value for p in peers if p.value is not None]
    return Benchmark(
        measure=measure,
        higher_is_better=better,
        value=value,
        source=source,
        published_value=published,
        neighbours_mean=mean(around),
        neighbours_counted=len(around),
        neighbours_listed=len(listed),
        neighbours=rank_among(value, around, better),
        region=own,
        region_value=comparators.figure(measure, own.region_code) if own is not None else None,
        in_region=rank_among(value, comparators.figures_of(measure, region_members), better),
        england_value=comparators.figure(measure, ENGLAND),
        nationally=rank_among(value, comparators.figures_of(measure, national), better),
        live=tuple(peers),
        live_standing=rank_among(value, shown_peers, better) if peers and source == "qaloop" else None,
    )


def benchmarks(
    comparators: Comparators,
    tenant: str,
    *,
    live: Mapping[str, kpis.KpiValue],
    targets: Mapping[str, kpis.Target],
    peers: Mapping[str, Sequence[LivePeer]] | None = None,
) -> list[Benchmark]:
    """Every mapped KPI with a published figure for the year (any area), in the mapping
    table's order. ``live``: the tenant's own KPI values by id; ``peers``: by KPI id, what it
    sees of the opted-in tenants."""
    return [
        benchmark(
            m,
            comparators,
            tenant,
            live=live.get(m.kpi),
            higher_is_better=direction(m, targets),
            peers=(peers or {}).get(m.kpi, ()),
        )
        for m in MEASURES
        if comparators.figures.get(m.measure)
    ]


@dataclass(frozen=True)
class BenchmarkTable:
    """One authority beside its comparators for a financial year: the table
    `GET /v1/benchmarks`, the benchmarking view and the quarterly report show."""

    tenant: str
    period: Period
    authority: Authority | None  # its row of the neighbour file (None: not in it)
    neighbours: Sequence[Authority | str]  # an authority of the file, or a code it lacks
    live_opted_in: bool
    live_peers: Sequence[str]
    benchmarks: Sequence[Benchmark]
