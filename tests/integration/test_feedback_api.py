"""The feedback service over HTTP, with the real PostgreSQL and RabbitMQ: responses (one at a
time and from a CSV export), survey versions, compliments, "you said, we did" and actions on
responses and themes; every event is received from the broker, and none carries free text or
contact details."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import EXCHANGE, declare_topology
from shared.events import ActionCompleted, ActionRaised, FeedbackReceived, parse_event
from shared.settings import Settings, get_settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent.parent / "data" / "feedback"
CSC = "csc-children-young-people"
SEND = "send-family-experience"
FOSTER_CARERS = "foster-carer-experience"


def bearer(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(get_settings(), roles, subject='worker-1')}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Observer:
    """An exclusive queue bound to every feedback event in this module's vhost."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], bytes]] = []
        self.connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self, amqp_url: str) -> None:
        self.connection = await aio_pika.connect(amqp_url)
        channel = await self.connection.channel()
        await declare_topology(channel)
        exchange = await channel.get_exchange(EXCHANGE)
        queue = await channel.declare_queue(unique("feedback-observer"), exclusive=True)
        await queue.bind(exchange, "feedback.#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                body = json.loads(message.body)
                assert message.message_id == body["id"]
                self.seen.append((message.routing_key or "", body, message.body))

        await queue.consume(collect)

    def where(self, field: str, value: str) -> list[dict[str, Any]]:
        return [body for _, body, _ in self.seen if body["data"].get(field) == value]

    async def wait_for(self, field: str, value: str, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            return self.where(field, value)

        return await eventually(probe, lambda found: len(found) >= count, what=f"{field}={value}")

    def raw(self) -> bytes:
        return b"\n".join(raw for _, _, raw in self.seen)


@pytest.fixture(scope="module")
async def own_servers(servers: srv.Servers) -> AsyncIterator[Settings]:
    """This module's own RabbitMQ vhost and database: the run's `reporting.events` queue keeps
    whatever is published in the run's vhost, and feedback published here must not turn up
    in another test's reporting figures."""
    async with srv.module_servers(servers, "feedback") as (amqp_url, database_url):
        yield Settings(amqp_url=amqp_url, database_url=database_url)


@pytest.fixture(scope="module")
async def observer(own_servers: Settings) -> AsyncIterator[Observer]:
    seen = Observer()
    await seen.start(own_servers.amqp_url)
    yield seen
    if seen.connection:
        await seen.connection.close()


@pytest.fixture(scope="module")
async def feedback(own_servers: Settings, observer: Observer) -> AsyncIterator[Any]:
    from services.feedback.app import build

    service, app = build(settings=own_servers)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer("feedback:write")
        ) as http:
            http.service = service  # type: ignore[attr-defined]
            yield http
    finally:
        await service.stop()


# --------------------------------------------------------------------------- responses


async def test_a_safeguarding_no_is_published_marked_safeguarding(feedback, observer):
    rid = unique("resp")
    reply = await feedback.post(
        "/v1/responses",
        json={
            "response_id": rid,
            "survey_id": CSC,
            "respondent": "child",
            "team": "through-care",
            "channel": "online",
            "received_at": "2022-08-01T10:00:00+01:00",
            "answers": {
                "feel_safe_where_i_live": "no",
                "worker_listens_to_me": 4,
                "know_how_to_complain": None,  # skipped
                "anything_else": "Jayden hits me, text me on 07700 900123",
            },
        },
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["safeguarding_alert"] is True and reply.json()["answered"] == 3

    [event] = await observer.wait_for("response_id", rid)
    envelope, data = parse_event(json.dumps(event))
    assert isinstance(data, FeedbackReceived)
    assert envelope.type == "FeedbackReceived" and envelope.source == "/qaloop/feedback"
    assert envelope.sequence == "1"
    answers = {a["question_id"]: a for a in event["data"]["answers"]}
    assert answers == {
        "feel_safe_where_i_live": {
            "question_id": "feel_safe_where_i_live",
            "value": "no",
            "safeguarding": True,
            "wording": "I feel safe where I live",  # the survey version's words travel (issue 14)
        },
        "worker_listens_to_me": {
            "question_id": "worker_listens_to_me",
            "value": 4,
            "safeguarding": False,
            "wording": "My social worker listens to me",
        },
    }
    assert data.service_area == "childrens_social_care" and data.team == "through-care"
    assert b"Jayden" not in observer.raw() and b"07700" not in observer.raw()

    # the free text is kept here, for those who may read it
    mine = (await feedback.get(f"/v1/responses/{rid}")).json()
    assert [a["value"] for a in mine["answers"]] == ["no", 4, "Jayden hits me, text me on 07700 900123"]
    theirs = await feedback.get(f"/v1/responses/{rid}", headers=bearer("reporting:read"))
    assert theirs.status_code == 200
    assert theirs.json()["answers"][-1] | {"value": None, "withheld": True} == theirs.json()["answers"][-1]


async def test_a_retry_adds_nothing_and_other_answers_under_the_same_id_conflict(feedback, observer):
    body = {
        "response_id": unique("resp"),
        "survey_id": SEND,
        "respondent": "parent_carer",
        "answers": {"easy_to_contact_case_worker": "yes"},
    }
    assert (await feedback.post("/v1/responses", json=body)).status_code == 201
    again = await feedback.post("/v1/responses", json=body)
    assert again.status_code == 200 and again.json()["created"] is False
    other = await feedback.post("/v1/responses", json={**body, "answers": {"easy_to_contact_case_worker": "no"}})
    assert other.status_code == 409
    await observer.wait_for("response_id", body["response_id"])
    marker = unique("resp")  # published after the retry: once it is here, the retry would be too
    await feedback.post("/v1/responses", json={**body, "response_id": marker})
    await observer.wait_for("response_id", marker)
    assert len(observer.where("response_id", body["response_id"])) == 1


async def test_no_token_is_401_the_wrong_role_403_and_bad_input_422(feedback):
    body = {"survey_id": CSC, "respondent": "child", "answers": {"feel_safe_where_i_live": "yes"}}
    anonymous = {"Authorization": ""}
    assert (await feedback.post("/v1/responses", json=body, headers=anonymous)).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await feedback.post("/v1/responses", json=body, headers=bad)).status_code == 401
    assert (await feedback.get("/v1/surveys", headers=anonymous)).status_code == 401
    reader = bearer("reporting:read")
    assert (await feedback.post("/v1/responses", json=body, headers=reader)).status_code == 403
    assert (await feedback.get("/v1/surveys", headers=bearer("audit:write"))).status_code == 403
    assert (await feedback.get("/v1/surveys", headers=reader)).status_code == 200
    assert (await feedback.get("/healthz", headers=anonymous)).status_code == 200

    async def problems(change: dict[str, Any]) -> list[tuple[tuple, str]]:
        reply = await feedback.post("/v1/responses", json={**body, **change})
        assert reply.status_code == 422, reply.text
        return [(tuple(d["loc"]), d["msg"]) for d in reply.json()["detail"]]

    [(loc, msg)] = await problems({"answers": {"feel_safe_where_i_live": "maybe"}})
    assert loc == ("body", "answers", "feel_safe_where_i_live") and "yes or no" in msg
    [(loc, msg)] = await problems({"answers": {"favourite_colour": "blue"}})
    assert loc == ("body", "answers", "favourite_colour") and "not a question" in msg
    [(loc, _)] = await problems({"child_name": "Jayden Smith"})
    assert loc == ("body", "child_name")
    [(loc, msg)] = await problems({"survey_id": "no-such-survey"})
    assert loc == ("body", "survey_id") and "no survey" in msg
    [(loc, _)] = await problems({"respondent": "parent_carer"})
    assert loc == ("body", "respondent")
    [(loc, _)] = await problems({"received_at": "yesterday"})
    assert loc == ("body", "received_at")


# --------------------------------------------------------------------------- CSV import


async def test_a_csv_export_keeps_good_rows_reports_bad_ones_by_line_and_imports_once(feedback, observer):
    from services.feedback import handlers
    from services.feedback.store import PostgresFeedbackUnitOfWork

    path = DATA / "csc-export.csv"
    files = {"file": ("csc-export.csv", path.read_bytes(), "text/csv")}
    first = await feedback.post(f"/v1/surveys/{CSC}/imports", files=files)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["rows"], report["imported"], report["duplicates"], report["rejected"]) == (7, 4, 0, 3)
    errors = {e["line"]: e["reason"] for e in report["errors"]}
    assert sorted(errors) == [1, 4, 5, 6]
    assert "favourite_colour" in errors[1]
    assert errors[4] == "malformed row: expected 9 fields, found 2"
    assert "feel_safe_where_i_live: expected yes or no" in errors[5]
    assert "worker_listens_to_me: expected a whole number from 1 to 5" in errors[5]
    assert "favourite_colour" in errors[6]
    assert report["safeguarding_responses"] == [f"{CSC}:SM-1002"]

    ids = [f"{CSC}:SM-100{n}" for n in (1, 2, 6, 7)]
    for rid in ids:
        await observer.wait_for("response_id", rid)
    [alert] = observer.where("response_id", f"{CSC}:SM-1002")
    assert alert["data"]["answers"][0] == {
        "question_id": "feel_safe_where_i_live",
        "value": "no",
        "safeguarding": True,
        "wording": "I feel safe where I live",
    }
    assert alert["data"]["received_at"] == "2022-08-02T16:40:00+01:00"  # London time
    assert b"Dean" not in observer.raw() and b"Line one" not in observer.raw()
    stored = (await feedback.get(f"/v1/responses/{CSC}:SM-1006")).json()
    assert stored["answers"][-1]["value"] == "Line one\r\nline two"

    # The same file again — over HTTP, and through the use case itself, as a script would:
    # nothing added.
    again = (await feedback.post(f"/v1/surveys/{CSC}/imports", files=files)).json()
    assert (again["imported"], again["duplicates"], again["rejected"]) == (0, 4, 3)
    uow = PostgresFeedbackUnitOfWork(feedback.service)
    direct = await handlers.import_csv(uow, CSC, path.read_bytes(), actor="csv-import")
    assert (direct.imported, direct.duplicates, direct.rejected) == (0, 4, 3)
    marker = unique("resp")
    await feedback.post(
        "/v1/responses",
        json={
            "response_id": marker,
            "survey_id": CSC,
            "respondent": "child",
            "answers": {"know_how_to_complain": "yes"},
        },
    )
    await observer.wait_for("response_id", marker)
    assert all(len(observer.where("response_id", rid)) == 1 for rid in ids)


