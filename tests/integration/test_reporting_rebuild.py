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


def _workforce_events(seed: int) -> list[Any]:
    """A random workforce history as the workforce service would publish it: joiners,
    changes, leavers, caseloads, vacancies, staff survey responses (pseudonymised ids)."""
    import random
    from datetime import UTC, datetime, timedelta

    from shared import events as ev
    from tests.support.samples import pseudonym

    rng = random.Random(seed)
    tenant, source = get_settings().tenant, "/qaloop/workforce"
    out: list[Any] = []

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, rng.randint(7, 18), tzinfo=UTC)

    def emit(data: Any, when: datetime, seq: int) -> None:
        out.append(ev.new_event(data, source=source, tenant=tenant, sequence=seq, time=when))

    for w in range(30):
        worker, day, seq = pseudonym(f"worker-{seed}-{w}"), date(2021, 1, 1) + timedelta(days=rng.randint(0, 600)), 0
        for _ in range(rng.randint(1, 3)):
            team = rng.choice(["x", "y", "z"])
            seq += 1
            emit(
                ev.StaffJoined(
                    worker_id=worker,
                    team=team,
                    service_area="childrens_social_care",
                    role=rng.choice(["social_worker", "senior", "manager", "other"]),
                    contract=rng.choice(["employed", "agency"]),
                    fte=rng.choice([1.0, 0.5, 0.8]),
                    case_holding=rng.random() < 0.8,
                    joined_at=at(day),
                ),
                at(day),
                seq,
            )
            day += timedelta(days=rng.randint(10, 200))
            seq += 1
            emit(ev.CaseloadRecorded(worker_id=worker, cases=rng.randint(0, 25), as_of=day), at(day), seq)
            if rng.random() < 0.4:
                seq += 1
                emit(ev.StaffLeft(worker_id=worker, left_at=at(day), reason="workload"), at(day), seq)
    for i, team in enumerate(["x", "y", "z"] * 3):
        day = date(2022, 1, 1) + timedelta(days=90 * i)
        emit(
            ev.VacancyRecorded(team=team, service_area="childrens_social_care", vacant_fte=1.5, as_of=day),
            at(day),
            i + 1,
        )
    for i in range(10):
        day = date(2022, 11, 1) + timedelta(days=i)
        answers = [ev.StaffSurveyAnswer(question_id="manageable_caseload", value=rng.randint(1, 5))]
        response = ev.StaffSurveyResponseReceived(
            response_id=f"hc-{seed}-{i}",
            survey_id="health-check",
            team="x",
            service_area="childrens_social_care",
            received_at=at(day),
            answers=answers,
        )
        emit(response, at(day), 1)
    rng.shuffle(out)
    return out


async def test_workforce_read_models_rebuild_to_what_intake_built(servers):
    """Staff timelines (`d_until`), ended records on leaves, workforce-review follow-ups and
    the workforce KPIs: the same from a rebuild as from live intake of shuffled events."""
    get_settings.cache_clear()
    from services.reporting.app import build
    from tests.integration.test_reporting_intake import fresh_reporting_state

    service, _ = build(clock=lambda: date(2023, 6, 30), followup_interval=3600.0)
    await fresh_reporting_state(service, servers)
    await service.start()
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        exchange = await declare_topology(await connection.channel())
        events = _workforce_events(3)
        for event in events:
            await exchange.publish(
                aio_pika.Message(event.to_json(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                event.routing_key(),
                mandatory=True,
            )

        async def applied() -> int:
            async with service.pool.acquire() as conn:
                return int(await conn.fetchval("SELECT count(*) FROM reporting.event_store"))

        await eventually(applied, lambda n: n >= len(events), timeout=30, what="workforce events applied")
        tenant = get_settings().tenant
        periods = [parse_period(p) for p in ("2021-22", "2022-23-Q1", "2022-23-Q3")]
        live = await _snapshot(servers.database_url)
        assert live["staff_joined"] and any(r for r in live["staff_left"])
        figures_live = [await service.queries.values(tenant, p, Filters(), detail=True) for p in periods]
        await rebuild(servers.database_url)
        rebuilt = await _snapshot(servers.database_url)
        assert not _differences(live, rebuilt), "\n".join(_differences(live, rebuilt))
        assert [await service.queries.values(tenant, p, Filters(), detail=True) for p in periods] == figures_live
    finally:
        await connection.close()
        await service.stop()
