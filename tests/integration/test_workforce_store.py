"""The workforce store on PostgreSQL: the workforce store contract (its fake's run:
tests/unit/test_workforce_store_fake.py) and the shared action store contract on the
workforce's actions table, which is exactly the shared one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.workforce.app import MIGRATIONS
from services.workforce.store import PostgresWorkforceUnitOfWork
from shared.service import StrandService
from shared.settings import get_settings
from tests.support.contracts import ActionStoreContract
from tests.support.contracts_workforce import WorkforceStoreContract

pytestmark = pytest.mark.integration


class ScratchService(StrandService):
    """The workforce service's migrations in a schema of its own (its events route as workforce's)."""

    scratch = "workforce"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any) -> AsyncIterator[StrandService]:
    svc = ScratchService("workforce", MIGRATIONS, settings=get_settings())
    svc.scratch = f"workforce_contract_{uuid.uuid4().hex[:8]}"
    await svc.start(relay=False)
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class OnPostgres:
    @pytest.fixture(autouse=True)
    def _service(self, service: StrandService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return PostgresWorkforceUnitOfWork(self.service)

    async def published(self, uow: Any) -> list[str]:
        async with self.service.pool.acquire() as conn:  # type: ignore[union-attr]
            rows = await conn.fetch(f"SELECT event_type FROM {self.service.schema}.outbox ORDER BY position")
        return [r["event_type"] for r in rows]


class TestPostgresWorkforceStore(OnPostgres, WorkforceStoreContract):
    pass


class TestPostgresWorkforceActionStore(OnPostgres, ActionStoreContract):
    """The workforce's actions table does all the shared action store does."""
