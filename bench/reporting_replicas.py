#!/usr/bin/env python
"""Reporting replicas benchmark (issue 16 item 3): intake throughput with one and two
`qaloop run reporting` processes on one queue, against the same-process baseline.

    .venv/bin/python bench/reporting_replicas.py --events 40000

A stream of 20 tenants (`contract_stream`, `--events` in all) is published to `qa.events`
(persistent, confirmed) while nothing consumes it; then the consumers start and the event
store is sampled every 0.1 s until it holds every event. Each configuration has its own
RabbitMQ vhost and database on the local servers (removed afterwards):

  same process    the ReportingService in this process (as bench/reporting_throughput.py (b)):
                  intake, follow-up clock and outbox relay on this event loop
  1 replica       one `python -m services.cli run reporting` process
  2 replicas      two such processes, competing consumers on reporting.events (the design:
                  every batch takes the read models' writer lock, so batches commit one at a
                  time whichever process holds them)
  2 partitions    the ceiling of partitioning by tenant: two processes, each with half of the
                  tenants on a vhost and database of its own, so that nothing — no lock, no
                  row, no queue — is shared between them but the machine and the servers.
                  A consistent-hash exchange on tenant with single-active-consumer queues and
                  a lock per partition could at best reach this figure.

Throughput is events / s while the store went from 20% to 90% of the stream (the processes'
start-up and the last batches left out); "whole" is the stream over first to last stored.
The configurations run in `--rounds` interleaved rounds (a busy spell on a shared machine
then hits each of them); the table shows medians, with the spread.
Progress goes to stderr; stdout gets a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from shared.bus import OutgoingMessage, Publisher, connect, declare_topology  # noqa: E402

TENANTS = tuple(f"E{10000100 + i:08d}" for i in range(20))
AS_OF = "2023-06-30"  # the stream covers financial year 2022-23


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Place:
    """A vhost and a database of one configuration (or one partition of it)."""

    name: str
    amqp_url: str
    database_url: str


@dataclass
class Servers:
    amqp_base: str
    admin_url: str
    management_url: str
    created: list[Place] = field(default_factory=list)

    async def place(self, name: str) -> Place:
        from tests.support import servers as srv

        amqp_url = await asyncio.to_thread(srv.create_vhost, self.amqp_base, self.management_url, name)
        place = Place(name, amqp_url, "")
        self.created.append(place)
        place.database_url = await srv.create_database(self.admin_url, name)
        return place

    async def remove(self) -> None:
        from tests.support import servers as srv

        for place in self.created:
            with contextlib.suppress(Exception):
                await srv.drop_database(self.admin_url, place.name)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(srv.delete_vhost, self.management_url, place.name)
        self.created.clear()


def stream(n: int, seed: int) -> list[Any]:
    from services.simulation.stream import contract_stream

    per_tenant = n // len(TENANTS)
    events = [e for i, t in enumerate(TENANTS) for e in contract_stream(per_tenant, seed=seed + i, tenant=t)]
    events.sort(key=lambda e: (e.time, e.id))
    return events


async def backlog(place: Place, events: Sequence[Any]) -> None:
    """The events waiting in reporting.events, confirmed, before any consumer starts."""
    connection = await connect(place.amqp_url)
    try:
        async with connection.channel() as channel:
            await declare_topology(channel)
        publisher = Publisher(connection)
        messages = [OutgoingMessage(routing_key=e.routing_key(), body=e.to_json(), message_id=e.id) for e in events]
        for start in range(0, len(messages), 1000):
            chunk = messages[start : start + 1000]
            if await publisher.publish_many(chunk) != len(chunk):
                raise RuntimeError("the broker did not confirm every message")
    finally:
        await connection.close()


async def sample(places: Sequence[Place], goal: int, timeout: float) -> list[tuple[float, int]]:
    """(monotonic time, events stored over every place) every 0.1 s until `goal`."""
    conns: dict[str, asyncpg.Connection] = {}
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while not samples or samples[-1][1] < goal:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {samples[-1][1] if samples else 0:,} of {goal:,} stored in {timeout:.0f}s")
            total = 0
            for place in places:
                with contextlib.suppress(asyncpg.UndefinedTableError, OSError, asyncpg.CannotConnectNowError):
                    if place.name not in conns:
                        conns[place.name] = await asyncpg.connect(place.database_url)
                    total += int(await conns[place.name].fetchval("SELECT count(*) FROM reporting.event_store"))
            samples.append((time.monotonic(), total))
            await asyncio.sleep(0.1)
    finally:
        for conn in conns.values():
            await conn.close()
    return samples


def rates(samples: list[tuple[float, int]], goal: int) -> dict[str, float]:
    def first(at: int) -> float:
        return next(t for t, n in samples if n >= at)

    started = next(t for t, n in samples if n > 0)
    return {
        "eps": (0.7 * goal) / (first(int(0.9 * goal)) - first(int(0.2 * goal))),
        "whole_eps": goal / (first(goal) - started),
    }


class ReplicaProcess:
    """`python -m services.cli run reporting` on a place, in a process group of its own."""

    def __init__(self, place: Place, port: int, log: Path) -> None:
        env = dict(os.environ)
        env.update(
            QALOOP_AMQP_URL=place.amqp_url,
            QALOOP_DATABASE_URL=place.database_url,
            QALOOP_ENV="development",
            QALOOP_AS_OF=AS_OF,
            QALOOP_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        self.port = port
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", "reporting", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"reporting exited with {self.process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError("reporting did not get ready")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def same_process(place: Place, goal: int, timeout: float) -> list[tuple[float, int]]:
    """The ReportingService on this event loop (settings from the environment)."""
    os.environ.update(QALOOP_AMQP_URL=place.amqp_url, QALOOP_DATABASE_URL=place.database_url, QALOOP_ENV="development")
    os.environ["QALOOP_AS_OF"] = AS_OF
    from services.reporting.app import build
    from shared.settings import get_settings

    get_settings.cache_clear()
    service, _ = build()
    await service.start()
    try:
        return await sample([place], goal, timeout)
    finally:
        await service.stop()


async def in_processes(
    assignment: Sequence[Place], places: Sequence[Place], goal: int, timeout: float, logs: Path
) -> list[tuple[float, int]]:
    """One `qaloop run reporting` per entry of `assignment` (its place), started together."""
    replicas = [ReplicaProcess(p, free_port(), logs / f"{p.name}-{i}.log") for i, p in enumerate(assignment)]
    try:
        sampling = asyncio.create_task(sample(places, goal, timeout))
        await asyncio.gather(*(r.ready() for r in replicas))
        return await sampling
    finally:
        for replica in replicas:
            await asyncio.to_thread(replica.stop)


async def configuration(name: str, servers: Servers, events: Sequence[Any], args: argparse.Namespace) -> Any:
    tag = uuid.uuid4().hex[:8]
    n = len(events)
    if name == "2 partitions":
        halves = [set(TENANTS[: len(TENANTS) // 2]), set(TENANTS[len(TENANTS) // 2 :])]
        places = [await servers.place(f"qaloop_bench_rep_{tag}_{i}") for i in range(2)]
        for place, tenants in zip(places, halves, strict=True):
            await backlog(place, [e for e in events if e.tenant in tenants])
        return await in_processes(places, places, n, args.timeout, args.logs)
    place = await servers.place(f"qaloop_bench_rep_{tag}")
    await backlog(place, events)
    if name == "same process":
        return await same_process(place, n, args.timeout)
    replicas = int(name.split()[0])
    return await in_processes([place] * replicas, [place], n, args.timeout, args.logs)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    database = os.environ.get("QALOOP_DATABASE_URL", "postgresql://postgres@localhost:5432/qaloop")
    servers = Servers(
        os.environ.get("QALOOP_AMQP_URL", "amqp://guest:guest@localhost:5672/"),
        urllib.parse.urlunsplit(urllib.parse.urlsplit(database)._replace(path="/postgres")),
        os.environ.get("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@localhost:15672"),
    )
    progress(f"generating {args.events:,} events of {len(TENANTS)} tenants")
    events = stream(args.events, args.seed)
    results: dict[str, Any] = {"events": len(events), "tenants": len(TENANTS), "load_before": os.getloadavg()[0]}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in args.configurations}
    try:
        for round_ in range(args.rounds):  # interleaved, so that a busy spell hits every configuration
            for name in args.configurations:
                progress(f"round {round_ + 1}, {name}: publishing the backlog, then consuming it")
                samples = await configuration(name, servers, events, args)
                runs[name].append(rates(samples, len(events)))
                progress(f"round {round_ + 1}, {name}: {runs[name][-1]['eps']:,.0f} events/s")
                await servers.remove()
    finally:
        await servers.remove()
    for name, measured in runs.items():
        eps = sorted(x["eps"] for x in measured)
        results[name] = {
            "eps": statistics.median(eps),
            "eps_min": eps[0],
            "eps_max": eps[-1],
            "whole_eps": statistics.median(x["whole_eps"] for x in measured),
        }
    results["rounds"] = args.rounds
    results["load_after"] = os.getloadavg()[0]
    return results


def report(r: dict[str, Any], configurations: Sequence[str]) -> None:
    base = r[configurations[0]]["eps"]
    print(f"{r['events']:,} events of {r['tenants']} tenants, {r['rounds']} round(s), median (min-max)")
    print(f"load average {r['load_before']:.1f} -> {r['load_after']:.1f}")
    head = f"{'vs ' + configurations[0]:>18}"
    print(f"{'configuration':<14}  {'events/s (20-90%)':>25}  {'whole stream':>12}  {head}")
    for name in configurations:
        x = r[name]
        spread = f"{x['eps']:,.0f} ({x['eps_min']:,.0f}-{x['eps_max']:,.0f})"
        print(f"{name:<14}  {spread:>25}  {x['whole_eps']:>12,.0f}  {x['eps'] / base:>17.2f}x")


CONFIGURATIONS = ("same process", "1 replica", "2 replicas", "2 partitions")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=40_000, help="events in all, over 20 tenants (default 40000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="rounds of every configuration; medians (default 3)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a configuration may take (default 600)")
    p.add_argument("--logs", type=Path, default=Path("/tmp"), help="where the replicas' logs go (default /tmp)")
    p.add_argument(
        "--configurations",
        type=lambda s: [c.strip() for c in s.split(",")],
        default=list(CONFIGURATIONS),
        help=f"comma-separated, of: {', '.join(CONFIGURATIONS)}",
    )
    args = p.parse_args(argv)
    if args.rounds < 1 or args.events < len(TENANTS) * 10 or any(c not in CONFIGURATIONS for c in args.configurations):
        p.error(f"--events at least {len(TENANTS) * 10}; configurations of {', '.join(CONFIGURATIONS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    report(results, args.configurations)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
