"""The complaints service over HTTP, with the real PostgreSQL and RabbitMQ.

A complaint goes through stage 1, escalation and stage 2 over the API; every event is
received from the broker, in order, with the contract's fields and no personal data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aio_pika
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import EXCHANGE, declare_topology
from shared.events import parse_event
from shared.settings import Settings, get_settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

PERSONAL = ("Jane Brown", "jane.brown@example.org", "CASE-0042", "was not called back", "Sam")


def bearer(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(get_settings(), roles, subject='officer-1')}"}


WRITER = "complaints:write"


@pytest.fixture(scope="module")
async def own_servers(servers: srv.Servers) -> AsyncIterator[Settings]:
    """This module's own RabbitMQ vhost and database. The run's vhost is shared by every
    integration test, and its `reporting.events` queue keeps whatever is published there:
    complaints published here must not turn up in another test's reporting figures."""
    async with srv.module_servers(servers, "complaints") as (amqp_url, database_url):
        yield Settings(amqp_url=amqp_url, database_url=database_url)


@pytest.fixture(scope="module")
async def client(own_servers: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from services.complaints.app import build

    service, app = build(settings=own_servers)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=bearer(WRITER)) as http:
            yield http
    finally:
        await service.stop()


class Observer:
    """An exclusive queue bound to every complaints event in this module's vhost."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], bytes]] = []
        self.connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self, amqp_url: str, name: str) -> None:
        self.connection = await aio_pika.connect(amqp_url)
        channel = await self.connection.channel()
        await declare_topology(channel)
        exchange = await channel.get_exchange(EXCHANGE)
        queue = await channel.declare_queue(name, exclusive=True)
        await queue.bind(exchange, "complaints.#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
                assert message.content_type == "application/cloudevents+json"
                body = json.loads(message.body)
                assert message.message_id == body["id"]
                self.seen.append((message.routing_key or "", body, message.body))

        await queue.consume(collect)

    def of(self, complaint_id: str) -> list[tuple[str, dict[str, Any], bytes]]:
        """The events about one complaint: its own, its learning's and its actions'
        (whose ids the tests prefix with the complaint id)."""

        def about(data: dict[str, Any]) -> bool:
            return complaint_id in (data.get("complaint_id"), data.get("origin_id")) or str(
                data.get("action_id", "")
            ).startswith(f"{complaint_id}-")

        return [m for m in self.seen if about(m[1]["data"])]

    async def close(self) -> None:
        if self.connection:
            await self.connection.close()


@pytest.fixture
async def observer(own_servers: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Observer]:
    o = Observer()
    await o.start(own_servers.amqp_url, f"complaints-observer-{request.node.name[:60]}")
    yield o
    await o.close()


async def ok(response: httpx.Response, code: int = 200) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_complaint_through_stage1_escalation_and_stage2_publishes_each_event_in_order(
    client: httpx.AsyncClient, observer: Observer
) -> None:
    cid = "it-journey-1"
    received = await ok(
        await client.post(
            "/v1/complaints",
            json={
                "complaint_id": cid,
                "procedure": "statutory_children",
                "category": "communication",
                "team": "through-care",
                "service_area": "childrens_social_care",
                "complainant": "parent_carer",
                "received_at": "2022-07-31T23:30:00Z",  # Monday 1 August in London
                "case_ref": "CASE-0042",
                "complainant_name": "Jane Brown",
                "complainant_contact": "jane.brown@example.org",
            },
        ),
        201,
    )
    assert received["status"] == "open" and received["current_stage"] == 1
    assert received["due_date"] == "2022-08-15" and received["maximum_date"] == "2022-08-30"
    assert received["complainant_details"] == {
        "name": "Jane Brown",
        "contact": "jane.brown@example.org",
    }

    await ok(
        await client.post(f"/v1/complaints/{cid}/acknowledge", json={"acknowledged_at": "2022-08-02T09:00:00+01:00"})
    )
    extended = await ok(
        await client.post(
            f"/v1/complaints/{cid}/extend",
            json={
                "extend_by_working_days": 5,
                "reason": "complex",
                "note": "Sam's records are archived",
                "extended_at": "2022-08-10T12:00:00Z",
            },
        )
    )
    assert extended["due_date"] == "2022-08-22"
    stage1 = await ok(
        await client.post(
            f"/v1/complaints/{cid}/respond",
            json={
                "closed_at": "2022-08-16T15:00:00+01:00",
                "points": [
                    {"summary": "Jane Brown was not called back", "upheld": True},
                    {"summary": "the plan was late", "upheld": False},
                ],
            },
        )
    )
    assert stage1["status"] == "responded"
    closed1 = stage1["stages"][0]
    assert (closed1["outcome"], closed1["within_timescale"], closed1["working_days_taken"]) == (
        "partially_upheld",
        True,
        11,
    )
    escalated = await ok(
        await client.post(f"/v1/complaints/{cid}/escalate", json={"escalated_at": "2022-09-01T10:00:00Z"})
    )
    assert (escalated["current_stage"], escalated["due_date"]) == (2, "2022-10-07")
    stage2 = await ok(
        await client.post(
            f"/v1/complaints/{cid}/respond",
            json={"closed_at": "2022-10-10T16:00:00+01:00", "points": [{"upheld": False}]},
        )
    )
    assert stage2["stages"][1]["outcome"] == "not_upheld"

    learning = await ok(
        await client.post(f"/v1/complaints/{cid}/learning", json={"summary": "Call families back within a day"}),
        201,
    )
    action = await ok(
        await client.post(
            f"/v1/complaints/{cid}/actions",
            json={
                "action_id": f"{cid}-a1",
                "learning_id": learning["learning_id"],
                "owner_id": "manager-7",
                "raised_at": "2022-10-12T10:00:00Z",
                "due_date": "2022-11-30",
                "summary": "Call-back log on the duty rota",
            },
        ),
        201,
    )
    assert (action["origin"], action["origin_id"], action["team"], action["learning_id"]) == (
        "complaint",
        cid,
        "through-care",
        learning["learning_id"],
    )
    done = await ok(
        await client.post(
            f"/v1/actions/{action['action_id']}/complete",
            json={"completed_at": "2022-11-20T10:00:00Z", "evidence": "rota v3"},
        )
    )
    assert done["completed_at"].startswith("2022-11-20") and done["status"] == "completed"

    expected = [
        "ComplaintReceived",
        "ComplaintAcknowledged",
        "ComplaintExtended",
        "ComplaintClosed",
        "ComplaintEscalated",
        "ComplaintClosed",
        "LearningIdentified",
        "ActionRaised",
        "ActionCompleted",
    ]

    async def mine() -> list[tuple[str, dict[str, Any], bytes]]:
        return observer.of(cid)

    events = await eventually(mine, lambda e: len(e) >= len(expected), timeout=10, what="9 events")
    assert [body["type"] for _, body, _ in events] == expected
    assert [key for key, _, _ in events] == [f"complaints.{t}" for t in expected]
    # the complaint's own events in one sequence; the action's in its own (aggregate action:<id>)
    assert [body["sequence"] for _, body, _ in events] == [str(i) for i in range(1, 8)] + ["1", "2"]
    subjects = {str(body.get("subject")) for _, body, _ in events}
    assert len(subjects) == 1 and subjects.pop().startswith("case:")  # pseudonymised
    for _, body, raw in events:
        assert body["source"] == "/qaloop/complaints" and body["tenant"] == get_settings().tenant
        parse_event(raw)  # a valid CloudEvent whose data validates against its model
        for secret in PERSONAL:
            assert secret not in raw.decode(), f"{secret!r} leaked into {body['type']}"

    data = [body["data"] for _, body, _ in events]
    assert data[0] == {
        "complaint_id": cid,
        "procedure": "statutory_children",
        "stage": 1,
        "category": "communication",
        "team": "through-care",
        "service_area": "childrens_social_care",
        "received_at": "2022-07-31T23:30:00Z",
        "complainant": "parent_carer",
    }
    assert data[2] == {"complaint_id": cid, "stage": 1, "new_due_date": "2022-08-22", "reason": "complex"}
    assert data[3] == {
        "complaint_id": cid,
        "stage": 1,
        "closed_at": "2022-08-16T15:00:00+01:00",
        "outcome": "partially_upheld",
        "points": [{"upheld": True}, {"upheld": False}],
        "due_date": "2022-08-22",
        "within_timescale": True,
        "working_days_taken": 11,
    }
    assert data[4] == {
        "complaint_id": cid,
        "from_stage": 1,
        "to_stage": 2,
        "escalated_at": "2022-09-01T10:00:00Z",
        "late_request": False,
    }
    assert {k: data[5][k] for k in ("stage", "outcome", "due_date", "within_timescale", "working_days_taken")} == {
        "stage": 2,
        "outcome": "not_upheld",
        "due_date": "2022-10-07",
        "within_timescale": False,
        "working_days_taken": 26,
    }
    assert (data[6]["origin"], data[6]["origin_id"], data[6]["team"]) == ("complaint", cid, "through-care")
    assert (data[7]["origin"], data[7]["origin_id"], data[7]["due_date"]) == ("complaint", cid, "2022-11-30")
    assert data[8]["action_id"] == f"{cid}-a1"

    # One complaint with its history, for an officer and (redacted) for a reporting reader.
    full = await ok(await client.get(f"/v1/complaints/{cid}"))
    assert [h["kind"] for h in full["history"]] == expected
    assert [h["event_id"] for h in full["history"]] == [body["id"] for _, body, _ in events]
    assert {h["actor"] for h in full["history"]} == {"officer-1"}
    assert [(a["action_id"], a["status"], a["evidence"]) for a in full["actions"]] == [
        (f"{cid}-a1", "completed", "rota v3")
    ]
    assert full["case_ref"] == "CASE-0042"
    assert full["stages"][0]["points"][0]["summary"] == "Jane Brown was not called back"
    redacted_response = await client.get(f"/v1/complaints/{cid}", headers=bearer("reporting:read"))
    redacted = await ok(redacted_response)
    assert redacted["case_ref"] is None and redacted["complainant_details"] is None
    for secret in PERSONAL:
        assert secret not in redacted_response.text


async def test_an_action_on_a_complaint_is_raised_once_and_completed_on_the_shared_route(
    client: httpx.AsyncClient,
) -> None:
    cid, other = "it-actions", "it-actions-other"
    for complaint_id in (cid, other):
        await ok(
            await client.post(
                "/v1/complaints",
                json={
                    "complaint_id": complaint_id,
                    "procedure": "corporate",
                    "category": "record_keeping",
                    "team": "learning-team",
                    "service_area": "send",
                    "complainant": "parent_carer",
                    "received_at": "2022-08-01T10:00:00Z",
                    "case_ref": "CASE-0042",
                },
            ),
            201,
        )
    await ok(
        await client.post(f"/v1/complaints/{other}/learning", json={"learning_id": f"{other}-l1", "summary": "s"}), 201
    )
    body = {
        "action_id": f"{cid}-a1",
        "owner_id": "manager-7",
        "due_date": "2022-09-30",
        "summary": "Call-back log on the duty rota",
        "raised_at": "2022-08-12T10:00:00Z",
    }
    raised = await ok(await client.post(f"/v1/complaints/{cid}/actions", json=body), 201)
    assert (raised["origin"], raised["origin_id"], raised["team"], raised["service_area"]) == (
        "complaint",
        cid,
        "learning-team",
        "send",
    )
    assert (raised["raised_by"], raised["status"], raised["learning_id"]) == ("officer-1", "open", None)
    assert await ok(await client.post(f"/v1/complaints/{cid}/actions", json=body)) == raised  # a retry: 200
    changed = await client.post(f"/v1/complaints/{cid}/actions", json={**body, "summary": "Something else"})
    assert changed.status_code == 409 and "other content" in changed.json()["detail"]
    assert (await client.post("/v1/complaints/nope/actions", json={**body, "action_id": "x-1"})).status_code == 404

    def field_of(response: httpx.Response) -> list[list[str]]:
        assert response.status_code == 422, response.text
        return [e["loc"] for e in response.json()["detail"]]

    not_ours = {**body, "action_id": f"{cid}-a2", "learning_id": f"{other}-l1"}
    assert field_of(await client.post(f"/v1/complaints/{cid}/actions", json=not_ours)) == [["body", "learning_id"]]
    early = {**body, "action_id": f"{cid}-a3", "due_date": "2022-08-11"}
    assert field_of(await client.post(f"/v1/complaints/{cid}/actions", json=early)) == [["body", "due_date"]]

    listed = await ok(await client.get("/v1/actions", params={"origin_id": cid}, headers=bearer("reporting:read")))
    assert [a["action_id"] for a in listed["items"]] == [f"{cid}-a1"]
    gone = await client.post(f"/v1/complaints/{cid}/actions/{cid}-a1/complete", json={})
    assert gone.status_code == 404  # completion moved to the shared route
    completion = {"completed_at": "2022-09-20T10:00:00Z", "evidence": "rota v3"}
    refused = await client.post(f"/v1/actions/{cid}-a1/complete", json=completion, headers=bearer("reporting:read"))
    assert refused.status_code == 403
    owner = {"Authorization": f"Bearer {issue_token(get_settings(), [WRITER], subject='manager-7')}"}
    done = await ok(await client.post(f"/v1/actions/{cid}-a1/complete", json=completion, headers=owner))
    assert (done["status"], done["completed_by"], done["on_time"]) == ("completed", "manager-7", True)
    assert await ok(await client.post(f"/v1/actions/{cid}-a1/complete", json=completion, headers=owner)) == done
    again = await client.post(f"/v1/actions/{cid}-a1/complete", json={**completion, "evidence": "other"}, headers=owner)
    assert again.status_code == 409

    # what was published is in the complaint's history (written with each event), once
    full = await ok(await client.get(f"/v1/complaints/{cid}"))
    assert [(h["kind"], h["actor"]) for h in full["history"]] == [
        ("ComplaintReceived", "officer-1"),
        ("ActionRaised", "officer-1"),
        ("ActionCompleted", "manager-7"),
    ]
    assert [a["action_id"] for a in full["actions"]] == [f"{cid}-a1"]


async def test_open_and_overdue_queries_filter_by_team_and_category(client: httpx.AsyncClient) -> None:
    base = {"procedure": "corporate", "service_area": "send", "complainant": "parent_carer"}
    for cid, team, category, received_at in [
        ("q-1", "send-east", "delay", "2022-08-01T10:00:00Z"),  # due Mon 15 Aug
        ("q-2", "send-east", "communication", "2022-08-08T10:00:00Z"),  # due Mon 22 Aug
        ("q-3", "send-west", "delay", "2022-08-08T10:00:00Z"),
    ]:
        await ok(
            await client.post(
                "/v1/complaints",
                json={**base, "complaint_id": cid, "team": team, "category": category, "received_at": received_at},
            ),
            201,
        )
    await ok(
        await client.post(
            "/v1/complaints/q-3/respond", json={"closed_at": "2022-08-09T10:00:00Z", "points": [{"upheld": True}]}
        )
    )

    east = await ok(await client.get("/v1/complaints", params={"team": "send-east", "as_of": "2022-08-17"}))
    assert [(c["complaint_id"], c["due_date"], c["working_days_left"], c["overdue"]) for c in east["complaints"]] == [
        ("q-1", "2022-08-15", -2, True),
        ("q-2", "2022-08-22", 3, False),
    ]
    overdue = await ok(
        await client.get("/v1/complaints", params={"status": "overdue", "as_of": "2022-08-17", "category": "delay"})
    )
    assert [c["complaint_id"] for c in overdue["complaints"]] == ["q-1"]
    responded = await ok(
        await client.get(
            "/v1/complaints", params={"status": "responded", "team": "send-west"}, headers=bearer("reporting:read")
        )
    )
    assert [c["complaint_id"] for c in responded["complaints"]] == ["q-3"]


async def test_without_a_token_401_with_the_wrong_role_403(client: httpx.AsyncClient) -> None:
    no_token = await client.get("/v1/complaints", headers={"Authorization": ""})
    assert no_token.status_code == 401
    body = {"procedure": "corporate", "category": "c", "team": "t", "service_area": "send", "complainant": "child"}
    assert (await client.post("/v1/complaints", json=body, headers={"Authorization": ""})).status_code == 401
    assert (await client.post("/v1/complaints", json=body, headers=bearer("audit:write"))).status_code == 403
    assert (await client.post("/v1/complaints", json=body, headers=bearer("reporting:read"))).status_code == 403
    assert (await client.get("/v1/complaints", headers=bearer("feedback:write"))).status_code == 403
    assert (await client.get("/v1/complaints", headers=bearer("reporting:read"))).status_code == 200
    assert (await client.get("/healthz", headers={"Authorization": ""})).status_code == 200


async def test_invalid_transitions_are_409_with_the_reason(client: httpx.AsyncClient) -> None:
    cid = "it-409"
    await ok(
        await client.post(
            "/v1/complaints",
            json={
                "complaint_id": cid,
                "procedure": "statutory_children",
                "stage": 3,
                "category": "c",
                "team": "t",
                "service_area": "fostering",
                "complainant": "young_person",
                "received_at": "2022-08-01T10:00:00Z",
            },
        ),
        201,
    )
    duplicate = await client.post(
        "/v1/complaints",
        json={
            "complaint_id": cid,
            "procedure": "corporate",
            "category": "c",
            "team": "t",
            "service_area": "send",
            "complainant": "child",
        },
    )
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    early = await client.post(f"/v1/complaints/{cid}/escalate", json={"escalated_at": "2022-08-02"})
    assert early.status_code == 409 and "no response yet" in early.json()["detail"]
    await ok(
        await client.post(
            f"/v1/complaints/{cid}/respond", json={"closed_at": "2022-08-10", "points": [{"upheld": True}]}
        )
    )
    for path, body, reason in [
        ("respond", {"closed_at": "2022-08-11", "points": [{"upheld": True}]}, "closed"),
        ("extend", {"new_due_date": "2022-09-01", "reason": "complex", "extended_at": "2022-08-11"}, "closed"),
        ("escalate", {"escalated_at": "2022-08-11"}, "last stage"),
        ("withdraw", {"withdrawn_at": "2022-08-11"}, "closed"),
    ]:
        refused = await client.post(f"/v1/complaints/{cid}/{path}", json=body)
        assert refused.status_code == 409, (path, refused.text)
        assert reason in refused.json()["detail"], (path, refused.text)
    missing = await client.post("/v1/complaints/nope/acknowledge", json={})
    assert missing.status_code == 404


async def test_malformed_or_rule_breaking_fields_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    def field_of(response: httpx.Response) -> list[str]:
        assert response.status_code == 422, response.text
        return [str(e["loc"][-1]) for e in response.json()["detail"]]

    good = {
        "procedure": "corporate",
        "category": "c",
        "team": "t",
        "service_area": "send",
        "complainant": "child",
        "received_at": "2022-08-01T10:00:00Z",
    }
    assert "procedure" in field_of(await client.post("/v1/complaints", json={**good, "procedure": "informal"}))
    assert "service_area" in field_of(await client.post("/v1/complaints", json={**good, "service_area": "highways"}))
    assert "received_at" in field_of(await client.post("/v1/complaints", json={**good, "received_at": "yesterday"}))
    assert "stage" in field_of(await client.post("/v1/complaints", json={**good, "stage": 4}))
    assert "recieved_at" in field_of(await client.post("/v1/complaints", json={**good, "recieved_at": "2022-08-01"}))

    cid = (await ok(await client.post("/v1/complaints", json=good), 201))["complaint_id"]
    past_max = await client.post(
        f"/v1/complaints/{cid}/extend",
        json={"new_due_date": "2022-08-31", "reason": "complex", "extended_at": "2022-08-05"},
    )
    assert field_of(past_max) == ["new_due_date"]
    assert "2022-08-30" in past_max.json()["detail"][0]["msg"]  # the maximum, named
    by_days = await client.post(
        f"/v1/complaints/{cid}/extend",
        json={"extend_by_working_days": 11, "reason": "complex", "extended_at": "2022-08-05"},
    )
    assert field_of(by_days) == ["extend_by_working_days"]
    neither = await client.post(f"/v1/complaints/{cid}/extend", json={"reason": "complex"})
    assert field_of(neither) == ["new_due_date"]
    assert "points" in field_of(await client.post(f"/v1/complaints/{cid}/respond", json={"points": []}))
    assert "upheld" in field_of(
        await client.post(f"/v1/complaints/{cid}/respond", json={"points": [{"upheld": "maybe"}]})
    )
    assert field_of(
        await client.post(
            f"/v1/complaints/{cid}/respond", json={"closed_at": "2022-07-29", "points": [{"upheld": True}]}
        )
    ) == ["closed_at"]
    assert "reason" in field_of(
        await client.post(f"/v1/complaints/{cid}/extend", json={"new_due_date": "2022-08-22", "reason": "busy"})
    )
    detail = await ok(await client.get(f"/v1/complaints/{cid}"))
    assert detail["stages"][0]["extensions"] == [] and detail["status"] == "open"
    assert detail["due_date"] == str(date(2022, 8, 15))


async def test_the_stage2_clock_can_start_at_the_agreed_statement(own_servers: Settings) -> None:
    from services.complaints.app import build

    # The one setting reporting reads too, with this tenant's own section.
    sections = {"default": {}, "tenants": {own_servers.tenant: {"stage2_clock": "agreed_statement"}}}
    service, app = build(settings=own_servers.model_copy(update={"complaints_timescales": sections}))
    await service.start(relay=False)  # the module's service relays this schema's outbox
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer(WRITER)
        ) as http:
            cid = "it-agreed"
            await ok(
                await http.post(
                    "/v1/complaints",
                    json={
                        "complaint_id": cid,
                        "procedure": "statutory_children",
                        "stage": 2,
                        "category": "c",
                        "team": "t",
                        "service_area": "fostering",
                        "complainant": "advocate",
                        "received_at": "2022-09-01T10:00:00Z",
                    },
                ),
                201,
            )
            waiting = await http.post(
                f"/v1/complaints/{cid}/respond", json={"closed_at": "2022-09-02", "points": [{"upheld": True}]}
            )
            assert waiting.status_code == 409 and "agreed statement" in waiting.json()["detail"]
            agreed = await ok(
                await http.post(f"/v1/complaints/{cid}/agree-statement", json={"agreed_at": "2022-09-08"})
            )
            assert (agreed["due_date"], agreed["stages"][0]["clock_start"]) == ("2022-10-14", "2022-09-08")
            assert agreed["history"][-1]["kind"] == "ComplaintStatementAgreed"
    finally:
        await service.stop()


async def test_stage3_panels_the_ombudsman_and_a_late_request_over_http(
    client: httpx.AsyncClient, observer: Observer
) -> None:
    cid = "it-panel-1"
    await ok(
        await client.post(
            "/v1/complaints",
            json={
                "complaint_id": cid,
                "procedure": "statutory_children",
                "category": "communication",
                "team": "through-care",
                "service_area": "childrens_social_care",
                "complainant": "foster_carer",
                "received_at": "2022-08-01T10:00:00Z",
            },
        ),
        201,
    )
    respond = {"closed_at": "2022-08-12T10:00:00Z", "points": [{"upheld": False}]}
    await ok(await client.post(f"/v1/complaints/{cid}/respond", json=respond))
    late = await ok(await client.post(f"/v1/complaints/{cid}/escalate", json={"escalated_at": "2022-09-13"}))
    assert late["stages"][1]["late_request"] is True
    await ok(await client.post(f"/v1/complaints/{cid}/agree-statement", json={"agreed_at": "2022-09-14"}))
    respond = {"closed_at": "2022-10-03T10:00:00Z", "points": [{"upheld": False}]}
    await ok(await client.post(f"/v1/complaints/{cid}/respond", json=respond))
    await ok(await client.post(f"/v1/complaints/{cid}/escalate", json={"escalated_at": "2022-10-10"}))
    bad = await client.post(f"/v1/complaints/{cid}/hold-panel", json={"held_at": "2022-10-07"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "held_at"
    panel = await ok(await client.post(f"/v1/complaints/{cid}/hold-panel", json={"held_at": "2022-11-18"}))
    assert (panel["due_date"], panel["stages"][2]["panels_held_at"]) == ("2022-12-16", ["2022-11-18T00:00:00Z"])
    await ok(await client.post(f"/v1/complaints/{cid}/refer-to-ombudsman", json={"referred_at": "2022-11-20"}))
    wrong = await client.post(f"/v1/complaints/{cid}/ombudsman-decision", json={"finding": "partly"})
    assert wrong.status_code == 422
    decided = await ok(
        await client.post(
            f"/v1/complaints/{cid}/ombudsman-decision", json={"finding": "fault", "decided_at": "2023-02-01"}
        )
    )
    assert decided["ombudsman"][0]["finding"] == "fault"
    wanted = [
        "complaints.ComplaintReceived",
        "complaints.ComplaintClosed",
        "complaints.ComplaintEscalated",
        "complaints.ComplaintStatementAgreed",
        "complaints.ComplaintClosed",
        "complaints.ComplaintEscalated",
        "complaints.ComplaintPanelHeld",
        "complaints.ComplaintReferredToOmbudsman",
        "complaints.OmbudsmanDecided",
    ]

    async def mine() -> list[tuple[str, dict[str, Any], bytes]]:
        return observer.of(cid)

    seen = await eventually(mine, lambda e: len(e) >= len(wanted), timeout=20, what="9 events")
    assert [key for key, _, _ in seen] == wanted
    for _, _, body in seen:
        parse_event(body)  # each one validates against the catalogue
    assert seen[2][1]["data"]["late_request"] is True and seen[5][1]["data"]["late_request"] is False
