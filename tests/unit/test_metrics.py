"""/metrics: Prometheus text, HTTP requests counted by route template and status, and who
may read it (an ops:admin token, unless QALOOP_METRICS_PUBLIC). No broker or database: the
service is not started."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client import REGISTRY

from shared import metrics
from shared.auth import issue_token
from shared.service import StrandService
from shared.settings import Settings


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _app(settings: Settings):
    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    service = StrandService(name="metricsdemo", migrations_dir=Path("/nonexistent"), settings=settings)
    return service.create_app([router], title="metrics demo")


async def test_http_requests_are_counted_by_route_template_and_status():
    settings = Settings(metrics_public=True)
    app = _app(settings)
    labels = {"service": "metricsdemo", "method": "GET"}
    before_ok = _value("qaloop_http_requests_total", route="/v1/things/{thing_id}", status="200", **labels)
    before_422 = _value("qaloop_http_requests_total", route="/v1/things/{thing_id}", status="422", **labels)
    before_404 = _value("qaloop_http_requests_total", route="unmatched", status="404", **labels)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/v1/things/1")).status_code == 200
        assert (await client.get("/v1/things/2")).status_code == 200
        assert (await client.get("/v1/things/not-a-number")).status_code == 422
        assert (await client.get("/no/such/path/123")).status_code == 404
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert _value("qaloop_http_requests_total", route="/v1/things/{thing_id}", status="200", **labels) == before_ok + 2
    assert _value("qaloop_http_requests_total", route="/v1/things/{thing_id}", status="422", **labels) == before_422 + 1
    assert _value("qaloop_http_requests_total", route="unmatched", status="404", **labels) == before_404 + 1
    text = r.text
    series = 'qaloop_http_requests_total{method="GET",route="/v1/things/{thing_id}",service="metricsdemo",status="200"}'
    assert series in text
    assert "/v1/things/1" not in text  # raw paths never become labels
    assert "qaloop_http_request_duration_seconds_bucket" in text
    for name in (
        "qaloop_events_published_total",
        "qaloop_events_consumed_total",
        "qaloop_events_applied_total",
        "qaloop_events_dead_lettered_total",
        "qaloop_events_duplicates_skipped_total",
        "qaloop_consumer_batch_size",
        "qaloop_consumer_apply_seconds",
        "qaloop_outbox_backlog",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


async def test_metrics_need_an_ops_admin_token_unless_made_public():
    settings = Settings()
    assert settings.metrics_public is False
    app = _app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/metrics")).status_code == 401
        reader = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"])}
        assert (await client.get("/metrics", headers=reader)).status_code == 403
        admin = {"Authorization": "Bearer " + issue_token(settings, ["ops:admin"])}
        r = await client.get("/metrics", headers=admin)
        assert r.status_code == 200 and "qaloop_http_requests_total" in r.text
        assert (await client.get("/healthz")).status_code == 200  # health checks stay open


def test_recorders():
    before = _value("qaloop_events_dead_lettered_total", queue="unit.q", kind="not-json")
    metrics.consumed_batch("unit.q", 7)
    metrics.applied("unit.q", new=5, duplicates=1, seconds=0.002)
    metrics.dead_lettered("unit.q", ["not-json", "not-json", "oversized"])
    assert _value("qaloop_events_consumed_total", queue="unit.q") >= 7
    assert _value("qaloop_events_applied_total", queue="unit.q") >= 5
    assert _value("qaloop_events_duplicates_skipped_total", queue="unit.q") >= 1
    assert _value("qaloop_events_dead_lettered_total", queue="unit.q", kind="not-json") == before + 2
    assert _value("qaloop_consumer_batch_size_bucket", queue="unit.q", le="10.0") >= 1
    assert _value("qaloop_consumer_apply_seconds_count", queue="unit.q") >= 1


def test_published_at_reads_the_publishers_stamp_and_nothing_else():
    assert metrics.published_at(1_700_000_000_123) == 1_700_000_000.123
    assert metrics.published_at(1_700_000_000_123.0) == 1_700_000_000.123
    for bad in (None, "1700000000123", b"1", True, -5, float("nan"), float("inf"), [1]):
        assert metrics.published_at(bad) is None, bad


def test_publish_to_visible_observes_each_stamped_event_once_and_never_below_zero():
    name = "qaloop_event_publish_to_visible_seconds"
    q = {"queue": "unit.visible"}
    count, total = _value(f"{name}_count", **q), _value(f"{name}_sum", **q)
    within_1s, within_10ms = _value(f"{name}_bucket", le="1.0", **q), _value(f"{name}_bucket", le="0.01", **q)
    now = 1_700_000_100.0
    # 0.75 s and 40 s after publication; an unstamped event; a publisher clock 2 s ahead.
    metrics.visible("unit.visible", [now - 0.75, now - 40.0, None, now + 2.0], now)
    assert _value(f"{name}_count", **q) == count + 3
    assert _value(f"{name}_sum", **q) == pytest.approx(total + 40.75)
    assert _value(f"{name}_bucket", le="1.0", **q) == within_1s + 2  # 0.75 and the clamped 0
    assert _value(f"{name}_bucket", le="0.01", **q) == within_10ms + 1  # the clamped 0 alone
    assert _value(f"{name}_bucket", le="60.0", **q) >= count + 3


def test_followups_overdue_per_tenant_and_back_to_zero_when_none_are_left():
    metrics.followups_overdue({"U1": 4, "U2": 1})
    assert _value("qaloop_followups_overdue", tenant="U1") == 4
    assert _value("qaloop_followups_overdue", tenant="U2") == 1
    metrics.followups_overdue({"U1": 6})  # U2's one follow-up was closed
    assert _value("qaloop_followups_overdue", tenant="U1") == 6
    assert REGISTRY.get_sample_value("qaloop_followups_overdue", {"tenant": "U2"}) == 0.0
    metrics.followups_overdue({})
    assert REGISTRY.get_sample_value("qaloop_followups_overdue", {"tenant": "U1"}) == 0.0
    assert REGISTRY.get_sample_value("qaloop_followups_overdue", {"tenant": "U3"}) is None  # never overdue
