"""The report's figures: every number it prints, already formatted for publication.

The report is a published output, so **small-number suppression is always applied**: KPI
values are published ones (`kpis.apply_publication_rules(..., detail=False)`, read by
`kpi_figure`), and every other count shown follows the same rule (`count_figure`,
`rate_figure`): a count from 1 to the threshold reads "1\u20135" (1-5), a rate over 1 to the
threshold cases reads "suppressed"; 0 and "no data" are shown as they are.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.reporting import kpis

from .charts import Bar

__all__ = [
    "AVERAGE_CASELOAD",
    "AVERAGE_DAYS",
    "EN_DASH",
    "MINUS",
    "NO_DATA",
    "SUPPRESSED_RATE",
    "Figure",
    "change_figure",
    "count_figure",
    "kpi_figure",
    "rag_figure",
    "rate_figure",
    "suppressed_count_text",
    "text",
    "unit_of",
]


@dataclass(frozen=True)
class Figure:
    """One cell of the report: its printed text and, where it may be shown, its value.

    ``value`` is None when the figure is suppressed or there is no data, so nothing that
    reads it (a chart, a change column) can show more than the text does.
    """

    text: str
    value: float | None = None
    suppressed: bool = False
    rag: str | None = None
    numeric: bool = True

    @property
    def bar(self) -> Bar:
        return Bar(self.value, self.text)


def text(value: str) -> Figure:
    """A cell of words, not a figure."""
    return Figure(value, numeric=False)


EN_DASH = "\u2013"  # between a range's ends, and alone for "not applicable"
MINUS = "\u2212"
NO_DATA = "no data"
SUPPRESSED_RATE = "suppressed"
AVERAGE_DAYS = "complaints.average_response_working_days"
AVERAGE_CASELOAD = "workforce.average_caseload"  # cases per FTE, not a fraction


def suppressed_count_text(threshold: int) -> str:
    return f"1{EN_DASH}{threshold}"


def _percent(value: float) -> str:
    return f"{value:.0%}"


def count_figure(n: int, threshold: int) -> Figure:
    """A count under the publication rule: 1..threshold is suppressed."""
    if 1 <= n <= threshold:
        return Figure(suppressed_count_text(threshold), None, suppressed=True)
    return Figure(f"{n:,}", float(n))


def rate_figure(numerator: int, denominator: int, threshold: int) -> Figure:
    """A rate under the publication rule: a denominator of 1..threshold is suppressed;
    0 is "no data"."""
    if denominator == 0:
        return Figure(NO_DATA)
    if denominator <= threshold:
        return Figure(SUPPRESSED_RATE, None, suppressed=True)
    value = numerator / denominator
    return Figure(_percent(value), value)


def kpi_figure(v: kpis.KpiValue | None, threshold: int) -> Figure:
    """A published KPI value (already through `apply_publication_rules(detail=False)`)."""
    if v is None:
        return Figure(NO_DATA)
    unit = kpis.definition_of(v.kpi).unit
    if v.suppressed:
        # a figure hidden beside a small one (secondary suppression) may not be small itself
        label = suppressed_count_text(threshold) if unit == kpis.COUNT and not v.hidden else SUPPRESSED_RATE
        return Figure(label, None, suppressed=True)
    if v.value is None:
        return Figure(NO_DATA)
    value = float(v.value)
    if v.kpi == AVERAGE_DAYS:
        return Figure(f"{value:.1f} days", value, rag=v.rag)
    if v.kpi == AVERAGE_CASELOAD:
        return Figure(f"{value:.1f} cases", value, rag=v.rag)
    if unit == kpis.RATE:
        return Figure(_percent(value), value, rag=v.rag)
    return Figure(f"{int(value):,}", value, rag=v.rag)


def unit_of(kpi_id: str) -> str:
    """The unit a KPI's change is shown in: "days" for the average response time, else the
    KPI's own unit."""
    if kpi_id == AVERAGE_DAYS:
        return "days"
    if kpi_id == AVERAGE_CASELOAD:
        return "cases"
    return kpis.definition_of(kpi_id).unit


def change_figure(current: Figure, previous: Figure, unit: str) -> Figure:
    """The change from the previous period; only between two figures that are both shown."""
    if current.value is None or previous.value is None:
        return Figure(EN_DASH)
    delta = current.value - previous.value
    if unit in ("days", "cases"):
        shown = f"{delta:+.1f} {unit}"
    elif unit == kpis.RATE:
        shown = f"{delta * 100:+.0f} pts"
    else:
        shown = f"{int(delta):+,}"
    if shown.lstrip("+-").split(" ")[0] in ("0", "0.0"):
        return Figure("no change", 0.0)
    return Figure(shown.replace("-", MINUS), delta)


def rag_figure(rag: str | None) -> Figure:
    if rag is None:
        return text(EN_DASH)
    return Figure(rag.capitalize(), rag=rag, numeric=False)
