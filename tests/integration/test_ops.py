"""Operations against the real broker and database: dead-letter replay brings a fixed event
back into the projections exactly once; the queue table; the ops endpoints' roles; metrics
after real traffic; readiness with and without the database (public: ready or not; the reasons
for an ops:admin token and in the log)."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import aio_pika
import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from services import cli
from shared.auth import issue_token
from shared.bus import (
    DEAD_AT_HEADER,
    DLX,
    FOLLOWUPS_QUEUE,
    KIND_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_QUEUE_HEADER,
    REASON_HEADER,
    REPORTING_QUEUE,
    OutgoingMessage,
    Publisher,
    connect,
    declare_topology,
)
from shared.events import AuditGraded, new_event
from shared.ops import Operations
from shared.settings import Settings, get_settings
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.proxy import CuttableProxy
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TENANT = "E10000034"
T = TypeVar("T")


def graded(audit_id: str, grade: str = "good", completed_at: str = "2022-08-10T10:00:00Z"):
    return new_event(
        AuditGraded(
            audit_id=audit_id,
            case_ref=pseudonym(f"case-{audit_id}"),
            service_area="send",
            team="send-east",
            audit_type="routine",
            completed_at=completed_at,
            area_grades=[{"area": "planning", "grade": grade}],
            overall_grade=grade,
            auditor_id="qa1",
        ),
        source="/qaloop/audit",
        tenant=TENANT,
        sequence=1,
    )


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def current(read: Callable[[], T]) -> T:
    """A plain value as an awaitable probe for `eventually`."""
    return read()


@pytest.fixture
def management_env(servers, monkeypatch):
    """Point the management API setting at this run's RabbitMQ."""
    if servers.management_url:
        monkeypatch.setenv("QALOOP_RABBITMQ_MANAGEMENT_URL", servers.management_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def reporting(servers, management_env):
    from services.reporting.app import build

    service, app = build(clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    await fresh_reporting_state(service, servers)
    await service.start()
    assert service.consumer is not None
    await asyncio.wait_for(service.consumer.ready.wait(), 10)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield service, client
    await client.aclose()
    await service.stop()


@pytest.fixture
async def channel(servers):
    connection = await aio_pika.connect(servers.amqp_url)
    ch = await connection.channel()
    await declare_topology(ch)
    yield ch
    await connection.close()


def admin() -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(get_settings(), ["ops:admin"])}


async def dead_letter(channel, event, *, queue: str = REPORTING_QUEUE, key: str = "audit.AuditGraded") -> None:
    """Put `event` in `queue`'s DLQ as the consumer would have, with its reason headers."""
    dlx = await channel.get_exchange(DLX)
    await dlx.publish(
        aio_pika.Message(
            event.to_json(),
            content_type="application/cloudevents+json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=event.id,
            headers={
                REASON_HEADER: "KeyError: 'send-east' (fixed in release 1.2)",
                KIND_HEADER: "handler-error",
                ORIGINAL_KEY_HEADER: key,
                ORIGINAL_QUEUE_HEADER: queue,
                DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
            },
        ),
        routing_key=queue,
        mandatory=True,
    )


async def stored_copies(servers, event_id: str) -> int:
    conn = await asyncpg.connect(servers.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM reporting.event_store WHERE id = $1", event_id))
    finally:
        await conn.close()


async def test_replay_brings_a_fixed_dead_letter_back_into_the_projections_once(reporting, channel, servers):
    service, client = reporting
    assert service.consumer is not None
    dlq = await channel.get_queue(f"{REPORTING_QUEUE}.dlq")
    await dlq.purge()
    fixed = graded("dl-1", "inadequate")
    await dead_letter(channel, fixed)

    # Listing and showing leave it where it is, with its reason.
    listed = (await client.get("/v1/ops/dlq", headers=admin())).json()
    assert listed["queue"] == "reporting.events.dlq" and listed["depth"] == 1
    [item] = listed["dead_letters"]
    assert item["id"] == fixed.id and item["kind"] == "handler-error" and "fixed in release" in item["reason"]
    assert item["event_type"] == "AuditGraded" and item["original_routing_key"] == "audit.AuditGraded"
    shown = (await client.get(f"/v1/ops/dlq/{fixed.id}", headers=admin())).json()
    assert shown["event"]["data"]["audit_id"] == "dl-1" and shown["headers"][KIND_HEADER] == "handler-error"
    assert (await client.get("/v1/ops/dlq/no-such-id", headers=admin())).status_code == 404
    assert (await client.get("/v1/ops/dlq", headers=admin())).json()["depth"] == 1
    assert await stored_copies(servers, fixed.id) == 0

    # Replay: back on qa.events under audit.AuditGraded, applied once, gone from the DLQ.
    r = await client.post("/v1/ops/dlq/replay", json={"ids": [fixed.id]}, headers=admin())
    assert r.status_code == 200 and r.json() == {"replayed": [fixed.id], "skipped": {}, "not_found": []}
    await eventually(lambda: stored_copies(servers, fixed.id), lambda n: n == 1, what="the replayed event applied")
    status = (await client.get("/v1/projections/status", headers=admin())).json()
    assert status["events_applied"] == 1
    assert (await client.get("/v1/ops/dlq", headers=admin())).json()["depth"] == 0

    # Replaying again from the empty DLQ changes nothing.
    r = await client.post("/v1/ops/dlq/replay", json={"ids": [fixed.id]}, headers=admin())
    assert r.json() == {"replayed": [], "skipped": {}, "not_found": [fixed.id]}
    assert (await client.post("/v1/ops/dlq/replay", json={"all": True}, headers=admin())).json()["replayed"] == []

    # A second copy of the same dead letter (say, dead-lettered twice) is replayed and skipped
    # by the inbox: still one event in the store, one applied.
    duplicates = service.consumer.stats.duplicates
    await dead_letter(channel, fixed)
    result = await Operations(servers.amqp_url).dlq_replay(REPORTING_QUEUE)
    assert result.replayed == [fixed.id]
    await eventually(
        lambda: current(lambda: service.consumer.stats.duplicates),
        lambda n: n == duplicates + 1,
        what="the duplicate skipped",
    )
    assert await stored_copies(servers, fixed.id) == 1
    status = (await client.get("/v1/projections/status", headers=admin())).json()
    assert status["events_applied"] == 1 and status["dead_letters"] == 0

    # Still poison after the "fix": replayed once, dead-lettered again with its reason.
    poison = json.loads(graded("dl-2").to_json())
    poison["data"]["overall_grade"] = "brilliant"
    dlx = await channel.get_exchange(DLX)
    await dlx.publish(
        aio_pika.Message(
            json.dumps(poison).encode(),
            message_id=poison["id"],
            headers={ORIGINAL_KEY_HEADER: "audit.AuditGraded", KIND_HEADER: "handler-error"},
        ),
        routing_key=REPORTING_QUEUE,
        mandatory=True,
    )
    assert (await Operations(servers.amqp_url).dlq_replay(REPORTING_QUEUE)).replayed == [poison["id"]]

    async def back() -> list:
        return (await client.get("/v1/ops/dlq", headers=admin())).json()["dead_letters"]

    [again] = await eventually(back, lambda items: len(items) == 1, what="the poison back in the DLQ")
    assert again["id"] == poison["id"] and again["kind"] == "invalid-data"
    await dlq.purge()

    # The follow-up the inadequate audit opened went out through reporting's outbox.
    await eventually(
        lambda: current(lambda: _metric("qaloop_events_published_total", schema="reporting")),
        lambda n: n >= 1,
        timeout=20,
        what="reporting's outbox relay to publish the follow-up events",
    )


async def test_a_dead_letter_without_a_routing_key_stays_and_list_never_loses_one(channel, servers):
    dlq = await channel.get_queue(f"{FOLLOWUPS_QUEUE}.dlq")
    await dlq.purge()
    dlx = await channel.get_exchange(DLX)
    await dlx.publish(aio_pika.Message(b"not json at all"), routing_key=FOLLOWUPS_QUEUE, mandatory=True)
    events = [graded(f"keep-{i}") for i in range(3)]
    for event in events:
        await dead_letter(channel, event, queue=FOLLOWUPS_QUEUE, key="reporting.FollowUpOpened")
    operations = Operations(servers.amqp_url)
    for _ in range(3):  # looking, again and again, removes nothing and keeps the order
        depth, letters = await operations.dlq_list(FOLLOWUPS_QUEUE)
        assert depth == 4 and [d.message_id for d in letters[1:]] == [e.id for e in events]
        assert letters[0].kind is None and letters[0].event() == "not json at all"
    depth, first_two = await operations.dlq_list(FOLLOWUPS_QUEUE, limit=2)
    assert depth == 4 and len(first_two) == 2
    no_id = letters[0].id  # the client library gave it a message id; it has no routing key header

    result = await operations.dlq_replay(FOLLOWUPS_QUEUE, [no_id, "missing-id"])
    assert result.replayed == [] and result.skipped == {no_id: "no original routing key"}
    assert result.not_found == ["missing-id"]
    assert (await operations.dlq_list(FOLLOWUPS_QUEUE))[0] == 4
    assert await operations.dlq_purge(FOLLOWUPS_QUEUE) == 4
    assert (await operations.dlq_list(FOLLOWUPS_QUEUE))[0] == 0


async def test_cli_queue_table_dlq_list_and_purge(channel, servers, management_env, capsys, monkeypatch):
    dlq = await channel.get_queue(f"{FOLLOWUPS_QUEUE}.dlq")
    await dlq.purge()
    for i in range(3):
        await dead_letter(channel, graded(f"cli-{i}"), queue=FOLLOWUPS_QUEUE, key="reporting.FollowUpDue")

    # Exact figures from AMQP when the management API does not answer.
    monkeypatch.setenv("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:1")
    get_settings.cache_clear()
    assert await asyncio.to_thread(cli.main, ["ops", "queues"]) == 0
    table = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.strip().startswith("reporting.")}
    assert set(rows) == {"reporting.events", "reporting.events.dlq", "reporting.followups", "reporting.followups.dlq"}
    assert rows["reporting.followups.dlq"][1] == "3" and rows["reporting.followups.dlq"][-1] == "amqp"

    # The management API's figures (sampled every few seconds) once it answers.
    if servers.management_url:
        monkeypatch.setenv("QALOOP_RABBITMQ_MANAGEMENT_URL", servers.management_url)
        get_settings.cache_clear()

        async def via_management() -> dict:
            await asyncio.to_thread(cli.main, ["ops", "queues", "--json"])
            return {q["name"]: q for q in json.loads(capsys.readouterr().out)}

        queues = await eventually(
            via_management,
            lambda q: (
                q["reporting.followups.dlq"]["messages"] == 3
                and q["reporting.followups.dlq"]["source"].startswith("management")
            ),
            timeout=20,
            interval=0.5,
            what="the management API to count three dead letters",
        )
        assert queues["reporting.followups.dlq"]["consumers"] == 0

    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "list", "--queue", FOLLOWUPS_QUEUE]) == 0
    listed = capsys.readouterr().out
    assert "3 dead letter(s)" in listed and "handler-error" in listed and "cli-" not in listed

    shown_id = json.loads(
        (
            await asyncio.to_thread(cli.main, ["ops", "dlq", "list", "--queue", FOLLOWUPS_QUEUE, "--json"]),
            capsys.readouterr().out,
        )[1]
    )["dead_letters"][0]["id"]
    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "show", shown_id, "--queue", FOLLOWUPS_QUEUE]) == 0
    shown = capsys.readouterr().out
    assert "x-qaloop-reason" in shown and '"audit_id": "cli-0"' in shown
    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "show", "nope", "--queue", FOLLOWUPS_QUEUE]) == 1
    capsys.readouterr()

    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "purge", "--queue", FOLLOWUPS_QUEUE]) == 1
    assert "nothing purged" in capsys.readouterr().out
    assert await Operations(servers.amqp_url).depth(f"{FOLLOWUPS_QUEUE}.dlq") == 3
    assert await asyncio.to_thread(cli.main, ["ops", "dlq", "purge", "--queue", FOLLOWUPS_QUEUE, "--yes"]) == 0
    assert "purged 3" in capsys.readouterr().out
    assert await Operations(servers.amqp_url).depth(f"{FOLLOWUPS_QUEUE}.dlq") == 0

    assert await asyncio.to_thread(cli.main, ["ops", "lag", "--json"]) == 0
    lag = json.loads(capsys.readouterr().out)
    assert {b["schema"] for b in lag["outbox"]} == {"audit", "feedback", "complaints", "workforce", "reporting"}


