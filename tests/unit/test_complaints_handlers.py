"""Every complaints use case on the in-memory unit of work (tests/fakes/complaints.py): what it
stores, what it publishes (with aggregate, subject and actor), what it writes in the
complaint's history, and that a refusal writes and publishes nothing. Milliseconds, no
database; the same repositories run on PostgreSQL in tests/integration/test_complaints_store.py.

Dates as in test_complaints_domain.py (counted by hand; 29 Aug 2022 is a bank holiday).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.complaints import handlers
from services.complaints.commands import (
    AcknowledgeComplaint,
    AgreeStatement,
    EscalateComplaint,
    ExtendComplaint,
    HoldPanel,
    IdentifyLearning,
    ReceiveComplaint,
    RecordOmbudsmanDecision,
    ReferToOmbudsman,
    RespondToComplaint,
    WithdrawComplaint,
)
from services.complaints.domain import (
    ComplainantDetails,
    ExtensionReason,
    HistoryEntry,
    PrivateDetails,
    Rules,
    Status,
)
from services.complaints.store import ComplaintQuery
from shared.actions import handlers as actions
from shared.actions.domain import CompleteAction, RaiseAction
from shared.calendar import default_calendar
from shared.complaint_timescales import Stage2Clock, Timescales
from shared.errors import Conflict, Invalid, NotFound, RuleError
from shared.events import (
    ActionCompleted,
    ActionRaised,
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
)
from tests.fakes.complaints import SUBJECTS, FakeComplaintsUnitOfWork
from tests.fakes.uow import NOW

OFFICER = "officer-1"
AGREED = Rules(Timescales(stage2_clock=Stage2Clock.AGREED_STATEMENT), default_calendar())


def at(day: str, time: str = "10:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}+00:00")


def receipt(complaint_id: str | None = "c-1", **changes: Any) -> ReceiveComplaint:
    body: dict[str, Any] = {
        "complaint_id": complaint_id,
        "procedure": "statutory_children",
        "category": "communication",
        "team": "through-care",
        "service_area": "childrens_social_care",
        "complainant": "parent_carer",
        "received_at": "2022-08-01T10:00:00Z",  # Monday: stage 1 due Mon 15 Aug, at most Tue 30 Aug
        "case_ref": "CASE-0042",
        "complainant_name": "Jane Brown",
        "complainant_contact": "jane.brown@example.org",
    }
    return ReceiveComplaint.model_validate(body | changes)


async def received(uow: FakeComplaintsUnitOfWork, complaint_id: str = "c-1", **changes: Any) -> None:
    await handlers.receive_complaint(uow, receipt(complaint_id, **changes), actor=OFFICER)


async def responded(uow: FakeComplaintsUnitOfWork, complaint_id: str = "c-1", *upheld: bool) -> None:
    points = [{"upheld": u} for u in upheld or (True,)]
    cmd = RespondToComplaint.model_validate({"closed_at": "2022-08-10T10:00:00Z", "points": points})
    await handlers.respond_to_complaint(uow, complaint_id, cmd, actor=OFFICER)


def action_request(**changes: Any) -> RaiseAction:
    body: dict[str, Any] = {
        "action_id": "c-1-a1",
        "owner_id": "manager-7",
        "due_date": "2022-09-30",
        "summary": "Call-back log on the duty rota",
        "raised_at": "2022-08-12T10:00:00Z",
    }
    return RaiseAction.model_validate(body | changes)


def stored(uow: Any) -> tuple[Any, ...]:
    """Everything the fake holds (its repositories' rows, copied)."""
    return (
        dict(uow.complaints.rows),
        dict(uow.complaints.private),
        dict(uow.learning.rows),
        dict(uow.actions.rows),
        list(uow.history.rows),
    )


async def refused(uow: FakeComplaintsUnitOfWork, error: type[RuleError], match: str, use_case: Any) -> RuleError:
    """`use_case` (awaitable) is refused with `error`: rolled back, nothing stored, published
    or recorded in a history."""
    before, published, commits, rollbacks = stored(uow), len(uow.published), uow.commits, uow.rollbacks
    with pytest.raises(error, match=match) as caught:
        await use_case
    assert (len(uow.published), uow.commits, uow.rollbacks) == (published, commits, rollbacks + 1)
    assert stored(uow) == before
    return caught.value


def history(uow: Any, complaint_id: str = "c-1") -> list[HistoryEntry]:
    return [entry for cid, entry in uow.history.rows if cid == complaint_id]


def kinds(uow: FakeComplaintsUnitOfWork, complaint_id: str = "c-1") -> list[str]:
    return [entry.kind for entry in history(uow, complaint_id)]


# --------------------------------------------------------------------------- receive


async def test_a_received_complaint_is_stored_with_its_private_details_and_published_under_a_pseudonym() -> None:
    uow = FakeComplaintsUnitOfWork()
    complaint = await handlers.receive_complaint(uow, receipt(), actor=OFFICER)
    assert (complaint.status, complaint.stage.due_date) == (Status.OPEN, date(2022, 8, 15))
    assert await uow.complaints.get("c-1") == complaint
    assert await uow.complaints.private_details("c-1") == PrivateDetails(
        "CASE-0042", ComplainantDetails("Jane Brown", "jane.brown@example.org")
    )
    [emitted] = uow.published
    assert emitted.data == ComplaintReceived(
        complaint_id="c-1",
        procedure="statutory_children",
        stage=1,
        category="communication",
        team="through-care",
        service_area="childrens_social_care",
        received_at=at("2022-08-01"),
        complainant="parent_carer",
    )
    assert (emitted.aggregate, emitted.subject, emitted.actor) == ("c-1", SUBJECTS.of("CASE-0042"), OFFICER)
    assert complaint.case_subject == SUBJECTS.of("CASE-0042") and "CASE" not in str(complaint.case_subject)
    [entry] = history(uow)
    assert (entry.kind, entry.actor, entry.data["complaint_id"]) == ("ComplaintReceived", OFFICER, "c-1")
    assert entry.event_id is not None


async def test_a_complaint_without_id_time_case_or_complainant_details_gets_an_id_now_and_no_subject() -> None:
    uow = FakeComplaintsUnitOfWork()
    cmd = receipt(complaint_id=None, received_at=None, case_ref="   ", complainant_name=None, complainant_contact=None)
    complaint = await handlers.receive_complaint(uow, cmd, actor=OFFICER)
    assert len(complaint.complaint_id) == 36 and complaint.received_at == NOW
    assert complaint.case_subject is None and uow.published[0].subject is None
    assert await uow.complaints.private_details(complaint.complaint_id) == PrivateDetails(None, None)


async def test_a_taken_complaint_id_is_a_conflict_that_changes_nothing() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    await refused(
        uow, Conflict, "complaint 'c-1' already exists", handlers.receive_complaint(uow, receipt(), actor=OFFICER)
    )
    assert await uow.complaints.private_details("c-1") == PrivateDetails(
        "CASE-0042", ComplainantDetails("Jane Brown", "jane.brown@example.org")
    )


# --------------------------------------------------------------------------- the stage in progress


async def test_acknowledging_publishes_once_per_stage_and_an_unknown_complaint_is_not_found() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    complaint = await handlers.acknowledge_complaint(uow, "c-1", AcknowledgeComplaint(), actor="officer-2")
    assert complaint.stage.acknowledged_at == NOW  # no time given: the unit of work's clock
    assert uow.published[-1].data == ComplaintAcknowledged(complaint_id="c-1", acknowledged_at=NOW)
    assert uow.published[-1].actor == "officer-2"
    assert (await uow.complaints.get("c-1")) == complaint
    await refused(
        uow,
        Conflict,
        "already acknowledged",
        handlers.acknowledge_complaint(uow, "c-1", AcknowledgeComplaint(), actor=OFFICER),
    )
    await refused(
        uow,
        NotFound,
        "no complaint 'nope'",
        handlers.acknowledge_complaint(uow, "nope", AcknowledgeComplaint(), actor=OFFICER),
    )


async def test_an_acknowledgement_dated_before_receipt_names_its_field() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    cmd = AcknowledgeComplaint.model_validate({"acknowledged_at": "2022-07-29T10:00:00Z"})
    error = await refused(
        uow, Invalid, "before stage 1 began", handlers.acknowledge_complaint(uow, "c-1", cmd, actor=OFFICER)
    )
    assert isinstance(error, Invalid) and error.field == "acknowledged_at"


async def test_extending_to_a_date_or_by_working_days_publishes_the_new_due_date() -> None:
    uow = FakeComplaintsUnitOfWork(now=at("2022-08-10"))
    await received(uow)
    to_date = ExtendComplaint.model_validate(
        {"new_due_date": "2022-08-22", "reason": "complex", "note": "Sam's notes", "extended_at": "2022-08-05T10:00Z"}
    )
    complaint = await handlers.extend_complaint(uow, "c-1", to_date, actor=OFFICER)
    assert complaint.stage.due_date == date(2022, 8, 22) and complaint.stage.extensions[0].note == "Sam's notes"
    by_days = ExtendComplaint(extend_by_working_days=2, reason=ExtensionReason.OTHER)
    complaint = await handlers.extend_complaint(uow, "c-1", by_days, actor=OFFICER)
    assert complaint.stage.due_date == date(2022, 8, 24)
    assert complaint.stage.extensions[1].extended_at == at("2022-08-10")  # no time given: the clock
    assert [e.data for e in uow.published[1:]] == [
        ComplaintExtended(complaint_id="c-1", stage=1, new_due_date=date(2022, 8, 22), reason="complex"),
        ComplaintExtended(complaint_id="c-1", stage=1, new_due_date=date(2022, 8, 24), reason="other"),
    ]
    assert "Sam" not in uow.published[1].data.model_dump_json()
    assert (await uow.complaints.get("c-1")) == complaint


async def test_an_extension_past_the_maximum_or_after_the_due_date_is_refused_and_stores_nothing() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    past_max = ExtendComplaint.model_validate(
        {"new_due_date": "2022-08-31", "reason": "complex", "extended_at": "2022-08-05T10:00Z"}
    )
    error = await refused(uow, Invalid, "2022-08-30", handlers.extend_complaint(uow, "c-1", past_max, actor=OFFICER))
    assert isinstance(error, Invalid) and error.field == "new_due_date"
    too_many = ExtendComplaint.model_validate(
        {"extend_by_working_days": 11, "reason": "complex", "extended_at": "2022-08-05T10:00Z"}
    )
    error = await refused(
        uow, Invalid, "11 working days", handlers.extend_complaint(uow, "c-1", too_many, actor=OFFICER)
    )
    assert isinstance(error, Invalid) and error.field == "extend_by_working_days"
    neither = ExtendComplaint(reason=ExtensionReason.COMPLEX)
    error = await refused(uow, Invalid, "exactly one", handlers.extend_complaint(uow, "c-1", neither, actor=OFFICER))
    assert isinstance(error, Invalid) and error.field == "new_due_date"
    # NOW (30 Sep) is after the due date (15 Aug): too late to extend
    late = ExtendComplaint.model_validate({"new_due_date": "2022-08-22", "reason": "complex"})
    await refused(uow, Conflict, "passed", handlers.extend_complaint(uow, "c-1", late, actor=OFFICER))
    assert (await uow.complaints.get("c-1")).stage.extensions == []  # type: ignore[union-attr]


async def test_an_agreed_statement_starts_the_stage2_clock_and_is_published() -> None:
    uow = FakeComplaintsUnitOfWork(rules=AGREED)
    await received(uow, stage=2, received_at="2022-09-01T10:00:00Z")
    assert (await uow.complaints.get("c-1")).stage.due_date is None  # type: ignore[union-attr]
    cmd = AgreeStatement.model_validate({"agreed_at": "2022-09-08T10:00:00Z"})
    complaint = await handlers.agree_statement(uow, "c-1", cmd, actor="officer-2")
    assert complaint.stage.due_date == date(2022, 10, 14)  # 25 working days after Thu 8 Sep
    assert uow.published[-1].data == ComplaintStatementAgreed(complaint_id="c-1", agreed_at=at("2022-09-08"))
    assert kinds(uow) == ["ComplaintReceived", "ComplaintStatementAgreed"]
    entry = history(uow)[-1]
    assert entry.actor == "officer-2" and entry.data == {"complaint_id": "c-1", "agreed_at": "2022-09-08T10:00:00Z"}
    await refused(uow, Conflict, "already agreed", handlers.agree_statement(uow, "c-1", cmd, actor=OFFICER))


async def test_an_agreed_statement_is_recorded_where_the_clock_starts_at_escalation() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow, stage=2)
    complaint = await handlers.agree_statement(uow, "c-1", AgreeStatement(), actor=OFFICER)
    assert complaint.stage.clock_start == date(2022, 8, 1)  # still the receipt
    assert kinds(uow)[-1] == "ComplaintStatementAgreed"
    await refused(
        uow, Conflict, "already agreed", handlers.agree_statement(uow, "c-1", AgreeStatement(), actor=OFFICER)
    )


