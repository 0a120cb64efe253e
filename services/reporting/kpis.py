"""KPI figures: the catalogue, the configuration (timescales, targets), the complaint clocks,
the assembly of a slice's values and the publication rules.

Pure: no I/O. DOMAIN.md "KPI definitions" and "Precise readings" are the specification. The
figures themselves are SQL aggregates over the read models (`queries.py`, one statement per
group of KPIs, each saying how it reads the definitions); the per-aggregate rules they rest
on (an audit's counted grading, a complaint stage's clock, re-referrals) are pure functions
here and in `followups.py`, applied when a batch touches the aggregate (`readmodels.py`).

General rules:

* **Which date counts**: the Europe/London date of the fact's own timestamp in ``data``
  (already reduced in `facts.py`). A fact is in the period when that date is in it.
* **Duplicates** (same ``key``) count once: the event store admits one copy, and each read
  model row is keyed by it, so the figures do not depend on the order or the number of
  copies of the events.
* **Filters** (service area, team) apply to the fact's own service area and team. Complaint
  closings, escalations and extensions carry none: they take the complaint's
  ``ComplaintReceived``'s, and a complaint whose ``ComplaintReceived`` is unknown drops out
  whenever a filter is set. Action completions take their ``ActionRaised``'s. A fact with no
  team (feedback, follow-ups) drops out when a team filter is set. The ``category`` filter
  applies to the ``complaints.*`` KPIs only (each complaint fact in its ComplaintReceived's
  category); every other KPI reads as if it were not set.
* **Rates** are fractions 0-1 (``numerator / denominator`` as a float, never rounded) and
  null when the denominator is 0. **Counts** have ``value == numerator`` and no denominator.
* Every fixed KPI id is always present; ``feedback.positive_rate.<question_id>``,
  ``complaints.by_category.<category>`` and ``audit.area_good_or_better_rate.<area>`` are
  present where the slice has data for them (answers with a value / complaints received /
  audits that graded the area), or when asked for by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from shared.calendar import WorkingCalendar
from shared.complaint_timescales import PANEL_STAGE, Timescales

from .facts import ComplaintClosedFact, ComplaintPanelHeldFact, Facts
from .followups import first_received, unique

__all__ = [
    "AREA_GOOD",
    "BY_CATEGORY",
    "COUNT",
    "POSITIVE_RATE",
    "RATE",
    "SURVEY_POSITIVE_RATE",
    "TEAMLESS",
    "Breakdown",
    "ComplaintView",
    "Filters",
    "KpiDefinition",
    "KpiValue",
    "Target",
    "apply_publication_rules",
    "assemble",
    "catalogue",
    "category_breakdown",
    "count_value",
    "definition_of",
    "fixed_kpi_ids",
    "is_family_member",
    "is_known_kpi",
    "no_cases",
    "protect_categories",
    "protect_lines",
    "protect_teams",
    "publish_filtered",
    "rate_value",
    "reads_category",
    "team_breakdown",
    "team_kpi_ids",
    "team_lines",
]

COUNT = "count"
RATE = "rate"
POSITIVE_RATE = "feedback.positive_rate."  # + question_id
BY_CATEGORY = "complaints.by_category."  # + category
AREA_GOOD = "audit.area_good_or_better_rate."  # + area (an audit template's area key)
SURVEY_POSITIVE_RATE = "workforce.survey_positive_rate."  # + question_id (staff health-check survey)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class KpiDefinition:
    id: str
    title: str
    unit: str  # "count" or "rate"
    definition: str


def _d(kpi: str, title: str, unit: str, definition: str) -> KpiDefinition:
    return KpiDefinition(kpi, title, unit, definition)


_FIXED: tuple[KpiDefinition, ...] = (
    _d(
        "audit.completed",
        "Audits completed",
        COUNT,
        "Audits graded in the period (by completion date); an audit graded more than once "
        "counts once, in the period of its latest grading's completion date.",
    ),
    _d(
        "audit.good_or_better_rate",
        "Audits good or better",
        RATE,
        "Audits whose overall grade (after the latest moderation) is outstanding or good / "
        "audits graded in the period.",
    ),
    _d(
        "audit.requires_improvement_rate",
        "Audits requiring improvement",
        RATE,
        "Audits whose overall grade (after the latest moderation) is requires improvement / "
        "audits graded in the period.",
    ),
    _d(
        "audit.inadequate_rate",
        "Audits inadequate",
        RATE,
        "Audits whose overall grade (after the latest moderation) is inadequate / audits graded in the period.",
    ),
    _d(
        "audit.completed_on_time_rate",
        "Audits completed on schedule",
        RATE,
        "Audits graded in the period whose completion date (Europe/London) is on or before the "
        "due date of their AuditScheduled with the highest sequence / audits graded in the "
        "period with a known schedule.",
    ),
    _d(
        "audit.ehcp_procedure_compliance_rate",
        "EHCP audits following the procedure",
        RATE,
        "EHCP audits graded in the period that met every item of the EHCP template's procedure "
        "checklist / EHCP audits graded in the period that carry procedure_compliant.",
    ),
    _d(
        "audit.concern_measures_effective_rate",
        "Concerns whose measures worked",
        RATE,
        "Concerns resolved in the period with the outcome effective / concerns resolved in the "
        "period with an outcome (each concern once, by its first resolution that carries an "
        "outcome). Concerns have no team: a team filter leaves none.",
    ),
    _d(
        "feedback.responses",
        "Survey responses",
        COUNT,
        "Survey responses received in the period.",
    ),
    _d(
        "compliments.external",
        "External compliments",
        COUNT,
        "Compliments from children, families and others outside the service received in "
        "the period. Only external compliments count in the statistics.",
    ),
    _d(
        "compliments.internal",
        "Internal compliments",
        COUNT,
        "Compliments from colleagues and partners received in the period (shown apart).",
    ),
    _d(
        "complaints.received",
        "Complaints received",
        COUNT,
        "Complaints received in the period, at stage 1 or straight into a later stage.",
    ),
    _d(
        "complaints.closed",
        "Complaint responses",
        COUNT,
        "Complaint closings (one per stage response, withdrawn included) dated in the period.",
    ),
    _d(
        "complaints.upheld_rate",
        "Complaints upheld",
        RATE,
        "Closings in the period upheld / closings in the period excluding withdrawn.",
    ),
    _d(
        "complaints.partially_upheld_rate",
        "Complaints partially upheld",
        RATE,
        "Closings in the period partially upheld / closings in the period excluding withdrawn.",
    ),
    _d(
        "complaints.not_upheld_rate",
        "Complaints not upheld",
        RATE,
        "Closings in the period not upheld / closings in the period excluding withdrawn.",
    ),
    _d(
        "complaints.within_timescale_rate",
        "Complaint responses within timescale",
        RATE,
        "Closings in the period (withdrawn included) on or before the stage's due date / "
        "closings in the period. The due date is the latest extension's where one was "
        "recorded, else the reported due date, and never past the stage's maximum (counted "
        "in working days from the stage start: receipt, or the escalation to that stage).",
    ),
    _d(
        "complaints.resolved_at_stage1_rate",
        "Complaints resolved at stage 1",
        RATE,
        "Stage-1 closings in the period that are not withdrawn / all closings in the period.",
    ),
    _d(
        "complaints.escalation_rate",
        "Complaints escalated to stage 2",
        RATE,
        "Escalations from stage 1 to stage 2 dated in the period / stage-1 closings dated in the period.",
    ),
    _d(
        "complaints.average_response_working_days",
        "Average complaint response time (working days)",
        RATE,
        "Mean working days from the stage start (receipt, or the escalation to that stage; "
        "day 0) to the closing, over closings in the period (withdrawn included); the "
        "reported working days are used where the stage start is unknown. Unit 'rate' because "
        "it is a ratio: numerator = total working days, denominator = closings; null when "
        "there are none, and suppressed like a rate when there are few. Its value is a number "
        "of days, not a fraction.",
    ),
    _d(
        "complaints.panel_within_timescale_rate",
        "Complaint review panels within 30 working days",
        RATE,
        "Stage-3 review panels held in the period (every ComplaintPanelHeld) on or before the "
        "30th working day after the stage-3 request / panels held in the period; a panel whose "
        "stage-3 request (escalation to stage 3, or receipt straight into it) is unknown is in "
        "neither part.",
    ),
    _d(
        "complaints.late_escalations",
        "Late requests for stage 2",
        COUNT,
        "Escalations dated in the period that the complaints service flagged late_request: a "
        "stage-2 request more than 20 working days after the stage-1 response (accepted at the "
        "authority's discretion).",
    ),
    _d(
        "complaints.ombudsman_referrals",
        "Complaints referred to the Ombudsman",
        COUNT,
        "Referrals to the Local Government and Social Care Ombudsman dated (referred_at) in the "
        "period, in the slice of their complaint (an unknown complaint counts only unfiltered).",
    ),
    _d(
        "complaints.ombudsman_fault_rate",
        "Ombudsman decisions finding fault",
        RATE,
        "Ombudsman decisions dated (decided_at) in the period finding fault / decisions in the "
        "period other than not_investigated.",
    ),
    _d(
        "casework.assessment_within_45_days_rate",
        "Assessments within 45 working days",
        RATE,
        "Assessments completed in the period on or before the 45th working day after their "
        "start / assessments completed in the period.",
    ),
    _d(
        "casework.re_referral_rate",
        "Re-referrals within 12 months",
        RATE,
        "Referrals received in the period for a child with an earlier referral (any team or "
        "service area) on a date d with d < this referral's date <= d + 12 calendar months / "
        "referrals received in the period.",
    ),
    _d(
        "send.ehcp_within_20_weeks_rate",
        "EHC plans issued within 20 weeks",
        RATE,
        "EHC plans issued in the period within 140 days of the request / plans issued in the "
        "period; plans issued under an exception are left out of both.",
    ),
    _d(
        "send.ehcp_within_20_weeks_incl_exceptions_rate",
        "EHC plans issued within 20 weeks, exceptions included",
        RATE,
        "EHC plans issued in the period within 140 days of the request / every plan issued in "
        "the period, those issued under an exception included.",
    ),
    _d(
        "casework.contact_success_rate",
        "Caseworker contact success",
        RATE,
        "Contact attempts in the period that reached the worker / attempts in the period.",
    ),
    _d(
        "learning.followups_open",
        "Follow-ups open",
        COUNT,
        "Follow-ups open (overdue ones included) at the end of the period, or today for the current period.",
    ),
    _d(
        "learning.followups_overdue",
        "Follow-ups overdue",
        COUNT,
        "Open follow-ups whose due date is before the end of the period (or today for the current period).",
    ),
    _d(
        "learning.followups_closed_on_time_rate",
        "Follow-ups closed on time",
        RATE,
        "Follow-ups closed in the period on or before their due date / follow-ups closed in the period.",
    ),
    _d(
        "learning.actions_completed_on_time_rate",
        "Actions completed on time",
        RATE,
        "Actions first completed in the period on or before their due date / actions first "
        "completed in the period. Only an action's first completion counts; a completion of "
        "an action whose ActionRaised is unknown is left out of both.",
    ),
    *(
        # Workforce (DOMAIN.md "Workforce" and its precise reading). Social workers are roles
        # social_worker, senior and manager; "in post at the end of day D" = joined <= D and
        # not left <= D; a period's start is the end of the day before it. Rates over FTE
        # carry FTE as numerator and denominator (not whole numbers).
        _d(
            "workforce.turnover_rate",
            "Social worker turnover",
            RATE,
            "FTE of employed social workers with a StaffLeft in the period (the FTE, team and "
            "contract of the record that left) / mean of the employed social workers' FTE in "
            "post at the period's start and at its end.",
        ),
        _d(
            "workforce.vacancy_rate",
            "Social worker vacancy rate",
            RATE,
            "Vacant FTE (each team's latest VacancyRecorded on or before the period's end; 0 "
            "if none) / (vacant FTE + employed social workers' FTE in post at the end).",
        ),
        _d(
            "workforce.agency_rate",
            "Agency social workers",
            RATE,
            "Agency social workers' FTE in post at the period's end / (agency + employed "
            "social workers' FTE in post at the end).",
        ),
        _d(
            "workforce.average_caseload",
            "Average caseload (cases per FTE)",
            RATE,
            "Cases held by case-holding social workers (either contract) in post at the "
            "period's end, each one's latest CaseloadRecorded on or before the end (0 if "
            "none) / their FTE. A ratio whose value is a number of cases, not a fraction.",
        ),
        _d(
            "workforce.stability_rate",
            "Social worker stability",
            RATE,
            "Employed social workers in post at the period's end who were employed social "
            "workers in post (any team) at the end of the day 12 calendar months earlier / "
            "employed social workers in post at the end (headcount).",
        ),
    ),
)

_POSITIVE_RATE_FAMILY = _d(
    POSITIVE_RATE + "<question_id>",
    "Positive answers to a survey question",
    RATE,
    "Positive answers (yes, 4 or 5) to the question / answers to it (skipped questions do "
    "not count), over responses received in the period. One KPI per question id.",
)
_BY_CATEGORY_FAMILY = _d(
    BY_CATEGORY + "<category>",
    "Complaints received by category",
    COUNT,
    "Complaints received in the period in the category (at any stage). One KPI per category.",
)

_AREA_GOOD_FAMILY = _d(
    AREA_GOOD + "<area>",
    "Audits good or better in an area",
    RATE,
    "Audits graded in the period whose grade for the area (the auditor's: moderation changes "
    "the overall grade only) is outstanding or good / audits graded in the period that graded "
    "the area. One KPI per area; shows which areas drive 'requires improvement'.",
)
_SURVEY_POSITIVE_RATE_FAMILY = _d(
    SURVEY_POSITIVE_RATE + "<question_id>",
    "Positive answers to a staff health-check survey question",
    RATE,
    "Positive answers (yes, 4 or 5) to the staff health-check survey question / answers to "
    "it (skipped questions do not count), over staff survey responses received in the "
    "period; a response without a team is outside any team filter. One KPI per question id.",
)

_BY_ID: dict[str, KpiDefinition] = {d.id: d for d in _FIXED}
# Where each family appears in the catalogue order: after this fixed id.
_POSITIVE_RATE_AFTER = "feedback.responses"
_BY_CATEGORY_AFTER = "complaints.within_timescale_rate"
_AREA_GOOD_AFTER = "audit.inadequate_rate"
_SURVEY_POSITIVE_RATE_AFTER = "workforce.stability_rate"
_FAMILIES = {
    POSITIVE_RATE: _POSITIVE_RATE_FAMILY,
    BY_CATEGORY: _BY_CATEGORY_FAMILY,
    AREA_GOOD: _AREA_GOOD_FAMILY,
    SURVEY_POSITIVE_RATE: _SURVEY_POSITIVE_RATE_FAMILY,
}


def fixed_kpi_ids() -> list[str]:
    """The KPI ids that every slice has, in catalogue order."""
    return [d.id for d in _FIXED]


def _family_member(kpi_id: str) -> tuple[str, str] | None:
    """(prefix, suffix) for a member of a family, such as a question's positive rate."""
    for prefix in _FAMILIES:
        if kpi_id.startswith(prefix) and len(kpi_id) > len(prefix):
            return prefix, kpi_id[len(prefix) :]
    return None


