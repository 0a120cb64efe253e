"""A caller's traceparent reaches the events its request writes (and the response)."""

from __future__ import annotations

import json

import aio_pika
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import EXCHANGE, declare_topology
from shared.settings import get_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_traceparent_is_carried_into_the_event_envelope(servers):
    get_settings.cache_clear()
    from services.audit.app import build

    service, app = build()
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel)
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(await channel.get_exchange(EXCHANGE), "audit.ConcernRaised")
    await service.start()
    try:
        token = issue_token(get_settings(), ["audit:write"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.post(
                "/v1/concerns",
                json={
                    "service_area": "send",
                    "theme": "management_oversight",
                    "description": "oversight of SEND plans is not recorded",
                    "measures": ["new supervision template"],
                    "review_by": "2030-01-31",
                },
                headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
            )
            assert r.status_code in (200, 201), r.text
            assert r.headers["traceparent"].split("-")[1] == TRACE
        message = await eventually(lambda: queue.get(fail=False), lambda m: m is not None, what="ConcernRaised")
        await message.ack()
        assert json.loads(message.body)["traceparent"].split("-")[1] == TRACE
    finally:
        await service.stop()
        await connection.close()
