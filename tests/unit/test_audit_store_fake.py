"""The audit store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_audit_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.audit import FakeAuditUnitOfWork
from tests.support.contracts_audit import AuditStoreContract


class TestFakeAuditStore(AuditStoreContract):
    async def make_uow(self) -> Any:
        return FakeAuditUnitOfWork()

    async def published(self, uow: Any) -> list[str]:
        return [e.data.event_type for e in uow.published]
