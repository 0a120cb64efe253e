"""The 2026-12 audit rules on plain facts (DOMAIN.md "Added rules (2026-12)", "Precise
readings of the 2026-12 rules"): concern-rework and inspection-finding follow-ups, which
schedule and which resolution count, and the facts the new event fields give.

Calendar facts used: Mon 19 Sep 2022 (Queen's funeral), Mon 26 / Tue 27 Dec 2022 and Mon
2 Jan 2023 are bank holidays in England; BST ends on Sun 30 Oct 2022.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime

import pytest

from services.reporting.facts import (
    ActionRaisedFact,
    AreaGradeFact,
    AuditScheduledFact,
    ConcernRaisedFact,
    ConcernResolvedFact,
    Facts,
    InspectionFindingFact,
    fact_from_event,
)
from services.reporting.followups import FollowUp, counted_resolutions, derive, latest_schedules
from services.reporting.kpis import AREA_GOOD, Target, apply_publication_rules, definition_of, is_known_kpi, rate_value
from shared import events as ev
from shared.calendar import default_calendar

CAL = default_calendar()
_ids = itertools.count(1)


def _id() -> str:
    return f"e{next(_ids):05d}"


def at(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def by_rule(facts: Facts, rule: str) -> dict[str, FollowUp]:
    return {f.origin_id: f for f in derive(facts, calendar=CAL) if f.rule == rule}


def concern(cid: str, on: date, *, supersedes: str | None = None, eid: str | None = None) -> ConcernRaisedFact:
    eid = eid or _id()
    return ConcernRaisedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        concern_id=cid,
        service_area="send",
        theme="oversight",
        raised_on=on,
        review_by=date(2023, 6, 30),
        supersedes=supersedes,
    )


def resolution(cid: str, on: date, outcome: str | None, *, hour: int = 12) -> ConcernResolvedFact:
    eid = _id()
    return ConcernResolvedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        concern_id=cid,
        resolved_at=at(on, hour),
        resolved_on=on,
        outcome=outcome,
    )


def finding(fid: str, on: date, *, team: str | None = "t1") -> InspectionFindingFact:
    eid = _id()
    return InspectionFindingFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        finding_id=fid,
        body="ofsted",
        service_area="childrens_social_care",
        team=team,
        recorded_at=at(on),
        recorded_on=on,
    )


def raised_action(action_id: str, origin: str, origin_id: str, on: date) -> ActionRaisedFact:
    eid = _id()
    return ActionRaisedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        action_id=action_id,
        origin=origin,
        origin_id=origin_id,
        team="t1",
        service_area="childrens_social_care",
        raised_on=on,
        due_date=date(2023, 3, 31),
    )


def schedule(audit_id: str, due: date, seq: int, *, hour: int = 9) -> AuditScheduledFact:
    eid = _id()
    return AuditScheduledFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        audit_id=audit_id,
        due_date=due,
        time=at(date(2022, 4, 1), hour),
        sequence=seq,
    )


# --------------------------------------------------------------------------- concern-rework


def test_concern_rework_due_20_working_days_over_christmas_and_new_year():
    facts = Facts.of([concern("c1", date(2022, 11, 1)), resolution("c1", date(2022, 12, 20), "not_effective")])
    fu = by_rule(facts, "concern-rework")["c1"]
    assert fu.followup_id == "concern-rework:c1"
    assert (fu.opened_on, fu.due_date) == (date(2022, 12, 20), date(2023, 1, 20))
    assert (fu.team, fu.service_area, fu.closed_on) == (None, "send", None)


@pytest.mark.parametrize("outcome", ["effective", "partly_effective", None])
def test_no_rework_unless_not_effective(outcome):
    facts = Facts.of([concern("c1", date(2022, 11, 1)), resolution("c1", date(2022, 12, 20), outcome)])
    assert by_rule(facts, "concern-rework") == {}


def test_rework_closed_by_the_first_superseding_concern_on_or_after_the_opening():
    facts = Facts.of(
        [
            concern("c1", date(2022, 11, 1)),
            resolution("c1", date(2022, 12, 20), "not_effective"),
            concern("early", date(2022, 12, 19), supersedes="c1"),  # before the opening: not evidence
            concern("other", date(2022, 12, 21), supersedes="c9"),  # another concern's
            concern("same-day", date(2022, 12, 20), supersedes="c1", eid="e99998"),
            concern("later", date(2023, 1, 5), supersedes="c1"),
        ]
    )
    fu = by_rule(facts, "concern-rework")["c1"]
    assert (fu.closed_on, fu.closed_by_event_id, fu.on_time) == (date(2022, 12, 20), "e99998", True)


def test_rework_superseded_only_before_the_opening_stays_open():
    facts = Facts.of(
        [
            concern("c1", date(2022, 11, 1)),
            concern("c2", date(2022, 12, 1), supersedes="c1"),
            resolution("c1", date(2022, 12, 20), "not_effective"),
        ]
    )
    assert by_rule(facts, "concern-rework")["c1"].closed_on is None


def test_rework_closed_late_after_its_due_date():
    facts = Facts.of(
        [
            concern("c1", date(2022, 11, 1)),
            resolution("c1", date(2022, 12, 20), "not_effective"),
            concern("c2", date(2023, 1, 23), supersedes="c1"),
        ]
    )
    fu = by_rule(facts, "concern-rework")["c1"]
    assert fu.status(date(2023, 1, 21)) == "overdue"
    assert (fu.closed_on, fu.on_time) == (date(2023, 1, 23), False)


def test_rework_follows_the_first_resolution_with_an_outcome_whatever_the_order():
    facts = [
        concern("c1", date(2022, 11, 1)),
        resolution("c1", date(2022, 12, 1), None),  # no outcome: not the counted one
        resolution("c1", date(2022, 12, 20), "not_effective", hour=9),
        resolution("c1", date(2022, 12, 20), "effective", hour=15),  # later the same day
    ]
    expected = by_rule(Facts.of(facts), "concern-rework")["c1"]
    assert expected.opened_on == date(2022, 12, 20)
    rng = random.Random(3)
    for _ in range(5):
        shuffled = facts + facts[1:2]  # a redelivered copy changes nothing
        rng.shuffle(shuffled)
        assert by_rule(Facts.of(shuffled), "concern-rework")["c1"] == expected


def test_rework_opens_on_the_first_not_effective_resolution_even_after_another_outcome():
    facts = Facts.of(
        [
            concern("c1", date(2022, 11, 1)),
            resolution("c1", date(2022, 12, 1), "effective"),
            resolution("c1", date(2022, 12, 20), "not_effective"),
            resolution("c1", date(2023, 1, 4), "not_effective"),
        ]
    )
    fu = by_rule(facts, "concern-rework")["c1"]
    assert (fu.opened_on, fu.due_date) == (date(2022, 12, 20), date(2023, 1, 20))


def test_rework_of_an_unknown_concern_has_no_service_area():
    fu = by_rule(Facts.of([resolution("c1", date(2022, 12, 20), "not_effective")]), "concern-rework")["c1"]
    assert (fu.team, fu.service_area) == (None, None)


def test_counted_resolution_is_the_first_carrying_an_outcome():
    a = resolution("c1", date(2022, 7, 1), None)
    b = resolution("c1", date(2022, 7, 2), "partly_effective")
    c = resolution("c1", date(2022, 7, 3), "effective")
    assert counted_resolutions([c, a, b]) == {"c1": b}
    assert counted_resolutions([a]) == {}


# --------------------------------------------------------------------------- inspection-finding


def test_inspection_finding_due_20_working_days_over_a_one_off_bank_holiday():
    fu = by_rule(Facts.of([finding("f1", date(2022, 9, 6))]), "inspection-finding")["f1"]
    assert fu.followup_id == "inspection-finding:f1"
    assert (fu.opened_on, fu.due_date) == (date(2022, 9, 6), date(2022, 10, 5))
    assert (fu.origin, fu.team, fu.service_area) == ("inspection", "t1", "childrens_social_care")


def test_inspection_finding_closed_by_the_first_inspection_action_on_or_after_it():
    facts = Facts.of(
        [
            finding("f1", date(2022, 9, 6)),
            raised_action("x0", "inspection", "f1", date(2022, 9, 5)),  # before the finding
            raised_action("x1", "audit", "f1", date(2022, 9, 7)),  # not origin inspection
            raised_action("x2", "inspection", "f2", date(2022, 9, 7)),  # another finding
            raised_action("x3", "inspection", "f1", date(2022, 10, 5)),  # on the due date
            raised_action("x4", "inspection", "f1", date(2022, 10, 7)),
        ]
    )
    fu = by_rule(facts, "inspection-finding")["f1"]
    assert (fu.closed_on, fu.on_time) == (date(2022, 10, 5), True)


def test_inspection_finding_without_team_keeps_none_and_recorded_twice_counts_once():
    facts = Facts.of([finding("f1", date(2022, 9, 8), team=None), finding("f1", date(2022, 9, 6), team=None)])
    fus = [f for f in derive(facts, calendar=CAL) if f.rule == "inspection-finding"]
    assert len(fus) == 1 and fus[0].opened_on == date(2022, 9, 6) and fus[0].team is None


# --------------------------------------------------------------------------- schedules


def test_latest_schedule_is_the_highest_sequence_whatever_the_order():
    s1, s2, s3 = (
        schedule("a1", date(2022, 7, 1), 1),
        schedule("a1", date(2022, 6, 1), 3),
        schedule("a1", date(2022, 8, 1), 2),
    )
    for order in ([s1, s2, s3], [s3, s2, s1], [s2, s1, s3]):
        assert latest_schedules(order)["a1"].due_date == date(2022, 6, 1)


def test_schedules_with_equal_sequence_are_ordered_by_envelope_time():
    early, late = schedule("a1", date(2022, 7, 1), 0, hour=8), schedule("a1", date(2022, 7, 8), 0, hour=10)
    assert latest_schedules([late, early])["a1"] is late


# --------------------------------------------------------------------------- facts from events


def test_facts_carry_the_new_fields_with_london_dates():
    def fact(data: ev.EventData, seq: int = 1):
        return fact_from_event(ev.new_event(data, source="/qaloop/audit", tenant="E1", sequence=seq), data)

    graded = fact(
        ev.AuditGraded(
            audit_id="a1",
            case_ref="k1",
            service_area="send",
            team="t1",
            audit_type="ehcp",
            completed_at="2022-10-30T00:30:00Z",  # 01:30 BST: still 30 Oct
            area_grades=[{"area": "timeliness", "grade": "good"}, {"area": "outcomes", "grade": "inadequate"}],
            overall_grade="inadequate",
            auditor_id="u1",
            procedure_compliant=False,
        )
    )
    assert graded.area_grades == (AreaGradeFact("timeliness", "good"), AreaGradeFact("outcomes", "inadequate"))
    assert (graded.procedure_compliant, graded.completed_on) == (False, date(2022, 10, 30))
    sched = fact(
        ev.AuditScheduled(
            audit_id="a1",
            case_ref="k1",
            service_area="send",
            team="t1",
            audit_type="ehcp",
            auditor_id="u1",
            due_date="2022-10-31",
        ),
        seq=7,
    )
    assert (sched.audit_id, sched.due_date, sched.sequence) == ("a1", date(2022, 10, 31), 7)
    resolved = fact(
        ev.ConcernResolved(
            concern_id="c1",
            resolved_at="2022-06-30T23:30:00Z",
            evidence_audit_ids=["a1"],
            outcome="not_effective",
            reason="no change",
        )
    )
    assert (resolved.outcome, resolved.resolved_on) == ("not_effective", date(2022, 7, 1))
    found = fact(
        ev.InspectionFindingRecorded(
            finding_id="f1",
            body="cqc",
            service_area="send",
            summary="Transitions to adult services start late",
            recorded_at="2022-07-31T23:30:00Z",
        )
    )
    assert (found.recorded_on, found.team, found.body) == (date(2022, 8, 1), None, "cqc")


def test_old_producers_events_without_the_new_fields_still_make_facts():
    data = ev.ConcernResolved(concern_id="c1", resolved_at="2022-07-01T10:00:00Z", evidence_audit_ids=[])
    assert fact_from_event(ev.new_event(data, source="/qaloop/audit", tenant="E1"), data).outcome is None


def test_inspection_finding_body_is_checked():
    with pytest.raises(ValueError):
        ev.InspectionFindingRecorded(
            finding_id="f1", body="hmrc", service_area="send", summary="x", recorded_at="2022-07-01T10:00:00Z"
        )


# --------------------------------------------------------------------------- the area family


def test_area_family_members_are_known_rates_with_the_familys_target():
    kpi = AREA_GOOD + "management_oversight"
    assert is_known_kpi(kpi) and definition_of(kpi).unit == "rate"
    targets = {AREA_GOOD + "<area>": Target(0.8, 0.1)}
    [v] = apply_publication_rules([rate_value(kpi, 6, 10)], detail=False, targets=targets)
    assert (v.value, v.rag) == (0.6, "red")
    [small] = apply_publication_rules([rate_value(kpi, 2, 3)], detail=False, targets=targets)
    assert small.suppressed and small.value is None
