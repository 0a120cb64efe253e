"""`qaloop simulate` (and the simulated year of `qaloop demo`): plan a year, check that the
services and the broker are there, send the plan with progress, print what was sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from rich.console import Console

from services.simulation.plan import Plan
from services.simulation.runner import STRANDS, BusSink, ServicesUnavailable, Simulator, Summary
from services.simulation.year import DEFAULT_SCALE, plan_year
from shared.calendar import london_date, parse_period
from shared.settings import Settings, get_settings


class AlreadySimulated(Exception):
    """This seed's year is already in these services (at least in part)."""


def service_url(settings: Settings, strand: str) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{getattr(settings, f'{strand}_port')}"


def plan_for(year: str, seed: int, scale: float, period: str | None = None) -> Plan:
    """The plan, cut at yesterday when the year is still running (no fact is in the future)."""
    yesterday = london_date(datetime.now(UTC)) - timedelta(days=1)
    return plan_year(year, seed, scale=scale, period=period, until=yesterday)


async def simulate(
    settings: Settings,
    plan: Plan,
    *,
    rate: float | None = None,
    concurrency: int = 16,
    console: Console | None = None,
    show_progress: bool = True,
) -> Summary:
    """Send `plan` to the services on this machine's ports and the configured broker.
    Raises ServicesUnavailable (what is missing, how to start it) or AlreadySimulated."""
    clients = {
        strand: httpx.AsyncClient(
            base_url=service_url(settings, strand),
            timeout=httpx.Timeout(60, connect=5),
            # shorter than the services' keep-alive (uvicorn: 5 s), so that a pooled
            # connection is never one the service is closing at that moment
            limits=httpx.Limits(max_connections=concurrency + 4, keepalive_expiry=1.0),
        )
        for strand in STRANDS
    }
    sink = BusSink(settings.amqp_url, delivery_limit=settings.delivery_limit)
    try:
        simulator = Simulator(
            plan,
            clients=clients,
            sink=sink,
            settings=settings,
            rate=rate,
            concurrency=concurrency,
            console=console,
            show_progress=show_progress,
        )
        await simulator.preflight()
        previous = await simulator.previous_run()
        if previous is not None:
            raise AlreadySimulated(
                f"Seed {plan.seed}'s year {plan.year} has already been sent to these services "
                f"({previous}). Sending it again would count its audits twice: use another --seed, "
                "or a fresh database."
            )
        return await simulator.run()
    finally:
        for client in clients.values():
            await client.aclose()
        await sink.close()


def describe(plan: Plan) -> str:
    part = "" if (plan.first_day, plan.last_day) == _year_bounds(plan) else f" ({plan.first_day} to {plan.last_day})"
    return (
        f"{plan.year}{part}, seed {plan.seed}, scale {plan.scale:g}: {len(plan.casework)} casework events "
        f"and {plan.requests} API calls (plan {plan.fingerprint()})"
    )


def _year_bounds(plan: Plan) -> tuple[object, object]:
    fy = parse_period(plan.year)
    return fy.start, fy.end


def print_summary(console: Console, summary: Summary) -> None:
    console.print(summary.table())
    for error in summary.errors:
        console.print(f"  [red]✗[/red] {error}")
    if len(summary.errors) < sum(summary.failures.values()):
        console.print(f"  … and {sum(summary.failures.values()) - len(summary.errors)} more failures")


def run_simulate(
    *,
    year: str,
    seed: int,
    scale: float = DEFAULT_SCALE,
    rate: float | None = None,
    period: str | None = None,
    concurrency: int = 16,
    progress: bool = True,
) -> int:
    settings = get_settings()
    console = Console()
    try:
        plan = plan_for(year, seed, scale, period)
    except ValueError as exc:
        console.print(f"[red]✗[/red] {exc}")
        return 2
    console.print(f"Simulating {describe(plan)}")
    try:
        summary = asyncio.run(
            simulate(settings, plan, rate=rate, concurrency=concurrency, console=console, show_progress=progress)
        )
    except ServicesUnavailable as exc:
        for problem in exc.problems:
            console.print(f"[red]✗[/red] {problem}")
        console.print(
            "  Start the services with: [bold]qaloop run all[/bold] (in another terminal), "
            "or run [bold]qaloop demo[/bold], which starts everything and simulates a year."
        )
        return 2
    except AlreadySimulated as exc:
        console.print(f"[yellow]![/yellow] {exc}")
        return 1
    print_summary(console, summary)
    return 0 if summary.ok else 1