def is_known_kpi(kpi_id: str) -> bool:
    """A fixed KPI id, or a member of a family (any question id or category)."""
    return kpi_id in _BY_ID or _family_member(kpi_id) is not None


def definition_of(kpi_id: str) -> KpiDefinition:
    """The definition of a fixed KPI or of one family member (ValueError if unknown)."""
    if kpi_id in _BY_ID:
        return _BY_ID[kpi_id]
    member = _family_member(kpi_id)
    if member is None:
        raise ValueError(f"unknown KPI {kpi_id!r}")
    prefix, suffix = member
    if prefix == SURVEY_POSITIVE_RATE:
        return _d(
            kpi_id,
            f"Staff survey positive answers: {suffix}",
            RATE,
            f"Positive answers (yes, 4 or 5) to staff health-check survey question {suffix!r} / "
            "answers to it (skipped questions do not count), over responses received in the period.",
        )
    if prefix == AREA_GOOD:
        return _d(
            kpi_id,
            f"Audits good or better: {suffix}",
            RATE,
            f"Audits graded in the period whose auditor's grade for area {suffix!r} is outstanding "
            "or good / audits graded in the period that graded it.",
        )
    if prefix == POSITIVE_RATE:
        return _d(
            kpi_id,
            f"Positive answers: {suffix}",
            RATE,
            f"Positive answers (yes, 4 or 5) to question {suffix!r} / answers to it (skipped "
            "questions do not count), over responses received in the period.",
        )
    return _d(
        kpi_id,
        f"Complaints received: {suffix}",
        COUNT,
        f"Complaints received in the period in category {suffix!r} (at any stage).",
    )


