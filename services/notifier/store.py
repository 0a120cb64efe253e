"""The notifier's repositories: a Protocol per record kind, its PostgreSQL adapter (asyncpg
SQL on the `notifier` schema only), and the unit of work the handlers see.

`Notices.claim` is the sent-record: it inserts the (tenant, follow-up, transition, address)
row in the transaction that sends, so a redelivered or replayed transition finds it and sends
nothing more; it takes a row over only where a later attempt may (a held transition, a
refused address).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import asyncpg

from services.notifier.commands import RecipientEntry
from services.notifier.domain import REPLACEABLE, Contact, FollowUp, Notice, Outcome, Transition
from shared.db import check_identifier
from shared.uow import PostgresUnitOfWork, UnitOfWork

# --------------------------------------------------------------------------- Protocols


class FollowUpRepository(Protocol):
    async def lock(self, tenant: str, followup_id: str) -> None:
        """Hold the follow-up until the transaction ends (known or not yet), so that its
        transitions, handled concurrently, never pass each other unseen (a Due held while
        its Opened is being saved)."""
        ...

    async def get(self, tenant: str, followup_id: str) -> FollowUp | None: ...

    async def save(self, tenant: str, followup: FollowUp) -> None: ...


class OwnerRepository(Protocol):
    async def get(self, tenant: str, action_id: str) -> str | None: ...

    async def save(self, tenant: str, action_id: str, owner_id: str) -> None: ...


class RecipientRepository(Protocol):
    async def staff(self, tenant: str, staff_id: str) -> Contact | None: ...

    async def team_manager(self, tenant: str, team: str) -> Contact | None: ...

    async def replace(self, tenant: str, entries: Sequence[RecipientEntry]) -> int:
        """The tenant's directory becomes `entries`; returns how many."""
        ...


class NoticeRepository(Protocol):
    async def claim(self, tenant: str, notice: Notice) -> bool:
        """Record `notice` unless its (follow-up, transition, address) is recorded already
        with an outcome that stands; True where this call recorded it."""
        ...

    async def save(self, tenant: str, notice: Notice) -> None:
        """Record `notice` over whatever its key holds (after the send was tried)."""
        ...

    async def held(self, tenant: str, followup_id: str) -> list[Notice]: ...

    async def drop_placeholders(self, tenant: str, followup_id: str, transition: Transition) -> None:
        """Forget the held / nobody row of a transition now told to real addresses."""
        ...

    async def find(self, tenant: str, status: Outcome | None, limit: int) -> list[Notice]:
        """The latest notices (of one status), newest first."""
        ...

    async def queued_addresses(self) -> list[tuple[str, str]]:
        """(tenant, address) of every address with notices waiting for its digest."""
        ...

    async def queued_for(self, tenant: str, address: str) -> list[Notice]: ...


class DigestRepository(Protocol):
    async def claim(self, tenant: str, address: str, day: date, items: int) -> bool:
        """Record the day's digest for the address; False where it is recorded already."""
        ...


class NotifierUnitOfWork(UnitOfWork, Protocol):
    followups: FollowUpRepository
    owners: OwnerRepository
    recipients: RecipientRepository
    notices: NoticeRepository
    digests: DigestRepository


# --------------------------------------------------------------------------- PostgreSQL


class PostgresFollowUps:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.table = conn, f"{check_identifier(schema)}.followups"

    async def lock(self, tenant: str, followup_id: str) -> None:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{self.table}:{tenant}:{followup_id}"
        )

    async def get(self, tenant: str, followup_id: str) -> FollowUp | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.table} WHERE tenant = $1 AND followup_id = $2", tenant, followup_id
        )
        if row is None:
            return None
        return FollowUp(**{k: v for k, v in dict(row).items() if k != "tenant"})

    async def save(self, tenant: str, followup: FollowUp) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.table}
                    (tenant, followup_id, rule, origin, origin_id, team, service_area, due_date, closed_on)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (tenant, followup_id) DO UPDATE SET
                    rule = excluded.rule, origin = excluded.origin, origin_id = excluded.origin_id,
                    team = excluded.team, service_area = excluded.service_area,
                    due_date = excluded.due_date, closed_on = excluded.closed_on""",
            tenant,
            followup.followup_id,
            followup.rule,
            followup.origin,
            followup.origin_id,
            followup.team,
            followup.service_area,
            followup.due_date,
            followup.closed_on,
        )


class PostgresOwners:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.table = conn, f"{check_identifier(schema)}.action_owners"

    async def get(self, tenant: str, action_id: str) -> str | None:
        owner: str | None = await self.conn.fetchval(
            f"SELECT owner_id FROM {self.table} WHERE tenant = $1 AND action_id = $2", tenant, action_id
        )
        return owner

    async def save(self, tenant: str, action_id: str, owner_id: str) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.table} (tenant, action_id, owner_id) VALUES ($1, $2, $3)
                ON CONFLICT (tenant, action_id) DO UPDATE SET owner_id = excluded.owner_id""",
            tenant,
            action_id,
            owner_id,
        )


