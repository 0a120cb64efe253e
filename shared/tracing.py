"""OpenTelemetry traces: the one adapter. Nothing else in qaloop imports `opentelemetry`
(import-linter, pyproject.toml).

One trace follows a request across the bus: the HTTP request (FastAPI instrumentation) →
the outbox write (`outbox_write`, whose context becomes the event's CloudEvents `traceparent`)
→ the relay's publish (the aio-pika instrumentation's producer span, a child of the event's
`traceparent`, injected into the AMQP headers) → the consumer's batch (`consuming`, a child of
its first message's publish and linked to every other message's) → what the batch does, such
as opening a follow-up (`span`). The database calls on the way are asyncpg spans.

Off unless configured: `setup` turns tracing on only when an OTLP endpoint is set
(`QALOOP_OTLP_ENDPOINT`, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_SDK_DISABLED` is not true. Off, no library is
instrumented, no span is made (the API's no-op tracer), events carry no `traceparent` and
`enabled()` is false so callers skip even the parsing they would do for a trace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import Settings

# Routes whose requests make no span: probes and scrapes, many a minute, never interesting.
EXCLUDED_URLS = "healthz,readyz,metrics"
_W3C = TraceContextTextMapPropagator()


class _State:
    provider: TracerProvider | None = None
    tracer: Tracer = trace.NoOpTracer()
    instrumentors: list[Any] = []


def endpoint(settings: Settings) -> str | None:
    """The OTLP/HTTP traces endpoint configured, or None (tracing off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if settings.otlp_endpoint:
        return settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    if url := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return url
    if url := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return url.rstrip("/") + "/v1/traces"
    return None


def setup(settings: Settings, service: str, *, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process if an endpoint is configured, or with `exporter`
    (tests and the bench: spans exported as they end). The first call that turns it on
    decides; later calls change nothing. Returns whether tracing is on."""
    if _State.provider is not None:
        return True
    url = endpoint(settings)
    if exporter is None and url is None:
        return False
    name = os.environ.get("OTEL_SERVICE_NAME") or f"qaloop-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    _State.provider = provider
    _State.tracer = provider.get_tracer("qaloop")
    _instrument_libraries(provider)
    return True


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    for instrumentor in (AsyncPGInstrumentor(), AioPikaInstrumentor()):  # type: ignore[no-untyped-call]
        instrumentor.instrument(tracer_provider=provider)
        _State.instrumentors.append(instrumentor)


def shutdown() -> None:
    """Flush and turn tracing off again (tests and the bench; a process just exits)."""
    for instrumentor in _State.instrumentors:
        instrumentor.uninstrument()
    _State.instrumentors = []
    if _State.provider is not None:
        _State.provider.shutdown()
    _State.provider = None
    _State.tracer = trace.NoOpTracer()


def enabled() -> bool:
    return _State.provider is not None


def instrument_app(app: Any) -> None:
    """A FastAPI application's requests as server spans (continuing a caller's
    `traceparent`), when tracing is on."""
    if _State.provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # Without the ASGI "http send"/"http receive" spans: two or three per request, timing
    # nothing but the hand-over of the body.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=_State.provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )


@contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[None]:
    """A span of the current trace around the block (nothing when tracing is off)."""
    if _State.provider is None:
        yield
        return
    with _State.tracer.start_as_current_span(name, kind=kind, attributes=attributes):
        yield


@contextmanager
def outbox_write(event_type: str, event_id: str) -> Iterator[str | None]:
    """The span of writing one event to the outbox; yields the `traceparent` the event
    carries (None when tracing is off)."""
    if _State.provider is None:
        yield None
        return
    attributes = {"messaging.message.id": event_id, "cloudevents.event_type": event_type}
    with _State.tracer.start_as_current_span(f"outbox write {event_type}", attributes=attributes):
        yield current_traceparent()


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None (no trace)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits), or None: for log lines and the access log."""
    if _State.provider is None:
        return None
    found = trace.get_current_span().get_span_context()
    return trace.format_trace_id(found.trace_id) if found.is_valid else None


def body_traceparent(body: bytes) -> str | None:
    """The CloudEvents `traceparent` of an event's JSON body (only read when tracing is on)."""
    if _State.provider is None:
        return None
    try:
        value = json.loads(body).get("traceparent")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


@contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Make the trace of `traceparent` current in the block (a publish started in it is its
    child); nothing without one or with tracing off."""
    if _State.provider is None or not traceparent:
        yield
        return
    # A fresh context: the publish is traced even inside `untraced` (the relay's poll).
    token = context.attach(_W3C.extract({"traceparent": traceparent}, context=context.Context()))
    try:
        yield
    finally:
        context.detach(token)


def message_traceparent(headers: Mapping[str, Any] | None, envelope_traceparent: str | None) -> str | None:
    """Where a received message continues a trace: its publish (the AMQP `traceparent`
    header the producer span injected), else the event's own CloudEvents `traceparent` (a
    publisher that is not traced, such as a case-management system)."""
    if _State.provider is None:
        return None
    value = (headers or {}).get("traceparent")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) and value else envelope_traceparent


@contextmanager
def consuming(queue: str, traceparents: Iterable[str | None], size: int) -> Iterator[None]:
    """The span of applying one batch from `queue`: a child of its first message's publish,
    linked to every other message's (OpenTelemetry's messaging conventions for a batch)."""
    if _State.provider is None:
        yield
        return
    contexts = [_span_context(t) for t in traceparents if t]
    valid = [c for c in contexts if c is not None]
    parent = trace.set_span_in_context(trace.NonRecordingSpan(valid[0])) if valid else None
    attributes: dict[str, Any] = {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": queue,
        "messaging.batch.message_count": size,
    }
    with _State.tracer.start_as_current_span(
        f"{queue} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=[Link(c) for c in valid[1:]],
        attributes=attributes,
    ):
        yield


def _span_context(traceparent: str) -> trace.SpanContext | None:
    extracted = _W3C.extract({"traceparent": traceparent}, context=context.Context())
    found = trace.get_current_span(extracted).get_span_context()
    return found if found.is_valid else None


@contextmanager
def untraced() -> Iterator[None]:
    """No span from the libraries' instrumentation in the block: a poll that finds nothing
    (the outbox relay's, every second) would otherwise be a trace of its own each time."""
    if _State.provider is None:
        yield
        return
    with suppress_instrumentation():
        yield