async def test_a_panel_moves_the_stage3_due_date_and_is_published() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow, stage=3, received_at="2022-10-10T10:00:00Z")
    assert (await uow.complaints.get("c-1")).stage.due_date == date(2022, 12, 19)  # type: ignore[union-attr]
    early = HoldPanel.model_validate({"held_at": "2022-10-07T10:00:00Z"})
    error = await refused(uow, Invalid, "before", handlers.hold_panel(uow, "c-1", early, actor=OFFICER))
    assert isinstance(error, Invalid) and error.field == "held_at"
    cmd = HoldPanel.model_validate({"held_at": "2022-11-18T10:00:00Z"})
    complaint = await handlers.hold_panel(uow, "c-1", cmd, actor=OFFICER)
    assert complaint.stage.due_date == date(2022, 12, 16)  # 20 working days after Fri 18 Nov
    assert uow.published[-1].data == ComplaintPanelHeld(complaint_id="c-1", held_at=at("2022-11-18"))
    stored_again = await uow.complaints.get("c-1")
    assert stored_again is not None and stored_again.stage.panels == [at("2022-11-18")]
    extend = ExtendComplaint.model_validate({"extend_by_working_days": 5, "reason": "complex"})
    await refused(uow, Conflict, "no extension", handlers.extend_complaint(uow, "c-1", extend, actor=OFFICER))


