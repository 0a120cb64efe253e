"""The configuration's SQL (schema `tenant_config`, owned by this component, migrated by every
service's start under the migrations' advisory lock): the settings each tenant changed, and
the append-only history of changes with who made each and when."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import ValidationError

from shared.db import Migration, check_identifier, load_migrations
from shared.tenant_config.model import REBUILDS_PROJECTIONS, Setting, TenantConfig

log = logging.getLogger(__name__)

SCHEMA = "tenant_config"
MIGRATIONS = Path(__file__).parent / "migrations"


def migrations() -> list[Migration]:
    return load_migrations(MIGRATIONS, SCHEMA)


@dataclass(frozen=True)
class Change:
    """One change of one setting of one tenant (`reset`: back to its default)."""

    change_id: int
    tenant: str
    setting: str
    old_value: Any
    new_value: Any
    reset: bool
    rebuilds: bool
    changed_by: str
    changed_at: datetime


Stored = dict[Setting, Any]


def effective(defaults: TenantConfig, stored: Mapping[Setting, Any]) -> TenantConfig:
    """`defaults` with each stored setting applied; a stored value this release no longer
    accepts (its bounds were narrowed) is left out, with a warning, and the default holds."""
    config = defaults
    for setting, value in stored.items():
        try:
            config = config.with_setting(setting, value)
        except ValidationError as exc:
            log.warning("stored setting %s is no longer valid (%s): its default holds", setting, exc)
    return config


async def stored_settings(conn: asyncpg.Connection, tenant: str | None = None) -> dict[str, Stored]:
    """Every tenant's stored settings (or one tenant's), by tenant."""
    rows = await conn.fetch(
        f"SELECT tenant, setting, value FROM {SCHEMA}.settings WHERE $1::text IS NULL OR tenant = $1", tenant
    )
    out: dict[str, Stored] = {}
    for r in rows:
        if r["setting"] in Setting.__members__.values():
            out.setdefault(r["tenant"], {})[Setting(r["setting"])] = r["value"]
    return out


async def latest_changes(conn: asyncpg.Connection) -> tuple[int, int]:
    """The newest change's id, and the newest change's id among those that rebuild projections
    (0 when there is none)."""
    row = await conn.fetchrow(
        f"""SELECT coalesce(max(change_id), 0) AS latest,
                   coalesce(max(change_id) FILTER (WHERE rebuilds), 0) AS rebuild
            FROM {SCHEMA}.history"""
    )
    assert row is not None
    return int(row["latest"]), int(row["rebuild"])


def _lock_key(tenant: str) -> int:
    return int.from_bytes(hashlib.sha256(f"qaloop-config:{tenant}".encode()).digest()[:8], "big", signed=True)


async def change_settings(
    conn: asyncpg.Connection,
    tenant: str,
    defaults: TenantConfig,
    values: Mapping[Setting, Any],
    actor: str,
    *,
    reset: bool = False,
) -> tuple[TenantConfig, list[Change]]:
    """Set (or, with `reset`, return to their defaults) some of a tenant's settings in one
    transaction, recording each one whose value changes. ValidationError when a value is not
    valid (nothing is written)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(tenant))
        stored = (await stored_settings(conn, tenant)).get(tenant, {})
        before = effective(defaults, stored)
        if reset:
            after = effective(defaults, {s: v for s, v in stored.items() if s not in values})
        else:
            after = before.with_settings(values)
        changes = []
        for setting in values:
            old, new = before.value(setting), after.value(setting)
            if old != new or (reset and setting in stored):
                changes.append(await _record(conn, tenant, setting, old, new, actor, reset=reset))
    return after, changes


async def _record(
    conn: asyncpg.Connection, tenant: str, setting: Setting, old: Any, new: Any, actor: str, *, reset: bool
) -> Change:
    row = await conn.fetchrow(
        f"""INSERT INTO {SCHEMA}.history (tenant, setting, old_value, new_value, reset, rebuilds, changed_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        tenant,
        setting.value,
        old,
        new,
        reset,
        setting in REBUILDS_PROJECTIONS,
        actor,
    )
    assert row is not None
    if reset:
        await conn.execute(f"DELETE FROM {SCHEMA}.settings WHERE tenant = $1 AND setting = $2", tenant, setting.value)
    else:
        await conn.execute(
            f"""INSERT INTO {SCHEMA}.settings (tenant, setting, value, change_id, changed_by, changed_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (tenant, setting) DO UPDATE SET value = excluded.value, change_id = excluded.change_id,
                    changed_by = excluded.changed_by, changed_at = excluded.changed_at""",
            tenant,
            setting.value,
            new,
            row["change_id"],
            actor,
            row["changed_at"],
        )
    return change_of(row)


def change_of(row: asyncpg.Record) -> Change:
    return Change(**{name: row[name] for name in Change.__dataclass_fields__})


async def history(
    conn: asyncpg.Connection, tenant: str, setting: Setting | None = None, *, limit: int = 100, offset: int = 0
) -> list[Change]:
    """A tenant's changes, newest first."""
    rows = await conn.fetch(
        f"""SELECT * FROM {SCHEMA}.history WHERE tenant = $1 AND ($2::text IS NULL OR setting = $2)
            ORDER BY change_id DESC LIMIT $3 OFFSET $4""",
        tenant,
        setting.value if setting else None,
        limit,
        offset,
    )
    return [change_of(r) for r in rows]


async def grant_config_role(conn: asyncpg.Connection, role: str, *, writer: bool) -> None:
    """Run by the schema's owner (the migrator) after its migrations: every service's role
    reads the configuration; the writer (reporting, which serves /v1/config) also sets
    settings and appends to the history, which no role may edit or delete."""
    r = check_identifier(role)
    statements = [
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {r}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {r}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {SCHEMA} FROM {r}",
    ]
    if writer:
        statements += [
            f"GRANT INSERT, UPDATE, DELETE ON {SCHEMA}.settings TO {r}",
            f"GRANT INSERT ON {SCHEMA}.history TO {r}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {r}",
        ]
    await conn.execute(";\n".join(statements))
