"""What the fault scenarios share: the scenario's own vhost and database, reporting run as
in production (`python -m services.cli run reporting`, in its own process group), fast
confirmed publishing, an observer queue, and the final count — sent, applied, lost,
doubled — read from reporting's own tables."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

from shared.bus import KIND_HEADER, REPORTING_QUEUE, OutgoingMessage, Publisher, connect, declare_topology
from shared.events import CloudEvent, parse_event
from tests.faults.servers import PrivatePostgres, PrivateRabbit, free_port
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]
OBSERVER_QUEUE = "faults.observer"  # sees every message that reached reporting's bindings
DLQ = f"{REPORTING_QUEUE}.dlq"


@dataclass
class Scenario:
    """One scenario's isolation: its own vhost on the private node and its own database on
    the private cluster; its logs in `workdir`."""

    name: str
    rabbit: PrivateRabbit
    postgres: PrivatePostgres
    vhost: str
    database: str
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def amqp_url(self) -> str:
        return self.rabbit.url(self.vhost)

    @property
    def database_url(self) -> str:
        return self.postgres.url(self.database)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            QALOOP_AMQP_URL=self.amqp_url,
            QALOOP_DATABASE_URL=self.database_url,
            QALOOP_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        env.update(extra)
        return env

    def spawn(self, args: Sequence[str], log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
        """A child process in a process group of its own (so that killing it kills its children)."""
        with log.open("ab") as out:
            out.write(f"\n--- {time.strftime('%H:%M:%S')} {' '.join(args)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                list(args),
                cwd=ROOT,
                env=self.env(**extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def queue_state(self, queue: str) -> tuple[int, int]:
        """(messages, consumers) of `queue`; messages counts the ready and the unacknowledged
        ones (rabbitmqctl: a passive declare counts only those ready)."""
        out = self.rabbit.ctl("list_queues", "-p", self.vhost, "name", "messages", "consumers", "--silent").stdout
        for line in out.splitlines():
            name, *counts = line.strip().split("\t")
            if name == queue and len(counts) == 2:
                messages, consumers = counts
                return int(messages), int(consumers)
        raise AssertionError(f"no queue {queue} in vhost {self.vhost}: {out!r}")

    def messages(self, queue: str) -> int:
        return self.queue_state(queue)[0]

    def kill_all(self) -> None:
        for process in self.processes:
            kill_group(process, signal.SIGKILL)


def kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the process group `process` leads (it was started with a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    if sig == signal.SIGKILL:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- reporting, as production runs it


INTAKE_COUNTERS = {
    "qaloop_events_consumed_total": "consumed",
    "qaloop_events_applied_total": "applied",
    "qaloop_events_duplicates_skipped_total": "duplicates skipped",
    "qaloop_events_dead_lettered_total": "dead-lettered",
    "qaloop_consumer_retries_total": "batches retried",
}


def intake_counters(text: str) -> dict[str, float]:
    """reporting.events counters from a Prometheus text exposition."""
    out = dict.fromkeys(INTAKE_COUNTERS.values(), 0.0)
    for line in text.splitlines():
        if line.startswith("#") or f'queue="{REPORTING_QUEUE}"' not in line:
            continue
        name, _, value = line.rpartition(" ")
        metric = name.partition("{")[0]
        if metric in INTAKE_COUNTERS:
            out[INTAKE_COUNTERS[metric]] += float(value)
    return out


class ReportingProcess:
    """`python -m services.cli run reporting --port <free>`: uvicorn, the intake on its loop,
    the learning loop in a spawned worker process — all in one process group.

    `intake` adds up the consumer's counters (GET /metrics) over every process lifetime; for
    a process that was SIGKILLed they were read just before the kill, so they are lower
    bounds then."""

    def __init__(self, scenario: Scenario, *, database_url: str | None = None) -> None:
        self.scenario = scenario
        self.database_url = database_url or scenario.database_url
        self.port = free_port()
        self.log = scenario.workdir / "reporting.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.intake = dict.fromkeys(INTAKE_COUNTERS.values(), 0.0)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = self.scenario.spawn(
            [sys.executable, "-m", "services.cli", "run", "reporting", "--port", str(self.port)],
            self.log,
            QALOOP_METRICS_PUBLIC="true",
            QALOOP_DATABASE_URL=self.database_url,
        )
        self.starts += 1

    async def ready(self, timeout: float = 60.0) -> None:
        """Until /readyz says the consumer is consuming (or the process died)."""
        assert self.process is not None
        process = self.process

        async def probe() -> str:
            if process.poll() is not None:
                raise AssertionError(
                    f"reporting exited with {process.returncode} while starting:\n{log_tail(self.log)}"
                )
            try:
                async with httpx.AsyncClient(timeout=5) as client:
                    r = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                return "ready" if r.status_code == 200 else r.text
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}"

        await eventually(probe, lambda s: s == "ready", timeout=timeout, interval=0.1, what="reporting ready")

    async def readiness(self) -> str:
        """What /readyz answers now (for diagnostics)."""
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.get(f"http://127.0.0.1:{self.port}/readyz")
            return f"{r.status_code} {r.text}"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"

    async def counters(self) -> dict[str, float]:
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.get(f"http://127.0.0.1:{self.port}/metrics")
            r.raise_for_status()
        except httpx.HTTPError:
            return {}
        return intake_counters(r.text)

    def _add(self, counters: dict[str, float]) -> None:
        for key, value in counters.items():
            self.intake[key] += value

    async def kill(self) -> None:
        """SIGKILL to the whole process group: intake, worker, relay — no clean-up of any kind."""
        assert self.process is not None
        counters = await self.counters()
        kill_group(self.process, signal.SIGKILL)
        self._add(counters)
        self.kills += 1

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (uvicorn's graceful shutdown: the batch in hand is finished and acked)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self._add(await self.counters())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.process, signal.SIGKILL)
            raise AssertionError(
                f"reporting did not stop within {timeout}s of SIGTERM:\n{log_tail(self.log)}"
            ) from None

    def intake_summary(self, *, lower_bound: bool = False) -> str:
        sign = "≥" if lower_bound else ""
        return "intake " + ", ".join(f"{name} {sign}{int(value):,}" for name, value in self.intake.items())


# --------------------------------------------------------------------------- the bus


def messages_of(events: Sequence[CloudEvent]) -> list[OutgoingMessage]:
    return [OutgoingMessage(routing_key=e.routing_key(), body=e.to_json(), message_id=e.id) for e in events]


async def publish(amqp_url: str, messages: Sequence[OutgoingMessage], *, window: int = 1000) -> int:
    """Persistent, mandatory, confirmed, in pipelined windows (shared.bus.Publisher)."""
    connection = await connect(amqp_url)
    try:
        publisher = Publisher(connection)
        for start in range(0, len(messages), window):
            chunk = messages[start : start + window]
            confirmed = await publisher.publish_many(chunk)
            if confirmed != len(chunk):
                raise AssertionError(f"the broker confirmed {confirmed} of {len(chunk)} messages")
    finally:
        await connection.close()
    return len(messages)


async def prepare_bus(amqp_url: str, *, observer: bool = False) -> None:
    """Reporting's topology; with `observer`, a queue bound like reporting.events that nobody
    consumes: its depth is the number of messages that reached the broker, re-sends included
    (it costs the broker a second queue write per message, so only the relay scenarios,
    whose publishing the test does not do itself, use it)."""
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        if observer:
            queue = await channel.declare_queue(OBSERVER_QUEUE, durable=True)
            for key in ("audit.#", "feedback.#", "complaints.#", "casework.#"):
                await queue.bind(exchange, routing_key=key)
    finally:
        await connection.close()


async def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in `queue` (passive declare)."""
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def dead_letter_kinds(amqp_url: str) -> dict[str, int]:
    """Reads (and requeues) every dead letter; counts them by `x-qaloop-error-kind`."""
    connection = await aio_pika.connect(amqp_url)
    kinds: dict[str, int] = {}
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=0)
        queue = await channel.get_queue(DLQ)
        held = []
        while (message := await queue.get(fail=False, no_ack=False)) is not None:
            kind = str((message.headers or {}).get(KIND_HEADER, "?"))
            kinds[kind] = kinds.get(kind, 0) + 1
            held.append(message)
        for message in held:  # leave them where they are: the depth is the test's figure
            await message.nack(requeue=True)
    finally:
        await connection.close()
    return kinds


