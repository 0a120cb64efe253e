"""Outbox relay against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse

import aio_pika
import pytest

from shared import outbox
from shared.bus import EXCHANGE, declare_topology
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
            seen.append(body)

    await queue.consume(collect)
    return connection, seen


async def test_events_written_while_the_broker_is_away_arrive_once_each_in_commit_order(servers):
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
        await asyncio.sleep(0.5)
        assert seen == []
        assert await outbox.backlog(conn, SCHEMA) == 150

        proxy.restore()
        await eventually(lambda: outbox.backlog(conn, SCHEMA), lambda n: n == 0, timeout=30, what="sent")
        # The broker goes away again, between publishes (a cut during a publish may make the
        # relay re-send a batch it cannot know was confirmed; consumers dedupe that case).
        proxy.cut()
        for i in range(151, 201):
            async with conn.transaction():
                await outbox.append(conn, SCHEMA, [(referral(i), "casework.ReferralReceived")])
        await asyncio.sleep(0.5)
        proxy.restore()
        await eventually(lambda: outbox.backlog(conn, SCHEMA), lambda n: n == 0, timeout=30, what="empty outbox")
        await eventually(lambda: _len(seen), lambda n: n >= 200, what="all 200 events")
        await asyncio.sleep(0.3)  # nothing more may arrive after the backlog is empty
        ids = [e["data"]["referral_id"] for e in seen]
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


async def _len(items: list) -> int:
    return len(items)


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
        await eventually(lambda: _len(seen), lambda n: n >= 300, what="300 events")
        await asyncio.sleep(0.3)
        assert len(seen) == 300
        assert [e["data"]["referral_id"] for e in seen] == [f"r{i}" for i in range(300)]
        assert sum(r.published for r in relays) == 300
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