def catalogue(
    question_ids: Iterable[str] = (),
    categories: Iterable[str] = (),
    areas: Iterable[str] = (),
    staff_question_ids: Iterable[str] = (),
) -> list[KpiDefinition]:
    """Every KPI: the fixed ones in contract order, each family (described once under its
    template id, ``feedback.positive_rate.<question_id>``,
    ``complaints.by_category.<category>``, ``audit.area_good_or_better_rate.<area>`` and
    ``workforce.survey_positive_rate.<question_id>``) followed by one entry per known
    question id / category / area / staff survey question (sorted)."""
    out: list[KpiDefinition] = []
    for d in _FIXED:
        out.append(d)
        if d.id == _AREA_GOOD_AFTER:
            out.append(_AREA_GOOD_FAMILY)
            out.extend(definition_of(AREA_GOOD + a) for a in sorted(set(areas)) if a)
        if d.id == _POSITIVE_RATE_AFTER:
            out.append(_POSITIVE_RATE_FAMILY)
            out.extend(definition_of(POSITIVE_RATE + q) for q in sorted(set(question_ids)) if q)
        if d.id == _BY_CATEGORY_AFTER:
            out.append(_BY_CATEGORY_FAMILY)
            out.extend(definition_of(BY_CATEGORY + c) for c in sorted(set(categories)) if c)
        if d.id == _SURVEY_POSITIVE_RATE_AFTER:
            out.append(_SURVEY_POSITIVE_RATE_FAMILY)
            out.extend(definition_of(SURVEY_POSITIVE_RATE + q) for q in sorted(set(staff_question_ids)) if q)
    return out


