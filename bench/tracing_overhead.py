#!/usr/bin/env python
"""What OpenTelemetry tracing costs (shared/tracing.py): the same work with tracing off and on,
in one process, alternating rounds.

    .venv/bin/python bench/tracing_overhead.py                    # 4 rounds of 300 concerns each way
    .venv/bin/python bench/tracing_overhead.py --rounds 2 --requests 50   # smoke run

One round: the audit service and reporting (its consumer and relay included) are started in
this process, on a RabbitMQ vhost and PostgreSQL database of the bench's own (removed at the
end); `--requests` concerns are raised one after another through the audit service's ASGI app
(`POST /v1/concerns`, each written with its event to the outbox), then the round waits until
reporting has applied every one (each opens a follow-up). Figures per mode:

request_ms   the requests' latency: median and 95th percentile (nearest rank), milliseconds.
through_s    seconds from the first request until reporting applied the last event.
spans        spans the receiver got in the mode (0 when off).
off calls    what tracing's calls on a request's path cost when off (the outbox write's and
             a batch's span, the trace id for a log line), nanoseconds, timed in a loop.

"off": no endpoint configured, as a default install runs (the API's no-op tracer, nothing
instrumented). "on": tracing with the real OTLP/HTTP exporter (batching, protobuf encoding,
HTTP) sending to a local receiver on 127.0.0.1 (a process of its own) that answers 200 and
counts the spans. The
modes alternate (off, on, on, off, ...) so that drift (a warming database, a busy machine)
falls on both alike. Results go to stderr as a table and to stdout as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
import urllib.parse
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from shared import tracing  # noqa: E402
from shared.auth import issue_token  # noqa: E402
from shared.settings import Settings  # noqa: E402

CONCERN = {
    "service_area": "send",
    "theme": "management_oversight",
    "description": "oversight of SEND plans is not recorded",
    "measures": ["new supervision template"],
    "review_by": "2030-01-31",
}


class Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps nothing: 200 to every export, counting its spans."""

    spans: Any = None  # a multiprocessing.Value shared with the bench

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        with Receiver.spans.get_lock():
            Receiver.spans.value += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def serve(port: Any, spans: Any) -> None:
    """The receiver, in a process of its own (its parsing must not take the bench's CPU)."""
    Receiver.spans = spans
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port.value = server.server_port
    server.serve_forever()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


async def one_round(settings: Settings, requests: int) -> tuple[list[float], float]:
    from services.audit.app import build as build_audit
    from services.reporting.app import build as build_reporting

    reporting, _ = build_reporting(settings=settings, clock=lambda: date(2026, 1, 1), followup_interval=1.0)
    audit, app = build_audit(settings)
    await reporting.start()
    await audit.start()
    assert reporting.consumer is not None
    await asyncio.wait_for(reporting.consumer.ready.wait(), 30)
    applied_before = reporting.consumer.stats.applied
    token = issue_token(settings, ["audit:write"])
    latencies = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            started = time.perf_counter()
            for _ in range(requests):
                t0 = time.perf_counter()
                r = await client.post("/v1/concerns", json=CONCERN, headers={"Authorization": f"Bearer {token}"})
                latencies.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 201, r.text
            deadline = time.monotonic() + 120
            while reporting.consumer.stats.applied - applied_before < requests:
                if time.monotonic() > deadline:
                    raise TimeoutError("reporting did not apply every event within 120 s")
                await asyncio.sleep(0.005)
            through = time.perf_counter() - started
    finally:
        await audit.stop()
        await reporting.stop()
    return latencies, through


