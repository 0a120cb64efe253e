"""The notifier's in-memory unit of work (services/notifier/store.py's twin) and a mailer
that records what it was given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from services.notifier.commands import RecipientEntry
from services.notifier.domain import (
    REPLACEABLE,
    Contact,
    FollowUp,
    MailerUnavailable,
    Message,
    Notice,
    Outcome,
    RecipientRefused,
    Transition,
)
from tests.fakes.uow import FakeUnitOfWork

NoticeKey = tuple[str, str, Transition, str]


@dataclass
class FakeFollowUps:
    rows: dict[tuple[str, str], FollowUp] = field(default_factory=dict)
    locked: list[tuple[str, str]] = field(default_factory=list)

    async def lock(self, tenant: str, followup_id: str) -> None:
        self.locked.append((tenant, followup_id))  # one unit of work at a time: nothing to wait for

    async def get(self, tenant: str, followup_id: str) -> FollowUp | None:
        return self.rows.get((tenant, followup_id))

    async def save(self, tenant: str, followup: FollowUp) -> None:
        self.rows[(tenant, followup.followup_id)] = followup


@dataclass
class FakeOwners:
    rows: dict[tuple[str, str], str] = field(default_factory=dict)

    async def get(self, tenant: str, action_id: str) -> str | None:
        return self.rows.get((tenant, action_id))

    async def save(self, tenant: str, action_id: str, owner_id: str) -> None:
        self.rows[(tenant, action_id)] = owner_id


@dataclass
class FakeRecipients:
    rows: dict[tuple[str, str, str], Contact] = field(default_factory=dict)

    async def staff(self, tenant: str, staff_id: str) -> Contact | None:
        return self.rows.get((tenant, "staff", staff_id))

    async def team_manager(self, tenant: str, team: str) -> Contact | None:
        return self.rows.get((tenant, "team", team))

    async def replace(self, tenant: str, entries: Sequence[RecipientEntry]) -> int:
        self.rows = {k: v for k, v in self.rows.items() if k[0] != tenant}
        for e in entries:
            self.rows[(tenant, e.kind, e.id)] = Contact(e.email, e.delivery)
        return len(entries)


@dataclass
class FakeNotices:
    rows: dict[NoticeKey, Notice] = field(default_factory=dict)
    order: list[NoticeKey] = field(default_factory=list)  # recorded, oldest first

    @staticmethod
    def key(tenant: str, notice: Notice) -> NoticeKey:
        return (tenant, notice.followup_id, notice.transition, notice.address)

    async def claim(self, tenant: str, notice: Notice) -> bool:
        old = self.rows.get(self.key(tenant, notice))
        if old is not None and old.status not in REPLACEABLE:
            return False
        await self.save(tenant, notice)
        return True

    async def save(self, tenant: str, notice: Notice) -> None:
        key = self.key(tenant, notice)
        self.rows[key] = notice
        self.order = [k for k in self.order if k != key] + [key]

    async def held(self, tenant: str, followup_id: str) -> list[Notice]:
        found = [n for (t, f, _, _), n in self.rows.items() if (t, f) == (tenant, followup_id)]
        return sorted((n for n in found if n.status is Outcome.HELD), key=lambda n: str(n.transition))

    async def drop_placeholders(self, tenant: str, followup_id: str, transition: Transition) -> None:
        key = (tenant, followup_id, transition, "")
        if key in self.rows and self.rows[key].status in (Outcome.HELD, Outcome.NOBODY):
            del self.rows[key]
            self.order.remove(key)

    async def find(self, tenant: str, status: Outcome | None, limit: int) -> list[Notice]:
        keys = [k for k in reversed(self.order) if k[0] == tenant]
        found = [self.rows[k] for k in keys if status is None or self.rows[k].status is status]
        return found[:limit]

    async def queued_addresses(self) -> list[tuple[str, str]]:
        return sorted({(t, n.address) for (t, _, _, _), n in self.rows.items() if n.status is Outcome.QUEUED})

    async def queued_for(self, tenant: str, address: str) -> list[Notice]:
        found = [n for (t, _, _, a), n in self.rows.items() if (t, a) == (tenant, address)]
        return sorted(
            (n for n in found if n.status is Outcome.QUEUED), key=lambda n: (n.followup_id, str(n.transition))
        )


@dataclass
class FakeDigests:
    rows: dict[tuple[str, str, date], int] = field(default_factory=dict)

    async def claim(self, tenant: str, address: str, day: date, items: int) -> bool:
        if (tenant, address, day) in self.rows:
            return False
        self.rows[(tenant, address, day)] = items
        return True


class FakeNotifierUnitOfWork(FakeUnitOfWork):
    repositories = ("followups", "owners", "recipients", "notices", "digests")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.followups = FakeFollowUps()
        self.owners = FakeOwners()
        self.recipients = FakeRecipients()
        self.notices = FakeNotices()
        self.digests = FakeDigests()


@dataclass
class RecordingMailer:
    """Records each message; `refuse` addresses are refused for good, and the next
    `unavailable` sends fail for now."""

    channel: str = "test"
    sent: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    unavailable: int = 0

    async def send(self, message: Message) -> None:
        if message.to in self.refuse:
            raise RecipientRefused(f"550 no such mailbox: {message.to}")
        if self.unavailable:
            self.unavailable -= 1
            raise MailerUnavailable("421 try again later")
        self.sent.append(message)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.sent if m.to == address]
