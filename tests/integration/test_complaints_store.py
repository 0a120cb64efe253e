"""The complaints store contract on PostgreSQL, with the service's own migrations (its fake's
run: tests/unit/test_complaints_store_fake.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.complaints.app import MIGRATIONS
from services.complaints.domain import CaseSubjects
from services.complaints.store import PostgresComplaintsUnitOfWork
from shared.service import StrandService
from shared.settings import get_settings
from tests.support.contracts_complaints import RULES, ComplaintStoreContract

pytestmark = pytest.mark.integration


class ScratchService(StrandService):
    """The complaints service (its events route as complaints') in a schema of its own."""

    scratch = "complaints"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any) -> AsyncIterator[StrandService]:
    svc = ScratchService("complaints", MIGRATIONS, settings=get_settings())
    svc.scratch = f"contract_{uuid.uuid4().hex[:8]}"
    await svc.start(relay=False)
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class TestPostgresComplaintStore(ComplaintStoreContract):
    @pytest.fixture(autouse=True)
    def _service(self, service: StrandService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return PostgresComplaintsUnitOfWork(self.service, RULES, CaseSubjects("a key for the contract tests"))

    async def published(self, uow: Any) -> list[str]:
        async with self.service.pool.acquire() as conn:  # type: ignore[union-attr]
            rows = await conn.fetch(f"SELECT event_type FROM {self.service.schema}.outbox ORDER BY position")
        return [r["event_type"] for r in rows]
