"""Use cases of the complaints service.

Each change loads the complaint with its row locked (``FOR UPDATE``), asks the domain, saves
the result and writes its events to the outbox with ``service.emit`` — all in one
transaction, so the rows and their events commit or roll back together. Every event is also
written to the complaint's history (its data carries no personal details).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.complaints.domain import (
    Action,
    AlreadyExists,
    Complaint,
    ExtensionReason,
    InvalidValue,
    Point,
    Rules,
    UnknownAction,
    UnknownComplaint,
)
from services.complaints.store import (
    ComplainantDetails,
    ComplaintStore,
    HistoryEntry,
    LearningRecord,
)
from shared.events import Complainant, EventData, Procedure
from shared.pseudonym import DEFAULT_KEY_ID, pseudonymise, subject_for
from shared.service import StrandService


@dataclass(frozen=True)
class ComplaintsContext:
    """What the use cases need: the strand service (pool, emit), the rules and the store."""

    service: StrandService
    rules: Rules
    store: ComplaintStore
    pseudonym_key: str
    pseudonym_key_id: str = DEFAULT_KEY_ID  # written into the pseudonym: `k1:<hex>`

    @property
    def pool(self) -> asyncpg.Pool:
        if self.service.pool is None:
            raise RuntimeError("the complaints service is not started")
        return self.service.pool


@dataclass(frozen=True)
class ComplaintRecord:
    """One complaint as a complaints officer sees it: the aggregate, its history, learning
    and actions, and (only when asked for) its private details."""

    complaint: Complaint
    history: list[HistoryEntry]
    learning: list[LearningRecord]
    actions: list[Action]
    case_ref: str | None = None
    complainant_details: ComplainantDetails | None = None


def new_id() -> str:
    return str(uuid.uuid4())


async def _emit(
    ctx: ComplaintsContext,
    conn: asyncpg.Connection,
    complaint: Complaint,
    events: Sequence[EventData],
    actor: str | None,
) -> None:
    for data in events:
        event = await ctx.service.emit(conn, data, aggregate=complaint.complaint_id, subject=complaint.case_subject)
        await ctx.store.add_history(
            conn,
            complaint.complaint_id,
            kind=event.type,
            data=event.data,
            event_id=event.id,
            actor=actor,
        )


async def _load_locked(ctx: ComplaintsContext, conn: asyncpg.Connection, complaint_id: str) -> Complaint:
    complaint = await ctx.store.load_complaint(conn, complaint_id, for_update=True)
    if complaint is None:
        raise UnknownComplaint(f"no complaint {complaint_id!r}")
    return complaint


async def _change(
    ctx: ComplaintsContext,
    complaint_id: str,
    actor: str | None,
    change: Callable[[Complaint], list[EventData]],
) -> Complaint:
    async with ctx.pool.acquire() as conn, conn.transaction():
        complaint = await _load_locked(ctx, conn, complaint_id)
        events = change(complaint)
        await ctx.store.save_complaint(conn, complaint)
        await _emit(ctx, conn, complaint, events, actor)
    return complaint


# --------------------------------------------------------------------------- lifecycle


async def receive_complaint(
    ctx: ComplaintsContext,
    *,
    actor: str | None,
    procedure: Procedure,
    category: str,
    team: str,
    service_area: str,
    complainant: Complainant,
    received_at: datetime,
    stage: int = 1,
    complaint_id: str | None = None,
    case_ref: str | None = None,
    details: ComplainantDetails | None = None,
) -> Complaint:
    subject = None
    if case_ref is not None and case_ref.strip():
        subject = subject_for(pseudonymise(case_ref, ctx.pseudonym_key, ctx.pseudonym_key_id))
    else:
        case_ref = None
    complaint, events = Complaint.receive(
        ctx.rules,
        complaint_id=complaint_id or new_id(),
        procedure=procedure,
        category=category,
        team=team,
        service_area=service_area,
        complainant=complainant,
        received_at=received_at,
        stage=stage,
        case_subject=subject,
    )
    async with ctx.pool.acquire() as conn, conn.transaction():
        if not await ctx.store.add_complaint(conn, complaint, case_ref=case_ref, details=details):
            raise AlreadyExists(f"complaint {complaint.complaint_id!r} already exists")
        await _emit(ctx, conn, complaint, events, actor)
    return complaint


async def acknowledge_complaint(
    ctx: ComplaintsContext, complaint_id: str, *, actor: str | None, acknowledged_at: datetime
) -> Complaint:
    return await _change(
        ctx,
        complaint_id,
        actor,
        lambda c: c.acknowledge(ctx.rules, acknowledged_at=acknowledged_at),
    )


async def extend_complaint(
    ctx: ComplaintsContext,
    complaint_id: str,
    *,
    actor: str | None,
    reason: ExtensionReason,
    extended_at: datetime,
    new_due_date: date | None = None,
    extend_by_working_days: int | None = None,
    note: str | None = None,
) -> Complaint:
    """Extend the current stage to ``new_due_date``, or by ``extend_by_working_days`` after
    its current due date (exactly one of the two)."""
    if (new_due_date is None) == (extend_by_working_days is None):
        raise InvalidValue("new_due_date", "give either new_due_date or extend_by_working_days (exactly one)")

    def extend(c: Complaint) -> list[EventData]:
        if new_due_date is not None:
            return c.extend(ctx.rules, new_due_date=new_due_date, reason=reason, extended_at=extended_at, note=note)
        assert extend_by_working_days is not None
        due = c.extension_date(ctx.rules, extend_by_working_days)
        try:
            return c.extend(ctx.rules, new_due_date=due, reason=reason, extended_at=extended_at, note=note)
        except InvalidValue as exc:  # name the field the caller gave
            raise InvalidValue(
                "extend_by_working_days",
                f"{extend_by_working_days} working days after the current due date: {exc.reason}",
            ) from None

    return await _change(ctx, complaint_id, actor, extend)


async def record_agreed_statement(
    ctx: ComplaintsContext, complaint_id: str, *, actor: str | None, agreed_at: datetime
) -> Complaint:
    """The stage-2 statement of complaint was agreed: where configured, its clock starts.

    No contract event carries this; it goes into the complaint's history only."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        complaint = await _load_locked(ctx, conn, complaint_id)
        complaint.agree_statement(ctx.rules, agreed_at=agreed_at)
        await ctx.store.save_complaint(conn, complaint)
        stage = complaint.stage
        await ctx.store.add_history(
            conn,
            complaint_id,
            kind="StatementAgreed",
            data={
                "complaint_id": complaint_id,
                "stage": stage.number,
                "agreed_at": agreed_at.isoformat(),
                "due_date": stage.due_date.isoformat() if stage.due_date else None,
            },
            event_id=None,
            actor=actor,
        )
    return complaint


