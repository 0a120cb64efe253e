"""The notifier's store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_notifier_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.notifier import FakeNotifierUnitOfWork
from tests.support.notifier_contracts import NotifierStoreContract


class TestFakeNotifierStore(NotifierStoreContract):
    async def make_uow(self) -> Any:
        return FakeNotifierUnitOfWork()
