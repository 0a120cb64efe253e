"""The action store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_actions_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.actions import FakeActions
from tests.fakes.uow import FakeUnitOfWork
from tests.support.contracts import ActionStoreContract


class ActionsUnitOfWork(FakeUnitOfWork):
    repositories = ("actions",)

    def __init__(self) -> None:
        super().__init__()
        self.actions = FakeActions()


class TestFakeActionStore(ActionStoreContract):
    async def make_uow(self) -> Any:
        return ActionsUnitOfWork()

    async def published(self, uow: Any) -> list[str]:
        return [e.data.event_type for e in uow.published]
