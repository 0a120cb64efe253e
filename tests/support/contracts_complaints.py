"""The complaints store contract: one suite for the repositories of a complaints unit of work
(complaints, learning, history and its actions), run against the in-memory fake
(tests/unit/test_complaints_store_fake.py) and against PostgreSQL
(tests/integration/test_complaints_store.py), so the fake the handler tests trust cannot
drift from the SQL.

A subclass gives `make_uow()` (a `ComplaintsUnitOfWork` on an empty store, default rules) and
`published(uow)` (the types of the events it has committed, in order).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.complaints.domain import (
    ComplainantDetails,
    Complaint,
    ExtensionReason,
    Learning,
    Point,
    PrivateDetails,
    Rules,
)
from services.complaints.store import ComplaintQuery
from shared.actions.domain import CompleteAction
from shared.calendar import default_calendar
from shared.complaint_timescales import Timescales
from shared.events import Complainant, LearningOrigin, OmbudsmanFinding, Procedure
from tests.support.contracts import action

RULES = Rules(Timescales(), default_calendar())
RECEIVED = datetime(2022, 8, 1, 10, 0, tzinfo=UTC)  # a Monday: stage 1 due Mon 15 Aug


def complaint(complaint_id: str = "c-1", received_at: datetime = RECEIVED, **changes: Any) -> Complaint:
    base: dict[str, Any] = {
        "complaint_id": complaint_id,
        "procedure": Procedure.STATUTORY_CHILDREN,
        "category": "communication",
        "team": "through-care",
        "service_area": "childrens_social_care",
        "complainant": Complainant.PARENT_CARER,
        "received_at": received_at,
        "case_subject": "case:k1:0123456789abcdef",
    }
    return Complaint.receive(RULES, **(base | changes))


PRIVATE = PrivateDetails("CASE-0042", ComplainantDetails("Jane Brown", "jane.brown@example.org"))


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00+00:00")


def learning(learning_id: str = "l-1", complaint_id: str = "c-1", identified_at: str = "2022-08-20") -> Learning:
    return Learning(learning_id, complaint_id, "through-care", "send", "Call back", at(identified_at), "officer-1")


class ComplaintStoreContract:
    """What every complaints repository and unit of work must do."""

    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def published(self, uow: Any) -> list[str]:
        raise NotImplementedError

    # ---------------------------------------------------------------- complaints

    async def test_an_added_complaint_and_its_private_details_read_back_unchanged(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.complaints.add(complaint(), PRIVATE)
            assert await uow.complaints.add(complaint("c-2", case_subject=None, stage=2), PrivateDetails())
        async with uow:
            assert await uow.complaints.get("c-1") == complaint()
            assert await uow.complaints.get("c-2", for_update=True) == complaint("c-2", case_subject=None, stage=2)
            assert await uow.complaints.get("c-3") is None
            assert await uow.complaints.private_details("c-1") == PRIVATE
            assert await uow.complaints.private_details("c-2") == PrivateDetails(None, None)
            assert await uow.complaints.private_details("c-3") is None

    async def test_adding_a_taken_id_stores_nothing(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.complaints.add(complaint(), PRIVATE)
            assert not await uow.complaints.add(complaint(category="delay"), PrivateDetails("OTHER"))
        async with uow:
            found = await uow.complaints.get("c-1")
            assert found is not None and found.category == "communication"
            assert await uow.complaints.private_details("c-1") == PRIVATE

    async def test_a_saved_complaint_reads_back_with_its_stages_extensions_and_points(self) -> None:
        uow = await self.make_uow()
        changed = complaint()
        async with uow:
            await uow.complaints.add(changed, PRIVATE)
        changed.acknowledge(acknowledged_at=at("2022-08-02"))
        changed.extend(
            RULES,
            new_due_date=date(2022, 8, 22),
            reason=ExtensionReason.COMPLEX,
            extended_at=at("2022-08-05"),
            note="n",
        )
        changed.extend(RULES, by_working_days=1, reason=ExtensionReason.OTHER, extended_at=at("2022-08-08"))
        changed.respond(RULES, closed_at=at("2022-08-16"), points=[Point(True, "not called back"), Point(False)])
        changed.escalate(RULES, escalated_at=at("2022-09-01"))
        async with uow:
            await uow.complaints.save(changed)
        async with uow:
            found = await uow.complaints.get("c-1")
        assert found == changed
        assert found is not None and [len(s.extensions) for s in found.stages] == [2, 0]

    async def test_panels_late_requests_statements_and_ombudsman_referrals_read_back(self) -> None:
        uow = await self.make_uow()
        changed = complaint()
        async with uow:
            await uow.complaints.add(changed, PRIVATE)
        changed.respond(RULES, closed_at=at("2022-08-02"), points=[Point(False)])
        changed.escalate(RULES, escalated_at=at("2022-09-20"))  # late: past the 20-working-day window
        changed.agree_statement(RULES, agreed_at=at("2022-09-22"))
        changed.refer_to_ombudsman(referred_at=at("2022-09-23"))
        async with uow:
            await uow.complaints.save(changed)
        changed.respond(RULES, closed_at=at("2022-10-03"), points=[Point(False)])
        changed.escalate(RULES, escalated_at=at("2022-10-10"))
        changed.hold_panel(RULES, held_at=at("2022-11-21"))
        changed.hold_panel(RULES, held_at=at("2022-11-18"))
        changed.record_ombudsman_decision(decided_at=at("2022-10-20"), finding=OmbudsmanFinding.NOT_INVESTIGATED)
        changed.refer_to_ombudsman(referred_at=at("2023-01-05"))
        async with uow:
            await uow.complaints.save(changed)
        async with uow:
            found = await uow.complaints.get("c-1")
        assert found == changed
        assert found is not None and found.stages[1].late_request and not found.stages[2].late_request
        assert found.stages[2].panels == [at("2022-11-21"), at("2022-11-18")]
        assert found.stages[2].due_date == date(2022, 12, 19)
        assert [r.finding for r in found.ombudsman] == [OmbudsmanFinding.NOT_INVESTIGATED, None]

    async def test_find_filters_by_status_and_team_orders_by_due_date_and_pages(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.complaints.add(complaint("q-1", team="send-east", category="delay"), PrivateDetails())
            await uow.complaints.add(complaint("q-2", at("2022-08-08"), team="send-east"), PrivateDetails())
            await uow.complaints.add(
                complaint("q-3", at("2022-08-08"), procedure=Procedure.CORPORATE), PrivateDetails()
            )
            await uow.complaints.add(complaint("q-4", at("2022-07-01")), PrivateDetails())
            closed = complaint("q-5", at("2022-07-01"), service_area="send")
            closed.respond(RULES, closed_at=at("2022-07-05"), points=[Point(True)])
            await uow.complaints.add(closed, PrivateDetails())
            withdrawn = complaint("q-6", at("2022-07-01"))
            withdrawn.withdraw(RULES, withdrawn_at=at("2022-07-04"))
            await uow.complaints.add(withdrawn, PrivateDetails())
        async with uow:

            async def ids(status: str = "all", as_of: str = "2022-08-17", **filters: Any) -> list[str]:
                query = ComplaintQuery(status=status, as_of=date.fromisoformat(as_of), **filters)  # type: ignore[arg-type]
                return [c.complaint_id for c in await uow.complaints.find(query)]

            assert await ids() == ["q-4", "q-1", "q-2", "q-3", "q-5", "q-6"]  # no open due date last, by receipt
            assert await ids("open") == ["q-4", "q-1", "q-2", "q-3"]
            assert await ids("overdue") == ["q-4", "q-1"]
            assert await ids("overdue", "2022-08-15") == ["q-4"]
            assert await ids("responded") == ["q-5"]
            assert await ids("withdrawn") == ["q-6"]
            assert await ids(team="send-east") == ["q-1", "q-2"]
            assert await ids(category="delay") == ["q-1"]
            assert await ids(procedure=Procedure.CORPORATE) == ["q-3"]
            assert await ids(service_area="send") == ["q-5"]
            assert await ids(limit=2, offset=1) == ["q-1", "q-2"]

    # ---------------------------------------------------------------- learning

    async def test_learning_reads_back_by_id_and_by_complaint_and_a_taken_id_stores_nothing(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.complaints.add(complaint(), PrivateDetails())
            await uow.complaints.add(complaint("c-2"), PrivateDetails())
            assert await uow.learning.add(learning("l-2", identified_at="2022-08-21"))
            assert await uow.learning.add(learning("l-1"))
            assert await uow.learning.add(learning("l-3", "c-2"))
            assert not await uow.learning.add(learning("l-1", "c-2"))
        async with uow:
            assert await uow.learning.get("l-1") == learning("l-1")
            assert await uow.learning.get("l-9") is None
            assert await uow.learning.of_complaint("c-1") == [
                learning("l-1"),
                learning("l-2", identified_at="2022-08-21"),
            ]
            assert await uow.learning.of_complaint("c-3") == []

    # ---------------------------------------------------------------- history

    async def test_history_reads_back_in_the_order_it_was_recorded(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.complaints.add(complaint(), PrivateDetails())
            await uow.complaints.add(complaint("c-2"), PrivateDetails())
            await uow.history.add("c-1", kind="B", data={"n": 1}, event_id="e-1", actor="officer-1")
            await uow.history.add("c-2", kind="A", data={}, event_id=None, actor=None)
            await uow.history.add("c-1", kind="A", data={"n": [2]}, event_id=None, actor=None)
        async with uow:
            entries = await uow.history.of_complaint("c-1")
        assert [(h.kind, h.data, h.event_id, h.actor) for h in entries] == [
            ("B", {"n": 1}, "e-1", "officer-1"),
            ("A", {"n": [2]}, None, None),
        ]
        assert entries[0].recorded_at <= entries[1].recorded_at

    async def test_each_published_event_goes_into_its_complaints_history_with_its_actor(self) -> None:
        uow = await self.make_uow()
        received = complaint()
        raised = action("c-1-a1", origin=LearningOrigin.COMPLAINT, origin_id="c-1")
        async with uow:
            await uow.complaints.add(received, PrivateDetails())
            uow.emit(received.received_event(), aggregate="c-1", actor="officer-1")
            await uow.actions.add(raised)
            uow.emit(raised.raised_event(), aggregate="action:c-1-a1", actor="officer-2")
        async with uow:
            done, event = raised.complete(CompleteAction(evidence="done"), completed_by="m", now=at("2022-09-10"))
            await uow.actions.save(done)
            uow.emit(event, aggregate="action:c-1-a1", actor="manager-1")
        async with uow:
            entries = await uow.history.of_complaint("c-1")
        assert [(h.kind, h.actor, h.data.get("action_id")) for h in entries] == [
            ("ComplaintReceived", "officer-1", None),
            ("ActionRaised", "officer-2", "c-1-a1"),
            ("ActionCompleted", "manager-1", "c-1-a1"),
        ]
        assert entries[0].data == received.received_event().model_dump(mode="json", exclude_none=True)
        assert all(h.event_id for h in entries)
        assert await self.published(uow) == ["ComplaintReceived", "ActionRaised", "ActionCompleted"]

    async def test_an_error_rolls_back_rows_history_and_events(self) -> None:
        uow = await self.make_uow()
        with pytest.raises(RuntimeError, match="refused"):
            async with uow:
                await uow.complaints.add(complaint(), PRIVATE)
                await uow.learning.add(learning())
                await uow.history.add("c-1", kind="StatementAgreed", data={}, event_id=None, actor=None)
                uow.emit(complaint().received_event(), aggregate="c-1")
                raise RuntimeError("refused")
        async with uow:
            assert await uow.complaints.get("c-1") is None
            assert await uow.complaints.private_details("c-1") is None
            assert await uow.learning.get("l-1") is None
            assert await uow.history.of_complaint("c-1") == []
        assert await self.published(uow) == []
