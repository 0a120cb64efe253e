"""Reporting's SQL: the event store (which is also the inbox), facts, projection state,
follow-ups. Every write here runs inside the consumer's batch transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.reporting import projections
from services.reporting.followups import FollowUp

SCHEMA = "reporting"


@dataclass(frozen=True)
class StoredEvent:
    position: int
    tenant: str
    envelope: dict[str, Any]


async def append_events(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, str, datetime, str | None, str | None, str]]
) -> dict[tuple[str, str], int]:
    """Append (tenant, source, id, type, time, subject, sequence, envelope json) rows; return
    {(source, id): position} for the ones that were new (a duplicate inserts nothing)."""
    if not rows:
        return {}
    columns = list(zip(*rows, strict=True))
    inserted = await conn.fetch(
        f"""INSERT INTO {SCHEMA}.event_store (tenant, source, id, type, time, subject, sequence, envelope)
            SELECT u.tenant, u.source, u.id, u.type, u.time, u.subject, u.sequence, u.envelope::jsonb
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                        $6::text[], $7::text[], $8::text[])
                 AS u(tenant, source, id, type, time, subject, sequence, envelope)
            ON CONFLICT (source, id) DO NOTHING
            RETURNING position, source, id""",
        *[list(c) for c in columns],
    )
    return {(r["source"], r["id"]): r["position"] for r in inserted}


async def insert_facts(conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str, str]]) -> None:
    """(position, tenant, kind, payload json) rows."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.facts (position, tenant, kind, payload)
            SELECT u.position, u.tenant, u.kind, u.payload::jsonb
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(position, tenant, kind, payload)
            ON CONFLICT (position) DO NOTHING""",
        *[list(c) for c in columns],
    )


async def bump_projection_state(conn: asyncpg.Connection, counts: dict[str, tuple[int, datetime | None]]) -> None:
    """Add applied counts and move last_event_time forward, per projection name."""
    if not counts:
        return
    names = list(counts)
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.projection_state AS p (name, events_applied, last_event_time)
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[])
            ON CONFLICT (name) DO UPDATE SET
                events_applied = p.events_applied + excluded.events_applied,
                last_event_time = greatest(p.last_event_time, excluded.last_event_time)""",
        names,
        [counts[n][0] for n in names],
        [counts[n][1] for n in names],
    )


async def facts_generation(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(f"SELECT generation FROM {SCHEMA}.projection_state WHERE name = 'facts'"))


async def load_facts(conn: asyncpg.Connection, tenant: str, after: int = 0) -> tuple[list[Any], int]:
    """Facts of a tenant with position > after, in position order, and the last position."""
    rows = await conn.fetch(
        f"SELECT position, kind, payload FROM {SCHEMA}.facts WHERE tenant = $1 AND position > $2 ORDER BY position",
        tenant,
        after,
    )
    facts = [projections.decode(r["kind"], r["payload"]) for r in rows]
    return facts, (rows[-1]["position"] if rows else after)


async def tenants(conn: asyncpg.Connection) -> list[str]:
    return [r["tenant"] for r in await conn.fetch(f"SELECT DISTINCT tenant FROM {SCHEMA}.facts")]


async def tenant_status(conn: asyncpg.Connection, tenant: str) -> tuple[int, Any, dict[str, tuple[int, Any]]]:
    """One tenant's view of intake: (events applied, newest event time, {fact kind: (count,
    newest event time)}) — so that no authority sees another's volumes."""
    total = await conn.fetchrow(
        f"SELECT count(*) AS n, max(time) AS t FROM {SCHEMA}.event_store WHERE tenant = $1", tenant
    )
    rows = await conn.fetch(
        f"""SELECT f.kind, count(*) AS n, max(e.time) AS t
            FROM {SCHEMA}.facts f JOIN {SCHEMA}.event_store e USING (position)
            WHERE f.tenant = $1 GROUP BY f.kind""",
        tenant,
    )
    return int(total["n"]), total["t"], {r["kind"]: (int(r["n"]), r["t"]) for r in rows}


# --------------------------------------------------------------------------- follow-ups

FOLLOWUP_COLUMNS = (
    "followup_id, rule, origin, origin_id, team, service_area, opened_on, due_date, "
    "closed_on, closed_by_event_id, improved"
)


async def load_followup_rows(conn: asyncpg.Connection, tenant: str) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.followups WHERE tenant = $1 FOR UPDATE", tenant)
    return {r["followup_id"]: r for r in rows}


async def upsert_followups(conn: asyncpg.Connection, tenant: str, items: Sequence[FollowUp]) -> None:
    if not items:
        return
    await conn.executemany(
        f"""INSERT INTO {SCHEMA}.followups (tenant, {FOLLOWUP_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (tenant, followup_id) DO UPDATE SET
                rule = excluded.rule, origin = excluded.origin, origin_id = excluded.origin_id,
                team = excluded.team, service_area = excluded.service_area,
                opened_on = excluded.opened_on, due_date = excluded.due_date,
                closed_on = excluded.closed_on, closed_by_event_id = excluded.closed_by_event_id,
                improved = excluded.improved""",
        [
            (
                tenant,
                x.followup_id,
                x.rule,
                x.origin,
                x.origin_id,
                x.team,
                x.service_area,
                x.opened_on,
                x.due_date,
                x.closed_on,
                x.closed_by_event_id,
                x.improved,
            )
            for x in items
        ],
    )


async def delete_followups(conn: asyncpg.Connection, tenant: str, ids: Sequence[str]) -> None:
    if ids:
        await conn.execute(
            f"DELETE FROM {SCHEMA}.followups WHERE tenant = $1 AND followup_id = ANY($2::text[])", tenant, list(ids)
        )


async def mark_published(conn: asyncpg.Connection, tenant: str, flag: str, ids: Sequence[str]) -> None:
    assert flag in {"opened_published", "due_published", "overdue_published", "closed_published"}
    if ids:
        await conn.execute(
            f"UPDATE {SCHEMA}.followups SET {flag} = true WHERE tenant = $1 AND followup_id = ANY($2::text[])",
            tenant,
            list(ids),
        )


# --------------------------------------------------------------------------- commentary


async def commentary(conn: asyncpg.Connection, tenant: str, period: str, filters: str) -> dict[str, str]:
    rows = await conn.fetch(
        f"SELECT kpi, commentary FROM {SCHEMA}.kpi_commentary WHERE tenant = $1 AND period = $2 AND filters = $3",
        tenant,
        period,
        filters,
    )
    return {r["kpi"]: r["commentary"] for r in rows}


async def save_commentary(
    conn: asyncpg.Connection, tenant: str, kpi: str, period: str, filters: str, text: str, author: str
) -> None:
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.kpi_commentary (tenant, kpi, period, filters, commentary, author)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (tenant, kpi, period, filters) DO UPDATE
            SET commentary = excluded.commentary, author = excluded.author, written_at = now()""",
        tenant,
        kpi,
        period,
        filters,
        text,
        author,
    )


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
