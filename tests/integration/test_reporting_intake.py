"""Contract events published to the real broker are served by the reporting HTTP API;
poison messages of every kind are dead-lettered with reasons while the good ones around
them are applied."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import aio_pika
import asyncpg
import httpx
import pytest

from services.reporting.readmodels import ALL_TABLES
from shared.auth import issue_token
from shared.bus import KIND_HEADER, REASON_HEADER, REPORTING_QUEUE, declare_topology
from shared.events import (
    AuditGraded,
    AuditModerated,
    CloudEvent,
    ComplaintClosed,
    ComplaintReceived,
    ReferralReceived,
    new_event,
)
from shared.settings import get_settings
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TENANT = "E10000034"


def audit(i: int, grade: str, completed_at: str):
    return new_event(
        AuditGraded(
            audit_id=f"a{i}",
            case_ref=pseudonym(f"case{i}"),
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


async def _publish(exchange, key: str, body: bytes) -> None:
    await exchange.publish(
        aio_pika.Message(
            body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, content_type="application/cloudevents+json"
        ),
        key,
        mandatory=True,
    )


async def _stored(service, event_id: str) -> int:
    """How many times the event is in reporting's event store (0 or 1)."""
    async with service.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM reporting.event_store WHERE id = $1", event_id))


async def fresh_reporting_state(service, servers) -> None:
    """Each test starts from an empty reporting store and queue: other test modules share
    this run's database and vhost and may have left events behind."""
    await service.migrate()
    tables = ", ".join(f"reporting.{t}" for t in (*ALL_TABLES, "event_store", "outbox", "tenant_projection_state"))
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.execute(f"TRUNCATE {tables}")
    finally:
        await conn.close()
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel)
        await (await channel.get_queue(REPORTING_QUEUE)).purge()
    finally:
        await connection.close()


