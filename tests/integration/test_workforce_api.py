"""The workforce service over HTTP, with the real PostgreSQL and RabbitMQ: a joiner, an agency
worker converting to employed, a leaver; the census import (refused whole with rows and
columns, then taken whole, then again changing nothing); a vacancy, a caseload, the staff
survey and a team's action — every event received from the broker under `workforce.*`, no
HR reference or name in any of them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import EXCHANGE, declare_topology
from shared.settings import Settings, get_settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def bearer(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(get_settings(), roles, subject='hr-1')}"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], bytes]] = []
        self.connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self, amqp_url: str) -> None:
        self.connection = await aio_pika.connect(amqp_url)
        channel = await self.connection.channel()
        await declare_topology(channel)
        exchange = await channel.get_exchange(EXCHANGE)
        queue = await channel.declare_queue(unique("workforce-observer-"), exclusive=True)
        await queue.bind(exchange, "workforce.#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                self.seen.append((message.routing_key or "", json.loads(message.body), message.body))

        await queue.consume(collect)

    async def wait_for(self, field: str, value: str, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            return [b for _, b, _ in self.seen if b["data"].get(field) == value]

        return await eventually(probe, lambda found: len(found) >= count, what=f"{field}={value}")


@pytest.fixture(scope="module")
async def own_servers(servers: srv.Servers) -> AsyncIterator[Settings]:
    async with srv.module_servers(servers, "workforce") as (amqp_url, database_url):
        yield Settings(amqp_url=amqp_url, database_url=database_url)


@pytest.fixture(scope="module")
async def observer(own_servers: Settings) -> AsyncIterator[Observer]:
    seen = Observer()
    await seen.start(own_servers.amqp_url)
    yield seen
    if seen.connection:
        await seen.connection.close()


@pytest.fixture(scope="module")
async def workforce(own_servers: Settings, observer: Observer) -> AsyncIterator[Any]:
    from services.workforce.app import build

    service, app = build(settings=own_servers)
    await service.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer("workforce:write")
        ) as http:
            yield http
    finally:
        await service.stop()


def joiner(ref: str, **changes: Any) -> dict[str, Any]:
    return {
        "worker_ref": ref,
        "team": "through-care",
        "service_area": "childrens_social_care",
        "role": "social_worker",
        "contract": "agency",
        "fte": 0.8,
        "case_holding": True,
        "joined_at": "2022-04-04",
    } | changes


async def test_a_joiner_converting_and_leaving_is_published_under_its_pseudonym(workforce, observer):
    ref = unique("SW")
    first = await workforce.post("/v1/staff", json=joiner(ref))
    assert first.status_code == 201, first.text
    worker_id = first.json()["worker_id"]
    assert worker_id.startswith("k1:") and ref not in first.text
    assert (await workforce.post("/v1/staff", json=joiner(ref))).status_code == 200  # a retry
    converted = await workforce.post("/v1/staff", json=joiner(ref, contract="employed", joined_at="2022-08-15"))
    assert converted.status_code == 201 and converted.json()["contract"] == "employed"
    gone = await workforce.post(f"/v1/staff/{ref}/leave", json={"left_at": "2022-09-30", "reason": "workload"})
    assert gone.status_code == 201 and gone.json()["in_post"] is False
    events = await observer.wait_for("worker_id", worker_id, 3)
    assert [e["type"] for e in events] == ["StaffJoined", "StaffJoined", "StaffLeft"]
    assert [e["sequence"] for e in events] == ["1", "2", "3"]
    assert all(ref not in json.dumps(e) for e in events)


async def test_bad_input_is_a_422_naming_the_field(workforce):
    bad = await workforce.post("/v1/staff", json=joiner("Jane Smith", fte=2))
    assert bad.status_code == 422
    fields = {tuple(d["loc"][-1:]) for d in bad.json()["detail"]}
    assert ("worker_ref",) in fields and ("fte",) in fields
    assert (await workforce.post("/v1/staff", json=joiner(unique("SW"), joined_at="2099-01-01"))).status_code == 422
    other = {"Authorization": bearer("feedback:write")["Authorization"]}
    assert (await workforce.post("/v1/staff", json=joiner(unique("SW")), headers=other)).status_code == 403


CENSUS = "worker_id,team,service_area,role,contract,fte,case_holding,start_date,leaving_date,leaving_reason,cases\n"


async def test_the_census_import_is_all_or_nothing(workforce, observer):
    a, b = unique("CA"), unique("CB")
    bad = (
        CENSUS
        + f"{a},safeguarding,childrens_social_care,social_worker,employed,1,yes,2020-01-06,,,18\n"
        + f"{b},safeguarding,childrens_social_care,social_worker,employed,0,yes,2020-01-06,,,\n"
    )
    files = {"file": ("census.csv", bad.encode(), "text/csv")}
    refused = await workforce.post("/v1/census/imports", params={"as_of": "2022-09-30"}, files=files)
    assert refused.status_code == 422
    report = refused.json()["report"]
    assert report["imported"] is False and [(e["row"], e["column"]) for e in report["errors"]] == [(3, "fte")]
    assert (await workforce.get(f"/v1/staff/{a}")).status_code == 404  # nothing imported
    good = bad.replace(",0,yes,2020-01-06,,,", ",0.5,yes,2020-01-06,2022-07-29,career,")
    files = {"file": ("census.csv", good.encode(), "text/csv")}
    taken = await workforce.post("/v1/census/imports", params={"as_of": "2022-09-30"}, files=files)
    assert taken.status_code == 200, taken.text
    assert taken.json() | {"errors": []} == {
        "rows": 2,
        "imported": True,
        "changed": 2,
        "unchanged": 0,
        "events": 3,
        "errors": [],
        "ignored_columns": [],
    }
    worker = (await workforce.get(f"/v1/staff/{a}")).json()
    await observer.wait_for("worker_id", worker["worker_id"], 2)  # joined, and the caseload
    again = await workforce.post("/v1/census/imports", params={"as_of": "2022-09-30"}, files=files)
    assert again.json()["changed"] == 0 and again.json()["unchanged"] == 2


async def test_vacancies_caseloads_the_staff_survey_and_a_team_action(workforce, observer):
    team = unique("team-")
    vacancy = {"team": team, "service_area": "send", "vacant_fte": 1.5, "as_of": "2022-09-30"}
    assert (await workforce.post("/v1/vacancies", json=vacancy)).status_code == 201
    survey = {
        "title": "Health check",
        "questions": [
            {"question_id": "manageable_caseload", "wording": "My caseload is manageable", "answer_type": "scale_1_5"}
        ],
    }
    sid = unique("hc-")
    assert (await workforce.put(f"/v1/staff-surveys/{sid}", json=survey)).status_code == 201
    rid = unique("r")
    response = {
        "response_id": rid,
        "survey_id": sid,
        "service_area": "send",
        "team": team,
        "answers": {"manageable_caseload": 4},
    }
    assert (await workforce.post("/v1/staff-survey-responses", json=response)).status_code == 201
    action = {"owner_id": "head-of-send", "due_date": "2030-01-31", "summary": "Review the team's caseload weighting"}
    raised = await workforce.post(f"/v1/teams/send/{team}/actions", json=action)
    assert raised.status_code == 201 and raised.json()["origin"] == "workforce"
    assert await observer.wait_for("team", team, 3)
    types = {b["type"] for _, b, _ in observer.seen if b["data"].get("team") == team}
    assert types == {"VacancyRecorded", "StaffSurveyResponseReceived", "ActionRaised"}
    keys = {k for k, b, _ in observer.seen if b["data"].get("team") == team}
    assert keys == {"workforce.VacancyRecorded", "workforce.StaffSurveyResponseReceived", "workforce.ActionRaised"}
