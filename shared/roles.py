"""Least privilege: each service's own PostgreSQL role and RabbitMQ user (README "Security",
docs/operations.md "Roles and users").

PostgreSQL. `<prefix>_migrator` runs the migrations (`QALOOP_MIGRATE_DATABASE_URL`): it owns
the services' schemas and their tables. Each service's role (`<prefix>_audit`, `_feedback`,
`_complaints`, `_reporting`, `_notifier`, `_workforce`) owns nothing; after migrating, the
migrator grants it (`grant_service_role`) USAGE on its own schema, DML on its tables, its sequences — and on
`access_log` SELECT and INSERT only, so the append-only trigger is backed by privileges. No
role is granted anything in another service's schema. The per-authority configuration
(`tenant_config`, shared/tenant_config: no service's own) is readable by every service's
role; only reporting's, which serves /v1/config, may set settings and append to its history
(`tenant_config.store.grant_config_role`), and none may edit or delete the history.

RabbitMQ. Each service's user (`<prefix>-audit`, …, and `<prefix>-cms` for case-management
publishers) may write only to `qa.events`, and its topic permission on `qa.events` lets it
publish only its own routing keys (`^audit\\.` …; cms `^casework\\.`). None may configure
(the topology is declared by the setup, `apply`); reporting reads only `reporting.events`,
the notifier (`<prefix>-notifier`, which publishes no event) only `reporting.followups` and
`notifier.actions`; each writes its own dead letters to `qa.events.dlx`.

`python -m shared.roles` applies both with admin URLs and passwords from the environment
(the Compose `setup` service and the k8s Job `qaloop-setup` run it): see `main`.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.db import check_identifier

CONFIG_SCHEMA = "tenant_config"  # shared.tenant_config.store.SCHEMA (not imported: roles stays low)
SERVICES = ("audit", "feedback", "complaints", "reporting", "notifier", "workforce")
PUBLISHERS = {
    "audit": "audit",
    "feedback": "feedback",
    "complaints": "complaints",
    "workforce": "workforce",
    "cms": "casework",
}


def pg_role(prefix: str, service: str) -> str:
    return check_identifier(f"{prefix}_{service}")


def migrator_role(prefix: str) -> str:
    return pg_role(prefix, "migrator")


def mq_user(prefix: str, service: str) -> str:
    return f"{prefix}-{service}"


@dataclass(frozen=True)
class MqPermissions:
    configure: str
    write: str
    read: str
    topic_write: dict[str, str]  # exchange -> routing keys it may publish


def mq_permissions(service: str) -> MqPermissions:
    """What the broker user of `service` (a strand, reporting or cms) may do."""
    if service == "reporting":
        return MqPermissions(
            configure="^$",
            write=r"^qa\.events(\.dlx)?$",
            read=r"^reporting\.events(\.dlq)?$",  # its queue, and its dead letters for ops
            topic_write={"qa.events": r"^reporting\.", "qa.events.dlx": r"^reporting\.events$"},
        )
    if service == "notifier":  # reads the follow-ups and actions queues, writes only its dead letters
        queues = r"(reporting\.followups|notifier\.actions)"
        return MqPermissions(
            configure="^$",
            write=r"^qa\.events\.dlx$",
            read=f"^{queues}(\\.dlq)?$",
            topic_write={"qa.events.dlx": f"^{queues}$"},
        )
    strand = PUBLISHERS[service]
    return MqPermissions(configure="^$", write=r"^qa\.events$", read="^$", topic_write={"qa.events": f"^{strand}\\."})


# --------------------------------------------------------------------------- PostgreSQL


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def create_pg_roles(admin: asyncpg.Connection, database: str, prefix: str, passwords: dict[str, str]) -> None:
    """Create (or update the passwords of) the migrator and the service roles, with CONNECT on
    `database` and, for the migrator, CREATE (its schemas). Run as a superuser or CREATEROLE."""
    check_identifier(database)
    for name in ("migrator", *SERVICES):
        role = pg_role(prefix, name)
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        password = _literal(passwords[name])
        await admin.execute(f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {password}")
        await admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    await admin.execute(f'GRANT CREATE ON DATABASE "{database}" TO {migrator_role(prefix)}')
    # The schemas exist from the start, owned by the migrator (an install that ran as one role
    # before: `REASSIGN OWNED BY <old> TO <prefix>_migrator`, docs/operations.md).
    for schema in (*SERVICES, CONFIG_SCHEMA):
        await admin.execute(
            f"CREATE SCHEMA IF NOT EXISTS {check_identifier(schema)} AUTHORIZATION {migrator_role(prefix)}"
        )


async def drop_pg_roles(admin: asyncpg.Connection, prefix: str) -> None:
    """Drop the roles (their database must be gone, or their objects reassigned, first)."""
    for name in (*SERVICES, "migrator"):
        await admin.execute(f"DROP ROLE IF EXISTS {pg_role(prefix, name)}")


async def grant_service_role(conn: asyncpg.Connection, schema: str, role: str) -> None:
    """Run by the schema's owner (the migrator) after its migrations, every time (idempotent):
    the service's role may use its own schema's tables, sequences and functions, and may
    only read and append to `access_log`."""
    s, r = check_identifier(schema), check_identifier(role)
    await conn.execute(
        f"""GRANT USAGE ON SCHEMA {s} TO {r};
            GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {s} TO {r};
            GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r};
            GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {r};
            ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r};
            ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r};
            DO $$ BEGIN
                IF to_regclass('{s}.access_log') IS NOT NULL THEN
                    REVOKE UPDATE, DELETE, TRUNCATE ON {s}.access_log FROM {r};
                END IF;
            END $$;"""
    )


# --------------------------------------------------------------------------- RabbitMQ


def _management(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    parts = urllib.parse.urlsplit(base)
    user, password = urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or "")
    url = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{path}"
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _ok(status: int, what: str) -> None:
    if status not in (200, 201, 204):
        raise RuntimeError(f"RabbitMQ management API: {what} answered {status}")


def create_mq_users(management_url: str, vhost: str, prefix: str, passwords: dict[str, str]) -> None:
    """Create (or update) the users of the services and cms with their permissions on `vhost`."""
    v = urllib.parse.quote(vhost, safe="")
    for service in (*SERVICES, "cms"):
        user = urllib.parse.quote(mq_user(prefix, service), safe="")
        _ok(
            _management(management_url, "PUT", f"/api/users/{user}", {"password": passwords[service], "tags": ""}),
            f"user {user}",
        )
        p = mq_permissions(service)
        body = {"configure": p.configure, "write": p.write, "read": p.read}
        _ok(_management(management_url, "PUT", f"/api/permissions/{v}/{user}", body), f"permissions of {user}")
        for exchange, write in p.topic_write.items():
            topic = {"exchange": exchange, "write": write, "read": ".*"}
            _ok(
                _management(management_url, "PUT", f"/api/topic-permissions/{v}/{user}", topic),
                f"topic permissions of {user}",
            )


def delete_mq_users(management_url: str, prefix: str) -> None:
    for service in (*SERVICES, "cms"):
        _management(management_url, "DELETE", f"/api/users/{urllib.parse.quote(mq_user(prefix, service), safe='')}")


def url_with(url: str, user: str, password: str) -> str:
    """`url` logged in as `user`."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------- setup