async def test_the_ombudsman_referral_and_decision_are_published_in_turn() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    decide = RecordOmbudsmanDecision.model_validate({"finding": "fault", "decided_at": "2022-12-01T10:00:00Z"})
    await refused(uow, Conflict, "no referral", handlers.record_ombudsman_decision(uow, "c-1", decide, actor=OFFICER))
    refer = ReferToOmbudsman.model_validate({"referred_at": "2022-09-01T10:00:00Z"})
    await handlers.refer_to_ombudsman(uow, "c-1", refer, actor=OFFICER)
    assert uow.published[-1].data == ComplaintReferredToOmbudsman(complaint_id="c-1", referred_at=at("2022-09-01"))
    await refused(uow, Conflict, "awaits", handlers.refer_to_ombudsman(uow, "c-1", refer, actor=OFFICER))
    complaint = await handlers.record_ombudsman_decision(uow, "c-1", decide, actor=OFFICER)
    assert uow.published[-1].data == OmbudsmanDecided(
        complaint_id="c-1", decided_at=at("2022-12-01"), finding=OmbudsmanFinding.FAULT
    )
    assert [(r.referred_at, r.finding) for r in complaint.ombudsman] == [(at("2022-09-01"), OmbudsmanFinding.FAULT)]
    with pytest.raises(ValidationError):
        RecordOmbudsmanDecision.model_validate({"finding": "partly"})
    await refused(uow, NotFound, "no complaint", handlers.refer_to_ombudsman(uow, "c-9", refer, actor=OFFICER))


