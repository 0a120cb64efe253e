"""`qaloop demo`: the main job for a newcomer.

Checks RabbitMQ and PostgreSQL (and says how to start them), applies migrations, starts
every service as its own process, feeds a simulated year of contract events onto the bus
as a case-management system and the strands would, waits until reporting has applied them,
prints a KPI summary per quarter and the URLs, and stays up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from services.simulation.stream import contract_stream
from shared.auth import issue_token
from shared.bus import OutgoingMessage, Publisher, connect, declare_topology
from shared.calendar import parse_period
from shared.settings import Settings, get_settings

console = Console()

SUMMARY_KPIS = (
    "audit.completed",
    "audit.good_or_better_rate",
    "feedback.responses",
    "compliments.external",
    "complaints.received",
    "complaints.upheld_rate",
    "complaints.within_timescale_rate",
    "casework.assessment_within_45_days_rate",
    "send.ehcp_within_20_weeks_rate",
    "learning.followups_overdue",
    "learning.actions_completed_on_time_rate",
)


async def _check_servers(settings: Settings) -> list[str]:
    problems = []
    try:
        connection = await asyncio.wait_for(connect(settings.amqp_url), 10)
        await connection.close()
    except Exception as exc:
        problems.append(
            f"RabbitMQ is not reachable at {settings.amqp_url.split('@')[-1]} ({exc}).\n"
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


async def _feed(settings: Settings, year: str, seed: int, events: int) -> int:
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


def _wait_ready(ports: dict[str, int], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for name, port in ports.items():
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    console.print(f"  {name} is ready on port {port}")
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready on port {port}")
            time.sleep(0.5)


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
    by_quarter: dict[str, dict[str, Any]] = {}
    for label in labels:
        r = httpx.get(
            f"http://127.0.0.1:{settings.reporting_port}/v1/kpis/values",
            params={"period": label},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        by_quarter[label] = {v["kpi"]: v for v in r.json()["values"]}
    for kpi in SUMMARY_KPIS:
        cells = []
        for label in labels:
            v = by_quarter[label].get(kpi)
            value = None if v is None else v["value"]
            if value is None:
                cells.append("—")
            elif kpi.endswith("_rate"):
                cells.append(f"{value:.0%}")
            else:
                cells.append(f"{value:g}")
        table.add_row(kpi, *cells)
    return table


def run_demo(seed: int = 1, year: str = "2022-23", events: int = 8000, stay_up: bool = True) -> int:
    settings = get_settings()
    console.rule("qaloop demo")
    problems = asyncio.run(_check_servers(settings))
    if problems:
        for p in problems:
            console.print(f"[red]✗[/red] {p}")
        return 2
    console.print("migrating…")
    subprocess.run([sys.executable, "-m", "services.cli", "migrate"], check=True)
    console.print("starting every service as its own process…")
    services = subprocess.Popen([sys.executable, "-m", "services.cli", "run", "all"])
    try:
        from services.cli import SERVICES, _has_service

        ports = {n: int(getattr(settings, f"{n}_port")) for n in SERVICES if _has_service(n)}
        _wait_ready(ports)
        console.print(f"feeding a simulated year {year} (seed {seed})…")
        sent = asyncio.run(_feed(settings, year, seed, events))
        token = issue_token(settings, ["reporting:detail"], subject="demo")
        deadline = time.monotonic() + 300
        while True:
            status = httpx.get(
                f"http://127.0.0.1:{settings.reporting_port}/v1/projections/status",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).json()
            console.print(f"  reporting applied {status['events_applied']} events", end="\r")
            if status["events_applied"] >= sent and status.get("queue_depth") in (0, None):
                break
            if time.monotonic() > deadline:
                console.print("[yellow]reporting is still catching up; showing what it has[/yellow]")
                break
            time.sleep(0.5)
        console.print()
        console.print(_summary(settings, year, token))
        base = f"http://127.0.0.1:{settings.reporting_port}"
        console.print(f"Reporting API and its docs: {base}/docs")
        console.print(f"A token for it (reporting:detail): {token}")
        if not stay_up:
            return 0
        console.print("Press Ctrl-C to stop every service.")
        stop = False

        def on_signal(*_: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop and services.poll() is None:
            time.sleep(0.3)
        return 0
    finally:
        if services.poll() is None:
            services.send_signal(signal.SIGTERM)
            try:
                services.wait(30)
            except subprocess.TimeoutExpired:
                services.kill()
        console.print("stopped.")