def _unit(kpi_id: str) -> str:
    try:
        return definition_of(kpi_id).unit
    except ValueError:
        return COUNT


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Filters:
    """A slice: one service area and/or one team (None = all), and a complaint category,
    which filters the ``complaints.*`` KPIs only (DOMAIN.md "Precise readings of the 2026-12
    rules"): every other KPI reads as if it were not set."""

    service_area: str | None = None
    team: str | None = None
    category: str | None = None

    @property
    def any(self) -> bool:
        return self.service_area is not None or self.team is not None or self.category is not None

    def matches(self, service_area: str | None, team: str | None) -> bool:
        """True when the fact's own service area and team are in the slice; a fact with no
        team is outside any team filter."""
        return (self.service_area is None or service_area == self.service_area) and (
            self.team is None or team == self.team
        )


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Target:
    """A KPI's target: green when met, amber when within ``amber_tolerance`` of it."""

    target: float
    amber_tolerance: float = 0.0
    higher_is_better: bool = True

    def rag(self, value: float) -> str:
        if self.higher_is_better:
            if value >= self.target:
                return "green"
            return "amber" if value >= self.target - self.amber_tolerance else "red"
        if value <= self.target:
            return "green"
        return "amber" if value <= self.target + self.amber_tolerance else "red"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class KpiValue:
    kpi: str
    value: float | int | None
    numerator: float | int | None
    denominator: float | int | None  # FTE (a fraction) for the workforce rates
    suppressed: bool = False
    rag: str | None = None
    # suppressed by secondary suppression (`protect_lines`, `publish_filtered`), not small
    # itself: it reads "suppressed", never the small-count range (not part of the API's JSON)
    hidden: bool = False


