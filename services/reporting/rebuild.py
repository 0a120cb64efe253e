"""Rebuild projections from the event store while live intake goes on.

1. Replay the event store, in position order and in chunks, into a fresh `facts_rebuild`
   table through the same `fact_from_event` the live consumer uses (so a fixed rule or a
   new fact field applies to all history). Live intake keeps writing the current table.
2. Catch up and swap in one short transaction: take the intake lock (live batches wait a
   moment), apply the events that arrived since step 1, swap the tables by renaming, reset
   the projection counts from the new table and bump the generation so that query caches
   reload. Readers see the old projections until the commit and the new ones after it.

With `projection=NAME` only that projection's fact kinds are replayed; the other kinds are
copied across unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.reporting import projections, store
from services.reporting.consumer import INTAKE_LOCK
from services.reporting.facts import fact_from_event
from shared.events import CloudEvent

S = store.SCHEMA
Progress = Callable[[int, int], None]  # (events done, events in all)


@dataclass(frozen=True)
class RebuildResult:
    events: int
    facts: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _fact_rows(rows: list[asyncpg.Record], kinds: set[str] | None) -> list[tuple[int, str, str, str]]:
    out = []
    for r in rows:
        envelope = CloudEvent.model_validate_json(r["envelope"])
        fact = fact_from_event(envelope, envelope.typed_data())
        if fact is None:
            continue
        kind, payload = projections.encode(fact)
        if kinds is not None and kind not in kinds:
            continue
        out.append((r["position"], r["tenant"], kind, store.dumps(payload)))
    return out


async def _replay(
    conn: asyncpg.Connection,
    table: str,
    after: int,
    upto: int | None,
    kinds: set[str] | None,
    progress: Progress | None,
    done: int,
    total: int,
    chunk: int,
) -> tuple[int, int, int]:
    """Replay events with after < position (<= upto) into `table`; returns (last, events, facts)."""
    last, events, facts = after, 0, 0
    while True:
        rows = await conn.fetch(
            f"""SELECT position, tenant, envelope::text AS envelope FROM {S}.event_store
                WHERE position > $1 AND ($2::bigint IS NULL OR position <= $2)
                ORDER BY position LIMIT $3""",
            last,
            upto,
            chunk,
        )
        if not rows:
            return last, events, facts
        fact_rows = _fact_rows(rows, kinds)
        if fact_rows:
            await conn.copy_records_to_table(
                table,
                schema_name=S,
                columns=["position", "tenant", "kind", "payload"],
                records=[(p, t, k, payload) for p, t, k, payload in fact_rows],
            )
        last = rows[-1]["position"]
        events += len(rows)
        facts += len(fact_rows)
        if progress:
            progress(done + events, total)


async def rebuild(
    dsn: str, *, projection: str | None = None, progress: Progress | None = None, chunk: int = 5000
) -> RebuildResult:
    kinds: set[str] | None = None
    if projection not in (None, "facts", "all"):
        if projection not in projections.PROJECTIONS:
            raise ValueError(f"unknown projection {projection!r}; one of {['facts', *projections.PROJECTIONS]}")
        kinds = {k for k, p in projections.PROJECTION_OF_KIND.items() if p == projection}
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        total = int(await conn.fetchval(f"SELECT count(*) FROM {S}.event_store"))
        await conn.execute(f"DROP TABLE IF EXISTS {S}.facts_rebuild")
        await conn.execute(f"CREATE TABLE {S}.facts_rebuild (LIKE {S}.facts INCLUDING ALL)")
        if kinds is not None:
            await conn.execute(
                f"INSERT INTO {S}.facts_rebuild SELECT * FROM {S}.facts WHERE NOT (kind = ANY($1::text[]))",
                sorted(kinds),
            )
        last, events, facts = await _replay(conn, "facts_rebuild", 0, None, kinds, progress, 0, total, chunk)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", INTAKE_LOCK)
            if kinds is not None:  # facts of the untouched kinds that arrived meanwhile
                await conn.execute(
                    f"""INSERT INTO {S}.facts_rebuild SELECT * FROM {S}.facts
                        WHERE NOT (kind = ANY($1::text[])) AND position > $2
                        ON CONFLICT (position) DO NOTHING""",
                    sorted(kinds),
                    last,
                )
            _, more_events, more_facts = await _replay(
                conn, "facts_rebuild", last, None, kinds, progress, events, total, chunk
            )
            events += more_events
            facts += more_facts
            await conn.execute(f"ALTER TABLE {S}.facts RENAME TO facts_old")
            await conn.execute(f"ALTER TABLE {S}.facts_rebuild RENAME TO facts")
            await conn.execute(f"DROP TABLE {S}.facts_old")
            await _reset_counts(conn)
    finally:
        await conn.close()
    return RebuildResult(events, facts, time.perf_counter() - started)


async def _reset_counts(conn: asyncpg.Connection) -> None:
    """Projection counts from the rebuilt facts (event_store and followups rows untouched)."""
    rows = await conn.fetch(f"SELECT kind, count(*) AS n FROM {S}.facts GROUP BY kind")
    counts: dict[str, int] = {}
    for r in rows:
        name = projections.PROJECTION_OF_KIND[r["kind"]]
        counts[name] = counts.get(name, 0) + int(r["n"])
    counts["facts"] = sum(int(r["n"]) for r in rows)
    for name in ("facts", *projections.PROJECTIONS):
        await conn.execute(
            f"""INSERT INTO {S}.projection_state (name, events_applied) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET events_applied = excluded.events_applied""",
            name,
            counts.get(name, 0),
        )
    await conn.execute(f"UPDATE {S}.projection_state SET generation = generation + 1 WHERE name = 'facts'")


def run_rebuild_cli(projection: str | None = None) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from shared.settings import get_settings

    settings = get_settings()
    with Progress(
        TextColumn("rebuilding projections"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("rebuild", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        result = asyncio.run(rebuild(settings.database_url, projection=projection, progress=progress))
    print(
        f"rebuilt from {result.events} events ({result.facts} facts) in {result.seconds:.1f}s: "
        f"{result.events_per_second:,.0f} events/s"
    )
    return 0
