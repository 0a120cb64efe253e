"""`qaloop benchmarks import FILE [--tenant T]` and `qaloop benchmarks live-comparison
on|off|status [--tenant T]`: straight to reporting's database (`QALOOP_DATABASE_URL`), for
the tenant given or `QALOOP_TENANT`, like `POST /v1/benchmarks/import` and
`PUT|DELETE /v1/benchmarks/live-comparison` (role reporting:admin) do over HTTP."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg

from shared.errors import Invalid
from shared.settings import get_settings

from . import handlers
from .store import PostgresBenchmarkStore

__all__ = ["run_import", "run_live_comparison"]

ACTOR = "qaloop-cli"


async def _with_store(action: str, tenant: str, data: bytes | None) -> str:
    from shared.db import create_pool

    settings = get_settings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        store = PostgresBenchmarkStore(pool)
        if action == "import":
            assert data is not None
            s = await handlers.import_comparator_file(store, tenant, data)
            ignored = ", ".join(f"{m} ({n} rows)" for m, n in s.ignored.items()) or "none"
            return (
                f"imported {s.rows} {'authorities' if s.kind == 'neighbours' else 'figures'} for {tenant} "
                f"({s.kind}); not published: {s.not_published}; measures ignored (not mapped): {ignored}"
            )
        if action in ("on", "off"):
            await handlers.set_live_comparison(store, tenant, action == "on", ACTOR)
        opted_in, peers = await store.live_peers(tenant)
        others = ", ".join(peers) or "none"
        return f"{tenant}: live comparison {'on' if opted_in else 'off'}; other authorities opted in: {others}"
    finally:
        await pool.close()


def _run(action: str, tenant: str | None, data: bytes | None = None) -> int:
    chosen = tenant or get_settings().tenant
    try:
        print(asyncio.run(_with_store(action, chosen, data)))
    except Invalid as exc:
        print(
            f"qaloop benchmarks: the file was refused, nothing imported ({len(exc.problems)} problems):",
            file=sys.stderr,
        )
        for p in exc.problems:
            where = "line {}, column {}".format(*p.field) if len(p.field) == 2 else ".".join(map(str, p.field))
            print(f"  {where}: {p.reason}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        print(
            f"qaloop benchmarks: reporting's database: {exc} (run `qaloop migrate reporting` first?)", file=sys.stderr
        )
        return 1
    return 0


def run_import(path: str, tenant: str | None) -> int:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        print(f"qaloop benchmarks import: {exc}", file=sys.stderr)
        return 2
    return _run("import", tenant, data)


def run_live_comparison(action: str, tenant: str | None) -> int:
    return _run(action, tenant)
