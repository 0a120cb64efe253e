"""The complaints service's HTTP API, under ``/v1``.

Writes need the role ``complaints:write``; reads ``complaints:write`` or ``reporting:read``.
A reader without ``complaints:write`` sees what the events carry and no more: no case
reference, no complainant details, no point summaries and no extension notes.

Errors: 401/403 from ``shared.auth``; 404 unknown complaint or action; 409 a transition the
complaint's state forbids, with the reason; 422 a malformed or rule-breaking value, naming
the field (FastAPI's shape: ``{"detail": [{"loc": ["body", field], "msg": …}]}``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.complaints import handlers
from services.complaints.domain import (
    Action,
    Complaint,
    ComplaintError,
    ExtensionReason,
    InvalidValue,
    Point,
    Stage,
    Status,
    UnknownAction,
    UnknownComplaint,
    working_days_left,
)
from services.complaints.handlers import ComplaintRecord, ComplaintsContext
from services.complaints.store import ComplainantDetails, HistoryEntry, LearningRecord
from shared.access_log import PERSONAL_DATA
from shared.auth import Principal, require_served
from shared.bounds import CalendarDate, InCalendar, Name, NoNul, Offset, text
from shared.calendar import london_date
from shared.events import Complainant, Day, Identifier, Outcome, Procedure, ServiceArea, Timestamp

WRITE = "complaints:write"
READ = ("complaints:write", "reporting:read")

Text = Annotated[str, text(4000, 1)]
ShortText = Annotated[str, text(500, 1)]
# What a request may carry (shared.bounds): identifiers without NUL, times and days the
# working-day calendar covers.
Id = Annotated[Identifier, NoNul]
At = Annotated[Timestamp, InCalendar]
OnDay = Annotated[Day, InCalendar]


Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(*READ))]


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- requests


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not ignored


class ReceiveComplaint(Command):
    complaint_id: Id | None = Field(None, description="generated when absent")
    procedure: Procedure
    stage: int = Field(1, ge=1, le=3, description="1, or straight into a later stage")
    category: Id
    team: Id
    service_area: ServiceArea
    complainant: Complainant
    received_at: At = Field(default_factory=_now)
    case_ref: ShortText | None = Field(None, description="the case it concerns; stays here (events carry a pseudonym)")
    complainant_name: ShortText | None = Field(None, description="stays in this service")
    complainant_contact: ShortText | None = Field(None, description="stays in this service")


class AcknowledgeComplaint(Command):
    acknowledged_at: At = Field(default_factory=_now)


class ExtendComplaint(Command):
    new_due_date: OnDay | None = Field(None, description="the new due date, a working day")
    extend_by_working_days: int | None = Field(
        None, ge=1, le=65, description="or: this many working days after the current due date"
    )
    reason: ExtensionReason
    note: Text | None = Field(None, description="the officer's words; stay in this service")
    extended_at: At = Field(default_factory=_now)


class AgreeStatement(Command):
    agreed_at: At = Field(default_factory=_now)


class PointIn(Command):
    summary: Text | None = Field(None, description="stays in this service, never in events")
    upheld: bool


class RespondToComplaint(Command):
    closed_at: At = Field(default_factory=_now)
    points: list[PointIn] = Field(min_length=1, max_length=100)


class EscalateComplaint(Command):
    escalated_at: At = Field(default_factory=_now)


class WithdrawComplaint(Command):
    withdrawn_at: At = Field(default_factory=_now)


class IdentifyLearning(Command):
    learning_id: Id | None = None
    summary: Text
    team: Id | None = Field(None, description="the complaint's team when absent")
    service_area: ServiceArea | None = None
    identified_at: At = Field(default_factory=_now)


class RaiseAction(Command):
    action_id: Id | None = None
    learning_id: Id | None = Field(None, description="the learning it follows from")
    owner_id: Id
    due_date: OnDay
    summary: Text
    team: Id | None = None
    service_area: ServiceArea | None = None
    raised_at: At = Field(default_factory=_now)


class CompleteAction(Command):
    completed_at: At = Field(default_factory=_now)
    evidence: Text | None = None


# --------------------------------------------------------------------------- responses


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
    closed_at: datetime | None
    outcome: Outcome | None
    points: list[PointOut]
    within_timescale: bool | None
    working_days_taken: int | None
    working_days_left: int | None
    overdue: bool


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


class HistoryOut(BaseModel):
    kind: str
    event_id: str | None
    data: dict[str, object]
    actor: str | None
    recorded_at: datetime


class LearningOut(BaseModel):
    learning_id: str
    complaint_id: str
    team: str
    service_area: str
    summary: str
    identified_at: datetime


class ActionOut(BaseModel):
    action_id: str
    complaint_id: str
    learning_id: str | None
    team: str
    service_area: str
    owner_id: str
    raised_at: datetime
    due_date: date
    summary: str
    completed_at: datetime | None
    evidence: str | None


class ComplainantDetailsOut(BaseModel):
    name: str | None
    contact: str | None


class ComplaintOut(ComplaintSummary):
    stages: list[StageOut]
    learning: list[LearningOut]
    actions: list[ActionOut]
    history: list[HistoryOut]
    case_ref: str | None = None
    complainant_details: ComplainantDetailsOut | None = None


class ComplaintList(BaseModel):
    as_of: date
    status: str
    complaints: list[ComplaintSummary]


# --------------------------------------------------------------------------- views


def _stage_out(ctx: ComplaintsContext, stage: Stage, as_of: date, private: bool) -> StageOut:
    left = None
    if not stage.closed and stage.due_date is not None:
        left = working_days_left(ctx.rules.calendar, stage.due_date, as_of)
    return StageOut(
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
        closed_at=stage.closed_at,
        outcome=stage.outcome,
        points=[PointOut(upheld=p.upheld, summary=p.summary if private else None) for p in stage.points],
        within_timescale=stage.within_timescale,
        working_days_taken=stage.working_days_taken,
        working_days_left=left,
        overdue=left is not None and left < 0,
    )


def _summary(ctx: ComplaintsContext, c: Complaint, as_of: date) -> ComplaintSummary:
    current = c.stage
    open_due = current.due_date if not current.closed else None
    left = working_days_left(ctx.rules.calendar, open_due, as_of) if open_due else None
    return ComplaintSummary(
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


def _learning_out(r: LearningRecord) -> LearningOut:
    return LearningOut(
        learning_id=r.learning_id,
        complaint_id=r.complaint_id,
        team=r.team,
        service_area=r.service_area,
        summary=r.summary,
        identified_at=r.identified_at,
    )


def _action_out(a: Action) -> ActionOut:
    return ActionOut(
        action_id=a.action_id,
        complaint_id=a.complaint_id,
        learning_id=a.learning_id,
        team=a.team,
        service_area=a.service_area,
        owner_id=a.owner_id,
        raised_at=a.raised_at,
        due_date=a.due_date,
        summary=a.summary,
        completed_at=a.completed_at,
        evidence=a.evidence,
    )


def _history_out(h: HistoryEntry) -> HistoryOut:
    return HistoryOut(kind=h.kind, event_id=h.event_id, data=h.data, actor=h.actor, recorded_at=h.recorded_at)


def _complaint_out(ctx: ComplaintsContext, record: ComplaintRecord, as_of: date, private: bool) -> ComplaintOut:
    c = record.complaint
    details = record.complainant_details
    return ComplaintOut(
        **_summary(ctx, c, as_of).model_dump(),
        stages=[_stage_out(ctx, s, as_of, private) for s in c.stages],
        learning=[_learning_out(r) for r in record.learning],
        actions=[_action_out(a) for a in record.actions],
        history=[_history_out(h) for h in record.history],
        case_ref=record.case_ref if private else None,
        complainant_details=(
            ComplainantDetailsOut(name=details.name, contact=details.contact) if private and details else None
        ),
    )


def _today() -> date:
    return london_date(datetime.now(UTC))


# --------------------------------------------------------------------------- routes


def build_router(ctx: ComplaintsContext) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["complaints"])

    async def view(complaint_id: str, principal: Principal, as_of: date | None = None) -> ComplaintOut:
        private = principal.has(WRITE)
        record = await handlers.get_complaint(ctx, complaint_id, with_private_details=private)
        return _complaint_out(ctx, record, as_of or _today(), private)

    @router.post("/complaints", status_code=status.HTTP_201_CREATED, response_model=ComplaintOut)
    async def receive_complaint(body: ReceiveComplaint, principal: Writer) -> ComplaintOut:
        """Receive a complaint at stage 1 (or straight into a later stage)."""
        complaint = await handlers.receive_complaint(
            ctx,
            actor=principal.subject,
            complaint_id=body.complaint_id,
            procedure=body.procedure,
            stage=body.stage,
            category=body.category,
            team=body.team,
            service_area=body.service_area,
            complainant=body.complainant,
            received_at=body.received_at,
            case_ref=body.case_ref,
            details=ComplainantDetails(body.complainant_name, body.complainant_contact),
        )
        return await view(complaint.complaint_id, principal)

    @router.get("/complaints", response_model=ComplaintList)
    async def list_complaints(
        principal: Reader,
        status_: Annotated[Literal["open", "overdue", "responded", "withdrawn", "all"], Query(alias="status")] = "open",
        team: Name | None = None,
        category: Name | None = None,
        procedure: Procedure | None = None,
        service_area: Name | None = None,
        as_of: Annotated[CalendarDate | None, Query(description="London date; today when absent")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[Offset, Query()] = 0,
    ) -> ComplaintList:
        """Complaints for complaints officers, soonest due first: open ones with their
        current stage, due date and working days left; `overdue` for those past it."""
        day = as_of or _today()
        found = await handlers.find_complaints(
            ctx,
            status=status_,
            as_of=day,
            team=team,
            category=category,
            procedure=procedure.value if procedure else None,
            service_area=service_area,
            limit=limit,
            offset=offset,
        )
        return ComplaintList(
            as_of=day,
            status=status_,
            complaints=[_summary(ctx, c, day) for c in found],
        )

    @router.get("/complaints/{complaint_id}", response_model=ComplaintOut, openapi_extra=PERSONAL_DATA)
    async def get_complaint(
        complaint_id: Name,
        principal: Reader,
        as_of: Annotated[CalendarDate | None, Query(description="London date; today when absent")] = None,
    ) -> ComplaintOut:
        """One complaint: its stages, points, extensions, learning, actions and history."""
        return await view(complaint_id, principal, as_of)

    @router.post("/complaints/{complaint_id}/acknowledge", response_model=ComplaintOut)
    async def acknowledge(complaint_id: Name, body: AcknowledgeComplaint, principal: Writer) -> ComplaintOut:
        await handlers.acknowledge_complaint(
            ctx, complaint_id, actor=principal.subject, acknowledged_at=body.acknowledged_at
        )
        return await view(complaint_id, principal)

    @router.post("/complaints/{complaint_id}/extend", response_model=ComplaintOut)
    async def extend(complaint_id: Name, body: ExtendComplaint, principal: Writer) -> ComplaintOut:
        """Extend the current stage, never past the procedure's maximum (422 otherwise)."""
        await handlers.extend_complaint(
            ctx,
            complaint_id,
            actor=principal.subject,
            new_due_date=body.new_due_date,
            extend_by_working_days=body.extend_by_working_days,
            reason=body.reason,
            note=body.note,
            extended_at=body.extended_at,
        )
        return await view(complaint_id, principal)

    @router.post("/complaints/{complaint_id}/agree-statement", response_model=ComplaintOut)
    async def agree_statement(complaint_id: Name, body: AgreeStatement, principal: Writer) -> ComplaintOut:
        """Record the agreed stage-2 statement of complaint (where it starts the clock)."""
        await handlers.record_agreed_statement(ctx, complaint_id, actor=principal.subject, agreed_at=body.agreed_at)
        return await view(complaint_id, principal)

    @router.post("/complaints/{complaint_id}/respond", response_model=ComplaintOut)
    async def respond(complaint_id: Name, body: RespondToComplaint, principal: Writer) -> ComplaintOut:
        """The current stage's response: its points decide the outcome; the stage closes."""
        await handlers.respond_to_complaint(
            ctx,
            complaint_id,
            actor=principal.subject,
            closed_at=body.closed_at,
            points=[Point(upheld=p.upheld, summary=p.summary) for p in body.points],
        )
        return await view(complaint_id, principal)

    @router.post("/complaints/{complaint_id}/escalate", response_model=ComplaintOut)
    async def escalate(complaint_id: Name, body: EscalateComplaint, principal: Writer) -> ComplaintOut:
        """The complainant is not satisfied with the response: the next stage starts."""
        await handlers.escalate_complaint(ctx, complaint_id, actor=principal.subject, escalated_at=body.escalated_at)
        return await view(complaint_id, principal)

    @router.post("/complaints/{complaint_id}/withdraw", response_model=ComplaintOut)
    async def withdraw(complaint_id: Name, body: WithdrawComplaint, principal: Writer) -> ComplaintOut:
        """The complainant withdraws: the stage in progress closes as withdrawn."""
        await handlers.withdraw_complaint(ctx, complaint_id, actor=principal.subject, withdrawn_at=body.withdrawn_at)
        return await view(complaint_id, principal)

    @router.post(
        "/complaints/{complaint_id}/learning",
        status_code=status.HTTP_201_CREATED,
        response_model=LearningOut,
    )
    async def identify_learning(complaint_id: Name, body: IdentifyLearning, principal: Writer) -> LearningOut:
        """Record what the complaint taught (published as LearningIdentified)."""
        record = await handlers.identify_learning(
            ctx,
            complaint_id,
            actor=principal.subject,
            learning_id=body.learning_id,
            summary=body.summary,
            team=body.team,
            service_area=body.service_area,
            identified_at=body.identified_at,
        )
        return _learning_out(record)

    @router.post(
        "/complaints/{complaint_id}/actions",
        status_code=status.HTTP_201_CREATED,
        response_model=ActionOut,
    )
    async def raise_action(complaint_id: Name, body: RaiseAction, principal: Writer) -> ActionOut:
        """Raise an action that follows from the complaint (origin complaint)."""
        action = await handlers.raise_action(
            ctx,
            complaint_id,
            actor=principal.subject,
            action_id=body.action_id,
            learning_id=body.learning_id,
            owner_id=body.owner_id,
            raised_at=body.raised_at,
            due_date=body.due_date,
            summary=body.summary,
            team=body.team,
            service_area=body.service_area,
        )
        return _action_out(action)

    @router.post("/complaints/{complaint_id}/actions/{action_id}/complete", response_model=ActionOut)
    async def complete_action(
        complaint_id: Name, action_id: Name, body: CompleteAction, principal: Writer
    ) -> ActionOut:
        action = await handlers.complete_action(
            ctx,
            complaint_id,
            action_id,
            actor=principal.subject,
            completed_at=body.completed_at,
            evidence=body.evidence,
        )
        return _action_out(action)

    return router


# --------------------------------------------------------------------------- errors


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ComplaintError)
    if isinstance(exc, InvalidValue):
        return JSONResponse(
            {"detail": [{"type": "value_error", "loc": ["body", exc.field], "msg": exc.reason}]},
            status_code=422,
        )
    if isinstance(exc, UnknownComplaint | UnknownAction):
        code = status.HTTP_404_NOT_FOUND
    else:  # InvalidTransition, AlreadyExists
        code = status.HTTP_409_CONFLICT
    return JSONResponse({"detail": exc.reason}, status_code=code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ComplaintError, _domain_error)
