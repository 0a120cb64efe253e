"""What the quarterly QA report says: the panel's appendices, built from what `inputs.py`
reads for the quarter and the previous one.

Pure: no I/O. `build_report` takes everything it needs in `ReportInputs` — the rows of the
two quarters that its sections list (and of the aggregates those rows belong to), the
follow-ups that matter to the quarter, and the published KPI values of every period and
slice it shows (`kpi_requests` says which: the loader asks reporting's KPI queries for
exactly those) — and returns a `QuarterlyReport`: sections made of tables, charts and
paragraphs, every figure already formatted for publication. `render.py` turns it into HTML
or PDF.

The report is a published output, so **small-number suppression is always applied**: KPI
values are published ones (`kpis.apply_publication_rules(..., detail=False)`), and every
other count shown here follows the same rule (`count_figure`, `rate_figure`): a count from 1
to the threshold reads "1\u20135" (1-5), a rate over 1 to the threshold cases reads
"suppressed"; 0 and "no data" are shown as they are. Only external compliments are in the
figures; internal ones are stated apart, as a count marked "not in statistics".

`inputs.py` reads everything of one report in one read-only snapshot, so its tables always
agree with each other even while new events arrive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from services.reporting import kpis
from services.reporting.facts import ConcernRaisedFact, Facts
from services.reporting.followups import GradedAudit, first_received, unique
from shared.calendar import Period
from shared.events import Grade, Outcome

from .charts import Bar, Series, bar_chart

__all__ = [
    "Chart",
    "Figure",
    "KpiRequest",
    "Paragraph",
    "QuarterlyReport",
    "ReportInputs",
    "Section",
    "Subheading",
    "Table",
    "build_report",
    "count_figure",
    "kpi_requests",
    "rate_figure",
]


# --------------------------------------------------------------------------- figures


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


AVERAGE_DAYS = "complaints.average_response_working_days"


def kpi_figure(v: kpis.KpiValue | None, threshold: int) -> Figure:
    """A published KPI value (already through `apply_publication_rules(detail=False)`)."""
    if v is None:
        return Figure(NO_DATA)
    unit = kpis.definition_of(v.kpi).unit
    if v.suppressed:
        label = suppressed_count_text(threshold) if unit == kpis.COUNT else SUPPRESSED_RATE
        return Figure(label, None, suppressed=True)
    if v.value is None:
        return Figure(NO_DATA)
    value = float(v.value)
    if v.kpi == AVERAGE_DAYS:
        return Figure(f"{value:.1f} days", value, rag=v.rag)
    if unit == kpis.RATE:
        return Figure(_percent(value), value, rag=v.rag)
    return Figure(f"{int(value):,}", value, rag=v.rag)


def change_figure(current: Figure, previous: Figure, unit: str) -> Figure:
    """The change from the previous period; only between two figures that are both shown."""
    if current.value is None or previous.value is None:
        return Figure(EN_DASH)
    delta = current.value - previous.value
    if unit == "days":
        shown = f"{delta:+.1f} days"
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


# --------------------------------------------------------------------------- report model


@dataclass(frozen=True)
class Row:
    header: str
    cells: Sequence[Figure]


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: Sequence[str]  # the first names the row headers
    rows: Sequence[Row]
    note: str | None = None
    kind: str = "table"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: str
    kind: str = "chart"


def chart(*, chart_id: str, title: str, **options: Any) -> Chart:
    """A bar chart block (see `charts.bar_chart` for the options)."""
    return Chart(chart_id, title, bar_chart(chart_id=chart_id, title=title, **options))


@dataclass(frozen=True)
class Paragraph:
    text: str
    css_class: str = ""
    kind: str = "paragraph"


@dataclass(frozen=True)
class Subheading:
    text: str
    id: str
    kind: str = "subheading"


Block = Table | Chart | Paragraph | Subheading


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    blocks: Sequence[Block]


@dataclass(frozen=True)
class QuarterlyReport:
    tenant: str
    period: Period
    previous: Period
    title: str
    period_text: str
    as_at: date
    generated_on: date
    threshold: int
    sections: Sequence[Section]


@dataclass(frozen=True)
class KpiRequest:
    """One set of published KPI values the report shows: a period, a slice, and the KPI
    ids asked for by name (None: every KPI, as `GET /v1/kpis/values` lists them)."""

    period: Period
    filters: kpis.Filters = kpis.NO_FILTERS
    kpi_ids: tuple[str, ...] | None = None


class RuleTally(NamedTuple):
    """One rule's follow-ups in a quarter: opened and closed (on time) in it, open and overdue
    at its end, and (re-audit) closed in it with the grade improved."""

    opened: int = 0
    closed: int = 0
    on_time: int = 0
    open: int = 0
    overdue: int = 0
    improved: int = 0


@dataclass(frozen=True)
class ReportInputs:
    """One consistent snapshot of what the report is made from (see `inputs.py`).

    ``facts`` holds only what the sections list: survey responses of the quarter and the
    previous one; the quarter's compliments, "you said, we did" items, moderations, complaint
    receipts, closings and escalations; every ComplaintReceived of a complaint closed in the
    quarter; and every ConcernRaised, ConcernResolved and targeted audit of the concerns
    raised, resolved or open in the quarter. ``audits`` are the audits counted (latest
    grading, moderated grade) in the quarter or the previous one; ``closing_clocks`` the
    effective due date and working days of each of the quarter's closings (by fact key);
    ``followups`` the follow-ups' tally per rule (`RuleTally`), and ``followup_rules`` every
    rule the tenant has follow-ups of. ``kpi_values`` holds the published values of each
    `KpiRequest` that `kpi_requests` names.
    """

    tenant: str
    period: Period
    today: date
    facts: Facts
    followups: Mapping[str, RuleTally]
    audits: Mapping[str, GradedAudit] = field(default_factory=dict)
    closing_clocks: Mapping[str, tuple[date, int]] = field(default_factory=dict)  # key -> (due date, working days)
    followup_rules: Sequence[str] = ()
    kpi_values: Mapping[KpiRequest, Mapping[str, kpis.KpiValue]] = field(default_factory=dict)
    threshold: int = 5
    targets: Mapping[str, kpis.Target] = field(default_factory=dict)
    commentary: Mapping[str, str] = field(default_factory=dict)  # kpi id -> text, this period, whole authority
    commentary_on_slices: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (kpi, filters) -> text
    you_said_we_did: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # fact key -> (said, did)


# --------------------------------------------------------------------------- labels

_AREA_LABELS = {
    "childrens_social_care": "Children's social care",
    "send": "SEND",
    "fostering": "Fostering",
    "early_help": "Early help",
    "youth_justice": "Youth justice",
}
_AREA_ORDER = tuple(_AREA_LABELS)
_RESPONDENTS = {
    "child": "Children",
    "young_person": "Young people",
    "parent_carer": "Parents and carers",
    "professional": "Professionals",
    "other": "Others",
}
_GRADES = (Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE)
_AUDIT_TYPES = ("routine", "themed", "targeted", "ehcp", "dip_sample")
_AUDIT_TYPE_LABELS = {"ehcp": "EHCP", "dip_sample": "Dip sample"}
_OUTCOMES = (Outcome.UPHELD, Outcome.PARTIALLY_UPHELD, Outcome.NOT_UPHELD, Outcome.WITHDRAWN)
_RULES = {
    "complaint-learning": "Learning from upheld complaints",
    "re-audit": "Re-audit after a weak grade",
    "concern-targeted-audit": "Targeted audit of a concern",
    "feedback-response": "Response to poor feedback",
    "action": "Actions",
    "safeguarding-alert": "Safeguarding alerts from feedback",
}
_KPI_GROUPS = (
    ("audit", "Audit", ("audit.",)),
    ("feedback", "Feedback and compliments", ("feedback.", "compliments.")),
    ("complaints", "Complaints", ("complaints.",)),
    ("casework", "Casework", ("casework.", "send.")),
    ("learning", "Learning loop", ("learning.",)),
)
# Internal compliments are kept but not in the statistics: never in a KPI table.
_NOT_IN_STATISTICS = frozenset({"compliments.internal"})
_AUDIT_AREA_KPIS = ("audit.completed", "audit.good_or_better_rate")
_TEAM_KPIS = (
    "complaints.received",
    "complaints.closed",
    "complaints.upheld_rate",
    "complaints.partially_upheld_rate",
    "complaints.within_timescale_rate",
)
_STAGE_KPIS = ("complaints.closed", "complaints.within_timescale_rate", "complaints.average_response_working_days")
_COMPLIMENTS = ("compliments.external",)


def _words(identifier: str) -> str:
    spaced = identifier.replace("_", " ").replace("-", " ").strip()
    return spaced[:1].upper() + spaced[1:]


def area_label(area: str | None) -> str:
    if area is None:
        return "All service areas"
    return _AREA_LABELS.get(area, _words(area))


def commentary_filters(service_area: str | None, team: str | None) -> str:
    """The `filters` key of a commentary row (reporting.kpi_commentary): '' for the whole
    authority, else 'service_area=…' and/or 'team=…' joined by '&', in that order."""
    parts = [f"service_area={service_area}" if service_area else "", f"team={team}" if team else ""]
    return "&".join(part for part in parts if part)


def filters_of(key: str) -> kpis.Filters:
    """The slice a commentary `filters` key names (the inverse of `commentary_filters`)."""
    pairs = dict(part.partition("=")[::2] for part in key.split("&") if part)
    return kpis.Filters(service_area=pairs.get("service_area") or None, team=pairs.get("team") or None)


def slice_label(filters: kpis.Filters) -> str:
    parts = [area_label(filters.service_area)] if filters.service_area else []
    if filters.team:
        parts.append(f"team {filters.team}")
    return ", ".join(parts) or "All service areas"


def _long_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _short_date(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _unit_of(kpi_id: str) -> str:
    if kpi_id == AVERAGE_DAYS:
        return "days"
    return kpis.definition_of(kpi_id).unit


def _sorted_areas(areas: Iterable[str]) -> list[str]:
    order = {a: i for i, a in enumerate(_AREA_ORDER)}
    return sorted(set(areas), key=lambda a: (order.get(a, len(order)), a))


# --------------------------------------------------------------------------- the builder


class _Builder:
    def __init__(self, inputs: ReportInputs) -> None:
        self.inputs = inputs
        self.t = inputs.threshold
        self.period = inputs.period
        self.previous = inputs.period.previous()
        self.end = inputs.today if inputs.period.contains(inputs.today) else inputs.period.end
        self.current = self.values(self.period)
        self.before = self.values(self.previous)
        facts = inputs.facts
        self.received = first_received(facts)
        self.received_now = [r for r in unique(facts.complaints_received) if self.period.contains(r.received_on)]
        self.closings = [c for c in unique(facts.complaints_closed) if self.period.contains(c.closed_on)]

    # ---- figures

    def values(
        self,
        period: Period,
        filters: kpis.Filters = kpis.NO_FILTERS,
        kpi_ids: Iterable[str] | None = None,
    ) -> dict[str, kpis.KpiValue]:
        """Published KPI values: exactly what `GET /v1/kpis/values` gives without the
        reporting:detail role, as the loader read them for this report (`kpi_requests`)."""
        request = KpiRequest(period, filters, None if kpi_ids is None else tuple(kpi_ids))
        published = self.inputs.kpi_values.get(request)
        if published is None:
            raise KeyError(f"the report's inputs hold no KPI values for {request} (see kpi_requests)")
        return dict(published)

    # ---- the slices shown, and the KPI values they need

    def other_commentary(self) -> list[tuple[str, str, str]]:
        """(kpi, filters, words): commentary on a KPI that is not in the KPI tables, or on
        one service area or team."""
        fixed = set(kpis.fixed_kpi_ids()) - _NOT_IN_STATISTICS
        return sorted(
            (kpi_id, filters, words)
            for (kpi_id, filters), words in self.inputs.commentary_on_slices.items()
            if kpis.is_known_kpi(kpi_id) and kpi_id not in _NOT_IN_STATISTICS
        ) + sorted(
            (kpi_id, "", words)
            for kpi_id, words in self.inputs.commentary.items()
            if kpi_id not in fixed and kpis.is_known_kpi(kpi_id) and kpi_id not in _NOT_IN_STATISTICS
        )

    def questions(self) -> list[str]:
        """Question ids with answers in the quarter or the previous one."""
        return sorted(
            {k[len(kpis.POSITIVE_RATE) :] for k in (*self.current, *self.before) if k.startswith(kpis.POSITIVE_RATE)}
        )

    def responses(self, period: Period) -> list[Any]:
        return [f for f in unique(self.inputs.facts.feedback) if period.contains(f.received_on)]

    def audits_in(self, period: Period) -> list[GradedAudit]:
        return [g for g in self.inputs.audits.values() if period.contains(g.fact.completed_on)]

    def complaint_categories(self) -> list[str]:
        """Categories received in either quarter, or of a complaint closed in this one."""
        return sorted(
            {k[len(kpis.BY_CATEGORY) :] for k in (*self.current, *self.before) if k.startswith(kpis.BY_CATEGORY)}
            | {self.received[c.complaint_id].category for c in self.closings if c.complaint_id in self.received}
        )

    def complaint_teams(self) -> list[str]:
        return sorted(
            {r.team for r in self.received_now}
            | {self.received[c.complaint_id].team for c in self.closings if c.complaint_id in self.received}
        )

    def compliment_areas(self) -> list[str]:
        now = unique(self.inputs.facts.compliments)
        return _sorted_areas(
            c.service_area for c in now if c.origin == "external" and self.period.contains(c.received_on)
        )

    def slice_requests(self) -> list[KpiRequest]:
        """The KPI values the sections read beyond the two quarters' own (`kpi_requests`)."""
        p, prev = self.period, self.previous
        out = [KpiRequest(p, filters_of(filters), (kpi_id,)) for kpi_id, filters, _ in self.other_commentary()]
        ids = tuple(kpis.POSITIVE_RATE + q for q in self.questions())
        if ids:
            out += [KpiRequest(p, kpis.NO_FILTERS, ids), KpiRequest(prev, kpis.NO_FILTERS, ids)]
            areas = _sorted_areas(f.service_area for f in self.responses(p))
            out += [KpiRequest(p, kpis.Filters(service_area=a), ids) for a in areas]
        areas = _sorted_areas(g.fact.service_area for g in self.audits_in(p))
        out += [KpiRequest(p, kpis.Filters(service_area=a), _AUDIT_AREA_KPIS) for a in areas]
        cat_ids = tuple(kpis.BY_CATEGORY + c for c in self.complaint_categories())
        if cat_ids:
            out += [KpiRequest(p, kpis.NO_FILTERS, cat_ids), KpiRequest(prev, kpis.NO_FILTERS, cat_ids)]
        out += [KpiRequest(p, kpis.Filters(team=team), _TEAM_KPIS) for team in self.complaint_teams()]
        for a in self.compliment_areas():
            out += [KpiRequest(period, kpis.Filters(service_area=a), _COMPLIMENTS) for period in (p, prev)]
        return out

    def kpi(self, values: Mapping[str, kpis.KpiValue], kpi_id: str) -> Figure:
        return kpi_figure(values.get(kpi_id), self.t)

    def count(self, n: int) -> Figure:
        return count_figure(n, self.t)

    def rate(self, numerator: int, denominator: int) -> Figure:
        return rate_figure(numerator, denominator, self.t)

    def trend_row(self, title: str, kpi_id: str) -> Row:
        current, previous = self.kpi(self.current, kpi_id), self.kpi(self.before, kpi_id)
        return Row(title, [current, previous, change_figure(current, previous, _unit_of(kpi_id))])

    def trend_table(self, table_id: str, caption: str, rows: Sequence[tuple[str, str]]) -> Table:
        return Table(
            table_id,
            caption,
            ["Measure", self.period_short, self.previous_short, "Change"],
            [self.trend_row(title, kpi_id) for title, kpi_id in rows],
        )

    @property
    def at(self) -> str:
        """When open and overdue follow-ups are counted: the quarter's end, or today."""
        return "the quarter's end" if self.end == self.period.end else "today"

    period_short = "This quarter"
    previous_short = "Previous quarter"

    # ---- sections

    def build(self) -> QuarterlyReport:
        p = self.period
        return QuarterlyReport(
            tenant=self.inputs.tenant,
            period=p,
            previous=self.previous,
            title=f"Quarterly quality assurance report, {p.label}",
            period_text=f"{_long_date(p.start)} to {_long_date(p.end)}",
            as_at=self.end,
            generated_on=self.inputs.today,
            threshold=self.t,
            sections=[
                self.about(),
                self.kpi_section(),
                self.feedback_section(),
                self.audit_section(),
                self.complaints_section(),
                self.learning_section(),
            ],
        )

    def about(self) -> Section:
        t = self.t
        as_at = f"Follow-ups open and overdue are counted as at {_long_date(self.end)}, " + (
            "today, as the quarter is still under way." if self.end != self.period.end else "the quarter's end."
        )
        return Section(
            "about",
            "About these figures",
            [
                Paragraph(
                    f"This report covers {_long_date(self.period.start)} to {_long_date(self.period.end)} "
                    f"(financial quarter {self.period.label}) for authority {self.inputs.tenant}, and compares it with "
                    f"the previous quarter, {self.previous.label}. {as_at}"
                ),
                Paragraph(
                    f"Small numbers are suppressed so that no child or family can be identified: a count from 1 "
                    f"to {t} is shown as “{suppressed_count_text(t)}”, and a rate or average over 1 to {t} cases "
                    f"is shown as “{SUPPRESSED_RATE}”. “{NO_DATA}” means there was nothing to count. Charts "
                    "draw no bar for a suppressed figure."
                ),
                Paragraph(
                    "Only external compliments (from children, families and others outside the service) are "
                    "counted in the statistics; internal compliments are shown apart."
                ),
            ],
        )

    def kpi_section(self) -> Section:
        blocks: list[Block] = [
            Paragraph(
                "Every key performance indicator for the quarter beside the previous quarter. RAG is against the "
                "authority's target where one is set; a manager's commentary is shown beside the figure."
            )
        ]
        fixed = [k for k in kpis.fixed_kpi_ids() if k not in _NOT_IN_STATISTICS]
        for group_id, group_title, prefixes in _KPI_GROUPS:
            ids = [k for k in fixed if k.startswith(prefixes)]
            rows = []
            for kpi_id in ids:
                current, previous = self.kpi(self.current, kpi_id), self.kpi(self.before, kpi_id)
                rows.append(
                    Row(
                        kpis.definition_of(kpi_id).title,
                        [
                            current,
                            previous,
                            change_figure(current, previous, _unit_of(kpi_id)),
                            rag_figure(current.rag),
                            text(self.inputs.commentary.get(kpi_id, "")),
                        ],
                    )
                )
            blocks.append(
                Table(
                    f"kpis-{group_id}",
                    f"{group_title} KPIs, {self.period.label} and the previous quarter ({self.previous.label})",
                    ["KPI", self.period_short, self.previous_short, "Change", "RAG", "Commentary"],
                    rows,
                )
            )
        rate_ids = [k for k in fixed if kpis.definition_of(k).unit == kpis.RATE and k != AVERAGE_DAYS]
        blocks.append(
            chart(
                chart_id="chart-kpi-rates",
                title=f"KPI rates, {self.period.label} and {self.previous.label}",
                description="Horizontal bars: each rate KPI as a percentage for this quarter and the "
                "previous one. The same figures are in the tables above.",
                categories=[kpis.definition_of(k).title for k in rate_ids],
                series=[
                    Series(self.period.label, [self.kpi(self.current, k).bar for k in rate_ids]),
                    Series(self.previous.label, [self.kpi(self.before, k).bar for k in rate_ids]),
                ],
                scale_max=1.0,
                percent=True,
            )
        )
        # Commentary on a KPI that is not in the tables above, or on one service area or team.
        other = self.other_commentary()
        if other:
            rows = []
            for kpi_id, filters, words in other:
                where = filters_of(filters)
                value = self.values(self.period, where, kpi_ids=[kpi_id])
                rows.append(Row(_kpi_title(kpi_id), [text(slice_label(where)), self.kpi(value, kpi_id), text(words)]))
            blocks.append(Subheading("Commentary on other KPIs and on service areas and teams", "kpis-other"))
            blocks.append(
                Table(
                    "kpis-other-commentary",
                    f"Managers' commentary on other KPIs and slices, {self.period.label}",
                    ["KPI", "Service area or team", self.period_short, "Commentary"],
                    rows,
                )
            )
        return Section("kpis", "Key performance indicators", blocks)

    def feedback_section(self) -> Section:
        p, prev = self.period, self.previous
        responses, before = self.responses(p), self.responses(prev)
        by_now, by_then = Counter(f.respondent for f in responses), Counter(f.respondent for f in before)
        respondents = [r for r in _RESPONDENTS if by_now[r] or by_then[r]]
        blocks: list[Block] = [
            self.trend_table(
                "feedback-summary",
                f"Survey responses, {p.label} and the previous quarter ({self.previous.label})",
                [("Survey responses received", "feedback.responses")],
            ),
            Table(
                "feedback-respondents",
                f"Survey responses by who answered, {p.label}",
                ["Respondent", self.period_short, self.previous_short],
                [Row(_RESPONDENTS[r], [self.count(by_now[r]), self.count(by_then[r])]) for r in respondents],
            ),
        ]

        questions = self.questions()
        ids = [kpis.POSITIVE_RATE + q for q in questions]
        now = self.values(p, kpi_ids=ids) if ids else {}
        then = self.values(prev, kpi_ids=ids) if ids else {}
        blocks.append(Subheading("What children and families said", "feedback-what-they-said"))
        rows = []
        for q, kpi_id in zip(questions, ids, strict=True):
            current, previous = self.kpi(now, kpi_id), self.kpi(then, kpi_id)
            rows.append(
                Row(
                    q,
                    [current, previous, change_figure(current, previous, kpis.RATE), rag_figure(current.rag)],
                )
            )
        blocks.append(
            Table(
                "feedback-questions",
                f"Positive answers by question (question id), {p.label}",
                ["Question id", self.period_short, self.previous_short, "Change", "RAG"],
                rows,
                note="Positive means yes, or 4 or 5 on a 1 to 5 scale, out of everyone who answered the question.",
            )
        )
        if ids:
            blocks.append(
                chart(
                    chart_id="chart-feedback-questions",
                    title=f"Positive answers by question, {p.label} and {prev.label}",
                    description="Horizontal bars: the share of positive answers to each survey question, "
                    "this quarter and the previous one.",
                    categories=questions,
                    series=[
                        Series(p.label, [self.kpi(now, k).bar for k in ids]),
                        Series(prev.label, [self.kpi(then, k).bar for k in ids]),
                    ],
                    scale_max=1.0,
                    percent=True,
                )
            )
            areas = _sorted_areas(f.service_area for f in responses)
            by_area = {a: self.values(p, kpis.Filters(service_area=a), kpi_ids=ids) for a in areas}
            blocks.append(
                Table(
                    "feedback-questions-by-area",
                    f"Positive answers by question and service area, {p.label}",
                    ["Question id", *[area_label(a) for a in areas]],
                    [Row(q, [self.kpi(by_area[a], k) for a in areas]) for q, k in zip(questions, ids, strict=True)],
                )
            )

        items = sorted(
            (y for y in unique(self.inputs.facts.you_said_we_did) if p.contains(y.published_on)),
            key=lambda y: (y.published_on, y.service_area, y.theme, y.key),
        )
        blocks.append(Subheading("You said, we did", "feedback-you-said-we-did"))
        if items:
            item_rows = []
            for y in items:
                said, did = self.inputs.you_said_we_did.get(y.key, ("(not recorded)", "(not recorded)"))
                item_rows.append(
                    Row(
                        _short_date(y.published_on),
                        [text(area_label(y.service_area)), text(y.theme), text(said), text(did)],
                    )
                )
            blocks.append(
                Table(
                    "you-said-we-did",
                    f"“You said, we did” items published in {p.label}",
                    ["Published", "Service area", "Theme", "You said", "We did"],
                    item_rows,
                )
            )
        else:
            blocks.append(Paragraph(f"No “you said, we did” items were published in {p.label}."))
        return Section("feedback", "Feedback from children, young people and families", blocks)

    def audit_section(self) -> Section:
        p, prev = self.period, self.previous
        now, then = self.audits_in(p), self.audits_in(prev)
        grades_now, grades_then = Counter(g.grade for g in now), Counter(g.grade for g in then)

        def share(n: int, total: int) -> Figure:
            shown = self.count(n)
            return Figure(EN_DASH) if shown.suppressed else self.rate(n, total)

        blocks: list[Block] = [
            self.trend_table(
                "audit-summary",
                f"Audit activity, {p.label} and the previous quarter ({self.previous.label})",
                [
                    ("Audits completed", "audit.completed"),
                    ("Good or better", "audit.good_or_better_rate"),
                    ("Requires improvement", "audit.requires_improvement_rate"),
                    ("Inadequate", "audit.inadequate_rate"),
                ],
            ),
            Table(
                "audit-grades",
                f"Audits by overall grade (after moderation), {p.label}",
                ["Grade", "Audits", "Share of audits", f"Audits, {prev.label}"],
                [
                    Row(
                        _words(g.value),
                        [self.count(grades_now[g]), share(grades_now[g], len(now)), self.count(grades_then[g])],
                    )
                    for g in _GRADES
                ],
                note="The overall grade is the worst area grade: one area that requires improvement makes the "
                "audit require improvement.",
            ),
            chart(
                chart_id="chart-audit-grades",
                title=f"Audits by overall grade, {p.label} and {prev.label}",
                description="Horizontal bars: the number of audits at each overall grade, this quarter and "
                "the previous one.",
                categories=[_words(g.value) for g in _GRADES],
                series=[
                    Series(p.label, [self.count(grades_now[g]).bar for g in _GRADES]),
                    Series(prev.label, [self.count(grades_then[g]).bar for g in _GRADES]),
                ],
            ),
        ]
        areas = _sorted_areas(g.fact.service_area for g in now)
        wanted = _AUDIT_AREA_KPIS
        by_area = {a: self.values(p, kpis.Filters(service_area=a), kpi_ids=wanted) for a in areas}
        blocks.append(
            Table(
                "audit-by-area",
                f"Audits by service area, {p.label}",
                ["Service area", "Audits completed", "Good or better"],
                [Row(area_label(a), [self.kpi(by_area[a], k) for k in wanted]) for a in areas],
            )
        )
        types_now = Counter(g.fact.audit_type for g in now)
        types_then = Counter(g.fact.audit_type for g in then)
        blocks.append(
            Table(
                "audit-by-type",
                f"Audits by type, {p.label}",
                ["Audit type", self.period_short, self.previous_short],
                [
                    Row(
                        _AUDIT_TYPE_LABELS.get(t, _words(t)),
                        [self.count(types_now[t]), self.count(types_then[t])],
                    )
                    for t in _AUDIT_TYPES
                ],
            )
        )

        moderations = [m for m in unique(self.inputs.facts.audits_moderated) if p.contains(m.moderated_on)]
        rank = {g.value: g.rank for g in Grade}
        raised = sum(1 for m in moderations if rank[m.grade_after] < rank[m.grade_before])
        lowered = sum(1 for m in moderations if rank[m.grade_after] > rank[m.grade_before])
        blocks.append(Subheading("Moderation", "audit-moderation-heading"))
        blocks.append(
            Table(
                "audit-moderation",
                f"Moderation by a second reader, {p.label}",
                ["Moderation", "Audits"],
                [
                    Row("Moderations", [self.count(len(moderations))]),
                    Row("Grade raised", [self.count(raised)]),
                    Row("Grade lowered", [self.count(lowered)]),
                ],
                note="A moderated audit is counted once, at its moderated grade.",
            )
        )

        blocks.append(Subheading("Concerns and targeted audits", "audit-concerns-heading"))
        blocks.extend(self.concerns(now))
        return Section("audits", "Audit activity", blocks)

    def concerns(self, audits_now: Sequence[GradedAudit]) -> list[Block]:
        p, end = self.period, self.end
        raised: dict[str, ConcernRaisedFact] = {}
        for c in sorted(unique(self.inputs.facts.concerns_raised), key=lambda c: (c.raised_on, c.event_id)):
            raised.setdefault(c.concern_id, c)
        resolved: dict[str, date] = {}
        for r in sorted(unique(self.inputs.facts.concerns_resolved), key=lambda r: (r.resolved_on, r.event_id)):
            resolved.setdefault(r.concern_id, r.resolved_on)
        targeted: dict[str, date] = {}
        for g in sorted(
            (a for a in unique(self.inputs.facts.audits_graded) if a.audit_type == "targeted" and a.concern_id),
            key=lambda a: a.completed_on,
        ):
            assert g.concern_id is not None
            targeted.setdefault(g.concern_id, g.completed_on)
        active = []
        for concern_id, c in raised.items():
            done = resolved.get(concern_id)
            if c.raised_on <= end and (done is None or done >= p.start):
                active.append(c)
        in_quarter_raised = sum(1 for c in raised.values() if p.contains(c.raised_on))
        in_quarter_resolved = sum(1 for d in resolved.values() if p.contains(d))
        open_at_end = sum(
            1 for cid, c in raised.items() if c.raised_on <= end and not (cid in resolved and resolved[cid] <= end)
        )
        targeted_in_quarter = sum(1 for a in audits_now if a.fact.audit_type == "targeted")
        blocks: list[Block] = [
            Table(
                "audit-concerns-summary",
                f"Areas of concern and targeted audits, {p.label}",
                ["Measure", "Number"],
                [
                    Row("Concerns raised", [self.count(in_quarter_raised)]),
                    Row("Concerns resolved", [self.count(in_quarter_resolved)]),
                    Row(f"Concerns open on {_long_date(end)}", [self.count(open_at_end)]),
                    Row("Targeted audits completed", [self.count(targeted_in_quarter)]),
                ],
                note="A concern is resolved once a targeted audit shows that its new measures work.",
            )
        ]
        rows = []
        for c in sorted(active, key=lambda c: (c.raised_on, c.service_area, c.theme)):
            done = resolved.get(c.concern_id)
            if done is not None and done <= end:
                status = f"resolved {_short_date(done)}"
            elif c.review_by < end:
                status = "open, past its review date"
            else:
                status = "open"
            first_targeted = targeted.get(c.concern_id)
            audit_text = (
                f"yes, first {_short_date(first_targeted)}"
                if first_targeted is not None and first_targeted <= end
                else "not yet"
            )
            rows.append(
                Row(
                    _words(c.theme),
                    [
                        text(area_label(c.service_area)),
                        text(_short_date(c.raised_on)),
                        text(_short_date(c.review_by)),
                        text(status),
                        text(audit_text),
                    ],
                )
            )
        if rows:
            blocks.append(
                Table(
                    "audit-concerns",
                    f"Areas of concern open during {p.label}",
                    ["Theme", "Service area", "Raised", "Review by", f"Status on {_long_date(end)}", "Targeted audit"],
                    rows,
                )
            )
        else:
            blocks.append(Paragraph(f"No area of concern was open during {p.label}."))
        return blocks

    def complaints_section(self) -> Section:
        p = self.period
        blocks: list[Block] = [
            self.trend_table(
                "complaints-summary",
                f"Complaints, {p.label} and the previous quarter ({self.previous.label})",
                [
                    ("Complaints received", "complaints.received"),
                    ("Responses (closings at any stage)", "complaints.closed"),
                    ("Upheld", "complaints.upheld_rate"),
                    ("Partially upheld", "complaints.partially_upheld_rate"),
                    ("Not upheld", "complaints.not_upheld_rate"),
                    ("Responded to within timescale", "complaints.within_timescale_rate"),
                    ("Resolved at stage 1", "complaints.resolved_at_stage1_rate"),
                    ("Escalated to stage 2", "complaints.escalation_rate"),
                    ("Average response time", AVERAGE_DAYS),
                ],
            )
        ]
        blocks.append(Subheading("By category", "complaints-category-heading"))
        blocks.extend(self.complaints_by_category())
        blocks.append(Subheading("By team", "complaints-team-heading"))
        blocks.extend(self.complaints_by_team())
        blocks.append(Subheading("By stage, outcome and timeliness", "complaints-stage-heading"))
        blocks.append(self.complaints_by_stage())
        blocks.append(self.complaints_by_outcome())
        blocks.append(Subheading("Compliments", "compliments-heading"))
        blocks.extend(self.compliments())
        return Section("complaints", "Complaints and compliments", blocks)

    def complaints_by_category(self) -> list[Block]:
        """Received per category (the KPI), and how many of the quarter's responses upheld any point."""
        p, prev = self.period, self.previous
        categories = self.complaint_categories()
        cat_ids = [kpis.BY_CATEGORY + c for c in categories]
        cat_now = self.values(p, kpi_ids=cat_ids) if cat_ids else {}
        cat_then = self.values(prev, kpi_ids=cat_ids) if cat_ids else {}

        def upheld_share(category: str) -> Figure:
            decided = [
                c
                for c in self.closings
                if c.complaint_id in self.received
                and self.received[c.complaint_id].category == category
                and c.outcome != Outcome.WITHDRAWN.value
            ]
            some = sum(1 for c in decided if c.outcome in (Outcome.UPHELD.value, Outcome.PARTIALLY_UPHELD.value))
            return self.rate(some, len(decided))

        blocks: list[Block] = [
            Table(
                "complaints-by-category",
                f"Complaints by category, {p.label}",
                ["Category", f"Received, {p.label}", f"Received, {prev.label}", "Upheld in full or in part"],
                [
                    Row(_words(cat), [self.kpi(cat_now, kid), self.kpi(cat_then, kid), upheld_share(cat)])
                    for cat, kid in zip(categories, cat_ids, strict=True)
                ],
                note="Upheld in full or in part: the share of this quarter's responses (withdrawn ones left out) "
                "that upheld at least one point.",
            )
        ]
        if cat_ids:
            blocks.append(
                chart(
                    chart_id="chart-complaints-category",
                    title=f"Complaints received by category, {p.label} and {prev.label}",
                    description="Horizontal bars: complaints received in each category, this quarter and "
                    "the previous one.",
                    categories=[_words(c) for c in categories],
                    series=[
                        Series(p.label, [self.kpi(cat_now, k).bar for k in cat_ids]),
                        Series(prev.label, [self.kpi(cat_then, k).bar for k in cat_ids]),
                    ],
                )
            )
        return blocks

    def complaints_by_team(self) -> list[Block]:
        """The KPIs of each team's slice, and the quarter's complaints by team and category."""
        p = self.period
        teams = self.complaint_teams()
        by_team = {team: self.values(p, kpis.Filters(team=team), kpi_ids=_TEAM_KPIS) for team in teams}
        blocks: list[Block] = [
            Table(
                "complaints-by-team",
                f"Complaints by team, {p.label}",
                ["Team", "Received", "Responses", "Upheld", "Partially upheld", "Within timescale"],
                [Row(team, [self.kpi(by_team[team], k) for k in _TEAM_KPIS]) for team in teams],
            )
        ]
        cross = Counter((r.team, r.category) for r in self.received_now)
        now_categories = sorted({r.category for r in self.received_now})
        if now_categories:
            blocks.append(
                Table(
                    "complaints-team-category",
                    f"Complaints received by team and category, {p.label}",
                    ["Team", *[_words(c) for c in now_categories]],
                    [
                        Row(team, [self.count(cross[(team, c)]) for c in now_categories])
                        for team in sorted({r.team for r in self.received_now})
                    ],
                )
            )
        return blocks

    def stage_values(self, stage: int) -> dict[str, kpis.KpiValue]:
        """The closing KPIs (responses, within timescale, average working days) over one
        stage's closings in the quarter, by the same rules and publication as the KPI API:
        each closing's effective due date and working days are the read model's."""
        closings = [c for c in self.closings if c.stage == stage]
        clocks = [self.inputs.closing_clocks.get(c.key, (c.due_date, c.working_days_taken)) for c in closings]
        n = len(closings)
        within = sum(1 for c, (due, _) in zip(closings, clocks, strict=True) if c.closed_on <= due)
        days = sum(int(d) for _, d in clocks)
        raw = [
            kpis.count_value("complaints.closed", n),
            kpis.rate_value("complaints.within_timescale_rate", within, n),
            kpis.rate_value(AVERAGE_DAYS, days, n),
        ]
        published = kpis.apply_publication_rules(raw, detail=False, threshold=self.t, targets=self.inputs.targets)
        return {v.kpi: v for v in published}

    def complaints_by_stage(self) -> Table:
        p = self.period
        escalations = [e for e in unique(self.inputs.facts.complaints_escalated) if p.contains(e.escalated_on)]
        rows = []
        for stage in sorted({c.stage for c in self.closings} | {1}):
            v = self.stage_values(stage)
            escalated = sum(1 for e in escalations if e.from_stage == stage)
            rows.append(Row(f"Stage {stage}", [*[self.kpi(v, k) for k in _STAGE_KPIS], self.count(escalated)]))
        return Table(
            "complaints-by-stage",
            f"Complaint responses by stage, {p.label}",
            ["Stage", "Responses", "Within timescale", "Average response time", "Escalated to the next stage"],
            rows,
            note="Timescales: statutory children's complaints 10 working days at stage 1 (20 with an "
            "extension) and 25 at stage 2 (65 at most); the authority's own timescales for corporate and "
            "SEND complaints. Working days count from receipt or escalation.",
        )

    def complaints_by_outcome(self) -> Table:
        outcome_counts = Counter(c.outcome for c in self.closings)
        outcome_rate = {
            Outcome.UPHELD: "complaints.upheld_rate",
            Outcome.PARTIALLY_UPHELD: "complaints.partially_upheld_rate",
            Outcome.NOT_UPHELD: "complaints.not_upheld_rate",
        }
        return Table(
            "complaints-by-outcome",
            f"Complaint responses by outcome, {self.period.label}",
            ["Outcome", "Responses", "Share of responses (withdrawn left out)"],
            [
                Row(
                    _words(o.value),
                    [
                        self.count(outcome_counts[o.value]),
                        # A share beside a suppressed count would give the count away.
                        self.kpi(self.current, outcome_rate[o])
                        if o in outcome_rate and not self.count(outcome_counts[o.value]).suppressed
                        else Figure(EN_DASH),
                    ],
                )
                for o in _OUTCOMES
            ],
        )

    def compliments(self) -> list[Block]:
        """External compliments are the statistics; internal ones are shown apart."""
        p, prev = self.period, self.previous
        areas = self.compliment_areas()
        by_area = {a: self.values(p, kpis.Filters(service_area=a), kpi_ids=_COMPLIMENTS) for a in areas}
        by_area_then = {a: self.values(prev, kpis.Filters(service_area=a), kpi_ids=_COMPLIMENTS) for a in areas}
        external = "compliments.external"
        rows = [
            Row(area_label(a), [self.kpi(by_area[a], external), self.kpi(by_area_then[a], external)]) for a in areas
        ]
        rows.append(Row("All service areas", [self.kpi(self.current, external), self.kpi(self.before, external)]))
        internal = self.kpi(self.current, "compliments.internal")
        return [
            Table(
                "compliments",
                f"External compliments by service area, {p.label}",
                ["Service area", self.period_short, self.previous_short],
                rows,
                note="External compliments: from children, young people, families and others outside the service.",
            ),
            Paragraph(
                f"Internal compliments (from colleagues and partners), not in statistics: {internal.text} in "
                f"{p.label}. They are captured and celebrated, but only external compliments are counted.",
                "not-in-statistics",
            ),
        ]

    def learning_section(self) -> Section:
        p, end = self.period, self.end
        blocks: list[Block] = [
            self.trend_table(
                "learning-summary",
                f"The learning loop, {p.label} and the previous quarter ({self.previous.label})",
                [
                    (f"Follow-ups open at {self.at}", "learning.followups_open"),
                    (f"Follow-ups overdue at {self.at}", "learning.followups_overdue"),
                    ("Follow-ups closed on time", "learning.followups_closed_on_time_rate"),
                    ("Actions completed on time", "learning.actions_completed_on_time_rate"),
                ],
            )
        ]
        tally = self.inputs.followups
        present = set(tally) | set(self.inputs.followup_rules)
        rules = [r for r in _RULES if r in present] + sorted(present - set(_RULES))
        rows = []
        opened_bars, overdue_bars = [], []
        for rule in rules:
            t = tally.get(rule, RuleTally())
            cells = [
                self.count(t.opened),
                self.count(t.closed),
                self.count(t.on_time),
                self.count(t.open),
                self.count(t.overdue),
            ]
            rows.append(Row(f"{_RULES.get(rule, _words(rule))} ({rule})", cells))
            opened_bars.append(cells[0].bar)
            overdue_bars.append(cells[4].bar)
        blocks.append(
            Table(
                "followups-by-rule",
                f"Follow-ups by rule, {p.label}",
                [
                    "Rule",
                    "Opened in the quarter",
                    "Closed in the quarter",
                    "Closed on time",
                    f"Open on {_long_date(end)}",
                    f"Overdue on {_long_date(end)}",
                ],
                rows,
                note="Every upheld complaint, weak audit, poor feedback result, safeguarding answer and action "
                "opens a follow-up that stays open until the evidence that closes it arrives.",
            )
        )
        if rules:
            blocks.append(
                chart(
                    chart_id="chart-followups",
                    title=f"Follow-ups opened in {p.label} and overdue on {_long_date(end)}, by rule",
                    description="Horizontal bars: for each learning-loop rule, the follow-ups opened in the "
                    "quarter and those overdue at its end.",
                    categories=[_RULES.get(r, _words(r)) for r in rules],
                    series=[Series("Opened", opened_bars), Series("Overdue", overdue_bars)],
                )
            )
        reaudits = tally.get("re-audit", RuleTally())
        blocks.append(
            Paragraph(
                f"Re-audits of cases graded requires improvement or inadequate, completed in {p.label}: "
                f"{self.count(reaudits.closed).text}; of these, the grade improved in "
                f"{self.count(reaudits.improved).text}."
            )
        )
        return Section("learning", "Closing the learning loop", blocks)


def _kpi_title(kpi_id: str) -> str:
    try:
        return kpis.definition_of(kpi_id).title
    except ValueError:
        return kpi_id


def kpi_requests(inputs: ReportInputs) -> list[KpiRequest]:
    """The published KPI values `build_report` reads: first every KPI of the quarter and of
    the previous one; once ``inputs.kpi_values`` holds those, also the slices the sections
    show (which depend on them: the questions and categories present). A loader asks until
    nothing is missing."""
    if inputs.period.kind != "quarter":
        raise ValueError(f"the quarterly report is for a financial quarter, not a {inputs.period.kind}")
    base = [KpiRequest(inputs.period), KpiRequest(inputs.period.previous())]
    if any(r not in inputs.kpi_values for r in base):
        return base
    return list(dict.fromkeys([*base, *_Builder(inputs).slice_requests()]))


def build_report(inputs: ReportInputs) -> QuarterlyReport:
    """The quarterly report for ``inputs.period`` (a financial quarter; ValueError otherwise)."""
    if inputs.period.kind != "quarter":
        raise ValueError(f"the quarterly report is for a financial quarter, not a {inputs.period.kind}")
    return _Builder(inputs).build()
