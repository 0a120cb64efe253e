"""Reporting use cases: KPI figures for a slice, series, follow-up listing, and the
learning-loop sync that keeps the follow-ups table and publishes each transition once.

Figures are computed from the tenant's facts by the pure rules in `kpis.py` and
`followups.py`. The facts are cached in memory per tenant and topped up incrementally from
the facts table (positions only grow: intake batches commit one at a time under an
advisory lock), and the cache is dropped when a rebuild swaps in new projections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from services.reporting import kpis, projections, store
from services.reporting.facts import Facts
from services.reporting.followups import FollowUp, derive
from shared import outbox
from shared.calendar import LONDON, Period, WorkingCalendar
from shared.events import (
    EventData,
    FollowUpClosed,
    FollowUpDue,
    FollowUpOpened,
    FollowUpOverdue,
    new_event,
    routing_key_for,
)
from shared.logging import current_traceparent

log = logging.getLogger(__name__)

Clock = Callable[[], date]


def london_today() -> date:
    return datetime.now(LONDON).date()


@dataclass
class _TenantFacts:
    generation: int
    last_position: int
    items: list[Any]
    facts: Facts
    followups: list[FollowUp] | None = None


@dataclass
class FactsCache:
    calendar: WorkingCalendar
    _tenants: dict[str, _TenantFacts] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, conn: asyncpg.Connection, tenant: str) -> _TenantFacts:
        async with self._lock:
            return await self._get_locked(conn, tenant)

    async def _get_locked(self, conn: asyncpg.Connection, tenant: str) -> _TenantFacts:
        generation = await store.facts_generation(conn)
        entry = self._tenants.get(tenant)
        if entry is None or entry.generation != generation:
            items, last = await store.load_facts(conn, tenant)
            entry = _TenantFacts(generation, last, items, projections.collect(items))
            self._tenants[tenant] = entry
            return entry
        more, last = await store.load_facts(conn, tenant, after=entry.last_position)
        if more:
            entry.items.extend(more)
            for fact in more:
                projections.add(entry.facts, fact)
            entry.last_position = last
            entry.followups = None
        return entry

    async def followups(self, conn: asyncpg.Connection, tenant: str) -> tuple[Facts, list[FollowUp]]:
        """A consistent snapshot of the tenant's facts and the follow-ups derived from them."""
        async with self._lock:
            entry = await self._get_locked(conn, tenant)
            position = entry.last_position
            snapshot = Facts(**{name: list(items) for name, items in vars(entry.facts).items()})
            derived = entry.followups
        if derived is None:
            # CPU-bound over every fact of the tenant: off the event loop, so that intake
            # batches keep flowing while it runs. Kept only if no newer facts arrived meanwhile.
            derived = await asyncio.to_thread(derive, snapshot, calendar=self.calendar)
            if entry.last_position == position:
                entry.followups = derived
        return snapshot, derived

    def clear(self) -> None:
        self._tenants.clear()


@dataclass
class ReportingQueries:
    pool: asyncpg.Pool
    calendar: WorkingCalendar
    clock: Clock = london_today
    targets: dict[str, kpis.Target] = field(default_factory=dict)
    small_number_threshold: int = 5
    timescales: kpis.ComplaintTimescales = field(default_factory=kpis.ComplaintTimescales)
    cache: FactsCache = field(init=False)

    def __post_init__(self) -> None:
        self.cache = FactsCache(self.calendar)

    async def values(
        self,
        tenant: str,
        period: Period,
        filters: kpis.Filters,
        *,
        detail: bool,
        kpi_ids: Iterable[str] | None = None,
    ) -> list[kpis.KpiValue]:
        async with self.pool.acquire() as conn:
            facts, followups = await self.cache.followups(conn, tenant)
        raw = await asyncio.to_thread(
            kpis.compute,
            facts,
            period,
            filters,
            calendar=self.calendar,
            followups=followups,
            today=self.clock(),
            timescales=self.timescales,
            kpi_ids=kpi_ids,
        )
        return kpis.apply_publication_rules(
            raw, detail=detail, threshold=self.small_number_threshold, targets=self.targets
        )

    async def catalogue(self, tenant: str) -> list[kpis.KpiDefinition]:
        async with self.pool.acquire() as conn:
            entry = await self.cache.get(conn, tenant)
        questions = sorted({a.question_id for r in entry.facts.feedback for a in r.answers})
        categories = sorted({c.category for c in entry.facts.complaints_received})
        return kpis.catalogue(question_ids=questions, categories=categories)

    async def followups(self, tenant: str) -> list[FollowUp]:
        async with self.pool.acquire() as conn:
            _, followups = await self.cache.followups(conn, tenant)
        return followups


