"""The simulator's runner on fakes (no network): calls in story order with ids captured from
replies, a failure ends its story and is reported, casework pseudonymised on the way out,
the rate cap holds, and a service that cannot be reached stops the run with how to start it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest

from services.simulation.plan import Call, CmsEvent, Plan, Ref, Story
from services.simulation.runner import RateLimit, ServicesUnavailable, Simulator, Summary
from shared.events import CloudEvent, ReferralReceived
from shared.pseudonym import pseudonymise
from shared.settings import Settings

SETTINGS = Settings()
AT = datetime(2022, 7, 14, 10, 0, tzinfo=UTC)


class FakeSink:
    def __init__(self) -> None:
        self.published: list[CloudEvent] = []

    async def open(self) -> None:
        pass

    async def publish(self, events: Sequence[CloudEvent]) -> int:
        self.published += events
        return len(events)

    async def close(self) -> None:
        pass


class FakeStrand:
    """Answers like a strand service: records requests; `fail` maps a path to a status."""

    def __init__(self, name: str, fail: dict[str, int] | None = None, refuse: bool = False) -> None:
        self.name = name
        self.fail = fail or {}
        self.refuse = refuse
        self.requests: list[tuple[str, str, dict]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.refuse:
            raise httpx.ConnectError("connection refused", request=request)
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.method, request.url.path, body))
        if request.url.path in self.fail:
            return httpx.Response(self.fail[request.url.path], json={"detail": "refused for the test"})
        if request.url.path == "/v1/audits":
            return httpx.Response(201, json={"audit_id": "a-1"})
        return httpx.Response(201, json={})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle), base_url=f"http://{self.name}")


def call(kind: str, strand: str, path: str, body: dict, capture=None, events: int = 1) -> Call:
    return Call(AT, kind, strand, "POST", path, body, "tester", capture=capture, events=events)


def plan(stories: list[Story], casework: tuple[CmsEvent, ...] = ()) -> Plan:
    return Plan("2022-23", 1, 1.0, AT.date(), AT.date(), (), tuple(stories), casework)


def simulator(p: Plan, strands: dict[str, FakeStrand], sink: FakeSink, **kwargs) -> Simulator:
    return Simulator(
        p,
        clients={name: s.client() for name, s in strands.items()},
        sink=sink,
        settings=SETTINGS,
        show_progress=False,
        **kwargs,
    )


def strands(**overrides: FakeStrand) -> dict[str, FakeStrand]:
    return {name: overrides.get(name, FakeStrand(name)) for name in ("audit", "feedback", "complaints")}


async def test_calls_run_in_order_with_the_ids_the_service_gave():
    audit = FakeStrand("audit")
    story = Story(
        "s1",
        (
            call("audit.schedule", "audit", "/v1/audits", {"when": AT}, capture=("audit:x", "audit_id")),
            call("audit.grade", "audit", "/v1/audits/{audit:x}/grades", {}, events=0),
            call("audit.concern.resolve", "audit", "/v1/concerns/c/resolve", {"evidence_audit_ids": [Ref("audit:x")]}),
        ),
    )
    summary = await simulator(plan([story]), strands(audit=audit), FakeSink()).run()
    assert [path for _, path, _ in audit.requests] == ["/v1/audits", "/v1/audits/a-1/grades", "/v1/concerns/c/resolve"]
    assert audit.requests[0][2] == {"when": "2022-07-14T10:00:00+00:00"}
    assert audit.requests[2][2] == {"evidence_audit_ids": ["a-1"]}
    assert summary.ok and summary.strand_events == 2
    assert summary.calls == {"audit.schedule": 1, "audit.grade": 1, "audit.concern.resolve": 1}


async def test_a_failed_call_ends_its_story_and_is_reported_while_other_stories_go_on():
    complaints = FakeStrand("complaints", fail={"/v1/complaints/c1/respond": 422})
    broken = Story(
        "c1",
        (
            call("complaints.receive", "complaints", "/v1/complaints", {}),
            call("complaints.respond", "complaints", "/v1/complaints/c1/respond", {}),
            call("complaints.escalate", "complaints", "/v1/complaints/c1/escalate", {}),
        ),
    )
    fine = Story("c2", (call("complaints.receive", "complaints", "/v1/complaints", {}),))
    summary = await simulator(plan([broken, fine]), strands(complaints=complaints), FakeSink()).run()
    assert not summary.ok
    assert summary.failures == {"complaints.respond": 1}
    assert summary.not_run == 1
    assert summary.calls["complaints.receive"] == 2
    assert "422 refused for the test" in summary.errors[0]
    assert "/v1/complaints/c1/escalate" not in [p for _, p, _ in complaints.requests]


async def test_casework_is_published_with_pseudonymised_children():
    referral = ReferralReceived(
        referral_id="r1",
        child_ref="LL1-000001",
        received_at=AT,
        team="assessment",
        service_area="childrens_social_care",
    )
    sink = FakeSink()
    p = plan([], (CmsEvent("sim1:r1", "liquidlogic", AT, referral),))
    summary = await simulator(p, strands(), sink).run()
    (event,) = sink.published
    pseudonym = pseudonymise("LL1-000001", SETTINGS.pseudonym_key.get_secret_value())
    assert event.source == "/cms/liquidlogic" and event.id == "sim1:r1"
    assert event.routing_key() == "casework.ReferralReceived"
    assert event.data["child_ref"] == pseudonym and "LL1-000001" not in event.to_json().decode()
    assert event.subject == f"case:{pseudonym}"
    assert event.time == AT
    assert summary.events == {"ReferralReceived": 1} and summary.events_for_reporting == 1


async def test_a_service_that_cannot_be_reached_stops_the_run_and_says_how_to_start_it(monkeypatch):
    monkeypatch.setattr("services.simulation.runner.asyncio.sleep", _no_sleep)
    down = FakeStrand("feedback", refuse=True)
    story = Story("f1", (call("feedback.compliment", "feedback", "/v1/compliments", {}),))
    with pytest.raises(ServicesUnavailable) as raised:
        await simulator(plan([story]), strands(feedback=down), FakeSink()).run()
    assert "feedback service stopped answering" in str(raised.value)
    assert "qaloop run all" in str(raised.value)
    with pytest.raises(ServicesUnavailable) as raised:
        await simulator(plan([]), strands(feedback=down), FakeSink()).preflight()
    assert "The feedback service is not reachable at http://feedback" in str(raised.value)


async def test_a_retried_feedback_record_publishes_nothing_new():
    class Retry(FakeStrand):
        def handle(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={})

    story = Story("r", (call("feedback.response", "feedback", "/v1/responses", {}),))
    summary = await simulator(plan([story]), strands(feedback=Retry("feedback")), FakeSink()).run()
    assert summary.calls == {"feedback.response": 1} and summary.strand_events == 0


async def test_an_unanswered_request_is_repeated_only_where_a_repeat_is_harmless(monkeypatch):
    monkeypatch.setattr("services.simulation.runner.asyncio.sleep", _no_sleep)

    class DropsFirst(FakeStrand):
        def handle(self, request: httpx.Request) -> httpx.Response:
            self.requests.append((request.method, request.url.path, {}))
            if len(self.requests) == 1:
                raise httpx.ReadError("connection closed", request=request)
            return httpx.Response(201, json={})

    feedback, complaints = DropsFirst("feedback"), DropsFirst("complaints")
    stories = [
        Story("f", (call("feedback.compliment", "feedback", "/v1/compliments", {}),)),
        Story("c", (call("complaints.receive", "complaints", "/v1/complaints", {}),)),
    ]
    summary = await simulator(plan(stories), strands(feedback=feedback, complaints=complaints), FakeSink()).run()
    assert len(feedback.requests) == 2 and summary.calls["feedback.compliment"] == 1
    assert len(complaints.requests) == 1 and summary.failures == {"complaints.receive": 1}


async def test_the_rate_cap_paces_requests_and_events():
    limit = RateLimit(200)  # one unit every 5 ms
    started = time.monotonic()
    for _ in range(20):
        await limit.take()
    await limit.take(20)  # a batch of 20 events uses 20 slots: the next unit waits for them
    await limit.take()
    assert time.monotonic() - started >= 40 / 200 * 0.95
    with pytest.raises(ValueError):
        RateLimit(0)


def test_the_summary_table_lists_what_was_sent_and_what_failed():
    summary = Summary()
    summary.events.update({"ReferralReceived": 3})
    summary.calls.update({"audit.schedule": 2})
    summary.failures.update({"audit.complete": 1})
    summary.elapsed = 1.5
    table = summary.table()
    assert [c.header for c in table.columns] == ["sent", "what", "ok", "failed"]
    assert table.row_count == 3
    assert "3 casework events, 2 API calls (1 failed" in str(table.caption)


async def _no_sleep(_seconds: float) -> None:
    return None
