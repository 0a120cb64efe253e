#!/usr/bin/env python
"""History and size scaling of the reporting queries: one authority at 1x and at 10x.

    .venv/bin/python bench/history_scaling.py                       # both shapes, 1x and 10x
    .venv/bin/python bench/history_scaling.py --shape history --scale 2 --events-per-year 6000   # smoke run

Not a timed test: it measures the real reporting service through its public surfaces only
(the bus and the HTTP API of CONTRACT.md §2), so the figures compare across rewrites of
`services/reporting`.

Two shapes, each fed to one tenant at 1x and at `--scale` (10) times:

history  1x: one financial year (2022-23) of `contract_stream(--events-per-year)`.
         10x: ten consecutive years ending 2022-23 (2013-14 ... 2022-23), each the same
         stream (same n, same seed) with that year's label. The last year is byte-for-byte
         the 1x stream; in the earlier years the event ids and the ids the generator numbers
         (complaint, audit, action, referral, ... ids) get the year as a prefix, so that no
         year's events or entities collide with another's. Children and case references are
         left as they are: the same children across the years, as in a real authority.
size     1x: the same single year; 10x: one year of a ten times larger authority
         (`contract_stream(10 * --events-per-year)`: the generator has a fixed set of teams,
         so each team gets ten times the volume).

Each run (shape x scale) gets its own RabbitMQ vhost and PostgreSQL database (removed at
the end, also on error or Ctrl-C; `--keep` keeps the database) and its own reporting
service: `qaloop run reporting` as a subprocess, so that its memory (VmRSS of the process
and its children, from /proc) is measured apart from the benchmark's. The events are
published to `qa.events` with their routing keys (`shared.bus.Publisher`, persistent and
confirmed); the run then waits until `GET /v1/projections/status` shows `events_applied`
equal to the number sent. Then, about the last year (2022-23):

kpis_first_ms   GET /v1/kpis/values?period=2022-23-Q2, once, right after intake.
                (The run then waits for the learning loop's follow-ups to settle.)
kpis_warm_ms    the same, median of --repeats.
kpis_team_ms    GET /v1/kpis/values?period=2022-23&team=<the busiest team>, median.
series_8q_ms    GET /v1/kpis/complaints.within_timescale_rate/series?from=2020-21-Q3&to=2022-23-Q2 (the
                eight quarters ending 2022-23-Q2), median.
followups_ms    GET /v1/followups, median.
report_html_ms  GET /v1/reports/quarterly?period=2022-23-Q2 (HTML), median of up to
                --report-repeats (fewer when one takes long).
rss_mb          VmRSS of the service's process tree after the queries.

Every repeat loop is bounded in count and in time (`--query-budget` seconds per query).
Progress and a table go to stderr; stdout gets one JSON line per shape with the 1x
("base") and 10x ("scaled") figures, the scaled/base ratios, the targets and the load
average at the start and end of the shape.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from shared.bus import OutgoingMessage, Publisher, connect  # noqa: E402

Item = tuple[str, bytes, str]  # (routing key, body, message id)

LAST_YEAR = "2022-23"
QUARTER = "2022-23-Q2"
SERIES_KPI = "complaints.within_timescale_rate"
SERIES_FROM, SERIES_TO = "2020-21-Q3", "2022-23-Q2"
REPORTING_QUEUE = "reporting.events"
METRICS = ("kpis_first_ms", "kpis_warm_ms", "kpis_team_ms", "series_8q_ms", "followups_ms", "report_html_ms", "rss_mb")
# Targets at 10x (the issue): both shapes; for history also every ratio <= 1.5.
TARGETS = {
    "kpis_warm_ms": 50.0,
    "kpis_first_ms": 200.0,
    "series_8q_ms": 100.0,
    "report_html_ms": 1000.0,
    "rss_mb": 300.0,
}
HISTORY_RATIO = 1.5


class BenchError(RuntimeError):
    pass


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the event streams


def fy_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def history_years(count: int) -> list[str]:
    """`count` consecutive financial years ending with LAST_YEAR, oldest first."""
    last = int(LAST_YEAR[:4])
    return [fy_label(y) for y in range(last - count + 1, last + 1)]


def items_of(events: Sequence[Any]) -> list[Item]:
    return [(e.routing_key(), e.to_json(), e.id) for e in events]


def _rewrite_ids(body: bytes, year: str, numbered: re.Pattern[str]) -> tuple[bytes, str, bool]:
    """The event with its id and every generator-numbered id in its data prefixed with the
    year (children's references kept). Returns (body, new id, dated in LAST_YEAR or later)."""
    event = json.loads(body)
    prefix = f"fy{year}-"

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return prefix + value if numbered.match(value) else value
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    event["id"] = prefix + event["id"]
    event["data"] = walk(event["data"])
    last_start = f"{LAST_YEAR[:4]}-04-01"
    late = any(k.endswith("_at") and isinstance(v, str) and v >= last_start for k, v in event["data"].items())
    return json.dumps(event, separators=(",", ":")).encode(), event["id"], late


@dataclass
class Feed:
    label: str
    items: list[Item]
    notes: dict[str, Any] = field(default_factory=dict)


def team_counts(items: Sequence[Item]) -> Counter[str]:
    teams: Counter[str] = Counter()
    for _, body, _ in items:
        team = json.loads(body)["data"].get("team")
        if team:
            teams[team] += 1
    return teams


def build_feeds(shape: str, scale: int, per_year: int, seed: int, tenant: str) -> tuple[Feed, Feed]:
    from services.simulation.stream import contract_stream

    base_items = items_of(contract_stream(per_year, seed=seed, year=LAST_YEAR, tenant=tenant))
    base = Feed(f"{shape} 1x", base_items, {"years": [LAST_YEAR]})
    if shape == "size":
        big = items_of(contract_stream(per_year * scale, seed=seed, year=LAST_YEAR, tenant=tenant))
        scaled = Feed(f"size {scale}x", big, {"years": [LAST_YEAR]})
    else:
        years = history_years(scale)
        numbered = re.compile(rf"^(?!child-)[a-z][a-z-]*-{seed}-\d+$")
        scaled_items: list[Item] = []
        late = 0
        for year in years[:-1]:
            for key, body, _ in items_of(contract_stream(per_year, seed=seed, year=year, tenant=tenant)):
                new_body, new_id, dated_late = _rewrite_ids(body, year, numbered)
                scaled_items.append((key, new_body, new_id))
                late += dated_late
        scaled_items.extend(base_items)  # the last year: the very same messages as the 1x run
        scaled = Feed(
            f"history {scale}x",
            scaled_items,
            {"years": years, "earlier_year_events_dated_in_last_year": late},
        )
        ids = [i for _, _, i in scaled_items]
        if len(set(ids)) != len(ids):
            raise BenchError("event ids collide across the history years")
        if scaled_items[-len(base_items) :] != base_items:
            raise BenchError("the last year of the history stream differs from the 1x stream")
    for feed in (base, scaled):
        feed.notes["events"] = len(feed.items)
        feed.notes["teams"] = len(team_counts(feed.items))
    return base, scaled


# --------------------------------------------------------------------------- isolation


@dataclass
class Environment:
    amqp_base: str
    admin_url: str
    management_url: str
    name: str
    keep: bool = False
    amqp_url: str = ""
    database_url: str = ""
    created: list[str] = field(default_factory=list)


def new_environment(keep: bool) -> Environment:
    amqp_base = os.environ.get("QALOOP_AMQP_URL", "amqp://guest:guest@localhost:5672/")
    database = os.environ.get("QALOOP_DATABASE_URL", "postgresql://postgres@localhost:5432/qaloop")
    admin_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(database)._replace(path="/postgres"))
    management_url = os.environ.get("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@localhost:15672")
    name = "qaloop_bench_hist_" + uuid.uuid4().hex[:10]
    return Environment(amqp_base, admin_url, management_url, name, keep)


