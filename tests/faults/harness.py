"""What the fault scenarios share: the scenario's own vhost and database, reporting run as
in production (`python -m services.cli run reporting`, in its own process group), fast
confirmed publishing, an observer queue, and the final count — sent, applied, lost,
doubled — read from reporting's own tables."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
from tests.faults.servers import PrivatePostgres, PrivatePostgresPair, PrivateRabbit, PrivateRabbitCluster, free_port
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]
OBSERVER_QUEUE = "faults.observer"  # sees every message that reached reporting's bindings
DLQ = f"{REPORTING_QUEUE}.dlq"


@dataclass
class Scenario:
    """One scenario's isolation: its own vhost on the private node (or the private
    three-node cluster, whose URL lists every node) and its own database on the private
    PostgreSQL cluster; its logs in `workdir`."""

    name: str
    rabbit: PrivateRabbit | PrivateRabbitCluster
    postgres: PrivatePostgres | PrivatePostgresPair
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
            QALOOP_ENV="development",  # the development secrets: a service starts with them only so
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
    """`python -m services.cli run reporting --port <free>`: uvicorn, with the intake, the
    follow-up clock and the outbox relay on its loop — in a process group of its own.

    `intake` adds up the consumer's counters (GET /metrics) over every process lifetime; for
    a process that was SIGKILLed they were read just before the kill, so they are lower
    bounds then."""

    def __init__(self, scenario: Scenario, *, database_url: str | None = None, **extra_env: str) -> None:
        self.scenario = scenario
        self.database_url = database_url or scenario.database_url
        self.extra_env = extra_env
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
            **self.extra_env,
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
        """What /readyz answers now, with the reasons (/v1/ops/readiness), for diagnostics."""
        from shared.auth import issue_token
        from shared.settings import Settings

        admin = {"Authorization": "Bearer " + issue_token(Settings(), ["ops:admin"], subject="faults")}
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                detail = await client.get(f"http://127.0.0.1:{self.port}/v1/ops/readiness", headers=admin)
            return f"{r.status_code} {detail.text}"
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
        """SIGKILL to the whole process group: intake, clock, relay — no clean-up of any kind."""
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


async def prepare_bus(amqp_url: str, *, observer: bool = False, quorum_observer: bool = False) -> None:
    """Reporting's topology; with `observer`, a queue bound like reporting.events that nobody
    consumes: its depth is the number of messages that reached the broker, re-sends included
    (it costs the broker a second queue write per message, so only the relay scenarios,
    whose publishing the test does not do itself, use it). On a cluster it must be a quorum
    queue (`quorum_observer`): a classic queue lives on one node and is gone with it."""
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        if observer:
            arguments = {"x-queue-type": "quorum"} if quorum_observer else None
            queue = await channel.declare_queue(OBSERVER_QUEUE, durable=True, arguments=arguments)
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


class IntakeMeter:
    """Samples reporting.event_store's row count every `interval` s on a connection of its
    own, and keeps the moments it grew: `still(since)` is the longest time intake stood still
    from the last growth before `since` (a fault) until the count reached `goal` (or now)."""

    def __init__(self, database_url: str, goal: int, *, interval: float = 0.1) -> None:
        self.probe = Probe(database_url)
        self.goal, self.interval = goal, interval
        self.grew: list[tuple[float, int]] = []  # (monotonic time, count) at each growth
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        last = -1
        while last < self.goal:
            count = await self.probe.stored()
            if count > last:
                self.grew.append((time.monotonic(), count))
                last = count
            await asyncio.sleep(self.interval)

    def still(self, since: float) -> float:
        """Seconds, the longest gap between growths from the last one at or before `since`."""
        before = [t for t, _ in self.grew if t <= since]
        times = [before[-1] if before else since] + [t for t, _ in self.grew if t > since]
        if self.grew and self.grew[-1][1] < self.goal:
            times.append(time.monotonic())  # not there yet: the wait so far counts
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def still_before(self, until: float) -> float:
        """The longest gap between growths before `until` (the baseline, without a fault)."""
        times = [t for t, count in self.grew if t <= until and count > 0]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.probe.close()


# --------------------------------------------------------------------------- the count


def expected_facts(events: Sequence[CloudEvent]) -> dict[tuple[str, str], Any]:
    """{(source, id): fact} of every event that yields a fact (`facts.fact_from_event`)."""
    from services.reporting.facts import fact_from_event

    out = {}
    for event in events:
        envelope, data = parse_event(event.to_json())
        fact = fact_from_event(envelope, data)
        if fact is not None:
            out[(event.source, event.id)] = fact
    return out


@dataclass
class Tally:
    """The figures a scenario ends with. `doubled` counts every row beyond one per event:
    event-store rows per (source, id), read-model rows per event key (over every table)."""

    sent: int
    published: int
    applied: int
    lost: int
    doubled: int
    unexpected: int  # stored events that were never sent as good events (poison that got in)
    dead_letters: int
    left_in_queue: int
    facts_wrong: int  # applied events whose read-model row is missing or differs; rows of no stored event
    counter_drift: int  # per tenant, |tenant_projection_state.events_applied - the rows it counts|
    missing_examples: list[str] = field(default_factory=list)
    wrong_examples: list[str] = field(default_factory=list)


async def tally(
    scenario: Scenario,
    events: Sequence[CloudEvent],
    facts: dict[tuple[str, str], Any],
    *,
    published: int | None = None,
) -> Tally:
    """The count. `published`: messages the test itself published and had confirmed; when
    None (a relay published), the depth of the observer queue.

    Read models: every applied event that yields a fact has exactly one row, in its fact's
    table (`readmodels.TABLES`), which reads back (`TableSpec.fact`) as that very fact; no
    row of any read-model table belongs to an event the event store does not hold. Counters:
    per tenant, the 'event_store' and 'read_models' counts equal the tenant's event-store
    rows, and each projection's count equals the rows of its tables."""
    from services.reporting.readmodels import PROJECTIONS, TABLES, ReadModels

    readmodels = ReadModels()
    sent = {(e.source, e.id) for e in events}
    conn = await asyncpg.connect(scenario.database_url)
    try:
        store_rows = await conn.fetch("SELECT tenant, source, id FROM reporting.event_store")
        rows_by_table = {
            cls: await conn.fetch(f"SELECT * FROM reporting.{table}") for cls, (table, _) in TABLES.items()
        }
        answer_keys = {r["key"] for r in await conn.fetch("SELECT DISTINCT key FROM reporting.feedback_answer")}
        state = {
            (r["tenant"], r["name"]): int(r["events_applied"])
            for r in await conn.fetch("SELECT tenant, name, events_applied FROM reporting.tenant_projection_state")
        }
    finally:
        await conn.close()

    keys = [(r["source"], r["id"]) for r in store_rows]
    stored = set(keys)
    doubled_store = len(keys) - len(stored)
    stored_keys = {f"{s} {i}" for s, i in stored}

    # Every read-model row, by event key: (its class, its tenant, the fact it reads back as).
    rows: dict[str, list[tuple[type, str, Any]]] = {}
    for cls, found in rows_by_table.items():
        spec = readmodels.spec(cls)
        for r in found:
            rows.setdefault(r["key"], []).append((cls, r["tenant"], spec.fact(r)))
    doubled_rows = sum(len(v) - 1 for v in rows.values() if len(v) > 1)

    applied = sent & stored
    wrong: list[str] = []
    for source, event_id in sorted(applied):
        key = f"{source} {event_id}"
        expected = facts.get((source, event_id))
        got = rows.get(key, [])
        if expected is None:
            if got:
                wrong.append(f"{key}: yields no fact but has {len(got)} read-model rows")
        elif len(got) != 1:
            wrong.append(f"{key}: {len(got)} rows, expected one in {TABLES[type(expected)][0]}")
        elif got[0][0] is not type(expected) or got[0][2] != expected:
            wrong.append(f"{key}: row {got[0][2]!r} differs from the event's fact {expected!r}")
    orphans = sorted((set(rows) | answer_keys) - stored_keys)  # rows of events the store does not hold
    wrong += [f"{key}: a read-model row of an event not in the event store" for key in orphans]

    tenants = {t for t, _ in state} | {r["tenant"] for r in store_rows}
    per_tenant = {t: 0 for t in tenants}
    for r in store_rows:
        per_tenant[r["tenant"]] += 1
    per_projection: dict[tuple[str, str], int] = {}
    for cls, found in rows_by_table.items():
        for r in found:
            k = (r["tenant"], TABLES[cls][1])
            per_projection[k] = per_projection.get(k, 0) + 1
    drift = 0
    for t in tenants:
        drift += abs(state.get((t, "event_store"), 0) - per_tenant[t])
        drift += abs(state.get((t, "read_models"), 0) - per_tenant[t])
        drift += sum(abs(state.get((t, p), 0) - per_projection.get((t, p), 0)) for p in PROJECTIONS)

    lost = sorted(sent - stored)
    return Tally(
        sent=len(sent),
        published=published if published is not None else await queue_depth(scenario.amqp_url, OBSERVER_QUEUE),
        applied=len(applied),
        lost=len(lost),
        doubled=doubled_store + doubled_rows,
        unexpected=len(stored - sent),
        dead_letters=await queue_depth(scenario.amqp_url, DLQ),
        left_in_queue=await asyncio.to_thread(scenario.messages, REPORTING_QUEUE),
        facts_wrong=len(wrong),
        counter_drift=drift,
        missing_examples=[f"{s} {i}" for s, i in lost[:5]],
        wrong_examples=wrong[:5],
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
