"""Order and redelivery: any permutation of the events, with any duplicates (same source and
id), cut into batches of any sizes, gives the same KPI values and the same follow-ups in the
read models (DOMAIN.md: "Reporting must reach the same follow-ups whatever order the events
arrive in and however often they are redelivered"). The follow-ups kept incrementally, batch
by batch, also equal the pure rules applied to every fact at once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting.facts import Facts, fact_from_event
from services.reporting.followups import derive
from services.reporting.kpis import Filters
from shared import events as ev
from shared.calendar import default_calendar, parse_period

CAL = default_calendar()
TODAY = date(2022, 11, 15)
PERIODS = [parse_period(p) for p in ("2022-23-Q2", "2022-23-Q3", "2022-08", "2022-23")]
FILTERS = [Filters(), Filters("send"), Filters(None, "t1"), Filters("childrens_social_care", "t2")]

_SOURCES = {
    "audit": "/qaloop/audit",
    "feedback": "/qaloop/feedback",
    "complaints": "/qaloop/complaints",
    "casework": "/cms/caseware",
}


def _events() -> list[tuple[ev.CloudEvent, ev.EventData]]:
    out: list[tuple[ev.CloudEvent, ev.EventData]] = []

    def add(data: ev.EventData, strand: str, seq: int = 1) -> None:
        envelope = ev.new_event(
            data,
            source=_SOURCES[strand],
            tenant="E1",
            sequence=seq,
            event_id=f"ev-{len(out):03d}",
            time=datetime(2022, 12, 1, tzinfo=UTC),
        )
        out.append((envelope, data))

    def graded(audit_id, case, when, grade, seq=1, team="t1", area="send"):
        add(
            ev.AuditGraded(
                audit_id=audit_id,
                case_ref=case,
                service_area=area,
                team=team,
                audit_type="routine",
                completed_at=when,
                area_grades=[{"area": "voice", "grade": grade}],
                overall_grade=grade,
                auditor_id="u1",
            ),
            "audit",
            seq,
        )

    graded("a1", "k1", "2022-06-30T23:30:00Z", "requires_improvement")
    graded("a2", "k1", "2022-08-10T10:00:00Z", "inadequate", team="t2")
    graded("a2", "k1", "2022-08-12T10:00:00Z", "good", seq=3, team="t2")  # regraded
    graded("a3", "k1", "2022-10-03T10:00:00Z", "requires_improvement")
    graded("a4", "k2", "2022-09-30T10:00:00Z", "good", area="childrens_social_care")
    for when, after, seq in (
        ("2022-10-05T09:00:00Z", "requires_improvement", 2),
        ("2022-10-06T09:00:00Z", "inadequate", 3),
    ):
        add(
            ev.AuditModerated(
                audit_id="a4",
                overall_grade_before="good",
                overall_grade_after=after,
                moderator_id="m1",
                moderated_at=when,
            ),
            "audit",
            seq,
        )
    add(
        ev.AuditScheduled(  # never graded
            audit_id="a9",
            case_ref="k9",
            service_area="send",
            team="t1",
            audit_type="routine",
            auditor_id="u1",
            due_date="2022-09-01",
        ),
        "audit",
    )
    add(
        ev.ConcernRaised(
            concern_id="con1",
            service_area="send",
            theme="planning",
            description="d",
            measures=["m"],
            raised_at="2022-07-01T09:00:00Z",
            review_by="2022-09-30",
        ),
        "audit",
    )
    add(
        ev.ConcernResolved(
            concern_id="con1",
            resolved_at="2022-09-20T09:00:00Z",
            evidence_audit_ids=["a1"],
            outcome="not_effective",
            reason="r",
        ),
        "audit",
    )
    _audit_additions(add)
    # Feedback: 5 answers to q1 in send, Q2, 2 positive -> a feedback-response follow-up.
    for i, (value, team) in enumerate([("yes", "t1"), ("no", None), (4, "t1"), (2, "t2"), (3, None), ("", "t1")]):
        add(
            ev.FeedbackReceived(
                response_id=f"r{i}",
                survey_id="s1",
                service_area="send",
                team=team,
                respondent="child",
                received_at=f"2022-08-0{i + 1}T09:00:00Z",
                answers=[
                    {"question_id": "q1", "value": value},
                    {"question_id": "safe", "value": value, "safeguarding": True},
                ],
            ),
            "feedback",
        )
    add(
        ev.YouSaidWeDidPublished(
            item_id="y1",
            service_area="send",
            theme="q1",
            you_said="s",
            we_did="d",
            feedback_ids=[],
            published_at="2022-10-12T09:00:00Z",
        ),
        "feedback",
    )
    for i, origin in enumerate(["external", "internal", "external"]):
        add(
            ev.ComplimentReceived(
                compliment_id=f"cm{i}",
                service_area="send",
                team="t1",
                origin=origin,
                received_at="2022-08-03T09:00:00Z",
            ),
            "feedback",
        )
    # Complaints.
    for cid, procedure, team in (("c1", "statutory_children", "t1"), ("c2", "corporate", "t2")):
        add(
            ev.ComplaintReceived(
                complaint_id=cid,
                procedure=procedure,
                category="communication" if cid == "c1" else "delay",
                team=team,
                service_area="childrens_social_care",
                received_at="2022-09-09T09:00:00Z",
                complainant="parent_carer",
            ),
            "complaints",
        )
        add(
            ev.ComplaintExtended(complaint_id=cid, stage=1, new_due_date="2022-10-20", reason="complex"),
            "complaints",
            2,
        )
        add(
            ev.ComplaintExtended(complaint_id=cid, stage=1, new_due_date="2022-10-03", reason="again"),
            "complaints",
            3,
        )
        add(
            ev.ComplaintClosed(
                complaint_id=cid,
                stage=1,
                closed_at="2022-10-03T15:00:00Z",
                outcome="not_upheld" if cid == "c1" else "withdrawn",
                points=[{"upheld": False}],
                due_date="2022-09-26",
                within_timescale=False,
                working_days_taken=15,
            ),
            "complaints",
            4,
        )
    add(
        ev.ComplaintEscalated(complaint_id="c1", from_stage=1, to_stage=2, escalated_at="2022-10-05T09:00:00Z"),
        "complaints",
        5,
    )
    add(
        ev.ComplaintClosed(
            complaint_id="c1",
            stage=2,
            closed_at="2022-11-01T09:00:00Z",
            outcome="partially_upheld",
            points=[{"upheld": True}, {"upheld": False}],
            due_date="2022-11-09",
            within_timescale=True,
            working_days_taken=19,
        ),
        "complaints",
        6,
    )
    add(
        ev.ComplaintClosed(  # unknown complaint
            complaint_id="ghost",
            stage=1,
            closed_at="2022-08-01T09:00:00Z",
            outcome="upheld",
            points=[{"upheld": True}],
            due_date="2022-08-02",
            within_timescale=True,
            working_days_taken=3,
        ),
        "complaints",
        2,
    )
    add(
        ev.ComplaintAcknowledged(complaint_id="c1", acknowledged_at="2022-09-10T09:00:00Z"),
        "complaints",
    )
    for action_id, origin, origin_id in (("x1", "complaint", "c1"), ("x2", "feedback", "r1")):
        add(
            ev.ActionRaised(
                action_id=action_id,
                origin=origin,
                origin_id=origin_id,
                team="t1",
                service_area="send",
                owner_id="o",
                raised_at="2022-08-01T09:00:00Z",
                due_date="2022-11-10",
                summary="s",
            ),
            "complaints",
        )
    for action_id, when in (
        ("x1", "2022-11-02T09:00:00Z"),
        ("x1", "2022-11-20T09:00:00Z"),
        ("x2", "2022-08-02T09:00:00Z"),
        ("nobody", "2022-08-02T09:00:00Z"),
    ):
        add(ev.ActionCompleted(action_id=action_id, completed_at=when), "complaints")
    # Casework.
    for child, when, team in (
        ("ch1", "2021-08-31T09:00:00Z", "t2"),
        ("ch1", "2022-08-31T09:00:00Z", "t1"),
        ("ch2", "2022-08-15T09:00:00Z", "t1"),
        ("ch2", "2022-08-15T10:00:00Z", "t1"),
    ):
        add(
            ev.ReferralReceived(
                referral_id=f"ref-{len(out)}",
                child_ref=child,
                received_at=when,
                team=team,
                service_area="childrens_social_care",
            ),
            "casework",
        )
    for started, completed in (("2022-08-01", "2022-10-05"), ("2022-08-01", "2022-10-06")):
        add(
            ev.AssessmentCompleted(
                assessment_id=f"as-{len(out)}",
                child_ref="ch1",
                started_at=started,
                completed_at=completed,
                team="t2",
                service_area="childrens_social_care",
            ),
            "casework",
        )
    for issued, exception in (("2022-07-19", False), ("2022-07-20", False), ("2022-08-20", True)):
        add(
            ev.EhcpIssued(
                plan_id=f"p-{len(out)}",
                child_ref="ch3",
                requested_at="2022-03-01",
                issued_at=issued,
                exception=exception,
                team="t1",
                service_area="send",
            ),
            "casework",
        )
    for reached in (True, False, True):
        add(
            ev.CaseworkerContactAttempted(
                attempt_id=f"at-{len(out)}",
                child_ref="ch1",
                team="t1",
                service_area="childrens_social_care",
                attempted_at="2022-08-20T09:00:00Z",
                reached=reached,
            ),
            "casework",
        )
    return out


def _audit_additions(add: Any) -> None:
    """Schedules (a1 rescheduled: the highest sequence holds), an EHCP audit with area grades
    and procedure compliance, a rework superseding con1 and another raised before a
    resolution, an inspection finding and the inspection action that answers it."""
    for audit_id, due, seq in (("a1", "2022-07-05", 1), ("a1", "2022-06-30", 2), ("a2", "2022-08-11", 1)):
        add(
            ev.AuditScheduled(
                audit_id=audit_id,
                case_ref="k1",
                service_area="send",
                team="t1",
                audit_type="routine",
                auditor_id="u1",
                due_date=due,
            ),
            "audit",
            seq,
        )
    for audit_id, compliant, when in (("e1", True, "2022-08-02T09:00:00Z"), ("e2", False, "2022-09-02T09:00:00Z")):
        add(
            ev.AuditGraded(
                audit_id=audit_id,
                case_ref=f"k-{audit_id}",
                service_area="send",
                team="t2",
                audit_type="ehcp",
                completed_at=when,
                area_grades=[{"area": "timeliness", "grade": "good"}, {"area": "outcomes", "grade": "inadequate"}],
                overall_grade="inadequate",
                auditor_id="u1",
                procedure_compliant=compliant,
            ),
            "audit",
            2,
        )
    for concern_id, raised, supersedes in (
        ("con2", "2022-10-01T09:00:00Z", "con1"),
        ("con3", "2022-07-02T09:00:00Z", None),
    ):
        add(
            ev.ConcernRaised(
                concern_id=concern_id,
                service_area="send",
                theme="planning",
                description="d",
                measures=["m"],
                raised_at=raised,
                review_by="2022-12-30",
                supersedes=supersedes,
            ),
            "audit",
        )
    add(
        ev.ConcernResolved(
            concern_id="con3", resolved_at="2022-08-20T09:00:00Z", evidence_audit_ids=[], outcome="effective"
        ),
        "audit",
    )
    add(
        ev.InspectionFindingRecorded(
            finding_id="f1",
            body="ofsted",
            service_area="childrens_social_care",
            team="t2",
            summary="s",
            recorded_at="2022-09-05T23:30:00Z",
        ),
        "audit",
    )
    add(
        ev.ActionRaised(
            action_id="x3",
            origin="inspection",
            origin_id="f1",
            team="t2",
            service_area="childrens_social_care",
            owner_id="o",
            raised_at="2022-09-12T09:00:00Z",
            due_date="2022-10-10",
            summary="s",
        ),
        "audit",
    )


EVENTS = _events()
FACTS = [fact_from_event(e, d) for e, d in EVENTS]


pytestmark = pytest.mark.integration
H: Any = None
BASELINE: Any = None


@pytest.fixture(autouse=True, scope="module")
def _harness(readmodels):
    global H, BASELINE
    H = readmodels
    BASELINE = _outcome(FACTS)


def _outcome(facts: list[object], batch_sizes: list[int] | None = None):
    tenant = H.load([f for f in facts if f is not None], calendar=CAL, batch_sizes=batch_sizes or ())
    followups = H.followups(tenant)
    by_filter = [H.figures(tenant, PERIODS, flt, today=TODAY) for flt in FILTERS]
    kpis = [by_filter[j][i] for i in range(len(PERIODS)) for j in range(len(FILTERS))]
    return followups, kpis


def test_incremental_followups_equal_the_rules_over_every_fact():
    followups, _ = BASELINE
    expected = derive(Facts.of(f for f in FACTS if f is not None), calendar=CAL)
    assert sorted(followups, key=lambda f: f.followup_id) == sorted(expected, key=lambda f: f.followup_id)


def test_the_event_set_is_rich():
    followups, kpis = BASELINE
    assert {f.rule for f in followups} == {
        "complaint-learning",
        "re-audit",
        "concern-targeted-audit",
        "feedback-response",
        "action",
        "safeguarding-alert",
        "concern-rework",
        "inspection-finding",
    }
    assert sum(f is None for f in FACTS) == 1  # ComplaintAcknowledged
    q2_all = {v.kpi: v for v in kpis[0]}
    assert q2_all["audit.completed"].value == 5  # a1 (1 Jul, London), a2, a4, e1, e2
    assert q2_all["audit.completed_on_time_rate"].numerator == 0  # a1 due 30 Jun (rescheduled), a2 late
    assert q2_all["audit.completed_on_time_rate"].denominator == 2
    assert (
        q2_all["audit.ehcp_procedure_compliance_rate"].numerator,
        q2_all["audit.ehcp_procedure_compliance_rate"].denominator,
    ) == (1, 2)
    assert q2_all["audit.area_good_or_better_rate.outcomes"].value == 0.0
    assert (
        q2_all["audit.concern_measures_effective_rate"].numerator,
        q2_all["audit.concern_measures_effective_rate"].denominator,
    ) == (1, 2)
    rework = {f.rule: f for f in followups}["concern-rework"]
    assert rework.closed_on == date(2022, 10, 1)
    assert q2_all["complaints.closed"].value == 1


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    order=st.permutations(range(len(FACTS))),
    duplicates=st.lists(st.integers(0, len(FACTS) - 1), max_size=30),
    batch_sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6),
)
def test_any_order_and_duplicates_give_the_same_figures(order, duplicates, batch_sizes):
    facts = [FACTS[i] for i in order]
    for n, i in enumerate(duplicates):
        facts.insert((n * 7) % (len(facts) + 1), FACTS[i])
    assert _outcome(facts, batch_sizes) == BASELINE


def test_redelivered_event_parsed_again_is_the_same_fact():
    for envelope, data in EVENTS:
        again = ev.parse_event(envelope.to_json())
        assert fact_from_event(*again) == fact_from_event(envelope, data)
