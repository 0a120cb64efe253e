"""The batching consumer and idempotent inbox against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import asyncpg
import pytest

from shared.bus import DLX, EXCHANGE, KIND_HEADER, REASON_HEADER, declare_topology
from shared.db import Migration, create_pool, migrate
from shared.events import ReferralReceived, new_event
from shared.inbox import BatchConsumer, Handler, Received, TableInbox, inbox_migration
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

QUEUE = "reporting.events"


def referral_event(i: int, event_id: str | None = None):
    data = ReferralReceived(
        referral_id=f"r{i}",
        child_ref=f"c{i}",
        received_at="2022-08-01T10:00:00Z",
        team="safeguarding",
        service_area="childrens_social_care",
    )
    return new_event(data, source="/cms/test", tenant="E1", event_id=event_id)


@dataclass
class Rig:
    """A schema with an inbox and a `referrals` table, and reporting.events emptied."""

    servers: object
    schema: str
    pool: asyncpg.Pool
    channel: aio_pika.abc.AbstractChannel
    exchange: aio_pika.abc.AbstractExchange
    dlq: aio_pika.abc.AbstractQueue

    async def send(self, body: bytes, key: str = "casework.ReferralReceived") -> None:
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self.exchange.publish(message, key, mandatory=True)

    def consumer(self, handler: Handler) -> BatchConsumer:
        return BatchConsumer(
            amqp_url=self.servers.amqp_url,  # type: ignore[attr-defined]
            pool=self.pool,
            queue=QUEUE,
            inbox=TableInbox(self.schema),
            handler=handler,
            max_wait_ms=2000,
            idle_ms=500,  # generous, so that the messages queued before the start are one batch
        )

    async def insert(self, conn: asyncpg.Connection, events: list[Received]) -> None:
        await conn.executemany(
            f"INSERT INTO {self.schema}.referrals (referral_id) VALUES ($1)",
            [(e.data.referral_id,) for e in events],  # type: ignore[attr-defined]
        )

    async def applied(self) -> list[str]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT referral_id FROM {self.schema}.referrals ORDER BY referral_id")
        return [r["referral_id"] for r in rows]

    async def dead_letter(self) -> aio_pika.abc.AbstractIncomingMessage:
        return await eventually(lambda: self.dlq.get(fail=False), lambda m: m is not None, what="a dead letter")


@pytest.fixture
async def rig(servers, request) -> AsyncIterator[Rig]:
    schema = "inbox_" + request.node.name.removeprefix("test_")[:50]  # one schema per test
    pool = await create_pool(servers.database_url)
    async with pool.acquire() as conn:
        ddl = f"CREATE TABLE {schema}.referrals (referral_id text, n int NOT NULL DEFAULT 1)"
        await migrate(conn, schema, [inbox_migration(schema, 1), Migration(2, "referrals", ddl)])
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    await (await channel.get_queue(QUEUE)).purge()
    dlq = await channel.get_queue(f"{QUEUE}.dlq")
    await dlq.purge()
    try:
        yield Rig(servers, schema, pool, channel, exchange, dlq)
    finally:
        await connection.close()
        await pool.close()


async def _stat(consumer: BatchConsumer, name: str) -> int:
    return int(getattr(consumer.stats, name))


async def one_batch(consumer: BatchConsumer) -> None:
    """Run the consumer until it has settled one batch, then stop it."""
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: _stat(consumer, "batches"), lambda n: n >= 1, timeout=30, what="one batch")
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)


async def test_duplicates_apply_once_and_one_invalid_message_is_dead_lettered(rig: Rig):
    # Published before the consumer starts, so that they arrive as one batch.
    twice = referral_event(1)
    await rig.send(twice.to_json())
    await rig.send(twice.to_json())  # the same event delivered twice
    await rig.send(referral_event(2).to_json())
    bad = json.loads(referral_event(3).to_json())
    del bad["data"]["child_ref"]  # invalid data
    await rig.send(json.dumps(bad).encode())
    await rig.send(referral_event(4).to_json())

    consumer = rig.consumer(rig.insert)
    task = asyncio.create_task(consumer.run())
    try:
        found = await eventually(rig.applied, lambda r: len(r) >= 3, what="three referrals applied")
        assert found == ["r1", "r2", "r4"]
        assert consumer.stats.duplicates == 1
        assert consumer.stats.batches == 1, "the five messages were taken as one batch"

        # A redelivery later (same id) changes nothing either.
        await rig.send(twice.to_json())
        await eventually(lambda: _stat(consumer, "duplicates"), lambda n: n == 2, what="duplicate skipped")
        assert len(await rig.applied()) == 3

        message = await rig.dead_letter()
        assert message.headers[KIND_HEADER] == "invalid-data"
        assert "data.child_ref" in message.headers[REASON_HEADER]
        assert json.loads(message.body)["data"]["referral_id"] == "r3"
        await message.ack()
        # A dead letter is confirmed by the broker before the batch is acked and counted.
        assert consumer.stats.dead_lettered == 1
        assert await rig.dlq.get(fail=False) is None, "only that one"
        assert (await rig.channel.get_queue(QUEUE)).declaration_result.message_count == 0
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)


@dataclass
class FailingHandler:
    """Inserts the referrals, but first fails `outages` calls with a deadlock (an outage),
    fails every call that holds r13 (the culprit), and `alike` calls with an error that is
    not an outage's. `calls` holds the referral ids of every call."""

    rig: Rig
    outages: int = 0
    alike: int = 0

    def __post_init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, conn: asyncpg.Connection, events: list[Received]) -> None:
        self.calls.append([e.data.referral_id for e in events])  # type: ignore[attr-defined]
        if self.outages:
            self.outages -= 1
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        if "r13" in self.calls[-1]:
            raise ValueError("r13 cannot be applied")
        if self.alike:
            self.alike -= 1
            raise RuntimeError("a dropped link that does not look like one")
        await self.rig.insert(conn, events)