# --------------------------------------------------------------------------- closing, escalating


async def test_a_response_closes_the_stage_with_its_rolled_up_outcome_and_keeps_the_summaries() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    cmd = RespondToComplaint.model_validate(
        {
            "closed_at": "2022-08-16T10:00:00Z",
            "points": [{"upheld": True, "summary": "Jane was not called back"}, {"upheld": False}],
        }
    )
    complaint = await handlers.respond_to_complaint(uow, "c-1", cmd, actor=OFFICER)
    assert complaint.status == Status.RESPONDED
    assert [p.summary for p in complaint.stage.points] == ["Jane was not called back", None]
    closed = uow.published[-1].data
    assert isinstance(closed, ComplaintClosed)
    assert (closed.outcome, closed.within_timescale, closed.working_days_taken) == (Outcome.PARTIALLY_UPHELD, False, 11)
    assert "Jane" not in closed.model_dump_json()
    await refused(uow, Conflict, "is closed", handlers.respond_to_complaint(uow, "c-1", cmd, actor=OFFICER))


async def test_escalation_follows_the_response_and_starts_the_next_stage() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    cmd = EscalateComplaint.model_validate({"escalated_at": "2022-09-01T10:00:00Z"})
    await refused(uow, Conflict, "no response yet", handlers.escalate_complaint(uow, "c-1", cmd, actor=OFFICER))
    await responded(uow, "c-1", False)  # on 10 Aug
    early = EscalateComplaint.model_validate({"escalated_at": "2022-08-09T10:00:00Z"})
    error = await refused(
        uow, Invalid, "before stage 1's response", handlers.escalate_complaint(uow, "c-1", early, actor=OFFICER)
    )
    assert isinstance(error, Invalid) and error.field == "escalated_at"
    complaint = await handlers.escalate_complaint(uow, "c-1", cmd, actor=OFFICER)
    assert (complaint.stage.number, complaint.status, complaint.stage.due_date) == (2, Status.OPEN, date(2022, 10, 7))
    assert uow.published[-1].data == ComplaintEscalated(
        complaint_id="c-1", from_stage=1, to_stage=2, escalated_at=at("2022-09-01"), late_request=False
    )
    assert (await uow.complaints.get("c-1")) == complaint
    await refused(uow, Conflict, "no response yet", handlers.escalate_complaint(uow, "c-1", cmd, actor=OFFICER))


