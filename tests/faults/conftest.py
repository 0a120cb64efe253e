"""Fault-suite fixtures: private servers for the session, a fresh vhost and database per
scenario, and the summary table printed at the end of the run.

The scenarios stop the broker and restart the database, so they never use the machine's
shared RabbitMQ (5672) or PostgreSQL (5432): `private_servers` starts a RabbitMQ node and a
PostgreSQL cluster of the suite's own (tests/faults/servers.py), and `private_cluster` a
three-node RabbitMQ cluster for the cluster scenarios (test_rabbitmq_cluster.py) — each
once per session, and only when a scenario that needs it runs. If they cannot be started
every scenario fails with the reason; if RabbitMQ or PostgreSQL is not installed at all the
scenarios are skipped with the reason — except under CI=true, where that is a failure too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from tests.faults.harness import Scenario, Tally, prepare_bus
from tests.faults.servers import (
    PrivatePostgres,
    PrivatePostgresPair,
    PrivateRabbit,
    PrivateRabbitCluster,
    ServerError,
    postgres_bindir,
    rabbitmq_scripts,
)


@dataclass
class Row:
    scenario: str
    tally: Tally | None  # None: the scenario ended before it could count
    seconds: float
    faults: str
    ok: bool
    known_bug: bool = False  # the scenario is marked xfail: it shows a product bug
    stall: float | None = None  # the longest time intake stood still after the fault, measured (s)


@dataclass
class FaultTable:
    """The session's scenario results, printed by `pytest_terminal_summary`."""

    rows: list[Row] = field(default_factory=list)


