"""Rebuild the read models from the event store while live intake goes on.

1. **Copy**: make every read-model table afresh in a schema of its own (`reporting_rebuild`)
   and stream the event store into it in position order: each stored event's `data` is
   parsed straight from its JSON into its model (the envelope's attributes are columns of
   the store; events were validated when stored, so the envelope is not validated again, and
   events no read model reads are not parsed at all) and turned into its fact by the same
   builders live intake uses; the rows go in with COPY.
2. **Derive**: per tenant, every aggregate once — audits, complaints, actions, children,
   then the follow-ups of every origin — in chunks, through the same derivations live
   intake runs for the aggregates a batch touches (`readmodels.py`, `learning.py`).
3. **Catch up and swap** in one short transaction: take the intake lock (live batches wait
   a moment), apply the events stored since step 1 through the live path
   (`consumer.apply_events`), carry over which follow-up transitions were already
   published (so none goes out twice), move the new tables into `reporting` and the old ones
   out, and reset the per-tenant projection counts. Readers see the old read models until
   the commit and the new ones after it.

Memory stays bounded: events stream in chunks, aggregates are derived a chunk at a time.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.reporting import store
from services.reporting.consumer import apply_events
from services.reporting.facts import FACT_BUILDERS, fact_from_event
from services.reporting.learning import FLAGS, FollowUpDeriver
from services.reporting.readmodels import (
    ALL_TABLES,
    ANSWER_COLUMNS,
    ANSWER_TABLES,
    PLANNING,
    PROJECTIONS,
    TABLES,
    ReadModels,
    Touched,
    answer_rows,
    family_members,
)
from shared.db import create_pool
from shared.events import CloudEvent, model_for
from shared.inbox import Received
from shared.settings import Settings
from shared.tenant_config.cache import ConfigCache, FixedConfig, TenantConfigs
from shared.tenant_config.defaults import defaults_for

S = store.SCHEMA
NEW = f"{S}_rebuild"
OLD = f"{S}_replaced"
Progress = Callable[[int, int], None]  # (events done, events in all)
_PARSED_TYPES = sorted(cls.event_type for cls in FACT_BUILDERS)


@dataclass(frozen=True)
class RebuildResult:
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _fact(row: asyncpg.Record) -> Any:
    """The fact of one stored event, from the store's columns and its data's JSON."""
    envelope = CloudEvent.model_construct(
        specversion="1.0",
        id=row["id"],
        source=row["source"],
        type=row["type"],
        time=row["time"],
        tenant=row["tenant"],
        sequence=row["sequence"],
        data={},
    )
    return fact_from_event(envelope, model_for(row["type"]).model_validate_json(row["data"]))


async def _copy(
    conn: asyncpg.Connection, readmodels: ReadModels, progress: Progress | None, total: int, chunk: int
) -> tuple[int, int]:
    """Stream the event store into the new tables with COPY; returns (last position, events)."""
    last = int(await conn.fetchval(f"SELECT coalesce(max(position), 0) FROM {S}.event_store"))
    done = after = 0
    while after < last:
        upto = after + chunk
        rows = await conn.fetch(
            f"""SELECT tenant, source, id, type, time, sequence, (envelope -> 'data')::text AS data
                FROM {S}.event_store
                WHERE position > $1 AND position <= $2 AND type = ANY($3::text[])""",
            after,
            upto,
            _PARSED_TYPES,
        )
        await _copy_facts(conn, readmodels, [(r["tenant"], _fact(r)) for r in rows])
        done += int(
            await conn.fetchval(
                f"SELECT count(*) FROM {S}.event_store WHERE position > $1 AND position <= $2", after, upto
            )
        )
        after = upto
        if progress:
            progress(done, total)
    return last, done


async def _copy_facts(conn: asyncpg.Connection, readmodels: ReadModels, items: list[tuple[str, Any]]) -> None:
    by_cls: dict[type, list[tuple[Any, ...]]] = {}
    answers: dict[str, list[tuple[Any, ...]]] = {}
    members: set[tuple[str, str, str]] = set()
    for tenant, fact in items:
        spec = readmodels.spec(type(fact))
        by_cls.setdefault(type(fact), []).append(spec.row(tenant, fact, readmodels.config.calendar(tenant)))
        if type(fact) in ANSWER_TABLES:
            answers.setdefault(ANSWER_TABLES[type(fact)], []).extend(answer_rows(tenant, fact))
        members.update(family_members(tenant, fact))
    for cls, rows in by_cls.items():
        spec = readmodels.spec(cls)
        await conn.copy_records_to_table(spec.table, schema_name=NEW, columns=list(spec.columns), records=rows)
    for table, records in answers.items():
        await conn.copy_records_to_table(table, schema_name=NEW, columns=list(ANSWER_COLUMNS), records=records)
    if members:
        await conn.execute(
            f"""INSERT INTO {NEW}.kpi_member (tenant, family, member)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING""",
            *[list(c) for c in zip(*sorted(members), strict=True)],
        )


# What to derive, per kind of aggregate: the ids (one statement per tenant) and how they
# fill a `Touched`.
_AGGREGATES: tuple[tuple[str, Callable[[Touched, list[Any]], None]], ...] = (
    (
        "SELECT DISTINCT audit_id FROM {s}.audit_graded WHERE tenant = $1 "
        "UNION SELECT DISTINCT audit_id FROM {s}.audit_moderated WHERE tenant = $1 "
        "UNION SELECT DISTINCT audit_id FROM {s}.audit_scheduled WHERE tenant = $1",
        lambda t, ids: t.audits.update(ids),
    ),
    (
        "SELECT DISTINCT complaint_id FROM {s}.complaint_received WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.complaint_closed WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.complaint_escalated WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.complaint_extended WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.complaint_statement_agreed WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.complaint_panel_held WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.ombudsman_referral WHERE tenant = $1 "
        "UNION SELECT complaint_id FROM {s}.ombudsman_decision WHERE tenant = $1",
        lambda t, ids: t.complaints.update(ids),
    ),
    (
        "SELECT DISTINCT action_id FROM {s}.action_raised WHERE tenant = $1 "
        "UNION SELECT action_id FROM {s}.action_completed WHERE tenant = $1",
        lambda t, ids: t.actions.update(ids),
    ),
    ("SELECT DISTINCT child_ref FROM {s}.referral WHERE tenant = $1", lambda t, ids: t.children.update(ids)),
    (
        "SELECT DISTINCT concern_id FROM {s}.concern_raised WHERE tenant = $1 "
        "UNION SELECT concern_id FROM {s}.concern_resolved WHERE tenant = $1",
        lambda t, ids: t.concerns.update(ids),
    ),
    ("SELECT DISTINCT response_id FROM {s}.feedback WHERE tenant = $1", lambda t, ids: t.responses.update(ids)),
    (
        "SELECT DISTINCT finding_id FROM {s}.inspection_finding WHERE tenant = $1",
        lambda t, ids: t.findings.update(ids),
    ),
    (
        "SELECT DISTINCT worker_id FROM {s}.staff_joined WHERE tenant = $1 "
        "UNION SELECT worker_id FROM {s}.staff_left WHERE tenant = $1",
        lambda t, ids: t.workers.update(ids),
    ),
    (
        # workforce-review: each team once, from the day of its first record (readmodels.py)
        "SELECT team, min(joined_on) FROM {s}.staff_joined WHERE tenant = $1 GROUP BY team",
        lambda t, rows: t.workforce_days.update((team, None, day) for team, day in rows),
    ),
)
_FEEDBACK_QUARTERS = """SELECT DISTINCT service_area, question_id, date_trunc('quarter', received_on)::date AS q
    FROM {s}.feedback_answer WHERE tenant = $1 AND positive IS NOT NULL"""


async def _derive_all(conn: asyncpg.Connection, readmodels: ReadModels, deriver: FollowUpDeriver, chunk: int) -> None:
    """Every aggregate of every tenant once: derived columns, then follow-ups (calendar
    quarters are financial quarters, so `date_trunc('quarter')` names each one)."""
    tenants = [r["tenant"] for r in await conn.fetch(f"SELECT DISTINCT tenant FROM {S}.event_store")]
    for tenant in tenants:
        for sql, fill in _AGGREGATES:
            ids = [r[0] if len(r) == 1 else tuple(r) for r in await conn.fetch(sql.format(s=NEW), tenant)]
            for part in _chunks(ids, chunk):
                await _derive(conn, readmodels, deriver, tenant, fill, part)
        keys = [(r[0], r[1], r[2]) for r in await conn.fetch(_FEEDBACK_QUARTERS.format(s=NEW), tenant)]
        for part in _chunks(keys, chunk):
            await _derive(conn, readmodels, deriver, tenant, lambda t, ks: t.feedback_quarters.update(ks), part)


async def _derive(
    conn: asyncpg.Connection,
    readmodels: ReadModels,
    deriver: FollowUpDeriver,
    tenant: str,
    fill: Callable[[Touched, list[Any]], None],
    ids: list[Any],
) -> None:
    touched = Touched()
    fill(touched, ids)
    async with conn.transaction():
        loader = readmodels.loader(conn, tenant)
        await readmodels.derive_touched(loader, touched)
        await deriver.derive_touched(loader, touched)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def _catch_up(
    conn: asyncpg.Connection, readmodels: ReadModels, deriver: FollowUpDeriver, after: int, chunk: int
) -> int:
    """Apply the events stored after the copy, through the live path; returns how many."""
    events = 0
    while True:
        rows = await conn.fetch(
            f"""SELECT position, envelope::text AS envelope FROM {S}.event_store
                WHERE position > $1 ORDER BY position LIMIT $2""",
            after,
            chunk,
        )
        if not rows:
            return events
        received = []
        for r in rows:
            envelope = CloudEvent.model_validate_json(r["envelope"])
            received.append(Received(envelope=envelope, data=envelope.typed_data(), body=b"", routing_key=""))
        await apply_events(conn, readmodels, deriver, received, count=False)
        after = rows[-1]["position"]
        events += len(rows)


async def rebuild(
    dsn: str,
    *,
    config: TenantConfigs | None = None,
    config_change: int = 0,
    progress: Progress | None = None,
    chunk: int = 20_000,
) -> RebuildResult:
    """Every read model again from the event store, under each authority's configuration
    (`config`); `config_change` (the newest configuration change `config` holds) is recorded
    with the swap as the one the read models are now built under."""
    started = time.perf_counter()
    readmodels = ReadModels(config or FixedConfig(), schema=NEW)
    deriver = FollowUpDeriver(readmodels)
    # A plain connection: jsonb travels as JSON text both ways, as COPY wants it.
    conn = await asyncpg.connect(dsn, server_settings=PLANNING)
    try:
        total = int(await conn.fetchval(f"SELECT count(*) FROM {S}.event_store"))
        await conn.execute(f"DROP SCHEMA IF EXISTS {NEW} CASCADE; CREATE SCHEMA {NEW}")
        for table in ALL_TABLES:
            await conn.execute(f"CREATE TABLE {NEW}.{table} (LIKE {S}.{table} INCLUDING ALL)")
        last, events = await _copy(conn, readmodels, progress, total, chunk)
        for table in ALL_TABLES:  # planner statistics and visibility maps (index-only scans)
            await conn.execute(f"VACUUM (ANALYZE) {NEW}.{table}")
        await _derive_all(conn, readmodels, deriver, chunk=2000)
        async with conn.transaction():
            await store.lock_read_models(conn)
            events += await _catch_up(conn, readmodels, deriver, last, chunk)
            await _swap(conn)
            await store.set_config_applied(conn, config_change)
    finally:
        await conn.close()
    return RebuildResult(events, time.perf_counter() - started)


async def _swap(conn: asyncpg.Connection) -> None:
    """Carry over what was published: onto the follow-ups that still hold, and, for those that
    no longer do, into the retracted table (with those retracted before)."""
    flags = ", ".join(FLAGS)
    for old in (f"{S}.followups", f"{S}.followups_retracted"):
        await conn.execute(
            f"""UPDATE {NEW}.followups n SET {", ".join(f"{f} = o.{f}" for f in FLAGS)}
                FROM {old} o WHERE o.tenant = n.tenant AND o.followup_id = n.followup_id"""
        )
        await conn.execute(
            f"""INSERT INTO {NEW}.followups_retracted (tenant, followup_id, {flags})
                SELECT o.tenant, o.followup_id, {flags} FROM {old} o
                WHERE NOT EXISTS (SELECT 1 FROM {NEW}.followups n
                                  WHERE n.tenant = o.tenant AND n.followup_id = o.followup_id)
                ON CONFLICT (tenant, followup_id) DO NOTHING"""
        )
    await conn.execute(f"DROP SCHEMA IF EXISTS {OLD} CASCADE; CREATE SCHEMA {OLD}")
    for table in ALL_TABLES:
        await conn.execute(f"ALTER TABLE {S}.{table} SET SCHEMA {OLD}")
        await conn.execute(f"ALTER TABLE {NEW}.{table} SET SCHEMA {S}")
    await conn.execute(f"DROP SCHEMA {OLD} CASCADE; DROP SCHEMA {NEW} CASCADE")
    await _reset_counts(conn)


async def _reset_counts(conn: asyncpg.Connection) -> None:
    """Per tenant: events stored, events the read models applied (all of them), and rows
    per projection with the newest event time, from the tables themselves."""
    await conn.execute(f"DELETE FROM {S}.tenant_projection_state")
    await conn.execute(
        f"""INSERT INTO {S}.tenant_projection_state (tenant, name, events_applied, last_event_time)
            SELECT tenant, n.name, count(*), max(time) FROM {S}.event_store
            CROSS JOIN (VALUES ('event_store'), ('read_models')) AS n(name)
            GROUP BY tenant, n.name"""
    )
    for projection in PROJECTIONS:
        tables = [table for table, p in TABLES.values() if p == projection]
        union = " UNION ALL ".join(
            f"SELECT x.tenant, e.time FROM {S}.{t} x JOIN {S}.event_store e ON e.source || ' ' || e.id = x.key"
            for t in tables
        )
        await conn.execute(
            f"""INSERT INTO {S}.tenant_projection_state (tenant, name, events_applied, last_event_time)
                SELECT tenant, $1, count(*), max(time) FROM ({union}) AS u GROUP BY tenant""",
            projection,
        )


async def _rebuild_as_configured(settings: Settings, progress: Progress) -> RebuildResult:
    """A rebuild under each authority's configuration as stored now (shared/tenant_config)."""
    config = ConfigCache(functools.partial(defaults_for, settings))
    pool = await create_pool(settings.database_url)
    try:
        await config.bind(pool)
    finally:
        await pool.close()
    return await rebuild(
        settings.database_url, config=config, config_change=config.latest_rebuild_change, progress=progress
    )


def run_rebuild_cli() -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from shared.settings import get_settings

    settings = get_settings()
    with Progress(
        TextColumn("rebuilding read models"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("rebuild", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        result = asyncio.run(_rebuild_as_configured(settings, progress))
    print(f"rebuilt from {result.events} events in {result.seconds:.1f}s: {result.events_per_second:,.0f} events/s")
    return 0