# --------------------------------------------------------------------------- the database


class Probe:
    """One database connection for polling, reconnected after an outage; `None` while the
    database cannot be reached."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._conn: asyncpg.Connection | None = None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.database_url, timeout=5)
            return await self._conn.fetchval(sql, *args, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            with contextlib.suppress(Exception):
                if self._conn is not None:
                    self._conn.terminate()
            self._conn = None
            return None

    async def stored(self) -> int:
        """Rows in reporting.event_store (-1 while unreachable or before the schema exists)."""
        value = await self.fetchval("SELECT count(*) FROM reporting.event_store")
        return -1 if value is None else int(value)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


class StreamWatch:
    """Waits for reporting to store a number of events, and tells a stream that will never
    get there from a slow one, so that a scenario always ends with its count:

    - "reached": `goal` events stored (with `drained`, also nothing left in reporting.events,
      neither ready nor unacknowledged);
    - "settled short": the store has not grown for `quiet` s and the queue is empty;
    - "stalled": the store has not grown for `stall` s while messages wait in the queue and
      nobody consumes it;
    - "timed out".

    The queue's full count takes a rabbitmqctl call (about a second), so it is asked only
    when the store is full or quiet."""

    def __init__(self, scenario: Scenario, probe: Probe, *, quiet: float = 5.0, stall: float = 20.0) -> None:
        self.scenario, self.probe, self.quiet, self.stall = scenario, probe, quiet, stall
        self.stored = -1

    async def wait(self, goal: int, *, drained: bool = False, timeout: float = 150.0, interval: float = 0.05) -> str:
        since = time.monotonic()
        checked = 0.0
        last = -2

        async def state() -> str:
            nonlocal since, checked, last
            now = time.monotonic()
            self.stored = await self.probe.stored()
            if self.stored != last:
                last, since = self.stored, now
            if self.stored >= goal and not drained:
                return "reached"
            if (self.stored >= goal or now - since > self.quiet) and now - checked > 1.0:
                checked = now
                messages, consumers = await asyncio.to_thread(self.scenario.queue_state, REPORTING_QUEUE)
                if messages == 0:
                    return "reached" if self.stored >= goal else "settled short"
                if consumers == 0 and now - since > self.stall:
                    return "stalled"
            return "waiting"

        try:
            return await eventually(state, lambda s: s != "waiting", timeout=timeout, interval=interval)
        except AssertionError:
            return "timed out"

    def describe(self, outcome: str, goal: int) -> str:
        detail = {
            "settled short": f"{REPORTING_QUEUE} is empty",
            "stalled": f"messages wait in {REPORTING_QUEUE} and nobody consumes it",
            "timed out": "the wait timed out",
        }.get(outcome, outcome)
        return f"the stream {outcome} at {self.stored:,} of {goal:,} events stored ({detail})"


# --------------------------------------------------------------------------- the count


def expected_facts(events: Sequence[CloudEvent]) -> dict[tuple[str, str], tuple[str, Any]]:
    """{(source, id): (kind, payload)} of every event that yields a fact, as reporting stores it."""
    from services.reporting import projections, store
    from services.reporting.facts import fact_from_event

    out = {}
    for event in events:
        envelope, data = parse_event(event.to_json())
        fact = fact_from_event(envelope, data)
        if fact is not None:
            kind, payload = projections.encode(fact)
            out[(event.source, event.id)] = (kind, json.loads(store.dumps(payload)))
    return out


@dataclass
class Tally:
    """The figures a scenario ends with. `doubled` counts every row beyond one per event:
    event-store rows per (source, id), fact rows per position and per event key."""

    sent: int
    published: int
    applied: int
    lost: int
    doubled: int
    unexpected: int  # stored events that were never sent as good events (poison that got in)
    dead_letters: int
    left_in_queue: int
    facts_wrong: int  # applied events whose fact is missing or differs from the event's own fact
    counter_drift: int  # |projection_state.events_applied - rows| for the event store and the facts
    missing_examples: list[str] = field(default_factory=list)


async def tally(
    scenario: Scenario,
    events: Sequence[CloudEvent],
    facts: dict[tuple[str, str], tuple[str, Any]],
    *,
    published: int | None = None,
) -> Tally:
    """The count. `published`: messages the test itself published and had confirmed; when
    None (a relay published), the depth of the observer queue."""
    sent = {(e.source, e.id) for e in events}
    conn = await asyncpg.connect(scenario.database_url)
    try:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        store_rows = await conn.fetch("SELECT position, source, id FROM reporting.event_store")
        fact_rows = await conn.fetch(
            """SELECT f.position, f.kind, f.payload, e.source, e.id
               FROM reporting.facts f LEFT JOIN reporting.event_store e USING (position)"""
        )
        state = {
            r["name"]: int(r["events_applied"])
            for r in await conn.fetch("SELECT name, events_applied FROM reporting.projection_state")
        }
    finally:
        await conn.close()

    keys = [(r["source"], r["id"]) for r in store_rows]
    stored = set(keys)
    doubled_store = len(keys) - len(stored)
    positions = [r["position"] for r in fact_rows]
    doubled_fact_positions = len(positions) - len(set(positions))
    per_key: dict[str, int] = {}
    for r in fact_rows:
        fact_key = str(r["payload"].get("key"))
        per_key[fact_key] = per_key.get(fact_key, 0) + 1
    doubled_fact_keys = sum(n - 1 for n in per_key.values() if n > 1)

    stored_facts = {(r["source"], r["id"]): (r["kind"], r["payload"]) for r in fact_rows}
    applied = sent & stored
    wrong = 0
    for key in applied:
        if facts.get(key) != stored_facts.get(key):
            wrong += 1
    wrong += sum(1 for key in stored_facts if key not in applied)  # facts of unknown or orphaned events

    drift = abs(state.get("event_store", 0) - len(keys)) + abs(state.get("facts", 0) - len(fact_rows))
    lost = sorted(sent - stored)
    return Tally(
        sent=len(sent),
        published=published if published is not None else await queue_depth(scenario.amqp_url, OBSERVER_QUEUE),
        applied=len(applied),
        lost=len(lost),
        doubled=doubled_store + doubled_fact_positions + doubled_fact_keys,
        unexpected=len(stored - sent),
        dead_letters=await queue_depth(scenario.amqp_url, DLQ),
        left_in_queue=await asyncio.to_thread(scenario.messages, REPORTING_QUEUE),
        facts_wrong=wrong,
        counter_drift=drift,
        missing_examples=[f"{s} {i}" for s, i in lost[:5]],
    )


# --------------------------------------------------------------------------- PostgreSQL connection slots


class StrandingProxy:
    """A TCP proxy in front of PostgreSQL for one client (reporting). `strand()` drops the
    client side of every connection — the client sees its connections die, as on a network
    blip — but keeps the server side open, so their backends keep their connection slots
    until `release()`. New connections are proxied as usual."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._live: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, list[bool]]] = []
        self._stranded: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        stranded = [False]
        entry = (writer, up_writer, stranded)
        self._live.append(entry)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, upstream: bool) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if stranded[0]:
                        break
                    dst.write(data)
                    await dst.drain()
            if not (upstream and stranded[0]):
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, upstream=True), pipe(up_reader, writer, upstream=False))
        with contextlib.suppress(ValueError):
            self._live.remove(entry)

    def strand(self) -> int:
        """Drop every client connection; keep its server connection (and slot). Returns how many."""
        count = 0
        for client, upstream, stranded in list(self._live):
            stranded[0] = True
            self._stranded.append(upstream)
            with contextlib.suppress(Exception):
                client.transport.abort()
            count += 1
        self._live.clear()
        return count

    def release(self) -> None:
        for upstream in self._stranded:
            with contextlib.suppress(Exception):
                upstream.transport.abort()
        self._stranded.clear()

    async def close(self) -> None:
        self.strand()
        self.release()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def take_every_free_slot(database_url: str, limit: int = 500) -> list[asyncpg.Connection]:
    """Connections until PostgreSQL answers "sorry, too many clients already"."""
    held: list[asyncpg.Connection] = []
    with contextlib.suppress(asyncpg.TooManyConnectionsError):
        while len(held) < limit:
            held.append(await asyncpg.connect(database_url, timeout=10))
    return held