async def test_an_outage_is_retried_and_the_culprit_isolated_and_dead_lettered(rig: Rig, caplog):
    """A database outage is retried (and counted); an event the handler cannot apply is found
    by splitting the batch, tried once more and dead-lettered alone with its reason."""
    caplog.set_level(logging.WARNING, logger="shared.inbox")
    for i in (11, 12, 13):
        await rig.send(referral_event(i).to_json())
    handler = FailingHandler(rig, outages=1)
    consumer = rig.consumer(handler)
    await one_batch(consumer)

    assert handler.calls == [
        ["r11", "r12", "r13"],  # the outage
        ["r11", "r12", "r13"],  # retried: r13 fails the batch
        ["r11"],  # one by one: the rest still commit
        ["r12"],
        ["r13"],
        ["r13"],  # tried once more, then dead-lettered
    ]
    assert (consumer.stats.retries, consumer.stats.applied, consumer.stats.dead_lettered) == (1, 2, 1)
    assert await rig.applied() == ["r11", "r12"]
    message = await rig.dead_letter()
    assert json.loads(message.body)["data"]["referral_id"] == "r13"
    assert message.headers[KIND_HEADER] == "handler-error"
    assert message.headers[REASON_HEADER] == "ValueError: r13 cannot be applied"
    await message.ack()
    assert await rig.dlq.get(fail=False) is None, "only that one"
    assert any("database unavailable (deadlock detected); retrying batch of 3" in m for m in caplog.messages)


async def test_a_failure_every_event_shares_retries_the_batch_whole(rig: Rig, caplog):
    """Every event of a batch failing alike is more likely the database than the events:
    the batch is retried whole (not dead-lettered, not counted as an outage)."""
    caplog.set_level(logging.WARNING, logger="shared.inbox")
    for i in (21, 22):
        await rig.send(referral_event(i).to_json())
    handler = FailingHandler(rig, alike=5)
    consumer = rig.consumer(handler)
    await one_batch(consumer)

    assert handler.calls == [["r21", "r22"], ["r21"], ["r21"], ["r22"], ["r22"], ["r21", "r22"]]
    assert (consumer.stats.retries, consumer.stats.applied, consumer.stats.dead_lettered) == (0, 2, 0)
    assert await rig.applied() == ["r21", "r22"]
    assert await rig.dlq.get(fail=False) is None
    assert any("every event of a batch of 2 failed with RuntimeError; retrying it whole" in m for m in caplog.messages)


def test_dead_letter_exchange_name_matches_contract():
    assert (EXCHANGE, DLX) == ("qa.events", "qa.events.dlx")
