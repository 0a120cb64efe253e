"""The notifier's store contract on PostgreSQL (its fake's run: tests/unit/test_notifier_store_fake.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.notifier.app import NotifierService
from services.notifier.settings import NotifierSettings
from services.notifier.store import PostgresNotifierUnitOfWork
from tests.support.notifier_contracts import NotifierStoreContract

pytestmark = pytest.mark.integration


class ScratchNotifier(NotifierService):
    """The notifier's migrations in a schema of its own (each test starts empty)."""

    scratch: str = "notifier"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any) -> AsyncIterator[NotifierService]:
    settings = NotifierSettings(database_url=servers.database_url, amqp_url=servers.amqp_url)
    svc = ScratchNotifier(settings=settings, consume=False)
    svc.scratch = f"notifier_contract_{uuid.uuid4().hex[:8]}"
    await svc.start()
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class TestPostgresNotifierStore(NotifierStoreContract):
    @pytest.fixture(autouse=True)
    def _service(self, service: NotifierService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return PostgresNotifierUnitOfWork(self.service)
