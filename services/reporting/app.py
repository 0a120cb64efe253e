"""Reporting wiring: schema and outbox (for FollowUp* events), the batch consumer of
`reporting.events`, the learning-loop scheduler, and the HTTP API on port 8000."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from fastapi import FastAPI

from services.reporting import api, ops, rebuild, store
from services.reporting.benchmarks.api import IMPORT_PATH as BENCHMARKS_IMPORT
from services.reporting.benchmarks.api import router as benchmarks_router
from services.reporting.consumer import Projector
from services.reporting.dashboard import router as dashboard_router
from services.reporting.handlers import Clock, ReportingQueries, clock_for, london_today
from services.reporting.learning import FollowUpDeriver, TransitionPublisher
from services.reporting.readmodels import PLANNING, PROJECTIONS, ReadModels
from services.reporting.report import router as report_router
from shared import metrics
from shared.bus import REPORTING_QUEUE, connect
from shared.db import create_pool
from shared.inbox import BatchConsumer
from shared.service import StrandService
from shared.settings import Settings, get_settings
from shared.tenant_config.api import router as config_router
from shared.trust import IntakeChecks

log = logging.getLogger(__name__)
# The advisory lock one reporting replica holds while it rebuilds after a configuration change.
CONFIG_REBUILD_LOCK = int.from_bytes(b"qaloop-config-rebuild"[:8], "big", signed=True)


@dataclass
class ReportingService(StrandService):
    """A StrandService (schema, pool, outbox relay, health) plus intake and the loop."""

    name: str = "reporting"
    migrations_dir: Path = Path(__file__).parent / "migrations"
    server_settings: dict[str, str] = field(default_factory=lambda: dict(PLANNING))
    multi_tenant: bool = True  # answers for the token's tenant (its access log too)
    writes_config: bool = True  # serves /v1/config (shared/tenant_config)
    clock: Clock = london_today
    # How often the clock publishes follow-up transitions (Opened/Due/Overdue/Closed) when
    # no batch wakes it: a scan of the few rows with something to publish.
    followup_interval: float = 1.0
    # How often reporting checks its tables' statistics and dead rows (store.maintain_tables:
    # only where PostgreSQL's autovacuum is off).
    maintenance_interval: float = 60.0
    consume: bool = True
    consumer: BatchConsumer | None = None
    queries: ReportingQueries | None = None
    transitions: TransitionPublisher | None = None
    read_pool: asyncpg.Pool | None = None  # QALOOP_DATABASE_READ_URL: the read replica
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _new_events: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, *, relay: bool = True) -> None:
        await super().start(relay=relay)  # ... and reads the authorities' configuration (self.config)
        assert self.pool is not None
        settings = self.settings
        readmodels = ReadModels(self.config)  # each tenant's calendar, timescales, follow-up rules
        async with self.pool.acquire() as conn:
            owed = await store.rebuild_owed(conn)
        if owed:
            log.warning("the read models have not applied every stored event: rebuilding them from the event store")
            await self._rebuild()
        await self.rebuild_for_config()
        if settings.database_read_url:
            self.read_pool = await create_pool(settings.database_read_url, server_settings=self.server_settings)
        self.queries = ReportingQueries(
            self.pool,
            config=self.config,
            read_pool=self.read_pool,
            clock=self.clock,
            authority_names=authority_names(settings),
        )
        self.transitions = TransitionPublisher(self.pool, self.clock)
        if self.consume:
            projector = Projector(readmodels, FollowUpDeriver(readmodels))
            self.consumer = BatchConsumer(
                amqp_url=self.amqp_url,
                pool=self.pool,
                queue=REPORTING_QUEUE,
                inbox=projector,
                handler=projector.handle,
                max_batch=settings.batch_max,
                prefetch=settings.prefetch,
                max_message_bytes=settings.max_message_bytes,
                delivery_limit=settings.delivery_limit,
                on_applied=lambda _: self._new_events.set(),
                # who may publish what, and pseudonyms only: per message (shared.trust)
                validate=IntakeChecks.from_settings(settings),
            )
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="reporting-consumer"))
        self._tasks.append(asyncio.create_task(self._loop(), name="reporting-followups"))
        self._tasks.append(asyncio.create_task(self._maintain(), name="reporting-maintenance"))
        self._tasks.append(asyncio.create_task(self._follow_config(), name="reporting-config"))

    async def _rebuild(self) -> None:
        """Rebuild the read models (as the schema's owner: DDL) under the configuration held
        now, and grant the service's role the swapped-in tables."""
        change = self.config.latest_rebuild_change
        await rebuild.rebuild(self.migrate_url, config=self.config, config_change=change)
        await self.regrant()

    async def rebuild_for_config(self) -> bool:
        """Rebuild when an authority changed a setting that moves projected figures (calendar
        closures, complaint timescales, follow-up rules) since the read models were built;
        True when it did. Live intake goes on meanwhile (`rebuild.rebuild`). Of several
        replicas, the one holding the advisory lock rebuilds; the others find it done."""
        assert self.pool is not None
        await self.config.refresh()
        async with self.pool.acquire() as conn:
            if self.config.latest_rebuild_change <= await store.config_applied(conn):
                return False
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", CONFIG_REBUILD_LOCK):
                return False  # another replica is rebuilding
            try:
                if self.config.latest_rebuild_change <= await store.config_applied(conn):
                    return False
                log.warning("a configuration change moves projected figures: rebuilding the read models under it")
                await self._rebuild()
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", CONFIG_REBUILD_LOCK)
        return True

    async def _follow_config(self) -> None:
        while True:
            await asyncio.sleep(self.settings.config_refresh_seconds)
            try:
                await self.rebuild_for_config()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rebuilding after a configuration change failed; will try again")

    async def _loop(self) -> None:
        """Publish follow-up transitions after new events (at most every
        `followup_interval` s) and at least once a minute, so that Due/Overdue follow the
        clock. The follow-ups themselves are kept by intake, batch by batch."""
        assert self.transitions is not None
        while True:
            try:
                await self.transitions.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("publishing follow-up transitions failed; will try again")
            self._new_events.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_events.wait(), 60)
            await asyncio.sleep(self.followup_interval)

    async def _maintain(self) -> None:
        assert self.pool is not None
        while True:
            await asyncio.sleep(self.maintenance_interval)
            try:
                async with self.pool.acquire() as conn:
                    done = await store.maintain_tables(conn)
                if done:
                    log.info("table maintenance (autovacuum is off): %s", ", ".join(done))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("table maintenance failed; will try again")

    async def stop(self) -> None:
        if self.consumer:
            self.consumer.stop()  # finish the batch in hand
        for task in self._tasks:
            if task.get_name() == "reporting-consumer":
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self.read_pool is not None:
            await self.read_pool.close()
            self.read_pool = None
        await super().stop()

    async def readiness(self) -> dict[str, str]:
        """Broker, database and migrations (StrandService), and the consumer consuming."""
        checks = await super().readiness()
        if self.consumer is not None:
            checks["consumer"] = "ok" if self.consumer.ready.is_set() else f"not consuming {REPORTING_QUEUE}"
        return checks

    async def sample_metrics(self) -> None:
        """Outbox backlog (StrandService), plus the consumer's connection, the depth of
        reporting.events and its DLQ, the age of the last applied event and the follow-ups
        overdue per tenant."""
        if self.consumer is not None:
            metrics.CONSUMER_CONNECTED.labels(self.consumer.queue).set(1 if self.consumer.ready.is_set() else 0)
        await super().sample_metrics()
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                _, age = await ops.last_applied(conn)
                metrics.followups_overdue(await ops.overdue_followups(conn, self.clock()))
            if age is not None:
                metrics.PROJECTION_LAST_APPLIED_AGE.set(age)
        depth, dead = await self.queue_depths()
        if depth is not None:
            metrics.QUEUE_DEPTH.labels(REPORTING_QUEUE).set(depth)
        if dead is not None:
            metrics.QUEUE_DEPTH.labels(f"{REPORTING_QUEUE}.dlq").set(dead)

    async def status(self, tenant: str | None = None) -> dict[str, Any]:
        """Intake and projection status for one tenant (the caller's): events applied and the
        newest event time per projection. Queue depths are the service's own."""
        assert self.pool is not None
        tenant = tenant or self.settings.tenant
        async with self.pool.acquire() as conn:
            state = await store.tenant_status(conn, tenant)
            followups = int(
                await conn.fetchval(f"SELECT count(*) FROM {store.SCHEMA}.followups WHERE tenant = $1", tenant)
            )
        applied, last_time = state.get("event_store", (0, None))
        queue_depth, dead_letters = await self.queue_depths()
        return {
            "events_applied": applied,
            "last_event_time": _iso(last_time),
            "queue_depth": queue_depth,
            "dead_letters": dead_letters,
            "consumer": None
            if self.consumer is None
            else {
                "connected": self.consumer.ready.is_set(),
                "batches": self.consumer.stats.batches,
                "duplicates_skipped": self.consumer.stats.duplicates,
                "dead_lettered": self.consumer.stats.dead_lettered,
                "last_batch_size": self.consumer.stats.last_batch_size,
            },
            "projections": [
                {
                    "name": name,
                    "events_applied": state.get(name, (0, None))[0],
                    "last_event_time": _iso(state.get(name, (0, None))[1]),
                }
                for name in ("read_models", *PROJECTIONS)
            ]
            + [{"name": "followups", "events_applied": followups, "last_event_time": None}],
            "read_replica": await self.replica_status(tenant, applied),
        }

    async def replica_status(self, tenant: str, applied: int) -> dict[str, Any] | None:
        """How stale the read replica is (None without one): the events of this tenant it
        has not applied yet, and how long ago it replayed the primary's newest transaction it
        has (0 when it has replayed all it has received; a replica cut off from its primary
        shows a growing lag). `reachable` false when it cannot be asked."""
        if self.read_pool is None:
            return None
        try:
            async with self.read_pool.acquire() as conn:
                replica_applied = (await store.tenant_status(conn, tenant)).get("event_store", (0, None))[0]
                lag = await conn.fetchrow(store.REPLICA_LAG)
        except (OSError, asyncpg.PostgresError):
            return {"reachable": False, "events_behind": None, "replay_lag_seconds": None}
        assert lag is not None
        return {
            "reachable": True,
            "in_recovery": lag["in_recovery"],
            "events_behind": max(0, applied - replica_applied),
            "replay_lag_seconds": float(lag["seconds"]),
        }

    async def queue_depths(self) -> tuple[int | None, int | None]:
        """Messages waiting in reporting.events and its dead-letter queue (passive declare)."""
        try:
            connection = await asyncio.wait_for(connect(self.amqp_url), 5)
        except Exception:
            return None, None
        try:
            channel = await connection.channel()
            depth = (await channel.declare_queue(REPORTING_QUEUE, passive=True)).declaration_result.message_count
            dead = (
                await channel.declare_queue(f"{REPORTING_QUEUE}.dlq", passive=True)
            ).declaration_result.message_count
            return depth, dead
        except aio_pika.exceptions.AMQPError:
            return None, None
        finally:
            await connection.close()

    def build_app(self) -> FastAPI:
        app = self.create_app(
            [api.router, report_router, ops.router, dashboard_router, benchmarks_router, config_router],
            title="qaloop reporting",
            description="Live KPI projections and the learning loop's follow-ups (CONTRACT.md §2).",
            body_limits={BENCHMARKS_IMPORT: self.settings.max_import_bytes},
        )
        app.state.status = self.status

        @app.middleware("http")
        async def attach_queries(request, call_next):
            request.app.state.queries = self.queries
            return await call_next(request)

        return app


def authority_names(settings: Settings) -> dict[str, str]:
    """{QALOOP_TENANT: QALOOP_AUTHORITY_NAME} where a name is configured."""
    return {settings.tenant: settings.authority_name} if settings.authority_name else {}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def build(**kwargs: Any) -> tuple[ReportingService, FastAPI]:
    """The composition root: the clock is the configured one (`QALOOP_AS_OF`) unless a caller
    (a test) passes its own."""
    if "clock" not in kwargs:
        kwargs["clock"] = clock_for(kwargs.get("settings", get_settings()).as_of)
    service = ReportingService(**kwargs)
    return service, service.build_app()


service, app = build()