async def setup(env: Environment) -> None:
    from tests.support import servers as srv

    env.amqp_url = await asyncio.to_thread(srv.create_vhost, env.amqp_base, env.management_url, env.name)
    env.created.append("vhost")
    env.database_url = await srv.create_database(env.admin_url, env.name)
    env.created.append("database")


async def teardown(env: Environment) -> None:
    from tests.support import servers as srv

    for what in env.created:
        try:
            if what == "vhost":
                await asyncio.to_thread(srv.delete_vhost, env.management_url, env.name)
            elif env.keep:
                progress(f"kept database {env.name} ({env.database_url})")
            else:
                await srv.drop_database(env.admin_url, env.name)
        except Exception as exc:
            progress(f"cleanup: could not remove {what} {env.name}: {exc}")
    env.created.clear()


# --------------------------------------------------------------------------- the service


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [root]
    while todo and len(out) < 1000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_mb(root: int) -> float:
    total_kb = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


class Service:
    """`qaloop run reporting` in a subprocess of its own, on 127.0.0.1:`port`."""

    def __init__(self, env: Environment, port: int, tenant: str, log_path: Path) -> None:
        # `qaloop run reporting` of the checkout this file is in (ROOT first on the path, ahead
        # of whatever checkout the venv's editable install points at).
        self.command = [sys.executable, "-m", "services.cli", "run", "reporting", "--port", str(port)]
        self.env = {
            **os.environ,
            "QALOOP_AMQP_URL": env.amqp_url,
            "QALOOP_DATABASE_URL": env.database_url,
            "QALOOP_RABBITMQ_MANAGEMENT_URL": env.management_url,
            "QALOOP_TENANT": tenant,
            "QALOOP_ENV": "development",
            "QALOOP_HOST": "127.0.0.1",
            "QALOOP_REPORTING_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_rss = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C in the terminal is ours to handle
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise BenchError(f"the reporting service exited with {self.process.returncode}; {self.log_tail()}")

    def rss(self) -> float:
        value = rss_mb(self.pid)
        self.peak_rss = max(self.peak_rss, value)
        return value

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
            return "its log ends:\n    " + "\n    ".join(tail)
        return "no log"

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                progress("the reporting service did not stop within 30s; killing it")
        # Its process group is ours (start_new_session): nothing of it is left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


# --------------------------------------------------------------------------- HTTP


class Api:
    def __init__(self, port: int, token: str, timeout: float) -> None:
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, *, accept: str = "application/json") -> tuple[float, httpx.Response]:
        """(milliseconds, response): the whole exchange, body read."""
        started = time.perf_counter()
        response = await self.client.get(path, headers={"Accept": accept})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return elapsed, response

    async def status(self) -> dict[str, Any]:
        return dict((await self.get("/v1/projections/status"))[1].json())


