"""PostgreSQL: an asyncpg pool factory and an ordered, recorded migrations runner.

Each service owns one schema. Its migrations are `NNN_name.sql` files applied in order,
each in its own transaction, recorded in `<schema>.schema_migrations` with a checksum so
that an edited, already-applied migration is refused rather than silently skipped.
Concurrent starts are serialised with an advisory lock.

A database URL may name several servers — a primary and its standbys —
`postgresql://h1:5432,h2:5432/qaloop?target_session_attrs=read-write`, as libpq takes it.
asyncpg (0.28+) tries the hosts in order and keeps the first that meets
`target_session_attrs` (`read-write`: not a standby, not read-only by default), so every new
connection — a pool's replacement for one that died with its server included — finds the
primary of the moment: after a failover, the promoted standby. `check_database_url`
validates such a setting when the settings are read: a URL that can write must say
`read-write` (or `primary`) once it lists several hosts, or a write could land on a standby.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
# asyncpg's `SessionAttribute` values (libpq's, PostgreSQL 14+).
SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")
WRITABLE_ATTRS = ("read-write", "primary")
# Seconds a connection attempt may take, every host of a URL together: a server that is gone
# without a word (a lost machine) must not hold a reconnect for asyncpg's default minute.
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def check_identifier(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def load_migrations(directory: Path, schema: str) -> list[Migration]:
    """Read `NNN_name.sql` files; `{schema}` in them is replaced by the service's schema."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named NNN_name.sql")
        sql = path.read_text().replace("{schema}", check_identifier(schema))
        found.append(Migration(int(match.group(1)), match.group(2), sql))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def database_hosts(url: str) -> list[str]:
    """The `host:port` entries of a PostgreSQL URL, in the order they are tried."""
    return [h for h in urlsplit(url).netloc.rpartition("@")[2].split(",") if h]


def check_database_url(url: str, *, writes: bool = True) -> str:
    """`url` if it is a PostgreSQL URL asyncpg can use; otherwise ValueError saying why.

    Several hosts are allowed (a primary and its standbys); `target_session_attrs`, when
    given, must be one asyncpg knows, and a URL that `writes` and lists several hosts must
    ask for `read-write` or `primary`. A URL without a host (a Unix socket, `PGHOST`) passes."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL (postgresql://...): scheme {parts.scheme!r}")
    hosts = database_hosts(url)
    for host in hosts:
        port = host.rpartition("]")[2].partition(":")[2]
        if port and not port.isdigit():
            raise ValueError(f"host {host!r} of the database URL has a port that is not a number")
    attrs = parse_qs(parts.query).get("target_session_attrs", [])
    if len(attrs) > 1 or (attrs and attrs[0] not in SESSION_ATTRS):
        raise ValueError(f"target_session_attrs {attrs} is not one of {', '.join(SESSION_ATTRS)}")
    if writes and len(hosts) > 1 and (not attrs or attrs[0] not in WRITABLE_ATTRS):
        raise ValueError(
            f"the database URL lists {len(hosts)} hosts: add ?target_session_attrs=read-write, "
            "so that connections go to the primary and never to a standby"
        )
    return url


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections go to the first host of `dsn` that meets its
    `target_session_attrs`; one that dies is replaced by a new connection on the next
    acquire, to whichever host serves then."""
    kwargs.setdefault("timeout", CONNECT_TIMEOUT)
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs)
    assert pool is not None
    return pool


async def connect(dsn: str, *, timeout: float = CONNECT_TIMEOUT) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=timeout)
    await _init_connection(conn)
    return conn


async def migrate(conn: asyncpg.Connection, schema: str, migrations: Iterable[Migration]) -> list[str]:
    """Apply what is not applied yet, in version order. Returns the names applied now."""
    schema = check_identifier(schema)
    applied_now: list[str] = []
    lock_key = int.from_bytes(hashlib.sha256(f"qaloop-migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
        done = {r["version"]: r for r in rows}
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                if done[migration.version]["checksum"] != migration.checksum:
                    raise RuntimeError(
                        f"migration {schema}/{migration.version:03d}_{migration.name} was edited "
                        "after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(f"{migration.version:03d}_{migration.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied_now


async def pending_migrations(conn: asyncpg.Connection, schema: str, migrations: Iterable[Migration]) -> list[str]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{check_identifier(schema)}.schema_migrations")
    done: set[int] = set()
    if exists:
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
    return [f"{m.version:03d}_{m.name}" for m in migrations if m.version not in done]


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` if it does not exist (used by `qaloop migrate` and demo)."""
    from urllib.parse import urlunsplit

    parts = urlsplit(dsn)
    name = parts.path.lstrip("/") or "postgres"
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
