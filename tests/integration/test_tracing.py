"""One OpenTelemetry trace from an HTTP request to the follow-up it opens in reporting
(shared/tracing.py), on the real RabbitMQ and PostgreSQL, spans kept by an in-memory exporter.

A caller's `traceparent` is continued by the audit service's request span; the event the
request writes to the outbox carries its outbox-write span as the CloudEvents `traceparent`;
the relay's publish (the aio-pika producer span) is that span's child; reporting's batch is
the publish's child, and the follow-up the batch opens is the batch's child; the
FollowUpOpened that reporting's clock publishes for it later is written and published in
that trace too. The test runs in a vhost and database of its own, so that no other test's
events share the batch. (The waits are long: the outbox relay holds back a row while any
older transaction on the PostgreSQL server is open, and other work shares the server.)"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from shared import tracing
from shared.auth import issue_token
from shared.bus import EXCHANGE, declare_topology
from shared.settings import Settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CONCERN = {
    "service_area": "send",
    "theme": "management_oversight",
    "description": "oversight of SEND plans is not recorded",
    "measures": ["new supervision template"],
    "review_by": "2030-01-31",
}


@pytest.fixture
async def traced(servers: srv.Servers) -> AsyncIterator[tuple[Settings, InMemorySpanExporter]]:
    """Tracing on with an in-memory exporter, in a vhost and database of the test's own."""
    async with srv.module_servers(servers, "tracing") as (amqp_url, database_url):
        settings = Settings(amqp_url=amqp_url, database_url=database_url)
        exporter = InMemorySpanExporter()
        assert tracing.setup(settings, "test", exporter=exporter)
        try:
            yield settings, exporter
        finally:
            tracing.shutdown()


def by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def parent_of(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return spans.get(span.parent.span_id) if span.parent is not None else None


def one(spans: list[ReadableSpan], what: str, **match: Any) -> ReadableSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items() if k != "attr")]
    for key, value in match.get("attr", {}).items():
        found = [s for s in found if s.attributes is not None and s.attributes.get(key) == value]
    assert len(found) == 1, f"{what}: {[s.name for s in found]}"
    return found[0]


async def test_one_trace_from_the_request_to_the_follow_up_it_opens(traced) -> None:
    settings, exporter = traced
    from services.audit.app import build as build_audit
    from services.reporting.app import build as build_reporting

    reporting, _ = build_reporting(settings=settings, clock=lambda: date(2029, 6, 1), followup_interval=0.1)
    audit, app = build_audit(settings)
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel)
    copy = await channel.declare_queue("", exclusive=True)  # the event as published, to read its envelope
    await copy.bind(await channel.get_exchange(EXCHANGE), "audit.ConcernRaised")
    await reporting.start()
    await audit.start()
    try:
        token = issue_token(settings, ["audit:write"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.post(
                "/v1/concerns",
                json=CONCERN,
                headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"},
            )
        assert r.status_code == 201, r.text
        concern_id = r.json()["concern_id"]
        message = await eventually(
            lambda: copy.get(fail=False), lambda m: m is not None, what="ConcernRaised", timeout=60
        )
        await message.ack()
        envelope = json.loads(message.body)
        opened = await eventually(
            lambda: _spans_named(exporter, "follow-ups opened"),
            lambda found: len(found) > 0,
            what="follow-up span",
            timeout=60,
        )
        await eventually(  # the clock publishes the follow-up's FollowUpOpened through reporting's relay
            lambda: _spans_named(exporter, "qa.events,reporting.FollowUpOpened send"),
            lambda found: len(found) > 0,
            what="FollowUpOpened publish span",
            timeout=60,
        )
        async with reporting.pool.acquire() as conn:  # type: ignore[union-attr]
            followup = await conn.fetchval(
                "SELECT followup_id FROM reporting.followups WHERE origin_id = $1", concern_id
            )
        access_trace = await _access_log_trace(settings)
    finally:
        await audit.stop()
        await reporting.stop()
        await connection.close()

    spans = list(exporter.get_finished_spans())
    index = by_id(spans)
    request = one(spans, "the request", kind=SpanKind.SERVER, name="POST /v1/concerns")
    write = one(spans, "the outbox write", name="outbox write ConcernRaised")
    publish = one(spans, "the relay's publish", kind=SpanKind.PRODUCER, attr={"messaging.message.id": envelope["id"]})
    batch = one(spans, "reporting's batch", kind=SpanKind.CONSUMER, name="reporting.events process")
    [followups] = opened
    chain = [request, write, publish, batch, followups]

    # one trace, the caller's
    assert {format_trace_id(s.context.trace_id) for s in chain} == {TRACE}
    assert format_span_id(request.parent.span_id) == CALLER_SPAN and request.parent.is_remote
    # each step the child of the one before
    for parent, child in itertools.pairwise(chain):
        assert parent_of(child, index) is parent, f"{child.name} under {parent.name}"
    # the event carries its outbox write as its CloudEvents traceparent
    assert envelope["traceparent"] == f"00-{TRACE}-{format_span_id(write.context.span_id)}-01"
    # the follow-up opened is the concern's, and the database work sits in the trace
    assert followup == f"concern-targeted-audit:{concern_id}"
    assert followup in followups.attributes["qaloop.followup_ids"]
    assert any(s.attributes.get("db.system") == "postgresql" and parent_of(s, index) is request for s in spans)
    assert any(s.attributes.get("db.system") == "postgresql" and parent_of(s, index) is batch for s in spans)
    # the FollowUpOpened the clock publishes later carries on the trace the follow-up opened in
    announce = one(spans, "the FollowUpOpened write", name="outbox write FollowUpOpened")
    announced = one(
        spans, "the FollowUpOpened publish", kind=SpanKind.PRODUCER, name="qa.events,reporting.FollowUpOpened send"
    )
    assert parent_of(announce, index) is followups and parent_of(announced, index) is announce
    assert {format_trace_id(s.context.trace_id) for s in (announce, announced)} == {TRACE}
    # the access log names the request's trace
    assert access_trace == TRACE


async def _spans_named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


async def _access_log_trace(settings: Settings) -> str | None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval("SELECT trace_id FROM audit.access_log WHERE route = '/v1/concerns'")
    finally:
        await conn.close()


async def test_tracing_is_off_without_an_endpoint(servers, monkeypatch) -> None:
    """No endpoint configured: no span, no instrumentation, events carry no traceparent."""
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert not tracing.setup(settings, "test") and not tracing.enabled()
    from services.audit.app import build

    service, app = build(settings)
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel)
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(await channel.get_exchange(EXCHANGE), "audit.ConcernRaised")
    await service.start()
    try:
        token = issue_token(settings, ["audit:write"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            r = await client.post(
                "/v1/concerns",
                json=CONCERN,
                headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"},
            )
            assert r.status_code == 201, r.text
        message = await eventually(
            lambda: queue.get(fail=False), lambda m: m is not None, what="ConcernRaised", timeout=60
        )
        await message.ack()
        assert json.loads(message.body).get("traceparent") is None
        assert "traceparent" not in (message.headers or {})
    finally:
        await service.stop()
        await connection.close()
