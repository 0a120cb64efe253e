"""The action routes every strand mounts: list, read, complete — and the view and request
models its own "raise an action on <origin>" routes use (`raised`).

No `from __future__ import annotations` here: the routes' parameter types are built inside
`actions_router` (they name the strand's roles), and FastAPI resolves string annotations
against the module's globals only, where those local types are not."""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from shared.actions import handlers
from shared.actions.domain import Action, ActionStatus, CompleteAction
from shared.actions.store import ActionQuery, Status
from shared.auth import Principal, require_served
from shared.bounds import Name, Offset
from shared.calendar import london_date
from shared.events import LearningOrigin
from shared.uow import utc_now

Limit = Annotated[int, Query(ge=1, le=500)]


class ActionView(BaseModel):
    action_id: str
    origin: LearningOrigin
    origin_id: str
    learning_id: str | None = Field(description="the recorded learning it answers, if any")
    team: str
    service_area: str
    owner_id: str
    summary: str
    due_date: date
    raised_at: datetime
    raised_by: str
    status: ActionStatus
    overdue: bool = Field(description="open with its due date passed (London dates)")
    completed_at: datetime | None
    completed_by: str | None
    on_time: bool | None = Field(description="completed on or before its due date; null while open")
    evidence: str | None

    @classmethod
    def of(cls, action: Action, today: date) -> "ActionView":
        return cls(
            action_id=action.action_id,
            origin=action.origin,
            origin_id=action.origin_id,
            learning_id=action.learning_id,
            team=action.team,
            service_area=action.service_area,
            owner_id=action.owner_id,
            summary=action.summary,
            due_date=action.due_date,
            raised_at=action.raised_at,
            raised_by=action.raised_by,
            status=action.status,
            overdue=action.overdue(today),
            completed_at=action.completed_at,
            completed_by=action.completed_by,
            on_time=action.on_time,
            evidence=action.evidence,
        )


class ActionPage(BaseModel):
    items: list[ActionView]
    limit: int
    offset: int
    next_offset: int | None = Field(description="the offset of the next page; null on the last")

    @classmethod
    def of(cls, found: Sequence[Action], *, limit: int, offset: int, today: date) -> "ActionPage":
        """The page at ``offset`` from ``found``: at most ``limit`` actions, one more found
        when a next page follows."""
        return cls(
            items=[ActionView.of(a, today) for a in found[:limit]],
            limit=limit,
            offset=offset,
            next_offset=offset + limit if len(found) > limit else None,
        )


def raised(action: Action, created: bool, response: Response) -> ActionView:
    """The answer to a "raise an action" request: 201, or 200 for a retry that added nothing."""
    if not created:
        response.status_code = status.HTTP_200_OK
    return ActionView.of(action, london_date(utc_now()))


RAISE_DESCRIPTION = (
    "Publishes ActionRaised. A retry with the same `action_id` and content answers 200 and "
    "publishes nothing; the same id with other content is a 409."
)


def actions_router(strand: str, unit_of_work: Callable[..., Any]) -> APIRouter:
    """`GET /v1/actions`, `GET /v1/actions/{action_id}`, `POST /v1/actions/{action_id}/complete`
    for `strand` (roles `<strand>:write`; readers also `reporting:read`). `unit_of_work` is
    the strand's FastAPI dependency that gives a unit of work holding `actions`."""
    router = APIRouter(prefix="/v1", tags=["actions"])
    writer = Annotated[Principal, Depends(require_served(f"{strand}:write"))]
    reader = Annotated[Principal, Depends(require_served(f"{strand}:write", "reporting:read"))]
    uow_of = Annotated[Any, Depends(unit_of_work)]

    @router.get("/actions", response_model=ActionPage, summary="Actions, by due date")
    async def list_actions(
        _: reader,
        uow: uow_of,
        status_: Annotated[Status | None, Query(alias="status")] = None,
        origin_id: Name | None = None,
        team: Name | None = None,
        service_area: Name | None = None,
        owner_id: Name | None = None,
        limit: Limit = 100,
        offset: Annotated[Offset, Query()] = 0,
    ) -> ActionPage:
        today = london_date(utc_now())
        query = ActionQuery(
            today=today,
            status=status_,
            origin_id=origin_id,
            team=team,
            service_area=service_area,
            owner_id=owner_id,
            limit=limit + 1,
            offset=offset,
        )
        return ActionPage.of(await handlers.list_actions(uow, query), limit=limit, offset=offset, today=today)

    @router.get("/actions/{action_id}", response_model=ActionView)
    async def get_action(action_id: Name, _: reader, uow: uow_of) -> ActionView:
        return ActionView.of(await handlers.get_action(uow, action_id), london_date(utc_now()))

    @router.post(
        "/actions/{action_id}/complete",
        response_model=ActionView,
        summary="Complete an action (publishes ActionCompleted)",
        description="409 when it is already completed otherwise (the same completion sent again answers "
        "200 and publishes nothing); 422 when completed_at is before it was raised or in the future.",
    )
    async def complete_action(
        action_id: Name,
        body: CompleteAction,
        principal: writer,
        uow: uow_of,
    ) -> ActionView:
        done = await handlers.complete_action(uow, action_id, body, actor=principal.subject)
        return ActionView.of(done, london_date(utc_now()))

    return router
