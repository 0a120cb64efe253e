"""The audit service over HTTP against the real PostgreSQL and RabbitMQ: an audit scheduled,
graded, completed and moderated; concerns, targeted audits and actions; what reaches the
broker (contract fields, pseudonymised case reference, no raw case number); 401/403/404/409/422.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest

from shared import outbox
from shared.auth import issue_token
from shared.bus import EXCHANGE, REPORTING_QUEUE, declare_topology
from shared.events import parse_event
from shared.pseudonym import pseudonymise, subject_for
from shared.settings import Settings, get_settings
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

CASE_FILE_AREAS = ["voice_of_the_child", "assessment_and_analysis", "planning", "management_oversight", "recording"]


@dataclass
class Observer:
    """An exclusive queue bound to `audit.#`: every event the audit service publishes."""

    connection: aio_pika.abc.AbstractConnection
    messages: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)

    def about(self, key: str, value: str) -> list[dict[str, Any]]:
        return [body for _, _, body in self.messages if body["data"].get(key) == value]

    def raw(self) -> bytes:
        return b"\n".join(raw for _, raw, _ in self.messages)

    async def wait_for(self, key: str, value: str, types: list[str]) -> list[dict[str, Any]]:
        async def probe() -> list[str]:
            return [e["type"] for e in self.about(key, value)]

        await eventually(probe, lambda seen: all(t in seen for t in types), what=f"{types} for {value}")
        return self.about(key, value)


@dataclass
class AuditApi:
    client: httpx.AsyncClient
    observer: Observer
    settings: Settings

    def token(self, *roles: str, subject: str = "qa-officer-1", tenant: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, roles, subject=subject, tenant=tenant)}"}

    def writer(self, subject: str = "qa-officer-1") -> dict[str, str]:
        return self.token("audit:write", subject=subject)

    async def schedule(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "case_reference": f"LL-{uuid.uuid4().hex[:8].upper()}",
            "service_area": "childrens_social_care",
            "team": "through-care",
            "audit_type": "routine",
            "auditor_id": "auditor-1",
            "due_date": "2030-01-31",
            **overrides,
        }
        response = await self.client.post("/v1/audits", json=body, headers=self.writer())
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def grade(self, audit_id: str, grades: dict[str, str]) -> httpx.Response:
        body = {"grades": [{"area": a, "grade": g, "rationale": f"{a}: seen in the file"} for a, g in grades.items()]}
        return await self.client.post(f"/v1/audits/{audit_id}/grades", json=body, headers=self.writer())


@pytest.fixture(scope="module")
async def api(servers) -> AsyncIterator[AuditApi]:
    from services.audit.app import build

    connection = await aio_pika.connect(servers.amqp_url)
    channel = await connection.channel()
    await declare_topology(channel)
    exchange = await channel.get_exchange(EXCHANGE)
    queue = await channel.declare_queue(f"audit-observer-{uuid.uuid4().hex[:8]}", exclusive=True)
    await queue.bind(exchange, "audit.#")
    observer = Observer(connection)

    async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            observer.messages.append((message.routing_key or "", message.body, json.loads(message.body)))

    await queue.consume(collect)
    service, app = build()
    await service.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    try:
        yield AuditApi(client, observer, get_settings())
    finally:
        await client.aclose()
        # Leave nothing behind for later modules in this run: the outbox relayed, and the
        # copies that reporting's queue received from these tests gone.
        assert service.pool is not None
        async with service.pool.acquire() as conn:
            await eventually(lambda: outbox.backlog(conn, "audit"), lambda n: n == 0, what="audit outbox sent")
        await service.stop()
        await (await channel.get_queue(REPORTING_QUEUE)).purge()
        await connection.close()


async def test_an_audit_is_scheduled_graded_completed_and_moderated_and_the_broker_carries_the_events(
    api: AuditApi,
):
    raw = "MOS/0042117"
    audit = await api.schedule(case_reference=raw, team="safeguarding")
    audit_id = audit["audit_id"]
    case_ref = pseudonymise(raw, api.settings.pseudonym_key.get_secret_value())
    assert audit["status"] == "scheduled"
    assert audit["case_reference"] == raw and audit["case_ref"] == case_ref
    assert [a["area"] for a in audit["areas"]] == CASE_FILE_AREAS
    assert audit["template_id"] == "case-file-childrens_social_care"

    four_good = {a: "good" for a in CASE_FILE_AREAS[:4]}
    response = await api.grade(audit_id, four_good)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"

    response = await api.client.post(f"/v1/audits/{audit_id}/complete", json={}, headers=api.writer())
    assert response.status_code == 409 and "recording" in response.json()["detail"]

    assert (await api.grade(audit_id, {"recording": "requires_improvement"})).status_code == 200
    response = await api.client.post(f"/v1/audits/{audit_id}/complete", json={}, headers=api.writer())
    assert response.status_code == 200, response.text
    completed = response.json()
    assert completed["status"] == "completed"
    assert completed["overall_grade"] == completed["current_grade"] == "requires_improvement"
    assert completed["grade_rule"] == "worst"

    response = await api.grade(audit_id, {"recording": "good"})
    assert response.status_code == 409 and "completed" in response.json()["detail"]
    response = await api.client.post(f"/v1/audits/{audit_id}/complete", json={}, headers=api.writer())
    assert response.status_code == 409

    moderation = {"overall_grade": "good", "reason": "recording gap is minor; practice is good"}
    own = await api.client.post(f"/v1/audits/{audit_id}/moderations", json=moderation, headers=api.writer("auditor-1"))
    assert own.status_code == 409 and "second reader" in own.json()["detail"]
    response = await api.client.post(
        f"/v1/audits/{audit_id}/moderations", json=moderation, headers=api.writer("moderator-7")
    )
    assert response.status_code == 201, response.text
    moderated = response.json()
    assert moderated["overall_grade"] == "requires_improvement" and moderated["current_grade"] == "good"
    assert [(m["grade_before"], m["grade_after"], m["moderator_id"]) for m in moderated["moderations"]] == [
        ("requires_improvement", "good", "moderator-7")
    ]

    events = await api.observer.wait_for("audit_id", audit_id, ["AuditScheduled", "AuditGraded", "AuditModerated"])
    assert [e["type"] for e in events] == ["AuditScheduled", "AuditGraded", "AuditModerated"]
    assert [e["sequence"] for e in events] == ["1", "2", "3"]
    for event in events:
        parse_event(json.dumps(event))  # envelope and data validate against the shared models
        assert event["source"] == "/qaloop/audit"
        assert event["subject"] == subject_for(case_ref)
        assert event["tenant"] == api.settings.tenant
        assert event["dataschema"] == f"urn:qaloop:event:{event['type']}:1"
    graded, moderated_event = events[1], events[2]
    assert graded["data"] == {
        "audit_id": audit_id,
        "case_ref": case_ref,
        "service_area": "childrens_social_care",
        "team": "safeguarding",
        "audit_type": "routine",
        "completed_at": graded["data"]["completed_at"],
        "area_grades": [{"area": a, "grade": "good"} for a in CASE_FILE_AREAS[:4]]
        + [{"area": "recording", "grade": "requires_improvement"}],
        "overall_grade": "requires_improvement",
        "auditor_id": "auditor-1",
    }
    assert datetime.fromisoformat(graded["data"]["completed_at"]) <= datetime.now(UTC)
    assert moderated_event["data"]["overall_grade_before"] == "requires_improvement"
    assert moderated_event["data"]["overall_grade_after"] == "good"
    assert moderated_event["data"]["moderator_id"] == "moderator-7"
    assert moderated_event["data"]["reason"] == moderation["reason"]
    keys = [key for key, _, body in api.observer.messages if body["data"].get("audit_id") == audit_id]
    assert keys == ["audit.AuditScheduled", "audit.AuditGraded", "audit.AuditModerated"]

    wire = api.observer.raw()
    for leak in (raw, raw.lower(), "0042117", "seen in the file"):  # raw case number, rationale
        assert leak.encode() not in wire

    detail = (await api.client.get(f"/v1/audits/{audit_id}", headers=api.token("reporting:read"))).json()
    assert detail["case_reference"] is None and detail["case_ref"] == case_ref  # readers see the hash only
    assert detail["areas"][4] | {"graded_at": None} == {
        "area": "recording",
        "title": detail["areas"][4]["title"],
        "grade": "requires_improvement",
        "rationale": "recording: seen in the file",
        "graded_by": "qa-officer-1",
        "graded_at": None,
    }
    assert len(detail["moderations"]) == 1


async def test_the_same_case_gets_the_same_pseudonym_on_every_audit(api: AuditApi):
    first = await api.schedule(case_reference="MOS/7000001")
    second = await api.schedule(case_reference=" mos/7000001 ")
    assert first["case_ref"] == second["case_ref"]
    assert first["audit_id"] != second["audit_id"]


async def test_a_concern_a_targeted_audit_its_actions_and_the_resolution(api: AuditApi):
    w = api.writer()
    response = await api.client.post(
        "/v1/concerns",
        json={
            "service_area": "send",
            "theme": "management_oversight",
            "description": "management oversight of SEND cases is not evident on file",
            "measures": ["new SEND oversight template", "monthly case supervision"],
            "review_by": "2030-03-31",
        },
        headers=w,
    )
    assert response.status_code == 201, response.text
    concern_id = response.json()["concern_id"]

    audit = await api.schedule(service_area="send", team="send-0-14", audit_type="targeted", concern_id=concern_id)
    audit_id = audit["audit_id"]
    assert (await api.grade(audit_id, {a: "good" for a in CASE_FILE_AREAS})).status_code == 200

    resolve = {"evidence_audit_ids": [audit_id]}
    early = await api.client.post(f"/v1/concerns/{concern_id}/resolve", json=resolve, headers=w)
    assert early.status_code == 409 and "not completed" in early.json()["detail"]
    assert (await api.client.post(f"/v1/audits/{audit_id}/complete", json={}, headers=w)).status_code == 200

    response = await api.client.post(
        f"/v1/audits/{audit_id}/actions",
        json={"owner_id": "team-manager-3", "due_date": "2030-02-28", "summary": "record oversight monthly"},
        headers=w,
    )
    assert response.status_code == 201, response.text
    action = response.json()
    assert (action["origin"], action["origin_id"], action["team"]) == ("audit", audit_id, "send-0-14")
    response = await api.client.post(
        f"/v1/concerns/{concern_id}/actions",
        json={"owner_id": "send-lead", "due_date": "2030-02-28", "summary": "train managers", "team": "send-0-14"},
        headers=w,
    )
    assert response.status_code == 201 and response.json()["origin"] == "concern"

    response = await api.client.post(
        f"/v1/actions/{action['action_id']}/complete", json={"evidence": "supervision notes on file"}, headers=w
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    again = await api.client.post(f"/v1/actions/{action['action_id']}/complete", json={}, headers=w)
    assert again.status_code == 409

    response = await api.client.post(f"/v1/concerns/{concern_id}/resolve", json=resolve, headers=w)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved" and response.json()["evidence_audit_ids"] == [audit_id]
    again = await api.client.post(f"/v1/concerns/{concern_id}/resolve", json=resolve, headers=w)
    assert again.status_code == 409
    late = {
        "case_reference": "MOS/2",
        "service_area": "send",
        "team": "send-0-14",
        "audit_type": "targeted",
        "concern_id": concern_id,
        "auditor_id": "auditor-1",
        "due_date": "2030-01-31",
    }
    response = await api.client.post("/v1/audits", json=late, headers=w)
    assert response.status_code == 409 and "resolved" in response.json()["detail"]

    concern_events = await api.observer.wait_for("concern_id", concern_id, ["ConcernRaised", "ConcernResolved"])
    resolved = next(e for e in concern_events if e["type"] == "ConcernResolved")
    assert resolved["data"]["evidence_audit_ids"] == [audit_id]
    graded = next(
        e for e in await api.observer.wait_for("audit_id", audit_id, ["AuditGraded"]) if e["type"] == "AuditGraded"
    )
    assert graded["data"]["concern_id"] == concern_id and graded["data"]["audit_type"] == "targeted"
    action_events = await api.observer.wait_for("action_id", action["action_id"], ["ActionRaised", "ActionCompleted"])
    raised = next(e for e in action_events if e["type"] == "ActionRaised")
    assert raised["data"] | {"raised_at": None} == {
        "action_id": action["action_id"],
        "origin": "audit",
        "origin_id": audit_id,
        "team": "send-0-14",
        "service_area": "send",
        "owner_id": "team-manager-3",
        "raised_at": None,
        "due_date": "2030-02-28",
        "summary": "record oversight monthly",
    }
    assert raised["subject"] == subject_for(audit["case_ref"])
    keys = {key for key, _, body in api.observer.messages if body["data"].get("action_id") == action["action_id"]}
    assert keys == {"audit.ActionRaised", "audit.ActionCompleted"}

    detail = (await api.client.get(f"/v1/concerns/{concern_id}", headers=w)).json()
    assert detail["audit_ids"] == [audit_id] and len(detail["actions"]) == 1
    assert [a["action_id"] for a in (await api.client.get(f"/v1/audits/{audit_id}", headers=w)).json()["actions"]] == [
        action["action_id"]
    ]


async def test_auditors_list_audits_by_status_team_auditor_and_overdue(api: AuditApi):
    team = f"team-{uuid.uuid4().hex[:6]}"
    past = (date.today() - timedelta(days=10)).isoformat()
    overdue = await api.schedule(team=team, auditor_id="auditor-9", due_date=past)
    later = await api.schedule(team=team, auditor_id="auditor-8")
    r = api.token("reporting:read")

    async def ids(**params: str) -> list[str]:
        response = await api.client.get("/v1/audits", params={"team": team, **params}, headers=r)
        assert response.status_code == 200, response.text
        return [a["audit_id"] for a in response.json()["items"]]

    assert await ids() == [overdue["audit_id"], later["audit_id"]]  # by due date
    assert await ids(status="overdue") == [overdue["audit_id"]]
    assert await ids(auditor_id="auditor-8") == [later["audit_id"]]
    assert await ids(status="completed") == []
    assert await ids(due_by=past) == [overdue["audit_id"]]
    listed = (await api.client.get("/v1/audits", params={"team": team}, headers=r)).json()["items"]
    assert [a["overdue"] for a in listed] == [True, False]
    assert all(a["case_reference"] is None for a in listed)
    bad = await api.client.get("/v1/audits", params={"status": "lost"}, headers=r)
    assert bad.status_code == 422


async def test_templates_are_data_listed_and_created_through_the_api(api: AuditApi):
    r = api.token("reporting:read")
    listed = (await api.client.get("/v1/templates", params={"service_area": "send"}, headers=r)).json()["items"]
    assert {t["template_id"] for t in listed} >= {"case-file-send", "ehcp-send"}
    ehcp = await api.schedule(service_area="send", team="send-0-14", audit_type="ehcp")
    assert ehcp["template_id"] == "ehcp-send"
    assert "timeliness" in [a["area"] for a in ehcp["areas"]]

    areas = [{"key": "risk_management", "title": "Risk management"}, {"key": "desistance", "title": "Desistance"}]
    body = {
        "name": f"Youth justice themed {uuid.uuid4().hex[:6]}",
        "service_area": "youth_justice",
        "audit_type": "themed",
        "areas": areas,
        "is_default": True,
    }
    response = await api.client.post("/v1/templates", json=body, headers=api.writer())
    assert response.status_code == 201, response.text
    themed = await api.schedule(service_area="youth_justice", audit_type="themed", theme="exploitation")
    assert themed["template_id"] == response.json()["template_id"]
    assert [a["area"] for a in themed["areas"]] == ["risk_management", "desistance"]
    assert (await api.client.post("/v1/templates", json=body, headers=api.writer())).status_code == 409
    bad = await api.client.post(
        "/v1/templates", json={**body, "name": "dup areas", "areas": [areas[0]] * 2}, headers=api.writer()
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "areas"]


async def test_tokens_and_roles(api: AuditApi):
    audit = await api.schedule()
    path = f"/v1/audits/{audit['audit_id']}"
    assert (await api.client.get(path)).status_code == 401
    assert (await api.client.get(path, headers={"Authorization": "Bearer not-a-jwt"})).status_code == 401
    assert (await api.client.get(path, headers=api.token("reporting:read"))).status_code == 200
    assert (await api.client.get(path, headers=api.token("complaints:write"))).status_code == 403
    assert (await api.client.get(path, headers=api.token("audit:write", tenant="E99999999"))).status_code == 403
    grades = {"grades": [{"area": "planning", "grade": "good", "rationale": "x"}]}
    response = await api.client.post(f"{path}/grades", json=grades, headers=api.token("reporting:read"))
    assert response.status_code == 403
    assert (await api.client.post(f"{path}/grades", json=grades)).status_code == 401
    assert (await api.client.get("/healthz")).status_code == 200


async def test_invalid_requests_are_422_naming_the_field_and_wrong_states_409(api: AuditApi):
    w = api.writer()
    audit = await api.schedule()
    path = f"/v1/audits/{audit['audit_id']}"

    async def error(method: str, url: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = await api.client.request(method, url, json=body, headers=w)
        return response.status_code, response.json()["detail"]

    status, detail = await error(
        "POST", f"{path}/grades", {"grades": [{"area": "planning", "grade": "great", "rationale": "x"}]}
    )
    assert status == 422 and detail[0]["loc"][-1] == "grade"
    status, detail = await error(
        "POST", f"{path}/grades", {"grades": [{"area": "timeliness", "grade": "good", "rationale": "x"}]}
    )
    assert status == 422 and detail[0]["loc"] == ["body", "grades"] and "timeliness" in detail[0]["msg"]
    status, detail = await error("POST", f"{path}/grades", {"grades": [{"area": "planning", "grade": "good"}]})
    assert status == 422 and detail[0]["loc"][-1] == "rationale"
    status, detail = await error("POST", f"{path}/moderations", {"overall_grade": "good", "reason": "r"})
    assert status == 409 and "not completed" in detail
    status, detail = await error("POST", f"{path}/complete", {"completed_at": "2022-08-15T10:00:00"})
    assert status == 422 and detail[0]["loc"][-1] == "completed_at"  # no UTC offset
    status, detail = await error("POST", "/v1/audits/no-such-audit/complete", {})
    assert status == 404

    schedule = {"case_reference": "MOS/1", "team": "t", "auditor_id": "a", "due_date": "2030-01-01"}
    status, detail = await error("POST", "/v1/audits", {**schedule, "service_area": "adults", "audit_type": "routine"})
    assert status == 422 and detail[0]["loc"][-1] == "service_area"
    status, detail = await error("POST", "/v1/audits", {**schedule, "service_area": "send", "audit_type": "targeted"})
    assert status == 422 and detail[0]["loc"] == ["body", "concern_id"]
    status, detail = await error(
        "POST", "/v1/audits", {**schedule, "service_area": "send", "audit_type": "routine", "concern_id": "nope"}
    )
    assert status == 422 and "unknown concern" in detail[0]["msg"]
    status, detail = await error("POST", "/v1/audits", {**schedule, "service_area": "fostering", "audit_type": "ehcp"})
    assert status == 422 and detail[0]["loc"] == ["body", "template_id"]
    status, detail = await error(
        "POST", "/v1/audits", {**schedule, "service_area": "send", "audit_type": "routine", "colour": "red"}
    )
    assert status == 422 and detail[0]["loc"][-1] == "colour"
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for area in CASE_FILE_AREAS:
        assert (await api.grade(audit["audit_id"], {area: "good"})).status_code == 200
    status, detail = await error("POST", f"{path}/complete", {"completed_at": future})
    assert status == 422 and "future" in detail[0]["msg"]
    status, detail = await error("POST", f"{path}/complete", {"overall_grade": "outstanding"})
    assert status == 422 and detail[0]["loc"] == ["body", "overall_grade"]


async def test_best_fit_lets_the_auditor_judge_overall_within_the_area_grades(api: AuditApi, servers):
    from services.audit.app import build

    service, app = build(Settings(overall_grade_rule="best_fit"))
    await service.start(relay=False)  # the module's service relays this schema's outbox
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    try:
        w = api.writer()
        audit = await api.schedule()
        audit_id = audit["audit_id"]
        grades = {a: "good" for a in CASE_FILE_AREAS} | {"recording": "requires_improvement"}
        body = {"grades": [{"area": a, "grade": g, "rationale": "seen"} for a, g in grades.items()]}
        assert (await client.post(f"/v1/audits/{audit_id}/grades", json=body, headers=w)).status_code == 200
        for stated in ({}, {"overall_grade": "outstanding"}, {"overall_grade": "inadequate"}):
            response = await client.post(f"/v1/audits/{audit_id}/complete", json=stated, headers=w)
            assert response.status_code == 422, response.text
        response = await client.post(f"/v1/audits/{audit_id}/complete", json={"overall_grade": "good"}, headers=w)
        assert response.status_code == 200, response.text
        assert response.json()["overall_grade"] == "good" and response.json()["grade_rule"] == "best_fit"
        events = await api.observer.wait_for("audit_id", audit_id, ["AuditGraded"])
        graded = next(e for e in events if e["type"] == "AuditGraded")
        assert graded["data"]["overall_grade"] == "good"
    finally:
        await client.aclose()
        await service.stop()


async def test_concurrent_completions_grade_the_audit_once(api: AuditApi, pool: Any):
    audit = await api.schedule()
    audit_id = audit["audit_id"]
    assert (await api.grade(audit_id, {a: "good" for a in CASE_FILE_AREAS})).status_code == 200
    responses = await asyncio.gather(
        *(api.client.post(f"/v1/audits/{audit_id}/complete", json={}, headers=api.writer()) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    # Every request has answered, so every event it wrote is in the outbox: one AuditGraded.
    async with pool.acquire() as conn:
        written = await conn.fetch(
            """SELECT event_type FROM audit.outbox
               WHERE convert_from(body, 'UTF8')::jsonb #>> '{data,audit_id}' = $1 ORDER BY position""",
            audit_id,
        )
    assert [r["event_type"] for r in written] == ["AuditScheduled", "AuditGraded"]
    await api.observer.wait_for("audit_id", audit_id, ["AuditGraded"])
    assert [e["type"] for e in api.observer.about("audit_id", audit_id)] == ["AuditScheduled", "AuditGraded"]
    bad = await api.client.get("/v1/audits", params={"service_area": "adults"}, headers=api.writer())
    assert bad.status_code == 422


