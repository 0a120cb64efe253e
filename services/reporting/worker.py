"""The learning-loop worker: follow-up sync and its outbox relay, in a process of its own.

Deriving follow-ups is pure-Python work over every fact of a tenant (about 2 s at 100,000
facts on these machines). Run on the intake process's event loop — even in a thread, since
it holds the GIL — it stalled intake and pushed publish→visible p99 past a second in
`bench/`. So `qaloop run reporting` starts this worker as a separate process; it reads the
facts the intake commits (polling the newest position, a cheap indexed query), syncs at most
every `interval` seconds — and never more often than three times the last sync's duration —
and at least once a minute so that Due/Overdue follow the clock. Tests run the same sync
inline (`ReportingService(followup_mode="inline")`) with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import date

from services.reporting import store
from services.reporting.handlers import FollowUpSync, ReportingQueries, london_today
from shared import outbox
from shared.calendar import WorkingCalendar
from shared.db import create_pool
from shared.settings import get_settings

log = logging.getLogger(__name__)


async def run_learning_loop(*, interval: float, today: date | None = None, stop: asyncio.Event | None = None) -> None:
    settings = get_settings()
    stop = stop or asyncio.Event()
    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    relay = outbox.OutboxRelay(settings.database_url, settings.amqp_url, store.SCHEMA)
    relay_task = asyncio.create_task(relay.run(), name="reporting-followups-relay")
    queries = ReportingQueries(
        pool,
        WorkingCalendar(closures=settings.calendar_closures),
        clock=(lambda: today) if today is not None else london_today,
        small_number_threshold=settings.small_number_threshold,
    )
    sync = FollowUpSync(pool, queries, settings.tenant)
    seen: tuple[int, int] | None = None
    last_sync = 0.0
    pause = interval
    try:
        while not stop.is_set():
            try:
                async with pool.acquire() as conn:
                    mark = (
                        int(await conn.fetchval(f"SELECT coalesce(max(position), 0) FROM {store.SCHEMA}.facts")),
                        await store.facts_generation(conn),
                    )
                if mark != seen or time.monotonic() - last_sync > 60:
                    started = time.monotonic()
                    published = await sync.run_once()
                    took = time.monotonic() - started
                    seen, last_sync = mark, time.monotonic()
                    pause = max(interval, 3 * took)
                    log.info("follow-up sync: %d transitions published in %.2fs", published, took)
            except Exception:
                log.exception("follow-up sync failed; will try again")
                pause = max(interval, 5.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(relay_task, 10)
        await pool.close()


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent dies, even by SIGKILL (no orphaned worker
    left publishing beside the next one). Elsewhere the loop's parent check covers it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(interval: float, today: date | None, parent_pid: int | None = None) -> None:
    """Process entry point (multiprocessing, spawn): stops cleanly on SIGTERM or SIGINT, and
    when the reporting process that started it is gone."""
    import os

    from shared import logging as qlog

    _die_with_parent()
    if parent_pid is not None and os.getppid() != parent_pid:
        return  # the parent died before the death signal was armed
    # Background work: on a busy node the intake process gets the CPU first.
    with contextlib.suppress(OSError):
        os.nice(10)

    settings = get_settings()
    qlog.configure(settings.log_level, settings.log_json)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def watch_parent() -> None:
            while parent_pid is not None and not stop.is_set():
                if os.getppid() != parent_pid:
                    log.warning("reporting (pid %d) is gone; the learning-loop worker stops", parent_pid)
                    stop.set()
                await asyncio.sleep(1)

        watcher = asyncio.create_task(watch_parent())
        await run_learning_loop(interval=interval, today=today, stop=stop)
        watcher.cancel()

    asyncio.run(main())
