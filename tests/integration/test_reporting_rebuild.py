"""Rebuild equals live, and live intake goes on while it runs.

Every read-model table (`readmodels.ALL_TABLES`: one per fact kind, the feedback answers,
the KPI members and the follow-ups, published flags included), the per-tenant projection
counts, the KPI values and the follow-up listing are compared, row for row, between what
live intake built and what `rebuild` builds from the event store."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import aio_pika
import asyncpg
import pytest

from services.reporting.kpis import Filters
from services.reporting.readmodels import ALL_TABLES
from services.reporting.rebuild import rebuild
from shared.bus import declare_topology
from shared.calendar import parse_period
from shared.settings import get_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

STATE = "tenant_projection_state"


async def _snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table (and the projection counts), by primary key —
    (tenant, key) for the fact tables."""
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for table in (*ALL_TABLES, STATE):
            key = await conn.fetchval(
                """SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
                   FROM pg_index i
                   CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE i.indrelid = $1::regclass AND i.indisprimary""",
                f"reporting.{table}",
            )
            assert key, f"reporting.{table} has no primary key"
            rows = await conn.fetch(f"SELECT * FROM reporting.{table} ORDER BY {key}")
            out[table] = [tuple(r.items()) for r in rows]
        return out
    finally:
        await conn.close()


def _differences(live: dict[str, list[tuple]], rebuilt: dict[str, list[tuple]]) -> list[str]:
    out = []
    for table in live:
        a, b = live[table], rebuilt[table]
        if a != b:
            only_live = [r for r in a if r not in b][:2]
            only_rebuilt = [r for r in b if r not in a][:2]
            out.append(
                f"{table}: {len(a)} rows live, {len(b)} rebuilt; live only {only_live}; rebuilt only {only_rebuilt}"
            )
    return out


async def test_rebuild_equals_live_while_intake_continues(servers):
    from services.simulation.stream import contract_stream

    get_settings.cache_clear()
    from services.reporting.app import build

    service, _ = build(clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    from tests.integration.test_reporting_intake import fresh_reporting_state

    await fresh_reporting_state(service, servers)
    await service.start()
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        events = contract_stream(600, seed=7)
        first, second = events[:400], events[400:]

        async def publish(batch):
            for event in batch:
                await exchange.publish(
                    aio_pika.Message(event.to_json(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    event.routing_key(),
                    mandatory=True,
                )

        async def applied() -> int:
            async with service.pool.acquire() as conn:
                return int(await conn.fetchval("SELECT count(*) FROM reporting.event_store"))

        async def published_all() -> int:
            """Follow-ups whose due transitions the clock has not published yet."""
            assert service.transitions is not None
            await service.transitions.run_once()
            async with service.pool.acquire() as conn:
                return int(
                    await conn.fetchval(
                        """SELECT count(*) FROM reporting.followups
                           WHERE (NOT opened_published AND opened_on <= $1)
                              OR (closed_on IS NOT NULL AND NOT closed_published)
                              OR (closed_on IS NULL AND NOT overdue_published AND due_date <= $1)""",
                        date(2023, 6, 30),
                    )
                )

        period, filters = parse_period("2022-23"), Filters()
        tenant = get_settings().tenant

        async def figures() -> tuple[Any, Any]:
            values = await service.queries.values(tenant, period, filters, detail=True)
            followups = await service.queries.followups(tenant)
            return values, followups

        # 1. A quiet rebuild of the first 400 events gives exactly the read models live intake built.
        await publish(first)
        await eventually(applied, lambda n: n >= 400, timeout=30, what="first 400 applied")
        await eventually(published_all, lambda n: n == 0, timeout=30, what="transitions published")
        live = await _snapshot(servers.database_url)
        figures_live = await figures()
        assert sum(len(live[t]) for t in ALL_TABLES if t != "followups") > 400 and live["followups"]
        quiet = await rebuild(servers.database_url)
        assert quiet.events == 400
        rebuilt = await _snapshot(servers.database_url)
        assert not _differences(live, rebuilt), "\n".join(_differences(live, rebuilt))
        assert await figures() == figures_live

        # 2. Rebuild while the rest of the stream is arriving: live intake keeps writing the
        # current tables, the swap catches up on what arrived meanwhile.
        done: list[int] = []
        result, _ = await asyncio.gather(
            rebuild(servers.database_url, progress=lambda d, t: done.append(d), chunk=50),
            publish(second),
        )
        assert done and result.events >= 400
        await eventually(applied, lambda n: n >= 600, timeout=30, what="all 600 applied")
        await eventually(published_all, lambda n: n == 0, timeout=30, what="transitions published")
        mixed = await _snapshot(servers.database_url)
        figures_mixed = await figures()
        async with service.pool.acquire() as conn:
            outbox = await conn.fetch(
                """SELECT event_type, convert_from(body, 'UTF8')::jsonb ->> 'subject' AS subject, count(*) AS n
                   FROM reporting.outbox GROUP BY 1, 2 HAVING count(*) > 1"""
            )
        assert not outbox, f"a follow-up transition was published twice: {[tuple(r) for r in outbox]}"

        # 3. Rebuilding again from the same history (quietly) gives the same tables — no row
        # lost or doubled during the swap, the same derived columns, the same published
        # flags — and the same figures and follow-ups.
        again = await rebuild(servers.database_url)
        assert again.events == 600
        final = await _snapshot(servers.database_url)
        assert not _differences(mixed, final), "\n".join(_differences(mixed, final))
        assert await figures() == figures_mixed
        values_before, _ = figures_live
        values_after, _ = figures_mixed
        assert {v.kpi for v in values_after} >= {v.kpi for v in values_before}
    finally:
        await connection.close()
        await service.stop()
