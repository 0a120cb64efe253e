"""The workforce store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_workforce_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.workforce import FakeWorkforceUnitOfWork
from tests.support.contracts_workforce import WorkforceStoreContract


class TestFakeWorkforceStore(WorkforceStoreContract):
    async def make_uow(self) -> Any:
        return FakeWorkforceUnitOfWork()

    async def published(self, uow: Any) -> list[str]:
        return [e.data.event_type for e in uow.published]
