#!/usr/bin/env python
"""Reporting throughput benchmark (issue 3): one run against the local RabbitMQ and PostgreSQL.

    .venv/bin/python bench/reporting_throughput.py --events 100000

Measures, in its own RabbitMQ vhost and its own throwaway databases (removed at the end,
also on error or Ctrl-C):

(a) bare broker    N persistent, confirmed messages (the same bodies as (b)) through
                   `qa.events` into a quorum queue, consumed with manual multi-acks and no
                   other work, published from 1, 2 and 4 publisher processes in turn
                   (`--bare-publishers`): one publisher waiting for its confirms may be what
                   limits the run, not the broker. bare_eps = the best of them, N / (first
                   publish -> last ack); each is printed.
(b) reporting      the same N contract events published to `qa.events` with their routing
                   keys (from as many publisher processes as the best bare run) and consumed
                   by the real ReportingService (BatchConsumer on `reporting.events`: event
                   store, read models, follow-ups of the origins touched, projection counts,
                   in one transaction + one multi-ack per batch; the follow-up clock and the
                   outbox relay running in the same process). reporting_eps = N / (first
                   publish -> last batch committed, seen through the consumer's `on_applied`
                   callback); ratio = reporting_eps / bare_eps.
(c) latency        fresh events published at a steady rate (default 1,000/s, in 10 ms
                   batches) for `--latency-seconds`, the learning loop running; publish ->
                   visible (the batch commit that applied the event) per event id: p50 / p99.
(d) rebuild        `services.reporting.rebuild.rebuild(dsn)`: every read model rebuilt from
                   the event store (N + the latency events) into a shadow schema and swapped.
(e) naive          a plain FastStream per-message consumer doing the same work without
                   batching: per message, one transaction that takes the intake lock,
                   appends the event to the event store and applies that one event through
                   `consumer.apply_events` (read models, derived columns, follow-ups,
                   counts); ack per message; on its own quorum queue and its own database.

Targets (issue 3): reporting_eps >= 0.85 x bare_eps, >= 10 x naive_eps, p99 <= 20 ms at
1,000 events/s, rebuild >= 100,000 events/s; the JSON line says which were met.

In (a), (b), (c) and (e) the consumer is started first and the publisher then runs in a
separate process (in production the producers are other processes too), so the publisher's
CPU does not come out of the consumer's event loop. Publishing is always
`shared.bus.Publisher.publish_many` (persistent, mandatory, confirmed) in pipelined windows.
Timestamps use CLOCK_MONOTONIC, which is system-wide on Linux, so publisher and consumer
times compare across processes.

Progress goes to stderr; stdout gets a table and, as its last line, one JSON object.

`--followup-interval 3600` keeps the follow-up clock (`ReportingService.followup_interval`:
it publishes FollowUp* transitions, in the consumer's process) out of (b) and (c), to see
the intake on its own; `--publishers K` fixes the publisher processes of (b) and (e) (by
default, as many as the best bare run used). The table's "after publishing ended" figure
is the consumer's own rate on the backlog left when the publishers finished.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.bus import EXCHANGE, OutgoingMessage, Publisher, QueueSpec, connect  # noqa: E402

Item = tuple[str, bytes, str]  # (routing key, body, message id)

BARE = QueueSpec("bench.bare", ("bench.#",))
NAIVE = QueueSpec("bench.naive", ("naive.#",))
TEST_DAY = date(2023, 6, 30)  # the stream covers financial year 2022-23


class BenchError(RuntimeError):
    pass


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- publisher process


def _publisher_main(
    pipe: Any, amqp_url: str, items: list[Item], window: int, rate: float | None, interval: float
) -> None:
    """Child process entry point: publish, then send one result dict down `pipe`."""
    try:
        result = asyncio.run(_publish(amqp_url, items, window, rate, interval))
    except BaseException as exc:  # reported to the parent, which raises it
        result = {"error": f"{type(exc).__name__}: {exc}"}
    pipe.send(result)
    pipe.close()


async def _publish(
    amqp_url: str, items: list[Item], window: int, rate: float | None, interval: float
) -> dict[str, Any]:
    connection = await connect(amqp_url)
    try:
        publisher = Publisher(connection)
        messages = [OutgoingMessage(routing_key=k, body=b, message_id=i) for k, b, i in items]

        async def send(batch: list[OutgoingMessage]) -> None:
            confirmed = await publisher.publish_many(batch)
            if confirmed != len(batch):
                raise RuntimeError(f"only {confirmed} of {len(batch)} messages were confirmed")

        if rate is None:  # as fast as confirms allow: one window of `window` in flight
            t_first = time.monotonic()
            for start in range(0, len(messages), window):
                await send(messages[start : start + window])
            return {"t_first": t_first, "t_last": time.monotonic(), "published": len(messages)}

        # Paced: `per_batch` messages every `interval` s on an absolute schedule; confirms
        # are awaited in the background so a slow confirm does not shift the schedule.
        per_batch = max(1, round(rate * interval))
        batches = [messages[i : i + per_batch] for i in range(0, len(messages), per_batch)]
        times: list[float] = []
        pending: list[asyncio.Future[None]] = []
        t_first = time.monotonic()
        for j, batch in enumerate(batches):
            delay = t_first + j * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            times.append(time.monotonic())
            if j == 0:
                await send(batch)  # opens the channel once, before any concurrent publish
            else:
                pending.append(asyncio.ensure_future(send(batch)))
        t_sent = time.monotonic()
        await asyncio.gather(*pending)
        return {
            "t_first": t_first,
            "t_last": time.monotonic(),
            "t_sent": t_sent,
            "published": len(messages),
            "per_batch": per_batch,
            "batch_times": times,
        }
    finally:
        await connection.close()


class PublisherProcess:
    """A publisher in its own process; `await result()` gives its timings or raises."""

    def __init__(
        self, amqp_url: str, items: list[Item], *, window: int = 1000, rate: float | None = None, interval: float = 0.01
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_publisher_main,
            args=(child, amqp_url, items, window, rate, interval),
            name="bench-publisher",
            daemon=True,
        )
        self.process.start()
        child.close()
        self._future = asyncio.get_running_loop().run_in_executor(None, self._receive)

    def _receive(self) -> dict[str, Any]:
        try:
            return dict(self._pipe.recv())
        except EOFError:
            self.process.join(5)
            return {"error": f"publisher process died (exit code {self.process.exitcode})"}

    @property
    def finished(self) -> bool:
        return self._future.done()

    def failed(self) -> str | None:
        if self._future.done() and not self._future.cancelled() and self._future.result().get("error"):
            return str(self._future.result()["error"])
        return None

    async def result(self, timeout: float) -> dict[str, Any]:
        try:
            result = await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            raise BenchError(f"the publisher did not finish within {timeout:.0f}s") from None
        if result.get("error"):
            raise BenchError(f"the publisher failed: {result['error']}")
        self.process.join(10)
        return result

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


@dataclass(frozen=True)
class PublishOptions:
    processes: int = 1  # publisher processes, sharing the messages round-robin
    window: int = 1000  # messages per pipelined publish_many


class Publishers:
    """Publisher processes for one run: unpaced (`options`) or one paced at `rate`."""

    def __init__(
        self,
        amqp_url: str,
        items: list[Item],
        options: PublishOptions = PublishOptions(),
        *,
        rate: float | None = None,
        interval: float = 0.01,
    ) -> None:
        count = options.processes if rate is None else 1
        self.processes: list[PublisherProcess] = []
        try:
            for k in range(count):
                self.processes.append(
                    PublisherProcess(amqp_url, items[k::count], window=options.window, rate=rate, interval=interval)
                )
        except BaseException:
            self.kill()
            raise

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self.processes)

    def failed(self) -> str | None:
        return next((e for e in (p.failed() for p in self.processes) if e), None)

    async def result(self, timeout: float) -> dict[str, Any]:
        results = [await p.result(timeout) for p in self.processes]
        if len(results) == 1:
            return results[0]
        return {
            "t_first": min(r["t_first"] for r in results),
            "t_last": max(r["t_last"] for r in results),
            "published": sum(r["published"] for r in results),
        }

    def kill(self) -> None:
        for p in self.processes:
            p.kill()


# --------------------------------------------------------------------------- waiting with progress


@dataclass
class Counter:
    """Counts consumed/applied events; `seen` (if set) records when each id became visible."""

    target: int = 0
    count: int = 0
    last: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (time, count so far) per batch
    seen: dict[str, float] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def reset(self, target: int, *, track_ids: bool = False) -> None:
        self.target, self.count, self.last = target, 0, 0.0
        self.batch_sizes, self.timeline = [], []
        self.seen = {} if track_ids else None
        self.done = asyncio.Event()

    def add(self, n: int, ids: Sequence[str] = ()) -> None:
        now = time.monotonic()
        self.count += n
        self.last = now
        self.batch_sizes.append(n)
        self.timeline.append((now, self.count))
        if self.seen is not None:
            for event_id in ids:
                self.seen[event_id] = now
        if self.count >= self.target:
            self.done.set()

    def drain_eps(self, publish_end: float) -> float | None:
        """Events/s applied after the publisher finished (the backlog drained by the consumer
        alone), if at least 5% of the events were left then."""
        left = self.target - next((c for t, c in reversed(self.timeline) if t <= publish_end), 0)
        if left < max(1, self.target // 20) or self.last <= publish_end:
            return None
        return left / (self.last - publish_end)


async def wait_until_done(
    label: str,
    counter: Counter,
    publisher: Publishers,
    *,
    stall: float,
    diagnose: Callable[[], Any] | None = None,
    watch: asyncio.Task[Any] | None = None,
) -> None:
    """Wait for `counter.done`, printing progress; raise if nothing moves for `stall` seconds,
    the publisher fails or the `watch`ed consumer task ends first."""
    started = time.monotonic()
    last_count, last_change = -1, time.monotonic()
    while not counter.done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counter.done.wait(), 2.0)
        if counter.done.is_set():
            break
        error = publisher.failed()
        if error:
            raise BenchError(f"{label}: the publisher failed: {error}")
        if watch is not None and watch.done():
            exc = None if watch.cancelled() else watch.exception()
            raise BenchError(f"{label}: the consumer stopped after {counter.count:,} events: {exc!r}")
        now = time.monotonic()
        if counter.count != last_count:
            last_count, last_change = counter.count, now
        elapsed = now - started
        progress(
            f"{label}: {counter.count:,}/{counter.target:,} ({counter.count / elapsed:,.0f}/s so far)"
            f"{'' if publisher.finished else ', publishing'}"
        )
        if now - last_change > stall:
            detail = ""
            if diagnose is not None:
                with contextlib.suppress(Exception):
                    detail = f"; {await diagnose()}"
            raise BenchError(
                f"{label}: only {counter.count:,} of {counter.target:,} events arrived and nothing moved "
                f"for {stall:.0f}s (publisher {'finished' if publisher.finished else 'still running'}){detail}"
            )


class LoopLag:
    """Measures how late a 10 ms sleep wakes up on this event loop: how long something held
    the loop (the consumer, the follow-up sync and the outbox relay share it)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            self.lags.append(time.monotonic() - started - 0.01)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self) -> dict[str, float]:
        lags = sorted(self.lags) or [0.0]
        return {"loop_lag_p99_ms": percentile(lags, 99) * 1000, "loop_lag_max_ms": lags[-1] * 1000}