async def test_an_unreadable_file_is_422_and_an_unknown_survey_404(feedback):
    empty = {"file": ("empty.csv", b"", "text/csv")}
    reply = await feedback.post(f"/v1/surveys/{CSC}/imports", files=empty)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "file"]
    assert reply.json()["report"]["imported"] == 0
    missing = await feedback.post("/v1/surveys/no-such-survey/imports", files=empty)
    assert missing.status_code == 404
    no_file = await feedback.post(f"/v1/surveys/{CSC}/imports")
    assert no_file.status_code == 422


# --------------------------------------------------------------------------- survey versions


async def test_a_new_version_keeps_old_answers_with_their_old_wording(feedback, observer):
    survey_id = unique("send-pilot")
    definition: dict[str, Any] = {
        "title": "SEND pilot",
        "service_area": "send",
        "respondents": ["parent_carer"],
        "questions": [
            {
                "question_id": "easy_to_contact_case_worker",
                "wording": "It was easy to contact my case worker",
                "answer_type": "yes_no",
            },
            {"question_id": "kept_informed", "wording": "I was kept informed", "answer_type": "scale_1_5"},
        ],
    }
    created = await feedback.put(f"/v1/surveys/{survey_id}", json=definition)
    assert created.status_code == 201 and created.json()["version"] == 1
    old = await feedback.post(
        "/v1/responses",
        json={"survey_id": survey_id, "answers": {"easy_to_contact_case_worker": "no", "kept_informed": 5}},
    )
    assert old.status_code == 201

    definition["questions"][0]["wording"] = "I could reach my case worker when I needed to"
    second = await feedback.put(f"/v1/surveys/{survey_id}", json=definition)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert [q["reported_as"] for q in second.json()["questions"]] == [
        "easy_to_contact_case_worker.v2",
        "kept_informed",
    ]
    same = await feedback.put(f"/v1/surveys/{survey_id}", json=definition)
    assert same.status_code == 200 and same.json()["version"] == 2
    new = await feedback.post(
        "/v1/responses",
        json={"survey_id": survey_id, "answers": {"easy_to_contact_case_worker": "yes", "kept_informed": 4}},
    )
    assert new.status_code == 201 and new.json()["survey_version"] == 2

    old_view = (await feedback.get(f"/v1/responses/{old.json()['response_id']}")).json()
    assert old_view["survey_version"] == 1
    assert old_view["answers"][0]["wording"] == "It was easy to contact my case worker"
    new_view = (await feedback.get(f"/v1/responses/{new.json()['response_id']}")).json()
    assert new_view["answers"][0]["wording"] == "I could reach my case worker when I needed to"

    results = (await feedback.get(f"/v1/surveys/{survey_id}/results")).json()
    by_id = {q["reported_as"]: q for q in results["questions"]}
    assert by_id["easy_to_contact_case_worker"]["counts"] == {"no": 1}
    assert by_id["easy_to_contact_case_worker.v2"]["counts"] == {"yes": 1}
    assert by_id["kept_informed"]["versions"] == [1, 2] and by_id["kept_informed"]["answers"] == 2
    suppressed = (await feedback.get(f"/v1/surveys/{survey_id}/results", headers=bearer("reporting:read"))).json()
    assert suppressed["responses"] is None and suppressed["questions"][0]["suppressed"] is True

    [event] = await observer.wait_for("response_id", new.json()["response_id"])
    assert [a["question_id"] for a in event["data"]["answers"]] == [
        "easy_to_contact_case_worker.v2",
        "kept_informed",
    ]
    versions = (await feedback.get(f"/v1/surveys/{survey_id}/versions")).json()
    assert [v["questions"][0]["wording"] for v in versions] == [
        "It was easy to contact my case worker",
        "I could reach my case worker when I needed to",
    ]


