"""Store contract suites: one set of tests, run against the in-memory fake (tests/unit) and
against PostgreSQL (tests/integration), so the fake the unit tier trusts cannot drift from
the SQL (as eventsourcing's recorder tests do).

A subclass gives `make_uow()` (a unit of work holding `actions`) and `published(uow)` (the
types of the events it has committed, in order).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.actions.domain import Action, CompleteAction
from shared.actions.store import ActionQuery
from shared.events import LearningOrigin

RAISED = datetime(2022, 9, 1, 9, 0, tzinfo=UTC)


def action(action_id: str = "act-1", **changes: Any) -> Action:
    base: dict[str, Any] = {
        "action_id": action_id,
        "origin": LearningOrigin.AUDIT,
        "origin_id": "audit-1",
        "team": "through-care",
        "service_area": "childrens_social_care",
        "owner_id": "manager-1",
        "summary": "Review the plan",
        "due_date": date(2022, 9, 30),
        "raised_at": RAISED,
        "raised_by": "auditor-1",
        "subject": "case:k1:abc",
    }
    return Action(**(base | changes))


class ActionStoreContract:
    """What every `ActionRepository` and unit of work must do."""

    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def published(self, uow: Any) -> list[str]:
        raise NotImplementedError

    async def test_an_added_action_reads_back_unchanged(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.actions.add(action())
        async with uow:
            assert await uow.actions.get("act-1") == action()
            assert await uow.actions.get("act-2") is None

    async def test_adding_a_taken_id_stores_nothing(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.actions.add(action())
            assert not await uow.actions.add(action(summary="something else"))
        async with uow:
            found = await uow.actions.get("act-1")
        assert found is not None and found.summary == "Review the plan"

    async def test_a_saved_completion_reads_back(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.actions.add(action())
        async with uow:
            found = await uow.actions.get("act-1", for_update=True)
            done, _ = found.complete(
                CompleteAction(evidence="Plan reviewed"), completed_by="manager-1", now=RAISED + timedelta(days=3)
            )
            await uow.actions.save(done)
        async with uow:
            assert await uow.actions.get("act-1") == done

    async def test_find_filters_orders_by_due_date_and_pages(self) -> None:
        uow = await self.make_uow()
        today = date(2022, 10, 10)
        async with uow:
            await uow.actions.add(action("a", due_date=date(2022, 10, 1)))
            await uow.actions.add(action("b", due_date=date(2022, 9, 20), team="other"))
            await uow.actions.add(action("c", due_date=date(2022, 10, 20), origin_id="audit-2"))
            done, _ = action("d", due_date=date(2022, 9, 25)).complete(
                CompleteAction(), completed_by="x", now=RAISED + timedelta(days=1)
            )
            await uow.actions.add(done)
        async with uow:

            async def ids(**filters: Any) -> list[str]:
                return [a.action_id for a in await uow.actions.find(ActionQuery(today=today, **filters))]

            assert await ids() == ["b", "d", "a", "c"]
            assert await ids(status="open") == ["b", "a", "c"]
            assert await ids(status="overdue") == ["b", "a"]
            assert await ids(status="completed") == ["d"]
            assert await ids(team="other") == ["b"]
            assert await ids(origin_id="audit-2") == ["c"]
            assert await ids(origin=LearningOrigin.CONCERN) == []
            assert await ids(limit=2, offset=1) == ["d", "a"]
            assert [a.action_id for a in await uow.actions.of_origin("audit-1")] == ["a", "b", "d"]

    async def test_a_clean_exit_commits_rows_and_publishes_events_in_order(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.actions.add(action())
            uow.emit(action().raised_event(), aggregate="action:act-1")
            _done, event = action().complete(CompleteAction(), completed_by="x", now=RAISED + timedelta(days=1))
            uow.emit(event, aggregate="action:act-1")
        assert await self.published(uow) == ["ActionRaised", "ActionCompleted"]

    async def test_an_error_rolls_back_rows_and_events(self) -> None:
        uow = await self.make_uow()
        with pytest.raises(RuntimeError, match="refused"):
            async with uow:
                await uow.actions.add(action())
                uow.emit(action().raised_event(), aggregate="action:act-1")
                raise RuntimeError("refused")
        async with uow:
            assert await uow.actions.get("act-1") is None
        assert await self.published(uow) == []
