"""The 2026-12 audit additions (DOMAIN.md "Added rules (2026-12)" and their "Precise readings"),
worked out by hand and computed by the real read models (events turned into facts, facts
written, derived columns kept, KPI SQL, follow-ups derived in the batch) on the run's
PostgreSQL (`tests/support/readmodels.py`: each call in a tenant of its own).

Calendar facts used below (England): Mon 19 Sep 2022 Queen's funeral; Mon 26 / Tue 27 Dec
2022 Boxing Day and Christmas substitute; Mon 2 Jan 2023 New Year substitute. BST ends on
Sun 30 Oct 2022.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime
from typing import Any

import pytest

from services.reporting.facts import fact_from_event
from services.reporting.kpis import Filters, KpiValue, catalogue
from shared import events as ev
from shared.calendar import default_calendar, parse_period

CAL = default_calendar()
Q2 = parse_period("2022-23-Q2")
Q3 = parse_period("2022-23-Q3")
TODAY = date(2024, 6, 1)
ALL = Filters()
_ids = itertools.count(1)

pytestmark = pytest.mark.integration
H: Any = None


@pytest.fixture(autouse=True, scope="module")
def _harness(readmodels):
    global H
    H = readmodels


def fact(data: ev.EventData, *, seq: int = 1, time: str | None = None, source: str = "/qaloop/audit") -> Any:
    envelope = ev.new_event(
        data,
        source=source,
        tenant="E1",
        sequence=seq,
        event_id=f"e{next(_ids):05d}",
        time=datetime.fromisoformat(time) if time else None,
    )
    return fact_from_event(envelope, data)


def load(facts: list[Any], **kw: Any) -> str:
    return H.load(facts, calendar=CAL, **kw)


def values(tenant: str, period=Q2, filters=ALL, kpi_ids=None) -> dict[str, KpiValue]:
    (vs,) = H.figures(tenant, [period], filters, today=TODAY, kpi_ids=kpi_ids)
    return {v.kpi: v for v in vs}


def rate(v: KpiValue) -> tuple[Any, Any, Any]:
    return (v.value, v.numerator, v.denominator)


def scheduled(audit_id: str, due: str, *, audit_type: str = "routine") -> ev.AuditScheduled:
    return ev.AuditScheduled(
        audit_id=audit_id,
        case_ref=f"case-{audit_id}",
        service_area="send",
        team="t1",
        audit_type=audit_type,
        auditor_id="u1",
        due_date=due,
    )


def graded(
    audit_id: str,
    completed_at: str,
    areas: dict[str, str],
    *,
    audit_type: str = "routine",
    compliant: bool | None = None,
    team: str = "t1",
    area: str = "send",
) -> ev.AuditGraded:
    grades = [{"area": a, "grade": g} for a, g in areas.items()]
    worst = max((ev.Grade(g) for g in areas.values()), key=lambda g: g.rank)
    return ev.AuditGraded(
        audit_id=audit_id,
        case_ref=f"case-{audit_id}",
        service_area=area,
        team=team,
        audit_type=audit_type,
        completed_at=completed_at,
        area_grades=grades,
        overall_grade=worst,
        auditor_id="u1",
        procedure_compliant=compliant,
    )


def moderated(audit_id: str, before: str, after: str, at_: str) -> ev.AuditModerated:
    return ev.AuditModerated(
        audit_id=audit_id,
        overall_grade_before=before,
        overall_grade_after=after,
        moderator_id="u2",
        moderated_at=at_,
    )


# --------------------------------------------------------------------------- catalogue


def test_catalogue_has_the_new_ids_and_the_area_family():
    ids = [d.id for d in catalogue(areas=["planning", "recording"])]
    for kpi in (
        "send.ehcp_within_20_weeks_incl_exceptions_rate",
        "audit.completed_on_time_rate",
        "audit.ehcp_procedure_compliance_rate",
        "audit.concern_measures_effective_rate",
        "audit.area_good_or_better_rate.<area>",
        "audit.area_good_or_better_rate.planning",
        "audit.area_good_or_better_rate.recording",
    ):
        assert kpi in ids
    assert ids.index("audit.area_good_or_better_rate.planning") < ids.index("audit.area_good_or_better_rate.recording")


# --------------------------------------------------------------------------- areas


def test_area_rates_use_the_auditors_area_grades_even_after_moderation():
    tenant = load(
        [
            fact(graded("a1", "2022-07-05T10:00:00Z", {"planning": "good", "recording": "requires_improvement"})),
            fact(graded("a2", "2022-08-05T10:00:00Z", {"planning": "requires_improvement", "recording": "good"})),
            fact(graded("a3", "2022-09-05T10:00:00Z", {"planning": "outstanding"})),  # recording not graded
            # a second reader moves a1's overall grade to good: its area grades stay the auditor's
            fact(moderated("a1", "requires_improvement", "good", "2022-07-20T10:00:00Z"), seq=2),
            fact(graded("a4", "2022-10-05T10:00:00Z", {"planning": "inadequate"})),  # Q3
        ]
    )
    v = values(tenant)
    assert rate(v["audit.area_good_or_better_rate.planning"]) == (2 / 3, 2, 3)
    assert rate(v["audit.area_good_or_better_rate.recording"]) == (0.5, 1, 2)
    assert rate(v["audit.good_or_better_rate"]) == (2 / 3, 2, 3)  # a1 moderated to good
    q3 = values(tenant, Q3)
    assert rate(q3["audit.area_good_or_better_rate.planning"]) == (0.0, 0, 1)
    assert "audit.area_good_or_better_rate.recording" not in q3  # no data in the slice
    named = values(tenant, Q3, kpi_ids=["audit.area_good_or_better_rate.recording"])
    assert rate(named["audit.area_good_or_better_rate.recording"]) == (None, 0, 0)


def test_area_rates_count_the_latest_grading_only_and_follow_filters():
    tenant = load(
        [
            fact(graded("a1", "2022-07-05T10:00:00Z", {"planning": "inadequate"}), seq=2),
            fact(graded("a1", "2022-07-06T10:00:00Z", {"planning": "good"}), seq=3),
            fact(graded("a2", "2022-07-06T10:00:00Z", {"planning": "good"}, team="t2")),
        ]
    )
    assert rate(values(tenant)["audit.area_good_or_better_rate.planning"]) == (1.0, 2, 2)
    t2 = values(tenant, filters=Filters(team="t2"))
    assert rate(t2["audit.area_good_or_better_rate.planning"]) == (1.0, 1, 1)
    other = values(tenant, filters=Filters(service_area="fostering"))
    assert "audit.area_good_or_better_rate.planning" not in other


# --------------------------------------------------------------------------- on schedule


def test_completed_on_time_uses_the_london_date_at_bst_midnight():
    # 2022-08-31T23:30Z is 00:30 BST on 1 September.
    tenant = load(
        [
            fact(scheduled("late", "2022-08-31")),
            fact(graded("late", "2022-08-31T23:30:00Z", {"planning": "good"}), seq=2),
            fact(scheduled("edge", "2022-09-01")),
            fact(graded("edge", "2022-08-31T23:30:00Z", {"planning": "good"}), seq=2),
            fact(graded("unscheduled", "2022-08-01T10:00:00Z", {"planning": "good"}), seq=2),
        ]
    )
    v = values(tenant)
    assert v["audit.completed"].value == 3
    assert rate(v["audit.completed_on_time_rate"]) == (0.5, 1, 2)  # no schedule: in neither part


def test_rescheduled_audit_is_timed_against_the_schedule_with_the_highest_sequence_whatever_the_order():
    events = [
        fact(scheduled("a1", "2022-07-01"), seq=1),
        fact(scheduled("a1", "2022-07-29"), seq=3),  # the last reschedule
        fact(scheduled("a1", "2022-07-08"), seq=2),
        fact(graded("a1", "2022-07-20T10:00:00Z", {"planning": "good"}), seq=4),
    ]
    for order in (events, list(reversed(events)), [events[3], events[0], events[2], events[1]]):
        tenant = load(order, batch_sizes=[1])
        assert rate(values(tenant)["audit.completed_on_time_rate"]) == (1.0, 1, 1)
    early_last = [
        fact(scheduled("a2", "2022-07-29"), seq=1),
        fact(scheduled("a2", "2022-07-08"), seq=2),  # brought forward: now late
        fact(graded("a2", "2022-07-20T10:00:00Z", {"planning": "good"}), seq=3),
    ]
    tenant = load(list(reversed(early_last)), batch_sizes=[1])
    assert rate(values(tenant)["audit.completed_on_time_rate"]) == (0.0, 0, 1)


# --------------------------------------------------------------------------- EHCP procedure


def test_ehcp_procedure_compliance_counts_ehcp_audits_that_carry_it():
    tenant = load(
        [
            fact(graded("e1", "2022-07-05T10:00:00Z", {"timeliness": "good"}, audit_type="ehcp", compliant=True)),
            fact(graded("e2", "2022-07-06T10:00:00Z", {"timeliness": "good"}, audit_type="ehcp", compliant=False)),
            fact(graded("e3", "2022-07-07T10:00:00Z", {"timeliness": "good"}, audit_type="ehcp")),  # none carried
            fact(graded("e4", "2022-07-08T10:00:00Z", {"timeliness": "good"}, audit_type="ehcp", compliant=True)),
            fact(graded("r1", "2022-07-08T10:00:00Z", {"planning": "good"}, compliant=True)),  # not ehcp
        ]
    )
    assert rate(values(tenant)["audit.ehcp_procedure_compliance_rate"]) == (2 / 3, 2, 3)


# --------------------------------------------------------------------------- EHCP plans


def test_ehcp_within_20_weeks_incl_exceptions_beside_the_rate_without():
    def plan(requested: str, issued: str, exception: bool) -> Any:
        data = ev.EhcpIssued(
            plan_id=f"p{next(_ids)}",
            child_ref="c1",
            requested_at=requested,
            issued_at=issued,
            exception=exception,
            team="t1",
            service_area="send",
        )
        return fact(data, source="/cms/test")

    tenant = load(
        [
            plan("2022-03-01T10:00:00Z", "2022-07-19T10:00:00Z", False),  # 140 days: within
            plan("2022-03-01T10:00:00Z", "2022-07-20T10:00:00Z", False),  # 141 days
            plan("2022-03-01T10:00:00Z", "2022-07-19T10:00:00Z", True),  # exception, within
            plan("2022-03-01T10:00:00Z", "2022-09-01T10:00:00Z", True),  # exception, late
        ]
    )
    v = values(tenant)
    assert rate(v["send.ehcp_within_20_weeks_rate"]) == (0.5, 1, 2)
    assert rate(v["send.ehcp_within_20_weeks_incl_exceptions_rate"]) == (0.5, 2, 4)


# --------------------------------------------------------------------------- concerns


def raised(concern_id: str, at_: str, *, supersedes: str | None = None, area: str = "send") -> ev.ConcernRaised:
    return ev.ConcernRaised(
        concern_id=concern_id,
        service_area=area,
        theme="management_oversight",
        description="oversight gaps",
        measures=["weekly supervision"],
        raised_at=at_,
        review_by="2023-03-31",
        supersedes=supersedes,
    )


def resolved(concern_id: str, at_: str, outcome: str | None, reason: str | None = None) -> ev.ConcernResolved:
    return ev.ConcernResolved(
        concern_id=concern_id, resolved_at=at_, evidence_audit_ids=["a1"], outcome=outcome, reason=reason
    )


def test_concern_effectiveness_counts_first_resolution_with_an_outcome_and_no_team():
    tenant = load(
        [
            fact(raised("c1", "2022-05-01T10:00:00Z")),
            fact(raised("c2", "2022-05-01T10:00:00Z")),
            fact(raised("c3", "2022-05-01T10:00:00Z", area="fostering")),
            fact(raised("c4", "2022-05-01T10:00:00Z")),
            fact(resolved("c1", "2022-07-10T10:00:00Z", "effective")),
            fact(resolved("c2", "2022-08-10T10:00:00Z", "not_effective", "no change in supervision records")),
            fact(resolved("c3", "2022-09-10T10:00:00Z", "partly_effective", "half the teams")),
            # an older producer's resolution carries no outcome: in neither part
            fact(resolved("c4", "2022-09-10T10:00:00Z", None)),
            # unknown concern: counts only unfiltered
            fact(resolved("c9", "2022-09-12T10:00:00Z", "effective")),
            # c1 resolved again later (another event): the first resolution counts, once
            fact(resolved("c1", "2022-10-10T10:00:00Z", "not_effective", "relapsed")),
        ]
    )
    assert rate(values(tenant)["audit.concern_measures_effective_rate"]) == (0.5, 2, 4)
    assert rate(values(tenant, Q3)["audit.concern_measures_effective_rate"]) == (None, 0, 0)
    send = values(tenant, filters=Filters(service_area="send"))
    assert rate(send["audit.concern_measures_effective_rate"]) == (0.5, 1, 2)
    team = values(tenant, filters=Filters(team="t1"))
    assert rate(team["audit.concern_measures_effective_rate"]) == (None, 0, 0)


def test_concern_resolution_period_is_the_london_date():
    # 2022-06-30T23:30Z is 00:30 BST on 1 July: Q2.
    tenant = load(
        [fact(raised("c1", "2022-05-01T10:00:00Z")), fact(resolved("c1", "2022-06-30T23:30:00Z", "effective"))]
    )
    assert rate(values(tenant)["audit.concern_measures_effective_rate"]) == (1.0, 1, 1)


# --------------------------------------------------------------------------- follow-ups


def followups(tenant: str, rule: str) -> dict[str, Any]:
    return {f.origin_id: f for f in H.followups(tenant) if f.rule == rule}


def test_concern_rework_opened_due_and_closed_through_the_read_models_in_any_order():
    events = [
        fact(raised("c1", "2022-11-01T10:00:00Z")),
        # resolved not effective on Tue 20 Dec 2022: due 20 working days later, over
        # Christmas (26, 27 Dec) and New Year (2 Jan) bank holidays: Fri 20 Jan 2023
        fact(resolved("c1", "2022-12-20T10:00:00Z", "not_effective", "audits still weak")),
        fact(raised("c2", "2023-01-23T10:00:00Z", supersedes="c1")),
        fact(raised("c3", "2022-11-01T10:00:00Z")),
        fact(resolved("c3", "2022-12-20T10:00:00Z", "not_effective", "audits still weak")),
        # raised before c3's resolution: does not close its rework
        fact(raised("c4", "2022-12-19T10:00:00Z", supersedes="c3")),
    ]
    rng = random.Random(7)
    for _ in range(3):
        order = events[:]
        rng.shuffle(order)
        tenant = load(order, batch_sizes=[1, 2])
        fus = followups(tenant, "concern-rework")
        assert set(fus) == {"c1", "c3"}
        c1 = fus["c1"]
        assert (c1.opened_on, c1.due_date, c1.closed_on) == (date(2022, 12, 20), date(2023, 1, 20), date(2023, 1, 23))
        assert (c1.team, c1.service_area, c1.origin) == (None, "send", "concern")
        assert fus["c3"].closed_on is None


def test_inspection_finding_follow_up_closed_by_an_inspection_action_only():
    finding = ev.InspectionFindingRecorded(
        finding_id="f1",
        body="ofsted",
        service_area="childrens_social_care",
        team="front-door",
        summary="Management oversight of strategy discussions is not consistent",
        recorded_at="2022-09-05T23:30:00Z",  # 00:30 BST on Tue 6 September
    )

    def action(action_id: str, origin: str, raised_at: str) -> Any:
        data = ev.ActionRaised(
            action_id=action_id,
            origin=origin,
            origin_id="f1",
            team="front-door",
            service_area="childrens_social_care",
            owner_id="m1",
            raised_at=raised_at,
            due_date="2022-12-01",
            summary="Audit strategy discussions monthly",
        )
        return fact(data)

    tenant = load(
        [
            action("x1", "audit", "2022-09-20T10:00:00Z"),  # another origin with the same id
            fact(finding),
            action("x2", "inspection", "2022-10-06T10:00:00Z"),
        ],
        batch_sizes=[1],
    )
    [fu] = followups(tenant, "inspection-finding").values()
    # 20 working days after 6 Sep 2022, over the Queen's funeral (19 Sep): Wed 5 Oct
    assert (fu.opened_on, fu.due_date, fu.closed_on) == (date(2022, 9, 6), date(2022, 10, 5), date(2022, 10, 6))
    assert (fu.team, fu.service_area, fu.origin) == ("front-door", "childrens_social_care", "inspection")
    assert fu.on_time is False