async def test_the_seeded_surveys_are_there(feedback):
    surveys = {s["survey_id"]: s for s in (await feedback.get("/v1/surveys")).json()}
    send = {q["question_id"]: q for q in surveys[SEND]["questions"]}
    assert send["easy_to_contact_case_worker"]["answer_type"] == "yes_no"
    csc = {q["question_id"]: q for q in surveys[CSC]["questions"]}
    assert csc["feel_safe_where_i_live"]["safeguarding"] is True
    assert csc["feel_safe_where_i_live"]["wording"] == "I feel safe where I live"


async def test_the_foster_carers_survey_is_seeded_and_a_foster_carer_answers_it(feedback, observer):
    """Migration 006 seeds the foster carers' experience survey (respondent `foster_carer`,
    CONTRACT.md §4), version 1, beside the others; a foster carer's answers are published
    with the seeded wording."""
    surveys = {s["survey_id"]: s for s in (await feedback.get("/v1/surveys")).json()}
    carers = surveys[FOSTER_CARERS]
    assert carers["version"] == 1 and carers["service_area"] == "fostering"
    assert carers["respondents"] == ["foster_carer"]
    assert {SEND, CSC} <= set(surveys)
    questions = {q["question_id"]: q for q in carers["questions"]}
    assert questions["help_out_of_hours"]["answer_type"] == "yes_no"
    assert questions["supervising_social_worker_support"]["wording"] == (
        "My supervising social worker gives me the support I need"
    )
    assert not any(q["safeguarding"] for q in carers["questions"])
    rid = unique("resp")
    body = {
        "response_id": rid,
        "survey_id": FOSTER_CARERS,
        "respondent": "foster_carer",
        "team": "fostering-east",
        "channel": "online",
        "received_at": "2022-08-03T19:30:00+01:00",
        "answers": {"supervising_social_worker_support": 5, "help_out_of_hours": "no"},
    }
    reply = await feedback.post("/v1/responses", json=body)
    assert reply.status_code == 201, reply.text
    [event] = await observer.wait_for("response_id", rid)
    assert event["data"]["respondent"] == "foster_carer" and event["data"]["service_area"] == "fostering"
    assert {a["question_id"]: a.get("wording") for a in event["data"]["answers"]} == {
        "supervising_social_worker_support": "My supervising social worker gives me the support I need",
        "help_out_of_hours": "I can get help out of hours when I need it",
    }