async def test_withdrawal_closes_the_stage_as_withdrawn_and_ends_the_complaint() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    cmd = WithdrawComplaint.model_validate({"withdrawn_at": "2022-08-17T10:00:00Z"})
    complaint = await handlers.withdraw_complaint(uow, "c-1", cmd, actor=OFFICER)
    assert complaint.status == Status.WITHDRAWN
    closed = uow.published[-1].data
    assert isinstance(closed, ComplaintClosed) and closed.outcome == Outcome.WITHDRAWN and closed.points == []
    await refused(uow, Conflict, "withdrawn", handlers.withdraw_complaint(uow, "c-1", cmd, actor=OFFICER))
    await refused(
        uow, Conflict, "withdrawn", handlers.acknowledge_complaint(uow, "c-1", AcknowledgeComplaint(), actor=OFFICER)
    )


# --------------------------------------------------------------------------- learning and actions


async def test_learning_is_published_with_the_complaint_as_origin_and_its_id_is_not_reused() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    cmd = IdentifyLearning(learning_id="c-1-l1", summary="Call families back within a day")
    learning = await handlers.identify_learning(uow, "c-1", cmd, actor=OFFICER)
    assert (learning.complaint_id, learning.team, learning.identified_at, learning.recorded_by) == (
        "c-1",
        "through-care",
        NOW,
        OFFICER,
    )
    assert await uow.learning.of_complaint("c-1") == [learning]
    emitted = uow.published[-1]
    assert emitted.data == LearningIdentified(
        learning_id="c-1-l1",
        origin="complaint",
        origin_id="c-1",
        team="through-care",
        service_area="childrens_social_care",
        summary="Call families back within a day",
    )
    assert (emitted.aggregate, emitted.subject) == ("c-1", SUBJECTS.of("CASE-0042"))
    await refused(uow, Conflict, "already exists", handlers.identify_learning(uow, "c-1", cmd, actor=OFFICER))
    await refused(uow, NotFound, "no complaint", handlers.identify_learning(uow, "c-2", cmd, actor=OFFICER))