async def queue_depth(amqp_url: str, name: str) -> int | None:
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count
    finally:
        await connection.close()


# --------------------------------------------------------------------------- (a) bare broker


async def bare_broker(
    amqp_url: str,
    items: list[Item],
    *,
    prefetch: int,
    max_batch: int,
    stall: float,
    delivery_limit: int,
    publish: PublishOptions,
) -> dict[str, Any]:
    from aio_pika.abc import AbstractIncomingMessage

    from shared.bus import declare_topology

    n = len(items)
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, delivery_limit=delivery_limit, queues=(BARE,))
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.get_queue(BARE.name, ensure=False)
        buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        counter = Counter()
        counter.reset(n)

        async def consume() -> None:  # the BatchConsumer's loop, minus parsing and the database
            while counter.count < n:
                batch = [await buffer.get()]
                while len(batch) < max_batch and not buffer.empty():
                    batch.append(buffer.get_nowait())
                await batch[-1].ack(multiple=True)
                counter.add(len(batch))

        tag = await queue.consume(buffer.put)
        consumer = asyncio.create_task(consume())
        publisher = Publishers(amqp_url, [(f"bench.{k}", b, i) for k, b, i in items], publish)
        try:
            await wait_until_done(
                "(a) bare broker",
                counter,
                publisher,
                stall=stall,
                diagnose=lambda: _depth_note(amqp_url, BARE.name),
                watch=consumer,
            )
            published = await publisher.result(timeout=stall)
        finally:
            publisher.kill()
            consumer.cancel()
            with contextlib.suppress(BaseException):
                await consumer
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        seconds = counter.last - published["t_first"]
        return {
            "events": n,
            "seconds": seconds,
            "eps": n / seconds,
            "publish_eps": n / (published["t_last"] - published["t_first"]),
            "drain_eps": counter.drain_eps(published["t_last"]),
            "batch_mean": sum(counter.batch_sizes) / len(counter.batch_sizes),
        }
    finally:
        await connection.close()