@pytest.fixture
async def reporting(servers):
    get_settings.cache_clear()
    from services.reporting.app import build

    service, app = build(clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    await fresh_reporting_state(service, servers)
    await service.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield service, client
    await client.aclose()
    await service.stop()


def audits_and_poison(max_message_bytes: int) -> list[tuple[str, bytes]]:
    """(routing key, body): audits a1 (moderated to good, the moderation first, and a
    duplicate), a2 and a3 in 2022-23 Q2, between five kinds of poison."""
    graded = audit(1, "requires_improvement", "2022-08-10T10:00:00Z")
    moderated = new_event(
        AuditModerated(
            audit_id="a1",
            overall_grade_before="requires_improvement",
            overall_grade_after="good",
            moderator_id="m1",
            moderated_at="2022-09-01T10:00:00Z",
        ),
        source="/qaloop/audit",
        tenant=TENANT,
        sequence=2,
    )
    too_big = json.loads(audit(9, "good", "2022-08-10T10:00:00Z").to_json())
    too_big["padding"] = "x" * (max_message_bytes + 10)
    bad_data = json.loads(audit(8, "good", "2022-08-10T10:00:00Z").to_json())
    bad_data["data"]["overall_grade"] = "brilliant"
    unknown = json.loads(audit(7, "good", "2022-08-10T10:00:00Z").to_json())
    unknown["type"] = "AuditDreamed"
    not_cloudevent = {"hello": "world"}

    return [
        ("audit.AuditModerated", moderated.to_json()),  # the moderation before its audit
        ("audit.AuditGraded", b"this is not json"),
        ("audit.AuditGraded", graded.to_json()),
        ("audit.AuditGraded", json.dumps(not_cloudevent).encode()),
        ("audit.AuditGraded", graded.to_json()),  # a duplicate
        ("audit.AuditGraded", json.dumps(unknown).encode()),
        ("audit.AuditGraded", audit(2, "inadequate", "2022-07-01T09:00:00+01:00").to_json()),
        ("audit.AuditGraded", json.dumps(bad_data).encode()),
        ("audit.AuditGraded", json.dumps(too_big).encode()),
        ("audit.AuditGraded", audit(3, "outstanding", "2022-06-30T23:30:00Z").to_json()),  # 1 July in London
    ]


async def dead_letter_reasons(dlq, count: int) -> dict[str, str]:
    """{kind: reason} of the next `count` dead letters, each taken off the queue."""
    kinds = {}
    for _ in range(count):
        message = await eventually(lambda: dlq.get(fail=False), lambda m: m is not None, what="a dead letter")
        kinds[message.headers[KIND_HEADER]] = message.headers[REASON_HEADER]
        await message.ack()
    return kinds


async def assert_status_counts_four_events(client, reader: dict[str, str]) -> None:
    """Status shows what was applied: three audits and a moderation; the duplicate and the
    poison are not counted."""
    status = (await client.get("/v1/projections/status", headers=reader)).json()
    assert status["events_applied"] == 4  # three audits and a moderation; the duplicate is not counted
    assert status["queue_depth"] == 0
    assert {p["name"] for p in status["projections"]} >= {"read_models", "audits", "followups"}
    applied = {p["name"]: p["events_applied"] for p in status["projections"]}
    assert applied["read_models"] == applied["audits"] == 4


async def test_published_events_reach_the_api_and_poison_goes_to_the_dead_letter_queue(reporting, servers):
    _service, client = reporting
    settings = get_settings()
    detail = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"])}
    reader = {"Authorization": "Bearer " + issue_token(settings, ["reporting:read"])}

    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    dlq = await channel.get_queue(f"{REPORTING_QUEUE}.dlq")
    await dlq.purge()

    for key, body in audits_and_poison(settings.max_message_bytes):
        await _publish(exchange, key, body)

    async def values():
        r = await client.get("/v1/kpis/values", params={"period": "2022-23-Q2"}, headers=detail)
        assert r.status_code == 200, r.text
        return {v["kpi"]: v for v in r.json()["values"]}

    got = await eventually(values, lambda v: v["audit.completed"]["value"] == 3, what="three audits applied")
    assert got["audit.good_or_better_rate"]["numerator"] == 2  # a1 moderated to good, a3 outstanding
    assert got["audit.inadequate_rate"]["numerator"] == 1
    assert got["audit.requires_improvement_rate"]["numerator"] == 0
    assert got["complaints.closed"]["value"] == 0
    assert got["complaints.upheld_rate"]["value"] is None

    # Five kinds of poison, each with its reason.
    kinds = await dead_letter_reasons(dlq, 5)
    assert set(kinds) == {"not-json", "not-cloudevent", "unknown-type", "invalid-data", "oversized"}
    assert "data.overall_grade" in kinds["invalid-data"]
    assert "AuditDreamed" in kinds["unknown-type"]
    assert await dlq.get(fail=False) is None

    # Small numbers are suppressed for reporting:read.
    r = await client.get("/v1/kpis/values", params={"period": "2022-23-Q2"}, headers=reader)
    completed = next(v for v in r.json()["values"] if v["kpi"] == "audit.completed")
    assert completed == {
        "kpi": "audit.completed",
        "value": None,
        "numerator": None,
        "denominator": None,
        "suppressed": True,
        "rag": None,
    }

    await assert_status_counts_four_events(client, reader)

    # The re-audit follow-up of a2 (inadequate, 1 July 2022) is overdue at the clock's 30 June 2023.
    r = await client.get("/v1/followups", params={"status": "overdue"}, headers=reader)
    ids = [f["followup_id"] for f in r.json()["followups"]]
    assert "re-audit:a2" in ids and "re-audit:a1" not in ids
    await connection.close()


def complaint_cx1() -> tuple[CloudEvent, CloudEvent]:
    """(closed, received) of complaint cx1 in team through-care: received Mon 1 August 2022,
    closed Fri 12 August, upheld, within its timescale."""
    closed = ComplaintClosed(
        complaint_id="cx1",
        stage=1,
        closed_at="2022-08-12T10:00:00Z",
        outcome="upheld",
        points=[{"upheld": True}],
        due_date="2022-08-15",
        within_timescale=True,
        working_days_taken=9,
    )
    received = ComplaintReceived(
        complaint_id="cx1",
        procedure="statutory_children",
        category="communication",
        team="through-care",
        service_area="childrens_social_care",
        received_at="2022-08-01T09:00:00Z",
        complainant="parent_carer",
    )
    return (
        new_event(closed, source="/qaloop/complaints", tenant=TENANT, sequence=2),
        new_event(received, source="/qaloop/complaints", tenant=TENANT, sequence=1),
    )


async def test_complaint_closed_before_received_still_counts_in_its_team(reporting, servers):
    service, client = reporting
    settings = get_settings()
    detail = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"])}
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    closed, received = complaint_cx1()
    await _publish(exchange, "complaints.ComplaintClosed", closed.to_json())
    await eventually(lambda: _stored(service, closed.id), lambda n: n == 1, what="the closure applied first")
    await _publish(exchange, "complaints.ComplaintReceived", received.to_json())
    referral = ReferralReceived(
        referral_id="ref1",
        child_ref=pseudonym("child1"),
        received_at="2022-08-02T10:00:00Z",
        team="through-care",
        service_area="childrens_social_care",
    )
    await _publish(
        exchange,
        "casework.ReferralReceived",
        new_event(referral, source="/cms/mosaic", tenant=TENANT).to_json(),
    )

    async def values():
        r = await client.get("/v1/kpis/values", params={"period": "2022-08", "team": "through-care"}, headers=detail)
        return {v["kpi"]: v for v in r.json()["values"]}

    got = await eventually(
        values,
        lambda v: (
            v["complaints.closed"]["value"] == 1
            and v["complaints.received"]["value"] == 1
            and v["casework.re_referral_rate"]["denominator"] == 1
        ),
        what="the complaint in its team",
    )
    assert got["complaints.upheld_rate"]["value"] == 1.0
    assert got["complaints.by_category.communication"]["value"] == 1
    assert got["casework.re_referral_rate"]["denominator"] == 1
    # Working days: received Mon 1 Aug, closed Fri 12 Aug = 9 working days; due 10th = 15 Aug.
    assert got["complaints.average_response_working_days"]["value"] == 9
    assert got["complaints.within_timescale_rate"]["value"] == 1.0

    r = await client.get(
        "/v1/kpis/complaints.closed/series",
        params={"from": "2022-07", "to": "2022-09", "team": "through-care"},
        headers=detail,
    )
    assert [p["value"] for p in r.json()["series"]] == [0, 1, 0]
    # category= filters the complaints KPIs only (the referral counts whatever it says)
    for category, n in (("communication", 1), ("delay", 0)):
        r = await client.get(
            "/v1/kpis/values",
            params={"period": "2022-08", "team": "through-care", "category": category},
            headers=detail,
        )
        body = r.json()
        assert body["filters"] == {"service_area": None, "team": "through-care", "category": category}
        by_kpi = {v["kpi"]: v for v in body["values"]}
        assert (by_kpi["complaints.closed"]["value"], by_kpi["complaints.received"]["value"]) == (n, n)
        assert by_kpi["casework.re_referral_rate"]["denominator"] == 1
        assert "complaints.late_escalations" in by_kpi and "complaints.ombudsman_fault_rate" in by_kpi
    r = await client.get(
        "/v1/kpis/complaints.closed/series",
        params={"from": "2022-07", "to": "2022-09", "category": "delay"},
        headers=detail,
    )
    assert [p["value"] for p in r.json()["series"]] == [0, 0, 0]
    await connection.close()


async def test_http_errors(reporting):
    _, client = reporting
    settings = get_settings()
    reader = {"Authorization": "Bearer " + issue_token(settings, ["reporting:read"])}
    assert (await client.get("/v1/kpis")).status_code == 401
    assert (await client.get("/v1/kpis", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    writer = {"Authorization": "Bearer " + issue_token(settings, ["audit:write"])}
    assert (await client.get("/v1/kpis", headers=writer)).status_code == 403
    r = await client.get("/v1/kpis", headers=reader)
    assert r.status_code == 200 and any(k["id"] == "audit.completed" for k in r.json())
    for params, field in (
        ({"period": "2022-24"}, "period"),
        ({"period": "2022-23-Q5"}, "period"),
        ({"period": "2022-23", "service_area": "astrology"}, "service_area"),
        ({"period": "2022-23", "category": "no such thing!"}, "category"),
    ):
        r = await client.get("/v1/kpis/values", params=params, headers=reader)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][-1] == field
    r = await client.get("/v1/kpis/no.such.kpi/series", headers=reader)
    assert r.status_code == 422 and "no.such.kpi" in r.text
    assert (await client.get("/healthz")).status_code == 200


async def test_follow_up_transitions_are_published_once_through_the_outbox(reporting, servers):
    service, _ = reporting
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    followups = await channel.get_queue("reporting.followups")
    await followups.purge()
    await _publish(exchange, "audit.AuditGraded", audit(77, "inadequate", "2023-05-02T10:00:00Z").to_json())

    seen: list[tuple[str, dict]] = []

    async def drain() -> int:
        while (message := await followups.get(fail=False)) is not None:
            body = json.loads(message.body)
            seen.append((body["type"], body["data"]))
            await message.ack()
        return len(seen)

    # Inadequate on 2 May 2023: due 2 June (1 month); the clock says 30 June 2023 → overdue.
    await eventually(drain, lambda n: n >= 3, timeout=20, what="three follow-up events")
    kinds = {t: d for t, d in seen if d["followup_id"] == "re-audit:a77"}
    assert set(kinds) == {"FollowUpOpened", "FollowUpDue", "FollowUpOverdue"}
    assert kinds["FollowUpOpened"]["rule"] == "re-audit" and kinds["FollowUpOpened"]["due_date"] == "2023-06-02"
    assert kinds["FollowUpOverdue"]["days_overdue"] == 28

    # The next audit of the same case closes it; each transition went out once.
    later = new_event(
        AuditGraded(
            audit_id="a78",
            case_ref=pseudonym("case77"),
            service_area="send",
            team="send-east",
            audit_type="routine",
            completed_at="2023-06-20T10:00:00Z",
            area_grades=[{"area": "planning", "grade": "good"}],
            overall_grade="good",
            auditor_id="qa1",
        ),
        source="/qaloop/audit",
        tenant=TENANT,
        sequence=1,
    )
    await _publish(exchange, "audit.AuditGraded", later.to_json())
    await eventually(drain, lambda n: any(t == "FollowUpClosed" for t, _ in seen), timeout=20, what="closed")
    assert service.transitions is not None
    await service.transitions.run_once()
    await drain()
    a77 = [t for t, d in seen if d["followup_id"] == "re-audit:a77"]
    assert sorted(a77) == ["FollowUpClosed", "FollowUpDue", "FollowUpOpened", "FollowUpOverdue"]
    closed = next(d for t, d in seen if t == "FollowUpClosed" and d["followup_id"] == "re-audit:a77")
    assert closed["on_time"] is False and closed["closed_by_event_id"] == later.id
    await connection.close()


async def test_the_learning_loop_runs_in_the_intake_and_the_clock_loop(servers):
    """As `qaloop run reporting` runs it: follow-ups are derived in the very transaction that
    applies the batch (no event stored without its follow-up), and the service's own clock
    loop publishes the transitions — nobody calls it here — and stops with the service."""
    get_settings.cache_clear()
    from services.reporting.app import build

    service, _ = build(clock=lambda: date(2023, 6, 30), followup_interval=0.2)
    await fresh_reporting_state(service, servers)
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    followups = await channel.get_queue("reporting.followups")
    await followups.purge()
    before = asyncio.all_tasks()
    await service.start()
    # The service's own loops: intake, the follow-up clock, table upkeep and the outbox relay.
    tasks = [t for t in asyncio.all_tasks() - before if t.get_name().startswith("reporting-")]
    try:
        assert {t.get_name() for t in tasks if not t.done()} >= {"reporting-consumer", "reporting-followups"}
        event = audit(91, "inadequate", "2023-05-02T10:00:00Z")
        await _publish(exchange, "audit.AuditGraded", event.to_json())

        async def stored_and_derived() -> tuple[int, int]:
            # One statement, one snapshot: the event and its follow-up commit together.
            async with service.pool.acquire() as conn:
                row = await conn.fetchrow(
                    """SELECT (SELECT count(*) FROM reporting.event_store WHERE id = $1) AS stored,
                              (SELECT count(*) FROM reporting.followups
                               WHERE tenant = $2 AND followup_id = 're-audit:a91') AS derived""",
                    event.id,
                    TENANT,
                )
            assert row["stored"] == row["derived"], f"event stored without its follow-up: {dict(row)}"
            return row["stored"], row["derived"]

        await eventually(stored_and_derived, lambda r: r == (1, 1), timeout=30, what="the audit and its follow-up")

        seen: list[str] = []

        async def collect() -> list[str]:
            while (message := await followups.get(fail=False)) is not None:
                body = json.loads(message.body)
                await message.ack()
                seen.append(f"{body['type']} {body['data']['followup_id']}")
            return seen

        await eventually(collect, lambda s: "FollowUpOverdue re-audit:a91" in s, timeout=30, what="the loop's events")
        assert "FollowUpOpened re-audit:a91" in seen
        assert service.transitions is not None and service.transitions.published >= 3
    finally:
        await service.stop()
        await connection.close()
    assert all(t.done() for t in tasks), "the clock loop stops with the service"


async def test_one_authority_never_sees_another(reporting, servers):
    """Figures and status answer for the token's tenant only."""
    _service, client = reporting
    settings = get_settings()
    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    exchange = await declare_topology(channel)
    other = json.loads(audit(501, "good", "2022-08-10T10:00:00Z").to_json())
    other["tenant"] = "E10000016"
    await _publish(exchange, "audit.AuditGraded", json.dumps(other).encode())
    await _publish(exchange, "audit.AuditGraded", audit(502, "good", "2022-08-11T10:00:00Z").to_json())

    def headers(tenant: str | None) -> dict[str, str]:
        return {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"], tenant=tenant)}

    async def completed(tenant: str | None) -> int:
        r = await client.get("/v1/kpis/values", params={"period": "2022-08"}, headers=headers(tenant))
        return next(v["value"] for v in r.json()["values"] if v["kpi"] == "audit.completed")

    async def both() -> tuple[int, int]:
        return await completed("E10000016"), await completed(None)

    # Each authority sees its own audit only: one each, never two.
    seen = await eventually(both, lambda n: n == (1, 1) or max(n) > 1, what="each authority's audit")
    assert seen == (1, 1), "an authority sees only its own audit"
    mine = (await client.get("/v1/projections/status", headers=headers(None))).json()
    theirs = (await client.get("/v1/projections/status", headers=headers("E10000016"))).json()
    assert (mine["events_applied"], theirs["events_applied"]) == (1, 1)
    await connection.close()