# --------------------------------------------------------------------------- assemble


def count_value(kpi: str, n: int) -> KpiValue:
    return KpiValue(kpi, n, n, None)


def rate_value(kpi: str, numerator: float, denominator: float) -> KpiValue:
    value = numerator / denominator if denominator else None
    return KpiValue(kpi, value, numerator, denominator)


def assemble(
    values: Mapping[str, KpiValue],
    positive: Mapping[str, tuple[int, int]],
    categories: Mapping[str, int],
    kpi_ids: Iterable[str] | None = None,
    *,
    areas: Mapping[str, tuple[int, int]] | None = None,
    staff_positive: Mapping[str, tuple[int, int]] | None = None,
) -> list[KpiValue]:
    """One slice's KPI values in the published order, from the fixed KPIs' ``values``, the
    positive-rate tallies (positive, answers with a value) per question id, the
    complaints received per category, the area tallies (good or better, audits that
    graded the area) per audit area and the staff survey's tallies per question id.

    Without ``kpi_ids``: every fixed KPI in catalogue order, each family's members with data
    in the slice inserted after it (sorted). With ``kpi_ids``: exactly those ids in the order
    given (repeats dropped), family members computed even when the slice has no data for
    them (0 count / null rate). An unknown id is a ``ValueError``.
    """
    wanted = None if kpi_ids is None else list(dict.fromkeys(kpi_ids))
    for kpi in wanted or ():
        if not is_known_kpi(kpi):
            raise ValueError(f"unknown KPI {kpi!r}")
    tallies: dict[str, Mapping[str, Any]] = {
        POSITIVE_RATE: positive,
        BY_CATEGORY: categories,
        AREA_GOOD: areas or {},
        SURVEY_POSITIVE_RATE: staff_positive or {},
    }
    if wanted is not None:
        return [values[k] if k in values else _member(k, tallies) for k in wanted]
    out: list[KpiValue] = []
    for d in _FIXED:
        out.append(values[d.id])
        for prefix, after in _FAMILY_AFTER:
            if d.id == after:
                out.extend(
                    _member(prefix + m, tallies) for m in sorted(tallies[prefix]) if _has_data(tallies[prefix][m])
                )
    return out


# Where each family's members appear among the fixed KPIs: after this fixed id.
_FAMILY_AFTER = (
    (AREA_GOOD, _AREA_GOOD_AFTER),
    (POSITIVE_RATE, _POSITIVE_RATE_AFTER),
    (BY_CATEGORY, _BY_CATEGORY_AFTER),
    (SURVEY_POSITIVE_RATE, _SURVEY_POSITIVE_RATE_AFTER),
)


def _has_data(tally: int | tuple[int, int]) -> bool:
    """A category with complaints, a question or area with answers / audits."""
    return (tally if isinstance(tally, int) else tally[1]) > 0


