"""KPI figures as SQL over the read models: one statement per group of KPIs, for any number
of periods at once (a single period is a series of one), reading only the rows of those
periods and of the slice through the (tenant, date) indexes.

Each statement takes the tenant ($1), the periods as arrays of first and last days ($2, $3;
``WITH ORDINALITY`` numbers them from 1), and the slice ($4 service area, $5 team; NULL =
all); the complaints statements also take the category ($6), which no other KPI reads.
Rows a derived column says are not counted (an audit's earlier gradings, an action's later
completions) are left out by the ``d_*`` columns that `readmodels.py` keeps. How each reads
DOMAIN.md is said beside it; the general rules are in `kpis.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.reporting.kpis import (
    AREA_GOOD,
    BY_CATEGORY,
    POSITIVE_RATE,
    SURVEY_POSITIVE_RATE,
    Filters,
    KpiValue,
    assemble,
    count_value,
    rate_value,
)
from services.reporting.workforce import TeamQuarter
from shared.calendar import Period, add_months

PERIODS = "unnest($2::date[], $3::date[]) WITH ORDINALITY AS p(s, e, i)"


def _slice(alias: str, area: str = "service_area", team: str = "team") -> str:
    return f"($4::text IS NULL OR {alias}.{area} = $4) AND ($5::text IS NULL OR {alias}.{team} = $5)"


def _complaint_slice(alias: str, category: str = "d_category", *, derived: bool = True) -> str:
    """The slice of a complaint's fact: its complaint's service area and team ($4, $5; the
    `d_*` columns, or the fact's own for ComplaintReceived) and category ($6: complaints
    KPIs only)."""
    area_team = _slice(alias, "d_service_area", "d_team") if derived else _slice(alias)
    return f"{area_team} AND ($6::text IS NULL OR {alias}.{category} = $6)"


@dataclass(frozen=True)
class Group:
    """A group of KPIs computed by one statement; ``values`` turns one period's row into
    KPI values."""

    name: str
    kpis: tuple[str, ...]
    sql: str

    def values(self, row: dict[str, Any]) -> list[KpiValue]:
        return _BUILDERS[self.name](row)


def _audits(s: str) -> str:
    """audit.*: each audit once — its latest grading (`d_counted`) — in the period of that
    grading's completion date, with its grade after the latest moderation (`d_grade`).
    On time: the completion date <= the due date of the audit's AuditScheduled with the
    highest sequence (`d_due_date`), over audits with a known schedule. EHCP procedure
    compliance: over `ehcp` audits whose counted grading carries procedure_compliant."""
    return f"""SELECT p.i, count(a.key) AS n,
                   count(*) FILTER (WHERE a.d_grade IN ('outstanding', 'good')) AS good,
                   count(*) FILTER (WHERE a.d_grade = 'requires_improvement') AS ri,
                   count(*) FILTER (WHERE a.d_grade = 'inadequate') AS inadequate,
                   count(a.d_due_date) AS scheduled,
                   count(*) FILTER (WHERE a.completed_on <= a.d_due_date) AS on_time,
                   count(*) FILTER (WHERE a.audit_type = 'ehcp' AND a.procedure_compliant IS NOT NULL) AS ehcp,
                   count(*) FILTER (WHERE a.audit_type = 'ehcp' AND a.procedure_compliant) AS compliant
            FROM {PERIODS}
            JOIN {s}.audit_graded a ON a.tenant = $1 AND a.d_counted AND a.completed_on BETWEEN p.s AND p.e
             AND {_slice("a")}
            GROUP BY p.i"""


def _areas(s: str) -> str:
    """audit.area_good_or_better_rate.<area>: over the audits counted in the period (as
    `_audits`), those whose counted grading graded the area; good or better by the auditor's
    area grade (moderation changes the overall grade only). An area listed twice in one
    grading counts once (its best grade)."""
    return f"""SELECT p.i, g.area, count(DISTINCT a.key) FILTER (WHERE g.grade IN ('outstanding', 'good')) AS good,
                   count(DISTINCT a.key) AS graded
            FROM {PERIODS}
            JOIN {s}.audit_graded a ON a.tenant = $1 AND a.d_counted AND a.completed_on BETWEEN p.s AND p.e
             AND {_slice("a")}
            CROSS JOIN LATERAL jsonb_to_recordset(a.area_grades) AS g(area text, grade text)
            GROUP BY p.i, g.area"""


def _concerns(s: str) -> str:
    """audit.concern_measures_effective_rate: each concern once, by its first resolution
    that carries an outcome (`d_counted`), in the period of that resolution's date; the
    service area is the concern's (unknown: only unfiltered); concerns have no team, so a
    team filter leaves none."""
    return f"""SELECT p.i, count(x.key) AS resolved, count(*) FILTER (WHERE x.outcome = 'effective') AS effective
            FROM {PERIODS}
            LEFT JOIN {s}.concern_resolved x ON x.tenant = $1 AND x.d_counted AND x.resolved_on BETWEEN p.s AND p.e
             AND ($4::text IS NULL OR x.d_service_area = $4) AND $5::text IS NULL
            GROUP BY p.i"""


def _feedback(s: str) -> str:
    """feedback.responses (responses received) and compliments by origin."""
    return f"""SELECT p.i,
                   (SELECT count(*) FROM {s}.feedback x
                    WHERE x.tenant = $1 AND x.received_on BETWEEN p.s AND p.e AND {_slice("x")}) AS responses,
                   (SELECT count(*) FROM {s}.compliment x WHERE x.tenant = $1 AND x.origin = 'external'
                      AND x.received_on BETWEEN p.s AND p.e AND {_slice("x")}) AS external,
                   (SELECT count(*) FROM {s}.compliment x WHERE x.tenant = $1 AND x.origin = 'internal'
                      AND x.received_on BETWEEN p.s AND p.e AND {_slice("x")}) AS internal
            FROM {PERIODS}"""


def _positive(s: str) -> str:
    """feedback.positive_rate.<q>: positive answers / answers with a value (skipped ones in
    neither), over responses received in the period."""
    return f"""SELECT p.i, a.question_id, count(*) FILTER (WHERE a.positive) AS positive,
                   count(a.positive) AS answers
            FROM {PERIODS}
            JOIN {s}.feedback_answer a ON a.tenant = $1 AND a.received_on BETWEEN p.s AND p.e AND {_slice("a")}
            GROUP BY p.i, a.question_id"""


def _categories(s: str) -> str:
    """complaints.by_category.<c>: complaints received in the period, per category."""
    received_slice = _complaint_slice("r", "category", derived=False)
    return f"""SELECT p.i, r.category, count(*) AS n
            FROM {PERIODS}
            JOIN {s}.complaint_received r ON r.tenant = $1 AND r.received_on BETWEEN p.s AND p.e AND {received_slice}
            GROUP BY p.i, r.category"""


def _complaints(s: str) -> str:
    """complaints.*: received counts ComplaintReceived (any stage); the rest are per closing
    dated in the period, in the slice of its complaint's ComplaintReceived (unknown: only
    unfiltered): outcome rates over closings not withdrawn; within timescale = closing date
    <= the stage's effective due date (`d_due_date`); average = working days (`d_working_days`)
    / closings; resolved at stage 1 = stage-1 closings not withdrawn / closings; escalation
    rate = escalations 1 -> 2 dated in the period / stage-1 closings."""
    closing_slice = _complaint_slice("c")
    escalation_slice = _complaint_slice("x")
    received_slice = _complaint_slice("x", "category", derived=False)
    return f"""SELECT p.i,
                   (SELECT count(*) FROM {s}.complaint_received x
                    WHERE x.tenant = $1 AND x.received_on BETWEEN p.s AND p.e AND {received_slice}) AS received,
                   (SELECT count(*) FROM {s}.complaint_escalated x
                    WHERE x.tenant = $1 AND x.from_stage = 1 AND x.to_stage = 2
                      AND x.escalated_on BETWEEN p.s AND p.e AND {escalation_slice}) AS escalations,
                   c.*
            FROM {PERIODS}
            CROSS JOIN LATERAL (
                SELECT count(*) AS n,
                       count(*) FILTER (WHERE c.outcome <> 'withdrawn') AS decided,
                       count(*) FILTER (WHERE c.outcome = 'upheld') AS upheld,
                       count(*) FILTER (WHERE c.outcome = 'partially_upheld') AS partially,
                       count(*) FILTER (WHERE c.outcome = 'not_upheld') AS not_upheld,
                       count(*) FILTER (WHERE c.closed_on <= c.d_due_date) AS within,
                       coalesce(sum(c.d_working_days), 0) AS days,
                       count(*) FILTER (WHERE c.stage = 1) AS stage1,
                       count(*) FILTER (WHERE c.stage = 1 AND c.outcome <> 'withdrawn') AS stage1_resolved
                FROM {s}.complaint_closed c
                WHERE c.tenant = $1 AND c.closed_on BETWEEN p.s AND p.e AND {closing_slice}
            ) c"""


def _complaint_reviews(s: str) -> str:
    """complaints.* of the 2026-12 rules, each fact in its complaint's slice (unknown: only
    unfiltered): panels held in the period within 30 working days of the stage-3 request
    (`d_within`; null — request unknown — in neither part); escalations dated in the period
    flagged late_request; Ombudsman referrals by referred_at; decisions by decided_at, fault
    over those other than not_investigated."""
    return f"""SELECT p.i, pn.*, le.*, o.*, d.*
            FROM {PERIODS}
            CROSS JOIN LATERAL (SELECT count(x.d_within) AS panels, count(*) FILTER (WHERE x.d_within) AS panels_in_time
                FROM {s}.complaint_panel_held x
                WHERE x.tenant = $1 AND x.held_on BETWEEN p.s AND p.e AND {_complaint_slice("x")}) pn
            CROSS JOIN LATERAL (SELECT count(*) AS late_escalations FROM {s}.complaint_escalated x
                WHERE x.tenant = $1 AND x.late_request AND x.escalated_on BETWEEN p.s AND p.e
                  AND {_complaint_slice("x")}) le
            CROSS JOIN LATERAL (SELECT count(*) AS referrals FROM {s}.ombudsman_referral x
                WHERE x.tenant = $1 AND x.referred_on BETWEEN p.s AND p.e AND {_complaint_slice("x")}) o
            CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE x.finding <> 'not_investigated') AS decisions,
                       count(*) FILTER (WHERE x.finding = 'fault') AS faults
                FROM {s}.ombudsman_decision x
                WHERE x.tenant = $1 AND x.decided_on BETWEEN p.s AND p.e AND {_complaint_slice("x")}) d"""


def _casework(s: str) -> str:
    """casework.* and send.*: assessments completed by the 45th working day after the start
    (`d_within`); referrals with an earlier referral of the child within 12 months
    (`d_re_referral`); plans issued without an exception within 140 days (`d_within`), and
    every plan issued, exceptions included, within 140 days; contact attempts that reached
    the worker."""
    return f"""SELECT p.i, a.*, r.*, h.*, c.*
            FROM {PERIODS}
            CROSS JOIN LATERAL (SELECT count(*) AS assessments, count(*) FILTER (WHERE x.d_within) AS assessed_in_time
                FROM {s}.assessment x WHERE x.tenant = $1 AND x.completed_on BETWEEN p.s AND p.e AND {_slice("x")}) a
            CROSS JOIN LATERAL (SELECT count(*) AS referrals, count(*) FILTER (WHERE x.d_re_referral) AS re_referrals
                FROM {s}.referral x WHERE x.tenant = $1 AND x.received_on BETWEEN p.s AND p.e AND {_slice("x")}) r
            CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT x.exception) AS plans,
                       count(*) FILTER (WHERE x.d_within AND NOT x.exception) AS plans_in_time,
                       count(*) AS all_plans, count(*) FILTER (WHERE x.d_within) AS all_plans_in_time
                FROM {s}.ehcp x WHERE x.tenant = $1
                  AND x.issued_on BETWEEN p.s AND p.e AND {_slice("x")}) h
            CROSS JOIN LATERAL (SELECT count(*) AS attempts, count(*) FILTER (WHERE x.reached) AS reached
                FROM {s}.contact_attempt x WHERE x.tenant = $1
                  AND x.attempted_on BETWEEN p.s AND p.e AND {_slice("x")}) c"""


def _learning(s: str) -> str:
    """learning.*: open / overdue at E ($6: today when the period contains it, else its end;
    open = opened on or before E and not closed by E, overdue = open with due date before E),
    read from the open rows and the rows closed after E only; closed on time = closed in the
    period on or before the due date / closed in the period; actions: each action's first
    completion dated in the period whose ActionRaised is known (slice and due date of that),
    on time when completed on or before the due date."""
    return f"""SELECT p.i, o.*, c.*, a.*
            FROM unnest($2::date[], $3::date[], $6::date[]) WITH ORDINALITY AS p(s, e, at_end, i)
            CROSS JOIN LATERAL (
                SELECT count(*) AS open, count(*) FILTER (WHERE x.due_date < p.at_end) AS overdue
                FROM (SELECT due_date FROM {s}.followups x
                      WHERE x.tenant = $1 AND x.closed_on IS NULL AND x.opened_on <= p.at_end AND {_slice("x")}
                      UNION ALL
                      SELECT due_date FROM {s}.followups x
                      WHERE x.tenant = $1 AND x.closed_on > p.at_end AND x.opened_on <= p.at_end AND {_slice("x")}) x
            ) o
            CROSS JOIN LATERAL (
                SELECT count(*) AS closed, count(*) FILTER (WHERE x.closed_on <= x.due_date) AS closed_on_time
                FROM {s}.followups x WHERE x.tenant = $1 AND x.closed_on BETWEEN p.s AND p.e AND {_slice("x")}
            ) c
            CROSS JOIN LATERAL (
                SELECT count(*) AS completed, count(*) FILTER (WHERE x.completed_on <= x.d_due_date) AS on_time
                FROM {s}.action_completed x
                WHERE x.tenant = $1 AND x.d_first AND x.d_known AND x.completed_on BETWEEN p.s AND p.e
                  AND {_slice("x", "d_service_area", "d_team")}
            ) a"""


# --------------------------------------------------------------------------- workforce

_SOCIAL_WORKER = "IN ('social_worker', 'senior', 'manager')"  # shared.events.SOCIAL_WORKER_ROLES


def in_post(alias: str, day: str) -> str:
    """The record is in post at the end of ``day`` (services/reporting/workforce.py)."""
    return f"{alias}.joined_on <= {day} AND ({alias}.d_until IS NULL OR {alias}.d_until > {day})"


def _stability(s: str) -> str:
    """workforce.stability_rate's part of `_workforce`: employed social workers in post at the
    end (headcount), and those of them who were employed social workers in post (any team)
    at the end of the day 12 calendar months earlier (p.a)."""
    sw = f"x.role {_SOCIAL_WORKER}"
    return f"""CROSS JOIN LATERAL (
                SELECT count(*) AS headcount,
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM {s}.staff_joined y
                           WHERE y.tenant = $1 AND y.worker_id = x.worker_id AND y.role {_SOCIAL_WORKER}
                             AND y.contract = 'employed' AND {in_post("y", "p.a")})) AS stable
                FROM {s}.staff_joined x
                WHERE x.tenant = $1 AND {sw} AND x.contract = 'employed' AND {in_post("x", "p.e")} AND {_slice("x")}
            ) st"""


def _workforce(s: str) -> str:
    """workforce.* ($6: per period, the day 12 calendar months before its end). Social workers
    are roles social_worker, senior and manager; a record is in post at the end of day D when
    joined_on <= D < d_until (`workforce.staff_timeline`); the period's start is the end of
    the day before it (p.s - 1). Slices take the team and service area of the record in post
    (a leaver: the ended record, `d_*`; a vacancy: the team's latest record's). Turnover =
    FTE of employed social workers whose leave (ending a spell) is dated in the period / mean
    employed FTE at start and end; vacancy = each team's latest vacant FTE on or before the
    end (by as_of, sequence, time, event id) / (that + employed FTE at the end); agency =
    agency FTE / (agency + employed FTE) at the end; caseload = each case-holding social
    worker's (either contract) latest cases on or before the end (0 if none) / their FTE;
    stability = employed social workers in post at the end who were employed social workers
    in post (any team) at the end of the day 12 months earlier / employed in post (headcount)."""
    sw = f"x.role {_SOCIAL_WORKER}"
    return f"""SELECT p.i, w.*, l.*, v.*, c.*, st.*
            FROM unnest($2::date[], $3::date[], $6::date[]) WITH ORDINALITY AS p(s, e, a, i)
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(x.fte) FILTER (WHERE x.contract = 'employed' AND {in_post("x", "p.e")}), 0)
                           AS employed_end,
                       coalesce(sum(x.fte) FILTER (WHERE x.contract = 'employed' AND {in_post("x", "p.s - 1")}), 0)
                           AS employed_start,
                       coalesce(sum(x.fte) FILTER (WHERE x.contract = 'agency' AND {in_post("x", "p.e")}), 0)
                           AS agency_end
                FROM {s}.staff_joined x
                WHERE x.tenant = $1 AND {sw} AND x.joined_on <= p.e
                  AND (x.d_until IS NULL OR x.d_until > p.s - 1) AND {_slice("x")}
            ) w
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(x.d_fte), 0) AS leavers_fte
                FROM {s}.staff_left x
                WHERE x.tenant = $1 AND x.d_counted AND x.left_on BETWEEN p.s AND p.e
                  AND x.d_contract = 'employed' AND x.d_role {_SOCIAL_WORKER}
                  AND {_slice("x", "d_service_area", "d_team")}
            ) l
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(v.vacant_fte), 0) AS vacant_fte
                FROM (SELECT DISTINCT ON (x.team) x.vacant_fte, x.service_area
                      FROM {s}.vacancy x
                      WHERE x.tenant = $1 AND x.as_of <= p.e AND ($5::text IS NULL OR x.team = $5)
                      ORDER BY x.team, x.as_of DESC, x.sequence DESC, x.time DESC, x.event_id DESC) v
                WHERE $4::text IS NULL OR v.service_area = $4
            ) v
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(k.cases), 0) AS cases, coalesce(sum(x.fte), 0) AS caseload_fte
                FROM {s}.staff_joined x
                LEFT JOIN LATERAL (
                    SELECT y.cases FROM {s}.caseload y
                    WHERE y.tenant = $1 AND y.worker_id = x.worker_id AND y.as_of <= p.e
                    ORDER BY y.as_of DESC, y.sequence DESC, y.time DESC, y.event_id DESC LIMIT 1
                ) k ON true
                WHERE x.tenant = $1 AND {sw} AND x.case_holding AND {in_post("x", "p.e")} AND {_slice("x")}
            ) c
            {_stability(s)}"""


def _staff_positive(s: str) -> str:
    """workforce.survey_positive_rate.<q>: positive answers / answers with a value, over staff
    survey responses received in the period (a response without a team: outside a team filter)."""
    return f"""SELECT p.i, a.question_id, count(*) FILTER (WHERE a.positive) AS positive,
                   count(a.positive) AS answers
            FROM {PERIODS}
            JOIN {s}.staff_survey_answer a ON a.tenant = $1 AND a.received_on BETWEEN p.s AND p.e AND {_slice("a")}
            GROUP BY p.i, a.question_id"""


def _fte(row: dict[str, Any], name: str) -> Decimal:
    value = row.get(name)
    return Decimal(value) if value is not None else Decimal(0)


def fte_rate(kpi: str, numerator: Decimal, denominator: Decimal) -> KpiValue:
    """A rate over FTE, computed in exact decimals: fractional numerator and denominator."""
    value = float(numerator / denominator) if denominator else None
    return KpiValue(kpi, value, float(numerator), float(denominator))


def _workforce_values(r: dict[str, Any]) -> list[KpiValue]:
    employed_end, vacant, agency = _fte(r, "employed_end"), _fte(r, "vacant_fte"), _fte(r, "agency_end")
    return [
        fte_rate("workforce.turnover_rate", _fte(r, "leavers_fte"), (_fte(r, "employed_start") + employed_end) / 2),
        fte_rate("workforce.vacancy_rate", vacant, vacant + employed_end),
        fte_rate("workforce.agency_rate", agency, agency + employed_end),
        fte_rate("workforce.average_caseload", _fte(r, "cases"), _fte(r, "caseload_fte")),
        rate_value("workforce.stability_rate", _n(r, "stable"), _n(r, "headcount")),
    ]


async def workforce_quarters(
    conn: asyncpg.Connection, schema: str, tenant: str, team: str, quarters: Sequence[Period]
) -> list[TeamQuarter]:
    """One team's turnover rate and average caseload per quarter (the KPIs' own statement),
    with the service area of its records in post at each quarter's end (the least, should
    there be several; None when none is in post) — what the workforce-review rule reads."""
    args = (tenant, [q.start for q in quarters], [q.end for q in quarters], None, team)
    rows = {
        r["i"]: dict(r) for r in await conn.fetch(_workforce(schema), *args, [add_months(q.end, -12) for q in quarters])
    }
    areas = await conn.fetch(
        f"""SELECT p.i, min(x.service_area) AS service_area
            FROM unnest($2::date[]) WITH ORDINALITY AS p(e, i)
            JOIN {schema}.staff_joined x ON x.tenant = $1 AND x.team = $3 AND {in_post("x", "p.e")}
            GROUP BY p.i""",
        tenant,
        [q.end for q in quarters],
        team,
    )
    area_of = {r["i"]: r["service_area"] for r in areas}
    out = []
    for i, q in enumerate(quarters, 1):
        values = {v.kpi: v.value for v in _workforce_values(rows.get(i, {}))}
        out.append(
            TeamQuarter(
                team, area_of.get(i), q, values["workforce.turnover_rate"], values["workforce.average_caseload"]
            )
        )
    return out


def _n(row: dict[str, Any], name: str) -> int:
    return int(row.get(name) or 0)


_BUILDERS: dict[str, Any] = {
    "audits": lambda r: [
        count_value("audit.completed", _n(r, "n")),
        rate_value("audit.good_or_better_rate", _n(r, "good"), _n(r, "n")),
        rate_value("audit.requires_improvement_rate", _n(r, "ri"), _n(r, "n")),
        rate_value("audit.inadequate_rate", _n(r, "inadequate"), _n(r, "n")),
        rate_value("audit.completed_on_time_rate", _n(r, "on_time"), _n(r, "scheduled")),
        rate_value("audit.ehcp_procedure_compliance_rate", _n(r, "compliant"), _n(r, "ehcp")),
    ],
    "concerns": lambda r: [
        rate_value("audit.concern_measures_effective_rate", _n(r, "effective"), _n(r, "resolved")),
    ],
    "feedback": lambda r: [
        count_value("feedback.responses", _n(r, "responses")),
        count_value("compliments.external", _n(r, "external")),
        count_value("compliments.internal", _n(r, "internal")),
    ],
    "complaints": lambda r: [
        count_value("complaints.received", _n(r, "received")),
        count_value("complaints.closed", _n(r, "n")),
        rate_value("complaints.upheld_rate", _n(r, "upheld"), _n(r, "decided")),
        rate_value("complaints.partially_upheld_rate", _n(r, "partially"), _n(r, "decided")),
        rate_value("complaints.not_upheld_rate", _n(r, "not_upheld"), _n(r, "decided")),
        rate_value("complaints.within_timescale_rate", _n(r, "within"), _n(r, "n")),
        rate_value("complaints.resolved_at_stage1_rate", _n(r, "stage1_resolved"), _n(r, "n")),
        rate_value("complaints.escalation_rate", _n(r, "escalations"), _n(r, "stage1")),
        rate_value("complaints.average_response_working_days", _n(r, "days"), _n(r, "n")),
    ],
    "complaint_reviews": lambda r: [
        rate_value("complaints.panel_within_timescale_rate", _n(r, "panels_in_time"), _n(r, "panels")),
        count_value("complaints.late_escalations", _n(r, "late_escalations")),
        count_value("complaints.ombudsman_referrals", _n(r, "referrals")),
        rate_value("complaints.ombudsman_fault_rate", _n(r, "faults"), _n(r, "decisions")),
    ],
    "casework": lambda r: [
        rate_value("casework.assessment_within_45_days_rate", _n(r, "assessed_in_time"), _n(r, "assessments")),
        rate_value("casework.re_referral_rate", _n(r, "re_referrals"), _n(r, "referrals")),
        rate_value("send.ehcp_within_20_weeks_rate", _n(r, "plans_in_time"), _n(r, "plans")),
        rate_value("send.ehcp_within_20_weeks_incl_exceptions_rate", _n(r, "all_plans_in_time"), _n(r, "all_plans")),
        rate_value("casework.contact_success_rate", _n(r, "reached"), _n(r, "attempts")),
    ],
    "learning": lambda r: [
        count_value("learning.followups_open", _n(r, "open")),
        count_value("learning.followups_overdue", _n(r, "overdue")),
        rate_value("learning.followups_closed_on_time_rate", _n(r, "closed_on_time"), _n(r, "closed")),
        rate_value("learning.actions_completed_on_time_rate", _n(r, "on_time"), _n(r, "completed")),
    ],
    "workforce": _workforce_values,
}

_GROUP_SQL = {
    "audits": _audits,
    "concerns": _concerns,
    "feedback": _feedback,
    "complaints": _complaints,
    "complaint_reviews": _complaint_reviews,
    "casework": _casework,
}
# The statements that read the category filter ($6): the complaints KPIs' only.
_CATEGORY_GROUPS = frozenset({"complaints", "complaint_reviews"})
_KPIS_OF_GROUP = {name: tuple(v.kpi for v in build({})) for name, build in _BUILDERS.items()}
_GROUP_OF_KPI = {kpi: name for name, kpis in _KPIS_OF_GROUP.items() for kpi in kpis}


def _groups_for(wanted: list[str] | None) -> set[str]:
    """The statements (groups) the KPI ids need; every group for every KPI."""
    if wanted is None:
        return set(_BUILDERS)
    return {_GROUP_OF_KPI[k] for k in wanted if k in _GROUP_OF_KPI}


def _wants_family(wanted: list[str] | None, prefix: str) -> bool:
    """Whether any KPI of a family (one per question or category) is wanted."""
    return wanted is None or any(k.startswith(prefix) for k in wanted)


def _nothing(n: int) -> list[dict[str, Any]]:
    """No values of a family in any of n periods (its statement is not run)."""
    return [{} for _ in range(n)]


@dataclass
class KpiQueries:
    """Every KPI for periods and a slice, straight from the read models."""

    schema: str = "reporting"

    async def values(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        periods: Sequence[Period],
        filters: Filters,
        *,
        today: date,
        kpi_ids: Iterable[str] | None = None,
    ) -> list[list[KpiValue]]:
        """Per period (in the order given), the KPI values in the published order (see
        `kpis.assemble`); with ``kpi_ids``, only the statements those ids need run."""
        wanted = None if kpi_ids is None else list(dict.fromkeys(kpi_ids))
        args = (tenant, [p.start for p in periods], [p.end for p in periods], filters.service_area, filters.team)
        n = len(periods)
        per = await self._groups(conn, _groups_for(wanted), args, periods, today, filters.category)
        positive = await self._positive_answers(conn, args, n) if _wants_family(wanted, POSITIVE_RATE) else _nothing(n)
        by_category = (*args, filters.category)
        categories = (
            await self._category_counts(conn, by_category, n) if _wants_family(wanted, BY_CATEGORY) else _nothing(n)
        )
        areas = await self._area_tallies(conn, args, n) if _wants_family(wanted, AREA_GOOD) else _nothing(n)
        staff = await self._staff_answers(conn, args, n) if _wants_family(wanted, SURVEY_POSITIVE_RATE) else _nothing(n)
        return [
            assemble(per[i], positive[i], categories[i], wanted, areas=areas[i], staff_positive=staff[i])
            for i in range(n)
        ]

    async def _groups(
        self,
        conn: asyncpg.Connection,
        groups: set[str],
        args: tuple[Any, ...],
        periods: Sequence[Period],
        today: date,
        category: str | None = None,
    ) -> list[dict[str, KpiValue]]:
        """Per period, the values of the groups' KPIs, one statement per group (in name order)."""
        per: list[dict[str, KpiValue]] = [{} for _ in periods]
        for name in sorted(groups):
            if name == "learning":
                ends = [today if p.contains(today) else p.end for p in periods]
                rows = await conn.fetch(_learning(self.schema), *args, ends)
            elif name in _CATEGORY_GROUPS:
                rows = await conn.fetch(_GROUP_SQL[name](self.schema), *args, category)
            elif name == "workforce":
                rows = await conn.fetch(_workforce(self.schema), *args, [add_months(p.end, -12) for p in periods])
            else:
                rows = await conn.fetch(_GROUP_SQL[name](self.schema), *args)
            by_i = {r["i"]: dict(r) for r in rows}
            for i in range(len(periods)):
                for v in _BUILDERS[name](by_i.get(i + 1, {})):
                    per[i][v.kpi] = v
        return per

    async def _positive_answers(
        self, conn: asyncpg.Connection, args: tuple[Any, ...], n: int
    ) -> list[dict[str, tuple[int, int]]]:
        """Per period, (positive answers, answers) by question id."""
        positive: list[dict[str, tuple[int, int]]] = [{} for _ in range(n)]
        for r in await conn.fetch(_positive(self.schema), *args):
            positive[r["i"] - 1][r["question_id"]] = (int(r["positive"]), int(r["answers"]))
        return positive

    async def _staff_answers(
        self, conn: asyncpg.Connection, args: tuple[Any, ...], n: int
    ) -> list[dict[str, tuple[int, int]]]:
        """Per period, (positive answers, answers) by staff survey question id."""
        staff: list[dict[str, tuple[int, int]]] = [{} for _ in range(n)]
        for r in await conn.fetch(_staff_positive(self.schema), *args):
            staff[r["i"] - 1][r["question_id"]] = (int(r["positive"]), int(r["answers"]))
        return staff

    async def _category_counts(self, conn: asyncpg.Connection, args: tuple[Any, ...], n: int) -> list[dict[str, int]]:
        """Per period, complaints received by category."""
        categories: list[dict[str, int]] = [{} for _ in range(n)]
        for r in await conn.fetch(_categories(self.schema), *args):
            categories[r["i"] - 1][r["category"]] = int(r["n"])
        return categories

    async def _area_tallies(
        self, conn: asyncpg.Connection, args: tuple[Any, ...], n: int
    ) -> list[dict[str, tuple[int, int]]]:
        """Per period, (audits good or better in the area, audits that graded it) by area."""
        areas: list[dict[str, tuple[int, int]]] = [{} for _ in range(n)]
        for r in await conn.fetch(_areas(self.schema), *args):
            areas[r["i"] - 1][r["area"]] = (int(r["good"]), int(r["graded"]))
        return areas

    async def members(self, conn: asyncpg.Connection, tenant: str) -> dict[str, list[str]]:
        """The question ids and categories this tenant has seen, per family prefix."""
        rows = await conn.fetch(
            f"SELECT family, member FROM {self.schema}.kpi_member WHERE tenant = $1 ORDER BY member", tenant
        )
        out: dict[str, list[str]] = {POSITIVE_RATE: [], BY_CATEGORY: [], AREA_GOOD: [], SURVEY_POSITIVE_RATE: []}
        for r in rows:
            out.setdefault(r["family"], []).append(r["member"])
        return out