TABLE = FaultTable()


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _require_installed(*, postgres: bool = True) -> None:
    """Skip with the reason when a server the suite starts is not installed (fail under CI)."""
    wanted = [("RabbitMQ (rabbitmq-server)", rabbitmq_scripts())]
    if postgres:
        wanted.append(("PostgreSQL (pg_ctl)", postgres_bindir()))
    missing = [name for name, found in wanted if found is None]
    if missing:
        message = f"the fault suite starts private servers, but {' and '.join(missing)} is not installed"
        if _ci():
            pytest.fail(message + " (CI=true: not skipped)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    _require_installed()
    postgres = PrivatePostgres()
    try:
        postgres.start()
    except ServerError as exc:
        postgres.stop()
        pytest.fail(f"could not start the fault suite's private PostgreSQL:\n{exc}", pytrace=False)
    try:
        yield postgres
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def private_servers(private_postgres) -> Iterator[tuple[PrivateRabbit, PrivatePostgres]]:
    rabbit = PrivateRabbit()
    try:
        rabbit.start()
    except ServerError as exc:
        rabbit.stop()
        pytest.fail(f"could not start the fault suite's private RabbitMQ node:\n{exc}", pytrace=False)
    try:
        yield rabbit, private_postgres
    finally:
        rabbit.stop()


@pytest.fixture(scope="session")
def private_cluster(private_postgres) -> Iterator[PrivateRabbitCluster]:
    """A three-node RabbitMQ cluster of the suite's own, started once per session (about 40 s
    on two shared cores) and only when a cluster scenario runs."""
    cluster = PrivateRabbitCluster()
    try:
        cluster.start()
    except ServerError as exc:
        cluster.stop()
        pytest.fail(f"could not start the fault suite's private RabbitMQ cluster:\n{exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@contextlib.asynccontextmanager
async def _scenario(
    rabbit: PrivateRabbit | PrivateRabbitCluster, postgres: PrivatePostgres | PrivatePostgresPair, request, tmp_path
) -> AsyncIterator[Scenario]:
    """Its own vhost and database; QALOOP_AMQP_URL / QALOOP_DATABASE_URL point at them."""
    try:  # a scenario that failed mid-fault may have left the broker or database down
        await asyncio.to_thread(rabbit.ensure_running)
        await asyncio.to_thread(postgres.ensure_running)
    except ServerError as exc:
        pytest.fail(f"the private servers could not be brought back up: {exc}", pytrace=False)
    name = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40] + "_" + secrets.token_hex(3)
    await asyncio.to_thread(rabbit.add_vhost, name)
    admin = await asyncpg.connect(postgres.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    current = Scenario(request.node.name, rabbit, postgres, name, name, tmp_path)
    previous = {k: os.environ.get(k) for k in ("QALOOP_AMQP_URL", "QALOOP_DATABASE_URL")}
    os.environ["QALOOP_AMQP_URL"] = current.amqp_url
    os.environ["QALOOP_DATABASE_URL"] = current.database_url
    from shared.settings import get_settings

    get_settings.cache_clear()
    await prepare_bus(current.amqp_url)
    try:
        yield current
    finally:
        current.kill_all()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        try:
            await asyncio.to_thread(rabbit.ensure_running)
            await asyncio.to_thread(postgres.ensure_running)
            admin = await asyncpg.connect(postgres.admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            await asyncio.to_thread(rabbit.delete_vhost, name)
        except Exception as exc:  # the servers are removed at the end of the session anyway
            print(f"faults: could not clean up scenario {name}: {exc}")


@pytest.fixture
async def scenario(private_servers, request, tmp_path) -> AsyncIterator[Scenario]:
    """On the private RabbitMQ node: its own vhost and database."""
    rabbit, postgres = private_servers
    async with _scenario(rabbit, postgres, request, tmp_path) as current:
        yield current


@pytest.fixture
async def cluster_scenario(private_cluster, private_postgres, request, tmp_path) -> AsyncIterator[Scenario]:
    """On the private three-node cluster: its own vhost (QALOOP_AMQP_URL lists the three
    nodes) and database."""
    async with _scenario(private_cluster, private_postgres, request, tmp_path) as current:
        yield current


@pytest.fixture
async def failover_scenario(private_servers, request, tmp_path) -> AsyncIterator[Scenario]:
    """On the private RabbitMQ node and a PostgreSQL primary with a synchronous streaming
    standby of the scenario's own (the scenario kills the primary): QALOOP_DATABASE_URL
    names both, `target_session_attrs=read-write`."""
    rabbit, _ = private_servers
    pair = PrivatePostgresPair()
    try:
        await asyncio.to_thread(pair.start)
    except ServerError as exc:
        await asyncio.to_thread(pair.stop)
        pytest.fail(f"could not start a private PostgreSQL primary and standby:\n{exc}", pytrace=False)
    try:
        async with _scenario(rabbit, pair, request, tmp_path) as current:
            yield current
    finally:
        await asyncio.to_thread(pair.stop)


@pytest.fixture
def fault_table(request) -> Iterator[Any]:
    """`fault_table(tally, label=..., faults=...)` records the scenario's row; call it
    before asserting, so that a failing scenario still shows its count. A scenario that
    ends before it could count gets a row saying so."""
    started = time.monotonic()
    recorded: list[Row] = []

    def record(tally: Tally, *, label: str, faults: str, ok: bool | None = None, stall: float | None = None) -> None:
        good = ok if ok is not None else (tally.lost == 0 and tally.doubled == 0)
        known_bug = request.node.get_closest_marker("xfail") is not None
        row = Row(label, tally, time.monotonic() - started, faults, good, known_bug, stall)
        recorded.append(row)
        TABLE.rows.append(row)

    yield record
    if not recorded:
        TABLE.rows.append(
            Row(request.node.name.removeprefix("test_"), None, time.monotonic() - started, "did not finish", False)
        )


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not TABLE.rows:
        return
    headers = [
        "scenario",
        "sent",
        "published",
        "applied",
        "lost",
        "doubled",
        "dead letters",
        "intake stood still s",
        "s",
        "result",
    ]
    lines = []
    for row in TABLE.rows:
        t = row.tally
        figures = (
            [
                f"{t.sent:,}",
                f"{t.published:,}",
                f"{t.applied:,}",
                f"{t.lost:,}",
                f"{t.doubled:,}",
                f"{t.dead_letters:,}",
            ]
            if t is not None
            else ["-"] * 6
        )
        result = "ok" if row.ok else "FAILED"
        if row.known_bug:
            result += " (xfail: known bug)"
        stall = "-" if row.stall is None else f"{row.stall:.1f}"
        lines.append([row.scenario, *figures, stall, f"{row.seconds:.0f}", result])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    terminalreporter.section("faults: sent / applied / lost / doubled")
    terminalreporter.write_line(fmt(headers))
    terminalreporter.write_line(fmt(["-" * w for w in widths]))
    for line in lines:
        terminalreporter.write_line(fmt(line))
    terminalreporter.write_line("")
    for row in TABLE.rows:
        terminalreporter.write_line(f"{row.scenario}: {row.faults}")
