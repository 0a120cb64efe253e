"""The complaints service's HTTP API, under ``/v1``: views (response models) and the routes
that turn a request into a handler call.

Writes need the role ``complaints:write``; reads ``complaints:write`` or ``reporting:read``.
A reader without ``complaints:write`` sees what the events carry and no more: no case
reference, no complainant details, no point summaries and no extension notes. Actions are
listed, read and completed on the shared routes (``shared.actions.api``, mounted by app.py);
here they are raised on a complaint.

Errors (``shared.service.rule_error_response``): 401/403 from ``shared.auth``; 404 unknown
complaint; 409 a transition the complaint's state forbids, with the reason; 422 a malformed
or rule-breaking value, naming the field (FastAPI's shape: ``{"detail": [{"loc": ["body",
field], "msg": …}]}``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from services.complaints import commands, handlers
from services.complaints.domain import (
    Complaint,
    ExtensionReason,
    HistoryEntry,
    Learning,
    OmbudsmanReferral,
    Stage,
    Status,
    working_days_left,
)
from services.complaints.handlers import ComplaintRecord
from services.complaints.store import ComplaintQuery, ComplaintsUnitOfWork, Listing
from shared.access_log import PERSONAL_DATA
from shared.actions.api import RAISE_DESCRIPTION, ActionView, raised
from shared.actions.domain import RaiseAction
from shared.auth import Principal, require_served
from shared.bounds import CalendarDate, Name, Offset
from shared.calendar import WorkingCalendar
from shared.events import Complainant, OmbudsmanFinding, Outcome, Procedure
from shared.service import unit_of_work

WRITE = "complaints:write"
READ = ("complaints:write", "reporting:read")

Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(*READ))]
UoW = Annotated[ComplaintsUnitOfWork, Depends(unit_of_work)]
AsOf = Annotated[CalendarDate | None, Query(description="London date; today when absent")]

router = APIRouter(prefix="/v1", tags=["complaints"])


# --------------------------------------------------------------------------- views


class ExtensionOut(BaseModel):
    new_due_date: date
    reason: ExtensionReason
    extended_at: datetime
    note: str | None = None


class PointOut(BaseModel):
    upheld: bool
    summary: str | None = None


class StageOut(BaseModel):
    stage: int
    requested_at: datetime
    clock_start: date | None
    statement_agreed_at: datetime | None
    acknowledged_at: datetime | None
    due_date: date | None
    maximum_date: date | None
    extensions: list[ExtensionOut]
    panels_held_at: list[datetime] = Field(description="stage 3: the review panels held")
    late_request: bool = Field(description="stage 2: requested after the escalation window (accepted)")
    closed_at: datetime | None
    outcome: Outcome | None
    points: list[PointOut]
    within_timescale: bool | None
    working_days_taken: int | None
    working_days_left: int | None
    overdue: bool

    @classmethod
    def of(cls, stage: Stage, as_of: date, private: bool, calendar: WorkingCalendar) -> StageOut:
        left = None
        if not stage.closed and stage.due_date is not None:
            left = working_days_left(calendar, stage.due_date, as_of)
        return cls(
            stage=stage.number,
            requested_at=stage.requested_at,
            clock_start=stage.clock_start,
            statement_agreed_at=stage.statement_agreed_at,
            acknowledged_at=stage.acknowledged_at,
            due_date=stage.due_date_at_close if stage.closed else stage.due_date,
            maximum_date=stage.maximum_date,
            extensions=[
                ExtensionOut(
                    new_due_date=x.new_due_date,
                    reason=x.reason,
                    extended_at=x.extended_at,
                    note=x.note if private else None,
                )
                for x in stage.extensions
            ],
            panels_held_at=sorted(stage.panels),
            late_request=stage.late_request,
            closed_at=stage.closed_at,
            outcome=stage.outcome,
            points=[PointOut(upheld=p.upheld, summary=p.summary if private else None) for p in stage.points],
            within_timescale=stage.within_timescale,
            working_days_taken=stage.working_days_taken,
            working_days_left=left,
            overdue=left is not None and left < 0,
        )


class ComplaintSummary(BaseModel):
    complaint_id: str
    procedure: Procedure
    category: str
    team: str
    service_area: str
    complainant: Complainant
    received_at: datetime
    status: Status
    current_stage: int
    acknowledged: bool
    due_date: date | None = Field(description="the current stage's due date (open stages)")
    maximum_date: date | None
    working_days_left: int | None = Field(description="negative when overdue")
    overdue: bool

    @classmethod
    def of(cls, c: Complaint, as_of: date, calendar: WorkingCalendar) -> ComplaintSummary:
        current = c.stage
        open_due = c.open_due_date
        left = working_days_left(calendar, open_due, as_of) if open_due else None
        return cls(
            complaint_id=c.complaint_id,
            procedure=c.procedure,
            category=c.category,
            team=c.team,
            service_area=c.service_area,
            complainant=c.complainant,
            received_at=c.received_at,
            status=c.status,
            current_stage=current.number,
            acknowledged=current.acknowledged_at is not None,
            due_date=open_due,
            maximum_date=current.maximum_date if not current.closed else None,
            working_days_left=left,
            overdue=left is not None and left < 0,
        )


class HistoryOut(BaseModel):
    kind: str
    event_id: str | None
    data: dict[str, object]
    actor: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, h: HistoryEntry) -> HistoryOut:
        return cls.model_validate(h, from_attributes=True)


class LearningOut(BaseModel):
    learning_id: str
    complaint_id: str
    team: str
    service_area: str
    summary: str
    identified_at: datetime

    @classmethod
    def of(cls, r: Learning) -> LearningOut:
        return cls.model_validate(r, from_attributes=True)


class OmbudsmanOut(BaseModel):
    referred_at: datetime
    decided_at: datetime | None
    finding: OmbudsmanFinding | None

    @classmethod
    def of(cls, r: OmbudsmanReferral) -> OmbudsmanOut:
        return cls(referred_at=r.referred_at, decided_at=r.decided_at, finding=r.finding)


class ComplainantDetailsOut(BaseModel):
    name: str | None
    contact: str | None


class ComplaintOut(ComplaintSummary):
    stages: list[StageOut]
    ombudsman: list[OmbudsmanOut]
    learning: list[LearningOut]
    actions: list[ActionView]
    history: list[HistoryOut]
    case_ref: str | None = None
    complainant_details: ComplainantDetailsOut | None = None

    @classmethod
    def of_record(cls, record: ComplaintRecord, as_of: date, calendar: WorkingCalendar) -> ComplaintOut:
        """The complaint with what stays private of it where the record holds it (a reader
        with complaints:write)."""
        c, private = record.complaint, record.private
        details = private.complainant if private else None
        return cls(
            **ComplaintSummary.of(c, as_of, calendar).model_dump(),
            stages=[StageOut.of(s, as_of, private is not None, calendar) for s in c.stages],
            ombudsman=[OmbudsmanOut.of(r) for r in c.ombudsman],
            learning=[LearningOut.of(r) for r in record.learning],
            actions=[ActionView.of(a, as_of) for a in record.actions],
            history=[HistoryOut.of(h) for h in record.history],
            case_ref=private.case_ref if private else None,
            complainant_details=ComplainantDetailsOut(name=details.name, contact=details.contact) if details else None,
        )


class ComplaintList(BaseModel):
    as_of: date
    status: str
    complaints: list[ComplaintSummary]


async def _view(
    uow: ComplaintsUnitOfWork, complaint_id: str, principal: Principal, as_of: date | None = None
) -> ComplaintOut:
    record = await handlers.get_complaint(uow, complaint_id, with_private_details=principal.has(WRITE))
    return ComplaintOut.of_record(record, as_of or uow.today(), uow.rules.calendar)


# --------------------------------------------------------------------------- routes


@router.post("/complaints", status_code=status.HTTP_201_CREATED, response_model=ComplaintOut)
async def receive_complaint(body: commands.ReceiveComplaint, principal: Writer, uow: UoW) -> ComplaintOut:
    """Receive a complaint at stage 1 (or straight into a later stage)."""
    complaint = await handlers.receive_complaint(uow, body, actor=principal.subject)
    return await _view(uow, complaint.complaint_id, principal)


@router.get("/complaints", response_model=ComplaintList)
async def list_complaints(
    _: Reader,
    uow: UoW,
    status_: Annotated[Listing, Query(alias="status")] = "open",
    team: Name | None = None,
    category: Name | None = None,
    procedure: Procedure | None = None,
    service_area: Name | None = None,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> ComplaintList:
    """Complaints for complaints officers, soonest due first: open ones with their
    current stage, due date and working days left; `overdue` for those past it."""
    day = as_of or uow.today()
    query = ComplaintQuery(
        status=status_,
        as_of=day,
        team=team,
        category=category,
        procedure=procedure,
        service_area=service_area,
        limit=limit,
        offset=offset,
    )
    found = await handlers.find_complaints(uow, query)
    calendar = uow.rules.calendar
    return ComplaintList(as_of=day, status=status_, complaints=[ComplaintSummary.of(c, day, calendar) for c in found])


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, openapi_extra=PERSONAL_DATA)
async def get_complaint(complaint_id: Name, principal: Reader, uow: UoW, as_of: AsOf = None) -> ComplaintOut:
    """One complaint: its stages, points, extensions, learning, actions and history."""
    return await _view(uow, complaint_id, principal, as_of)


@router.post("/complaints/{complaint_id}/acknowledge", response_model=ComplaintOut)
async def acknowledge(
    complaint_id: Name, body: commands.AcknowledgeComplaint, principal: Writer, uow: UoW
) -> ComplaintOut:
    await handlers.acknowledge_complaint(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/extend", response_model=ComplaintOut)
async def extend(complaint_id: Name, body: commands.ExtendComplaint, principal: Writer, uow: UoW) -> ComplaintOut:
    """Extend the current stage, never past the procedure's maximum (422 otherwise)."""
    await handlers.extend_complaint(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/agree-statement", response_model=ComplaintOut)
async def agree_statement(
    complaint_id: Name, body: commands.AgreeStatement, principal: Writer, uow: UoW
) -> ComplaintOut:
    """Record the agreed stage-2 statement of complaint (where configured, it starts the clock)."""
    await handlers.agree_statement(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/hold-panel", response_model=ComplaintOut)
async def hold_panel(complaint_id: Name, body: commands.HoldPanel, principal: Writer, uow: UoW) -> ComplaintOut:
    """Record a stage-3 review panel: the response is due 20 working days after the latest."""
    await handlers.hold_panel(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/refer-to-ombudsman", response_model=ComplaintOut)
async def refer_to_ombudsman(
    complaint_id: Name, body: commands.ReferToOmbudsman, principal: Writer, uow: UoW
) -> ComplaintOut:
    """The complainant took the complaint to the Ombudsman (one referral at a time)."""
    await handlers.refer_to_ombudsman(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/ombudsman-decision", response_model=ComplaintOut)
async def ombudsman_decision(
    complaint_id: Name, body: commands.RecordOmbudsmanDecision, principal: Writer, uow: UoW
) -> ComplaintOut:
    """The Ombudsman's decision on the pending referral: fault, no_fault or not_investigated."""
    await handlers.record_ombudsman_decision(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/respond", response_model=ComplaintOut)
async def respond(complaint_id: Name, body: commands.RespondToComplaint, principal: Writer, uow: UoW) -> ComplaintOut:
    """The current stage's response: its points decide the outcome; the stage closes."""
    await handlers.respond_to_complaint(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/escalate", response_model=ComplaintOut)
async def escalate(complaint_id: Name, body: commands.EscalateComplaint, principal: Writer, uow: UoW) -> ComplaintOut:
    """The complainant is not satisfied with the response: the next stage starts."""
    await handlers.escalate_complaint(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/withdraw", response_model=ComplaintOut)
async def withdraw(complaint_id: Name, body: commands.WithdrawComplaint, principal: Writer, uow: UoW) -> ComplaintOut:
    """The complainant withdraws: the stage in progress closes as withdrawn."""
    await handlers.withdraw_complaint(uow, complaint_id, body, actor=principal.subject)
    return await _view(uow, complaint_id, principal)


@router.post("/complaints/{complaint_id}/learning", status_code=status.HTTP_201_CREATED, response_model=LearningOut)
async def identify_learning(
    complaint_id: Name, body: commands.IdentifyLearning, principal: Writer, uow: UoW
) -> LearningOut:
    """Record what the complaint taught (published as LearningIdentified)."""
    return LearningOut.of(await handlers.identify_learning(uow, complaint_id, body, actor=principal.subject))


@router.post(
    "/complaints/{complaint_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on a complaint (publishes ActionRaised, origin complaint)",
    description="The action belongs to the complaint's team and service area; `learning_id`, when given, "
    "names learning recorded for this complaint (422 otherwise). Complete it at "
    f"`POST /v1/actions/{{action_id}}/complete`. {RAISE_DESCRIPTION}",
)
async def raise_action(
    complaint_id: Name, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_action_on_complaint(uow, complaint_id, body, actor=principal.subject)
    return raised(action, created, response)
