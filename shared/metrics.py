"""Prometheus metrics every service exposes at `/metrics` (text exposition format).

The counters live in the process's default registry and are incremented where the work is
counted (shared.inbox, shared.outbox) and per HTTP request (`HttpMetrics`). Gauges that
describe state outside the process (outbox backlog, queue depth, projection lag) are sampled
when /metrics is scraped, so they are as fresh as the scrape and cost nothing in between.

Label values are bounded: a queue or schema name, a dead-letter kind from a fixed set, an
HTTP method, a route *template* (`/v1/kpis/{kpi}/series`, never the raw path), a status
code, and a tenant (configured, a few hundred at most; counts only, no case data).
Requests that match no route are counted under route `unmatched`.

Who may read /metrics is decided in `shared.service` (see docs/operations.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "render"]

# --------------------------------------------------------------------------- the bus

EVENTS_PUBLISHED = Counter(
    "qaloop_events_published", "Events an outbox relay published and the broker confirmed.", ["schema"]
)
EVENTS_CONSUMED = Counter(
    "qaloop_events_consumed", "Messages a consumer took from its queue (poison included).", ["queue"]
)
EVENTS_APPLIED = Counter(
    "qaloop_events_applied", "Events applied for the first time (committed, then acked).", ["queue"]
)
EVENTS_DEAD_LETTERED = Counter(
    "qaloop_events_dead_lettered",
    "Messages a consumer sent to the dead-letter exchange, by reason kind.",
    ["queue", "kind"],
)
DUPLICATES_SKIPPED = Counter(
    "qaloop_events_duplicates_skipped",
    "Redelivered or duplicated events the inbox recognised and skipped.",
    ["queue"],
)
CONSUMER_RETRIES = Counter(
    "qaloop_consumer_retries", "Batches retried because the database was unavailable.", ["queue"]
)
BATCH_SIZE = Histogram(
    "qaloop_consumer_batch_size",
    "Messages per batch taken from the queue.",
    ["queue"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000),
)
APPLY_SECONDS = Histogram(
    "qaloop_consumer_apply_seconds",
    "Time to apply one batch: inbox claim, handler and commit.",
    ["queue"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONSUMER_CONNECTED = Gauge(
    "qaloop_consumer_connected", "1 while the consumer is connected and consuming its queue.", ["queue"]
)
# Publish -> visible: from the moment a publisher handed the event to the broker (the header
# `x-qaloop-published-at` that `shared.bus.Publisher` stamps on every message, replays
# included) to the commit of the batch that applied it, when its effect became visible to
# readers. First copies only; messages without the stamp (another publisher) are not counted.
# The two clocks are different hosts' (NTP): a negative difference is counted as 0.
PUBLISH_TO_VISIBLE = Histogram(
    "qaloop_event_publish_to_visible_seconds",
    "Seconds from an event's publication to the commit that applied it (first copies).",
    ["queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)
OUTBOX_RELAY_CONNECTED = Gauge(
    "qaloop_outbox_relay_connected",
    "1 while the outbox relay is connected to the broker and the database and relaying.",
    ["schema"],
)

# --------------------------------------------------------------------------- sampled at scrape

OUTBOX_BACKLOG = Gauge(
    "qaloop_outbox_backlog", "Outbox rows not yet confirmed by the broker (sampled at scrape).", ["schema"]
)
QUEUE_DEPTH = Gauge(
    "qaloop_queue_depth", "Messages ready in a queue (sampled at scrape by the queue's consumer service).", ["queue"]
)
PROJECTION_LAST_APPLIED_AGE = Gauge(
    "qaloop_projection_last_applied_age_seconds",
    "Seconds since the projections last applied an event (sampled at scrape).",
)
FOLLOWUPS_OVERDUE = Gauge(
    "qaloop_followups_overdue",
    "Follow-ups overdue today per tenant: opened, still open, due date passed (sampled at scrape by reporting).",
    ["tenant"],
)
METRICS_SAMPLE_ERRORS = Counter(
    "qaloop_metrics_sample_errors", "Scrapes whose sampled gauges could not all be refreshed.", ["service"]
)

# --------------------------------------------------------------------------- HTTP

HTTP_REQUESTS = Counter(
    "qaloop_http_requests", "HTTP requests by route template and status.", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "qaloop_http_request_duration_seconds",
    "HTTP request duration by route template.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def render() -> bytes:
    """The default registry in Prometheus text format."""
    return generate_latest(REGISTRY)


# --------------------------------------------------------------------------- recorders


def consumed_batch(queue: str, size: int) -> None:
    EVENTS_CONSUMED.labels(queue).inc(size)
    BATCH_SIZE.labels(queue).observe(size)


def applied(queue: str, *, new: int, duplicates: int, seconds: float) -> None:
    EVENTS_APPLIED.labels(queue).inc(new)
    DUPLICATES_SKIPPED.labels(queue).inc(duplicates)
    APPLY_SECONDS.labels(queue).observe(seconds)


def dead_lettered(queue: str, kinds: list[str]) -> None:
    for kind in kinds:
        EVENTS_DEAD_LETTERED.labels(queue, kind).inc()


def published_at(stamp: object) -> float | None:
    """The `x-qaloop-published-at` header (integer milliseconds since the epoch) as seconds
    since the epoch; None when absent or not a finite non-negative number (any publisher
    can send any header)."""
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return None
    if not math.isfinite(stamp) or stamp < 0:
        return None
    return stamp / 1000


def visible(queue: str, published: Sequence[float | None], now: float) -> None:
    """Publish -> visible for the events a batch just committed (`now`: time.time())."""
    histogram = PUBLISH_TO_VISIBLE.labels(queue)
    for at in published:
        if at is not None:
            histogram.observe(max(0.0, now - at))


_overdue_tenants: set[str] = set()  # tenants given a count by this process


def followups_overdue(counts: Mapping[str, int]) -> None:
    """Set the per-tenant overdue counts (reporting gives every tenant it knows, 0 included).
    A tenant counted before and left out now is set to 0, never left at its last count."""
    for tenant in _overdue_tenants - counts.keys():
        FOLLOWUPS_OVERDUE.labels(tenant).set(0)
    for tenant, count in counts.items():
        FOLLOWUPS_OVERDUE.labels(tenant).set(count)
    _overdue_tenants.update(counts)


class HttpMetrics:
    """ASGI middleware: count requests and time them by route template and status.

    Pure ASGI (not BaseHTTPMiddleware) so that streamed responses are not buffered. The
    route template is read from `scope["route"]` after the app ran: the router stores the
    matched route in the scope it was handed, which is this one.
    """

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_SECONDS.labels(self.service, method, template).observe(time.perf_counter() - started)