class PostgresRecipients:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.table = conn, f"{check_identifier(schema)}.recipients"

    async def _contact(self, tenant: str, kind: str, key: str) -> Contact | None:
        row = await self.conn.fetchrow(
            f"SELECT address, delivery FROM {self.table} WHERE tenant = $1 AND kind = $2 AND key = $3",
            tenant,
            kind,
            key,
        )
        return Contact(row["address"], row["delivery"]) if row else None

    async def staff(self, tenant: str, staff_id: str) -> Contact | None:
        return await self._contact(tenant, "staff", staff_id)

    async def team_manager(self, tenant: str, team: str) -> Contact | None:
        return await self._contact(tenant, "team", team)

    async def replace(self, tenant: str, entries: Sequence[RecipientEntry]) -> int:
        await self.conn.execute(f"DELETE FROM {self.table} WHERE tenant = $1", tenant)
        await self.conn.execute(
            f"""INSERT INTO {self.table} (tenant, kind, key, address, delivery)
                SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])""",
            tenant,
            [e.kind for e in entries],
            [e.id for e in entries],
            [e.email for e in entries],
            [e.delivery for e in entries],
        )
        return len(entries)


NOTICE_COLUMNS = (
    "followup_id",
    "transition",
    "address",
    "status",
    "role",
    "reason",
    "channel",
    "due_date",
    "published_on",
    "days_overdue",
    "digest_day",
)


def _values(notice: Notice) -> list[Any]:
    return [getattr(notice, c) for c in NOTICE_COLUMNS]


def _notice(row: asyncpg.Record) -> Notice:
    values = {c: row[c] for c in NOTICE_COLUMNS}
    values["transition"] = Transition(values["transition"])
    values["status"] = Outcome(values["status"])
    return Notice(**values)


class PostgresNotices:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.table = conn, f"{check_identifier(schema)}.notices"
        placeholders = ", ".join(f"${i}" for i in range(2, len(NOTICE_COLUMNS) + 2))
        updates = ", ".join(f"{c} = excluded.{c}" for c in NOTICE_COLUMNS[3:])
        self._upsert = f"""INSERT INTO {self.table} (tenant, {", ".join(NOTICE_COLUMNS)}) VALUES ($1, {placeholders})
                ON CONFLICT (tenant, followup_id, transition, address) DO UPDATE
                SET {updates}, recorded_at = now()"""

    async def claim(self, tenant: str, notice: Notice) -> bool:
        replaceable = [str(o) for o in REPLACEABLE]
        row = await self.conn.fetchval(
            f"{self._upsert} WHERE {self.table}.status = ANY(${len(NOTICE_COLUMNS) + 2}::text[]) RETURNING 1",
            tenant,
            *_values(notice),
            replaceable,
        )
        return row is not None

    async def save(self, tenant: str, notice: Notice) -> None:
        await self.conn.execute(self._upsert, tenant, *_values(notice))

    async def held(self, tenant: str, followup_id: str) -> list[Notice]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table} WHERE tenant = $1 AND followup_id = $2 AND status = 'held'
                ORDER BY transition""",
            tenant,
            followup_id,
        )
        return [_notice(r) for r in rows]

    async def drop_placeholders(self, tenant: str, followup_id: str, transition: Transition) -> None:
        await self.conn.execute(
            f"""DELETE FROM {self.table} WHERE tenant = $1 AND followup_id = $2 AND transition = $3
                AND address = '' AND status IN ('held', 'nobody')""",
            tenant,
            followup_id,
            str(transition),
        )

    async def find(self, tenant: str, status: Outcome | None, limit: int) -> list[Notice]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table} WHERE tenant = $1 AND ($2::text IS NULL OR status = $2)
                ORDER BY recorded_at DESC, followup_id, transition, address LIMIT $3""",
            tenant,
            str(status) if status else None,
            limit,
        )
        return [_notice(r) for r in rows]

    async def queued_addresses(self) -> list[tuple[str, str]]:
        rows = await self.conn.fetch(
            f"SELECT DISTINCT tenant, address FROM {self.table} WHERE status = 'queued' ORDER BY tenant, address"
        )
        return [(r["tenant"], r["address"]) for r in rows]

    async def queued_for(self, tenant: str, address: str) -> list[Notice]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table} WHERE tenant = $1 AND address = $2 AND status = 'queued'
                ORDER BY followup_id, transition FOR UPDATE""",
            tenant,
            address,
        )
        return [_notice(r) for r in rows]


class PostgresDigests:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn, self.table = conn, f"{check_identifier(schema)}.digests"

    async def claim(self, tenant: str, address: str, day: date, items: int) -> bool:
        row = await self.conn.fetchval(
            f"""INSERT INTO {self.table} (tenant, address, day, items) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING 1""",
            tenant,
            address,
            day,
            items,
        )
        return row is not None


class PostgresNotifierUnitOfWork(PostgresUnitOfWork):
    """One transaction on the notifier's schema with its repositories."""

    followups: FollowUpRepository
    owners: OwnerRepository
    recipients: RecipientRepository
    notices: NoticeRepository
    digests: DigestRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        schema = self.service.schema
        self.followups = PostgresFollowUps(conn, schema)
        self.owners = PostgresOwners(conn, schema)
        self.recipients = PostgresRecipients(conn, schema)
        self.notices = PostgresNotices(conn, schema)
        self.digests = PostgresDigests(conn, schema)
