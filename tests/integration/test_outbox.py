"""Outbox relay against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.parse

import aio_pika
import pytest
from prometheus_client import REGISTRY

from shared import outbox
from shared.bus import EXCHANGE, PUBLISHED_AT_HEADER, declare_topology
from shared.db import connect, migrate
from shared.events import ReferralReceived, new_event
from tests.support.proxy import CuttableProxy
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SCHEMA = "outbox_test"


def referral(i: int):
    data = ReferralReceived(
        referral_id=f"r{i}",
        child_ref=f"c{i}",
        received_at="2022-08-01T10:00:00Z",
        team="safeguarding",
        service_area="childrens_social_care",
    )
    return new_event(data, source="/cms/test", tenant="E1", sequence=i)


async def _observer(amqp_url: str, name: str):
    """A queue bound to every casework event, to see what the relay published."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await declare_topology(channel)
    exchange = await channel.get_exchange(EXCHANGE)
    queue = await channel.declare_queue(name, exclusive=True)
    await queue.bind(exchange, "casework.#")
    seen: list[dict] = []

    async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert message.content_type == "application/cloudevents+json"
            body = json.loads(message.body)
            assert message.message_id == body["id"]
            stamp = (message.headers or {}).get(PUBLISHED_AT_HEADER)  # publish -> visible starts here
            assert isinstance(stamp, int) and abs(stamp / 1000 - time.time()) < 60, stamp
            seen.append(body)

    await queue.consume(collect)
    return connection, seen


async def test_events_written_while_the_broker_is_away_arrive_once_each_in_commit_order(servers, caplog):
    caplog.set_level(logging.WARNING, logger="shared.outbox")
    conn = await connect(servers.database_url)
    await migrate(conn, SCHEMA, [outbox.outbox_migration(SCHEMA)])
    observer, seen = await _observer(servers.amqp_url, "outbox-observer-1")
    amqp = urllib.parse.urlsplit(servers.amqp_url)
    proxy = CuttableProxy(amqp.hostname or "localhost", amqp.port or 5672)
    await proxy.start()
    proxy.cut()  # the broker is unreachable for the relay from the start
    relay = outbox.OutboxRelay(
        servers.database_url, proxy.url_for(servers.amqp_url), SCHEMA, poll_interval=0.2, max_backoff=0.5
    )
    task = asyncio.create_task(relay.run())
    try:
        for i in range(1, 151):  # each in its own business transaction
            async with conn.transaction():
                await outbox.append(conn, SCHEMA, [(referral(i), "casework.ReferralReceived")])
        await _relay_tried_again(caplog)
        assert seen == []
        assert await outbox.backlog(conn, SCHEMA) == 150
        assert _relay_connected() == 0.0

        proxy.restore()
        await eventually(lambda: outbox.backlog(conn, SCHEMA), lambda n: n == 0, timeout=30, what="sent")
        assert _relay_connected() == 1.0
        # The broker goes away again, between publishes (a cut during a publish may make the
        # relay re-send a batch it cannot know was confirmed; consumers dedupe that case).
        proxy.cut()
        for i in range(151, 201):
            async with conn.transaction():
                await outbox.append(conn, SCHEMA, [(referral(i), "casework.ReferralReceived")])
        await _relay_tried_again(caplog)
        assert await outbox.backlog(conn, SCHEMA) == 50
        proxy.restore()
        await eventually(lambda: outbox.backlog(conn, SCHEMA), lambda n: n == 0, timeout=30, what="empty outbox")
        await _flushed(conn, SCHEMA, seen, 201)
        ids = [e["data"]["referral_id"] for e in seen]
        assert ids[-1] == "r201", "the flush marker comes last"
        ids = ids[:-1]
        assert len(set(ids)) == 200, "every event arrives"
        assert len(ids) == 200, f"each exactly once (got {len(ids)} deliveries)"
        assert ids == [f"r{i}" for i in range(1, 201)], "in commit order"
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        await proxy.close()
        await observer.close()
        await conn.close()


def _relay_connected() -> float | None:
    return REGISTRY.get_sample_value("qaloop_outbox_relay_connected", {"schema": SCHEMA})