async def respond_to_complaint(
    ctx: ComplaintsContext,
    complaint_id: str,
    *,
    actor: str | None,
    closed_at: datetime,
    points: Sequence[Point],
) -> Complaint:
    return await _change(
        ctx,
        complaint_id,
        actor,
        lambda c: c.respond(ctx.rules, closed_at=closed_at, points=points),
    )


async def escalate_complaint(
    ctx: ComplaintsContext, complaint_id: str, *, actor: str | None, escalated_at: datetime
) -> Complaint:
    return await _change(ctx, complaint_id, actor, lambda c: c.escalate(ctx.rules, escalated_at=escalated_at))


async def withdraw_complaint(
    ctx: ComplaintsContext, complaint_id: str, *, actor: str | None, withdrawn_at: datetime
) -> Complaint:
    return await _change(ctx, complaint_id, actor, lambda c: c.withdraw(ctx.rules, withdrawn_at=withdrawn_at))


# --------------------------------------------------------------------------- learning loop


async def identify_learning(
    ctx: ComplaintsContext,
    complaint_id: str,
    *,
    actor: str | None,
    summary: str,
    identified_at: datetime,
    learning_id: str | None = None,
    team: str | None = None,
    service_area: str | None = None,
) -> LearningRecord:
    async with ctx.pool.acquire() as conn, conn.transaction():
        complaint = await _load_locked(ctx, conn, complaint_id)
        event = complaint.identify_learning(
            learning_id=learning_id or new_id(),
            summary=summary,
            team=team,
            service_area=service_area,
        )
        record = LearningRecord(
            learning_id=event.learning_id,
            complaint_id=complaint_id,
            team=event.team,
            service_area=event.service_area,
            summary=summary,
            identified_at=identified_at,
            recorded_by=actor,
        )
        if not await ctx.store.add_learning(conn, record):
            raise AlreadyExists(f"learning {record.learning_id!r} already exists")
        await _emit(ctx, conn, complaint, [event], actor)
    return record