# --------------------------------------------------------------------------- learning loop


SOURCE = "/qaloop/reporting"
FOLLOWUP_LOCK = 0x716C_6675  # "qlfu": the follow-up sync's advisory-lock namespace


@dataclass
class FollowUpSync:
    """Keeps `reporting.followups` equal to what the facts call for, and publishes each
    transition once through the outbox: Opened (when its opening date has come), Due (on its
    due date, still open), Overdue (the day after, still open), Closed (when closed)."""

    pool: asyncpg.Pool
    queries: ReportingQueries
    tenant_of_settings: str
    published: int = 0

    async def run_once(self) -> int:
        async with self.pool.acquire() as conn:
            tenants = set(await store.tenants(conn)) | {self.tenant_of_settings}
        total = 0
        for tenant in sorted(tenants):
            total += await self.sync_tenant(tenant)
        self.published += total
        return total

    async def sync_tenant(self, tenant: str) -> int:
        today = self.queries.clock()
        followups = await self.queries.followups(tenant)
        async with self.pool.acquire() as conn, conn.transaction():
            # One sync per tenant at a time (replicas, a stray worker): the second waits and
            # then sees what the first published, so no transition goes out twice.
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", FOLLOWUP_LOCK, tenant)
            existing = await store.load_followup_rows(conn, tenant)
            wanted = {f.followup_id: f for f in followups}
            changed = [f for f in followups if _differs(existing.get(f.followup_id), f)]
            await store.upsert_followups(conn, tenant, changed)
            await store.delete_followups(conn, tenant, [i for i in existing if i not in wanted])
            events: list[tuple[EventData, str, str]] = []  # (data, flag, followup id)
            for f in followups:
                row = existing.get(f.followup_id)
                published = {k: bool(row[k]) if row else False for k in _FLAGS}
                events.extend(_transitions(f, published, today))
            for flag in _FLAGS:
                ids = [fid for _, fl, fid in events if fl == flag]
                await store.mark_published(conn, tenant, flag, ids)
            await outbox.append(
                conn,
                store.SCHEMA,
                [
                    (
                        new_event(
                            data,
                            source=SOURCE,
                            tenant=tenant,
                            subject=f"followup:{fid}",
                            traceparent=current_traceparent(),
                        ),
                        routing_key_for(data.event_type, "reporting"),
                    )
                    for data, _, fid in events
                ],
            )
        return len(events)


_FLAGS = ("opened_published", "due_published", "overdue_published", "closed_published")


def _differs(row: asyncpg.Record | None, f: FollowUp) -> bool:
    if row is None:
        return True
    return any(
        row[name] != getattr(f, name)
        for name in (
            "rule",
            "origin",
            "origin_id",
            "team",
            "service_area",
            "opened_on",
            "due_date",
            "closed_on",
            "closed_by_event_id",
            "improved",
        )
    )


def _transitions(f: FollowUp, published: dict[str, bool], today: date) -> list[tuple[EventData, str, str]]:
    out: list[tuple[EventData, str, str]] = []
    if f.opened_on > today:
        return out
    fid = f.followup_id
    if not published["opened_published"]:
        out.append(
            (
                FollowUpOpened(
                    followup_id=fid,
                    rule=f.rule,
                    origin=f.origin,
                    origin_id=f.origin_id,
                    team=f.team,
                    service_area=f.service_area,
                    due_date=f.due_date,
                ),
                "opened_published",
                fid,
            )
        )
    open_now = f.closed_on is None or f.closed_on > today
    if open_now and today >= f.due_date and not published["due_published"]:
        out.append((FollowUpDue(followup_id=fid, due_date=f.due_date), "due_published", fid))
    if open_now and today > f.due_date and not published["overdue_published"]:
        out.append(
            (
                FollowUpOverdue(followup_id=fid, due_date=f.due_date, days_overdue=(today - f.due_date).days),
                "overdue_published",
                fid,
            )
        )
    if f.closed_on is not None and f.closed_on <= today and not published["closed_published"]:
        out.append(
            (
                FollowUpClosed(
                    followup_id=fid,
                    closed_at=datetime(f.closed_on.year, f.closed_on.month, f.closed_on.day, tzinfo=LONDON),
                    closed_by_event_id=f.closed_by_event_id or "unknown",
                    on_time=bool(f.on_time),
                ),
                "closed_published",
                fid,
            )
        )
    return out