async def test_an_action_raised_on_a_complaint_is_published_and_recorded_in_its_history() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    await handlers.identify_learning(uow, "c-1", IdentifyLearning(learning_id="c-1-l1", summary="s"), actor=OFFICER)
    action, created = await handlers.raise_action_on_complaint(
        uow, "c-1", action_request(learning_id="c-1-l1"), actor="officer-2"
    )
    assert created
    assert (action.origin, action.origin_id, action.team, action.service_area, action.learning_id) == (
        "complaint",
        "c-1",
        "through-care",
        "childrens_social_care",
        "c-1-l1",
    )
    assert (action.raised_by, action.subject) == ("officer-2", SUBJECTS.of("CASE-0042"))
    emitted = uow.published[-1]
    assert isinstance(emitted.data, ActionRaised) and emitted.data.origin_id == "c-1"
    assert (emitted.aggregate, emitted.subject, emitted.actor, emitted.time) == (
        "action:c-1-a1",
        SUBJECTS.of("CASE-0042"),
        "officer-2",
        at("2022-08-12"),
    )
    assert kinds(uow) == ["ComplaintReceived", "LearningIdentified", "ActionRaised"]
    assert history(uow)[-1].actor == "officer-2"
    assert await uow.actions.of_origin("c-1") == [action]


async def test_an_action_raised_again_with_its_id_adds_nothing_and_other_content_is_a_conflict() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    first, _ = await handlers.raise_action_on_complaint(uow, "c-1", action_request(), actor=OFFICER)
    published, recorded = len(uow.published), len(history(uow))
    again, created = await handlers.raise_action_on_complaint(uow, "c-1", action_request(raised_at=None), actor=OFFICER)
    assert (again, created) == (first, False)
    assert (len(uow.published), len(history(uow))) == (published, recorded)
    await refused(
        uow,
        Conflict,
        "already raised with other content",
        handlers.raise_action_on_complaint(uow, "c-1", action_request(summary="Something else"), actor=OFFICER),
    )


@pytest.mark.parametrize(
    ("complaint_id", "changes", "error", "field", "match"),
    [
        ("nope", {}, NotFound, None, "no complaint 'nope'"),
        ("c-1", {"learning_id": "c-2-l1"}, Invalid, "learning_id", "no learning 'c-2-l1' was recorded for this"),
        ("c-1", {"learning_id": "unknown"}, Invalid, "learning_id", "no learning 'unknown'"),
        ("c-1", {"due_date": "2022-08-11"}, Invalid, "due_date", "before the action was raised"),
        ("c-1", {"raised_at": "2022-07-31T10:00:00Z"}, Invalid, "raised_at", "before the complaint"),
        ("c-1", {"team": "safeguarding"}, Invalid, "team", "its actions belong to that team"),
    ],
)
async def test_an_action_the_complaint_does_not_allow_is_refused_naming_why(
    complaint_id: str, changes: dict[str, Any], error: type[RuleError], field: str | None, match: str
) -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    await received(uow, "c-2")
    await handlers.identify_learning(uow, "c-2", IdentifyLearning(learning_id="c-2-l1", summary="s"), actor=OFFICER)
    caught = await refused(
        uow,
        error,
        match,
        handlers.raise_action_on_complaint(uow, complaint_id, action_request(**changes), actor=OFFICER),
    )
    assert getattr(caught, "field", None) == field


