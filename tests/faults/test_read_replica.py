"""Reporting reads from a streaming read replica (issue 16, item 4): with
QALOOP_DATABASE_READ_URL set, the KPIs, follow-ups and dashboard read the replica, intake
still writes the primary, and `/v1/projections/status` says how far behind the replica is.

A real replica of the suite's private primary (`pg_basebackup -R`); its WAL replay is
paused (`pg_wal_replay_pause()`) while more events arrive, so that what reporting answers
can be seen to come from the replica — and to catch up when replay resumes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.simulation.stream import contract_stream
from shared.auth import issue_token
from shared.settings import Settings
from tests.faults.harness import ReportingProcess, Scenario, messages_of, publish
from tests.faults.servers import PrivatePostgres, ServerError
from tests.support.wait import eventually

EVENTS = 3_000


@pytest.fixture(scope="module")
def replica(private_servers: Any) -> Iterator[PrivatePostgres]:
    _, primary = private_servers
    standby = PrivatePostgres()
    try:
        standby.start_replica_of(primary)
    except ServerError as exc:
        standby.stop()
        pytest.fail(f"could not start a streaming replica of the private primary: {exc}", pytrace=False)
    yield standby
    standby.stop()


@pytest.fixture
async def replica_admin(replica: PrivatePostgres, scenario: Scenario) -> AsyncIterator[asyncpg.Connection]:
    async def database_replicated() -> bool:
        try:
            conn = await asyncpg.connect(replica.url(scenario.database), timeout=5)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    await eventually(database_replicated, bool, timeout=30, interval=0.2, what="the scenario's database on the replica")
    conn = await asyncpg.connect(replica.url(scenario.database))
    yield conn
    await conn.execute("SELECT pg_wal_replay_resume()")
    await conn.close()


async def _read(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_reporting_reads_the_replica_and_shows_its_staleness(
    scenario: Scenario, replica: PrivatePostgres, replica_admin: asyncpg.Connection
) -> None:
    events = contract_stream(EVENTS, seed=77)
    tenant = events[0].tenant
    ours = [e for e in events if e.tenant == tenant]
    first, second = ours[: len(ours) // 2], ours[len(ours) // 2 :]
    reporting = ReportingProcess(scenario, QALOOP_DATABASE_READ_URL=replica.url(scenario.database))
    reporting.start()
    await reporting.ready()
    token = issue_token(Settings(), ["reporting:read"], subject="replica-test", tenant=tenant)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{reporting.port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        # 1. The first half applied on the primary and replayed on the replica: 0 behind.
        await publish(scenario.amqp_url, messages_of(first))
        status = await eventually(
            lambda: _read(client, "/v1/projections/status"),
            lambda s: s["events_applied"] == len(first) and s["read_replica"]["events_behind"] == 0,
            timeout=120,
            what="the first half applied and replayed",
        )
        assert status["read_replica"]["reachable"] and status["read_replica"]["in_recovery"]
        caught_up = await _read(client, "/v1/dashboard/stamp")
        open_before = (await _read(client, "/v1/followups"))["count"]

        # 2. Replay paused: the primary applies the second half, the replica does not.
        await replica_admin.execute("SELECT pg_wal_replay_pause()")
        await publish(scenario.amqp_url, messages_of(second))
        status = await eventually(
            lambda: _read(client, "/v1/projections/status"),
            lambda s: s["events_applied"] == len(ours),
            timeout=120,
            what="the second half applied on the primary",
        )
        assert status["read_replica"]["events_behind"] == len(second), status["read_replica"]
        assert (await _read(client, "/v1/dashboard/stamp"))["stamp"] == caught_up["stamp"], "read from the replica"
        assert (await _read(client, "/v1/followups"))["count"] == open_before
        lagging = await eventually(
            lambda: _read(client, "/v1/projections/status"),
            lambda s: s["read_replica"]["replay_lag_seconds"] > 0,
            timeout=30,
            what="the replay lag shown while replay is paused",
        )
        assert lagging["read_replica"]["events_behind"] == len(second)

        # 3. Replay resumed: the replica catches up and reads show the second half.
        await replica_admin.execute("SELECT pg_wal_replay_resume()")
        status = await eventually(
            lambda: _read(client, "/v1/projections/status"),
            lambda s: s["read_replica"]["events_behind"] == 0 and s["read_replica"]["replay_lag_seconds"] == 0,
            timeout=60,
            what="the replica caught up",
        )
        assert (await _read(client, "/v1/dashboard/stamp"))["stamp"] != caught_up["stamp"]