async def _len(items: list) -> int:
    return len(items)


async def _relay_tried_again(caplog) -> None:
    """Wait until the relay has failed to reach the broker twice more: at least one whole
    attempt began after this point (what the relay does while the broker is away)."""

    async def failures() -> int:
        return sum(1 for r in caplog.records if r.name == "shared.outbox" and "retrying in" in r.getMessage())

    before = await failures()
    await eventually(failures, lambda n: n >= before + 2, timeout=15, what="the relay to try again")


async def _flushed(conn, schema: str, seen: list, marker: int) -> None:
    """Send one more event through the outbox and wait for it: the relay publishes in
    position order, so whatever it published before (a re-sent duplicate included) has
    reached the observer's queue, and so `seen`, by the time the marker is there."""
    async with conn.transaction():
        await outbox.append(conn, schema, [(referral(marker), "casework.ReferralReceived")])
    await eventually(
        lambda: _len(seen),
        lambda _: any(e["data"]["referral_id"] == f"r{marker}" for e in seen),
        what=f"the marker r{marker}",
    )


async def test_a_relay_waiting_to_retry_stops_at_once(servers, caplog):
    """The back-off grows (with jitter) while the broker stays away; `stop()` ends the wait
    and the relay at once, however long the wait was to be."""
    caplog.set_level(logging.WARNING, logger="shared.outbox")
    amqp = urllib.parse.urlsplit(servers.amqp_url)
    proxy = CuttableProxy(amqp.hostname or "localhost", amqp.port or 5672)
    await proxy.start()
    proxy.cut()
    relay = outbox.OutboxRelay(servers.database_url, proxy.url_for(servers.amqp_url), "outbox_test_stop")
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _waits(caplog), lambda w: len(w) >= 5, timeout=15, what="five failed attempts")
        waits = await _waits(caplog)
        # The n-th wait is between half and all of 0.1 * 2**(n-1) seconds.
        for n, wait in enumerate(waits[:5]):
            assert 0.05 * 2**n - 0.05 <= wait <= 0.1 * 2**n + 0.05, waits
        relay.stop()
        await asyncio.wait_for(task, 0.5)  # the wait under way is at least 0.8 s
    finally:
        task.cancel()
        await proxy.close()
    assert task.done() and not task.cancelled(), "the relay returned by itself"


async def _waits(caplog) -> list[float]:
    messages = [r.getMessage() for r in caplog.records if r.name == "shared.outbox"]
    return [float(m.rsplit("retrying in ", 1)[1].rstrip("s")) for m in messages if "retrying in " in m]


async def test_two_relays_never_publish_the_same_row_twice(servers):
    schema = "outbox_test_two"
    conn = await connect(servers.database_url)
    await migrate(conn, schema, [outbox.outbox_migration(schema)])
    observer, seen = await _observer(servers.amqp_url, "outbox-observer-2")
    relays = [outbox.OutboxRelay(servers.database_url, servers.amqp_url, schema, batch_size=20) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        for chunk in range(10):
            async with conn.transaction():
                await outbox.append(
                    conn, schema, [(referral(chunk * 30 + i), "casework.ReferralReceived") for i in range(30)]
                )
        await eventually(lambda: outbox.backlog(conn, schema), lambda n: n == 0, timeout=30, what="empty outbox")
        await _flushed(conn, schema, seen, 300)
        assert len(seen) == 301, "each event once, and the marker"
        assert [e["data"]["referral_id"] for e in seen] == [f"r{i}" for i in range(301)]

        async def published() -> int:  # a relay counts its batch after marking it sent: the
            return sum(r.published for r in relays)  # marker can reach `seen` a moment before

        assert await eventually(published, lambda n: n >= 301, what="the relays' counts") == 301
    finally:
        for r in relays:
            r.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await observer.close()
        await conn.close()


async def test_an_unroutable_publish_is_an_error_not_silence(servers):
    from shared.bus import OutgoingMessage, Publisher

    connection = await aio_pika.connect(servers.amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel)
        publisher = Publisher(connection)
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await publisher.publish(OutgoingMessage("nobody.listens", b"{}", "x1"))
    finally:
        await connection.close()