# --------------------------------------------------------------------------- compliments


async def test_internal_and_external_compliments_are_both_kept_and_published(feedback, observer):
    team = unique("fostering-east")
    ids = {}
    for origin in ("external", "internal"):
        reply = await feedback.post(
            "/v1/compliments",
            json={
                "origin": origin,
                "service_area": "fostering",
                "team": team,
                "received_at": "2022-08-15",
                "summary": f"An {origin} thank-you for support over the summer",
            },
        )
        assert reply.status_code == 201, reply.text
        ids[origin] = reply.json()["compliment_id"]
    for origin, cid in ids.items():
        [event] = await observer.wait_for("compliment_id", cid)
        assert event["type"] == "ComplimentReceived" and event["data"]["origin"] == origin
        assert event["data"]["received_at"].startswith("2022-08-15T00:00:00+01:00")
    listed = await feedback.get(
        "/v1/compliments", params={"team": team, "period": "2022-23-Q2"}, headers=bearer("reporting:read")
    )
    assert sorted(c["origin"] for c in listed.json()) == ["external", "internal"]
    only = await feedback.get("/v1/compliments", params={"team": team, "origin": "internal"})
    assert [c["compliment_id"] for c in only.json()] == [ids["internal"]]

    leak = await feedback.post(
        "/v1/compliments",
        json={
            "origin": "external",
            "service_area": "fostering",
            "team": team,
            "received_at": "2022-08-15",
            "summary": "From mum, mum@example.org",
        },
    )
    assert leak.status_code == 422 and leak.json()["detail"][0]["loc"] == ["body", "summary"]
    assert (await feedback.get("/v1/compliments", params={"period": "Q2"})).status_code == 422