def _member(kpi: str, tallies: Mapping[str, Mapping[str, Any]]) -> KpiValue:
    """One family member's value from its family's tallies (0 count / null rate without data):
    complaints by category is a count, every other family a rate of (numerator, denominator)."""
    found = _family_member(kpi)
    assert found is not None, kpi
    prefix, suffix = found
    if prefix == BY_CATEGORY:
        return count_value(kpi, tallies[prefix].get(suffix, 0))
    num, den = tallies[prefix].get(suffix, (0, 0))
    return rate_value(kpi, num, den)


# --------------------------------------------------------------------------- complaint clocks


class ComplaintView:
    """What the complaint KPIs need to know about each complaint and stage, from one or more
    complaints' facts (every fact of each complaint it is asked about), under the tenant's
    timescales (the complaints service's own, `shared.complaint_timescales`)."""

    def __init__(self, facts: Facts, calendar: WorkingCalendar, timescales: Timescales) -> None:
        self.calendar = calendar
        self.timescales = timescales
        self.received = first_received(facts)
        # The latest extension of each (complaint, stage), by (sequence, time, event_id).
        self.extension: dict[tuple[str, int], date] = {}
        order: dict[tuple[str, int], tuple[int, datetime, str]] = {}
        for x in unique(facts.complaints_extended):
            k = (x.complaint_id, x.stage)
            o = (x.sequence, x.time, x.event_id)
            if k not in order or o > order[k]:
                order[k] = o
                self.extension[k] = x.new_due_date
        # The start of each later stage: the earliest escalation to it (by date, time, id).
        self.escalated_to: dict[tuple[str, int], date] = {}
        for e in sorted(
            unique(facts.complaints_escalated),
            key=lambda e: (e.escalated_on, e.escalated_at, e.event_id),
        ):
            self.escalated_to.setdefault((e.complaint_id, e.to_stage), e.escalated_on)
        # The first agreed statement of each complaint (by date, time, id), and the London
        # date of its latest review panel, whatever order they arrived in.
        self.statement: dict[str, date] = {}
        for a in sorted(unique(facts.complaints_statements), key=lambda a: (a.agreed_on, a.agreed_at, a.event_id)):
            self.statement.setdefault(a.complaint_id, a.agreed_on)
        self.latest_panel: dict[str, date] = {}
        for p in unique(facts.complaints_panels):
            self.latest_panel[p.complaint_id] = max(p.held_on, self.latest_panel.get(p.complaint_id, p.held_on))

    def in_slice(self, complaint_id: str, filters: Filters) -> bool:
        """The complaint's ComplaintReceived is in the slice (unknown: only when unfiltered)."""
        if not filters.any:
            return True
        r = self.received.get(complaint_id)
        return (
            r is not None
            and filters.matches(r.service_area, r.team)
            and (filters.category is None or r.category == filters.category)
        )

    def requested_on(self, complaint_id: str, stage: int) -> date | None:
        """When the stage was requested: the receipt for the stage the complaint was received
        into (stage 1 always), else the earliest escalation to it; None when unknown."""
        r = self.received.get(complaint_id)
        if r is not None and (stage == 1 or stage == r.stage):
            return r.received_on
        return self.escalated_to.get((complaint_id, stage))

    def statement_start(self, c: ComplaintClosedFact) -> date | None:
        """The complaint's first agreed statement, when it is the closed stage's day 0: a
        stage-2 closing of a tenant whose timescales start stage 2 there."""
        if c.stage == 2 and self.timescales.starts_stage2_at_statement:
            return self.statement.get(c.complaint_id)
        return None

    def stage_start(self, c: ComplaintClosedFact) -> date | None:
        """Day 0 of the closed stage: its request (`requested_on`), except that stage 2
        starts at the complaint's first agreed statement where the tenant's timescales say
        so and one is known; None when unknown."""
        return self.statement_start(c) or self.requested_on(c.complaint_id, c.stage)

    def _procedure(self, complaint_id: str) -> str | None:
        r = self.received.get(complaint_id)
        return r.procedure if r else None

    def due_date(self, c: ComplaintClosedFact) -> date:
        """The stage's effective due date. Stage 3: the ``panel_response``-th working day
        after the latest panel's London date, else the stage's due working days after the
        request, no extension (the reported due date when neither is known). Other stages:
        the latest extension's new due date, else the closing's own due date (stage 2 counted
        from the agreed statement: its due working days after it); never past the stage's
        maximum when its start is known."""
        if c.stage == PANEL_STAGE:
            return self._stage3_due(c)
        timescale = self.timescales.stage(self._procedure(c.complaint_id), c.stage)
        statement = self.statement_start(c)
        # Counted from the agreed statement, the due date is reporting's own: the producer's
        # may count from the escalation.
        reported = c.due_date if statement is None else self.calendar.add_working_days(statement, timescale.due)
        due = self.extension.get((c.complaint_id, c.stage), reported)
        start = self.stage_start(c)
        if start is not None:
            due = min(due, self.calendar.add_working_days(start, timescale.maximum))
        return due

    def _stage3_due(self, c: ComplaintClosedFact) -> date:
        panel = self.latest_panel.get(c.complaint_id)
        if panel is not None:
            return self.calendar.add_working_days(panel, self.timescales.panel_response)
        start = self.stage_start(c)
        if start is None:
            return c.due_date
        return self.calendar.add_working_days(start, self.timescales.stage(self._procedure(c.complaint_id), 3).due)

    def working_days(self, c: ComplaintClosedFact) -> int:
        """Working days after the stage start up to and including the closing date (stage 3:
        from its request, whatever panels were held); the reported ``working_days_taken``
        when the start is unknown."""
        start = self.stage_start(c)
        if start is None:
            return c.working_days_taken
        return self.calendar.working_days_between(start, c.closed_on)

    def panel_within(self, p: ComplaintPanelHeldFact) -> bool | None:
        """The panel was held on or before the ``panel_within``-th working day after the
        stage-3 request; None when the request is unknown (the panel is then in neither part
        of the rate)."""
        requested = self.requested_on(p.complaint_id, PANEL_STAGE)
        if requested is None:
            return None
        return p.held_on <= self.calendar.add_working_days(requested, self.timescales.panel_within)


