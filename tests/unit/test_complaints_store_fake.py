"""The complaints store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_complaints_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.complaints import FakeComplaintsUnitOfWork
from tests.support.contracts_complaints import ComplaintStoreContract


class TestFakeComplaintStore(ComplaintStoreContract):
    async def make_uow(self) -> Any:
        return FakeComplaintsUnitOfWork()

    async def published(self, uow: Any) -> list[str]:
        return [e.data.event_type for e in uow.published]
