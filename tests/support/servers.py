"""Real RabbitMQ and PostgreSQL for the tests, isolated per test run.

Where a Docker engine answers, testcontainers starts throwaway servers. Otherwise the
servers at `QALOOP_AMQP_URL` / `QALOOP_DATABASE_URL` are used (defaults: the local ones),
and the run isolates itself in its own database and its own RabbitMQ virtual host, both
named after a random run id and removed at the end. Nothing is silently skipped: if the
servers cannot be reached the integration tests fail with the reason.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Servers:
    amqp_url: str
    database_url: str
    management_url: str | None
    vhost: str
    database: str


def docker_available() -> bool:
    if os.environ.get("QALOOP_TEST_NO_DOCKER"):
        return False
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _mgmt_request(base: str, method: str, path: str, body: dict | None = None) -> int:
    parts = urllib.parse.urlsplit(base)
    user, password = parts.username or "guest", parts.password or "guest"
    host = parts.hostname or "localhost"
    url = f"{parts.scheme}://{host}:{parts.port or 15672}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def create_vhost(amqp_url: str, management_url: str, vhost: str) -> str:
    """Create `vhost` via the management API, else rabbitmqctl; return the AMQP URL for it."""
    user = urllib.parse.urlsplit(amqp_url).username or "guest"
    quoted = urllib.parse.quote(vhost, safe="")
    created = False
    try:
        if _mgmt_request(management_url, "PUT", f"/api/vhosts/{quoted}", {}) in (201, 204):
            status = _mgmt_request(
                management_url,
                "PUT",
                f"/api/permissions/{quoted}/{urllib.parse.quote(user)}",
                {"configure": ".*", "write": ".*", "read": ".*"},
            )
            created = status in (201, 204)
    except OSError:
        created = False
    if not created:
        if not shutil.which("rabbitmqctl"):
            raise RuntimeError(
                "cannot create a RabbitMQ vhost for this test run: the management API at "
                f"{management_url} did not answer and rabbitmqctl is not installed "
                "(enable it with `rabbitmq-plugins enable rabbitmq_management`)"
            )
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
    parts = urllib.parse.urlsplit(amqp_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + quoted))


def delete_vhost(management_url: str, vhost: str) -> None:
    quoted = urllib.parse.quote(vhost, safe="")
    try:
        if _mgmt_request(management_url, "DELETE", f"/api/vhosts/{quoted}") in (204, 404):
            return
    except OSError:
        pass
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextmanager
def base_urls() -> Iterator[tuple[str, str, str]]:
    """(amqp_url, postgres admin url, management url) of servers for this run."""
    if docker_available():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with PostgresContainer("postgres:15") as pg, RabbitMqContainer("rabbitmq:3.13-management") as mq:
            pg_url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
            host = mq.get_container_host_ip()
            amqp = f"amqp://guest:guest@{host}:{mq.get_exposed_port(5672)}/"
            mgmt = f"http://guest:guest@{host}:{mq.get_exposed_port(15672)}"
            yield amqp, pg_url, mgmt
        return
    amqp = os.environ.get("QALOOP_AMQP_URL", "amqp://guest:guest@localhost:5672/")
    database = os.environ.get("QALOOP_DATABASE_URL", "postgresql://postgres@localhost:5432/qaloop")
    parts = urllib.parse.urlsplit(database)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    mgmt = os.environ.get("QALOOP_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@localhost:15672")
    yield amqp, admin, mgmt


def run_id() -> str:
    return "qaloop_test_" + uuid.uuid4().hex[:10]


@asynccontextmanager
async def module_servers(servers: Servers, suffix: str) -> AsyncIterator[tuple[str, str]]:
    """A test module's own RabbitMQ vhost and database, beside the run's: the run's vhost is
    shared by every integration test, and its `reporting.events` queue keeps whatever is
    published there. Yields (amqp_url, database_url); both are removed afterwards."""
    import asyncio

    name = f"{servers.vhost}_{suffix}"
    base_amqp = urllib.parse.urlunsplit(urllib.parse.urlsplit(servers.amqp_url)._replace(path="/"))
    admin = urllib.parse.urlunsplit(urllib.parse.urlsplit(servers.database_url)._replace(path="/postgres"))
    management = servers.management_url or "http://guest:guest@localhost:15672"
    amqp_url = await asyncio.to_thread(create_vhost, base_amqp, management, name)
    database_url = await create_database(admin, name)
    try:
        yield amqp_url, database_url
    finally:
        await drop_database(admin, name)
        await asyncio.to_thread(delete_vhost, management, name)


@dataclass(frozen=True)
class LeastPrivilege:
    """A module's own database and vhost with the services' own roles and users (shared/roles.py),
    named after the run (`<run>_<suffix>_audit`, `<run>_<suffix>-audit`) with random passwords."""

    prefix: str
    admin_database_url: str
    admin_amqp_url: str
    database_urls: dict[str, str]  # migrator, audit, feedback, complaints, reporting
    amqp_urls: dict[str, str]  # audit, feedback, complaints, reporting, cms

    def settings_env(self) -> dict[str, str]:
        """QALOOP_* variables that run every service as its own role and user."""
        env = {
            "QALOOP_DATABASE_URL": self.admin_database_url,
            "QALOOP_AMQP_URL": self.admin_amqp_url,
            "QALOOP_MIGRATE_DATABASE_URL": self.database_urls["migrator"],
        }
        for service in ("audit", "feedback", "complaints", "reporting"):
            env[f"QALOOP_{service.upper()}_DATABASE_URL"] = self.database_urls[service]
            env[f"QALOOP_{service.upper()}_AMQP_URL"] = self.amqp_urls[service]
        return env


@asynccontextmanager
async def least_privilege(servers: Servers, suffix: str = "lp") -> AsyncIterator[LeastPrivilege]:
    """`module_servers` set up as production is (shared/roles.py `apply`); the roles and users
    are removed afterwards, after the database."""
    import asyncio
    import secrets

    from shared import roles

    prefix = f"{servers.vhost}_{suffix}"
    admin = urllib.parse.urlunsplit(urllib.parse.urlsplit(servers.database_url)._replace(path="/postgres"))
    management = servers.management_url or "http://guest:guest@localhost:15672"
    pg_passwords = {n: secrets.token_hex(16) for n in ("migrator", *roles.SERVICES)}
    mq_passwords = {n: secrets.token_hex(16) for n in (*roles.SERVICES, "cms")}
    try:
        async with module_servers(servers, suffix) as (amqp_url, database_url):
            await roles.apply(
                database_url=database_url,
                amqp_url=amqp_url,
                management_url=management,
                prefix=prefix,
                pg_passwords=pg_passwords,
                mq_passwords=mq_passwords,
            )
            yield LeastPrivilege(
                prefix=prefix,
                admin_database_url=database_url,
                admin_amqp_url=amqp_url,
                database_urls={
                    n: roles.url_with(database_url, roles.pg_role(prefix, n), p) for n, p in pg_passwords.items()
                },
                amqp_urls={n: roles.url_with(amqp_url, roles.mq_user(prefix, n), p) for n, p in mq_passwords.items()},
            )
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await roles.drop_pg_roles(conn, prefix)
        finally:
            await conn.close()
        await asyncio.to_thread(roles.delete_mq_users, management, prefix)