async def wait_ready(service: Service, api: Api, amqp_url: str, deadline_s: float) -> None:
    """Ready: /readyz answers 200 and `reporting.events` has a consumer (so nothing published
    from now on is unroutable)."""
    deadline = time.monotonic() + deadline_s
    connection = await connect(amqp_url)
    try:
        while True:
            service.check_alive()
            ready = False
            with contextlib.suppress(httpx.HTTPError):
                ready = (await api.client.get("/readyz")).status_code == 200
            consumers = 0
            if ready:
                with contextlib.suppress(Exception):
                    channel = await connection.channel()
                    try:
                        queue = await channel.declare_queue(REPORTING_QUEUE, passive=True)
                        consumers = queue.declaration_result.consumer_count or 0
                    finally:
                        with contextlib.suppress(Exception):
                            await channel.close()
            if ready and consumers > 0:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the reporting service was not ready within {deadline_s:.0f}s "
                    f"(readyz {'ok' if ready else 'not ok'}, {consumers} consumers); {service.log_tail()}"
                )
            await asyncio.sleep(0.5)
    finally:
        await connection.close()


# --------------------------------------------------------------------------- intake


async def publish_all(amqp_url: str, items: Sequence[Item], window: int) -> float:
    """Publish every item (persistent, mandatory, confirmed); returns the seconds it took."""
    connection = await connect(amqp_url)
    try:
        publisher = Publisher(connection)
        started = time.monotonic()
        for start in range(0, len(items), window):
            batch = [OutgoingMessage(routing_key=k, body=b, message_id=i) for k, b, i in items[start : start + window]]
            confirmed = await publisher.publish_many(batch)
            if confirmed != len(batch):
                raise BenchError(f"only {confirmed} of {len(batch)} messages were confirmed")
        took = time.monotonic() - started
        await publisher.close()
        return took
    finally:
        await connection.close()