async def _depth_note(amqp_url: str, queue: str) -> str:
    return f"{queue} holds {await queue_depth(amqp_url, queue)} messages"


# --------------------------------------------------------------------------- (b)-(c) reporting


@dataclass
class ClockTimes:
    runs: list[float] = field(default_factory=list)


class Reporting:
    """The real ReportingService, with its consumer's `on_applied` chained to a Counter."""

    def __init__(self, followup_interval: float | None) -> None:
        from services.reporting.app import build

        options: dict[str, Any] = {} if followup_interval is None else {"followup_interval": followup_interval}
        # As in production (`qaloop run reporting`): follow-ups are derived in the intake
        # transaction, and the clock loop that publishes their transitions runs in-process.
        self.service, _ = build(clock=lambda: TEST_DAY, **options)
        self.counter = Counter()
        self.clock = ClockTimes()
        self.started = False

    async def start(self) -> None:
        service = self.service
        await service.start()
        self.started = True
        consumer = service.consumer
        assert consumer is not None
        # Chain the service's own callback (it wakes the follow-up loop). on_applied runs
        # right after the batch transaction commits, i.e. when the batch became visible.
        original = consumer._on_applied
        counter = self.counter

        def on_applied(events: list[Any]) -> None:
            counter.add(len(events), [e.envelope.id for e in events] if counter.seen is not None else ())
            if original is not None:
                original(events)

        consumer._on_applied = on_applied
        # Time the follow-up clock too: it runs on the consumer's event loop and database.
        if service.transitions is not None:
            run_once = service.transitions.run_once
            runs = self.clock.runs

            async def timed_run_once() -> int:
                started = time.perf_counter()
                try:
                    return await run_once()
                finally:
                    runs.append(time.perf_counter() - started)

            service.transitions.run_once = timed_run_once  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(consumer.ready.wait(), 30)
        except TimeoutError:
            raise BenchError("the reporting consumer did not connect to the broker within 30s") from None

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self.service.stop()

    async def diagnose(self) -> str:
        consumer = self.service.consumer
        assert consumer is not None
        depth, dead = await self.service.queue_depths()
        s = consumer.stats
        return (
            f"reporting.events holds {depth}, its DLQ {dead}; consumer batches={s.batches} applied={s.applied} "
            f"duplicates={s.duplicates} dead_lettered={s.dead_lettered} retries={s.retries}"
        )

    async def stored(self) -> int:
        assert self.service.pool is not None
        async with self.service.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM reporting.event_store"))