async def test_completing_a_complaints_action_is_recorded_in_the_complaints_history() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    await handlers.raise_action_on_complaint(uow, "c-1", action_request(), actor=OFFICER)
    cmd = CompleteAction.model_validate({"completed_at": "2022-09-20T10:00:00Z", "evidence": "rota v3"})
    done = await actions.complete_action(uow, "c-1-a1", cmd, actor="manager-7")
    assert (done.completed_at, done.completed_by, done.on_time) == (at("2022-09-20"), "manager-7", True)
    assert uow.published[-1].data == ActionCompleted(
        action_id="c-1-a1", completed_at=at("2022-09-20"), evidence="rota v3"
    )
    assert kinds(uow) == ["ComplaintReceived", "ActionRaised", "ActionCompleted"]
    assert history(uow)[-1].actor == "manager-7"
    published = len(uow.published)
    assert await actions.complete_action(uow, "c-1-a1", cmd, actor="manager-7") == done  # the same again: nothing new
    assert len(uow.published) == published and len(kinds(uow)) == 3
    other = CompleteAction.model_validate({"completed_at": "2022-09-21T10:00:00Z"})
    await refused(uow, Conflict, "already completed", actions.complete_action(uow, "c-1-a1", other, actor="manager-7"))


# --------------------------------------------------------------------------- queries


async def test_a_complaint_reads_back_with_history_learning_actions_and_private_details_only_when_asked() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow)
    await handlers.identify_learning(uow, "c-1", IdentifyLearning(learning_id="c-1-l1", summary="s"), actor=OFFICER)
    await handlers.raise_action_on_complaint(uow, "c-1", action_request(), actor=OFFICER)
    full = await handlers.get_complaint(uow, "c-1", with_private_details=True)
    assert full.complaint == await uow.complaints.get("c-1")
    assert [h.kind for h in full.history] == ["ComplaintReceived", "LearningIdentified", "ActionRaised"]
    assert [r.learning_id for r in full.learning] == ["c-1-l1"]
    assert [a.action_id for a in full.actions] == ["c-1-a1"]
    assert full.private is not None and full.private.case_ref == "CASE-0042"
    redacted = await handlers.get_complaint(uow, "c-1", with_private_details=False)
    assert redacted.private is None and redacted.history == full.history
    with pytest.raises(NotFound, match="no complaint 'c-2'"):
        await handlers.get_complaint(uow, "c-2", with_private_details=True)


async def test_complaints_are_found_by_status_and_overdue_ones_on_a_date() -> None:
    uow = FakeComplaintsUnitOfWork()
    await received(uow, "q-1", procedure="corporate", service_area="send", team="send-east", category="delay")
    await received(uow, "q-2", received_at="2022-08-08T10:00:00Z", team="send-east")  # due 22 Aug
    await received(uow, "q-3", received_at="2022-08-08T10:00:00Z", team="send-west")
    await responded(uow, "q-3")

    async def found(status: str, as_of: str = "2022-08-17", **filters: Any) -> list[str]:
        query = ComplaintQuery(status=status, as_of=date.fromisoformat(as_of), **filters)  # type: ignore[arg-type]
        return [c.complaint_id for c in await handlers.find_complaints(uow, query)]

    assert await found("open") == ["q-1", "q-2"]
    assert await found("overdue") == ["q-1"]
    assert await found("overdue", "2022-08-15") == []
    assert await found("responded") == ["q-3"]
    assert await found("all", team="send-east", category="delay") == ["q-1"]
    assert await found("all") == ["q-1", "q-2", "q-3"]  # no open due date: last
    assert await found("all", limit=1, offset=1) == ["q-2"]
