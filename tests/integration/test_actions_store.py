"""The action store contract on PostgreSQL (its fake's run: tests/unit/test_actions_store_fake.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.actions.store import ACTIONS_TABLE, PostgresActions
from shared.service import StrandService
from shared.settings import get_settings
from shared.uow import PostgresUnitOfWork
from tests.support.contracts import ActionStoreContract

pytestmark = pytest.mark.integration


class ActionsUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: asyncpg.Connection) -> None:
        self.actions = PostgresActions(conn, self.service.schema)


class ScratchService(StrandService):
    """A strand service (its events route as audit's) in a schema of its own."""

    scratch = f"contract_{uuid.uuid4().hex[:8]}"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any, tmp_path: Path) -> AsyncIterator[StrandService]:
    (tmp_path / "001_actions.sql").write_text(ACTIONS_TABLE)
    svc = ScratchService("audit", tmp_path, settings=get_settings())
    svc.scratch = f"contract_{uuid.uuid4().hex[:8]}"
    await svc.start(relay=False)
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class TestPostgresActionStore(ActionStoreContract):
    @pytest.fixture(autouse=True)
    def _service(self, service: StrandService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return ActionsUnitOfWork(self.service)

    async def published(self, uow: Any) -> list[str]:
        async with self.service.pool.acquire() as conn:  # type: ignore[union-attr]
            rows = await conn.fetch(f"SELECT event_type FROM {self.service.schema}.outbox ORDER BY position")
        return [r["event_type"] for r in rows]