async def reporting_intake(
    reporting: Reporting, amqp_url: str, items: list[Item], *, stall: float, publish: PublishOptions
) -> dict[str, Any]:
    n = len(items)
    counter = reporting.counter
    counter.reset(n)
    syncs_before = len(reporting.clock.runs)
    publisher = Publishers(amqp_url, items, publish)
    try:
        async with LoopLag() as lag:
            await wait_until_done("(b) reporting", counter, publisher, stall=stall, diagnose=reporting.diagnose)
        published = await publisher.result(timeout=stall)
    finally:
        publisher.kill()
    seconds = counter.last - published["t_first"]
    stored = await reporting.stored()
    if stored < n:
        raise BenchError(f"(b) reporting: on_applied counted {counter.count} but the event store holds {stored}")
    syncs = reporting.clock.runs[syncs_before:]
    assert reporting.service.transitions is not None
    async with reporting.service.pool.acquire() as conn:  # type: ignore[union-attr]
        followups = int(await conn.fetchval("SELECT count(*) FROM reporting.followups"))
    return {
        "followups": followups,
        "followups_published": reporting.service.transitions.published,
        "events": n,
        "seconds": seconds,
        "eps": n / seconds,
        "publish_eps": n / (published["t_last"] - published["t_first"]),
        "drain_eps": counter.drain_eps(published["t_last"]),
        "batches": len(counter.batch_sizes),
        "batch_mean": sum(counter.batch_sizes) / len(counter.batch_sizes),
        "batch_max": max(counter.batch_sizes),
        "syncs": len(syncs),
        "sync_seconds": sum(syncs),
        "sync_max": max(syncs, default=0.0),
        **lag.summary(),
    }


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def latency(
    reporting: Reporting, amqp_url: str, items: list[Item], *, rate: float, interval: float, stall: float
) -> dict[str, Any]:
    n = len(items)
    counter = reporting.counter
    counter.reset(n, track_ids=True)
    syncs_before = len(reporting.clock.runs)
    publisher = Publishers(amqp_url, items, rate=rate, interval=interval)
    try:
        async with LoopLag() as lag:
            await wait_until_done("(c) latency", counter, publisher, stall=stall, diagnose=reporting.diagnose)
        published = await publisher.result(timeout=stall + n / rate)
    finally:
        publisher.kill()
    seen = counter.seen or {}
    per_batch, times = published["per_batch"], published["batch_times"]
    missing = [i for _, _, i in items if i not in seen]
    if missing:
        raise BenchError(f"(c) latency: {len(missing)} events were never seen, e.g. {missing[:3]}")
    latencies = sorted((seen[item[2]] - times[k // per_batch]) * 1000 for k, item in enumerate(items))
    syncs = reporting.clock.runs[syncs_before:]
    return {
        "events": n,
        "rate": n / (published["t_sent"] - published["t_first"] + interval),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1],
        "batch_mean": sum(counter.batch_sizes) / len(counter.batch_sizes),
        "syncs": len(syncs),
        "sync_max": max(syncs, default=0.0),
        **lag.summary(),
    }


# --------------------------------------------------------------------------- (d) rebuild


async def rebuild_read_models(dsn: str) -> dict[str, Any]:
    import asyncpg

    from services.reporting.readmodels import ALL_TABLES, TABLES
    from services.reporting.rebuild import rebuild

    last_print = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last_print[0] >= 2.0:
            last_print[0] = now
            progress(f"(d) rebuild: {done:,}/{total:,}")

    result = await rebuild(dsn, progress=report)
    conn = await asyncpg.connect(dsn)
    try:
        rows = {table: int(await conn.fetchval(f"SELECT count(*) FROM reporting.{table}")) for table in ALL_TABLES}
    finally:
        await conn.close()
    return {
        "events": result.events,
        "seconds": result.seconds,
        "eps": result.events_per_second,
        "fact_rows": sum(rows[t] for t, _ in TABLES.values()),
        "followups": rows["followups"],
    }


# --------------------------------------------------------------------------- (e) naive consumer


async def naive_consumer(
    amqp_url: str,
    dsn: str,
    items: list[Item],
    *,
    prefetch: int,
    stall: float,
    delivery_limit: int,
    publish: PublishOptions,
) -> dict[str, Any]:
    from faststream import AckPolicy
    from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
    from faststream.rabbit.annotations import RabbitMessage
    from faststream.rabbit.schemas import Channel
    from faststream.rabbit.schemas.queue import QuorumQueueArgs

    from services.reporting import store
    from services.reporting.app import ReportingService
    from services.reporting.consumer import apply_events
    from services.reporting.learning import FollowUpDeriver
    from services.reporting.readmodels import ReadModels
    from shared.bus import declare_topology, queue_arguments
    from shared.db import create_pool
    from shared.events import parse_event
    from shared.inbox import Received
    from shared.settings import Settings

    await ReportingService(settings=Settings(database_url=dsn, amqp_url=amqp_url)).migrate()
    readmodels = ReadModels()
    deriver = FollowUpDeriver(readmodels)
    n = len(items)
    counter = Counter()
    counter.reset(n)
    pool = await create_pool(dsn, max_size=2)
    # The DLQ is declared up front (as every qaloop queue has one); FastStream declares the
    # queue itself, with the same arguments, and binds it.
    connection = await connect(amqp_url)
    try:
        await declare_topology(await connection.channel(), delivery_limit=delivery_limit, queues=(NAIVE,))
    finally:
        await connection.close()
    broker = RabbitBroker(amqp_url, logger=None, default_channel=Channel(prefetch_count=prefetch))

    @broker.subscriber(
        RabbitQueue(
            NAIVE.name,
            queue_type=QueueType.QUORUM,
            arguments=cast("QuorumQueueArgs", queue_arguments(NAIVE, delivery_limit)),
            routing_key=NAIVE.bindings[0],
        ),
        RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True),
        ack_policy=AckPolicy.REJECT_ON_ERROR,  # ack after the handler returns, one message at a time
    )
    async def handle(message: RabbitMessage) -> None:
        # The intake's work for a batch of one: the event store (the inbox), then the read
        # models, derived columns, follow-ups and counts of that one event, in one transaction.
        envelope, data = parse_event(message.body)
        async with pool.acquire() as conn, conn.transaction():
            await store.lock_read_models(conn)
            positions = await store.append_events(
                conn,
                [
                    (
                        envelope.tenant,
                        envelope.source,
                        envelope.id,
                        envelope.type,
                        envelope.time,
                        envelope.subject,
                        envelope.sequence,
                        message.body.decode(),
                    )
                ],
            )
            if (envelope.source, envelope.id) in positions:  # not a duplicate
                received = Received(envelope=envelope, data=data, body=message.body, routing_key="")
                await apply_events(conn, readmodels, deriver, [received])
        counter.add(1)

    publisher: Publishers | None = None
    try:
        await broker.start()
        publisher = Publishers(amqp_url, [(f"naive.{k}", b, i) for k, b, i in items], publish)
        await wait_until_done(
            "(e) naive", counter, publisher, stall=stall, diagnose=lambda: _depth_note(amqp_url, NAIVE.name)
        )
        published = await publisher.result(timeout=stall)
        async with pool.acquire() as conn:
            stored = int(await conn.fetchval("SELECT count(*) FROM reporting.event_store"))
        if stored < n:
            raise BenchError(f"(e) naive: handled {counter.count} but the event store holds {stored}")
    finally:
        if publisher is not None:
            publisher.kill()
        with contextlib.suppress(Exception):
            await broker.stop()
        await pool.close()
    seconds = counter.last - published["t_first"]
    return {
        "events": n,
        "seconds": seconds,
        "eps": n / seconds,
        "publish_eps": n / (published["t_last"] - published["t_first"]),
        "drain_eps": counter.drain_eps(published["t_last"]),
    }


# --------------------------------------------------------------------------- orchestration


def items_of(events: Sequence[Any]) -> list[Item]:
    return [(e.routing_key(), e.to_json(), e.id) for e in events]


@dataclass
class Environment:
    amqp_base: str
    admin_url: str
    management_url: str
    name: str
    amqp_url: str = ""
    database_url: str = ""
    naive_url: str = ""
    created: list[str] = field(default_factory=list)


async def setup(env: Environment) -> None:
    from tests.support import servers as srv

    env.amqp_url = await asyncio.to_thread(srv.create_vhost, env.amqp_base, env.management_url, env.name)
    env.created.append("vhost")
    env.database_url = await srv.create_database(env.admin_url, env.name)
    env.created.append(env.name)
    env.naive_url = await srv.create_database(env.admin_url, f"{env.name}_naive")
    env.created.append(f"{env.name}_naive")
    os.environ["QALOOP_AMQP_URL"] = env.amqp_url
    os.environ["QALOOP_DATABASE_URL"] = env.database_url
    os.environ["QALOOP_ENV"] = "development"  # the development secrets, on loopback only
    from shared.settings import get_settings

    get_settings.cache_clear()


async def teardown(env: Environment) -> None:
    from tests.support import servers as srv

    for name in env.created:
        try:
            if name == "vhost":
                await asyncio.to_thread(srv.delete_vhost, env.management_url, env.name)
            else:
                await srv.drop_database(env.admin_url, name)
        except Exception as exc:
            progress(f"cleanup: could not remove {name if name != 'vhost' else 'vhost ' + env.name}: {exc}")
    env.created.clear()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from services.simulation.stream import contract_stream
    from shared.settings import get_settings

    amqp_base = os.environ.get("QALOOP_AMQP_URL", "amqp://guest:guest@localhost:5672/")
    database = os.environ.get("QALOOP_DATABASE_URL", "postgresql://postgres@localhost:5432/qaloop")
    admin_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(database)._replace(path="/postgres"))
    management_url = os.environ.get("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@localhost:15672")
    env = Environment(amqp_base, admin_url, management_url, "qaloop_bench_" + uuid.uuid4().hex[:10])

    n, stall = args.events, args.stall_timeout
    progress(
        f"generating {n:,} + {args.latency_rate * args.latency_seconds:,.0f} + {args.naive_events:,} contract events"
    )
    main_items = items_of(contract_stream(n, seed=args.seed))
    latency_items = items_of(contract_stream(int(args.latency_rate * args.latency_seconds), seed=args.seed + 1))
    naive_items = items_of(contract_stream(args.naive_events, seed=args.seed + 2))
    mean_body = sum(len(b) for _, b, _ in main_items) / n

    reporting: Reporting | None = None
    results: dict[str, Any] = {}
    load_before = os.getloadavg()
    try:
        await setup(env)
        progress(f"isolated in vhost and database {env.name} (+ {env.name}_naive)")
        settings = get_settings()

        bare: dict[int, dict[str, Any]] = {}
        for count in args.bare_publishers:
            progress(f"(a) bare broker: {n:,} messages from {count} publisher process(es)")
            bare[count] = await bare_broker(
                env.amqp_url,
                main_items,
                prefetch=settings.prefetch,
                max_batch=settings.batch_max,
                stall=stall,
                delivery_limit=settings.delivery_limit,
                publish=PublishOptions(count, args.window),
            )
            progress(f"(a) {count} publisher(s): {bare[count]['eps']:,.0f} events/s")
        best = max(bare, key=lambda k: bare[k]["eps"])
        results["a"] = {
            **bare[best],
            "publishers": best,
            "by_publishers": {k: round(v["eps"], 1) for k, v in bare.items()},
        }
        progress(f"(a) done: the broker's limit here is {results['a']['eps']:,.0f} events/s ({best} publishers)")
        publish = PublishOptions(args.publishers or best, args.window)

        progress(f"(b) reporting intake: {n:,} events")
        reporting = Reporting(args.followup_interval)
        await reporting.start()
        results["b"] = await reporting_intake(reporting, env.amqp_url, main_items, stall=stall, publish=publish)
        progress(f"(b) done: {results['b']['eps']:,.0f} events/s")

        await asyncio.sleep(args.settle_seconds)  # let the follow-up sync after (b) finish
        progress(f"(c) latency: {len(latency_items):,} events at {args.latency_rate:,.0f}/s")
        results["c"] = await latency(
            reporting, env.amqp_url, latency_items, rate=args.latency_rate, interval=args.latency_interval, stall=stall
        )
        progress(f"(c) done: p50 {results['c']['p50_ms']:.1f} ms, p99 {results['c']['p99_ms']:.1f} ms")
        await reporting.stop()
        reporting = None

        progress("(d) rebuild")
        results["d"] = await rebuild_read_models(env.database_url)
        progress(f"(d) done: {results['d']['eps']:,.0f} events/s")

        progress(f"(e) naive FastStream consumer: {len(naive_items):,} events")
        results["e"] = await naive_consumer(
            env.amqp_url,
            env.naive_url,
            naive_items,
            prefetch=args.naive_prefetch,
            stall=stall,
            delivery_limit=settings.delivery_limit,
            publish=publish,
        )
        progress(f"(e) done: {results['e']['eps']:,.0f} events/s")
    finally:
        if reporting is not None:
            with contextlib.suppress(Exception):
                await reporting.stop()
        await teardown(env)
        get_settings.cache_clear()
    results["mean_body"] = mean_body
    results["load"] = (load_before, os.getloadavg())
    return results