async def run(args: argparse.Namespace, settings_off: Settings, settings_on: Settings) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {m: {"latencies": [], "through": [], "spans": 0} for m in ("off", "on")}
    await one_round(settings_off, min(20, args.requests))  # warm-up: migrations, caches, JIT of the paths
    for i in range(args.rounds):
        for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
            on = mode == "on"
            assert tracing.setup(settings_on, "bench") if on else not tracing.setup(settings_off, "bench")
            spans_before = Receiver.spans.value
            latencies, through = await one_round(settings_on if on else settings_off, args.requests)
            tracing.shutdown()  # flushes the exporter
            results[mode]["latencies"] += latencies
            results[mode]["through"].append(through)
            await asyncio.sleep(0.5)  # the receiver counts what the flush sent
            results[mode]["spans"] += Receiver.spans.value - spans_before
            print(
                f"round {i + 1} {mode:>3}: median {statistics.median(latencies):.2f} ms, {through:.2f} s",
                file=sys.stderr,
            )
    summary = {}
    for mode, r in results.items():
        summary[mode] = {
            "requests": len(r["latencies"]),
            "request_ms_p50": round(statistics.median(r["latencies"]), 3),
            "request_ms_p95": round(percentile(r["latencies"], 95), 3),
            "through_s_median": round(statistics.median(r["through"]), 3),
            "spans_exported": r["spans"],
        }
    summary["overhead"] = {
        "request_p50_pct": round(100 * (summary["on"]["request_ms_p50"] / summary["off"]["request_ms_p50"] - 1), 1),
        "through_pct": round(100 * (summary["on"]["through_s_median"] / summary["off"]["through_s_median"] - 1), 1),
    }
    return summary


def off_path_ns(repeats: int = 200_000) -> float:
    """Nanoseconds that tracing's calls on a request's path cost when off: the outbox write's
    span, a batch's span and the trace id a log line and the access log ask for."""
    assert not tracing.enabled()
    started = time.perf_counter_ns()
    for _ in range(repeats):
        with tracing.outbox_write("ConcernRaised", "id"):
            pass
        with tracing.consuming("reporting.events", (), 1):
            pass
        tracing.current_trace_id()
    return (time.perf_counter_ns() - started) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each mode (alternating)")
    parser.add_argument("--requests", type=int, default=300, help="concerns raised per round")
    args = parser.parse_args()
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        os.environ.pop(name, None)  # "off" is off: only the bench's own setting turns tracing on
    os.environ.setdefault("QALOOP_ENV", "development")
    from tests.support import servers as srv

    amqp_base = os.environ.get("QALOOP_AMQP_URL", "amqp://guest:guest@localhost:5672/")
    database = os.environ.get("QALOOP_DATABASE_URL", "postgresql://postgres@localhost:5432/qaloop")
    admin_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(database)._replace(path="/postgres"))
    management_url = os.environ.get("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@localhost:15672")
    name = "qaloop_bench_trace_" + uuid.uuid4().hex[:10]
    spans, port = multiprocessing.Value("q", 0), multiprocessing.Value("i", 0)
    receiver = multiprocessing.Process(target=serve, args=(port, spans), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.01)
    Receiver.spans = spans
    amqp_url = srv.create_vhost(amqp_base, management_url, name)
    database_url = asyncio.run(srv.create_database(admin_url, name))
    try:
        off = Settings(amqp_url=amqp_url, database_url=database_url)
        on = Settings(amqp_url=amqp_url, database_url=database_url, otlp_endpoint=f"http://127.0.0.1:{port.value}")
        summary = asyncio.run(run(args, off, on))
        summary["off"]["tracing_calls_ns_per_request"] = round(off_path_ns(), 1)
    finally:
        asyncio.run(srv.drop_database(admin_url, name))
        srv.delete_vhost(management_url, name)
        receiver.terminate()
    print(f"{'mode':<5}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'through s':>11}{'spans':>9}", file=sys.stderr)
    for mode in ("off", "on"):
        s = summary[mode]
        print(
            f"{mode:<5}{s['requests']:>9}{s['request_ms_p50']:>9.2f}{s['request_ms_p95']:>9.2f}"
            f"{s['through_s_median']:>11.2f}{s['spans_exported']:>9}",
            file=sys.stderr,
        )
    print(
        f"overhead: request p50 {summary['overhead']['request_p50_pct']:+.1f}%, "
        f"through {summary['overhead']['through_pct']:+.1f}%",
        file=sys.stderr,
    )
    print(
        f"off: tracing's calls on a request's path take {summary['off']['tracing_calls_ns_per_request']:.0f} ns",
        file=sys.stderr,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