async def intake(
    label: str,
    service: Service,
    api: Api,
    amqp_url: str,
    items: Sequence[Item],
    *,
    window: int,
    deadline_s: float,
    stall_s: float,
) -> dict[str, Any]:
    n = len(items)
    before = int((await api.status()).get("events_applied") or 0)
    if before:
        raise BenchError(f"{label}: the fresh database already holds {before} events")
    started = time.monotonic()
    publishing = asyncio.create_task(publish_all(amqp_url, items, window))
    deadline = started + deadline_s
    last_applied, last_change, last_print = -1, started, 0.0
    publish_s: float | None = None
    try:
        while True:
            await asyncio.sleep(1.0)
            service.check_alive()
            if publishing.done():
                publish_s = publishing.result()  # raises the publisher's error, if any
            status = await api.status()
            applied = int(status.get("events_applied") or 0)
            now = time.monotonic()
            service.rss()
            if applied != last_applied:
                last_applied, last_change = applied, now
            if applied >= n:
                break
            if status.get("dead_letters"):
                raise BenchError(f"{label}: {status['dead_letters']} events were dead-lettered ({applied:,} applied)")
            if now - last_print >= 5:
                last_print = now
                progress(
                    f"{label}: {applied:,}/{n:,} applied ({applied / (now - started):,.0f}/s), "
                    f"queue {status.get('queue_depth')}{'' if publishing.done() else ', publishing'}"
                )
            if now - last_change > stall_s:
                raise BenchError(
                    f"{label}: only {applied:,} of {n:,} events applied and nothing moved for "
                    f"{stall_s:.0f}s (queue {status.get('queue_depth')}); {service.log_tail()}"
                )
            if now > deadline:
                raise BenchError(f"{label}: only {applied:,} of {n:,} events applied after {deadline_s:.0f}s")
    except BaseException:
        if not publishing.done():
            publishing.cancel()
            with contextlib.suppress(BaseException):
                await publishing
        raise
    seconds = time.monotonic() - started
    if applied != n:
        raise BenchError(f"{label}: {applied:,} events applied but {n:,} were sent")
    if publish_s is None:
        publish_s = await publishing
    return {"intake_s": round(seconds, 2), "intake_eps": round(n / seconds, 1), "publish_s": round(publish_s, 2)}


async def settle_followups(api: Api, *, quiet_s: float, deadline_s: float) -> float:
    """Wait until the learning loop's follow-up count (the status's `followups` projection)
    has not changed for `quiet_s` seconds, at most `deadline_s`. Returns the seconds waited."""
    started = time.monotonic()
    last, last_change = None, started
    while True:
        status = await api.status()
        counts = {p.get("name"): p.get("events_applied") for p in status.get("projections", [])}
        if "followups" not in counts:  # a status without it: just give the loop the quiet time
            await asyncio.sleep(quiet_s)
            return time.monotonic() - started
        now = time.monotonic()
        if counts["followups"] != last:
            last, last_change = counts["followups"], now
        if now - last_change >= quiet_s or now - started >= deadline_s:
            return now - started
        await asyncio.sleep(1.0)


