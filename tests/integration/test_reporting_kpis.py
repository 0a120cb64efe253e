"""KPI definitions (DOMAIN.md "KPI definitions", "Precise readings"), worked out by hand,
computed by the real read models (facts written, derived columns kept, KPI SQL) on the run's
PostgreSQL (`tests/support/readmodels.py`: each call in a tenant of its own).

Calendar facts used below (England): Mon 29 Aug 2022 summer bank holiday; Mon 19 Sep 2022
Queen's funeral; Mon 26 / Tue 27 Dec 2022 Boxing Day and Christmas substitute; Mon 2 Jan
2023 New Year substitute; Fri 7 / Mon 10 Apr 2023 Good Friday and Easter Monday.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.reporting.facts import (
    ActionCompletedFact,
    ActionRaisedFact,
    AnswerFact,
    AssessmentFact,
    AuditGradedFact,
    AuditModeratedFact,
    ComplaintClosedFact,
    ComplaintEscalatedFact,
    ComplaintExtendedFact,
    ComplaintReceivedFact,
    ComplimentFact,
    ContactAttemptFact,
    EhcpFact,
    Facts,
    FeedbackFact,
    ReferralFact,
    fact_from_event,
)
from services.reporting.followups import FollowUp
from services.reporting.kpis import (
    Filters,
    KpiValue,
    Target,
    apply_publication_rules,
    catalogue,
    fixed_kpi_ids,
)
from shared import events as ev
from shared.calendar import default_calendar, parse_period

CAL = default_calendar()
Q1 = parse_period("2022-23-Q1")
Q2 = parse_period("2022-23-Q2")
Q3 = parse_period("2022-23-Q3")
TODAY = date(2024, 6, 1)  # after every period used here
ALL = Filters()
_ids = itertools.count(1)


def _id() -> str:
    return f"e{next(_ids):05d}"


def at(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


pytestmark = pytest.mark.integration
H: Any = None


@pytest.fixture(autouse=True, scope="module")
def _harness(readmodels):
    global H
    H = readmodels


def compute(
    facts: Facts, period, filters, *, calendar=CAL, followups=None, today=TODAY, kpi_ids=None, timescales=None
) -> list[KpiValue]:
    """Every KPI of ``period`` for the slice, from ``facts`` written to the read models; with
    ``followups``, those follow-ups in place of the ones the facts derive."""
    items = [x for kind in vars(facts).values() for x in kind]
    tenant = H.load(items, calendar=calendar, timescales=timescales)
    if followups is not None:
        H.replace_followups(tenant, followups)
    (values,) = H.figures(tenant, [period], filters, today=today, kpi_ids=kpi_ids)
    return values


def run(facts: Facts, period=Q2, filters=ALL, followups=None, today=TODAY, **kw) -> dict:
    values = compute(facts, period, filters, followups=followups, today=today, **kw)
    return {v.kpi: v for v in values}


def rate(v: KpiValue) -> tuple[Any, Any, Any]:
    return (v.value, v.numerator, v.denominator)


# --------------------------------------------------------------------------- factories


def audit(audit_id, on, grade, *, seq=1, case="k1", area="send", team="t1", at_=None):
    eid = _id()
    return AuditGradedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        audit_id=audit_id,
        case_ref=case,
        service_area=area,
        team=team,
        audit_type="routine",
        concern_id=None,
        completed_at=at_ or at(on),
        completed_on=on,
        overall_grade=grade,
        sequence=seq,
    )


def moderation(audit_id, on, before, after, *, seq=2, hour=12):
    eid = _id()
    return AuditModeratedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        audit_id=audit_id,
        grade_before=before,
        grade_after=after,
        moderated_at=at(on, hour),
        moderated_on=on,
        sequence=seq,
    )


def response(on, answers, *, area="send", team="t1", response_id=None):
    eid = _id()
    return FeedbackFact(
        key=f"/qaloop/feedback {eid}",
        event_id=eid,
        response_id=response_id or eid,
        survey_id="s1",
        service_area=area,
        team=team,
        respondent="child",
        received_at=at(on),
        received_on=on,
        answers=tuple(answers),
    )


def ans(q, positive, safeguarding_negative=False):
    return AnswerFact(q, positive, safeguarding_negative)


def compliment(on, origin, *, area="send", team="t1"):
    eid = _id()
    return ComplimentFact(
        key=f"/qaloop/feedback {eid}",
        event_id=eid,
        compliment_id=eid,
        service_area=area,
        team=team,
        origin=origin,
        received_on=on,
    )


def received(cid, on, *, stage=1, category="communication", procedure="statutory_children",
             area="childrens_social_care", team="t1"):  # fmt: skip
    eid = _id()
    return ComplaintReceivedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        procedure=procedure,
        stage=stage,
        category=category,
        team=team,
        service_area=area,
        received_on=on,
    )


def closed(cid, on, outcome, *, stage=1, due=None, taken=0):
    eid = _id()
    return ComplaintClosedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        stage=stage,
        closed_at=at(on),
        closed_on=on,
        outcome=outcome,
        due_date=due or on,
        within_timescale=True,
        working_days_taken=taken,
    )


def escalated(cid, on, from_stage=1, to_stage=2):
    eid = _id()
    return ComplaintEscalatedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        from_stage=from_stage,
        to_stage=to_stage,
        escalated_at=at(on),
        escalated_on=on,
    )


def extended(cid, stage, new_due, *, seq, time=None):
    eid = _id()
    return ComplaintExtendedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        stage=stage,
        new_due_date=new_due,
        time=time or at(date(2022, 7, 1)),
        sequence=seq,
    )


def referral(child, on, *, team="t1", area="childrens_social_care"):
    eid = _id()
    return ReferralFact(
        key=f"/cms/x {eid}",
        event_id=eid,
        referral_id=eid,
        child_ref=child,
        received_on=on,
        team=team,
        service_area=area,
    )


def assessment(started, completed, *, team="t1", area="childrens_social_care"):
    eid = _id()
    return AssessmentFact(
        key=f"/cms/x {eid}",
        event_id=eid,
        assessment_id=eid,
        child_ref="c",
        started_on=started,
        completed_on=completed,
        team=team,
        service_area=area,
    )


def ehcp(requested, issued, *, exception=False, team="t1"):
    eid = _id()
    return EhcpFact(
        key=f"/cms/x {eid}",
        event_id=eid,
        plan_id=eid,
        child_ref="c",
        requested_on=requested,
        issued_on=issued,
        exception=exception,
        team=team,
        service_area="send",
    )


def attempt(on, reached, *, team="t1"):
    eid = _id()
    return ContactAttemptFact(
        key=f"/cms/x {eid}",
        event_id=eid,
        attempt_id=eid,
        child_ref="c",
        attempted_on=on,
        reached=reached,
        team=team,
        service_area="childrens_social_care",
    )


def action(action_id, due, *, team="t1", area="send", origin_id="o1"):
    eid = _id()
    return ActionRaisedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        action_id=action_id,
        origin="audit",
        origin_id=origin_id,
        team=team,
        service_area=area,
        raised_on=date(2022, 4, 1),
        due_date=due,
    )


def completion(action_id, on):
    eid = _id()
    return ActionCompletedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        action_id=action_id,
        completed_at=at(on),
        completed_on=on,
    )


def followup(fid, opened, due, closed_on=None, *, team="t1", area="send"):
    return FollowUp(
        followup_id=fid,
        rule="action",
        origin="audit",
        origin_id=fid,
        team=team,
        service_area=area,
        opened_on=opened,
        due_date=due,
        closed_on=closed_on,
        closed_by_event_id="x" if closed_on else None,
    )


def event_fact(data: ev.EventData, source: str = "/qaloop/audit", seq: int = 1):
    envelope = ev.new_event(data, source=source, tenant="E1", sequence=seq)
    return fact_from_event(envelope, data)


# --------------------------------------------------------------------------- catalogue


CONTRACT_IDS = [
    "audit.completed",
    "audit.good_or_better_rate",
    "audit.requires_improvement_rate",
    "audit.inadequate_rate",
    "audit.completed_on_time_rate",
    "audit.ehcp_procedure_compliance_rate",
    "audit.concern_measures_effective_rate",
    "feedback.responses",
    "compliments.external",
    "compliments.internal",
    "complaints.received",
    "complaints.closed",
    "complaints.upheld_rate",
    "complaints.partially_upheld_rate",
    "complaints.not_upheld_rate",
    "complaints.within_timescale_rate",
    "complaints.resolved_at_stage1_rate",
    "complaints.escalation_rate",
    "complaints.average_response_working_days",
    "complaints.panel_within_timescale_rate",
    "complaints.late_escalations",
    "complaints.ombudsman_referrals",
    "complaints.ombudsman_fault_rate",
    "casework.assessment_within_45_days_rate",
    "casework.re_referral_rate",
    "send.ehcp_within_20_weeks_rate",
    "send.ehcp_within_20_weeks_incl_exceptions_rate",
    "casework.contact_success_rate",
    "learning.followups_open",
    "learning.followups_overdue",
    "learning.followups_closed_on_time_rate",
    "learning.actions_completed_on_time_rate",
    # CONTRACT.md §4 (2026-12)
    "workforce.turnover_rate",
    "workforce.vacancy_rate",
    "workforce.agency_rate",
    "workforce.average_caseload",
    "workforce.stability_rate",
]


def test_catalogue_covers_the_contract_with_families():
    cat = catalogue(question_ids=["q2", "q1"], categories=["communication"])
    ids = [d.id for d in cat]
    assert set(CONTRACT_IDS) <= set(ids)
    assert fixed_kpi_ids() == CONTRACT_IDS
    assert "feedback.positive_rate.<question_id>" in ids
    assert "complaints.by_category.<category>" in ids
    assert "workforce.survey_positive_rate.<question_id>" in ids
    assert ids.index("feedback.positive_rate.q1") < ids.index("feedback.positive_rate.q2")
    assert "complaints.by_category.communication" in ids
    assert {d.unit for d in cat} == {"count", "rate"}
    units = {d.id: d.unit for d in cat}
    assert units["complaints.average_response_working_days"] == "rate"
    assert units["audit.completed"] == "count"
    assert units["feedback.positive_rate.q1"] == "rate"
    assert units["complaints.by_category.communication"] == "count"
    assert all(d.title and d.definition for d in cat)


def test_empty_slice_has_every_fixed_id_with_zero_counts_and_null_rates():
    values = compute(Facts(), Q2, ALL, calendar=CAL, followups=[], today=TODAY)
    assert [v.kpi for v in values] == CONTRACT_IDS
    units = {d.id: d.unit for d in catalogue()}
    for v in values:
        if units[v.kpi] == "count":
            assert (v.value, v.numerator, v.denominator) == (0, 0, None)
        else:
            assert (v.value, v.numerator, v.denominator) == (None, 0, 0)


def test_unknown_kpi_id_is_an_error():
    with pytest.raises(ValueError):
        compute(Facts(), Q2, ALL, calendar=CAL, followups=[], today=TODAY, kpi_ids=["nope"])


def test_kpi_ids_selects_in_order_and_computes_named_family_members_even_if_empty():
    values = compute(
        Facts(),
        Q2,
        ALL,
        calendar=CAL,
        followups=[],
        today=TODAY,
        kpi_ids=["complaints.by_category.housing", "feedback.positive_rate.q9", "audit.completed"],
    )
    assert [(v.kpi, v.value, v.numerator, v.denominator) for v in values] == [
        ("complaints.by_category.housing", 0, 0, None),
        ("feedback.positive_rate.q9", None, 0, 0),
        ("audit.completed", 0, 0, None),
    ]


# --------------------------------------------------------------------------- audits


def test_audit_completed_and_grade_rates():
    facts = Facts.of(
        [
            audit("a1", date(2022, 7, 1), "outstanding"),
            audit("a2", date(2022, 8, 1), "good"),
            audit("a3", date(2022, 9, 1), "requires_improvement"),
            audit("a4", date(2022, 9, 30), "inadequate"),
            audit("a5", date(2022, 10, 1), "good"),  # Q3
        ]
    )
    v = run(facts)
    assert v["audit.completed"].value == 4
    assert rate(v["audit.good_or_better_rate"]) == (0.5, 2, 4)
    assert rate(v["audit.requires_improvement_rate"]) == (0.25, 1, 4)
    assert rate(v["audit.inadequate_rate"]) == (0.25, 1, 4)


def test_audit_date_is_the_london_date_across_bst():
    # 2022-06-30T23:30Z is 00:30 BST on 1 July: July and Q2, not June / Q1.
    fact = event_fact(
        ev.AuditGraded(
            audit_id="a1",
            case_ref="k1",
            service_area="send",
            team="t1",
            audit_type="routine",
            completed_at="2022-06-30T23:30:00Z",
            area_grades=[{"area": "voice", "grade": "good"}],
            overall_grade="good",
            auditor_id="u1",
        )
    )
    facts = Facts.of([fact])
    assert run(facts, period=Q2)["audit.completed"].value == 1
    assert run(facts, period=Q1)["audit.completed"].value == 0
    assert run(facts, period=parse_period("2022-07"))["audit.completed"].value == 1
    assert run(facts, period=parse_period("2022-06"))["audit.completed"].value == 0


def test_audit_graded_twice_counts_once_in_the_latest_gradings_period():
    facts = Facts.of(
        [
            audit("a1", date(2022, 6, 15), "inadequate", seq=1),
            audit("a1", date(2022, 7, 5), "good", seq=3),
        ]
    )
    assert run(facts, period=Q1)["audit.completed"].value == 0
    v = run(facts, period=Q2)
    assert v["audit.completed"].value == 1
    assert rate(v["audit.good_or_better_rate"]) == (1.0, 1, 1)


def test_moderation_after_grading_changes_the_grade_not_the_period():
    facts = Facts.of(
        [
            audit("a1", date(2022, 9, 29), "requires_improvement"),
            moderation("a1", date(2022, 10, 5), "requires_improvement", "good"),
        ]
    )
    v = run(facts, period=Q2)
    assert v["audit.completed"].value == 1
    assert rate(v["audit.good_or_better_rate"]) == (1.0, 1, 1)
    assert rate(v["audit.requires_improvement_rate"]) == (0.0, 0, 1)
    assert run(facts, period=Q3)["audit.completed"].value == 0


def test_two_moderations_the_latest_wins_whatever_the_order():
    a = audit("a1", date(2022, 9, 1), "good")
    m_late = moderation("a1", date(2022, 10, 10), "requires_improvement", "inadequate", seq=3)
    m_early = moderation("a1", date(2022, 10, 5), "good", "requires_improvement", seq=2)
    for facts in (Facts.of([a, m_late, m_early]), Facts.of([m_late, a, m_early])):
        v = run(facts)
        assert rate(v["audit.inadequate_rate"]) == (1.0, 1, 1)
        assert rate(v["audit.requires_improvement_rate"]) == (0.0, 0, 1)


def test_audit_filters():
    facts = Facts.of(
        [
            audit("a1", date(2022, 7, 1), "good", area="send", team="t1"),
            audit("a2", date(2022, 7, 1), "inadequate", area="send", team="t2"),
            audit("a3", date(2022, 7, 1), "good", area="fostering", team="t1"),
        ]
    )
    assert run(facts, filters=Filters("send", None))["audit.completed"].value == 2
    assert run(facts, filters=Filters(None, "t1"))["audit.completed"].value == 2
    v = run(facts, filters=Filters("send", "t2"))
    assert v["audit.completed"].value == 1
    assert rate(v["audit.inadequate_rate"]) == (1.0, 1, 1)
    assert rate(run(facts, filters=Filters("early_help"))["audit.inadequate_rate"]) == (None, 0, 0)


# --------------------------------------------------------------------------- feedback


def test_feedback_responses_and_positive_rate_skipped_do_not_count():
    facts = Facts.of(
        [
            response(date(2022, 7, 1), [ans("q1", True), ans("q2", None)]),  # yes, skipped
            response(date(2022, 7, 2), [ans("q1", False), ans("q2", None)]),  # no
            response(date(2022, 7, 3), [ans("q1", True)]),  # 4
            response(date(2022, 7, 4), [ans("q1", False)]),  # 3 (neutral)
            response(date(2022, 7, 5), [ans("q1", True), ans("q1", None)]),  # 5, skipped
            response(date(2022, 6, 30), [ans("q1", True), ans("q3", True)]),  # Q1
        ]
    )
    v = run(facts)
    assert v["feedback.responses"].value == 5
    assert rate(v["feedback.positive_rate.q1"]) == (0.6, 3, 5)
    # q2 was only ever skipped, q3 not asked in Q2: absent from the slice.
    assert "feedback.positive_rate.q2" not in v
    assert "feedback.positive_rate.q3" not in v
    # ... unless named.
    named = run(facts, kpi_ids=["feedback.positive_rate.q2"])
    assert rate(named["feedback.positive_rate.q2"]) == (None, 0, 0)


def test_feedback_positive_rate_from_events_yes_no_scale():
    answers = [
        {"question_id": "easy_contact", "value": "yes"},
        {"question_id": "easy_contact", "value": "no"},
        {"question_id": "easy_contact", "value": 4},
        {"question_id": "easy_contact", "value": 3},
        {"question_id": "easy_contact", "value": 2},
        {"question_id": "easy_contact", "value": ""},
    ]
    facts = Facts.of(
        [
            event_fact(
                ev.FeedbackReceived(
                    response_id=f"r{i}",
                    survey_id="s",
                    service_area="send",
                    respondent="parent_carer",
                    received_at="2022-08-01T10:00:00Z",
                    answers=[a],
                ),
                source="/qaloop/feedback",
            )
            for i, a in enumerate(answers)
        ]
    )
    v = run(facts)
    assert v["feedback.responses"].value == 6
    assert rate(v["feedback.positive_rate.easy_contact"]) == (0.4, 2, 5)


def test_feedback_with_no_team_drops_out_of_a_team_filter():
    facts = Facts.of(
        [
            response(date(2022, 7, 1), [ans("q1", True)], team=None),
            response(date(2022, 7, 1), [ans("q1", False)], team="t1"),
        ]
    )
    assert run(facts)["feedback.responses"].value == 2
    v = run(facts, filters=Filters(None, "t1"))
    assert v["feedback.responses"].value == 1
    assert rate(v["feedback.positive_rate.q1"]) == (0.0, 0, 1)


def test_compliments_internal_do_not_count_as_external():
    facts = Facts.of(
        [
            compliment(date(2022, 7, 1), "external"),
            compliment(date(2022, 8, 1), "external"),
            compliment(date(2022, 8, 2), "internal"),
            compliment(date(2022, 10, 1), "external"),  # Q3
        ]
    )
    v = run(facts)
    assert v["compliments.external"].value == 2
    assert v["compliments.internal"].value == 1


# --------------------------------------------------------------------------- complaints


def test_complaints_received_and_by_category_any_stage():
    facts = Facts.of(
        [
            received("c1", date(2022, 7, 1), category="communication"),
            received("c2", date(2022, 7, 2), category="communication", stage=2),
            received("c3", date(2022, 7, 3), category="delay"),
            received("c4", date(2022, 10, 3), category="housing"),
        ]
    )
    v = run(facts)
    assert v["complaints.received"].value == 3
    assert v["complaints.by_category.communication"].value == 2
    assert v["complaints.by_category.delay"].value == 1
    assert "complaints.by_category.housing" not in v


def test_complaint_received_date_is_london_date():
    # 2022-07-31T23:30Z is Monday 1 August 2022 (BST).
    fact = event_fact(
        ev.ComplaintReceived(
            complaint_id="c1",
            procedure="statutory_children",
            category="communication",
            team="t1",
            service_area="childrens_social_care",
            received_at="2022-07-31T23:30:00Z",
            complainant="parent_carer",
        ),
        source="/qaloop/complaints",
    )
    assert fact.received_on == date(2022, 8, 1)
    facts = Facts.of([fact])
    assert run(facts, period=parse_period("2022-08"))["complaints.received"].value == 1
    assert run(facts, period=parse_period("2022-07"))["complaints.received"].value == 0


def test_closings_outcomes_withdrawn_stage1_and_escalation():
    facts = Facts.of(
        [
            closed("c1", date(2022, 7, 10), "upheld"),
            closed("c2", date(2022, 7, 11), "partially_upheld"),
            closed("c3", date(2022, 7, 12), "not_upheld"),
            closed("c4", date(2022, 7, 13), "withdrawn"),
            closed("c5", date(2022, 7, 14), "not_upheld", stage=2),
            closed("c6", date(2022, 6, 14), "upheld"),  # Q1
            escalated("c3", date(2022, 7, 20), 1, 2),
            escalated("c5", date(2022, 7, 20), 2, 3),  # not 1 -> 2
            escalated("c6", date(2022, 6, 20), 1, 2),  # Q1
        ]
    )
    v = run(facts)
    assert v["complaints.closed"].value == 5
    # Outcome rates exclude the withdrawn closing: 4 decided.
    assert rate(v["complaints.upheld_rate"]) == (0.25, 1, 4)
    assert rate(v["complaints.partially_upheld_rate"]) == (0.25, 1, 4)
    assert rate(v["complaints.not_upheld_rate"]) == (0.5, 2, 4)
    # Stage-1 closings not withdrawn (c1, c2, c3) / all closings (5).
    assert rate(v["complaints.resolved_at_stage1_rate"]) == (0.6, 3, 5)
    # Escalations 1 -> 2 in Q2 (c3) / stage-1 closings in Q2 (c1..c4).
    assert rate(v["complaints.escalation_rate"]) == (0.25, 1, 4)


def test_withdrawn_closing_counts_in_timescale_and_average():
    # Received Fri 9 Sep 2022; working days after it: 12-16 Sep (1-5), 19 Sep is a bank
    # holiday, 20-23 (6-9), Mon 26 Sep is the 10th.
    facts = Facts.of(
        [
            received("c1", date(2022, 9, 9)),
            closed("c1", date(2022, 9, 26), "withdrawn", due=date(2022, 9, 26), taken=99),
        ]
    )
    v = run(facts)
    assert v["complaints.closed"].value == 1
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)
    assert rate(v["complaints.average_response_working_days"]) == (10.0, 10, 1)
    assert rate(v["complaints.upheld_rate"]) == (None, 0, 0)
    assert rate(v["complaints.resolved_at_stage1_rate"]) == (0.0, 0, 1)


def test_within_timescale_with_the_queens_funeral_bank_holiday():
    facts = Facts.of(
        [
            received("on_time", date(2022, 9, 9)),
            closed("on_time", date(2022, 9, 26), "upheld", due=date(2022, 9, 26)),
            received("late", date(2022, 9, 9)),
            closed("late", date(2022, 9, 27), "upheld", due=date(2022, 9, 26)),
        ]
    )
    v = run(facts)
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)
    # 10 and 11 working days.
    assert rate(v["complaints.average_response_working_days"]) == (10.5, 21, 2)


def test_extension_is_capped_at_the_maximum():
    # Received Fri 9 Sep 2022; the 20th working day (stage-1 maximum) is Mon 10 Oct:
    # 26-30 Sep (10-14), 3-7 Oct (15-19), 10 Oct (20).
    facts = Facts.of(
        [
            received("c1", date(2022, 9, 9)),
            extended("c1", 1, date(2022, 10, 20), seq=2),
            closed("c1", date(2022, 10, 11), "upheld", due=date(2022, 9, 26)),
            received("c2", date(2022, 9, 9)),
            extended("c2", 1, date(2022, 10, 20), seq=2),
            closed("c2", date(2022, 10, 10), "upheld", due=date(2022, 9, 26)),
        ]
    )
    v = run(facts, period=Q3)
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)


def test_latest_extension_counts_not_the_longest():
    facts = Facts.of(
        [
            received("c1", date(2022, 9, 9)),
            extended("c1", 1, date(2022, 10, 7), seq=2),
            extended("c1", 1, date(2022, 9, 30), seq=3),  # latest: brings the date forward
            closed("c1", date(2022, 10, 5), "upheld", due=date(2022, 9, 26)),
        ]
    )
    assert rate(run(facts, period=Q3)["complaints.within_timescale_rate"]) == (0.0, 0, 1)


def test_extension_of_another_stage_does_not_apply():
    facts = Facts.of(
        [
            received("c1", date(2022, 9, 9)),
            extended("c1", 2, date(2022, 10, 7), seq=2),
            closed("c1", date(2022, 9, 27), "upheld", due=date(2022, 9, 26)),
        ]
    )
    assert rate(run(facts)["complaints.within_timescale_rate"]) == (0.0, 0, 1)


def test_stage2_starts_on_escalation_and_maximum_depends_on_procedure():
    # Escalated Mon 11 Jul 2022; working days after: 12-15 Jul (1-4), 18-22 (5-9),
    # 25-29 (10-14), 1-5 Aug (15-19), Mon 8 Aug (20), 9-12 Aug (21-24), Mon 15 Aug (25).
    # Extension to 20 Aug; closed Tue 9 Aug = 21 working days.
    # Corporate stage 2: maximum 20 -> due 8 Aug -> late. Statutory: maximum 65 -> in time.
    rows = []
    for cid, procedure in (("corp", "corporate"), ("stat", "statutory_children")):
        rows += [
            received(cid, date(2022, 7, 1), procedure=procedure),
            closed(cid, date(2022, 7, 8), "not_upheld", due=date(2022, 7, 15)),
            escalated(cid, date(2022, 7, 11)),
            extended(cid, 2, date(2022, 8, 20), seq=5),
            closed(cid, date(2022, 8, 9), "upheld", stage=2, due=date(2022, 8, 8)),
        ]
    facts = Facts.of(rows)
    v = run(facts, period=parse_period("2022-08"))
    assert v["complaints.closed"].value == 2
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)
    assert rate(v["complaints.average_response_working_days"]) == (21.0, 42, 2)
    assert rate(v["complaints.resolved_at_stage1_rate"]) == (0.0, 0, 2)
    assert rate(v["complaints.escalation_rate"]) == (None, 0, 0)
    july = run(facts, period=parse_period("2022-07"))
    assert rate(july["complaints.escalation_rate"]) == (1.0, 2, 2)


def test_working_days_over_christmas_and_easter():
    # Received Fri 16 Dec 2022: 19-23 Dec (1-5), 26/27 Dec holidays, 28-30 Dec (6-8),
    # 2 Jan holiday, Tue 3 Jan (9), Wed 4 Jan (10).
    # Received Wed 5 Apr 2023: Thu 6 Apr (1), Good Friday and Easter Monday, 11-14 Apr (2-5),
    # 17-21 Apr (6-10).
    facts = Facts.of(
        [
            received("xmas", date(2022, 12, 16)),
            closed("xmas", date(2023, 1, 4), "upheld", due=date(2023, 1, 4)),
            received("easter", date(2023, 4, 5)),
            closed("easter", date(2023, 4, 21), "upheld", due=date(2023, 4, 21)),
        ]
    )
    jan = run(facts, period=parse_period("2023-01"))
    assert rate(jan["complaints.average_response_working_days"]) == (10.0, 10, 1)
    apr = run(facts, period=parse_period("2023-04"))
    assert rate(apr["complaints.average_response_working_days"]) == (10.0, 10, 1)
    # A due date reported past the maximum is capped too: Christmas stage 1, max 20 w.d.
    # 5-6 Jan (11-12), 9-13 (13-17), 16-18 Jan (18-20) -> Wed 18 Jan 2023.
    late = Facts.of(
        [
            received("x", date(2022, 12, 16)),
            closed("x", date(2023, 1, 19), "upheld", due=date(2023, 1, 31)),
            received("y", date(2022, 12, 16)),
            closed("y", date(2023, 1, 18), "upheld", due=date(2023, 1, 31)),
        ]
    )
    assert rate(run(late, period=parse_period("2023-01"))["complaints.within_timescale_rate"]) == (
        0.5,
        1,
        2,
    )


def test_closing_of_unknown_complaint_uses_reported_figures_and_drops_out_of_filters():
    facts = Facts.of(
        [
            closed("ghost", date(2022, 7, 10), "upheld", due=date(2022, 7, 9), taken=7),
            received("c1", date(2022, 7, 1), area="send", team="t1"),
            closed("c1", date(2022, 7, 1), "upheld", due=date(2022, 7, 1)),
        ]
    )
    v = run(facts)
    assert v["complaints.closed"].value == 2
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)
    assert rate(v["complaints.average_response_working_days"]) == (3.5, 7, 2)
    for filters in (Filters("send"), Filters(None, "t1")):
        f = run(facts, filters=filters)
        assert f["complaints.closed"].value == 1
        assert rate(f["complaints.average_response_working_days"]) == (0.0, 0, 1)


def test_closing_of_a_later_stage_without_a_known_start_is_not_capped():
    facts = Facts.of(
        [
            received("c1", date(2022, 7, 1)),
            closed("c1", date(2022, 12, 1), "upheld", stage=3, due=date(2022, 12, 1), taken=4),
        ]
    )
    v = run(facts, period=Q3)
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)
    assert rate(v["complaints.average_response_working_days"]) == (4.0, 4, 1)


def test_complaint_received_straight_into_stage2_starts_on_receipt():
    # Received Mon 11 Jul 2022 at stage 2; closed Mon 15 Aug = 25 working days.
    facts = Facts.of(
        [
            received("c1", date(2022, 7, 11), stage=2),
            closed("c1", date(2022, 8, 15), "upheld", stage=2, due=date(2022, 8, 15), taken=1),
        ]
    )
    v = run(facts)
    assert rate(v["complaints.average_response_working_days"]) == (25.0, 25, 1)
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)


def test_complaint_filters_use_the_complaint_received():
    facts = Facts.of(
        [
            received("c1", date(2022, 7, 1), area="send", team="t1"),
            closed("c1", date(2022, 7, 8), "not_upheld"),
            escalated("c1", date(2022, 7, 9)),
            received("c2", date(2022, 7, 1), area="fostering", team="t2"),
            closed("c2", date(2022, 7, 8), "upheld"),
        ]
    )
    v = run(facts, filters=Filters("send"))
    assert v["complaints.received"].value == 1
    assert v["complaints.closed"].value == 1
    assert rate(v["complaints.not_upheld_rate"]) == (1.0, 1, 1)
    assert rate(v["complaints.escalation_rate"]) == (1.0, 1, 1)
    w = run(facts, filters=Filters(None, "t2"))
    assert rate(w["complaints.upheld_rate"]) == (1.0, 1, 1)
    assert rate(w["complaints.escalation_rate"]) == (0.0, 0, 1)


# --------------------------------------------------------------------------- casework


def test_assessment_45th_vs_46th_working_day():
    # Started Mon 1 Aug 2022: 2-5 Aug (1-4), 8-12 (5-9), 15-19 (10-14), 22-26 (15-19),
    # 29 Aug holiday, 30-31 Aug (20-21), 1-2 Sep (22-23), 5-9 (24-28), 12-16 (29-33),
    # 19 Sep holiday, 20-23 (34-37), 26-30 (38-42), 3-5 Oct (43-45), 6 Oct (46).
    facts = Facts.of(
        [
            assessment(date(2022, 8, 1), date(2022, 10, 5)),
            assessment(date(2022, 8, 1), date(2022, 10, 6)),
            assessment(date(2022, 8, 1), date(2022, 9, 30)),  # Q2
        ]
    )
    assert rate(run(facts, period=Q3)["casework.assessment_within_45_days_rate"]) == (0.5, 1, 2)
    assert rate(run(facts, period=Q2)["casework.assessment_within_45_days_rate"]) == (1.0, 1, 1)


def test_re_referral_twelve_months_boundaries():
    facts = Facts.of(
        [
            referral("a", date(2021, 7, 15)),
            referral("a", date(2022, 7, 15)),  # exactly 12 months: re-referral
            referral("b", date(2021, 7, 14)),
            referral("b", date(2022, 7, 15)),  # 12 months + 1 day: not
            referral("c", date(2022, 7, 20)),
            referral("c", date(2022, 7, 20)),  # same day: neither is
            referral("d", date(2022, 1, 10), team="z", area="early_help"),  # other team, Q4
            referral("d", date(2022, 8, 1), team="x"),  # re-referral, even under a filter
            referral("e", date(2021, 8, 31)),
            referral("e", date(2022, 8, 31)),  # 12 months: re-referral
        ]
    )
    v = run(facts)
    # In Q2: a, b, c, c, d, e = 6; re-referrals: a, d, e.
    assert rate(v["casework.re_referral_rate"]) == (0.5, 3, 6)
    x = run(facts, filters=Filters("childrens_social_care", "x"))
    assert rate(x["casework.re_referral_rate"]) == (1.0, 1, 1)


def test_re_referral_month_end_clamp():
    # 31 Mar 2021 + 12 months = 31 Mar 2022; 29 Feb 2020 + 12 months = 28 Feb 2021.
    facts = Facts.of(
        [
            referral("a", date(2020, 2, 29)),
            referral("a", date(2021, 2, 28)),  # re-referral
            referral("b", date(2020, 2, 28)),
            referral("b", date(2021, 3, 1)),  # 12 months + 1 day: not
        ]
    )
    v = run(facts, period=parse_period("2020-21"))
    assert rate(v["casework.re_referral_rate"]) == (0.5, 1, 2)


def test_ehcp_140_vs_141_days_and_exceptions():
    # 1 Mar -> 19 Jul 2022: 30 (to 31 Mar) + 30 + 31 + 30 + 19 = 140 days.
    facts = Facts.of(
        [
            ehcp(date(2022, 3, 1), date(2022, 7, 19)),  # 140: within
            ehcp(date(2022, 3, 1), date(2022, 7, 20)),  # 141: late
            ehcp(date(2022, 3, 1), date(2022, 9, 20), exception=True),  # out of both
        ]
    )
    assert rate(run(facts)["send.ehcp_within_20_weeks_rate"]) == (0.5, 1, 2)


def test_ehcp_uses_london_dates():
    # Issued 2022-07-19T23:30Z = 20 Jul BST: 141 days after 1 Mar.
    fact = event_fact(
        ev.EhcpIssued(
            plan_id="p1",
            child_ref="c",
            requested_at="2022-03-01T09:00:00Z",
            issued_at="2022-07-19T23:30:00Z",
            exception=False,
            team="t1",
            service_area="send",
        ),
        source="/cms/x",
    )
    assert rate(run(Facts.of([fact]))["send.ehcp_within_20_weeks_rate"]) == (0.0, 0, 1)


def test_contact_success_rate():
    facts = Facts.of(
        [
            attempt(date(2022, 7, 1), True),
            attempt(date(2022, 7, 2), False),
            attempt(date(2022, 7, 3), True),
            attempt(date(2022, 7, 4), True, team="t2"),
            attempt(date(2022, 6, 4), False),
        ]
    )
    v = run(facts)
    assert rate(v["casework.contact_success_rate"]) == (0.75, 3, 4)
    assert rate(run(facts, filters=Filters(None, "t2"))["casework.contact_success_rate"]) == (
        1.0,
        1,
        1,
    )


# --------------------------------------------------------------------------- learning


def _followups():
    return [
        followup("f1", date(2022, 9, 1), date(2022, 9, 29)),  # open, overdue at 30 Sep
        followup("f2", date(2022, 9, 1), date(2022, 9, 30)),  # open, due on E: not overdue
        followup("f3", date(2022, 9, 1), date(2022, 9, 15), date(2022, 9, 30)),  # closed late
        followup("f4", date(2022, 9, 1), date(2022, 9, 10), date(2022, 10, 1)),  # open at E
        followup("f5", date(2022, 10, 1), date(2022, 10, 10)),  # not yet open
        followup("f6", date(2022, 7, 1), date(2022, 7, 10), date(2022, 7, 10)),  # on time
        followup("f7", date(2022, 9, 1), date(2022, 9, 2), team=None),  # open, overdue, no team
    ]


def test_followups_open_and_overdue_at_the_end_of_a_past_period():
    v = run(Facts(), followups=_followups())
    assert v["learning.followups_open"].value == 4  # f1 f2 f4 f7
    assert v["learning.followups_overdue"].value == 3  # f1 f4 f7
    assert rate(v["learning.followups_closed_on_time_rate"]) == (0.5, 1, 2)  # f6 / f3 f6
    t = run(Facts(), followups=_followups(), filters=Filters(None, "t1"))
    assert t["learning.followups_open"].value == 3
    assert t["learning.followups_overdue"].value == 2


def test_followups_open_now_for_the_current_period():
    # Today 15 Sep 2022 in Q2: E = 15 Sep. Open: f1 f2 f3 f4 f7; overdue (due < 15 Sep):
    # f4 (10 Sep), f7 (2 Sep).
    v = run(Facts(), followups=_followups(), today=date(2022, 9, 15))
    assert v["learning.followups_open"].value == 5
    assert v["learning.followups_overdue"].value == 2
    # A future period counts what is open by its end.
    fut = run(Facts(), period=Q3, followups=_followups(), today=date(2022, 9, 15))
    assert fut["learning.followups_open"].value == 4  # f1 f2 f5 f7 (f4 closed 1 Oct)
    assert fut["learning.followups_overdue"].value == 4


def test_actions_completed_on_time_first_completion_only():
    facts = Facts.of(
        [
            action("a1", date(2022, 7, 20)),
            completion("a1", date(2022, 7, 20)),  # on time
            completion("a1", date(2022, 8, 30)),  # second completion: ignored
            action("a2", date(2022, 7, 20)),
            completion("a2", date(2022, 7, 21)),  # late
            completion("ghost", date(2022, 7, 21)),  # no ActionRaised: left out
            action("a4", date(2022, 7, 20)),
            completion("a4", date(2022, 6, 30)),  # first completion in Q1
            completion("a4", date(2022, 7, 5)),
            action("a5", date(2022, 9, 1), team="t2"),
            completion("a5", date(2022, 9, 2)),  # late, team t2
        ]
    )
    v = run(facts)
    assert rate(v["learning.actions_completed_on_time_rate"]) == (pytest.approx(1 / 3), 1, 3)
    assert rate(run(facts, period=Q1)["learning.actions_completed_on_time_rate"]) == (1.0, 1, 1)
    t2 = run(facts, filters=Filters(None, "t2"))
    assert rate(t2["learning.actions_completed_on_time_rate"]) == (0.0, 0, 1)


# --------------------------------------------------------------------------- publication


def test_small_number_suppression():
    values = [
        KpiValue("audit.completed", 0, 0, None),
        KpiValue("compliments.external", 1, 1, None),
        KpiValue("compliments.internal", 5, 5, None),
        KpiValue("complaints.received", 6, 6, None),
        KpiValue("audit.good_or_better_rate", 0.4, 2, 5),
        KpiValue("complaints.upheld_rate", 0.5, 3, 6),
        KpiValue("complaints.not_upheld_rate", None, 0, 0),
        KpiValue("complaints.average_response_working_days", 9.0, 27, 3),
        KpiValue("complaints.by_category.delay", 2, 2, None),
        KpiValue("feedback.positive_rate.q1", 1.0, 4, 4),
    ]
    out = {v.kpi: v for v in apply_publication_rules(values, detail=False, targets={})}
    hidden = {k for k, v in out.items() if v.suppressed}
    assert hidden == {
        "compliments.external",
        "compliments.internal",
        "audit.good_or_better_rate",
        "complaints.average_response_working_days",
        "complaints.by_category.delay",
        "feedback.positive_rate.q1",
    }
    for k in hidden:
        assert (out[k].value, out[k].numerator, out[k].denominator) == (None, None, None)
    assert rate(out["complaints.received"]) == (6, 6, None)
    assert rate(out["complaints.not_upheld_rate"]) == (None, 0, 0)
    assert rate(out["audit.completed"]) == (0, 0, None)
    # Detail: nothing suppressed; a different threshold.
    assert not any(v.suppressed for v in apply_publication_rules(values, detail=True, targets={}))
    t2 = {v.kpi: v for v in apply_publication_rules(values, detail=False, threshold=2, targets={})}
    assert t2["compliments.external"].suppressed and t2["complaints.by_category.delay"].suppressed
    assert not t2["compliments.internal"].suppressed
    assert not t2["audit.good_or_better_rate"].suppressed


def test_rag():
    targets = {
        "audit.good_or_better_rate": Target(0.8, 0.1),
        "learning.followups_overdue": Target(2, 1, higher_is_better=False),
        "complaints.upheld_rate": Target(0.5, 0.1),
        "feedback.positive_rate.<question_id>": Target(0.7, 0.0),
    }

    def rag(kpi, value, num, den, detail=True):
        [v] = apply_publication_rules([KpiValue(kpi, value, num, den)], detail=detail, targets=targets)
        return v.rag

    assert rag("audit.good_or_better_rate", 0.8, 8, 10) == "green"
    assert rag("audit.good_or_better_rate", 0.9, 9, 10) == "green"
    assert rag("audit.good_or_better_rate", 0.75, 15, 20) == "amber"
    assert rag("audit.good_or_better_rate", 0.6, 6, 10) == "red"
    assert rag("learning.followups_overdue", 2, 2, None) == "green"
    assert rag("learning.followups_overdue", 3, 3, None) == "amber"
    assert rag("learning.followups_overdue", 4, 4, None) == "red"
    assert rag("learning.followups_overdue", 0, 0, None) == "green"
    assert rag("complaints.upheld_rate", None, 0, 0) is None  # no value
    assert rag("compliments.external", 10, 10, None) is None  # no target
    assert rag("feedback.positive_rate.q1", 0.5, 5, 10) == "red"  # family target
    # Suppressed values carry no RAG.
    assert rag("learning.followups_overdue", 4, 4, None, detail=False) is None
