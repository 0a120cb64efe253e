"""Bus trust (security issue items 5 and 6): reporting dead-letters, one message alone, an
event from a source that may not publish it (`untrusted-source`) and an event carrying a raw
case number instead of a pseudonym (`raw-identifier`), never storing either, while the good
events around them are applied."""

from __future__ import annotations

import json
import urllib.parse
from datetime import date

import aio_pika
import asyncpg
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import KIND_HEADER, REASON_HEADER, REPORTING_QUEUE, declare_topology
from shared.events import AuditGraded, ReferralReceived, new_event
from shared.pseudonym import subject_for
from shared.settings import get_settings
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TENANT = "E10000034"
RAW_CASE_NUMBER = "MOS-7000123"


def audit(i: int, *, source: str = "/qaloop/audit", case_ref: str | None = None, tenant: str = TENANT, **envelope):
    event = new_event(
        AuditGraded(
            audit_id=f"trust-a{i}",
            case_ref=case_ref or pseudonym(f"trust-case{i}"),
            service_area="send",
            team="send-east",
            audit_type="routine",
            completed_at="2022-08-10T10:00:00Z",
            area_grades=[{"area": "planning", "grade": "good"}],
            overall_grade="good",
            auditor_id="qa1",
        ),
        source=source,
        tenant=tenant,
        sequence=1,
        event_id=f"trust-audit-{i}",
    )
    body = json.loads(event.to_json())
    body.update(envelope)
    return json.dumps(body).encode()


def referral(i: int, child_ref: str, *, source: str = "/cms/mosaic") -> bytes:
    return new_event(
        ReferralReceived(
            referral_id=f"trust-r{i}",
            child_ref=child_ref,
            received_at="2022-08-02T10:00:00Z",
            team="through-care",
            service_area="childrens_social_care",
        ),
        source=source,
        tenant=TENANT,
        event_id=f"trust-referral-{i}",
    ).to_json()


async def _publish(exchange, key: str, body: bytes, user_id: str | None = None) -> None:
    await exchange.publish(
        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, user_id=user_id),
        key,
        mandatory=True,
    )