async def test_a_compliment_shared_with_its_givers_agreement_is_kept_and_published_so(feedback, observer):
    body = {
        "origin": "external",
        "service_area": "fostering",
        "team": unique("fostering-west"),
        "received_at": "2022-08-16",
        "summary": "Our worker never gave up on us",
        "summary_shareable": True,
    }
    reply = await feedback.post("/v1/compliments", json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["summary_shareable"] is True
    [event] = await observer.wait_for("compliment_id", reply.json()["compliment_id"])
    assert event["data"]["summary_shareable"] is True
    listed = await feedback.get("/v1/compliments", params={"team": body["team"]})
    assert [c["summary_shareable"] for c in listed.json()] == [True]
    nothing = await feedback.post("/v1/compliments", json={**body, "summary": None})
    assert nothing.status_code == 422
    assert nothing.json()["detail"][0]["loc"] == ["body", "summary_shareable"]
    assert "no summary to share" in nothing.json()["detail"][0]["msg"]


# --------------------------------------------------------------------------- you said, we did


async def test_you_said_we_did_links_responses_and_an_action_and_is_listed_publicly(feedback, observer):
    rid = unique("resp")
    await feedback.post(
        "/v1/responses",
        json={
            "response_id": rid,
            "survey_id": SEND,
            "respondent": "parent_carer",
            "answers": {"easy_to_contact_case_worker": "no"},
        },
    )
    item = {
        "item_id": unique("ysd"),
        "service_area": "send",
        "theme": "easy_to_contact_case_worker",
        "you_said": "It was hard to reach your case worker",
        "we_did": "Every family now has a named duty officer each day",
        "feedback_ids": [rid],
        "action_id": "act-77",
        "published_at": "2022-11-01T09:00:00Z",
    }
    reply = await feedback.post("/v1/you-said-we-did", json=item)
    assert reply.status_code == 201, reply.text
    [event] = await observer.wait_for("item_id", item["item_id"])
    assert event["type"] == "YouSaidWeDidPublished"
    assert event["data"]["feedback_ids"] == [rid] and event["data"]["action_id"] == "act-77"
    assert (await feedback.post("/v1/you-said-we-did", json=item)).status_code == 200

    public = await feedback.get(
        "/v1/you-said-we-did", params={"service_area": "send"}, headers=bearer("reporting:read")
    )
    assert public.status_code == 200
    assert item["item_id"] in [y["item_id"] for y in public.json()]
    assert (await feedback.get("/v1/you-said-we-did", params={"service_area": "mars"})).status_code == 422

    unknown = await feedback.post(
        "/v1/you-said-we-did", json={**item, "item_id": unique("ysd"), "feedback_ids": ["nope"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "feedback_ids", 0]
    elsewhere = await feedback.post(
        "/v1/you-said-we-did",
        json={**item, "item_id": unique("ysd"), "service_area": "fostering"},
    )
    assert elsewhere.status_code == 422 and "is about send" in elsewhere.text


# --------------------------------------------------------------------------- actions


async def _safeguarding_response(feedback: Any, *, team: str | None = "through-care") -> str:
    rid = unique("resp")
    body: dict[str, Any] = {
        "response_id": rid,
        "survey_id": CSC,
        "respondent": "child",
        "received_at": "2022-08-01T10:00:00+01:00",  # Monday: due the next working day, 2 August
        "answers": {"feel_safe_where_i_live": "no", "anything_else": "Please don't tell Jayden"},
    }
    if team is not None:
        body["team"] = team
    reply = await feedback.post("/v1/responses", json=body)
    assert reply.status_code == 201 and reply.json()["safeguarding_alert"] is True, reply.text
    return rid


ACTION = {
    "owner_id": "manager-through-care",
    "due_date": "2022-08-02",
    "summary": "Social worker to visit today and review the safety plan with the child",
    "raised_at": "2022-08-01T11:30:00+01:00",
}


async def test_a_safeguarding_no_is_followed_by_an_action_raised_and_completed_on_the_bus(feedback, observer):
    rid = await _safeguarding_response(feedback)
    action_id = unique("act")
    raised = await feedback.post(f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": action_id})
    assert raised.status_code == 201, raised.text
    view = raised.json()
    assert (view["origin"], view["origin_id"], view["learning_id"]) == ("feedback", rid, None)
    assert (view["team"], view["service_area"]) == ("through-care", "childrens_social_care")
    assert (view["status"], view["raised_by"], view["completed_at"]) == ("open", "worker-1", None)

    # a retry adds nothing; the same id with other content conflicts
    again = await feedback.post(f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": action_id})
    assert again.status_code == 200
    assert datetime.fromisoformat(again.json()["raised_at"]) == datetime.fromisoformat(view["raised_at"])
    other = await feedback.post(
        f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": action_id, "due_date": "2022-08-03"}
    )
    assert other.status_code == 409

    done = await feedback.post(
        f"/v1/actions/{action_id}/complete",
        json={"completed_at": "2022-08-02T09:15:00+01:00", "evidence": "Child seen alone; safety plan reviewed."},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["on_time"], done.json()["overdue"]) == ("completed", True, False)
    retry = await feedback.post(
        f"/v1/actions/{action_id}/complete",
        json={"completed_at": "2022-08-02T09:15:00+01:00", "evidence": "Child seen alone; safety plan reviewed."},
    )
    assert retry.status_code == 200
    twice = await feedback.post(f"/v1/actions/{action_id}/complete", json={})
    assert twice.status_code == 409 and "already completed" in twice.text

    events = await observer.wait_for("action_id", action_id, count=2)
    marker = unique("resp")  # published after the retries: once it is here, a second event would be too
    await feedback.post(
        "/v1/responses",
        json={
            "response_id": marker,
            "survey_id": CSC,
            "respondent": "child",
            "answers": {"know_how_to_complain": "yes"},
        },
    )
    await observer.wait_for("response_id", marker)
    assert len(observer.where("action_id", action_id)) == 2
    keys = {body["type"]: key for key, body, _ in observer.seen if body["data"].get("action_id") == action_id}
    assert keys == {"ActionRaised": "feedback.ActionRaised", "ActionCompleted": "feedback.ActionCompleted"}
    by_type = {e["type"]: e for e in events}
    raised_event, completed_event = by_type["ActionRaised"], by_type["ActionCompleted"]
    envelope, data = parse_event(json.dumps(raised_event))
    assert isinstance(data, ActionRaised) and envelope.source == "/qaloop/feedback"
    assert raised_event["data"] == {
        "action_id": action_id,
        "origin": "feedback",
        "origin_id": rid,
        "team": "through-care",
        "service_area": "childrens_social_care",
        "owner_id": "manager-through-care",
        "raised_at": "2022-08-01T11:30:00+01:00",
        "due_date": "2022-08-02",
        "summary": "Social worker to visit today and review the safety plan with the child",
    }
    assert envelope.time == data.raised_at and envelope.sequence == "1"  # the fact's time, back-dated
    envelope, data = parse_event(json.dumps(completed_event))
    assert isinstance(data, ActionCompleted) and envelope.sequence == "2"
    assert completed_event["data"] == {
        "action_id": action_id,
        "completed_at": "2022-08-02T09:15:00+01:00",
        "evidence": "Child seen alone; safety plan reviewed.",
    }
    assert envelope.time == data.completed_at
    assert b"Jayden" not in observer.raw()

    # the response lists its action; the list and the action itself can be read
    mine = (await feedback.get(f"/v1/responses/{rid}")).json()
    assert [(a["action_id"], a["status"]) for a in mine["actions"]] == [(action_id, "completed")]
    reader = bearer("reporting:read")
    listed = await feedback.get("/v1/actions", params={"origin_id": rid}, headers=reader)
    assert listed.status_code == 200
    page = listed.json()
    assert [a["action_id"] for a in page["items"]] == [action_id]
    assert (page["limit"], page["offset"], page["next_offset"]) == (100, 0, None)
    one = await feedback.get(f"/v1/actions/{action_id}", headers=reader)
    assert one.status_code == 200 and one.json()["evidence"] == "Child seen alone; safety plan reviewed."


async def test_actions_are_listed_open_overdue_or_completed(feedback):
    rid = await _safeguarding_response(feedback)
    late, later, finished = (unique("act") for _ in range(3))
    await feedback.post(f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": late})
    await feedback.post(f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": later, "due_date": "2099-01-01"})
    await feedback.post(f"/v1/responses/{rid}/actions", json={**ACTION, "action_id": finished})
    await feedback.post(f"/v1/actions/{finished}/complete", json={"completed_at": "2022-08-04T10:00:00+01:00"})

    async def ids(status: str | None) -> list[str]:
        params = {"origin_id": rid} | ({"status": status} if status else {})
        reply = await feedback.get("/v1/actions", params=params)
        assert reply.status_code == 200, reply.text
        return [a["action_id"] for a in reply.json()["items"]]

    assert sorted(await ids(None)) == sorted([late, later, finished])
    # pages by due date: the two due on 2 August, then the one due in 2099
    first = (await feedback.get("/v1/actions", params={"origin_id": rid, "limit": 2})).json()
    assert sorted(a["action_id"] for a in first["items"]) == sorted([late, finished])
    assert (first["limit"], first["offset"], first["next_offset"]) == (2, 0, 2)
    rest = (await feedback.get("/v1/actions", params={"origin_id": rid, "limit": 2, "offset": 2})).json()
    assert [a["action_id"] for a in rest["items"]] == [later] and rest["next_offset"] is None
    assert sorted(await ids("open")) == sorted([late, later])
    assert await ids("overdue") == [late]
    assert await ids("completed") == [finished]
    got = (await feedback.get(f"/v1/actions/{finished}")).json()
    assert (got["on_time"], got["overdue"]) == (False, False)
    assert (await feedback.get(f"/v1/actions/{late}")).json()["overdue"] is True
    assert (await feedback.get("/v1/actions", params={"status": "late"})).status_code == 422


async def test_action_requests_are_refused_with_the_reason(feedback):
    rid = await _safeguarding_response(feedback)
    path = f"/v1/responses/{rid}/actions"
    anonymous = {"Authorization": ""}
    assert (await feedback.post(path, json=ACTION, headers=anonymous)).status_code == 401
    assert (await feedback.get("/v1/actions", headers=anonymous)).status_code == 401
    assert (await feedback.post(path, json=ACTION, headers=bearer("reporting:read"))).status_code == 403
    assert (await feedback.post("/v1/actions/x/complete", json={}, headers=bearer("reporting:read"))).status_code == 403
    assert (await feedback.get("/v1/actions", headers=bearer("audit:write"))).status_code == 403

    assert (await feedback.post("/v1/responses/no-such-response/actions", json=ACTION)).status_code == 404
    assert (await feedback.post("/v1/actions/no-such-action/complete", json={})).status_code == 404
    assert (await feedback.get("/v1/actions/no-such-action")).status_code == 404

    async def refused(change: dict[str, Any], on: str = path) -> dict[tuple, str]:
        reply = await feedback.post(on, json={**ACTION, **change})
        assert reply.status_code == 422, reply.text
        return {tuple(d["loc"]): d["msg"] for d in reply.json()["detail"]}

    assert "before the action was raised" in (await refused({"due_date": "2022-07-31"}))[("body", "due_date")]
    assert (
        "future"
        in (await refused({"raised_at": "2099-01-01T10:00:00Z", "due_date": "2099-01-02"}))[("body", "raised_at")]
    )
    assert (
        "is before the response (2022-08-01T09:00:00+00:00)"
        in (await refused({"raised_at": "2022-08-01T09:00:00+01:00"}))[("body", "raised_at")]
    )
    assert ("body", "raised_at") in await refused({"raised_at": "2022-08-01T11:30:00"})  # no offset
    assert ("body", "summary") in await refused({"summary": "Ring mum on 07700 900123"})
    assert ("body", "child_name") in await refused({"child_name": "Jayden"})
    assert "through-care" in (await refused({"team": "assessment"}))[("body", "team")]
    assert "feedback records no learning" in (await refused({"learning_id": "learning-1"}))[("body", "learning_id")]

    # a response with no team: the action must name one
    teamless = await _safeguarding_response(feedback, team=None)
    on = f"/v1/responses/{teamless}/actions"
    assert "a response's action names the team that owns it" in (await refused({}, on))[("body", "team")]
    named = await feedback.post(on, json={**ACTION, "team": "safeguarding"})
    assert named.status_code == 201 and named.json()["team"] == "safeguarding"

    action_id = named.json()["action_id"]
    early = await feedback.post(f"/v1/actions/{action_id}/complete", json={"completed_at": "2022-08-01T11:00:00+01:00"})
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "completed_at"]
    leak = await feedback.post(f"/v1/actions/{action_id}/complete", json={"evidence": "Emailed carer@example.org"})
    assert leak.status_code == 422 and leak.json()["detail"][0]["loc"] == ["body", "evidence"]


async def test_an_action_on_a_theme_can_be_named_by_a_you_said_we_did_item(feedback, observer):
    team = unique("send-north")
    path = "/v1/themes/send/easy_to_contact_case_worker/actions"
    no_team = await feedback.post(path, json=ACTION)
    assert no_team.status_code == 422 and no_team.json()["detail"][0]["loc"] == ["body", "team"]
    assert (await feedback.post("/v1/themes/mars/x/actions", json={**ACTION, "team": team})).status_code == 422
    assert (
        await feedback.post("/v1/themes/send/not%20a%20theme/actions", json={**ACTION, "team": team})
    ).status_code == 422
    raised = await feedback.post(path, json={**ACTION, "team": team, "owner_id": "send-service-manager"})
    assert raised.status_code == 201, raised.text
    action = raised.json()
    assert (action["origin"], action["origin_id"], action["service_area"]) == (
        "feedback",
        "send:easy_to_contact_case_worker",
        "send",
    )
    [event] = await observer.wait_for("action_id", action["action_id"])
    assert event["data"]["origin"] == "feedback" and event["data"]["team"] == team

    item = await feedback.post(
        "/v1/you-said-we-did",
        json={
            "service_area": "send",
            "theme": "easy_to_contact_case_worker",
            "you_said": "It was hard to reach your case worker",
            "we_did": "A SEND duty line answers every working day",
            "action_id": action["action_id"],
            "published_at": "2022-11-01T09:00:00Z",
        },
    )
    assert item.status_code == 201 and item.json()["action_id"] == action["action_id"]