async def test_actions_on_an_audit_and_a_concern_retried_refused_listed_and_completed(api: AuditApi):
    w = api.writer()
    audit = await api.schedule(team="through-care")
    audit_id, action_id = audit["audit_id"], f"act-{uuid.uuid4().hex[:8]}"
    body = {"action_id": action_id, "owner_id": "team-manager-3", "due_date": "2030-02-28", "summary": "supervise"}
    first = await api.client.post(f"/v1/audits/{audit_id}/actions", json=body, headers=w)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["overdue"], first.json()["team"]) == ("open", False, "through-care")
    retry = await api.client.post(f"/v1/audits/{audit_id}/actions", json=body, headers=w)
    assert retry.status_code == 200 and retry.json() == first.json()  # a retry adds nothing
    other = await api.client.post(f"/v1/audits/{audit_id}/actions", json={**body, "summary": "else"}, headers=w)
    assert other.status_code == 409 and "other content" in other.json()["detail"]
    team = await api.client.post(
        f"/v1/audits/{audit_id}/actions", json={**body, "action_id": None, "team": "elsewhere"}, headers=w
    )
    assert team.status_code == 422 and team.json()["detail"][0]["loc"] == ["body", "team"]
    early = await api.client.post(
        f"/v1/audits/{audit_id}/actions", json={**body, "action_id": None, "due_date": "2020-01-01"}, headers=w
    )
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "due_date"]
    unknown = await api.client.post("/v1/audits/no-such-audit/actions", json=body, headers=w)
    assert unknown.status_code == 404

    concern = await api.client.post(
        "/v1/concerns",
        json={
            "service_area": "childrens_social_care",
            "theme": "planning",
            "description": "plans are not reviewed on time",
            "measures": ["review dates in supervision"],
            "review_by": "2030-03-31",
        },
        headers=w,
    )
    concern_id = concern.json()["concern_id"]
    untitled = {"owner_id": "lead", "due_date": "2030-02-28", "summary": "train managers"}
    no_team = await api.client.post(f"/v1/concerns/{concern_id}/actions", json=untitled, headers=w)
    assert no_team.status_code == 422 and no_team.json()["detail"][0]["loc"] == ["body", "team"]
    unknown = await api.client.post("/v1/concerns/no-such-concern/actions", json=untitled, headers=w)
    assert unknown.status_code == 404
    on_concern = await api.client.post(
        f"/v1/concerns/{concern_id}/actions", json={**untitled, "team": "through-care"}, headers=w
    )
    assert on_concern.status_code == 201 and on_concern.json()["origin"] == "concern"

    listed = await api.client.get("/v1/actions", params={"origin_id": audit_id}, headers=api.token("reporting:read"))
    assert listed.status_code == 200 and [a["action_id"] for a in listed.json()["items"]] == [action_id]
    read = await api.client.get(f"/v1/actions/{action_id}", headers=api.token("reporting:read"))
    assert read.status_code == 200 and read.json() == first.json()
    done = {"evidence": "supervision notes on file"}
    completed = await api.client.post(f"/v1/actions/{action_id}/complete", json=done, headers=w)
    assert completed.status_code == 200 and completed.json()["on_time"] is True
    again = await api.client.post(f"/v1/actions/{action_id}/complete", json=done, headers=w)
    assert again.status_code == 200 and again.json() == completed.json()  # the same completion: nothing new

    events = await api.observer.wait_for("action_id", action_id, ["ActionRaised", "ActionCompleted"])
    assert [e["type"] for e in events] == ["ActionRaised", "ActionCompleted"]
    assert {e["subject"] for e in events} == {subject_for(audit["case_ref"])}
    assert [e["sequence"] for e in events] == ["1", "2"]
