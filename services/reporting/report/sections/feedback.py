"""Feedback from children, young people and families: survey responses and who gave them,
positive answers by question (and by service area), and the "you said, we did" items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from services.reporting import kpis
from services.reporting.followups import unique
from shared.calendar import Period

from ..charts import Series
from ..figures import change_figure, rag_figure, text
from ..labels import area_label, question_label, short_date, sorted_areas
from ..model import Block, KpiRequest, Paragraph, Row, Section, Subheading, Table, chart
from ..suppression import protect_columns
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter

__all__ = ["feedback_section", "feedback_slices"]

_RESPONDENTS = {
    "child": "Children",
    "young_person": "Young people",
    "parent_carer": "Parents and carers",
    "foster_carer": "Foster carers",
    "professional": "Professionals",
    "other": "Others",
}
_NOT_RECORDED = ("(not recorded)", "(not recorded)")


def _questions(q: ReportQuarter) -> list[str]:
    """Question ids with answers in the quarter or the previous one."""
    prefix = kpis.POSITIVE_RATE
    return sorted({k[len(prefix) :] for k in (*q.current, *q.before) if k.startswith(prefix)})


def _responses(q: ReportQuarter, period: Period) -> list[Any]:
    return [f for f in unique(q.inputs.facts.feedback) if period.contains(f.received_on)]


def feedback_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: the positive rate of every question in both quarters,
    and in each service area with responses this quarter."""
    ids = tuple(kpis.POSITIVE_RATE + question for question in _questions(q))
    if not ids:
        return []
    areas = sorted_areas(f.service_area for f in _responses(q, q.period))
    return [
        KpiRequest(q.period, kpis.NO_FILTERS, ids),
        KpiRequest(q.previous, kpis.NO_FILTERS, ids),
        *(KpiRequest(q.period, kpis.Filters(service_area=a), ids) for a in areas),
    ]


def _respondents(q: ReportQuarter, responses: Sequence[Any], before: Sequence[Any]) -> Table:
    by_now, by_then = Counter(f.respondent for f in responses), Counter(f.respondent for f in before)
    respondents = [r for r in _RESPONDENTS if by_now[r] or by_then[r]]
    # Each quarter's respondents add up to its responses (shown): secondary suppression.
    now, then = protect_columns([[q.count(by_now[r]) for r in respondents], [q.count(by_then[r]) for r in respondents]])
    return Table(
        "feedback-respondents",
        f"Survey responses by who answered, {q.period.label}",
        ["Respondent", THIS_QUARTER, PREVIOUS_QUARTER],
        [Row(_RESPONDENTS[r], [now[i], then[i]]) for i, r in enumerate(respondents)],
    )


def _question_row(
    q: ReportQuarter,
    question: str,
    kpi_id: str,
    now: Mapping[str, kpis.KpiValue],
    then: Mapping[str, kpis.KpiValue],
) -> Row:
    current, previous = q.kpi(now, kpi_id), q.kpi(then, kpi_id)
    return Row(
        question_label(question, q.inputs.question_wording),
        [current, previous, change_figure(current, previous, kpis.RATE), rag_figure(current.rag)],
    )


def _what_they_said(q: ReportQuarter, responses: Sequence[Any]) -> list[Block]:
    """Positive answers by question: both quarters, a chart, and by service area."""
    p, prev = q.period, q.previous
    questions = _questions(q)
    ids = [kpis.POSITIVE_RATE + question for question in questions]
    now = q.values(p, kpi_ids=ids) if ids else {}
    then = q.values(prev, kpi_ids=ids) if ids else {}
    blocks: list[Block] = [
        Subheading("What children and families said", "feedback-what-they-said"),
        Table(
            "feedback-questions",
            f"Positive answers by question, {p.label}",
            ["Question", THIS_QUARTER, PREVIOUS_QUARTER, "Change", "RAG"],
            [_question_row(q, question, k, now, then) for question, k in zip(questions, ids, strict=True)],
            note="Positive means yes, or 4 or 5 on a 1 to 5 scale, out of everyone who answered the question. "
            "Each question is shown by its wording, with its id in brackets (by its id alone where the "
            "survey's wording never reached reporting); a reworded question has an id of its own.",
        ),
    ]
    if not ids:
        return blocks
    areas = sorted_areas(f.service_area for f in responses)
    by_area = {a: q.values(p, kpis.Filters(service_area=a), kpi_ids=ids) for a in areas}
    return [
        *blocks,
        chart(
            chart_id="chart-feedback-questions",
            title=f"Positive answers by question, {p.label} and {prev.label}",
            description="Horizontal bars: the share of positive answers to each survey question, "
            "this quarter and the previous one.",
            categories=[question_label(question, q.inputs.question_wording) for question in questions],
            series=[
                Series(p.label, [q.kpi(now, k).bar for k in ids]),
                Series(prev.label, [q.kpi(then, k).bar for k in ids]),
            ],
            scale_max=1.0,
            percent=True,
        ),
        Table(
            "feedback-questions-by-area",
            f"Positive answers by question and service area, {p.label}",
            ["Question", *[area_label(a) for a in areas]],
            [
                Row(question_label(question, q.inputs.question_wording), [q.kpi(by_area[a], k) for a in areas])
                for question, k in zip(questions, ids, strict=True)
            ],
        ),
    ]


def _you_said_we_did(q: ReportQuarter) -> list[Block]:
    p = q.period
    items = sorted(
        (y for y in unique(q.inputs.facts.you_said_we_did) if p.contains(y.published_on)),
        key=lambda y: (y.published_on, y.service_area, y.theme, y.key),
    )
    heading = Subheading("You said, we did", "feedback-you-said-we-did")
    if not items:
        return [heading, Paragraph(f"No “you said, we did” items were published in {p.label}.")]
    rows = []
    for y in items:
        said, did = q.inputs.you_said_we_did.get(y.key, _NOT_RECORDED)
        rows.append(
            Row(short_date(y.published_on), [text(area_label(y.service_area)), text(y.theme), text(said), text(did)])
        )
    return [
        heading,
        Table(
            "you-said-we-did",
            f"“You said, we did” items published in {p.label}",
            ["Published", "Service area", "Theme", "You said", "We did"],
            rows,
        ),
    ]


def feedback_section(q: ReportQuarter) -> Section:
    responses, before = _responses(q, q.period), _responses(q, q.previous)
    blocks: list[Block] = [
        q.trend_table(
            "feedback-summary",
            f"Survey responses, {q.period.label} and the previous quarter ({q.previous.label})",
            [("Survey responses received", "feedback.responses")],
        ),
        _respondents(q, responses, before),
        *_what_they_said(q, responses),
        *_you_said_we_did(q),
    ]
    return Section("feedback", "Feedback from children, young people and families", blocks)