def _drain(x: dict[str, Any]) -> str:
    return f"; after publishing ended {x['drain_eps']:,.0f}/s" if x.get("drain_eps") else ""


TARGETS = {"ratio": 0.85, "speedup_vs_naive": 10.0, "p99_ms": 20.0, "rebuild_eps": 100_000.0}


def report(args: argparse.Namespace, r: dict[str, Any]) -> dict[str, Any]:
    a, b, c, d, e = r["a"], r["b"], r["c"], r["d"], r["e"]
    summary = {
        "bare_eps": round(a["eps"], 1),
        "reporting_eps": round(b["eps"], 1),
        "ratio": round(b["eps"] / a["eps"], 3),
        "naive_eps": round(e["eps"], 1),
        "speedup_vs_naive": round(b["eps"] / e["eps"], 2),
        "p50_ms": round(c["p50_ms"], 2),
        "p99_ms": round(c["p99_ms"], 2),
        "rebuild_eps": round(d["eps"], 1),
        "targets_met": {
            "ratio>=0.85": b["eps"] / a["eps"] >= TARGETS["ratio"],
            "speedup>=10": b["eps"] / e["eps"] >= TARGETS["speedup_vs_naive"],
            "p99<=20ms": c["p99_ms"] <= TARGETS["p99_ms"],
            "rebuild>=100k": d["eps"] >= TARGETS["rebuild_eps"],
        },
        "bare_eps_by_publishers": {str(k): v for k, v in a["by_publishers"].items()},
        "bare_publishers": a["publishers"],
        "events": args.events,
        "naive_events": e["events"],
        "latency_events": c["events"],
        "latency_rate": round(c["rate"], 1),
        "p90_ms": round(c["p90_ms"], 2),
        "max_ms": round(c["max_ms"], 2),
        "batch_size_mean": round(b["batch_mean"], 1),
        "batch_size_max": b["batch_max"],
        "bare_publish_eps": round(a["publish_eps"], 1),
        "reporting_publish_eps": round(b["publish_eps"], 1),
        "rebuild_events": d["events"],
        "publishers": args.publishers or a["publishers"],
        "loop_lag_max_ms": round(c["loop_lag_max_ms"], 1),
        "load_before": round(r["load"][0][0], 2),
        "load_after": round(r["load"][1][0], 2),
    }
    for key, x in (("bare_drain_eps", a), ("reporting_drain_eps", b), ("naive_drain_eps", e)):
        if x.get("drain_eps"):
            summary[key] = round(x["drain_eps"], 1)
    rows = [
        (
            "(a) bare broker",
            f"{a['events']:,}",
            f"{a['seconds']:.2f}",
            f"{a['eps']:,.0f}",
            "best of "
            + ", ".join(f"{k} publisher(s) {v:,.0f}/s" for k, v in a["by_publishers"].items())
            + f"; publishers {a['publish_eps']:,.0f}/s{_drain(a)}; acks per {a['batch_mean']:.0f}",
        ),
        (
            "(b) reporting intake",
            f"{b['events']:,}",
            f"{b['seconds']:.2f}",
            f"{b['eps']:,.0f}",
            f"ratio {summary['ratio']:.2f}; publishers {b['publish_eps']:,.0f}/s{_drain(b)}; "
            f"{b['batches']:,} batches, mean {b['batch_mean']:.0f}, "
            f"max {b['batch_max']}; {b['followups']:,} follow-ups kept by intake; {b['syncs']} clock runs took "
            f"{b['sync_seconds']:.1f}s (max {b['sync_max']:.2f}s) and published {b['followups_published']:,} "
            "FollowUp* events; "
            f"event loop held up to {b['loop_lag_max_ms']:,.0f} ms (p99 {b['loop_lag_p99_ms']:,.0f})",
        ),
        (
            "(c) latency",
            f"{c['events']:,}",
            f"{args.latency_seconds:.0f}",
            f"{c['rate']:,.0f}",
            f"p50 {c['p50_ms']:.1f} ms, p90 {c['p90_ms']:.1f}, p99 {c['p99_ms']:.1f}, max {c['max_ms']:.1f}; "
            f"batch mean {c['batch_mean']:.1f}; {c['syncs']} clock runs, max {c['sync_max']:.2f}s; "
            f"event loop held up to {c['loop_lag_max_ms']:,.0f} ms (p99 {c['loop_lag_p99_ms']:,.0f})",
        ),
        (
            "(d) rebuild",
            f"{d['events']:,}",
            f"{d['seconds']:.2f}",
            f"{d['eps']:,.0f}",
            f"{d['fact_rows']:,} read-model rows, {d['followups']:,} follow-ups",
        ),
        (
            "(e) naive FastStream",
            f"{e['events']:,}",
            f"{e['seconds']:.2f}",
            f"{e['eps']:,.0f}",
            f"reporting is {summary['speedup_vs_naive']:.1f}x faster{_drain(e)}",
        ),
    ]
    headers = ("phase", "events", "seconds", "events/s", "notes")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers[:4])]
    lines = [
        f"reporting throughput: {args.events:,} events (mean body {r['mean_body']:.0f} bytes), "
        f"{os.cpu_count()} CPUs, broker and database local; load average {r['load'][0][0]:.1f} before, "
        f"{r['load'][1][0]:.1f} after (other processes share the CPUs)",
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=False)))
        + "  notes",
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(row[i].rjust(widths[i]) for i in (1, 2, 3))]
        lines.append("  ".join(cells) + "  " + row[4])
    print("\n".join(lines))
    return summary


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("counts must be positive")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=100_000, help="events for (a), (b) and (d) (default 100000)")
    p.add_argument("--naive-events", type=int, default=10_000, help="events for the naive consumer (default 10000)")
    p.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency run (default 10)")
    p.add_argument("--latency-rate", type=float, default=1000.0, help="events/s in the latency run (default 1000)")
    p.add_argument("--latency-interval", type=float, default=0.01, help="publish pacing in the latency run (s)")
    p.add_argument(
        "--followup-interval",
        type=float,
        default=None,
        help="ReportingService.followup_interval in s (default: the service's own)",
    )
    p.add_argument("--naive-prefetch", type=int, default=100, help="prefetch of the naive consumer (default 100)")
    p.add_argument("--settle-seconds", type=float, default=3.0, help="pause between (b) and (c) (default 3)")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=60.0,
        help="fail when no event arrives for this many seconds (default 60)",
    )
    p.add_argument(
        "--window",
        type=int,
        default=1000,
        help="messages per pipelined publish_many in the unpaced runs (default 1000)",
    )
    p.add_argument(
        "--bare-publishers",
        type=_counts,
        default=(1, 2, 4),
        help="publisher process counts tried for the bare-broker baseline (a), best taken (default 1,2,4)",
    )
    p.add_argument(
        "--publishers",
        type=int,
        default=None,
        help="publisher processes for (b) and (e) (default: as many as the best run of (a))",
    )
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if (
        args.events < 1
        or args.naive_events < 1
        or args.latency_seconds <= 0
        or args.latency_rate <= 0
        or (args.publishers is not None and args.publishers < 1)
        or args.window < 1
    ):
        p.error("counts, rate and seconds must be positive")
    return args


async def _interruptible(job: Any) -> Any:
    """Run `job`, cancelling it on SIGTERM or SIGINT (even where the shell ignores SIGINT for
    background jobs) so that its `finally` removes the vhost and the databases."""
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        # uvloop, as in production: uvicorn picks it up when it is installed.
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        results = asyncio.run(_interruptible(run(args)))
    except BenchError as exc:
        progress(f"FAILED: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; the vhost and databases were removed")
        return 130
    summary = report(args, results)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