# --------------------------------------------------------------------------- publication


def apply_publication_rules(
    values: Iterable[KpiValue],
    *,
    detail: bool,
    threshold: int = 5,
    targets: Mapping[str, Target] | None = None,
) -> list[KpiValue]:
    """Small-number suppression, then RAG.

    * Unless ``detail``: a count from 1 to ``threshold``, or a rate (unit ``rate``, the
      average response time included) whose denominator is 1 to ``threshold``, is
      suppressed: ``suppressed=True`` and value, numerator and denominator all None, no RAG.
      Zero counts and empty rates are not suppressed (they identify no one).
    * RAG from the KPI's `Target` (looked up by id, then, for a family member, by the
      family's template id such as ``feedback.positive_rate.<question_id>``): green when
      the target is met, amber when within the tolerance of it, red otherwise; None when
      there is no target or no value.
    """
    targets = targets or {}
    out = []
    for v in values:
        unit = _unit(v.kpi)
        if not detail:
            small = v.numerator if unit == COUNT else v.denominator
            # 0 < small: FTE denominators (workforce) may be fractions; 0.5 FTE is one person
            if small is not None and 0 < small <= threshold:
                out.append(replace(v, value=None, numerator=None, denominator=None, suppressed=True, rag=None))
                continue
        target = targets.get(v.kpi)
        if target is None:
            member = _family_member(v.kpi)
            if member is not None:
                target = targets.get(_FAMILIES[member[0]].id)
        rag = target.rag(float(v.value)) if target is not None and v.value is not None else None
        out.append(replace(v, rag=rag))
    return out


# --------------------------------------------------------------------------- secondary suppression

# KPIs with no team: every other fixed KPI can be read per team (DOMAIN.md: concerns have none).
TEAMLESS = frozenset({"audit.concern_measures_effective_rate"})


def team_kpi_ids() -> list[str]:
    """The fixed KPIs that have a team, in the catalogue's order: the per-team breakdowns'."""
    return [k for k in fixed_kpi_ids() if k not in TEAMLESS]


def is_family_member(kpi: str) -> bool:
    """A KPI of a family (one per survey question, complaint category, audit area or staff
    survey question): it has a team, like the fixed KPIs outside `TEAMLESS`."""
    return kpi.startswith(tuple(_FAMILIES))


def no_cases(kpi: str) -> KpiValue:
    """The KPI's value on no cases (a team without that question, category or area): zero
    for a count, an empty rate; never hidden by secondary suppression."""
    return count_value(kpi, 0) if _unit(kpi) == COUNT else rate_value(kpi, 0, 0)


def _cases(v: KpiValue) -> float:
    """How many cases a published value stands on: a count's value, a rate's denominator."""
    n = v.value if _unit(v.kpi) == COUNT else v.denominator
    return float(n or 0)


def _hidden(v: KpiValue) -> KpiValue:
    return replace(v, value=None, numerator=None, denominator=None, suppressed=True, rag=None, hidden=True)


