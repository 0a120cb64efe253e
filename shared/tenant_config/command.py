"""`qaloop config show | set SETTING VALUE | reset SETTING | history`: an authority's
configuration straight in the database (reporting's role, `QALOOP_REPORTING_DATABASE_URL`
else `QALOOP_DATABASE_URL`: the one that may write it), for the tenant given or
`QALOOP_TENANT`, as `/v1/config` does over HTTP; each change is recorded as made by
`cli:<login user>`. Services see a change within `QALOOP_CONFIG_REFRESH_SECONDS`."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from typing import Any

import asyncpg
from pydantic import ValidationError

from shared.db import create_pool
from shared.settings import Settings, get_settings
from shared.tenant_config import store
from shared.tenant_config.defaults import defaults_for
from shared.tenant_config.model import REBUILDS_PROJECTIONS, Setting

__all__ = ["actor", "parse_value", "run_config"]


def actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no user name (a container without one)
        return f"cli:uid-{os.getuid()}"


def parse_value(text: str) -> Any:
    """A setting's value: JSON (`5`, `"best_fit"`, `{"…": …}`), `@FILE` for JSON in a file, or
    bare text taken as a string (`best_fit`)."""
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            return json.load(f)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def _show(conn: asyncpg.Connection, settings: Settings, tenant: str) -> dict[str, Any]:
    stored = (await store.stored_settings(conn, tenant)).get(tenant, {})
    config = store.effective(defaults_for(settings, tenant), stored)
    return {"tenant": tenant, "settings": config.model_dump(mode="json"), "changed": sorted(stored)}


def _change_json(c: store.Change) -> dict[str, Any]:
    return {
        "change_id": c.change_id,
        "setting": c.setting,
        "old_value": c.old_value,
        "new_value": c.new_value,
        "reset": c.reset,
        "rebuilds_projections": c.rebuilds,
        "changed_by": c.changed_by,
        "changed_at": c.changed_at.isoformat(),
    }


async def _act(action: str, tenant: str, args: dict[str, Any]) -> Any:
    settings = get_settings()
    pool = await create_pool(settings.database_url_for("reporting"), min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            if action == "show":
                return await _show(conn, settings, tenant)
            if action == "history":
                changes = await store.history(conn, tenant, args.get("setting"), limit=args.get("limit", 100))
                return [_change_json(c) for c in changes]
            setting: Setting = args["setting"]
            values = {setting: args.get("value")}
            _, changes = await store.change_settings(
                conn, tenant, defaults_for(settings, tenant), values, actor(), reset=action == "reset"
            )
            return [_change_json(c) for c in changes]
    finally:
        await pool.close()


def _print_changes(changes: list[dict[str, Any]]) -> None:
    if not changes:
        print("no change: the setting already has that value")
    for c in changes:
        print(f"change {c['change_id']}: {c['setting']} {json.dumps(c['old_value'])} -> {json.dumps(c['new_value'])}")
        if Setting(c["setting"]) in REBUILDS_PROJECTIONS:
            print("  reporting rebuilds its read models under it (figures already projected move)")


def run_config(action: str, tenant: str | None, *, as_json: bool = False, **args: Any) -> int:
    chosen = tenant or get_settings().tenant
    try:
        result = asyncio.run(_act(action, chosen, args))
    except ValidationError as exc:
        print(f"qaloop config: refused, nothing changed ({exc.error_count()} problems):", file=sys.stderr)
        for e in exc.errors():
            print(f"  {'.'.join(map(str, e['loc']))}: {e['msg']}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"qaloop config: the configuration's database: {exc} (run `qaloop migrate` first?)", file=sys.stderr)
        return 1
    if as_json or action == "show":
        print(json.dumps(result, indent=2))
    elif action == "history":
        for c in result:
            by = f"{c['changed_at']} {c['changed_by']}"
            print(
                f"{c['change_id']:>6} {by}: {c['setting']} {json.dumps(c['old_value'])} -> {json.dumps(c['new_value'])}"
            )
    else:
        _print_changes(result)
    return 0
