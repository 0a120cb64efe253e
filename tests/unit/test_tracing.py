"""shared/tracing.py without servers: when it is on, and how a batch's span joins its
messages' traces (the whole trace across the services: tests/integration/test_tracing.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from shared import tracing
from shared.settings import Settings

OTEL_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED")
A = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
B = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.setup(Settings(), "unit", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def test_the_endpoint_comes_from_the_qaloop_setting_or_the_standard_variables(clean_env) -> None:
    assert tracing.endpoint(Settings()) is None
    assert tracing.endpoint(Settings(otlp_endpoint="http://collector:4318/")) == "http://collector:4318/v1/traces"
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")
    assert tracing.endpoint(Settings()) == "http://otel:4318/v1/traces"
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://otel:4318/custom/traces")
    assert tracing.endpoint(Settings()) == "http://otel:4318/custom/traces"
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.endpoint(Settings(otlp_endpoint="http://collector:4318")) is None


def test_off_without_an_endpoint_and_then_every_call_is_inert(clean_env) -> None:
    assert not tracing.setup(Settings(), "unit") and not tracing.enabled()
    with tracing.outbox_write("ConcernRaised", "e1") as traceparent:
        assert traceparent is None
        assert tracing.current_trace_id() is None and tracing.current_traceparent() is None
    assert tracing.body_traceparent(b'{"traceparent": "' + A.encode() + b'"}') is None
    assert tracing.message_traceparent({"traceparent": A}, B) is None


def test_an_outbox_write_is_the_event_s_traceparent(exporter) -> None:
    with tracing.continued(A), tracing.outbox_write("ConcernRaised", "e1") as traceparent:
        assert tracing.current_trace_id() == A.split("-")[1]
    [write] = exporter.get_finished_spans()
    assert write.name == "outbox write ConcernRaised"
    assert traceparent == f"00-{A.split('-')[1]}-{format_span_id(write.context.span_id)}-01"
    assert format_span_id(write.parent.span_id) == A.split("-")[2]
    assert tracing.body_traceparent(f'{{"traceparent": "{traceparent}"}}'.encode()) == traceparent
    assert tracing.body_traceparent(b"not json") is None


def test_a_message_continues_its_publish_else_its_event(exporter) -> None:
    assert tracing.message_traceparent({"traceparent": A}, B) == A
    assert tracing.message_traceparent({"traceparent": A.encode()}, B) == A
    assert tracing.message_traceparent({}, B) == B
    assert tracing.message_traceparent(None, None) is None


def test_a_batch_continues_its_first_message_and_links_the_others(exporter) -> None:
    with tracing.consuming("reporting.events", [A, None, B, "garbage"], 4), tracing.span("follow-ups opened"):
        pass
    opened, batch = exporter.get_finished_spans()
    assert batch.name == "reporting.events process" and batch.kind is SpanKind.CONSUMER
    assert format_trace_id(batch.context.trace_id) == A.split("-")[1]
    assert format_span_id(batch.parent.span_id) == A.split("-")[2]
    assert [format_trace_id(link.context.trace_id) for link in batch.links] == [B.split("-")[1]]
    assert batch.attributes["messaging.batch.message_count"] == 4
    assert opened.parent.span_id == batch.context.span_id


def test_untraced_blocks_hide_library_spans_but_a_continued_publish_is_traced(exporter) -> None:
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    with tracing.untraced():
        assert not is_instrumentation_enabled()
        with tracing.continued(A):
            assert is_instrumentation_enabled()
        with tracing.continued(None):
            assert not is_instrumentation_enabled()