def protect_lines(values: Sequence[KpiValue], lines: Iterable[Sequence[int]]) -> list[KpiValue]:
    """Secondary suppression over published values (the rule of `report/suppression.py`):
    each line (indexes into ``values``) is a breakdown whose members add up to a total shown
    elsewhere (a count's value, a rate's numerator and denominator). In a line with exactly
    one member suppressed, the shown member on the fewest cases (a count's value, a rate's
    denominator; zero is never hidden; ties: the first) is suppressed too, and again until
    no line changes. Run only for readers without ``reporting:detail``."""
    out = list(values)
    todo = [list(line) for line in lines]
    changed = True
    while changed:
        changed = False
        for line in todo:
            if sum(1 for i in line if out[i].suppressed) != 1:
                continue
            shown = [i for i in line if not out[i].suppressed and _cases(out[i]) > 0]
            if shown:
                smallest = min(shown, key=lambda i: (_cases(out[i]), i))
                out[smallest] = _hidden(out[smallest])
                changed = True
    return out


def team_lines(teams: Sequence[tuple[str, str]]) -> list[list[int]]:
    """The lines of a per-team breakdown of (team, service area) pairs: each service area's
    teams (they add up to that area's tile), then every team (to the slice's). The areas come
    first: a line protected in each area is protected across them all, with no team hidden
    in an area that needs none."""
    lines = [[i for i, (_, a) in enumerate(teams) if a == area] for area in sorted({a for _, a in teams})]
    return [*lines, list(range(len(teams)))]


def protect_teams(line: Sequence[KpiValue], teams: Sequence[tuple[str, str]]) -> list[KpiValue]:
    """The one rule of every by-team table: one KPI's published values across ``teams`` ((team,
    service area) pairs, every team of the breakdown, whatever service area is shown),
    protected along `team_lines`. The report's "Measures by team" and complaints by team, the
    dashboard's figures and complaints by team, and a team-filtered figure
    (`publish_filtered`) all read their cells from it."""
    return protect_lines(line, team_lines(teams))


def protect_categories(values: Sequence[KpiValue]) -> list[KpiValue]:
    """``complaints.by_category.<c>`` add up to ``complaints.received`` (every complaint has one
    category): one suppressed category alone would be the total less the others, and with
    the total suppressed (a small slice, or a team- or category-filtered figure its breakdown
    hides) the categories shown would add up to it. So the line is the categories and the
    total: one of them suppressed alone takes the shown one on the fewest cases with it (never
    the total while a category is shown, since the total has the most)."""
    members = [i for i, v in enumerate(values) if v.kpi.startswith(BY_CATEGORY)]
    total = [i for i, v in enumerate(values) if v.kpi == "complaints.received"]
    return protect_lines(values, [members + total])


def reads_category(kpi: str) -> bool:
    """Whether the ``category`` filter applies to the KPI (the complaints KPIs only)."""
    return kpi.startswith("complaints.")


@dataclass(frozen=True)
class Breakdown:
    """The breakdown a filtered figure belongs to: its members (team or category names), the
    lines they add up along (indexes into ``members``), and per KPI each member's published
    value (small numbers suppressed, no secondary suppression yet)."""

    members: Sequence[str]
    lines: Sequence[Sequence[int]]
    values: Mapping[str, Sequence[KpiValue]]

    def cells(self, member: str) -> dict[str, KpiValue | None]:
        """Per KPI, the member's cell of the protected breakdown (None: not a member)."""
        if member not in self.members:
            return {k: None for k in self.values}
        i = list(self.members).index(member)
        return {k: protect_lines(line, self.lines)[i] for k, line in self.values.items()}


def team_breakdown(teams: Sequence[tuple[str, str]], values: Mapping[str, Sequence[KpiValue]]) -> Breakdown:
    """The per-team breakdown (`protect_teams`'s lines) of ``values`` (per KPI, one per team)."""
    return Breakdown([t for t, _ in teams], team_lines(teams), values)


def category_breakdown(categories: Sequence[str], values: Mapping[str, Sequence[KpiValue]]) -> Breakdown:
    """The breakdown across complaint categories: every complaint has one, so each complaints
    KPI's categories add up to its figure for the slice (a tile)."""
    return Breakdown(list(categories), [list(range(len(categories)))], values)


def publish_filtered(values: Sequence[KpiValue], breakdown: Breakdown, member: str) -> list[KpiValue]:
    """A team- or category-filtered slice's published values for a reader without
    ``reporting:detail``: a value of a KPI of ``breakdown`` is published only if the slice's
    cell (``member``) is published in the protected breakdown; otherwise it reads suppressed
    (so the slice asked for alone never shows what its breakdown hides because a neighbour
    is small). A slice that is not a member of the breakdown has no published cell. A value
    on no cases (a zero count, an empty rate) stands: it identifies no one, as in the
    breakdown. KPIs outside the breakdown stand as they are."""
    cells = breakdown.cells(member)
    out = []
    for v in values:
        if v.kpi in cells and not v.suppressed and _cases(v) > 0:
            cell = cells[v.kpi]
            v = _hidden(v) if cell is None or cell.suppressed else v
        out.append(v)
    return out
