"""The complaints service's use cases, one function each, over a :class:`ComplaintsUnitOfWork`.

Each change runs in ``async with uow:`` — load the complaint (its row locked), ask the
domain, save, ``uow.emit`` the event — so that the rows, the events and the complaint's
history (written by the unit of work as each event is published) commit or roll back
together. A refusal (``shared.errors``) rolls everything back: nothing written, nothing
published. Actions on a complaint are the shared lifecycle (``shared.actions.handlers``);
this module only finds the complaint they are raised on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

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
    Complaint,
    HistoryEntry,
    Learning,
    Point,
    PrivateDetails,
)
from services.complaints.store import ComplaintQuery, ComplaintsUnitOfWork
from shared.actions.domain import Action, ActionOrigin, RaiseAction
from shared.actions.handlers import raise_action_on
from shared.errors import Conflict, NotFound
from shared.events import EventData


@dataclass(frozen=True)
class ComplaintRecord:
    """One complaint as a complaints officer sees it: the complaint, its history, learning
    and actions, and (only when asked for) what stays private of it."""

    complaint: Complaint
    history: list[HistoryEntry]
    learning: list[Learning]
    actions: list[Action]
    private: PrivateDetails | None = None


def new_id() -> str:
    return str(uuid.uuid4())


def _when(given: datetime | None, uow: ComplaintsUnitOfWork) -> datetime:
    """The time a request gives, else the service's clock."""
    return uow.now() if given is None else given


async def _complaint(uow: ComplaintsUnitOfWork, complaint_id: str, *, for_update: bool = True) -> Complaint:
    complaint = await uow.complaints.get(complaint_id, for_update=for_update)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id!r}")
    return complaint


def _emit(uow: ComplaintsUnitOfWork, complaint: Complaint, event: EventData, *, actor: str) -> None:
    uow.emit(event, aggregate=complaint.complaint_id, subject=complaint.case_subject, actor=actor)


# --------------------------------------------------------------------------- lifecycle


async def receive_complaint(uow: ComplaintsUnitOfWork, cmd: ReceiveComplaint, *, actor: str) -> Complaint:
    """A new complaint (``ComplaintReceived``); its id taken is a Conflict."""
    case_ref = cmd.case_ref if cmd.case_ref is not None and cmd.case_ref.strip() else None
    details = None
    if cmd.complainant_name or cmd.complainant_contact:
        details = ComplainantDetails(cmd.complainant_name, cmd.complainant_contact)
    async with uow:
        complaint = Complaint.receive(
            uow.rules,
            complaint_id=cmd.complaint_id or new_id(),
            procedure=cmd.procedure,
            category=cmd.category,
            team=cmd.team,
            service_area=cmd.service_area,
            complainant=cmd.complainant,
            received_at=_when(cmd.received_at, uow),
            stage=cmd.stage,
            case_subject=uow.subjects.of(case_ref),
        )
        if not await uow.complaints.add(complaint, PrivateDetails(case_ref, details)):
            raise Conflict(f"complaint {complaint.complaint_id!r} already exists")
        _emit(uow, complaint, complaint.received_event(), actor=actor)
    return complaint


