"""The quarterly report from a quarter of events fed through the real broker into
reporting: HTML and PDF over the API, commentary written by a manager, and `qaloop report`."""

from __future__ import annotations

import asyncio
import io
from datetime import date

import aio_pika
import httpx
import pypdf
import pytest

from services import cli
from services.reporting.report.command import fetch_report
from services.simulation.stream import contract_stream
from shared.auth import issue_token
from shared.bus import OutgoingMessage, Publisher, declare_topology
from shared.calendar import london_date, parse_period
from shared.events import (
    CloudEvent,
    ComplaintClosed,
    ComplaintReceived,
    ComplimentReceived,
    FeedbackReceived,
    YouSaidWeDidPublished,
    new_event,
    routing_key_for,
    strand_of_source,
)
from shared.settings import get_settings
from tests.integration.test_report_content import SECTION_HEADINGS, SMALL, SUPPRESSED_COUNT, read_report
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

TENANT = "E10000034"
PERIOD = "2022-23-Q2"
Q2 = parse_period(PERIOD)


def small_slice() -> list[CloudEvent]:
    """A team with three upheld complaints in a category of its own, a question answered
    twice, internal compliments, and a "you said, we did" item with its words."""
    out = []
    complaints = "/qaloop/complaints"
    for i in range(3):
        out.append(
            new_event(
                ComplaintReceived(
                    complaint_id=f"tiny{i}",
                    procedure="statutory_children",
                    category="transport",
                    team="tiny-team",
                    service_area="fostering",
                    received_at="2022-08-01T09:00:00Z",
                    complainant="parent_carer",
                ),
                source=complaints,
                tenant=TENANT,
                sequence=1,
            )
        )
        out.append(
            new_event(
                ComplaintClosed(
                    complaint_id=f"tiny{i}",
                    stage=1,
                    closed_at="2022-08-10T10:00:00Z",
                    outcome="upheld",
                    points=[{"upheld": True}],
                    due_date="2022-08-15",
                    within_timescale=True,
                    working_days_taken=7,
                ),
                source=complaints,
                tenant=TENANT,
                sequence=2,
            )
        )
    for i in range(2):
        out.append(
            new_event(
                FeedbackReceived(
                    response_id=f"tiny-f{i}",
                    survey_id="tiny-survey",
                    service_area="fostering",
                    team="tiny-team",
                    respondent="child",
                    received_at="2022-08-02T10:00:00Z",
                    answers=[{"question_id": "tiny_question", "value": "yes"}],
                ),
                source="/qaloop/feedback",
                tenant=TENANT,
            )
        )
    for i in range(9):
        out.append(
            new_event(
                ComplimentReceived(
                    compliment_id=f"tiny-k{i}",
                    service_area="fostering",
                    team="tiny-team",
                    origin="internal",
                    received_at="2022-08-03T10:00:00Z",
                ),
                source="/qaloop/feedback",
                tenant=TENANT,
            )
        )
    out.append(
        new_event(
            YouSaidWeDidPublished(
                item_id="ysw-tiny",
                service_area="send",
                theme="easy_to_contact_case_worker",
                you_said="It was hard to reach my case worker.",
                we_did="A duty line, answered the same day.",
                feedback_ids=[],
                published_at="2022-09-01T10:00:00Z",
            ),
            source="/qaloop/feedback",
            tenant=TENANT,
        )
    )
    return out


@pytest.fixture(scope="module")
def events() -> list[CloudEvent]:
    return contract_stream(1200, seed=11, tenant=TENANT) + small_slice()


@pytest.fixture
async def reporting(servers, events):
    get_settings.cache_clear()
    from services.reporting.app import build

    service, app = build(clock=lambda: date(2023, 6, 30))
    await fresh_reporting_state(service, servers)
    await service.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60)
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        await declare_topology(await connection.channel())
        publisher = Publisher(connection)
        sent = await publisher.publish_many(
            [OutgoingMessage(routing_key_for(e.type, strand_of_source(e.source)), e.to_json(), e.id) for e in events]
        )
        assert sent == len(events)
    finally:
        await connection.close()
    reader = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:read"])}

    async def applied() -> int:
        return (await client.get("/v1/projections/status", headers=reader)).json()["events_applied"]

    await eventually(applied, lambda n: n == len(events), timeout=30, what="every event applied")
    yield app, client
    await client.aclose()
    await service.stop()


def _expected_compliments(events: list[CloudEvent]) -> tuple[int, int]:
    origins = [
        e.data["origin"]
        for e in events
        if e.type == "ComplimentReceived" and Q2.contains(london_date(e.typed_data().received_at))
    ]
    return origins.count("external"), origins.count("internal")


