"""The audit store contract on PostgreSQL (its fake's run: tests/unit/test_audit_store_fake.py),
each test in a fresh schema migrated and seeded as the service starts it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.audit.app import MIGRATIONS, AuditService
from services.audit.store import PostgresAuditUnitOfWork
from shared.settings import get_settings
from tests.support.contracts_audit import AuditStoreContract

pytestmark = pytest.mark.integration


class ScratchAuditService(AuditService):
    """The audit service (its events route as audit's) in a schema of its own."""

    scratch = "audit"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any) -> AsyncIterator[AuditService]:
    svc = ScratchAuditService("audit", MIGRATIONS, settings=get_settings())
    svc.scratch = f"audit_contract_{uuid.uuid4().hex[:8]}"
    await svc.start(relay=False)
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class TestPostgresAuditStore(AuditStoreContract):
    @pytest.fixture(autouse=True)
    def _service(self, service: AuditService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return PostgresAuditUnitOfWork(self.service)

    async def published(self, uow: Any) -> list[str]:
        async with self.service.pool.acquire() as conn:  # type: ignore[union-attr]
            rows = await conn.fetch(f"SELECT event_type FROM {self.service.schema}.outbox ORDER BY position")
        return [r["event_type"] for r in rows]