async def test_ops_endpoints_need_the_ops_admin_role(reporting):
    _, client = reporting
    settings = get_settings()
    detail = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail", "audit:write"])}
    calls = [
        ("GET", "/v1/ops/queues", None),
        ("GET", "/v1/ops/dlq", None),
        ("GET", "/v1/ops/dlq/some-id", None),
        ("POST", "/v1/ops/dlq/replay", {"all": True}),
        ("POST", "/v1/ops/dlq/purge", {"confirm": True}),
        ("GET", "/v1/ops/lag", None),
        ("GET", "/v1/ops/readiness", None),
        ("GET", "/metrics", None),
    ]
    for method, path, body in calls:
        assert (await client.request(method, path, json=body)).status_code == 401, path
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await client.request(method, path, json=body, headers=bad)).status_code == 401, path
        assert (await client.request(method, path, json=body, headers=detail)).status_code == 403, path

    r = await client.get("/v1/ops/queues", headers=admin())
    assert r.status_code == 200
    names = [q["name"] for q in r.json()["queues"]]
    assert names == [
        "reporting.events",
        "reporting.events.dlq",
        "reporting.followups",
        "reporting.followups.dlq",
        "notifier.actions",  # the notifier's queue (shared/bus.py CONSUMER_QUEUES)
        "notifier.actions.dlq",
    ]
    assert all(isinstance(q["consumers"], int) and isinstance(q["messages"], int) for q in r.json()["queues"])
    lag = (await client.get("/v1/ops/lag", headers=admin())).json()
    assert lag["projection"]["queue_depth"] is not None and lag["projection"]["events_applied"] == 0
    assert (await client.post("/v1/ops/dlq/purge", json={}, headers=admin())).status_code == 422
    assert (await client.post("/v1/ops/dlq/replay", json={}, headers=admin())).status_code == 422
    assert (await client.get("/v1/ops/dlq", params={"queue": "nope"}, headers=admin())).status_code == 422