async def apply(
    *,
    database_url: str,
    amqp_url: str,
    management_url: str,
    prefix: str,
    pg_passwords: dict[str, str],
    mq_passwords: dict[str, str],
) -> None:
    """Everything, with admin URLs: the PostgreSQL roles, the broker topology (which the
    services' users may not declare) and the broker users."""
    from shared.bus import amqp_urls, connect, declare_topology
    from shared.db import ensure_database

    await ensure_database(database_url)
    database = urllib.parse.urlsplit(database_url).path.lstrip("/")
    conn = await asyncpg.connect(database_url)
    try:
        await create_pg_roles(conn, database, prefix, pg_passwords)
    finally:
        await conn.close()
    connection = await connect(amqp_url)
    try:
        async with connection.channel() as channel:
            await declare_topology(channel, delivery_limit=int(os.environ.get("QALOOP_DELIVERY_LIMIT", "20")))
    finally:
        await connection.close()
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(amqp_urls(amqp_url)[0]).path.lstrip("/")) or "/"
    create_mq_users(management_url, vhost, prefix, mq_passwords)


def main() -> int:
    """`python -m shared.roles`: QALOOP_SETUP_DATABASE_URL, QALOOP_SETUP_AMQP_URL and
    QALOOP_SETUP_MANAGEMENT_URL (admin), QALOOP_PG_PASSWORD_<MIGRATOR|AUDIT|FEEDBACK|COMPLAINTS|
    REPORTING|NOTIFIER|WORKFORCE> and QALOOP_MQ_PASSWORD_<AUDIT|FEEDBACK|COMPLAINTS|REPORTING|NOTIFIER|
    WORKFORCE|CMS>; optional
    QALOOP_ROLE_PREFIX (default `qaloop`)."""
    import asyncio

    env = os.environ
    missing = [
        k
        for k in (
            "QALOOP_SETUP_DATABASE_URL",
            "QALOOP_SETUP_AMQP_URL",
            "QALOOP_SETUP_MANAGEMENT_URL",
            *(f"QALOOP_PG_PASSWORD_{n.upper()}" for n in ("migrator", *SERVICES)),
            *(f"QALOOP_MQ_PASSWORD_{n.upper()}" for n in (*SERVICES, "cms")),
        )
        if not env.get(k)
    ]
    if missing:
        print("set " + ", ".join(missing), file=sys.stderr)
        return 2
    asyncio.run(
        apply(
            database_url=env["QALOOP_SETUP_DATABASE_URL"],
            amqp_url=env["QALOOP_SETUP_AMQP_URL"],
            management_url=env["QALOOP_SETUP_MANAGEMENT_URL"],
            prefix=env.get("QALOOP_ROLE_PREFIX", "qaloop"),
            pg_passwords={n: env[f"QALOOP_PG_PASSWORD_{n.upper()}"] for n in ("migrator", *SERVICES)},
            mq_passwords={n: env[f"QALOOP_MQ_PASSWORD_{n.upper()}"] for n in (*SERVICES, "cms")},
        )
    )
    print("qaloop roles and users: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
