"""Two reporting replicas on one queue and one database (as two `qaloop run reporting`
would be): the figures and follow-ups equal what one process makes of the same events, and
each follow-up transition is published once, however the two clocks race."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import date

import aio_pika
import asyncpg
import pytest

from services.reporting.facts import fact_from_event
from services.reporting.kpis import Filters
from services.simulation.stream import contract_stream
from shared.bus import OutgoingMessage, Publisher, declare_topology
from shared.calendar import default_calendar, parse_period
from shared.settings import get_settings
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TODAY = date(2023, 6, 30)
TENANTS = ("E10000034", "E06000001")
PERIODS = [parse_period(p) for p in ("2022-23", "2022-23-Q2", "2022-23-Q4", "2022-11")]
SLICES = [Filters(), Filters("send"), Filters(None, "safeguarding")]


async def test_two_replicas_give_one_replicas_figures_and_publish_each_transition_once(servers, readmodels):
    get_settings.cache_clear()
    from services.reporting.app import build

    replicas = [build(clock=lambda: TODAY, followup_interval=0.05)[0] for _ in range(2)]
    await fresh_reporting_state(replicas[0], servers)
    streams = {t: contract_stream(1500, seed=i + 3, tenant=t) for i, t in enumerate(TENANTS)}
    events = [e for stream in streams.values() for e in stream]
    rng = random.Random(11)
    sent = events + rng.sample(events, 300)  # redelivered copies too
    rng.shuffle(sent)
    for r in replicas:
        await r.start()
    try:
        connection = await aio_pika.connect(servers.amqp_url)
        channel = await connection.channel()
        await declare_topology(channel)
        await channel.close()
        publisher = Publisher(connection)
        messages = [OutgoingMessage(routing_key=e.routing_key(), body=e.to_json(), message_id=e.id) for e in sent]
        for i in range(0, len(messages), 500):
            assert await publisher.publish_many(messages[i : i + 500]) == len(messages[i : i + 500])
        conn = await asyncpg.connect(servers.database_url)
        try:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) FROM reporting.event_store"),
                lambda n: n == len(events),
                timeout=120,
                what="every event stored once",
            )
            batches = [r.consumer.stats.batches for r in replicas if r.consumer]
            assert all(n > 0 for n in batches), f"both replicas took batches: {batches}"
            # Both clocks publish at once, several times over.
            for _ in range(3):
                await asyncio.gather(*(r.transitions.run_once() for r in replicas if r.transitions))
            rows = [
                json.loads(bytes(r["body"]))
                for r in await conn.fetch("SELECT body FROM reporting.outbox ORDER BY position")
            ]
            retracted: dict[str, set[str]] = {}
            for r in await conn.fetch("SELECT tenant, followup_id FROM reporting.followups_retracted"):
                retracted.setdefault(r["tenant"], set()).add(r["followup_id"])
        finally:
            await conn.close()
        await connection.close()
    finally:
        for r in replicas:
            await r.stop()

    published = Counter((r["tenant"], r["type"], r["subject"]) for r in rows)
    assert published, "transitions were published"
    assert max(published.values()) == 1, [k for k, n in published.items() if n > 1][:5]

    calendar = default_calendar()
    for tenant, stream in streams.items():
        facts = [f for e in stream if (f := fact_from_event(e, e.typed_data())) is not None]
        reference = readmodels.load(facts, calendar=calendar)  # one process, one batch
        assert readmodels.followups(tenant) == readmodels.followups(reference)
        # Every follow-up that holds and has opened was announced; any other announcement is of
        # one that held for a while as events arrived out of order, and was then retracted.
        opened = {s for (t, kind, s) in published if t == tenant and kind == "FollowUpOpened"}
        holding = {f"followup:{f.followup_id}" for f in readmodels.followups(reference) if f.opened_on <= TODAY}
        assert holding <= opened
        assert opened - holding <= {f"followup:{i}" for i in retracted.get(tenant, set())}
        for filters in SLICES:
            live = readmodels.figures(tenant, PERIODS, filters, today=TODAY)
            assert live == readmodels.figures(reference, PERIODS, filters, today=TODAY)