# --------------------------------------------------------------------------- queries


async def repeated(
    api: Api, path: str, *, repeats: int, budget_s: float, accept: str = "application/json", check: Any = None
) -> dict[str, Any]:
    """Up to `repeats` timed GETs (at least one; no new one once `budget_s` is spent)."""
    times: list[float] = []
    started = time.monotonic()
    size = 0
    while len(times) < repeats and (not times or time.monotonic() - started < budget_s):
        ms, response = await api.get(path, accept=accept)
        times.append(ms)
        size = len(response.content)
        if check is not None and len(times) == 1:
            check(response)
    return {"median_ms": statistics.median(times), "first_ms": times[0], "n": len(times), "bytes": size}


def _check_values(response: httpx.Response) -> None:
    values = response.json().get("values")
    if not values:
        raise BenchError(f"GET {response.request.url}: no KPI values")


def _check_series(response: httpx.Response) -> None:
    body = response.json()
    points = body.get("series") if isinstance(body, dict) else body
    if not isinstance(points, list) or len(points) != 8:
        raise BenchError(f"GET {response.request.url}: expected 8 quarters, got {str(points)[:200]}")


def _check_html(response: httpx.Response) -> None:
    if "html" not in response.headers.get("content-type", "") or len(response.content) < 1000:
        raise BenchError(f"GET {response.request.url}: not an HTML report ({response.headers.get('content-type')})")


def make_token(tenant: str) -> str:
    """An HS256 token as `qaloop token --role reporting:read --role reporting:detail` mints it."""
    from shared.auth import issue_token
    from shared.settings import Settings

    settings = Settings(_env_file=ROOT / ".env")
    return issue_token(
        settings, ["reporting:read", "reporting:detail"], subject="bench", tenant=tenant, ttl_seconds=4 * 3600
    )


