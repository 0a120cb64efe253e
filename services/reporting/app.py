"""Reporting wiring: schema and outbox (for FollowUp* events), the batch consumer of
`reporting.events`, the learning-loop scheduler, and the HTTP API on port 8000."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from fastapi import FastAPI

from services.reporting import api, kpis, ops, store
from services.reporting.consumer import Projector
from services.reporting.dashboard import router as dashboard_router
from services.reporting.handlers import Clock, FollowUpSync, ReportingQueries, london_today
from services.reporting.projections import PROJECTION_OF_KIND, PROJECTIONS
from services.reporting.report import router as report_router
from shared import metrics
from shared.bus import REPORTING_QUEUE, connect
from shared.calendar import WorkingCalendar
from shared.inbox import BatchConsumer
from shared.service import StrandService

log = logging.getLogger(__name__)


@dataclass
class ReportingService(StrandService):
    """A StrandService (schema, pool, outbox relay, health) plus intake and the loop."""

    name: str = "reporting"
    migrations_dir: Path = Path(__file__).parent / "migrations"
    clock: Clock = london_today
    followup_interval: float = 5.0
    # "inline": follow-up sync on this process's loop (tests, with an injected clock);
    # "process": in a worker process of its own (production: see worker.py for why).
    followup_mode: str = "inline"
    consume: bool = True
    consumer: BatchConsumer | None = None
    queries: ReportingQueries | None = None
    sync: FollowUpSync | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _new_events: asyncio.Event = field(default_factory=asyncio.Event)

    _worker: Any = None

    async def start(self, *, relay: bool = True) -> None:
        # The outbox carries only FollowUp* events: its relay runs where the sync runs.
        await super().start(relay=relay and self.followup_mode == "inline")
        assert self.pool is not None
        settings = self.settings
        calendar = WorkingCalendar(closures=settings.calendar_closures)
        targets = {
            kpi: kpis.Target(
                target=float(spec["target"]),
                amber_tolerance=float(spec.get("amber_tolerance", 0.0)),
                higher_is_better=bool(spec.get("higher_is_better", True)),
            )
            for kpi, spec in settings.kpi_targets().items()
        }
        self.queries = ReportingQueries(
            self.pool,
            calendar,
            clock=self.clock,
            targets=targets,
            small_number_threshold=settings.small_number_threshold,
        )
        self.sync = FollowUpSync(self.pool, self.queries, settings.tenant)
        if self.consume:
            projector = Projector()
            self.consumer = BatchConsumer(
                amqp_url=settings.amqp_url,
                pool=self.pool,
                queue=REPORTING_QUEUE,
                inbox=projector,
                handler=projector.handle,
                max_batch=settings.batch_max,
                prefetch=settings.prefetch,
                max_message_bytes=settings.max_message_bytes,
                delivery_limit=settings.delivery_limit,
                on_applied=lambda _: self._new_events.set(),
            )
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="reporting-consumer"))
        if self.followup_mode == "inline":
            self._tasks.append(asyncio.create_task(self._loop(), name="reporting-followups"))
        elif self.followup_mode == "process":
            import multiprocessing

            from services.reporting.worker import worker_main

            today = None if self.clock is london_today else self.clock()
            self._worker = multiprocessing.get_context("spawn").Process(
                target=worker_main,
                args=(self.followup_interval, today, os.getpid()),
                name="reporting-followups",
                daemon=True,
            )
            self._worker.start()

    async def _loop(self) -> None:
        """Sync follow-ups after new events (at most every `followup_interval` s) and at
        least once a minute, so that Due/Overdue follow the clock."""
        assert self.sync is not None
        while True:
            try:
                await self.sync.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("follow-up sync failed; will try again")
            self._new_events.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_events.wait(), 60)
            await asyncio.sleep(self.followup_interval)

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
        if self._worker is not None and self._worker.is_alive():
            self._worker.terminate()  # SIGTERM: the worker finishes its sync and stops its relay
            await asyncio.to_thread(self._worker.join, 15)
            if self._worker.is_alive():
                self._worker.kill()
        await super().stop()

    async def readiness(self) -> dict[str, str]:
        """Broker, database and migrations (StrandService), and the consumer consuming."""
        checks = await super().readiness()
        if self.consumer is not None:
            checks["consumer"] = "ok" if self.consumer.ready.is_set() else f"not consuming {REPORTING_QUEUE}"
        return checks

    async def sample_metrics(self) -> None:
        """Outbox backlog (StrandService), plus the consumer's connection, the depth of
        reporting.events and its DLQ, and the age of the last applied event."""
        if self.consumer is not None:
            metrics.CONSUMER_CONNECTED.labels(self.consumer.queue).set(1 if self.consumer.ready.is_set() else 0)
        await super().sample_metrics()
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                _, age = await ops.last_applied(conn)
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
            applied, last_time, by_kind = await store.tenant_status(conn, tenant)
            followups = int(
                await conn.fetchval(f"SELECT count(*) FROM {store.SCHEMA}.followups WHERE tenant = $1", tenant)
            )
        projections_: dict[str, list[Any]] = {name: [0, None] for name in ("facts", *PROJECTIONS)}
        for kind, (n, when) in by_kind.items():
            for name in ("facts", PROJECTION_OF_KIND[kind]):
                entry = projections_[name]
                entry[0] += n
                if when is not None and (entry[1] is None or when > entry[1]):
                    entry[1] = when
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
                {"name": name, "events_applied": n, "last_event_time": _iso(when)}
                for name, (n, when) in projections_.items()
            ]
            + [{"name": "followups", "events_applied": followups, "last_event_time": None}],
        }

    async def queue_depths(self) -> tuple[int | None, int | None]:
        """Messages waiting in reporting.events and its dead-letter queue (passive declare)."""
        try:
            connection = await asyncio.wait_for(connect(self.settings.amqp_url), 5)
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
            [api.router, report_router, ops.router, dashboard_router],
            title="qaloop reporting",
            description="Live KPI projections and the learning loop's follow-ups (CONTRACT.md §2).",
        )
        app.state.status = self.status

        @app.middleware("http")
        async def attach_queries(request, call_next):
            request.app.state.queries = self.queries
            return await call_next(request)

        return app


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def build(**kwargs: Any) -> tuple[ReportingService, FastAPI]:
    service = ReportingService(**kwargs)
    return service, service.build_app()


service, app = build(followup_mode="process")
