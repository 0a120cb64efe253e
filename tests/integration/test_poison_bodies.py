"""Bodies that break a JSON parser (issue #13, item 2) against the real broker and database:
an array nested 100,000 deep (~200 kB), an integer of 5,000 digits, invalid UTF-8 and raw
binary, interleaved with valid events in one batch. Each bad message is dead-lettered alone
with its reason; every good event is applied and none is dead-lettered; the consumer never
takes a bad body for a lost broker (it stays ready); and the dead-letter views —
`GET /v1/ops/dlq`, `GET /v1/ops/dlq/{id}`, `qaloop ops dlq list` and `show` — show them all."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aio_pika
import httpx
import pytest

from services import cli
from services.reporting import ops as reporting_ops
from shared.auth import issue_token
from shared.bus import KIND_HEADER, REASON_HEADER, REPORTING_QUEUE, declare_topology
from shared.db import Migration, create_pool, migrate
from shared.events import ReferralReceived, new_event
from shared.inbox import MAX_JSON_DEPTH, BatchConsumer, Received, TableInbox, inbox_migration
from shared.service import StrandService
from shared.settings import get_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SCHEMA = "poison_bodies_test"
QUEUE = REPORTING_QUEUE

# (message id, what reporting should say of it, body)
POISON = [
    ("nested-array", "nested deeper than", b"[" * 100_000 + b"]" * 100_000),
    ("huge-integer", "4300 digits", b'{"specversion": "1.0", "sequence": ' + b"9" * 5000 + b"}"),
    ("invalid-utf8", "not JSON", b'{"id": "\xff\xfe\xfa"}'),
    ("binary", "not JSON", bytes(range(256)) * 4),
]


def referral(i: int):
    data = ReferralReceived(
        referral_id=f"pb{i}",
        child_ref=f"c{i}",
        received_at="2022-08-01T10:00:00Z",
        team="safeguarding",
        service_area="childrens_social_care",
    )
    return new_event(data, source="/cms/poison-bodies", tenant="E10000034", event_id=f"poison-bodies-good-{i}")


async def test_bodies_that_break_the_parser_are_dead_lettered_alone(servers, caplog, capsys):
    caplog.set_level(logging.WARNING, logger="shared.inbox")
    pool = await create_pool(servers.database_url)
    async with pool.acquire() as conn:
        await migrate(
            conn,
            SCHEMA,
            [
                inbox_migration(SCHEMA, 1),
                Migration(2, "referrals", f"CREATE TABLE {SCHEMA}.referrals (referral_id text NOT NULL)"),
            ],
        )
        await conn.execute(f"TRUNCATE {SCHEMA}.referrals, {SCHEMA}.inbox")

    async def apply(conn, events: list[Received]) -> None:
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

    # Published before the consumer starts, so that good and bad arrive in the same batches:
    # three valid events before and after each bad one.
    good = [referral(i) for i in range(3 * (len(POISON) + 1))]
    stream: list[tuple[str, bytes]] = []
    for n, (message_id, _, body) in enumerate(POISON):
        stream += [(e.id, e.to_json()) for e in good[3 * n : 3 * n + 3]]
        stream.append((message_id, body))
    stream += [(e.id, e.to_json()) for e in good[-3:]]
    for message_id, body in stream:
        await exchange.publish(
            aio_pika.Message(body, message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            "casework.ReferralReceived",
            mandatory=True,
        )

    consumer = BatchConsumer(
        amqp_url=servers.amqp_url,
        pool=pool,
        queue=QUEUE,
        inbox=TableInbox(SCHEMA),
        handler=apply,
        max_wait_ms=2000,
        idle_ms=500,
    )
    task = asyncio.create_task(consumer.run())
    not_ready: list[float] = []

    async def watch_readiness() -> None:
        await consumer.ready.wait()
        while True:
            if not consumer.ready.is_set():
                not_ready.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch_readiness())
    try:

        async def applied() -> list[str]:
            async with pool.acquire() as conn:
                rows = await conn.fetch(f"SELECT referral_id FROM {SCHEMA}.referrals")
            return sorted(r["referral_id"] for r in rows)

        found = await eventually(applied, lambda r: len(r) >= len(good), what="every good event applied")
        assert found == sorted(f"pb{i}" for i in range(len(good)))
        await eventually(
            lambda: _dead_lettered(consumer), lambda n: n >= len(POISON), what="every bad body dead-lettered"
        )
        assert consumer.stats.dead_lettered == len(POISON), "the bad bodies alone: no good event dead-lettered"
        assert consumer.ready.is_set() and not_ready == [], "readiness never dropped"
        assert consumer.stats.retries == 0
        assert not [r for r in caplog.records if "lost the broker" in r.getMessage()]

        # Each bad body in the DLQ with its kind and reason; nothing else there.
        letters: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
        while (message := await dlq.get(fail=False, no_ack=False)) is not None:
            letters[str(message.message_id)] = message
        assert set(letters) == {message_id for message_id, _, _ in POISON}
        for message_id, says, body in POISON:
            headers = letters[message_id].headers
            assert headers[KIND_HEADER] == "not-json", (message_id, headers)
            assert says in str(headers[REASON_HEADER]), (message_id, headers[REASON_HEADER])
            assert letters[message_id].body == body
        assert str(MAX_JSON_DEPTH) in str(letters["nested-array"].headers[REASON_HEADER])
        for message in letters.values():
            await message.nack(requeue=True)
        await eventually(_ready_count(channel), lambda n: n == len(POISON), what="the dead letters given back")
    finally:
        watcher.cancel()
        consumer.stop()
        await asyncio.wait_for(task, 10)
        await pool.close()

    # The dead-letter views show every one of them.
    get_settings.cache_clear()
    service = StrandService(name="opsviews", migrations_dir=Path("/nonexistent"), settings=get_settings())
    app = service.create_app([reporting_ops.router], title="ops views")
    admin = {"Authorization": "Bearer " + issue_token(service.settings, ["ops:admin"])}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops") as client:
        listed = await client.get("/v1/ops/dlq", headers=admin)
        assert listed.status_code == 200, listed.text[:500]
        assert listed.json()["depth"] == len(POISON)
        summaries = {d["id"]: d for d in listed.json()["dead_letters"]}
        assert set(summaries) == {message_id for message_id, _, _ in POISON}
        assert all(d["kind"] == "not-json" and d["event_type"] is None for d in summaries.values())
        for message_id, _, body in POISON:
            shown = await client.get(f"/v1/ops/dlq/{message_id}", headers=admin)
            assert shown.status_code == 200, shown.text[:500]
            event = shown.json()["event"]
            assert isinstance(event, str) and 0 < len(event) <= 1100, (message_id, len(event))
            assert shown.json()["bytes"] == len(body)

    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "list"]) == 0
    table = capsys.readouterr().out
    assert f"{len(POISON)} dead letter(s)" in table
    assert all(message_id in table for message_id, _, _ in POISON)
    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["dead_letters"]) == len(POISON)
    for message_id, _, _ in POISON:
        assert await asyncio.to_thread(cli.main, ["ops", "dlq", "show", message_id]) == 0
        assert message_id in capsys.readouterr().out
        assert await asyncio.to_thread(cli.main, ["ops", "dlq", "show", message_id, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["id"] == message_id and isinstance(shown["event"], str) and len(shown["event"]) <= 1100
    await dlq.purge()
    await connection.close()


async def _dead_lettered(consumer: BatchConsumer) -> int:
    return consumer.stats.dead_lettered


def _ready_count(channel: aio_pika.abc.AbstractChannel):
    async def probe() -> int:
        queue = await channel.declare_queue(f"{QUEUE}.dlq", passive=True)
        return int(queue.declaration_result.message_count or 0)

    return probe