async def measure(label: str, service: Service, api: Api, team: str, args: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = {}
    kpis_path = f"/v1/kpis/values?period={QUARTER}"
    ms, response = await api.get(kpis_path)
    _check_values(response)
    r["kpis_first_ms"] = ms
    progress(f"{label}: first KPI values {ms:,.1f} ms; waiting for the follow-ups to settle")
    r["settle_s"] = round(await settle_followups(api, quiet_s=args.settle_quiet, deadline_s=args.settle_timeout), 1)
    budget, n = args.query_budget, args.repeats
    warm = await repeated(api, kpis_path, repeats=n, budget_s=budget)
    r["kpis_warm_ms"] = warm["median_ms"]
    team_q = urllib.parse.urlencode({"period": LAST_YEAR, "team": team})
    r["kpis_team_ms"] = (
        await repeated(api, f"/v1/kpis/values?{team_q}", repeats=n, budget_s=budget, check=_check_values)
    )["median_ms"]
    series_q = urllib.parse.urlencode({"from": SERIES_FROM, "to": SERIES_TO})
    r["series_8q_ms"] = (
        await repeated(api, f"/v1/kpis/{SERIES_KPI}/series?{series_q}", repeats=n, budget_s=budget, check=_check_series)
    )["median_ms"]
    followups = await repeated(api, "/v1/followups", repeats=n, budget_s=budget)
    r["followups_ms"] = followups["median_ms"]
    r["followups_bytes"] = followups["bytes"]
    progress(
        f"{label}: KPIs warm {r['kpis_warm_ms']:,.1f} ms, team {r['kpis_team_ms']:,.1f}, "
        f"series {r['series_8q_ms']:,.1f}, follow-ups {r['followups_ms']:,.1f}; the quarterly report next"
    )
    report = await repeated(
        api,
        f"/v1/reports/quarterly?period={QUARTER}",
        repeats=args.report_repeats,
        budget_s=budget,
        accept="text/html",
        check=_check_html,
    )
    r["report_html_ms"] = report["median_ms"]
    r["report_html_first_ms"] = report["first_ms"]
    r["report_html_n"] = report["n"]
    service.check_alive()
    r["rss_mb"] = service.rss()
    r["rss_peak_mb"] = service.peak_rss
    return r


# --------------------------------------------------------------------------- one run, one shape


async def run_once(feed: Feed, team: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    env = new_environment(args.keep)
    service: Service | None = None
    api: Api | None = None
    succeeded = False
    try:
        await setup(env)
        port = args.port or free_port()
        log_path = log_dir / f"{env.name}.log"
        progress(
            f"{feed.label}: {len(feed.items):,} events; vhost and database {env.name}; "
            f"reporting on 127.0.0.1:{port} (log {log_path})"
        )
        service = Service(env, port, args.tenant, log_path)
        service.start()
        api = Api(port, make_token(args.tenant), args.request_timeout)
        await wait_ready(service, api, env.amqp_url, args.start_timeout)
        n = len(feed.items)
        deadline = args.intake_timeout or 300 + n / 200
        result = await intake(
            feed.label,
            service,
            api,
            env.amqp_url,
            feed.items,
            window=args.window,
            deadline_s=deadline,
            stall_s=args.stall_timeout,
        )
        progress(f"{feed.label}: {n:,} events applied in {result['intake_s']:.1f}s ({result['intake_eps']:,.0f}/s)")
        result.update(await measure(feed.label, service, api, team, args))
        result.update(feed.notes)
        progress(f"{feed.label}: report {result['report_html_ms']:,.0f} ms, RSS {result['rss_mb']:,.0f} MB")
        succeeded = True
        return result
    finally:
        if api is not None:
            await api.close()
        if service is not None:
            await asyncio.to_thread(service.stop)
            if succeeded and not args.keep:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(service.log_path.unlink)
            else:
                progress(f"{feed.label}: the service's log is kept in {service.log_path}")
        await teardown(env)


def round_metrics(r: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}


async def run_shape(shape: str, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_start = os.getloadavg()
    progress(f"{shape}: generating the streams (1x and {args.scale}x)")
    base_feed, scaled_feed = await asyncio.to_thread(
        build_feeds, shape, args.scale, args.events_per_year, args.seed, args.tenant
    )
    team = team_counts(base_feed.items).most_common(1)[0][0]
    base = await run_once(base_feed, team, args, log_dir)
    scaled = await run_once(scaled_feed, team, args, log_dir)
    ratio = {m: round(scaled[m] / base[m], 2) if base[m] else None for m in METRICS}
    targets: dict[str, Any] = {
        m: {"limit": limit, "value": round(scaled[m], 2), "ok": scaled[m] <= limit} for m, limit in TARGETS.items()
    }
    if shape == "history":
        for m in METRICS:
            value = ratio[m]
            targets[f"{m}_ratio"] = {
                "limit": HISTORY_RATIO,
                "value": value,
                "ok": value is not None and value <= HISTORY_RATIO,
            }
    return {
        "shape": shape,
        "scale": args.scale,
        "events_per_year": args.events_per_year,
        "tenant": args.tenant,
        "team": team,
        "base": round_metrics(base),
        "scaled": round_metrics(scaled),
        "ratio": ratio,
        "targets": targets,
        "targets_met": all(t["ok"] for t in targets.values()),
        "cpus": os.cpu_count(),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }


def table(result: dict[str, Any]) -> str:
    s = result["scale"]
    lines = [
        f"{result['shape']}: 1x {result['base']['events']:,} events, {s}x {result['scaled']['events']:,} events; "
        f"team {result['team']}; load {result['load_start'][0]:.1f} -> {result['load_end'][0]:.1f} "
        f"on {result['cpus']} CPUs",
        f"  {'metric':<16}{'1x':>12}{f'{s}x':>12}{'ratio':>8}  target at {s}x",
    ]
    for m in METRICS:
        t = result["targets"].get(m)
        rt = result["targets"].get(f"{m}_ratio")
        goal = []
        if t:
            goal.append(f"<= {t['limit']:g} {'ok' if t['ok'] else 'MISSED'}")
        if rt:
            goal.append(f"ratio <= {rt['limit']:g} {'ok' if rt['ok'] else 'MISSED'}")
        ratio = result["ratio"][m]
        lines.append(
            f"  {m:<16}{result['base'][m]:>12,.1f}{result['scaled'][m]:>12,.1f}"
            f"{'-' if ratio is None else f'{ratio:.2f}':>8}  {'; '.join(goal)}"
        )
    for key in ("intake_eps", "settle_s", "rss_peak_mb"):
        lines.append(f"  {key:<16}{result['base'][key]:>12,.1f}{result['scaled'][key]:>12,.1f}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    shapes = ("history", "size") if args.shape == "both" else (args.shape,)
    log_dir = Path(tempfile.mkdtemp(prefix="qaloop_history_scaling_"))
    all_met = True
    for shape in shapes:
        result = await run_shape(shape, args, log_dir)
        print(table(result), file=sys.stderr, flush=True)
        print(json.dumps(result), flush=True)
        all_met = all_met and result["targets_met"]
    with contextlib.suppress(OSError):
        await asyncio.to_thread(log_dir.rmdir)  # empty unless --keep
    return 0 if all_met or not args.strict else 3


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--shape", choices=("history", "size", "both"), default="both")
    p.add_argument("--scale", type=int, default=10, help="how many times the 1x run (default 10)")
    p.add_argument("--events-per-year", type=int, default=24_000, help="events in one county year (default 24000)")
    p.add_argument("--port", type=int, default=0, help="the reporting service's port (default: a free one)")
    p.add_argument("--keep", action="store_true", help="keep the databases (and the service logs)")
    p.add_argument("--tenant", default="E10000034")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats of each warm query (default 5)")
    p.add_argument("--report-repeats", type=int, default=3, help="timed quarterly reports at most (default 3)")
    p.add_argument(
        "--query-budget",
        type=float,
        default=20.0,
        help="no further repeat of a query once this many seconds went on it (default 20)",
    )
    p.add_argument("--window", type=int, default=1000, help="messages per confirmed publish window (default 1000)")
    p.add_argument("--start-timeout", type=float, default=90.0, help="seconds for the service to get ready")
    p.add_argument(
        "--intake-timeout",
        type=float,
        default=None,
        help="seconds for the intake of one run (default 300 + events / 200)",
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=180.0,
        help="fail when events_applied does not move for this many seconds (default 180)",
    )
    p.add_argument("--request-timeout", type=float, default=900.0, help="seconds one HTTP request may take")
    p.add_argument(
        "--settle-quiet",
        type=float,
        default=20.0,
        help="the follow-ups have settled when their count is unchanged this long (default 20 s)",
    )
    p.add_argument("--settle-timeout", type=float, default=240.0, help="wait at most this long for them")
    p.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    args = p.parse_args(argv)
    if args.scale < 2 or args.events_per_year < 100 or args.repeats < 1 or args.report_repeats < 1:
        p.error("--scale must be at least 2, --events-per-year at least 100, repeats at least 1")
    if args.shape in ("history", "both") and args.scale > 30:
        p.error("--scale above 30 would take the history before 1993")
    return args


async def _interruptible(job: Any) -> Any:
    """Run `job`, cancelling it on SIGTERM or SIGINT so that its `finally` blocks stop the
    service and remove the vhost and the database."""
    task = asyncio.ensure_future(job)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return int(asyncio.run(_interruptible(run(args))))
    except BenchError as exc:
        progress(f"FAILED: {exc}")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; the service was stopped and the vhost and database removed")
        return 130


if __name__ == "__main__":
    sys.exit(main())