async def test_quarterly_report_html_pdf_commentary_and_cli(reporting, events, tmp_path):
    app, client = reporting
    settings = get_settings()
    reader = {"Authorization": "Bearer " + issue_token(settings, ["reporting:read"])}
    manager = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"], subject="jo.manager")}

    # A manager writes commentary beside a KPI; a reader may not.
    words = {"commentary": "Two auditors left in August; both posts are filled from October."}
    url = "/v1/kpis/audit.completed/commentary"
    r = await client.put(url, params={"period": PERIOD}, json=words, headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["author"] == "jo.manager"
    assert (await client.put(url, params={"period": PERIOD}, json=words, headers=reader)).status_code == 403
    r = await client.put("/v1/kpis/no.such/commentary", params={"period": PERIOD}, json=words, headers=manager)
    assert r.status_code == 422
    r = await client.put(url, params={"period": PERIOD}, json={"commentary": "   "}, headers=manager)
    assert r.status_code == 422
    send_contact = "/v1/kpis/feedback.positive_rate.easy_to_contact_case_worker/commentary"
    send_words = {"commentary": "A communication framework from October; the focus for next quarter."}
    r = await client.put(
        send_contact, params={"period": PERIOD, "service_area": "send"}, json=send_words, headers=manager
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        send_contact, params={"period": PERIOD, "service_area": "astrology"}, json=send_words, headers=manager
    )
    assert r.status_code == 422

    # HTML by default.
    r = await client.get("/v1/reports/quarterly", params={"period": PERIOD}, headers=reader)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = read_report(r.text)
    for heading in SECTION_HEADINGS:
        assert any(h.endswith(heading) for h in page.h2), (heading, page.h2)
    assert [c for c in page.cells() if SMALL.match(c)] == []
    received = page.column("complaints-by-team", "Received")
    assert page.row("complaints-by-team", "tiny-team")[received] == SUPPRESSED_COUNT
    assert page.row("complaints-by-category", "Transport")[0] == SUPPRESSED_COUNT
    assert page.row("feedback-questions", "tiny_question")[0] == "suppressed"
    external, internal = _expected_compliments(events)
    assert external > 5 and internal > 5
    assert page.row("compliments", "All service areas")[0] == f"{external:,}"
    assert all("Internal compliments" not in [h for h, _ in rows] for t, rows in page.tables.items() if "kpis" in t)
    assert f"not in statistics: {internal:,} in {PERIOD}" in page.paragraphs["not-in-statistics"][0]
    assert page.row("kpis-audit", "Audits completed")[-1] == words["commentary"]
    send_row = page.row("kpis-other-commentary", "Positive answers: easy_to_contact_case_worker")
    assert send_row[0] == "SEND" and send_row[-1] == send_words["commentary"]
    said = [
        "SEND",
        "easy_to_contact_case_worker",
        "It was hard to reach my case worker.",
        "A duty line, answered the same day.",
    ]
    assert ("1 Sep 2022", said) in page.tables["you-said-we-did"]

    # PDF on request, with the same headings.
    r = await client.get(
        "/v1/reports/quarterly", params={"period": PERIOD}, headers={**reader, "Accept": "application/pdf"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    pdf_text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages).split())
    for heading in SECTION_HEADINGS:
        assert heading in pdf_text, heading

    # Errors.
    assert (await client.get("/v1/reports/quarterly", params={"period": PERIOD})).status_code == 401
    for bad in ("2022-23", "2022-07", "2022-23-Q5", "last quarter"):
        r = await client.get("/v1/reports/quarterly", params={"period": bad}, headers=reader)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][-1] == "period"

    # `qaloop report` straight from the database (no service needed), and from the service.
    out = tmp_path / "q2.html"
    assert await asyncio.to_thread(cli.main, ["report", "--period", PERIOD, "--out", str(out)]) == 0
    from_cli = read_report(out.read_text())
    assert from_cli.row("compliments", "All service areas") == page.row("compliments", "All service areas")
    assert from_cli.row("complaints-by-team", "tiny-team") == page.row("complaints-by-team", "tiny-team")
    assert [c for c in from_cli.cells() if SMALL.match(c)] == []
    assert await asyncio.to_thread(cli.main, ["report", "--period", "2022-23", "--out", str(out)]) == 1
    assert await asyncio.to_thread(cli.main, ["report", "--period", PERIOD, "--out", str(tmp_path / "q2.txt")]) == 2
    fetched = await fetch_report(
        "http://test",
        Q2,
        pdf=False,
        token=issue_token(settings, ["reporting:read"]),
        transport=httpx.ASGITransport(app=app),
    )
    assert read_report(fetched.decode()).row("compliments", "All service areas")[0] == f"{external:,}"
