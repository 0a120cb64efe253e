"""Two and three reporting replicas on one queue, one of them SIGKILLed mid-stream (issue 16,
item 3): nothing lost or doubled, the figures and follow-ups are what one replica makes of
the same events, and each follow-up transition is published once.

Each replica is a `qaloop run reporting` process of its own (intake, follow-up clock and
outbox relay; QALOOP_AS_OF fixes its today), all consuming `reporting.events` as competing
consumers. Intake needs nothing more to be correct with several: every batch takes the read
models' writer lock (`store.lock_read_models`, a transaction-level advisory lock) before it
touches the event store, so batches commit one at a time whatever the process, and the
event store's (source, id) key drops a redelivered copy; the follow-up clocks take the same
lock and flag each transition in the transaction that writes it to the outbox. When a
replica dies its unacked batch goes back to the queue and a survivor applies it.

The stream: 20 tenants, 1,000 contract events each (20,000), published in time order while
the replicas consume. The reference: each tenant's facts written in one batch, in a
database of its own, through the same read-model path (tests/support/readmodels.py) — what
a single replica makes of them, whatever the batching.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest

from services.reporting.facts import fact_from_event
from services.reporting.kpis import Filters
from services.reporting.learning import FLAGS, followup_of, transitions
from services.simulation.stream import contract_stream
from shared.bus import FOLLOWUPS_QUEUE
from shared.calendar import default_calendar, parse_period
from shared.events import CloudEvent
from tests.faults.harness import (
    IntakeMeter,
    Probe,
    ReportingProcess,
    Scenario,
    StreamWatch,
    expected_facts,
    log_tail,
    messages_of,
    publish,
    tally,
)
from tests.faults.test_faults import DRAIN_TIMEOUT, N, assert_nothing_lost_or_doubled, reached
from tests.support.readmodels import ReadModelHarness
from tests.support.wait import eventually

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

TODAY = date(2023, 6, 30)
TENANTS = tuple(f"E{10000100 + i:08d}" for i in range(20))
PERIODS = [parse_period(p) for p in ("2022-23", "2022-23-Q3")]
SLICES = [Filters(), Filters("send")]


def tenants_stream() -> list[CloudEvent]:
    per_tenant = N // len(TENANTS)
    events = [e for i, t in enumerate(TENANTS) for e in contract_stream(per_tenant, seed=1700 + i, tenant=t)]
    events.sort(key=lambda e: (e.time, e.id))
    assert len({(e.source, e.id) for e in events}) == N
    return events


@pytest.fixture
async def reference(scenario: Scenario) -> AsyncIterator[ReadModelHarness]:
    """The read-model path on a database of its own, next to the scenario's."""
    name = f"{scenario.database}_reference"
    admin = await asyncpg.connect(scenario.postgres.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    harness = await asyncio.to_thread(ReadModelHarness, scenario.postgres.url(name))
    try:
        yield harness
    finally:
        await asyncio.to_thread(harness.close)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def pending_transitions(conn: asyncpg.Connection) -> int:
    """Follow-up transitions due by TODAY not yet written to reporting's outbox, plus outbox
    rows not yet relayed."""
    rows = await conn.fetch("SELECT * FROM reporting.followups")
    due = sum(len(transitions(followup_of(r), {k: bool(r[k]) for k in FLAGS}, TODAY)) for r in rows)
    unsent = await conn.fetchval("SELECT count(*) FROM reporting.outbox WHERE sent_at IS NULL")
    return due + int(unsent)


async def transitions_published(scenario: Scenario) -> Counter[tuple[str, str, str]]:
    """Every transition the clocks wrote, (tenant, type, subject) -> rows; once nothing is
    pending (every one written and relayed)."""
    conn = await asyncpg.connect(scenario.database_url)
    try:
        await eventually(
            lambda: pending_transitions(conn), lambda n: n == 0, timeout=60, what="every transition published"
        )
        rows = await conn.fetch("SELECT body FROM reporting.outbox ORDER BY position")
    finally:
        await conn.close()
    bodies = [json.loads(bytes(r["body"])) for r in rows]
    return Counter((b["tenant"], b["type"], b["subject"]) for b in bodies)


def differences(live: ReadModelHarness, reference: ReadModelHarness, events: list[CloudEvent]) -> list[str]:
    """Per tenant: follow-ups and KPI values (PERIODS x SLICES) that differ from the
    reference's, which is first loaded with the tenant's facts in one batch."""
    calendar = default_calendar()
    out = []
    for tenant in TENANTS:
        facts = [f for e in events if e.tenant == tenant and (f := fact_from_event(e, e.typed_data())) is not None]
        reference.load(facts, calendar=calendar, tenant=tenant)
        if live.followups(tenant) != reference.followups(tenant):
            out.append(f"{tenant}: follow-ups differ")
        for filters in SLICES:
            if live.figures(tenant, PERIODS, filters, today=TODAY) != reference.figures(
                tenant, PERIODS, filters, today=TODAY
            ):
                out.append(f"{tenant}: KPI values differ for {filters}")
    return out


async def run_replicas(
    scenario: Scenario, k: int, rng: random.Random
) -> tuple[dict[str, Any], Counter[tuple[str, str, str]], list[str]]:
    """The stream through `k` replicas, one SIGKILLed mid-stream; the survivors drain it
    and publish every transition, then stop."""
    events = tenants_stream()
    replicas = [ReportingProcess(scenario, QALOOP_AS_OF=TODAY.isoformat()) for _ in range(k)]
    for i, replica in enumerate(replicas):
        replica.log = scenario.workdir / f"reporting-{i}.log"
        replica.start()
    await asyncio.gather(*(r.ready() for r in replicas))
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    meter = IntakeMeter(scenario.database_url, N)
    meter.start()
    problems: list[str] = []
    publishing = asyncio.create_task(publish(scenario.amqp_url, messages_of(events)))
    victim, fault, at_fault = rng.randrange(k), "did not get to the fault", None
    try:
        if await reached(watch, rng.randint(5_000, 9_000), problems, replicas[victim]):
            await asyncio.sleep(rng.uniform(0.0, 0.2))
            at = await watch.probe.stored()
            at_fault = time.monotonic()
            await replicas[victim].kill()
            fault = f"SIGKILL of replica {victim + 1} of {k} with {at:,} events stored (not restarted)"
        published = await publishing
        outcome = await watch.wait(N, drained=True, timeout=DRAIN_TIMEOUT, interval=0.2)
        if outcome != "reached":
            problems.append(watch.describe(outcome, N))
    finally:
        await meter.stop()
    stall = meter.still(at_fault) if at_fault is not None else None
    survivors = [r for i, r in enumerate(replicas) if i != victim]
    sent = await transitions_published(scenario)
    await watch.probe.close()
    for replica in survivors:
        await replica.stop()
    if problems:
        problems += [f"--- {r.log.name}:\n{log_tail(r.log)}" for r in replicas]
    run = {"events": events, "replicas": replicas, "published": published, "fault": fault, "stall": stall}
    return run, sent, problems


@pytest.mark.parametrize("k", [2, 3])
async def test_reporting_replicas_one_killed_mid_stream(
    scenario: Scenario, reference: ReadModelHarness, fault_table, k: int
) -> None:
    rng = random.Random(1700 + k)
    run, sent, problems = await run_replicas(scenario, k, rng)
    events, replicas = run["events"], run["replicas"]
    t = await tally(scenario, events, expected_facts(events), published=run["published"])
    live = await asyncio.to_thread(ReadModelHarness, scenario.database_url)
    try:
        differ = await asyncio.to_thread(differences, live, reference, events)
    finally:
        await asyncio.to_thread(live.close)
    copies = await asyncio.to_thread(scenario.messages, FOLLOWUPS_QUEUE)
    applied = [int(r.intake["applied"]) for r in replicas]
    fault_table(
        t,
        label=f"reporting x{k}, one SIGKILLed",
        faults=f"{run['fault']}; intake stood still {run['stall'] or 0:.1f} s at most after it; "
        f"{len(TENANTS)} tenants; events applied per replica {applied} (the killed one's "
        f"read before the kill); {sum(sent.values()):,} follow-up transitions written, "
        f"{max(sent.values(), default=0)} at most per transition, {copies:,} messages in {FOLLOWUPS_QUEUE}; "
        f"follow-ups and KPI values of {len(TENANTS)} tenants x {len(PERIODS)} periods x {len(SLICES)} slices "
        f"{'equal' if not differ else 'DIFFER from'} a single replica's",
        ok=t.lost == 0 and t.doubled == 0 and not differ and max(sent.values(), default=0) == 1,
        stall=run["stall"],
    )
    assert_nothing_lost_or_doubled(t, problems)
    assert all(n > 0 for n in applied), f"every replica took batches: {applied}"
    assert not differ, differ[:5]
    assert sent and max(sent.values()) == 1, [key for key, n in sent.items() if n > 1][:5]
    assert copies >= sum(sent.values()), "every transition reached reporting.followups"
