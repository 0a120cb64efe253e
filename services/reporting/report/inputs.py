"""Load what the quarterly report is made from: one snapshot of the tenant's facts and
follow-ups (`ReportingQueries.cache`, the same one the KPI API reads), the managers'
commentary for the period, and the words of the quarter's "you said, we did" items, which
the facts do not keep (they are read from the event store, by event id)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import asyncpg

from services.reporting import kpis, store
from services.reporting.handlers import ReportingQueries
from shared.calendar import Period, WorkingCalendar
from shared.settings import Settings

from .content import ReportInputs


async def period_commentary(
    conn: asyncpg.Connection, tenant: str, period: Period
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The period's commentary: {kpi: text} on the whole authority, and {(kpi, filters): text}
    on one service area or team."""
    rows = await conn.fetch(
        f"SELECT kpi, filters, commentary FROM {store.SCHEMA}.kpi_commentary WHERE tenant = $1 AND period = $2",
        tenant,
        period.label,
    )
    whole = {r["kpi"]: r["commentary"] for r in rows if not r["filters"]}
    sliced = {(r["kpi"], r["filters"]): r["commentary"] for r in rows if r["filters"]}
    return whole, sliced


async def you_said_we_did_words(
    conn: asyncpg.Connection, tenant: str, keys: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """{fact key ("<source> <id>"): (you_said, we_did)} for the YouSaidWeDidPublished events."""
    wanted = sorted({(source, event_id) for source, _, event_id in (k.partition(" ") for k in keys)})
    if not wanted:
        return {}
    # By (source, id): the event store's unique key, so an index lookup per item.
    rows = await conn.fetch(
        f"""SELECT e.source, e.id, e.envelope -> 'data' AS data
            FROM unnest($2::text[], $3::text[]) AS k(source, id)
            JOIN {store.SCHEMA}.event_store e ON e.source = k.source AND e.id = k.id
            WHERE e.tenant = $1 AND e.type = 'YouSaidWeDidPublished'""",
        tenant,
        [source for source, _ in wanted],
        [event_id for _, event_id in wanted],
    )
    out = {}
    for r in rows:
        data: Any = r["data"]
        if isinstance(data, str):
            data = json.loads(data)
        out[f"{r['source']} {r['id']}"] = (str(data.get("you_said", "")), str(data.get("we_did", "")))
    return out


async def load_inputs(queries: ReportingQueries, tenant: str, period: Period) -> ReportInputs:
    async with queries.pool.acquire() as conn:
        facts, followups = await queries.cache.followups(conn, tenant)
        commentary, commentary_on_slices = await period_commentary(conn, tenant, period)
        items = [y.key for y in facts.you_said_we_did if period.contains(y.published_on)]
        words = await you_said_we_did_words(conn, tenant, items)
    return ReportInputs(
        tenant=tenant,
        period=period,
        today=queries.clock(),
        facts=facts,
        followups=followups,
        calendar=queries.calendar,
        threshold=queries.small_number_threshold,
        timescales=queries.timescales,
        targets=queries.targets,
        commentary=commentary,
        commentary_on_slices=commentary_on_slices,
        you_said_we_did=words,
    )


def queries_from_settings(pool: asyncpg.Pool, settings: Settings) -> ReportingQueries:
    """ReportingQueries configured as the reporting service configures its own (app.py), for
    building a report straight from the database without the service running."""
    targets = {
        kpi: kpis.Target(
            target=float(spec["target"]),
            amber_tolerance=float(spec.get("amber_tolerance", 0.0)),
            higher_is_better=bool(spec.get("higher_is_better", True)),
        )
        for kpi, spec in settings.kpi_targets().items()
    }
    return ReportingQueries(
        pool,
        WorkingCalendar(closures=settings.calendar_closures),
        targets=targets,
        small_number_threshold=settings.small_number_threshold,
    )
