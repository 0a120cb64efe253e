"""`qaloop demo`: the main job for a newcomer.

Checks RabbitMQ and PostgreSQL (and says how to start them), applies migrations, starts
every service as its own process, simulates a year — the case-management feed on the bus
and staff's work through the strand APIs (`services.simulation`) — waits until reporting
has applied it, prints a KPI summary per quarter and the dashboard URL, and stays up until
Ctrl-C. `--raw` feeds a ready-made stream of contract events straight onto the bus instead
(faster; the strand services then hold nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.installed import service_ports
from services.simulation.authority import AUTHORITY_NAME
from services.simulation.command import AlreadySimulated, describe, plan_for, print_summary, service_url, simulate
from services.simulation.loop import Loop, LoopClients, LoopSummary
from services.simulation.plan import Plan
from services.simulation.runner import HOW_TO_START, STRANDS, ServicesUnavailable
from services.simulation.stream import contract_stream
from services.simulation.targets import write_targets
from services.simulation.year import DEFAULT_SCALE
from shared.auth import issue_token
from shared.bus import OutgoingMessage, Publisher, amqp_urls, connect, declare_topology
from shared.calendar import london_date, parse_period
from shared.settings import Settings, get_settings

console = Console()

# (label, KPI id, service area filter)
SUMMARY_KPIS: tuple[tuple[str, str, str | None], ...] = (
    ("audits completed", "audit.completed", None),
    ("audits good or better", "audit.good_or_better_rate", None),
    ("audits requiring improvement", "audit.requires_improvement_rate", None),
    ("survey responses", "feedback.responses", None),
    ("SEND: easy to contact case worker", "feedback.positive_rate.easy_to_contact_case_worker", "send"),
    ("compliments (external)", "compliments.external", None),
    ("complaints received", "complaints.received", None),
    ("complaints upheld", "complaints.upheld_rate", None),
    ("complaints within timescale", "complaints.within_timescale_rate", None),
    ("complaints escalated", "complaints.escalation_rate", None),
    ("stage-2 requests after the window", "complaints.late_escalations", None),
    ("review panels within 30 days", "complaints.panel_within_timescale_rate", None),
    ("referred to the Ombudsman", "complaints.ombudsman_referrals", None),
    ("Ombudsman decisions finding fault", "complaints.ombudsman_fault_rate", None),
    ("assessments within 45 days", "casework.assessment_within_45_days_rate", None),
    ("re-referrals", "casework.re_referral_rate", None),
    ("EHC plans within 20 weeks", "send.ehcp_within_20_weeks_rate", None),
    ("EHC plans within 20 weeks (exceptions included)", "send.ehcp_within_20_weeks_incl_exceptions_rate", None),
    ("audits completed on schedule", "audit.completed_on_time_rate", None),
    ("EHCP audits following the procedure", "audit.ehcp_procedure_compliance_rate", None),
    ("concerns whose measures worked", "audit.concern_measures_effective_rate", None),
    ("SEND: case worker reached", "casework.contact_success_rate", "send"),
    ("follow-ups overdue (end of quarter)", "learning.followups_overdue", None),
    ("actions completed on time", "learning.actions_completed_on_time_rate", None),
    ("social worker stability", "workforce.stability_rate", None),
    ("social worker turnover", "workforce.turnover_rate", None),
    ("agency social workers (FTE)", "workforce.agency_rate", None),
    ("average caseload (cases per FTE)", "workforce.average_caseload", None),
)


async def _check_servers(settings: Settings) -> list[str]:
    problems = []
    try:
        connection = await asyncio.wait_for(connect(settings.amqp_url), 10)
        await connection.close()
    except Exception as exc:
        nodes = ", ".join(u.split("@")[-1] for u in amqp_urls(settings.amqp_url))
        problems.append(
            f"RabbitMQ is not reachable at {nodes} ({exc}).\n"
            "  Start it with: rabbitmq-server -detached   (or: docker compose up -d rabbitmq)"
        )
    try:
        from shared.db import ensure_database

        await asyncio.wait_for(ensure_database(settings.database_url), 10)
    except Exception as exc:
        problems.append(
            f"PostgreSQL is not reachable at {settings.database_url.split('@')[-1]} ({exc}).\n"
            "  Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
            "   (or: docker compose up -d postgres)"
        )
    return problems


def _ports_in_use(settings: Settings) -> list[str]:
    """Ports something already listens on: the demo would talk to it instead of its own services."""
    problems = []
    for name, port in service_ports(settings).items():
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                problems.append(
                    f"Port {port} ({name}) is already in use — is another qaloop running? Stop it, "
                    f"or give the demo other ports (QALOOP_{name.upper()}_PORT=…)."
                )
    return problems


async def _feed(settings: Settings, year: str, seed: int, events: int) -> int:
    """The `--raw` path: a ready-made stream of contract events straight onto the bus."""
    stream = contract_stream(events, seed=seed, year=year, tenant=settings.tenant)
    connection = await connect(settings.amqp_url)
    try:
        async with connection.channel() as channel:
            await declare_topology(channel, delivery_limit=settings.delivery_limit)
        publisher = Publisher(connection)
        for start in range(0, len(stream), 500):
            chunk = stream[start : start + 500]
            await publisher.publish_many([OutgoingMessage(e.routing_key(), e.to_json(), e.id) for e in chunk])
            console.print(f"  fed {min(start + 500, len(stream)):>6} / {len(stream)} events", end="\r")
        console.print()
        await publisher.close()
    finally:
        await connection.close()
    return len(stream)


def _wait_ready(ports: dict[str, int], services: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for name, port in ports.items():
        while True:
            if services.poll() is not None:
                raise RuntimeError(f"the services stopped (exit code {services.returncode}); see their log above")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    console.print(f"  {name} is ready on port {port}")
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready on port {port} within {timeout:.0f} s")
            time.sleep(0.3)


def _status(settings: Settings, token: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{service_url(settings, 'reporting')}/v1/projections/status",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    reply.raise_for_status()
    status: dict[str, Any] = reply.json()
    return status


def _wait_for_reporting(settings: Settings, token: str, baseline: int, expected: int, timeout: float = 300) -> None:
    """Until reporting has applied `expected` events (counted from `baseline`) and its queue is empty."""
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]reporting applies the events"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=max(expected - baseline, 1))
        while True:
            status = _status(settings, token)
            applied = int(status["events_applied"])
            progress.update(task, completed=min(max(applied - baseline, 0), expected - baseline))
            if applied >= expected and status.get("queue_depth") in (0, None):
                return
            if time.monotonic() > deadline:
                console.print("[yellow]reporting is still catching up; showing what it has[/yellow]")
                return
            time.sleep(0.5)


RAG_STYLE = {"red": "bold red", "amber": "bold yellow", "green": "bold green"}


def summary_cell(kpi: str, v: dict[str, Any] | None) -> str:
    """A summary cell: the value, coloured by its RAG where the KPI has a target."""
    value = None if v is None else v["value"]
    if value is None:
        return "—"
    if kpi.split(".")[-1].endswith("_rate") or ".positive_rate." in kpi:
        text = f"{value:.0%}"
    elif kpi == "workforce.average_caseload":
        text = f"{value:.1f}"
    else:
        text = f"{value:g}"
    rag = v.get("rag") if v else None
    return f"[{RAG_STYLE[rag]}]{text} {rag[0].upper()}[/]" if rag in RAG_STYLE else text


def _summary(settings: Settings, year: str, token: str) -> Table:
    period = parse_period(f"{year}-Q1")
    labels = []
    for _ in range(4):
        labels.append(period.label)
        period = period.next()
    table = Table(title=f"KPI summary {year} (tenant {settings.tenant})")
    table.add_column("KPI")
    for label in labels:
        table.add_column(label[-2:], justify="right")
    values: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for label in labels:
        for area in {a for _, _, a in SUMMARY_KPIS}:
            reply = httpx.get(
                f"{service_url(settings, 'reporting')}/v1/kpis/values",
                params={"period": label, **({"service_area": area} if area else {})},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            reply.raise_for_status()
            for v in reply.json()["values"]:
                values[(label, area, v["kpi"])] = v
    rags: dict[str, int] = {"red": 0, "amber": 0, "green": 0}
    for title, kpi, area in SUMMARY_KPIS:
        cells = [summary_cell(kpi, values.get((label, area, kpi))) for label in labels]
        for label in labels:
            rag = (values.get((label, area, kpi)) or {}).get("rag")
            if rag in rags:
                rags[rag] += 1
        table.add_row(title, *cells)
    table.caption = (
        f"RAG against the demo's targets (services/simulation/targets.py): {rags['red']} red (R), "
        f"{rags['amber']} amber (A), {rags['green']} green (G)"
    )
    return table


def _followup_states(settings: Settings, token: str) -> str:
    """The follow-ups as reporting's clock sees them: closed (on time, late), open, overdue."""
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    as_of = ""
    while offset is not None:
        reply = httpx.get(
            f"{service_url(settings, 'reporting')}/v1/followups",
            params={"limit": 5000, "offset": offset},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        reply.raise_for_status()
        body = reply.json()
        items += body["followups"]
        offset, as_of = body["next_offset"], body["as_of"]
    states = {s: sum(1 for f in items if f["status"] == s) for s in ("closed", "open", "overdue")}
    on_time = sum(1 for f in items if f["status"] == "closed" and f["on_time"])
    return (
        f"Follow-ups as at {as_of}: {len(items)} opened; {states['closed']} closed "
        f"({on_time} on time, {states['closed'] - on_time} late); "
        f"{states['open'] + states['overdue']} still open, {states['overdue']} of them overdue."
    )


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _servers_ok(settings: Settings) -> bool:
    """RabbitMQ and PostgreSQL are reachable and the services' ports are free; else says why."""
    problems = asyncio.run(_check_servers(settings)) + _ports_in_use(settings)
    for p in problems:
        console.print(f"[red]✗[/red] {p}")
    return not problems


def demo_clock(year: str) -> date:
    """The day the demo stands at: the simulated year's last day (today, while that year is
    still running), so that follow-ups are open or overdue as they were then, not by years."""
    return min(parse_period(year).end, london_date(datetime.now(UTC)))


def demo_environment(as_of: date, workdir: Path) -> dict[str, str]:
    """What the demo's services are configured with beyond the caller's environment: the
    clock at the simulated year's end (QALOOP_AS_OF), the simulated authority's name and the
    demo's targets, each unless the caller set it."""
    env = {
        # the services log warnings and errors only, unless QALOOP_LOG_LEVEL says otherwise;
        # they run in development mode, so they start with the development secrets (loopback only)
        "QALOOP_LOG_LEVEL": os.environ.get("QALOOP_LOG_LEVEL", "WARNING"),
        "QALOOP_ENV": "development",
        "QALOOP_AS_OF": os.environ.get("QALOOP_AS_OF", as_of.isoformat()),
        "QALOOP_AUTHORITY_NAME": os.environ.get("QALOOP_AUTHORITY_NAME", AUTHORITY_NAME),
    }
    if not os.environ.get("QALOOP_TARGETS_FILE"):
        env["QALOOP_TARGETS_FILE"] = str(write_targets(workdir / "demo-targets.json"))
    return env


def _start_services(extra: dict[str, str]) -> subprocess.Popen[bytes]:
    console.print("starting every service as its own process…")
    console.print(
        f"  as at {extra.get('QALOOP_AS_OF', os.environ.get('QALOOP_AS_OF'))} (QALOOP_AS_OF), "
        f"for {extra.get('QALOOP_AUTHORITY_NAME', os.environ.get('QALOOP_AUTHORITY_NAME'))}"
    )
    env = {**os.environ, **extra}
    return subprocess.Popen([sys.executable, "-m", "services.cli", "run", "all"], env=env)


def _stop_services(services: subprocess.Popen[bytes]) -> None:
    console.print("stopping every service…")
    if services.poll() is None:
        services.send_signal(signal.SIGTERM)
        try:
            services.wait(30)
        except subprocess.TimeoutExpired:
            services.kill()
    console.print("stopped.")


def _send_year(
    settings: Settings, plan: Plan | None, baseline: int, *, year: str, seed: int, events: int, rate: float | None
) -> tuple[int | None, bool]:
    """Feed the year: the simulator through the strand APIs, or (no plan) the raw stream onto
    the bus. How many events reporting has applied once it has applied them all (None when
    the services cannot take the simulation: said why), and whether the simulator sent it
    now (False: raw, or already sent earlier)."""
    if plan is None:
        console.print(f"feeding a raw stream of {events} contract events for {year} (seed {seed})…")
        return baseline + asyncio.run(_feed(settings, year, seed, events)), False
    console.print(f"simulating {describe(plan)}…")
    try:
        summary = asyncio.run(simulate(settings, plan, rate=rate, console=console))
    except AlreadySimulated as exc:
        console.print(f"[yellow]![/yellow] {exc} Showing the figures already there.")
        return baseline, False
    except ServicesUnavailable as exc:
        for problem in exc.problems:
            console.print(f"[red]✗[/red] {problem}")
        console.print(f"  {HOW_TO_START}")
        return None, False
    print_summary(console, summary)
    return baseline + summary.events_for_reporting, True


async def _answer_loop(settings: Settings, plan: Plan, applied: int, as_of: date, rate: float | None) -> LoopSummary:
    """Simulated staff answer the follow-ups reporting has opened (`simulation.loop`)."""
    clients = {
        name: httpx.AsyncClient(base_url=service_url(settings, name), timeout=httpx.Timeout(60, connect=5))
        for name in (*STRANDS, "reporting")
    }
    try:
        strands = {name: clients[name] for name in STRANDS}
        loop = Loop(settings, plan, LoopClients(clients["reporting"], strands), today=as_of, rate=rate)
        return await loop.run(applied)
    finally:
        for client in clients.values():
            await client.aclose()


def _print_loop(summary: LoopSummary) -> None:
    table = Table(title="What staff did about the open follow-ups")
    table.add_column("follow-up")
    for outcome in ("on time", "late", "not yet"):
        table.add_column(outcome, justify="right")
    for rule in sorted({r for r, _ in summary.answers}):
        table.add_row(rule, *(str(summary.answers[(rule, o)]) for o in ("on time", "late", "not yet")))
    console.print(table)
    for error in summary.errors[:8]:
        console.print(f"  [red]✗[/red] {error}")


BENCHMARK_SAMPLE = Path(__file__).parent / "reporting" / "benchmarks" / "sample"


def _load_benchmarks(settings: Settings) -> None:
    """Load the illustrative comparator files (not real data) through the reporting API, so
    that the benchmarking view (`/benchmarking`) shows a table; a refusal is reported, not fatal."""
    token = issue_token(settings, ["reporting:admin"], subject="demo")
    for name in ("neighbours.csv", "figures.csv"):
        reply = httpx.post(
            f"{service_url(settings, 'reporting')}/v1/benchmarks/import",
            content=(BENCHMARK_SAMPLE / name).read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            timeout=60,
        )
        if reply.status_code != 200:
            console.print(f"[yellow]![/yellow] the sample comparator file {name} was refused: {reply.text[:300]}")
            return
    console.print("loaded the illustrative comparator files (sample data, not real figures) for benchmarking")


def _print_ready(settings: Settings, year: str, token: str, started: float) -> None:
    console.print(_summary(settings, year, token))
    console.print(_followup_states(settings, token))
    base = service_url(settings, "reporting")
    console.print(f"Dashboard:            [bold]{base}/[/bold]")
    console.print(f"Benchmarking:         {base}/benchmarking?period={year}   (illustrative comparators)")
    console.print(f"Development token:    {base}/dev-login   (reporting:detail; development secrets only)")
    console.print(f"Reporting API docs:   {base}/docs")
    console.print(f"A token for the API:  {token}")
    console.print(f"Ready in {_elapsed(started)}.")


def _stay_up(services: subprocess.Popen[bytes]) -> None:
    """Until Ctrl-C (or SIGTERM), or until the services stop."""
    console.print("Press Ctrl-C to stop every service.")
    stop = False

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop and services.poll() is None:
        time.sleep(0.3)


def run_demo(
    seed: int = 1,
    year: str = "2022-23",
    events: int = 8000,
    stay_up: bool = True,
    *,
    scale: float = DEFAULT_SCALE,
    rate: float | None = None,
    raw: bool = False,
) -> int:
    started = time.monotonic()
    settings = get_settings()
    console.rule("qaloop demo")
    if not _servers_ok(settings):
        return 2
    plan = None
    if not raw:
        try:
            plan = plan_for(year, seed, scale)
        except ValueError as exc:
            console.print(f"[red]✗[/red] {exc}")
            return 2
    console.print("migrating…")
    if subprocess.run([sys.executable, "-m", "services.cli", "migrate"]).returncode != 0:
        console.print("[red]✗[/red] migrations failed (see above)")
        return 1
    as_of = demo_clock(year)
    with tempfile.TemporaryDirectory(prefix="qaloop-demo-") as workdir:
        services = _start_services(demo_environment(as_of, Path(workdir)))
        return _run_services(
            settings, services, plan, started, as_of, year=year, seed=seed, events=events, rate=rate, stay_up=stay_up
        )


def _run_services(
    settings: Settings,
    services: subprocess.Popen[bytes],
    plan: Plan | None,
    started: float,
    as_of: date,
    *,
    year: str,
    seed: int,
    events: int,
    rate: float | None,
    stay_up: bool,
) -> int:
    try:
        try:
            _wait_ready(service_ports(settings), services)
        except RuntimeError as exc:
            console.print(f"[red]✗[/red] {exc}")
            return 1
        token = issue_token(settings, ["reporting:detail"], subject="demo")
        baseline = int(_status(settings, token)["events_applied"])
        expected, sent = _send_year(settings, plan, baseline, year=year, seed=seed, events=events, rate=rate)
        if expected is None:
            return 2
        _wait_for_reporting(settings, token, baseline, expected)
        _load_benchmarks(settings)
        if sent and plan is not None:
            console.print(f"staff answer the learning loop's open follow-ups, as at {as_of}…")
            _print_loop(asyncio.run(_answer_loop(settings, plan, expected, as_of, rate)))
        _print_ready(settings, year, token, started)
        if stay_up:
            _stay_up(services)
        return 0
    except KeyboardInterrupt:
        console.print("\ninterrupted")
        return 130
    finally:
        _stop_services(services)
