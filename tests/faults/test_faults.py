"""Kill and restart the parts of qaloop mid-stream; count that nothing is lost and nothing
is counted twice (ARCHITECTURE.md, non-negotiable 1).

Every scenario sends a realistic stream of 20,000 contract events
(`services.simulation.stream.contract_stream`, its own seed) through its own vhost and
database on the suite's private RabbitMQ node and PostgreSQL cluster, with reporting run as
production runs it (`python -m services.cli run reporting`, tests/faults/harness.py). It
injects its fault at seeded random moments, waits for the stream to drain and counts, from
reporting's own tables:

- sent: distinct good events sent;
- published: messages the broker confirmed for reporting's bindings — duplicates, poison
  and re-sends included (counted by the test where it publishes itself, by an observer
  queue bound like reporting.events where a relay publishes);
- applied: distinct sent (source, id) in reporting.event_store;
- lost: sent events missing from the store;
- doubled: rows beyond one per event — event-store rows per (source, id), read-model rows
  per event key (over every fact table);
- dead letters: depth of reporting.events.dlq.

Beyond the table each scenario checks that every applied event that yields a fact has
exactly one read-model row, in its fact's table, reading back as exactly that fact (and no
row belongs to an event the store does not hold), that the per-tenant projection counters
agree with the rows they count, that
nothing unexpected was stored and that reporting.events is left empty. The table of all
scenarios is printed at the end of the run (tests/faults/conftest.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from services.simulation.stream import contract_stream
from shared import outbox
from shared.bus import REPORTING_QUEUE, OutgoingMessage
from shared.db import connect, migrate
from shared.events import AuditGraded, CloudEvent, ReferralReceived, new_event
from tests.faults.harness import (
    Probe,
    ReportingProcess,
    Scenario,
    StrandingProxy,
    StreamWatch,
    Tally,
    dead_letter_kinds,
    expected_facts,
    kill_group,
    log_tail,
    messages_of,
    prepare_bus,
    publish,
    queue_depth,
    take_every_free_slot,
    tally,
)
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.faults

N = 20_000
DRAIN_TIMEOUT = 150.0  # seconds for a stream to drain after its fault (generous: 2 shared cores)


@functools.cache
def stream(seed: int) -> tuple[list[CloudEvent], dict[tuple[str, str], Any]]:
    events = contract_stream(N, seed=seed)
    return events, expected_facts(events)


def assert_nothing_lost_or_doubled(t: Tally, problems: Sequence[str], *, dead_letters: int = 0) -> None:
    assert t.lost == 0, f"{t.lost:,} of {t.sent:,} events lost, e.g. {t.missing_examples}\n" + "\n".join(problems)
    assert t.doubled == 0, f"{t.doubled} rows beyond one per event"
    assert t.applied == t.sent
    assert t.unexpected == 0, f"{t.unexpected} stored events were never sent as good events"
    assert t.facts_wrong == 0, (
        f"{t.facts_wrong} read-model rows missing, different or orphaned, e.g. {t.wrong_examples}"
    )
    assert t.counter_drift == 0, "tenant_projection_state counters disagree with the rows they count"
    assert t.dead_letters == dead_letters, f"{t.dead_letters:,} dead letters; expected {dead_letters:,}"
    assert t.left_in_queue == 0, f"{t.left_in_queue:,} messages left in {REPORTING_QUEUE}"
    assert not problems, "\n".join(problems)


async def reached(watch: StreamWatch, goal: int, problems: list[str], reporting: ReportingProcess) -> bool:
    """Wait for `goal` events stored mid-stream; False (and the reason in `problems`) if the
    stream will not get there — the scenario then skips its remaining faults and counts."""
    outcome = await watch.wait(goal, timeout=DRAIN_TIMEOUT)
    if outcome == "reached":
        return True
    problems.append(f"{watch.describe(outcome, goal)}; reporting /readyz: {await reporting.readiness()}")
    return False


async def drain_and_stop(watch: StreamWatch, reporting: ReportingProcess, problems: list[str]) -> None:
    """Wait until every event is stored and reporting.events holds nothing (ready or
    unacknowledged), then stop reporting gracefully. What goes wrong goes to `problems`:
    the scenario still counts, so that a loss shows as a count rather than as a timeout."""
    outcome = await watch.wait(N, drained=True, timeout=DRAIN_TIMEOUT, interval=0.2)
    if outcome != "reached":
        problems.append(f"{watch.describe(outcome, N)}; reporting /readyz: {await reporting.readiness()}")
    await watch.probe.close()
    code = await reporting.stop()
    # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is done
    if code not in (0, -signal.SIGTERM):
        problems.append(f"reporting exited with {code} on SIGTERM")
    if problems:
        problems.append(f"--- reporting log:\n{log_tail(reporting.log)}")


async def start_reporting(scenario: Scenario, **options: Any) -> ReportingProcess:
    reporting = ReportingProcess(scenario, **options)
    reporting.start()
    await reporting.ready()
    return reporting


# --------------------------------------------------------------------------- 1. consumer SIGKILLed


async def test_reporting_killed_with_sigkill_five_times(scenario: Scenario, fault_table) -> None:
    """The production process (`qaloop run reporting`: intake, follow-up clock, relay) is
    SIGKILLed as a process group at five seeded random moments while it works through a
    backlog, and restarted each time: batches in flight roll back, unacked messages come
    back and are applied once."""
    seed = 101
    events, facts = stream(seed)
    rng = random.Random(seed)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    # The publisher starts first, so reporting always has a backlog: a kill finds it mid-batch.
    publishing = asyncio.create_task(publish(scenario.amqp_url, messages_of(events)))
    reporting = await start_reporting(scenario)
    kills: list[str] = []
    for _ in range(5):
        base = max(await watch.probe.stored(), 0)
        if not await reached(watch, base + rng.randint(200, 1500), problems, reporting):
            break
        await asyncio.sleep(rng.uniform(0.0, 0.2))  # a random moment: gathering, mid-transaction, before the ack
        at = await watch.probe.stored()
        backlog = await queue_depth(scenario.amqp_url, REPORTING_QUEUE)
        await reporting.kill()
        kills.append(f"{at:,} (backlog {backlog:,})")
        if at >= N:
            problems.append(f"a kill fell after the stream had drained ({at:,} stored): not mid-stream")
        reporting.start()
        await reporting.ready()
    published = await publishing
    await drain_and_stop(watch, reporting, problems)

    t = await tally(scenario, events, facts, published=published)
    fault_table(
        t,
        label="reporting SIGKILLed x5",
        faults=f"SIGKILL of reporting's process group with {', '.join(kills)} events stored; restarted after each; "
        f"{reporting.intake_summary(lower_bound=True)}",
    )
    assert_nothing_lost_or_doubled(t, problems)


# --------------------------------------------------------------------------- outbox helpers


async def prepare_outbox(database_url: str, schema: str) -> None:
    conn = await connect(database_url)
    try:
        await migrate(conn, schema, [outbox.outbox_migration(schema)])
    finally:
        await conn.close()


async def write_outbox(
    database_url: str, schema: str, events: Sequence[CloudEvent], *, per_transaction: int, pause: float = 0.0
) -> None:
    """Strand-style writes: each transaction commits its events into the outbox
    (`shared.outbox.append`); the database is all they need."""
    conn = await connect(database_url)
    try:
        for start in range(0, len(events), per_transaction):
            chunk = events[start : start + per_transaction]
            async with conn.transaction():
                await outbox.append(conn, schema, [(e, e.routing_key()) for e in chunk])
            if pause:
                await asyncio.sleep(pause)
    finally:
        await conn.close()


async def outbox_backlog(database_url: str, schema: str) -> int:
    probe = Probe(database_url)
    try:
        value = await probe.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
        return -1 if value is None else int(value)
    finally:
        await probe.close()


def start_relay(
    scenario: Scenario, schema: str, *, log: str, batch_size: int = 500, kill_on_batch: int = 0, marker: str = "-"
) -> subprocess.Popen[bytes]:
    """An OutboxRelay in a process of its own (tests/faults/relay_child.py)."""
    return scenario.spawn(
        [sys.executable, "-m", "tests.faults.relay_child", schema, str(batch_size), str(kill_on_batch), marker],
        scenario.workdir / log,
    )


async def stop_relay(process: subprocess.Popen[bytes]) -> int:
    kill_group(process, signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 30)


async def wait_relayed(scenario: Scenario, schema: str, log: str) -> None:
    try:
        await eventually(
            lambda: outbox_backlog(scenario.database_url, schema),
            lambda n: n == 0,
            timeout=DRAIN_TIMEOUT,
            interval=0.2,
            what="every outbox row marked sent",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- relay log:\n{log_tail(scenario.workdir / log)}") from None


# --------------------------------------------------------------------------- 2. broker stopped and started


async def test_rabbitmq_stopped_and_started_while_a_strand_publishes_through_its_outbox(
    scenario: Scenario, fault_table
) -> None:
    """A strand writes events into its outbox in transactions while its relay (a process of
    its own) publishes them and reporting consumes. The broker goes away
    (`rabbitmqctl stop_app`) for a few seconds and comes back (`start_app`) twice: once in a
    lull, when the relay and reporting have caught up and wait for work (the writes resume
    while the broker is away), and once in the middle of a burst. The relay retries and
    re-sends what it cannot know was confirmed; reporting reconnects and deduplicates."""
    seed = 202
    events, facts = stream(seed)
    rng = random.Random(seed)
    schema = "strand"
    await prepare_outbox(scenario.database_url, schema)
    await prepare_bus(scenario.amqp_url, observer=True)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    reporting = await start_reporting(scenario)
    relay = start_relay(scenario, schema, log="relay.log")
    outages = []

    # A burst, then a lull: everything written so far is relayed and applied; both wait for work.
    lull = rng.randint(6_000, 9_000)
    await write_outbox(scenario.database_url, schema, events[:lull], per_transaction=50, pause=0.01)
    await wait_relayed(scenario, schema, "relay.log")
    outcome = await watch.wait(lull, drained=True, timeout=DRAIN_TIMEOUT)
    if outcome != "reached":
        problems.append(f"before the lull: {watch.describe(outcome, lull)}")
    await asyncio.to_thread(scenario.rabbit.stop_app)
    writing = asyncio.create_task(
        write_outbox(scenario.database_url, schema, events[lull:], per_transaction=50, pause=0.02)
    )
    down = rng.uniform(2.0, 4.0)
    await asyncio.sleep(down)  # the outage itself: the writes go on into the outbox
    await asyncio.to_thread(scenario.rabbit.start_app)
    outages.append(f"in a lull at {lull:,} stored (down {down:.1f}s)")

    # In a burst.
    if await reached(watch, rng.randint(11_000, 15_000), problems, reporting):
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        at = await watch.probe.stored()
        backlog = await outbox_backlog(scenario.database_url, schema)
        await asyncio.to_thread(scenario.rabbit.stop_app)
        down = rng.uniform(2.0, 4.0)
        await asyncio.sleep(down)
        await asyncio.to_thread(scenario.rabbit.start_app)
        outages.append(f"in a burst at {at:,} stored, {backlog:,} in the outbox (down {down:.1f}s)")
    await writing
    await wait_relayed(scenario, schema, "relay.log")
    await drain_and_stop(watch, reporting, problems)
    relay_code = await stop_relay(relay)

    t = await tally(scenario, events, facts)
    fault_table(
        t,
        label="RabbitMQ stop_app/start_app x2",
        faults=f"rabbitmqctl stop_app, start_app {'; '.join(outages)}; "
        f"{t.published - t.sent} re-sent by the relay; {reporting.intake_summary()}",
    )
    assert t.published >= t.sent
    assert_nothing_lost_or_doubled(t, problems)
    assert relay_code == 0, log_tail(scenario.workdir / "relay.log")


# --------------------------------------------------------------------------- 3. database restarted


async def test_postgresql_restarted_while_reporting_consumes(scenario: Scenario, fault_table) -> None:
    """`pg_ctl restart -m fast` twice while reporting consumes a backlog: every session is
    cut, in-flight batch transactions roll back (or commit without the client hearing of
    it); the intake retries the batch, unacked, and the event store deduplicates it."""
    seed = 303
    events, facts = stream(seed)
    rng = random.Random(seed)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    publishing = asyncio.create_task(publish(scenario.amqp_url, messages_of(events)))
    reporting = await start_reporting(scenario)
    restarts = []
    for lo, hi in ((3_000, 7_000), (10_000, 15_000)):
        if not await reached(watch, rng.randint(lo, hi), problems, reporting):
            break
        await asyncio.sleep(rng.uniform(0.0, 0.2))
        at = await watch.probe.stored()
        await asyncio.to_thread(scenario.postgres.restart)
        restarts.append(f"{at:,}")
        if at >= N:
            problems.append(f"a restart fell after the stream had drained ({at:,} stored): not mid-stream")
    published = await publishing
    await drain_and_stop(watch, reporting, problems)

    t = await tally(scenario, events, facts, published=published)
    fault_table(
        t,
        label="PostgreSQL restarted x2",
        faults=f"pg_ctl restart -m fast with {', '.join(restarts)} events stored; {reporting.intake_summary()}",
    )
    assert_nothing_lost_or_doubled(t, problems)


# --------------------------------------------------------------------------- 4. duplicates


def doubled_order(messages: Sequence[OutgoingMessage], rng: random.Random) -> list[OutgoingMessage]:
    """Each message twice: the copy follows 0-3,000 messages later (same batch or a later one)."""
    placed = [(i, 0, m) for i, m in enumerate(messages)]
    placed += [(i + rng.randint(0, 3_000), 1, m) for i, m in enumerate(messages)]
    placed.sort(key=lambda p: (p[0], p[1]))
    return [m for _, _, m in placed]


async def test_every_event_published_twice(scenario: Scenario, fault_table) -> None:
    """Every event is published twice, the copy anywhere from right behind the original
    (the same batch) to 3,000 messages later (a later batch)."""
    seed = 404
    events, facts = stream(seed)
    rng = random.Random(seed)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    reporting = await start_reporting(scenario)
    published = await publish(scenario.amqp_url, doubled_order(messages_of(events), rng))
    await drain_and_stop(watch, reporting, problems)

    t = await tally(scenario, events, facts, published=published)
    fault_table(
        t,
        label="every event published twice",
        faults="each event published twice, the copy 0-3,000 messages after the original; "
        f"{reporting.intake_summary()}",
    )
    assert t.published == 2 * N
    assert_nothing_lost_or_doubled(t, problems)
    assert reporting.intake["duplicates skipped"] == N, "every second copy is skipped as a duplicate"


# --------------------------------------------------------------------------- 5. poison


def poison_messages(rng: random.Random) -> list[tuple[str, OutgoingMessage]]:
    """(the error kind reporting should give it, message): every kind of poison it knows."""
    out: list[tuple[str, OutgoingMessage]] = []

    def audit(i: int, **changes: Any) -> dict[str, Any]:
        event = new_event(
            AuditGraded(
                audit_id=f"poison-a{i}",
                case_ref=pseudonym(f"case{i}"),
                service_area="send",
                team="send-north",
                audit_type="routine",
                completed_at="2022-08-10T10:00:00Z",
                area_grades=[{"area": "planning", "grade": "good"}],
                overall_grade="good",
                auditor_id="qa1",
            ),
            source="/qaloop/audit",
            tenant="E10000034",
            sequence=1,
            event_id=f"poison-{i}",
        )
        body = json.loads(event.to_json())
        body.update(changes)
        return body

    def add(kind: str, key: str, body: bytes, i: int) -> None:
        out.append((kind, OutgoingMessage(routing_key=key, body=body, message_id=f"poison-{i}")))

    i = 0
    for _ in range(300):
        i += 1
        add("not-json", "audit.AuditGraded", b"\xff\xfe{not json " + str(i).encode(), i)
    for _ in range(250):
        i += 1
        add("not-cloudevent", "casework.ReferralReceived", json.dumps({"hello": "world", "n": i}).encode(), i)
    for _ in range(200):
        i += 1
        add("unknown-type", "audit.AuditDreamed", json.dumps(audit(i, type="AuditDreamed")).encode(), i)
    for _ in range(240):
        i += 1
        body = audit(i)
        body["data"]["overall_grade"] = "brilliant"
        add("invalid-data", "audit.AuditGraded", json.dumps(body).encode(), i)
    for _ in range(6):
        i += 1
        add("oversized", "audit.AuditGraded", json.dumps(audit(i, padding="x" * 1_100_000)).encode(), i)
    for _ in range(10):  # an array nested 100,000 deep (~200 kB): deeper than any JSON parser recurses
        i += 1
        add("not-json", "audit.AuditGraded", b"[" * 100_000 + str(i).encode() + b"]" * 100_000, i)
    for _ in range(10):  # an integer of 5,000 digits in an event: more than Python converts (4,300)
        i += 1
        body = json.dumps(audit(i)).replace('"sequence"', '"n": ' + "9" * 5000 + ', "sequence"', 1)
        add("not-json", "audit.AuditGraded", body.encode(), i)
    for _ in range(4):  # valid events PostgreSQL cannot store (NUL in text): they fail their whole batch
        i += 1
        event = new_event(
            ReferralReceived(
                referral_id=f"poison-r{i}",
                child_ref=pseudonym("c"),
                received_at="2022-08-01T10:00:00Z",
                team="safe\x00guarding",
                service_area="childrens_social_care",
            ),
            source="/cms/mosaic",
            tenant="E10000034",
            event_id=f"poison-{i}",
        )
        add("handler-error", "casework.ReferralReceived", event.to_json(), i)
    for _ in range(20):  # a source reporting does not trust (QALOOP_BUS_SOURCES), or one publishing
        i += 1  # another strand's events
        source = "/intruder/laptop" if i % 2 else "/qaloop/feedback"
        add("untrusted-source", "audit.AuditGraded", json.dumps(audit(i, source=source)).encode(), i)
    for _ in range(20):  # a raw case number instead of a pseudonym, in data or in the subject
        i += 1
        body = audit(i)
        if i % 2:
            body["data"]["case_ref"] = f"MOS/{i:07d}"
        else:
            body["subject"] = f"case:MOS/{i:07d}"
        add("raw-identifier", "audit.AuditGraded", json.dumps(body).encode(), i)
    rng.shuffle(out)
    return out


def interleave(good: Sequence[OutgoingMessage], bad: Sequence[OutgoingMessage], rng: random.Random):
    slots = set(rng.sample(range(len(good) + len(bad)), len(bad)))
    g, b = iter(good), iter(bad)
    return [next(b) if k in slots else next(g) for k in range(len(good) + len(bad))]


async def test_poison_messages_interleaved(scenario: Scenario, fault_table) -> None:
    """1,060 poison messages of every kind (not JSON — among them arrays nested 100,000 deep
    and integers of 5,000 digits —, not a CloudEvent, unknown type, invalid data, oversized,
    valid events the database refuses, which fail their batch and are isolated, events from
    an untrusted source and events carrying a raw case number)
    interleaved at random with the 20,000 good ones: each poison message ends in the DLQ with
    its kind, every good event is applied once."""
    seed = 505
    events, facts = stream(seed)
    rng = random.Random(seed)
    poison = poison_messages(rng)
    mixed = interleave(messages_of(events), [m for _, m in poison], rng)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    reporting = await start_reporting(scenario)
    published = await publish(scenario.amqp_url, mixed)
    await drain_and_stop(watch, reporting, problems)

    t = await tally(scenario, events, facts, published=published)
    kinds = await dead_letter_kinds(scenario.amqp_url)
    sent_kinds: dict[str, int] = {}
    for kind, _ in poison:
        sent_kinds[kind] = sent_kinds.get(kind, 0) + 1
    fault_table(
        t,
        label=f"{len(poison):,} poison interleaved",
        faults=f"poison sent: {', '.join(f'{k} {n}' for k, n in sorted(sent_kinds.items()))}; "
        f"DLQ by x-qaloop-error-kind: {', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}; "
        f"{reporting.intake_summary()}",
        ok=t.lost == 0 and t.doubled == 0 and t.dead_letters == len(poison),
    )
    assert t.published == N + len(poison)
    assert t.dead_letters == len(poison), "poison sent == DLQ depth"
    assert kinds == sent_kinds
    assert_nothing_lost_or_doubled(t, problems, dead_letters=len(poison))


# --------------------------------------------------------------------------- 6. relay killed after the confirm


async def test_relay_killed_between_publish_and_marking_sent(scenario: Scenario, fault_table) -> None:
    """A relay process SIGKILLs itself right after the broker confirmed its Nth batch and
    before its `UPDATE … SET sent_at` commits: those rows stay unsent, a new relay re-sends
    them, and reporting applies every event once."""
    seed = 606
    events, facts = stream(seed)
    rng = random.Random(seed)
    schema = "strand"
    kill_on = rng.randint(4, 12)
    marker = scenario.workdir / "killed-batch.json"
    await prepare_outbox(scenario.database_url, schema)
    await prepare_bus(scenario.amqp_url, observer=True)
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    reporting = await start_reporting(scenario)
    writing = asyncio.create_task(write_outbox(scenario.database_url, schema, events, per_transaction=100))
    doomed = start_relay(scenario, schema, log="relay-killed.log", kill_on_batch=kill_on, marker=str(marker))
    code = await asyncio.to_thread(doomed.wait, 120)
    assert code == -signal.SIGKILL, f"the relay should have died:\n{log_tail(scenario.workdir / 'relay-killed.log')}"
    killed = json.loads(marker.read_text())
    conn = await connect(scenario.database_url)
    try:
        still_unsent = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL AND event_id = ANY($1::text[])",
            killed["ids"],
        )
    finally:
        await conn.close()
    assert still_unsent == killed["confirmed"] > 0, "the confirmed batch is still unsent in the outbox"

    relay = start_relay(scenario, schema, log="relay.log")
    await writing
    await wait_relayed(scenario, schema, "relay.log")
    await drain_and_stop(watch, reporting, problems)
    relay_code = await stop_relay(relay)

    t = await tally(scenario, events, facts)
    fault_table(
        t,
        label="relay killed after confirm",
        faults=f"relay SIGKILLed after the broker confirmed its batch {killed['batch']} "
        f"({killed['confirmed']} events), before marking it sent; a new relay re-sent it; "
        f"{reporting.intake_summary()}",
    )
    assert_nothing_lost_or_doubled(t, problems)
    assert t.published == N + killed["confirmed"], "exactly the killed batch was published twice"
    assert reporting.intake["duplicates skipped"] == killed["confirmed"]
    assert relay_code == 0, log_tail(scenario.workdir / "relay.log")


# --------------------------------------------------------------------------- 7. no connection slot to come back to


async def test_postgresql_out_of_connection_slots_when_reporting_reconnects(scenario: Scenario, fault_table) -> None:
    """Reporting's database connections die (a network blip: they are cut between it and
    PostgreSQL) at a moment when every connection slot of the server is taken — by other
    clients, and by the server side of reporting's own dead connections, which the server
    has not noticed yet. For a few seconds every reconnect is refused with "sorry, too many
    clients already". That is a database outage like any other: the intake must retry its
    batch, unacked, until a slot is free — not dead-letter the events."""
    seed = 707
    events, facts = stream(seed)
    rng = random.Random(seed)
    proxy = StrandingProxy(scenario.postgres.port)
    await proxy.start()
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    held: list[Any] = []
    faults = "did not get to the fault"
    try:
        publishing = asyncio.create_task(publish(scenario.amqp_url, messages_of(events)))
        reporting = await start_reporting(scenario, database_url=proxy.url(scenario.database))
        if await reached(watch, rng.randint(4_000, 8_000), problems, reporting):
            at = await watch.probe.stored()
            held = await take_every_free_slot(scenario.postgres.admin_url)
            slots = len(held)
            stranded = proxy.strand()
            await asyncio.sleep(4.0)  # the fault itself: no slot for reporting to reconnect to
            proxy.release()
            for conn in held:
                await conn.close()
            held = []
            faults = (
                f"with {at:,} events stored, {stranded} reporting connections cut while the other {slots} slots "
                "were held for 4 s"
            )
        published = await publishing
        await drain_and_stop(watch, reporting, problems)
    finally:
        for conn in held:
            conn.terminate()
        await proxy.close()

    t = await tally(scenario, events, facts, published=published)
    fault_table(t, label="PostgreSQL slots all taken", faults=f"{faults}; {reporting.intake_summary()}")
    assert_nothing_lost_or_doubled(t, problems)