async def _start(servers):
    get_settings.cache_clear()
    from services.reporting.app import build

    service, app = build(clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    await fresh_reporting_state(service, servers)
    await service.start()
    return service, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _dead_letters(dlq, n: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    out = []
    for _ in range(n):
        message = await eventually(lambda: dlq.get(fail=False), lambda m: m is not None, what="a dead letter")
        await message.ack()
        out.append(message)
    assert await dlq.get(fail=False) is None
    return out


async def _stored(servers) -> list[str]:
    conn = await asyncpg.connect(servers.database_url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM reporting.event_store ORDER BY position")]
    finally:
        await conn.close()


async def _applied(client) -> int:
    reader = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:read"])}
    return (await client.get("/v1/projections/status", headers=reader)).json()["events_applied"]


@pytest.fixture
async def reporting(servers):
    service, client = await _start(servers)
    yield service, client
    await client.aclose()
    await service.stop()


async def test_untrusted_sources_and_raw_identifiers_are_dead_lettered_alone(reporting, servers):
    service, client = reporting
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        dlq = await channel.get_queue(f"{REPORTING_QUEUE}.dlq")
        await dlq.purge()
        stream = [
            ("audit.AuditGraded", audit(1)),
            ("audit.AuditGraded", audit(2, source="/intruder/laptop")),  # an unlisted source
            ("audit.AuditGraded", audit(3, source="/qaloop/feedback")),  # a strand publishing another's event
            ("casework.ReferralReceived", referral(1, RAW_CASE_NUMBER)),  # a raw child_ref
            ("audit.AuditGraded", audit(4)),
            ("audit.AuditGraded", audit(5, case_ref=RAW_CASE_NUMBER)),  # a raw case_ref
            ("audit.AuditGraded", audit(6, subject=f"case:{RAW_CASE_NUMBER}")),  # a raw case in the subject
            ("audit.AuditGraded", audit(7, case_ref="k9:0123456789abcdef")),  # a key id not accepted
            ("casework.ReferralReceived", referral(2, pseudonym("child-2"))),
            ("audit.AuditGraded", audit(8, subject=subject_for(pseudonym("trust-case8")))),
        ]
        for key, body in stream:
            await _publish(exchange, key, body)

        dead = await _dead_letters(dlq, 6)
        by_id = {json.loads(m.body)["id"]: (m.headers[KIND_HEADER], str(m.headers[REASON_HEADER])) for m in dead}
        assert {k: kind for k, (kind, _) in by_id.items()} == {
            "trust-audit-2": "untrusted-source",
            "trust-audit-3": "untrusted-source",
            "trust-referral-1": "raw-identifier",
            "trust-audit-5": "raw-identifier",
            "trust-audit-6": "raw-identifier",
            "trust-audit-7": "raw-identifier",
        }
        assert "'/intruder/laptop' is not allowed to publish" in by_id["trust-audit-2"][1]
        assert "not allowed to publish AuditGraded" in by_id["trust-audit-3"][1]
        assert "data.child_ref is not a pseudonym" in by_id["trust-referral-1"][1]
        assert "data.case_ref is not a pseudonym" in by_id["trust-audit-5"][1]
        assert "subject is not a pseudonym" in by_id["trust-audit-6"][1]
        assert "'k9'" in by_id["trust-audit-7"][1]
        assert all(RAW_CASE_NUMBER not in reason for _, reason in by_id.values())  # never echoed

        # The good events around them are applied; the refused ones are never stored.
        await eventually(lambda: _applied(client), lambda n: n == 4, what="the four good events")
        assert sorted(await _stored(servers)) == ["trust-audit-1", "trust-audit-4", "trust-audit-8", "trust-referral-2"]
        assert service.consumer is not None and service.consumer.stats.dead_lettered == 6
    finally:
        await connection.close()


@pytest.fixture
async def strict_reporting(servers, monkeypatch):
    """Reporting with sources of its own: case-management events only from the AMQP user of
    this run, audits only for TENANT, older pseudonyms under key id k0 still accepted."""
    user = urllib.parse.urlsplit(servers.amqp_url).username or "guest"
    monkeypatch.setenv(
        "QALOOP_BUS_SOURCES",
        json.dumps(
            {
                "/cms/*": {"events": ["casework"], "user": user},
                "/qaloop/audit": {"events": ["audit"], "tenants": [TENANT]},
            }
        ),
    )
    monkeypatch.setenv("QALOOP_PSEUDONYM_KEY_ID", "k2")
    monkeypatch.setenv("QALOOP_PSEUDONYM_ACCEPTED_KEY_IDS", '["k1"]')
    service, client = await _start(servers)
    yield service, client, user
    await client.aclose()
    await service.stop()
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_configured_sources_tenants_users_and_key_ids(strict_reporting, servers):
    _service, client, user = strict_reporting
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_topology(channel)
        dlq = await channel.get_queue(f"{REPORTING_QUEUE}.dlq")
        await dlq.purge()
        await _publish(exchange, "casework.ReferralReceived", referral(1, pseudonym("c1")))  # no user_id
        await _publish(exchange, "casework.ReferralReceived", referral(2, pseudonym("c2")), user_id=user)
        await _publish(exchange, "audit.AuditGraded", audit(1, tenant="E99999999"))  # another tenant
        await _publish(exchange, "audit.AuditGraded", audit(2))  # k1: an older key id, still accepted
        await _publish(exchange, "audit.AuditGraded", audit(3, case_ref="k2:0123456789abcdef"))  # the current one
        await _publish(exchange, "complaints.ComplaintReceived", audit(4, source="/qaloop/complaints"))  # unlisted

        dead = await _dead_letters(dlq, 3)
        by_id = {json.loads(m.body)["id"]: (m.headers[KIND_HEADER], str(m.headers[REASON_HEADER])) for m in dead}
        assert {k: kind for k, (kind, _) in by_id.items()} == {
            "trust-referral-1": "untrusted-source",
            "trust-audit-1": "untrusted-source",
            "trust-audit-4": "untrusted-source",
        }
        assert f"must be published by AMQP user {user!r}" in by_id["trust-referral-1"][1]
        assert "no user_id" in by_id["trust-referral-1"][1]
        assert "tenant 'E99999999'" in by_id["trust-audit-1"][1]
        await eventually(lambda: _applied(client), lambda n: n == 3, what="the three good events")
        assert sorted(await _stored(servers)) == ["trust-audit-2", "trust-audit-3", "trust-referral-2"]

        # The broker itself refuses a user_id that is not the publishing connection's user.
        confirmed = await connection.channel(publisher_confirms=True)
        forged = await confirmed.get_exchange("qa.events")
        with pytest.raises(aio_pika.exceptions.AMQPError):
            await _publish(forged, "casework.ReferralReceived", referral(3, pseudonym("c3")), user_id=f"not-{user}")
    finally:
        await connection.close()