async def test_metrics_count_consumed_applied_duplicates_and_dead_letters(reporting, channel):
    service, client = reporting
    assert service.consumer is not None
    q = {"queue": REPORTING_QUEUE}
    before = {
        "consumed": _metric("qaloop_events_consumed_total", **q),
        "applied": _metric("qaloop_events_applied_total", **q),
        "duplicates": _metric("qaloop_events_duplicates_skipped_total", **q),
        "not-json": _metric("qaloop_events_dead_lettered_total", kind="not-json", **q),
        "batches": _metric("qaloop_consumer_batch_size_count", **q),
    }
    await (await channel.get_queue(f"{REPORTING_QUEUE}.dlq")).purge()
    exchange = await channel.get_exchange("qa.events")
    one, two = graded("m-1"), graded("m-2")
    for body in (one.to_json(), two.to_json(), one.to_json(), b"{not json"):
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "audit.AuditGraded", mandatory=True
        )
    await eventually(
        lambda: current(lambda: _metric("qaloop_events_consumed_total", **q)),
        lambda n: n == before["consumed"] + 4,
        what="four messages consumed",
    )
    assert _metric("qaloop_events_applied_total", **q) == before["applied"] + 2
    assert _metric("qaloop_events_duplicates_skipped_total", **q) == before["duplicates"] + 1
    assert _metric("qaloop_events_dead_lettered_total", kind="not-json", **q) == before["not-json"] + 1
    assert _metric("qaloop_consumer_batch_size_count", **q) > before["batches"]

    await client.get("/metrics", headers=admin())  # a request is counted once answered: the next scrape shows it
    r = await client.get("/metrics", headers=admin())
    assert r.status_code == 200
    text = r.text
    for line in (
        'qaloop_events_dead_lettered_total{kind="not-json",queue="reporting.events"}',
        'qaloop_consumer_connected{queue="reporting.events"} 1.0',
        'qaloop_outbox_backlog{schema="reporting"}',
        'qaloop_queue_depth{queue="reporting.events.dlq"} 1.0',
        "qaloop_projection_last_applied_age_seconds ",
        'qaloop_consumer_apply_seconds_bucket{le="0.5",queue="reporting.events"}',
        'qaloop_http_requests_total{method="GET",route="/metrics"',
    ):
        assert line in text, line
    await (await channel.get_queue(f"{REPORTING_QUEUE}.dlq")).purge()