async def raise_action(
    ctx: ComplaintsContext,
    complaint_id: str,
    *,
    actor: str | None,
    owner_id: str,
    raised_at: datetime,
    due_date: date,
    summary: str,
    action_id: str | None = None,
    learning_id: str | None = None,
    team: str | None = None,
    service_area: str | None = None,
) -> Action:
    async with ctx.pool.acquire() as conn, conn.transaction():
        complaint = await _load_locked(ctx, conn, complaint_id)
        if learning_id is not None and not await ctx.store.learning_belongs_to(conn, learning_id, complaint_id):
            raise InvalidValue("learning_id", f"no learning {learning_id!r} was recorded for this complaint")
        action, event = complaint.raise_action(
            action_id=action_id or new_id(),
            owner_id=owner_id,
            raised_at=raised_at,
            due_date=due_date,
            summary=summary,
            team=team,
            service_area=service_area,
            learning_id=learning_id,
        )
        if not await ctx.store.add_action(conn, action):
            raise AlreadyExists(f"action {action.action_id!r} already exists")
        await _emit(ctx, conn, complaint, [event], actor)
    return action


async def complete_action(
    ctx: ComplaintsContext,
    complaint_id: str,
    action_id: str,
    *,
    actor: str | None,
    completed_at: datetime,
    evidence: str | None = None,
) -> Action:
    async with ctx.pool.acquire() as conn, conn.transaction():
        complaint = await _load_locked(ctx, conn, complaint_id)
        action = await ctx.store.load_action(conn, action_id, for_update=True)
        if action is None or action.complaint_id != complaint_id:
            raise UnknownAction(f"complaint {complaint_id!r} has no action {action_id!r}")
        events = action.complete(completed_at=completed_at, evidence=evidence)
        await ctx.store.save_action(conn, action)
        await _emit(ctx, conn, complaint, events, actor)
    return action


# --------------------------------------------------------------------------- queries


async def get_complaint(ctx: ComplaintsContext, complaint_id: str, *, with_private_details: bool) -> ComplaintRecord:
    async with ctx.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        complaint = await ctx.store.load_complaint(conn, complaint_id)
        if complaint is None:
            raise UnknownComplaint(f"no complaint {complaint_id!r}")
        case_ref, details = (
            await ctx.store.private_details(conn, complaint_id) if with_private_details else (None, None)
        )
        return ComplaintRecord(
            complaint=complaint,
            history=await ctx.store.history(conn, complaint_id),
            learning=await ctx.store.learning_for(conn, complaint_id),
            actions=await ctx.store.actions_for(conn, complaint_id),
            case_ref=case_ref,
            complainant_details=details,
        )


async def find_complaints(
    ctx: ComplaintsContext,
    *,
    status: str,
    as_of: date,
    team: str | None = None,
    category: str | None = None,
    procedure: str | None = None,
    service_area: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Complaint]:
    """``status``: open, overdue (open and past the due date on ``as_of``), responded,
    withdrawn or all."""
    statuses: list[str] | None = None if status == "all" else [status]
    due_before = None
    if status == "overdue":
        statuses, due_before = ["open"], as_of
    async with ctx.pool.acquire() as conn:
        return await ctx.store.list_complaints(
            conn,
            statuses=statuses,
            due_before=due_before,
            team=team,
            category=category,
            procedure=procedure,
            service_area=service_area,
            limit=limit,
            offset=offset,
        )
