"""Follow-ups named by what they are about, and compliments shared with their giver's
agreement, through the real path: events on the broker, reporting's intake and read models
in PostgreSQL, `GET /v1/followups` (`subjects.load_subjects`) and the quarterly report (its
cover, its list of open follow-ups, its good-practice page)."""

from __future__ import annotations

import aio_pika
import asyncpg
import httpx
import pytest

from shared.auth import issue_token
from shared.bus import declare_topology
from shared.events import ActionRaised, CloudEvent, ComplimentReceived, FeedbackReceived, new_event
from shared.settings import Settings, get_settings
from tests.integration.test_reporting_intake import TENANT, audit, complaint_cx1, fresh_reporting_state
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

AUTHORITY = "Westshire County Council"


@pytest.fixture
async def reporting(servers):
    get_settings.cache_clear()
    from datetime import date

    from services.reporting.app import build

    settings = Settings(authority_name=AUTHORITY)
    service, app = build(settings=settings, clock=lambda: date(2022, 9, 30), followup_interval=0.1)
    await fresh_reporting_state(service, servers)
    await service.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield service, client
    await client.aclose()
    await service.stop()


def _events() -> list[CloudEvent]:
    closed, received = complaint_cx1()
    action = ActionRaised(
        action_id="act-1",
        origin="complaint",
        origin_id="cx1",
        team="through-care",
        service_area="childrens_social_care",
        owner_id="manager-through-care",
        raised_at="2022-08-15T10:00:00Z",
        due_date="2022-09-15",
        summary="Share the learning",
    )
    response = FeedbackReceived(
        response_id="resp-1",
        survey_id="children_and_young_people",
        service_area="childrens_social_care",
        team="through-care",
        respondent="child",
        received_at="2022-08-20T10:00:00Z",
        answers=[{"question_id": "feel_safe_where_i_live", "value": "no", "safeguarding": True}],
    )

    def compliment(i: int, origin: str, shareable: bool | None, team: str) -> ComplimentReceived:
        return ComplimentReceived(
            compliment_id=f"comp-{i}",
            service_area="childrens_social_care",
            team=team,
            origin=origin,
            received_at=f"2022-08-{10 + i}T10:00:00Z",
            summary=f"Summary {i}: the worker always called back.",
            summary_shareable=shareable,
        )

    compliments = [
        compliment(1, "external", True, "through-care"),
        compliment(2, "external", False, "safeguarding"),
        compliment(3, "external", None, "safeguarding"),
        compliment(4, "internal", True, "safeguarding"),
        compliment(5, "external", True, "through-care"),
    ]
    return [
        audit(2, "inadequate", "2022-07-01T10:00:00Z"),
        closed,
        received,
        new_event(action, source="/qaloop/complaints", tenant=TENANT, sequence=1),
        new_event(response, source="/qaloop/feedback", tenant=TENANT, sequence=1),
        *(new_event(c, source="/qaloop/feedback", tenant=TENANT, sequence=1) for c in compliments),
    ]


async def test_followups_are_named_and_shared_compliments_reach_the_good_practice_page(reporting, servers):
    _service, client = reporting
    detail = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:detail"])}

    connection = await aio_pika.connect(servers.amqp_url)
    try:
        exchange = await declare_topology(await connection.channel())
        events = _events()
        for e in events:
            message = aio_pika.Message(
                e.to_json(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT, content_type="application/cloudevents+json"
            )
            await exchange.publish(message, e.routing_key(), mandatory=True)
    finally:
        await connection.close()

    async def applied() -> int:
        r = await client.get("/v1/projections/status", headers=detail)
        return int(r.json()["events_applied"])

    await eventually(applied, lambda n: n >= len(events), timeout=30, what="the events applied")

    r = await client.get("/v1/followups", headers=detail)
    assert r.status_code == 200, r.text
    subjects = {f["followup_id"]: f["subject"] for f in r.json()["followups"]}
    reaudit = subjects["re-audit:a2"]
    assert reaudit["kind"] == "audit" and reaudit["audit_type"] == "routine" and reaudit["team"] == "send-east"
    assert reaudit["case_ref"] == pseudonym("case2")
    assert (
        reaudit["text"] == f"Routine audit of case {reaudit['case_ref']} (send-east), graded inadequate on 1 Jul 2022"
    )
    assert (
        subjects["complaint-learning:cx1"]["text"]
        == "Complaint about communication (through-care), received 1 Aug 2022"
    )
    assert subjects["action:act-1"]["text"] == (
        "Action on complaint about communication (through-care), received 1 Aug 2022; raised 15 Aug 2022"
    )
    assert subjects["safeguarding-alert:resp-1"]["text"] == (
        "Survey response from a child to children and young people (through-care), received 20 Aug 2022"
    )

    # one follow-up by id (the notifier's e-mails link to it): the list's item, this tenant's only
    one = await client.get("/v1/followups/re-audit:a2", headers=detail)
    assert one.status_code == 200, one.text
    listed = next(f for f in r.json()["followups"] if f["followup_id"] == "re-audit:a2")
    assert one.json() == {"as_of": "2022-09-30", "followup": listed}
    assert (await client.get("/v1/followups/re-audit:nope", headers=detail)).status_code == 404
    other = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:detail"], tenant="E10000016")}
    assert (await client.get("/v1/followups/re-audit:a2", headers=other)).status_code == 404

    # only the agreed summaries are kept by reporting
    conn = await asyncpg.connect(servers.database_url)
    try:
        rows = await conn.fetch("SELECT compliment_id, shared_summary FROM reporting.compliment ORDER BY compliment_id")
    finally:
        await conn.close()
    kept = {r["compliment_id"]: r["shared_summary"] for r in rows}
    assert kept == {
        "comp-1": "Summary 1: the worker always called back.",
        "comp-2": None,
        "comp-3": None,
        "comp-4": "Summary 4: the worker always called back.",
        "comp-5": "Summary 5: the worker always called back.",
    }

    r = await client.get("/v1/reports/quarterly", params={"period": "2022-23-Q2"}, headers=detail)
    assert r.status_code == 200, r.text
    html = r.text
    assert f"{AUTHORITY} ({TENANT})" in html[html.index("<header>") : html.index("</header>")]
    listed = html[html.index('id="followups-open"') :]
    assert "Routine audit of case" in listed[: listed.index("</table>")]
    page = html[html.index('<section id="good-practice"') :]
    page = page[: page.index("</section>")]
    assert "Team through-care (" in page and "Team safeguarding (" not in page  # comp-4 is internal
    assert "Summary 1:" in page and "Summary 5:" in page
    assert "Summary 2:" not in page and "Summary 3:" not in page and "Summary 4:" not in page
    assert page.index("Summary 1:") < page.index("Summary 5:")  # oldest first
