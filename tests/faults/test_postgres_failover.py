"""The PostgreSQL primary is lost mid-stream and its standby promoted (issue 16, item 2):
nothing lost, nothing counted twice, and how long intake stood still, measured.

The scenario has a primary and a streaming standby of its own (tests/faults/servers.py
`PrivatePostgresPair`: `pg_basebackup -R`, then `synchronous_standby_names = '*'`, so that
every commit a client was told of is on the standby too). Every party reaches the database
through one multi-host URL, the primary first —
`postgresql://…@127.0.0.1:<primary>,127.0.0.1:<standby>/<db>?target_session_attrs=read-write`
— as QALOOP_DATABASE_URL: reporting (`qaloop run reporting`: intake, follow-up clock and
its outbox relay), a strand's outbox relay (a process of its own, tests/faults/relay_child.py)
and the strand's writes (the test, committing 20,000 contract events into the outbox in
transactions of 50). Mid-stream the primary's postmaster and every process it started are
SIGKILLed together (the machine is gone) and, 1-3 s later (a failover manager noticing), the
standby is promoted (`pg_ctl promote`): meanwhile every connection attempt finds the dead
host and a standby that refuses writes, and fails; once it is promoted, the next one lands
on it.

A transaction whose commit was in flight when the primary died leaves its client unsure
whether it committed: reporting's batch is unacked, so it comes back and is deduplicated;
the relay re-sends rows it could not mark sent; the writer looks for its transaction's
events before writing them again (the outbox's event ids are unique). Counted as in
test_faults.py, with `published` from the observer queue (re-sends included).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections.abc import Sequence

import asyncpg
import pytest

from shared import outbox
from shared.db import connect
from shared.events import CloudEvent
from shared.inbox import TRANSIENT_ERRORS
from tests.faults.harness import IntakeMeter, Probe, ReportingProcess, Scenario, StreamWatch, prepare_bus, tally
from tests.faults.servers import PrivatePostgresPair
from tests.faults.test_faults import (
    N,
    assert_nothing_lost_or_doubled,
    drain_and_stop,
    outbox_backlog,
    prepare_outbox,
    reached,
    stop_relay,
    stream,
    wait_relayed,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

SCHEMA = "strand"
RELAY_LOG = "relay.log"


class FailoverWriter:
    """A strand's writes into its outbox that outlive the primary: after a failed
    transaction it reconnects (through the multi-host URL) and, since the commit may have
    happened all the same, writes the chunk again only if none of its events is there."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.failures = 0
        self.found_committed = 0
        self._conn: asyncpg.Connection | None = None

    async def _committed(self, conn: asyncpg.Connection, chunk: Sequence[CloudEvent]) -> bool:
        found = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.outbox WHERE event_id = ANY($1::text[])", [e.id for e in chunk]
        )
        assert found in (0, len(chunk)), f"{found} of a transaction's {len(chunk)} events committed"
        return bool(found)

    async def _write(self, chunk: Sequence[CloudEvent], unsure: bool) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self.database_url)
        if unsure and await self._committed(self._conn, chunk):
            self.found_committed += 1
            return
        async with self._conn.transaction():
            await outbox.append(self._conn, SCHEMA, [(e, e.routing_key()) for e in chunk])

    async def write(self, events: Sequence[CloudEvent], *, per_transaction: int, pause: float) -> None:
        try:
            for start in range(0, len(events), per_transaction):
                unsure = False
                while True:
                    try:
                        await self._write(events[start : start + per_transaction], unsure)
                        break
                    except TRANSIENT_ERRORS:
                        self.failures += 1
                        unsure = True
                        if self._conn is not None:
                            self._conn.terminate()
                        self._conn = None
                        await asyncio.sleep(0.2)
                await asyncio.sleep(pause)
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()


async def test_postgresql_primary_killed_and_standby_promoted_mid_stream(
    failover_scenario: Scenario, fault_table
) -> None:
    scenario = failover_scenario
    pair = scenario.postgres
    assert isinstance(pair, PrivatePostgresPair)
    seed = 1604
    events, facts = stream(seed)
    rng = random.Random(seed)
    await prepare_outbox(scenario.database_url, SCHEMA)
    await prepare_bus(scenario.amqp_url, observer=True)
    reporting = ReportingProcess(scenario)
    reporting.start()
    await reporting.ready()
    relay = scenario.spawn(
        [sys.executable, "-m", "tests.faults.relay_child", SCHEMA, "500", "0", "-"], scenario.workdir / RELAY_LOG
    )
    meter = IntakeMeter(scenario.database_url, N)
    meter.start()
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    writer = FailoverWriter(scenario.database_url)
    writing = asyncio.create_task(writer.write(events, per_transaction=50, pause=0.01))
    faults, at_fault = "did not get to the fault", None
    try:
        if await reached(watch, rng.randint(5_000, 9_000), problems, reporting):
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            at = await watch.probe.stored()
            backlog = await outbox_backlog(scenario.database_url, SCHEMA)
            await watch.probe.close()  # its connection dies with the primary anyway
            detection = rng.uniform(1.0, 3.0)
            at_fault = time.monotonic()
            await asyncio.to_thread(pair.fail_over, detection)
            took = time.monotonic() - at_fault
            faults = (
                f"SIGKILL of the primary (postmaster and every backend) with {at:,} events stored, {backlog:,} "
                f"waiting in the outbox; the synchronous standby promoted {took:.1f} s later "
                f"(pg_ctl promote after {detection:.1f} s)"
            )
            if at >= N:
                problems.append(f"the fault fell after the stream had drained ({at:,} stored): not mid-stream")
        await writing
        await wait_relayed(scenario, SCHEMA, RELAY_LOG)
        await drain_and_stop(watch, reporting, problems)
        relay_code = await stop_relay(relay)
    finally:
        await meter.stop()
    stall = meter.still(at_fault) if at_fault is not None else None
    before = meter.still_before(at_fault) if at_fault is not None else 0.0

    t = await tally(scenario, events, facts)
    fault_table(
        t,
        label="PostgreSQL primary lost, standby promoted",
        faults=f"{faults}; intake stood still {'-' if stall is None else f'{stall:.1f}'} s at most after the fault "
        f"(before it: {before:.1f} s); the writer lost {writer.failures} transaction(s), "
        f"{writer.found_committed} of them committed all the same; {t.published - t.sent} re-sent by the relay; "
        f"{reporting.intake_summary()}",
        stall=stall,
    )
    assert at_fault is not None, "\n".join(problems)
    assert pair.failed_over and not pair.primary.running
    assert t.published >= t.sent
    assert_nothing_lost_or_doubled(t, problems)
    assert relay_code == 0, f"the relay exited with {relay_code}"