async def acknowledge_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: AcknowledgeComplaint, *, actor: str
) -> Complaint:
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.acknowledge(acknowledged_at=_when(cmd.acknowledged_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def extend_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: ExtendComplaint, *, actor: str
) -> Complaint:
    """Extend the current stage to a new due date, or by a number of working days."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.extend(
            uow.rules,
            reason=cmd.reason,
            extended_at=_when(cmd.extended_at, uow),
            new_due_date=cmd.new_due_date,
            by_working_days=cmd.extend_by_working_days,
            note=cmd.note,
        )
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def agree_statement(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: AgreeStatement, *, actor: str
) -> Complaint:
    """The stage-2 statement of complaint was agreed (``ComplaintStatementAgreed``): where
    configured, stage 2's clock starts."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.agree_statement(uow.rules, agreed_at=_when(cmd.agreed_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def hold_panel(uow: ComplaintsUnitOfWork, complaint_id: str, cmd: HoldPanel, *, actor: str) -> Complaint:
    """A stage-3 review panel met (``ComplaintPanelHeld``): the response is due after it."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.hold_panel(uow.rules, held_at=_when(cmd.held_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def refer_to_ombudsman(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: ReferToOmbudsman, *, actor: str
) -> Complaint:
    """The complainant went to the Ombudsman (``ComplaintReferredToOmbudsman``)."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.refer_to_ombudsman(referred_at=_when(cmd.referred_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def record_ombudsman_decision(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: RecordOmbudsmanDecision, *, actor: str
) -> Complaint:
    """The Ombudsman decided the pending referral (``OmbudsmanDecided``)."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.record_ombudsman_decision(decided_at=_when(cmd.decided_at, uow), finding=cmd.finding)
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def respond_to_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: RespondToComplaint, *, actor: str
) -> Complaint:
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.respond(
            uow.rules,
            closed_at=_when(cmd.closed_at, uow),
            points=[Point(upheld=p.upheld, summary=p.summary) for p in cmd.points],
        )
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def escalate_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: EscalateComplaint, *, actor: str
) -> Complaint:
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.escalate(uow.rules, escalated_at=_when(cmd.escalated_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


async def withdraw_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: WithdrawComplaint, *, actor: str
) -> Complaint:
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        event = complaint.withdraw(uow.rules, withdrawn_at=_when(cmd.withdrawn_at, uow))
        await uow.complaints.save(complaint)
        _emit(uow, complaint, event, actor=actor)
    return complaint


# --------------------------------------------------------------------------- learning loop


async def identify_learning(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: IdentifyLearning, *, actor: str
) -> Learning:
    """Record what a complaint taught (``LearningIdentified``); its id taken is a Conflict."""
    async with uow:
        complaint = await _complaint(uow, complaint_id)
        learning = complaint.identify_learning(
            learning_id=cmd.learning_id or new_id(),
            summary=cmd.summary,
            identified_at=_when(cmd.identified_at, uow),
            recorded_by=actor,
            team=cmd.team,
            service_area=cmd.service_area,
        )
        if not await uow.learning.add(learning):
            raise Conflict(f"learning {learning.learning_id!r} already exists")
        _emit(uow, complaint, learning.identified_event(), actor=actor)
    return learning


async def raise_action_on_complaint(
    uow: ComplaintsUnitOfWork, complaint_id: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """Raise an action on a complaint (``ActionRaised``, origin complaint); (action, created).
    An unknown complaint is NotFound; a ``learning_id`` that is not this complaint's
    learning is Invalid. A retry with the same ``action_id`` and content creates nothing."""

    async def complaint_origin(uow: ComplaintsUnitOfWork) -> ActionOrigin:
        complaint = await _complaint(uow, complaint_id, for_update=False)
        learning = None if cmd.learning_id is None else await uow.learning.get(cmd.learning_id)
        return complaint.action_origin(learning_id=cmd.learning_id, learning=learning)

    return await raise_action_on(uow, complaint_origin, cmd, actor=actor)


# --------------------------------------------------------------------------- queries


async def get_complaint(uow: ComplaintsUnitOfWork, complaint_id: str, *, with_private_details: bool) -> ComplaintRecord:
    async with uow:
        complaint = await _complaint(uow, complaint_id, for_update=False)
        return ComplaintRecord(
            complaint=complaint,
            history=await uow.history.of_complaint(complaint_id),
            learning=await uow.learning.of_complaint(complaint_id),
            actions=await uow.actions.of_origin(complaint_id),
            private=await uow.complaints.private_details(complaint_id) if with_private_details else None,
        )


async def find_complaints(uow: ComplaintsUnitOfWork, query: ComplaintQuery) -> list[Complaint]:
    async with uow:
        return await uow.complaints.find(query)
