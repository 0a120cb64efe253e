"""Reporting's SQL: the event store (which is also the inbox), projection state and the
managers' commentary. The read models are in `readmodels.py`, follow-ups in `learning.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

SCHEMA = "reporting"
# One writer of the read models at a time, whatever the process: intake batches, the
# follow-up clock and the rebuild's swap take this transaction-level advisory lock, so that
# derivations read whole aggregates that no other transaction is changing, and no two
# transactions update the same follow-up rows in different orders (no deadlocks).
INTAKE_LOCK = 0x7161_6C6F_6F70_01  # "qaloop" 01


async def lock_read_models(conn: asyncpg.Connection) -> None:
    """Take the read models' writer lock until the end of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", INTAKE_LOCK)


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


async def bump_projection_state(
    conn: asyncpg.Connection, counts: dict[tuple[str, str], tuple[int, datetime | None]]
) -> None:
    """Add applied counts and move last_event_time forward, per (tenant, projection)."""
    if not counts:
        return
    keys = sorted(counts)
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.tenant_projection_state AS p (tenant, name, events_applied, last_event_time)
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[])
            ON CONFLICT (tenant, name) DO UPDATE SET
                events_applied = p.events_applied + excluded.events_applied,
                last_event_time = greatest(p.last_event_time, excluded.last_event_time)""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [counts[k][0] for k in keys],
        [counts[k][1] for k in keys],
    )


async def tenant_status(conn: asyncpg.Connection, tenant: str) -> dict[str, tuple[int, Any]]:
    """One tenant's view of intake: {projection: (events applied, newest event time)} — so
    that no authority sees another's volumes."""
    rows = await conn.fetch(
        f"SELECT name, events_applied, last_event_time FROM {SCHEMA}.tenant_projection_state WHERE tenant = $1",
        tenant,
    )
    return {r["name"]: (int(r["events_applied"]), r["last_event_time"]) for r in rows}


# On a streaming replica: is it one, and how many seconds ago did it replay the newest
# transaction it has received (0 once it has replayed all it received). On a primary: 0.
REPLICA_LAG = """SELECT pg_is_in_recovery() AS in_recovery,
    CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
    END AS seconds"""


async def rebuild_owed(conn: asyncpg.Connection) -> bool:
    """The event store holds events the read models have not applied (an upgrade from the
    facts table, or a rebuild that never finished)."""
    rows = await conn.fetch(
        f"SELECT name, sum(events_applied) AS n FROM {SCHEMA}.tenant_projection_state GROUP BY name"
    )
    totals = {r["name"]: int(r["n"]) for r in rows}
    return totals.get("event_store", 0) != totals.get("read_models", 0)


async def config_applied(conn: asyncpg.Connection) -> int:
    """The newest configuration change the read models were rebuilt under (0: none)."""
    return int(await conn.fetchval(f"SELECT change_id FROM {SCHEMA}.config_applied") or 0)


async def set_config_applied(conn: asyncpg.Connection, change_id: int) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.config_applied SET change_id = greatest(change_id, $1)", change_id)


# --------------------------------------------------------------------------- maintenance


async def maintain_tables(conn: asyncpg.Connection) -> list[str]:
    """Where PostgreSQL's autovacuum is off, do its work for reporting's tables: ANALYZE a
    table once a tenth of its rows changed since the last analysis (the planner's estimates
    pick index scans over the period's rows), VACUUM one with a fifth of its rows dead
    (visibility maps for index-only scans; space reused). Autovacuum's own thresholds; a no-op
    where autovacuum runs. Returns what it did."""
    if await conn.fetchval("SHOW autovacuum") == "on":
        return []
    # Only the tables this role may VACUUM and ANALYZE (PostgreSQL 15: their owner's). Where
    # reporting runs as its own role (least privilege, shared/roles.py) the migrator owns
    # them and this is skipped: run autovacuum, or this upkeep as the migrator
    # (docs/operations.md "Roles and users").
    rows = await conn.fetch(
        """SELECT s.relname, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
           WHERE s.schemaname = $1 AND pg_has_role(c.relowner, 'USAGE') ORDER BY s.relname""",
        SCHEMA,
    )
    done = []
    # Throttled as autovacuum is (cost-based delay), so that upkeep never starves queries.
    await conn.execute("SET vacuum_cost_delay = '2ms'")
    try:
        for r in rows:
            live = int(r["n_live_tup"])
            if int(r["n_dead_tup"]) > 50 + 0.2 * live:
                await conn.execute(f"VACUUM (ANALYZE) {SCHEMA}.{r['relname']}")
                done.append(f"vacuum {r['relname']}")
            elif int(r["n_mod_since_analyze"]) > 50 + 0.1 * live:
                await conn.execute(f"ANALYZE {SCHEMA}.{r['relname']}")
                done.append(f"analyze {r['relname']}")
    finally:
        await conn.execute("RESET vacuum_cost_delay")
    return done


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
