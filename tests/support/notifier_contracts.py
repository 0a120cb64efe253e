"""The notifier's store contract suite: run on the in-memory fake
(tests/unit/test_notifier_store_fake.py) and on PostgreSQL
(tests/integration/test_notifier_store.py), so the fake the unit tests trust cannot drift
from the SQL. A subclass gives `make_uow()`."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.notifier.commands import RecipientEntry
from services.notifier.domain import Contact, FollowUp, Notice, Outcome, Transition

T = "E10000034"
DUE = date(2022, 10, 3)


def notice(address: str = "a@council.example", status: Outcome = Outcome.SENT, **changes: Any) -> Notice:
    base: dict[str, Any] = {
        "followup_id": "action:act-1",
        "transition": Transition.DUE,
        "address": address,
        "status": status,
        "due_date": DUE,
        "published_on": DUE,
        "role": "owner" if address else None,
        "channel": "smtp",
    }
    return Notice(**(base | changes))


class NotifierStoreContract:
    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def test_a_followup_reads_back_and_is_per_tenant(self) -> None:
        uow = await self.make_uow()
        fu = FollowUp("action:act-1", "action", "audit", "act-1", "through-care", "fostering", DUE)
        async with uow:
            await uow.followups.save(T, fu)
            await uow.followups.save("E2", FollowUp("action:act-1", closed_on=DUE))
        async with uow:
            assert await uow.followups.get(T, "action:act-1") == fu
            assert await uow.followups.get("E2", "action:act-1") == FollowUp("action:act-1", closed_on=DUE)
            assert await uow.followups.get(T, "action:act-2") is None

    async def test_owners_and_the_directory(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.owners.save(T, "act-1", "staff-1")
            await uow.owners.save(T, "act-1", "staff-2")
            entries = [
                RecipientEntry(kind="staff", id="staff-2", email="s2@council.example"),
                RecipientEntry(kind="team", id="through-care", email="tc@council.example", delivery="daily"),
            ]
            assert await uow.recipients.replace(T, entries) == 2
            assert await uow.recipients.replace("E2", entries[:1]) == 1
        async with uow:
            assert await uow.owners.get(T, "act-1") == "staff-2"
            assert await uow.owners.get("E2", "act-1") is None
            assert await uow.recipients.staff(T, "staff-2") == Contact("s2@council.example", None)
            assert await uow.recipients.team_manager(T, "through-care") == Contact("tc@council.example", "daily")
            assert await uow.recipients.team_manager("E2", "through-care") is None
            assert await uow.recipients.replace(T, entries[1:]) == 1  # a new import replaces the old
        async with uow:
            assert await uow.recipients.staff(T, "staff-2") is None
            assert await uow.recipients.staff("E2", "staff-2") is not None

    async def test_a_notice_is_claimed_once_unless_held_or_refused(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.notices.claim(T, notice())
            assert not await uow.notices.claim(T, notice())
            assert await uow.notices.claim(T, notice(transition=Transition.OVERDUE, days_overdue=1))
            assert await uow.notices.claim("E2", notice())
            assert await uow.notices.claim(T, notice("", Outcome.HELD, role=None))
            assert await uow.notices.claim(T, notice("", Outcome.HELD, role=None))  # held again: recorded anew
            assert await uow.notices.claim(T, notice("", Outcome.NOBODY, role=None))  # a held one is replaced
            assert not await uow.notices.claim(T, notice("", Outcome.CLOSED, role=None))
            await uow.notices.save(T, notice("b@council.example", Outcome.REFUSED, reason="550"))
            assert await uow.notices.claim(T, notice("b@council.example"))  # a refused one is tried again
        async with uow:
            found = await uow.notices.find(T, None, 10)
            assert {(n.transition, n.address, n.status) for n in found} == {
                (Transition.DUE, "a@council.example", Outcome.SENT),
                (Transition.OVERDUE, "a@council.example", Outcome.SENT),
                (Transition.DUE, "", Outcome.NOBODY),
                (Transition.DUE, "b@council.example", Outcome.SENT),
            }
            assert [n.address for n in await uow.notices.find(T, Outcome.NOBODY, 10)] == [""]
            assert len(await uow.notices.find(T, None, 2)) == 2

    async def test_held_notices_and_placeholders(self) -> None:
        uow = await self.make_uow()
        held_due = notice("", Outcome.HELD, role=None)
        held_overdue = notice("", Outcome.HELD, role=None, transition=Transition.OVERDUE, days_overdue=2)
        async with uow:
            await uow.notices.claim(T, held_overdue)
            await uow.notices.claim(T, held_due)
            await uow.notices.claim(T, notice("", Outcome.HELD, role=None, followup_id="other"))
        async with uow:
            assert await uow.notices.held(T, "action:act-1") == [held_due, held_overdue]
            await uow.notices.drop_placeholders(T, "action:act-1", Transition.DUE)
        async with uow:
            assert await uow.notices.held(T, "action:act-1") == [held_overdue]

    async def test_queued_notices_by_address_and_one_digest_a_day(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.notices.claim(T, notice("b@council.example", Outcome.QUEUED))
            await uow.notices.claim(T, notice("b@council.example", Outcome.QUEUED, followup_id="re-audit:a1"))
            await uow.notices.claim(T, notice("a@council.example", Outcome.SENT))
            await uow.notices.claim("E2", notice("c@council.example", Outcome.QUEUED))
        async with uow:
            assert await uow.notices.queued_addresses() == [
                ("E10000034", "b@council.example"),
                ("E2", "c@council.example"),
            ]
            queued = await uow.notices.queued_for(T, "b@council.example")
            assert [n.followup_id for n in queued] == ["action:act-1", "re-audit:a1"]
            assert await uow.digests.claim(T, "b@council.example", DUE, 2)
            assert not await uow.digests.claim(T, "b@council.example", DUE, 2)
            assert await uow.digests.claim(T, "b@council.example", date(2022, 10, 4), 0)

    async def test_an_error_rolls_everything_back(self) -> None:
        uow = await self.make_uow()
        with pytest.raises(RuntimeError, match="refused"):
            async with uow:
                await uow.notices.claim(T, notice())
                await uow.followups.save(T, FollowUp("action:act-1"))
                await uow.digests.claim(T, "a@council.example", DUE, 1)
                raise RuntimeError("refused")
        async with uow:
            assert await uow.notices.claim(T, notice())
            assert await uow.followups.get(T, "action:act-1") is None
            assert await uow.digests.claim(T, "a@council.example", DUE, 1)
