"""The action use cases, over any strand's unit of work that holds `actions`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from shared.actions.domain import Action, ActionOrigin, CompleteAction, RaiseAction, raise_action
from shared.actions.store import ActionQuery, ActionRepository
from shared.errors import Conflict, NotFound
from shared.uow import UnitOfWork


class ActionsUnitOfWork(UnitOfWork, Protocol):
    # Read-only, so that a unit of work holding a concrete repository (an in-memory fake's,
    # a PostgreSQL adapter) is one: a settable Protocol attribute would need the exact type.
    @property
    def actions(self) -> ActionRepository: ...


U = TypeVar("U", bound=ActionsUnitOfWork)
# Finds the origin an action is raised on, inside the unit of work (NotFound, Conflict).
FindOrigin = Callable[[U], Awaitable[ActionOrigin]]


def aggregate_of(action_id: str) -> str:
    return f"action:{action_id}"


async def raise_action_on(uow: U, find_origin: FindOrigin[U], cmd: RaiseAction, *, actor: str) -> tuple[Action, bool]:
    """Raise an action on the origin `find_origin` finds and publish `ActionRaised`;
    (action, created). A retry with the same `action_id` and content creates nothing."""
    async with uow:
        origin = await find_origin(uow)
        action = raise_action(origin, cmd, action_id=cmd.action_id or str(uuid.uuid4()), raised_by=actor, now=uow.now())
        if not await uow.actions.add(action):
            known = await uow.actions.get(action.action_id)
            assert known is not None
            if known.fingerprint != action.fingerprint:
                raise Conflict(f"action {action.action_id!r} is already raised with other content")
            return known, False
        uow.emit(
            action.raised_event(),
            aggregate=aggregate_of(action.action_id),
            subject=action.subject,
            time=action.raised_at,
            actor=actor,
        )
    return action, True


async def complete_action(uow: ActionsUnitOfWork, action_id: str, cmd: CompleteAction, *, actor: str) -> Action:
    """Complete an action and publish `ActionCompleted`; the same completion again changes
    nothing, another one is a Conflict."""
    async with uow:
        found = await uow.actions.get(action_id, for_update=True)
        if found is None:
            raise NotFound(f"no action {action_id!r}")
        done, event = found.complete(cmd, completed_by=actor, now=uow.now())
        if event is not None:
            await uow.actions.save(done)
            uow.emit(
                event, aggregate=aggregate_of(action_id), subject=done.subject, time=event.completed_at, actor=actor
            )
    return done


async def get_action(uow: ActionsUnitOfWork, action_id: str) -> Action:
    async with uow:
        found = await uow.actions.get(action_id)
    if found is None:
        raise NotFound(f"no action {action_id!r}")
    return found


async def list_actions(uow: ActionsUnitOfWork, query: ActionQuery) -> list[Action]:
    async with uow:
        return await uow.actions.find(query)
