"""Test fixtures: one database and one RabbitMQ vhost per test run (see tests/support/servers.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support import servers as srv

# The tests use the development JWT secret and pseudonym key, with which a service starts only
# in development (shared.settings.check_secure_start). Set here, at import, so that every
# in-process service and every child process the tests start (tests/faults, tests/e2e)
# inherits it; tests of the production refusal set QALOOP_ENV themselves.
os.environ["QALOOP_ENV"] = "development"


@pytest.fixture(scope="session")
def servers() -> Iterator[srv.Servers]:
    name = srv.run_id()
    with srv.base_urls() as (amqp, admin, mgmt):
        amqp_url = srv.create_vhost(amqp, mgmt, name)
        database_url = asyncio.run(srv.create_database(admin, name))
        previous = {k: os.environ.get(k) for k in ("QALOOP_AMQP_URL", "QALOOP_DATABASE_URL")}
        os.environ["QALOOP_AMQP_URL"] = amqp_url
        os.environ["QALOOP_DATABASE_URL"] = database_url
        from shared.settings import get_settings

        get_settings.cache_clear()
        try:
            yield srv.Servers(amqp_url, database_url, mgmt, name, name)
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()
            asyncio.run(srv.drop_database(admin, name))
            srv.delete_vhost(mgmt, name)


@pytest.fixture(scope="session")
async def pool(servers: srv.Servers) -> AsyncIterator[object]:
    from shared.db import create_pool

    p = await create_pool(servers.database_url, max_size=10)
    yield p
    await p.close()


@pytest.fixture(scope="session")
def readmodels(servers: srv.Servers) -> Iterator[object]:
    """The read models' real write/derive/query path, callable from plain tests."""
    from tests.support.readmodels import ReadModelHarness

    harness = ReadModelHarness(servers.database_url)
    yield harness
    harness.close()
