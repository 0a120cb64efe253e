"""The feedback store contract on the in-memory fake (its PostgreSQL run:
tests/integration/test_feedback_store.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.feedback import FakeFeedbackUnitOfWork
from tests.support.contracts_feedback import FeedbackStoreContract


class TestFakeFeedbackStore(FeedbackStoreContract):
    async def make_uow(self) -> Any:
        return FakeFeedbackUnitOfWork()

    async def published(self, uow: Any) -> list[str]:
        return [e.data.event_type for e in uow.published]
