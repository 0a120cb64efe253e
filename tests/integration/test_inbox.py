"""The batching consumer and idempotent inbox against the real broker and database."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest

from shared.bus import DLX, EXCHANGE, KIND_HEADER, REASON_HEADER, declare_topology
from shared.db import create_pool, migrate
from shared.events import ReferralReceived, new_event
from shared.inbox import BatchConsumer, Received, TableInbox, inbox_migration
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SCHEMA = "inbox_test"
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


async def test_duplicates_apply_once_and_one_invalid_message_is_dead_lettered(servers):
    pool = await create_pool(servers.database_url)
    async with pool.acquire() as conn:
        await migrate(
            conn,
            SCHEMA,
            [
                inbox_migration(SCHEMA, 1),
                __import__("shared.db", fromlist=["Migration"]).Migration(
                    2, "counts", f"CREATE TABLE {SCHEMA}.referrals (referral_id text, n int NOT NULL DEFAULT 1)"
                ),
            ],
        )

    async def count_referrals(conn, events: list[Received]) -> None:
        await conn.executemany(
            f"INSERT INTO {SCHEMA}.referrals (referral_id) VALUES ($1)",
            [(e.data.referral_id,) for e in events],  # type: ignore[attr-defined]
        )

    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    await (await channel.get_queue(QUEUE)).purge()
    dlq = await channel.get_queue(f"{QUEUE}.dlq")
    await dlq.purge()

    async def send(body: bytes, key: str = "casework.ReferralReceived") -> None:
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), key, mandatory=True
        )

    # Published before the consumer starts, so that they arrive as one batch.
    twice = referral_event(1)
    await send(twice.to_json())
    await send(twice.to_json())  # the same event delivered twice
    await send(referral_event(2).to_json())
    bad = json.loads(referral_event(3).to_json())
    del bad["data"]["child_ref"]  # invalid data
    await send(json.dumps(bad).encode())
    await send(referral_event(4).to_json())

    consumer = BatchConsumer(
        amqp_url=servers.amqp_url,
        pool=pool,
        queue=QUEUE,
        inbox=TableInbox(SCHEMA),
        handler=count_referrals,
        max_wait_ms=2000,
        idle_ms=500,  # generous, so that the five queued messages are one batch
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def rows():
            async with pool.acquire() as conn:
                return await conn.fetch(f"SELECT referral_id FROM {SCHEMA}.referrals ORDER BY referral_id")

        found = await eventually(rows, lambda r: len(r) >= 3, what="three referrals applied")
        assert [r["referral_id"] for r in found] == ["r1", "r2", "r4"]
        assert consumer.stats.duplicates == 1
        assert consumer.stats.batches == 1, "the five messages were taken as one batch"

        # A redelivery later (same id) changes nothing either.
        await send(twice.to_json())
        await eventually(lambda: _stat(consumer, "duplicates"), lambda n: n == 2, what="duplicate skipped")
        assert len(await rows()) == 3

        message = await _get(dlq)
        assert message is not None, "the invalid message is in the dead-letter queue"
        assert message.headers[KIND_HEADER] == "invalid-data"
        assert "data.child_ref" in message.headers[REASON_HEADER]
        assert json.loads(message.body)["data"]["referral_id"] == "r3"
        await message.ack()
        assert await _get(dlq) is None, "only that one"
        assert (await channel.get_queue(QUEUE)).declaration_result.message_count == 0
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 10)
        await connection.close()
        await pool.close()


async def _stat(consumer: BatchConsumer, name: str) -> int:
    return int(getattr(consumer.stats, name))


async def _get(queue: aio_pika.abc.AbstractQueue):
    for _ in range(40):
        message = await queue.get(fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    return None


def test_dead_letter_exchange_name_matches_contract():
    assert (EXCHANGE, DLX) == ("qa.events", "qa.events.dlx")