async def test_readyz_is_200_when_ready_and_503_when_the_database_is_not_the_reason_for_ops_and_the_log(
    reporting, servers, monkeypatch, caplog
):
    _, client = reporting
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}
    r = await client.get("/v1/ops/readiness", headers=admin())
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok", "consumer": "ok"}

    # A service configured (through the environment) with a database that is not there.
    monkeypatch.setenv("QALOOP_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/qaloop")
    get_settings.cache_clear()
    try:
        from services.audit.app import build as build_audit

        _, audit_app = build_audit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=audit_app), base_url="http://t") as c:
            with caplog.at_level("WARNING", logger="shared.service"):
                r = await c.get("/readyz")
            assert r.status_code == 503
            assert r.json() == {"status": "not ready"}  # the public answer names no host, port or error
            assert "not ready: database: unreachable:" in caplog.text
            r = await c.get("/v1/ops/readiness", headers=admin())
        assert r.status_code == 200 and r.json()["status"] == "not ready"
        checks = r.json()["checks"]
        assert checks["database"].startswith("unreachable:") and checks["broker"] == "ok"
    finally:
        monkeypatch.setenv("QALOOP_DATABASE_URL", servers.database_url)
        get_settings.cache_clear()


async def test_readyz_follows_the_database_going_away_and_coming_back(servers):
    from services.audit.app import build as build_audit

    target = urllib.parse.urlsplit(servers.database_url)
    proxy = CuttableProxy(target.hostname or "localhost", target.port or 5432)
    await proxy.start()
    service, app = build_audit(Settings(database_url=proxy.url_for(servers.database_url), amqp_url=servers.amqp_url))
    await service.start(relay=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.cut()
            r = await client.get("/readyz")
            assert r.status_code == 503 and r.json() == {"status": "not ready"}
            r = await client.get("/v1/ops/readiness", headers=admin())
            assert r.json()["checks"]["database"].startswith("unreachable:")
            proxy.restore()
            await eventually(
                lambda: client.get("/readyz"), lambda r: r.status_code == 200, what="ready again", interval=0.2
            )
    finally:
        await service.stop()
        await proxy.close()


FOLLOWUP_ROWS = [  # (tenant, id, opened_on, due_date, closed_on) at the clock's 30 June 2023
    (TENANT, "f-overdue", date(2023, 6, 1), date(2023, 6, 29), None),  # due yesterday, open
    (TENANT, "f-due-today", date(2023, 6, 1), date(2023, 6, 30), None),  # due today: not overdue yet
    (TENANT, "f-closed-late", date(2023, 5, 1), date(2023, 5, 10), date(2023, 6, 20)),  # closed: not overdue
    (TENANT, "f-closes-later", date(2023, 5, 1), date(2023, 5, 10), date(2023, 7, 3)),  # closed after today
    (TENANT, "f-opens-later", date(2023, 7, 3), date(2023, 7, 20), None),  # not opened yet
    ("E10000035", "f-other-tenant", date(2023, 5, 1), date(2023, 5, 31), None),
]


async def test_overdue_followups_gauge_counts_what_the_api_calls_overdue(reporting, servers):
    _, client = reporting
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.executemany(
            """INSERT INTO reporting.followups (tenant, followup_id, rule, origin, origin_id, opened_on, due_date,
                   closed_on, opened_published, due_published, overdue_published, closed_published)
               VALUES ($1, $2, 're-audit', 'audit', $2, $3, $4, $5, true, true, true, true)""",
            FOLLOWUP_ROWS,
        )
        await conn.execute(  # a tenant reporting knows, with no follow-up at all
            """INSERT INTO reporting.tenant_projection_state (tenant, name, events_applied)
               VALUES ('E10000036', 'event_store', 3)"""
        )
    finally:
        await conn.close()
    r = await client.get("/metrics", headers=admin())
    assert r.status_code == 200
    assert f'qaloop_followups_overdue{{tenant="{TENANT}"}} 2.0' in r.text
    assert 'qaloop_followups_overdue{tenant="E10000035"} 1.0' in r.text
    assert 'qaloop_followups_overdue{tenant="E10000036"} 0.0' in r.text  # none overdue: 0, not absent
    reader = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:read"], tenant=TENANT)}
    api = await client.get("/v1/followups", params={"status": "overdue"}, headers=reader)
    assert sorted(f["followup_id"] for f in api.json()["followups"]) == ["f-closes-later", "f-overdue"]


async def test_publish_to_visible_is_measured_from_the_publishers_stamp(reporting, servers):
    _, client = reporting
    q = {"queue": REPORTING_QUEUE}
    before = _metric("qaloop_event_publish_to_visible_seconds_count", **q)
    event = graded("v-1")
    connection = await connect(servers.amqp_url)
    try:
        await Publisher(connection).publish(
            OutgoingMessage(routing_key="audit.AuditGraded", body=event.to_json(), message_id=event.id)
        )
        await eventually(
            lambda: current(lambda: _metric("qaloop_event_publish_to_visible_seconds_count", **q)),
            lambda n: n == before + 1,
            what="the stamped event applied and measured",
        )
    finally:
        await connection.close()
    r = await client.get("/metrics", headers=admin())
    assert 'qaloop_event_publish_to_visible_seconds_bucket{le="60.0",queue="reporting.events"}' in r.text
