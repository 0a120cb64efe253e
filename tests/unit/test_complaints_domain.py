"""Complaints domain rules: timescales, extensions, escalation, outcome roll-up, withdrawal.

Every expected date below was counted by hand on a calendar (day 0 = the stage start; the
n-th working day after it is the deadline), never computed with the code under test.
England bank holidays used: 29 Aug 2022 (summer), 19 Sep 2022 (the Queen's funeral),
26 and 27 Dec 2022 (Boxing Day, Christmas Day substitute), 2 Jan 2023 (New Year substitute),
7 and 10 Apr 2023 (Good Friday, Easter Monday).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.complaints.domain import (
    CaseSubjects,
    Complaint,
    ExtensionReason,
    Learning,
    Point,
    Rules,
    Status,
    roll_up,
    working_days_left,
)
from shared.actions.domain import ActionOrigin
from shared.calendar import WorkingCalendar, default_calendar
from shared.complaint_timescales import Stage2Clock, StageTimescale, Timescales
from shared.errors import Conflict, Invalid
from shared.events import (
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintPanelHeld,
    ComplaintReceived,
    ComplaintReferredToOmbudsman,
    ComplaintStatementAgreed,
    LearningIdentified,
    OmbudsmanDecided,
    OmbudsmanFinding,
    Outcome,
    Procedure,
)

RULES = Rules(Timescales(), default_calendar())
AGREED = Rules(Timescales(stage2_clock=Stage2Clock.AGREED_STATEMENT), default_calendar())


def at(day: str, time: str = "10:00:00") -> datetime:
    """A timestamp on a London date (10:00 UTC is 10:00 or 11:00 in London: same date)."""
    return datetime.fromisoformat(f"{day}T{time}+00:00")


def received(
    when: datetime | str,
    procedure: Procedure = Procedure.STATUTORY_CHILDREN,
    stage: int = 1,
    rules: Rules = RULES,
) -> Complaint:
    complaint = Complaint.receive(
        rules,
        complaint_id="c-1",
        procedure=procedure,
        category="communication",
        team="through-care",
        service_area="childrens_social_care",
        complainant="parent_carer",  # type: ignore[arg-type]
        received_at=at(when) if isinstance(when, str) else when,
        stage=stage,
    )
    event = complaint.received_event()
    assert isinstance(event, ComplaintReceived) and event.stage == stage
    return complaint


def close(complaint: Complaint, day: str, *upheld: bool, rules: Rules = RULES) -> ComplaintClosed:
    event = complaint.respond(
        rules,
        closed_at=at(day),
        points=[Point(u, f"point {i}") for i, u in enumerate(upheld or (True,))],
    )
    assert isinstance(event, ComplaintClosed)
    return event


# ------------------------------------------------------------------------ stage 1 timescale


def test_stage1_closed_on_its_10th_working_day_is_within_timescale() -> None:
    c = received("2022-08-01")  # Monday; 10th working day after it: Monday 15 Aug
    assert c.stage.due_date == date(2022, 8, 15)
    closed = close(c, "2022-08-15")
    assert closed.due_date == date(2022, 8, 15)
    assert closed.within_timescale is True
    assert closed.working_days_taken == 10
    assert closed.stage == 1


def test_stage1_closed_on_its_11th_working_day_is_late() -> None:
    closed = close(received("2022-08-01"), "2022-08-16")
    assert closed.within_timescale is False
    assert closed.working_days_taken == 11
    assert closed.due_date == date(2022, 8, 15)


def test_stage1_closed_on_its_11th_working_day_is_in_time_when_extended() -> None:
    c = received("2022-08-01")
    extended = c.extend(
        RULES,
        new_due_date=date(2022, 8, 22),
        reason=ExtensionReason.COMPLEX,
        extended_at=at("2022-08-10"),
        note="waiting for the social worker's notes about Jo",
    )
    assert isinstance(extended, ComplaintExtended)
    assert extended.stage == 1 and extended.new_due_date == date(2022, 8, 22)
    assert extended.reason == "complex"  # a code: the officer's note stays in the service
    assert "Jo" not in extended.model_dump_json()
    closed = close(c, "2022-08-16")
    assert closed.within_timescale is True
    assert closed.due_date == date(2022, 8, 22)
    assert closed.working_days_taken == 11


def test_stage1_extension_may_reach_but_not_pass_20_working_days() -> None:
    # 20th working day after Mon 1 Aug 2022: Tue 30 Aug (Mon 29 Aug is a bank holiday).
    c = received("2022-08-01")
    assert c.stage.maximum_date == date(2022, 8, 30)
    with pytest.raises(Invalid) as refused:
        c.extend(
            RULES,
            new_due_date=date(2022, 8, 31),
            reason=ExtensionReason.COMPLEX,
            extended_at=at("2022-08-05"),
        )
    assert refused.value.field == "new_due_date"
    assert "2022-08-30" in refused.value.reason and "maximum" in refused.value.reason
    assert c.stage.extensions == []
    c.extend(
        RULES,
        new_due_date=date(2022, 8, 30),
        reason=ExtensionReason.COMPLEX,
        extended_at=at("2022-08-05"),
    )
    assert c.stage.due_date == date(2022, 8, 30)


def test_extend_by_working_days_counts_from_the_current_due_date() -> None:
    c = received("2022-08-01")
    assert c.extension_date(RULES, 10) == date(2022, 8, 30)  # 10 after Mon 15 Aug, past 29 Aug
    assert c.extension_date(RULES, 3) == date(2022, 8, 18)


def test_extend_by_working_days_moves_the_due_date_and_a_refusal_names_that_field() -> None:
    c = received("2022-08-01")
    event = c.extend(RULES, by_working_days=3, reason=ExtensionReason.COMPLEX, extended_at=at("2022-08-05"))
    assert (event.new_due_date, c.stage.due_date) == (date(2022, 8, 18), date(2022, 8, 18))
    with pytest.raises(Invalid) as refused:  # 11 after Thu 18 Aug: past the maximum, Tue 30 Aug
        c.extend(RULES, by_working_days=8, reason=ExtensionReason.COMPLEX, extended_at=at("2022-08-05"))
    assert refused.value.field == "extend_by_working_days"
    assert refused.value.reason.startswith("8 working days after the current due date: ")
    assert "2022-08-30" in refused.value.reason
    for both_or_neither in ({}, {"new_due_date": date(2022, 8, 22), "by_working_days": 2}):
        with pytest.raises(Invalid, match="exactly one") as refused:
            c.extend(RULES, reason=ExtensionReason.OTHER, extended_at=at("2022-08-05"), **both_or_neither)  # type: ignore[arg-type]
        assert refused.value.field == "new_due_date"
    assert len(c.stage.extensions) == 1


def test_an_extension_must_move_the_due_date_later_and_land_on_a_working_day() -> None:
    c = received("2022-08-01")
    with pytest.raises(Invalid, match="after the current due date"):
        c.extend(
            RULES,
            new_due_date=date(2022, 8, 15),
            reason=ExtensionReason.OTHER,
            extended_at=at("2022-08-02"),
        )
    with pytest.raises(Invalid, match="not a working day"):
        c.extend(
            RULES,
            new_due_date=date(2022, 8, 29),
            reason=ExtensionReason.OTHER,
            extended_at=at("2022-08-02"),
        )


def test_an_extension_after_the_due_date_has_passed_is_refused() -> None:
    c = received("2022-08-01")
    with pytest.raises(Conflict, match="passed"):
        c.extend(
            RULES,
            new_due_date=date(2022, 8, 22),
            reason=ExtensionReason.OTHER,
            extended_at=at("2022-08-16"),
        )


def test_received_late_on_31_july_utc_counts_from_monday_1_august_london() -> None:
    c = received(datetime(2022, 7, 31, 23, 30, tzinfo=UTC))  # 00:30 BST on Monday 1 August
    assert c.stage.clock_start == date(2022, 8, 1)
    assert c.stage.due_date == date(2022, 8, 15)  # from Sunday 31 July it would be Friday 12th
    assert close(c, "2022-08-15").working_days_taken == 10


# ------------------------------------------------------------------------ bank holidays


@pytest.mark.parametrize(
    ("received_on", "due", "why"),
    [
        ("2022-09-12", date(2022, 9, 27), "19 Sep 2022, the Queen's funeral, is not a working day"),
        ("2022-12-16", date(2023, 1, 4), "26, 27 Dec 2022 and 2 Jan 2023 are bank holidays"),
        ("2023-04-03", date(2023, 4, 19), "Good Friday 7 Apr and Easter Monday 10 Apr 2023"),
    ],
)
def test_bank_holidays_move_the_stage1_due_date(received_on: str, due: date, why: str) -> None:
    assert received(received_on).stage.due_date == due, why


def test_authority_closure_days_are_not_working_days() -> None:
    rules = Rules(Timescales(), WorkingCalendar(closures=[date(2022, 8, 15)]))
    c = received("2022-08-01", rules=rules)
    assert c.stage.due_date == date(2022, 8, 16)


# ------------------------------------------------------------------------ stage 2 and 3


def responded_then_escalated(escalated_on: str, rules: Rules = RULES, **kw: object) -> Complaint:
    c = received("2022-08-01", rules=rules, **kw)  # type: ignore[arg-type]
    close(c, "2022-08-12", False, rules=rules)
    event = c.escalate(rules, escalated_at=at(escalated_on))
    assert isinstance(event, ComplaintEscalated)
    assert (event.from_stage, event.to_stage) == (1, 2)
    return c


def test_statutory_stage2_is_due_in_25_working_days_and_at_most_65() -> None:
    # Day 0 Thu 1 Sep 2022; 25th working day Fri 7 Oct (19 Sep is a bank holiday);
    # 65th: Fri 2 Dec 2022.
    c = responded_then_escalated("2022-09-01")
    assert c.status == Status.OPEN and c.stage.number == 2
    assert c.stage.clock_start == date(2022, 9, 1)
    assert c.stage.due_date == date(2022, 10, 7)
    assert c.stage.maximum_date == date(2022, 12, 2)
    with pytest.raises(Invalid, match="2022-12-02"):
        c.extend(
            RULES,
            new_due_date=date(2022, 12, 5),
            reason=ExtensionReason.COMPLEX,
            extended_at=at("2022-09-05"),
        )
    c.extend(
        RULES,
        new_due_date=date(2022, 12, 2),
        reason=ExtensionReason.COMPLEX,
        extended_at=at("2022-09-05"),
    )
    closed = close(c, "2022-12-02", True, False)
    assert closed.stage == 2
    assert closed.within_timescale is True
    assert closed.working_days_taken == 65
    assert closed.outcome == Outcome.PARTIALLY_UPHELD


def test_statutory_stage2_closed_one_day_late_without_extension() -> None:
    c = responded_then_escalated("2022-09-01")
    closed = close(c, "2022-10-10")
    assert (closed.due_date, closed.within_timescale, closed.working_days_taken) == (
        date(2022, 10, 7),
        False,
        26,
    )


def test_corporate_stage2_is_20_working_days_with_no_room_to_extend() -> None:
    c = responded_then_escalated("2022-09-01", procedure=Procedure.CORPORATE)
    # 20th working day after Thu 1 Sep 2022: Fri 30 Sep (19 Sep is a bank holiday).
    assert c.stage.due_date == c.stage.maximum_date == date(2022, 9, 30)
    with pytest.raises(Invalid, match="maximum"):
        c.extend(
            RULES,
            new_due_date=date(2022, 10, 3),
            reason=ExtensionReason.COMPLEX,
            extended_at=at("2022-09-02"),
        )


def at_stage3(escalated_on: str = "2022-10-10") -> Complaint:
    c = responded_then_escalated("2022-09-01")
    close(c, "2022-10-03")
    event = c.escalate(RULES, escalated_at=at(escalated_on))
    assert (event.from_stage, event.to_stage, event.late_request) == (2, 3, False)  # never late for 2 -> 3
    return c


def test_stage3_without_a_panel_is_due_50_working_days_after_the_request_and_is_the_last_stage() -> None:
    c = at_stage3()
    # 50th working day after Mon 10 Oct 2022: Mon 19 Dec (no bank holiday between).
    assert (c.stage.number, c.stage.due_date, c.stage.maximum_date) == (3, date(2022, 12, 19), date(2022, 12, 19))
    # Working day 49 (Fri 16 Dec) is on time: the "called late" case.
    closed = close(c, "2022-12-16", False)
    assert closed.stage == 3 and closed.within_timescale and closed.working_days_taken == 49
    with pytest.raises(Conflict, match="last stage"):
        c.escalate(RULES, escalated_at=at("2022-12-19"))


def test_stage3_without_a_panel_closed_on_working_day_51_is_late() -> None:
    c = at_stage3()
    closed = close(c, "2022-12-20", False)
    assert (closed.due_date, closed.within_timescale, closed.working_days_taken) == (date(2022, 12, 19), False, 51)


def test_stage3_is_due_20_working_days_after_the_latest_panel_and_counts_days_from_the_request() -> None:
    c = at_stage3()
    held = c.hold_panel(RULES, held_at=at("2022-11-18"))
    assert held == ComplaintPanelHeld(complaint_id="c-1", held_at=at("2022-11-18"))
    # 20th working day after Fri 18 Nov 2022: Fri 16 Dec.
    assert c.stage.due_date == c.stage.maximum_date == date(2022, 12, 16)
    c.hold_panel(RULES, held_at=at("2022-11-21"))  # reconvened: the latest panel counts
    # 20th working day after Mon 21 Nov 2022: Mon 19 Dec.
    assert c.stage.due_date == date(2022, 12, 19)
    c.hold_panel(RULES, held_at=at("2022-11-17"))  # recorded late, held earlier: changes nothing
    assert c.stage.due_date == date(2022, 12, 19) and c.stage.latest_panel_on == date(2022, 11, 21)
    closed = close(c, "2022-12-19", False)
    # Working days taken still count from the stage-3 request (Mon 10 Oct): 50.
    assert (closed.due_date, closed.within_timescale, closed.working_days_taken) == (date(2022, 12, 19), True, 50)


def test_stage3_after_a_panel_one_day_past_is_late() -> None:
    c = at_stage3()
    c.hold_panel(RULES, held_at=at("2022-11-18"))
    closed = close(c, "2022-12-19", False)
    assert (closed.due_date, closed.within_timescale) == (date(2022, 12, 16), False)


def test_a_panel_just_after_bst_midnight_counts_from_its_london_date_a_bank_holiday() -> None:
    c = received("2023-04-03", stage=3)
    # 23:30 UTC on Sun 7 May 2023 is 00:30 BST on Mon 8 May, the coronation bank holiday.
    c.hold_panel(RULES, held_at=at("2023-05-07", "23:30:00"))
    assert c.stage.latest_panel_on == date(2023, 5, 8)
    # 20th working day after Mon 8 May 2023 (29 May is a bank holiday): Tue 6 Jun.
    assert c.stage.due_date == date(2023, 6, 6)


def test_a_panel_is_held_at_an_open_stage3_not_before_its_request() -> None:
    c = responded_then_escalated("2022-09-01")
    with pytest.raises(Conflict, match="stage 3"):
        c.hold_panel(RULES, held_at=at("2022-09-20"))
    c = at_stage3()
    with pytest.raises(Invalid) as refused:
        c.hold_panel(RULES, held_at=at("2022-10-07"))  # the panel before the request
    assert refused.value.field == "held_at"
    with pytest.raises(Conflict, match="no extension"):
        c.extend(RULES, new_due_date=date(2022, 12, 20), reason=ExtensionReason.COMPLEX, extended_at=at("2022-10-11"))
    close(c, "2022-11-30", False)
    with pytest.raises(Conflict, match="closed"):
        c.hold_panel(RULES, held_at=at("2022-12-01"))


@pytest.mark.parametrize(
    ("escalated_at", "late"),
    [
        # Stage 1 answered Fri 12 Aug 2022; the 20th working day after it (29 Aug a bank
        # holiday) is Mon 12 Sep 2022.
        (at("2022-09-12"), False),
        (at("2022-09-12", "22:30:00"), False),  # 23:30 BST, still 12 Sep in London
        (at("2022-09-12", "23:30:00"), True),  # 00:30 BST on 13 Sep
        (at("2022-09-13"), True),
    ],
)
def test_a_stage2_request_after_the_escalation_window_is_accepted_and_flagged(
    escalated_at: datetime, late: bool
) -> None:
    c = received("2022-08-01")
    close(c, "2022-08-12", False)
    event = c.escalate(RULES, escalated_at=escalated_at)
    assert (event.to_stage, event.late_request, c.stage.late_request) == (2, late, late)


def test_a_request_on_the_saturday_after_the_windows_last_day_is_late() -> None:
    c = received("2022-09-01")
    close(c, "2022-09-01", False)
    # 20th working day after Thu 1 Sep 2022 (19 Sep a bank holiday): Fri 30 Sep.
    assert c.escalate(RULES, escalated_at=at("2022-10-01")).late_request is True


def test_ombudsman_referral_then_decision_one_at_a_time() -> None:
    c = received("2022-08-01")
    with pytest.raises(Conflict, match="no referral"):
        c.record_ombudsman_decision(decided_at=at("2022-09-01"), finding=OmbudsmanFinding.FAULT)
    with pytest.raises(Invalid) as refused:
        c.refer_to_ombudsman(referred_at=at("2022-07-29"))
    assert refused.value.field == "referred_at"
    referred = c.refer_to_ombudsman(referred_at=at("2022-09-01"))
    assert referred == ComplaintReferredToOmbudsman(complaint_id="c-1", referred_at=at("2022-09-01"))
    with pytest.raises(Conflict, match="awaits its decision"):
        c.refer_to_ombudsman(referred_at=at("2022-09-02"))
    with pytest.raises(Invalid) as refused:
        c.record_ombudsman_decision(decided_at=at("2022-08-31"), finding=OmbudsmanFinding.FAULT)
    assert refused.value.field == "decided_at"
    decided = c.record_ombudsman_decision(decided_at=at("2023-01-10"), finding=OmbudsmanFinding.NO_FAULT)
    assert decided == OmbudsmanDecided(complaint_id="c-1", decided_at=at("2023-01-10"), finding="no_fault")
    assert c.ombudsman[0].finding == OmbudsmanFinding.NO_FAULT
    c.refer_to_ombudsman(referred_at=at("2023-02-01"))  # again, after the decision
    assert len(c.ombudsman) == 2


def test_received_straight_into_stage2_starts_its_clock_on_receipt() -> None:
    c = received("2022-09-01", stage=2)
    assert c.stage.number == 2 and c.stage.due_date == date(2022, 10, 7)


def test_stage2_clock_from_the_agreed_statement_when_configured() -> None:
    c = responded_then_escalated("2022-09-01", rules=AGREED)
    assert c.stage.clock_start is None and c.stage.due_date is None
    with pytest.raises(Conflict, match="agreed statement"):
        close(c, "2022-09-20", rules=AGREED)
    with pytest.raises(Conflict, match="agreed statement"):
        c.extend(
            AGREED,
            new_due_date=date(2022, 12, 1),
            reason=ExtensionReason.OTHER,
            extended_at=at("2022-09-02"),
        )
    with pytest.raises(Invalid) as refused:
        c.agree_statement(AGREED, agreed_at=at("2022-08-31"))
    assert refused.value.field == "agreed_at"
    agreed = c.agree_statement(AGREED, agreed_at=at("2022-09-08"))
    assert agreed == ComplaintStatementAgreed(complaint_id="c-1", agreed_at=at("2022-09-08"))
    # 25th working day after Thu 8 Sep 2022: Fri 14 Oct (19 Sep is a bank holiday).
    assert c.stage.clock_start == date(2022, 9, 8)
    assert c.stage.due_date == date(2022, 10, 14)
    closed = close(c, "2022-10-14", rules=AGREED)
    assert closed.within_timescale and closed.working_days_taken == 25
    with pytest.raises(Conflict):
        c.agree_statement(AGREED, agreed_at=at("2022-09-09"))


def test_stage2_from_the_agreed_statement_is_on_time_at_65_working_days_with_an_extension() -> None:
    c = responded_then_escalated("2022-09-01", rules=AGREED)
    c.agree_statement(AGREED, agreed_at=at("2022-09-08"))
    # 65th working day after Thu 8 Sep 2022 (19 Sep a bank holiday): Fri 9 Dec.
    assert c.stage.maximum_date == date(2022, 12, 9)
    c.extend(AGREED, new_due_date=date(2022, 12, 9), reason=ExtensionReason.COMPLEX, extended_at=at("2022-10-03"))
    closed = close(c, "2022-12-09", rules=AGREED)
    assert (closed.within_timescale, closed.working_days_taken) == (True, 65)


def test_an_agreed_statement_is_recorded_but_does_not_move_the_clock_when_it_starts_at_escalation() -> None:
    c = responded_then_escalated("2022-09-01")
    due = c.stage.due_date
    event = c.agree_statement(RULES, agreed_at=at("2022-09-08"))
    assert event == ComplaintStatementAgreed(complaint_id="c-1", agreed_at=at("2022-09-08"))
    assert c.stage.clock_start == date(2022, 9, 1) and c.stage.due_date == due
    assert c.stage.statement_agreed_at == at("2022-09-08")


def test_a_statement_is_agreed_at_stage2_only() -> None:
    c = received("2022-09-01")
    with pytest.raises(Conflict, match="stage 2"):
        c.agree_statement(AGREED, agreed_at=at("2022-09-02"))


def test_configured_timescales_override_the_defaults() -> None:
    ts = Timescales().with_overrides({"corporate": {"2": {"due": 15, "maximum": 30}}}, "agreed_statement")
    assert ts.stage(Procedure.CORPORATE, 2) == StageTimescale(15, 30)
    assert ts.stage(Procedure.STATUTORY_CHILDREN, 2) == StageTimescale(25, 65)
    assert ts.stage2_clock == Stage2Clock.AGREED_STATEMENT
    with pytest.raises(ValueError):
        Timescales().with_overrides({"corporate": {"1": {"due": 30, "maximum": 20}}})


# ------------------------------------------------------------------------ outcome


@pytest.mark.parametrize(
    ("upheld", "outcome"),
    [
        ([True], Outcome.UPHELD),
        ([True, True, True], Outcome.UPHELD),
        ([False], Outcome.NOT_UPHELD),
        ([False, False], Outcome.NOT_UPHELD),
        ([True, False], Outcome.PARTIALLY_UPHELD),
        ([False, False, True], Outcome.PARTIALLY_UPHELD),
    ],
)
def test_outcome_rolls_up_from_the_points(upheld: list[bool], outcome: Outcome) -> None:
    assert roll_up(upheld) == outcome


def test_a_response_needs_a_point_and_its_summaries_stay_out_of_the_event() -> None:
    with pytest.raises(ValueError):
        roll_up([])
    c = received("2022-08-01")
    with pytest.raises(Invalid) as refused:
        c.respond(RULES, closed_at=at("2022-08-05"), points=[])
    assert refused.value.field == "points"
    closed = close(c, "2022-08-05", True, False)
    assert [p.model_dump(exclude_none=True) for p in closed.points] == [
        {"upheld": True},
        {"upheld": False},
    ]
    assert [p.summary for p in c.stage.points] == ["point 0", "point 1"]


# ------------------------------------------------------------------------ withdrawal


def test_withdrawal_closes_the_stage_in_progress_as_withdrawn() -> None:
    c = received("2022-08-01")
    closed = c.withdraw(RULES, withdrawn_at=at("2022-08-17"))
    assert isinstance(closed, ComplaintClosed)
    assert closed.outcome == Outcome.WITHDRAWN and closed.points == []
    assert (closed.due_date, closed.within_timescale, closed.working_days_taken) == (
        date(2022, 8, 15),
        False,
        12,
    )
    assert c.status == Status.WITHDRAWN
    for attempt in (
        lambda: c.escalate(RULES, escalated_at=at("2022-08-18")),
        lambda: c.withdraw(RULES, withdrawn_at=at("2022-08-18")),
        lambda: close(c, "2022-08-18"),
        lambda: c.acknowledge(acknowledged_at=at("2022-08-18")),
    ):
        with pytest.raises(Conflict, match="withdrawn"):
            attempt()


def test_withdrawal_at_stage2_before_the_statement_is_measured_from_the_request() -> None:
    c = responded_then_escalated("2022-09-01", rules=AGREED)
    closed = c.withdraw(AGREED, withdrawn_at=at("2022-09-06"))
    assert isinstance(closed, ComplaintClosed)
    assert (closed.stage, closed.due_date, closed.working_days_taken) == (2, date(2022, 10, 7), 3)


# ------------------------------------------------------------------------ invalid transitions


def test_a_closed_stage_cannot_be_responded_to_extended_or_withdrawn() -> None:
    c = received("2022-08-01")
    close(c, "2022-08-10")
    assert c.status == Status.RESPONDED
    with pytest.raises(Conflict, match="closed"):
        close(c, "2022-08-11")
    with pytest.raises(Conflict, match="closed"):
        c.extend(
            RULES,
            new_due_date=date(2022, 8, 22),
            reason=ExtensionReason.OTHER,
            extended_at=at("2022-08-11"),
        )
    with pytest.raises(Conflict, match="closed"):
        c.withdraw(RULES, withdrawn_at=at("2022-08-11"))


def test_an_open_stage_cannot_be_escalated_and_escalation_follows_the_response() -> None:
    c = received("2022-08-01")
    with pytest.raises(Conflict, match="no response yet"):
        c.escalate(RULES, escalated_at=at("2022-08-05"))
    close(c, "2022-08-10")
    with pytest.raises(Invalid) as refused:
        c.escalate(RULES, escalated_at=at("2022-08-09"))
    assert refused.value.field == "escalated_at"


def test_acknowledged_once_per_stage_and_not_before_it_began() -> None:
    c = received("2022-08-03")
    with pytest.raises(Invalid) as refused:
        c.acknowledge(acknowledged_at=at("2022-08-02"))
    assert refused.value.field == "acknowledged_at"
    assert c.acknowledge(acknowledged_at=at("2022-08-04")) == ComplaintAcknowledged(
        complaint_id="c-1", acknowledged_at=at("2022-08-04")
    )
    assert c.stage.acknowledged_at == at("2022-08-04")
    with pytest.raises(Conflict, match="already acknowledged"):
        c.acknowledge(acknowledged_at=at("2022-08-05"))


def test_a_response_dated_before_the_stage_began_names_the_field() -> None:
    c = received("2022-08-03")
    with pytest.raises(Invalid) as refused:
        close(c, "2022-08-02")
    assert refused.value.field == "closed_at"


# ------------------------------------------------------------------------ learning, actions


def test_learning_points_back_to_the_complaint_and_takes_its_team_unless_named() -> None:
    c = received("2022-08-01")
    learning = c.identify_learning(
        learning_id="l-1", summary="Record calls back to families", identified_at=at("2022-08-20"), recorded_by="o-1"
    )
    assert learning == Learning(
        "l-1", "c-1", "through-care", "childrens_social_care", "Record calls back to families", at("2022-08-20"), "o-1"
    )
    assert learning.identified_event() == LearningIdentified(
        learning_id="l-1",
        origin="complaint",
        origin_id="c-1",
        team="through-care",
        service_area="childrens_social_care",
        summary="Record calls back to families",
    )
    elsewhere = c.identify_learning(
        learning_id="l-2",
        summary="s",
        identified_at=at("2022-08-20"),
        recorded_by=None,
        team="panel",
        service_area="send",
    )
    assert (elsewhere.team, elsewhere.service_area) == ("panel", "send")


def test_an_action_is_raised_on_the_complaint_under_its_team_and_case_pseudonym() -> None:
    c = received("2022-08-01")
    c.case_subject = CaseSubjects("key").of("CASE-1")
    assert c.case_subject is not None and c.case_subject.startswith("case:k1:")
    assert c.action_origin() == ActionOrigin(
        origin="complaint",  # type: ignore[arg-type]
        origin_id="c-1",
        service_area="childrens_social_care",
        team="through-care",
        not_before=at("2022-08-01"),
        subject=c.case_subject,
        describes="complaint",
    )
    mine = c.identify_learning(learning_id="l-1", summary="s", identified_at=at("2022-08-20"), recorded_by=None)
    assert c.action_origin(learning_id="l-1", learning=mine).origin_id == "c-1"
    other = Learning("l-2", "c-2", "t", "send", "s", at("2022-08-20"), None)
    for learning in (other, None):
        with pytest.raises(Invalid, match="no learning 'l-2' was recorded for this complaint") as refused:
            c.action_origin(learning_id="l-2", learning=learning)
        assert refused.value.field == "learning_id"


def test_case_subjects_are_keyed_pseudonyms_and_none_without_a_reference() -> None:
    subjects = CaseSubjects("key", "k2")
    assert subjects.of("CASE-1") == subjects.of("CASE-1") != CaseSubjects("other key", "k2").of("CASE-1")
    assert str(subjects.of("CASE-1")).startswith("case:k2:") and "CASE-1" not in str(subjects.of("CASE-1"))
    assert subjects.of(None) is None and subjects.of("  ") is None


def test_working_days_left_is_negative_once_overdue() -> None:
    cal = default_calendar()
    due = date(2022, 8, 30)
    assert working_days_left(cal, due, date(2022, 8, 30)) == 0
    assert working_days_left(cal, due, date(2022, 8, 26)) == 1  # Fri; Mon 29 Aug is a holiday
    assert working_days_left(cal, due, date(2022, 9, 1)) == -2
