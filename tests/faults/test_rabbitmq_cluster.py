"""A three-node RabbitMQ cluster loses a node mid-stream (issue 16, item 1): nothing lost,
nothing counted twice, and how long intake stood still, measured.

The cluster is the suite's own (tests/faults/servers.py `PrivateRabbitCluster`: three nodes
on this machine, each with its own node name, AMQP and distribution ports and data
directories, joined with `rabbitmqctl join_cluster`), started once per session. Each
scenario gets its own vhost on it and its own database; reporting.events, its dead-letter
queue and the observer queue are quorum queues replicated on all three nodes (the cluster's
default group size; checked before the stream starts).

The stream is the fault suite's 20,000 contract events, sent the way a strand sends them: a
writer commits them into a strand's outbox in transactions of 50 while an outbox relay (a
process of its own, tests/faults/relay_child.py) publishes them, persistent, mandatory and
confirmed, and reporting (`qaloop run reporting`) consumes. Reporting and the relay are given
every node (QALOOP_AMQP_URL, comma-separated), the node the fault hits first, so that both
lose their connection with it and must reconnect to a survivor. Counted as in
test_faults.py, with `published` read from the observer queue (re-sends included).

Beyond lost / doubled, each scenario records the longest time reporting's event store did
not grow from the moment of the fault until the stream was all stored ("intake stood
still"), sampled every 0.1 s, next to the longest such gap before the fault.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable

import pytest

from shared.bus import REPORTING_QUEUE
from tests.faults.harness import (
    DLQ,
    OBSERVER_QUEUE,
    IntakeMeter,
    Probe,
    ReportingProcess,
    Scenario,
    StreamWatch,
    prepare_bus,
    tally,
)
from tests.faults.servers import PrivateRabbit, PrivateRabbitCluster, QuorumStatus
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
    write_outbox,
)

# The first scenario also starts the cluster (40-90 s on two busy cores).
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

SCHEMA = "strand"
RELAY_LOG = "relay.log"

# What the fault does to the node it is given; returns how it went, for the table.
Fault = Callable[[PrivateRabbitCluster, PrivateRabbit, random.Random], Awaitable[str]]


def replicated_on_all(cluster: PrivateRabbitCluster, vhost: str) -> QuorumStatus:
    """reporting.events' membership, after checking that it, its dead-letter queue and the
    observer queue each have a replica on every node, all online."""
    everyone = {n.node for n in cluster.nodes}
    statuses = {q: cluster.quorum_status(vhost, q) for q in (REPORTING_QUEUE, DLQ, OBSERVER_QUEUE)}
    for queue, status in statuses.items():
        assert set(status.members) == everyone, f"{queue} is replicated on {status.members}, not on all three"
        assert set(status.online) == everyone, f"{queue}: only {status.online} online"
    return statuses[REPORTING_QUEUE]


def short(node: str) -> str:
    """`qaloopcluster-1a2b3c-0@localhost` -> `node 0`."""
    return "node " + node.partition("@")[0].rpartition("-")[2]


async def through_the_cluster(
    scenario: Scenario,
    fault_table,
    *,
    seed: int,
    label: str,
    target: Callable[[QuorumStatus, random.Random], str],
    fault: Fault,
) -> None:
    """The stream through a strand's outbox, its relay and reporting, all connected first to
    the node `target` picks; `fault` hits that node once mid-stream. Counts and asserts."""
    cluster = scenario.rabbit
    assert isinstance(cluster, PrivateRabbitCluster)
    events, facts = stream(seed)
    rng = random.Random(seed)
    await prepare_outbox(scenario.database_url, SCHEMA)
    await prepare_bus(scenario.amqp_url, observer=True, quorum_observer=True)
    status = await asyncio.to_thread(replicated_on_all, cluster, scenario.vhost)
    victim = cluster.node_named(target(status, rng))
    first = cluster.nodes.index(victim)
    url = cluster.url(scenario.vhost, order=[first, *(i for i in range(len(cluster.nodes)) if i != first)])

    reporting = ReportingProcess(scenario, QALOOP_AMQP_URL=url)
    reporting.start()
    await reporting.ready()
    relay = scenario.spawn(
        [sys.executable, "-m", "tests.faults.relay_child", SCHEMA, "500", "0", "-"],
        scenario.workdir / RELAY_LOG,
        QALOOP_AMQP_URL=url,
    )
    meter = IntakeMeter(scenario.database_url, N)
    meter.start()
    watch = StreamWatch(scenario, Probe(scenario.database_url))
    problems: list[str] = []
    writing = asyncio.create_task(write_outbox(scenario.database_url, SCHEMA, events, per_transaction=50, pause=0.01))
    faults, at_fault = "did not get to the fault", None
    try:
        if await reached(watch, rng.randint(5_000, 9_000), problems, reporting):
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            at = await watch.probe.stored()
            backlog = await outbox_backlog(scenario.database_url, SCHEMA)
            at_fault = time.monotonic()
            what = await fault(cluster, victim, rng)
            faults = (
                f"{what} ({short(victim.node)}; the leader was {short(status.leader)}; reporting and the relay "
                f"were connected to it) with {at:,} events stored, {backlog:,} waiting in the outbox"
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
    after = await asyncio.to_thread(cluster.quorum_status, scenario.vhost, REPORTING_QUEUE)

    t = await tally(scenario, events, facts)
    fault_table(
        t,
        label=label,
        faults=f"{faults}; afterwards the leader is {short(after.leader)}, "
        f"{len(after.online)} of {len(after.members)} replicas online; intake stood still "
        f"{'-' if stall is None else f'{stall:.1f}'} s at most after the fault (before it: {before:.1f} s); "
        f"{t.published - t.sent} re-sent by the relay; {reporting.intake_summary()}",
        stall=stall,
    )
    assert at_fault is not None, "\n".join(problems)
    assert t.published >= t.sent
    assert_nothing_lost_or_doubled(t, problems)
    assert relay_code == 0, f"the relay exited with {relay_code}"


def a_follower(status: QuorumStatus, rng: random.Random) -> str:
    return rng.choice(sorted(set(status.members) - {status.leader}))


def the_leader(status: QuorumStatus, rng: random.Random) -> str:
    return status.leader


async def sigkill(cluster: PrivateRabbitCluster, node: PrivateRabbit, rng: random.Random) -> str:
    await asyncio.to_thread(node.kill)
    return "SIGKILL of the node's Erlang VM"


async def stop_and_rejoin(cluster: PrivateRabbitCluster, node: PrivateRabbit, rng: random.Random) -> str:
    """`rabbitmqctl stop_app` (the node closes every connection and leaves the queues' Raft
    groups), a few seconds away while the writes and the relay go on, then `start_app`: it
    rejoins the cluster and its replica catches up."""
    await asyncio.to_thread(node.stop_app)
    down = rng.uniform(3.0, 5.0)
    await asyncio.sleep(down)
    await asyncio.to_thread(node.start_app)
    return f"rabbitmqctl stop_app, {down:.1f} s later start_app"


async def test_a_follower_node_killed_mid_stream(cluster_scenario: Scenario, fault_table) -> None:
    """A node that holds a follower replica of reporting.events — and the connections of
    reporting and the relay — is SIGKILLed: both reconnect to a survivor; the leader goes on
    with two of three replicas, which is still a majority."""
    await through_the_cluster(
        cluster_scenario, fault_table, seed=1601, label="cluster: follower SIGKILLed", target=a_follower, fault=sigkill
    )


async def test_the_queue_leader_node_killed_mid_stream(cluster_scenario: Scenario, fault_table) -> None:
    """The node that holds reporting.events' leader — and the connections of reporting and
    the relay — is SIGKILLed: the two followers elect a new leader; publishes the relay
    cannot know were confirmed are re-sent and deduplicated; reporting's unacked batch comes
    back and is applied once."""
    await through_the_cluster(
        cluster_scenario, fault_table, seed=1602, label="cluster: leader SIGKILLed", target=the_leader, fault=sigkill
    )


async def test_a_node_stopped_and_rejoined_while_a_strand_publishes(cluster_scenario: Scenario, fault_table) -> None:
    """The node the strand's relay and reporting are connected to (the queue's leader) is
    stopped with `rabbitmqctl stop_app` mid-stream while the strand keeps writing into its
    outbox, and started again a few seconds later: it rejoins, and the queue is back to three
    replicas online."""
    scenario = cluster_scenario
    await through_the_cluster(
        scenario,
        fault_table,
        seed=1603,
        label="cluster: node stop_app/start_app",
        target=the_leader,
        fault=stop_and_rejoin,
    )
    cluster = scenario.rabbit
    assert isinstance(cluster, PrivateRabbitCluster)
    status = await asyncio.to_thread(cluster.quorum_status, scenario.vhost, REPORTING_QUEUE)
    assert set(status.online) == {n.node for n in cluster.nodes}, f"not every replica is back online: {status}"
