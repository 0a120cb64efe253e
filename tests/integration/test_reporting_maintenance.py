"""Reporting looks after its tables' statistics where PostgreSQL's autovacuum is off (as on
these machines): without them the planner may read a whole tenant for a handful of ids."""

from __future__ import annotations

import asyncpg
import pytest

from services.reporting import store
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


async def test_maintenance_analyzes_changed_tables_and_vacuums_dead_rows_only_without_autovacuum(servers):
    from services.reporting.app import build

    service, _ = build()
    await service.migrate()
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.execute("TRUNCATE reporting.referral")
        await conn.execute(
            """INSERT INTO reporting.referral
               (tenant, key, event_id, referral_id, child_ref, received_on, team, service_area)
               SELECT 'TM', 'k' || i, 'e' || i, 'r' || i, 'c' || (i % 50), date '2022-04-01' + (i % 300),
                      't1', 'send' FROM generate_series(1, 2000) AS i"""
        )
        await conn.execute("UPDATE reporting.referral SET d_re_referral = true WHERE tenant = 'TM'")

        async def stats() -> asyncpg.Record:
            return await conn.fetchrow(
                """SELECT n_dead_tup, n_mod_since_analyze FROM pg_stat_user_tables
                   WHERE schemaname = 'reporting' AND relname = 'referral'"""
            )

        await eventually(stats, lambda r: r["n_dead_tup"] >= 2000, timeout=15, what="statistics collected")
        autovacuum = await conn.fetchval("SHOW autovacuum")
        done = await store.maintain_tables(conn)
        if autovacuum == "on":
            assert done == []  # PostgreSQL's own autovacuum looks after the tables
        else:
            assert "vacuum referral" in done
            after = await stats()
            assert after["n_dead_tup"] == 0 and after["n_mod_since_analyze"] == 0
            again = await store.maintain_tables(conn)
            assert not [d for d in again if d.endswith(" referral")], again  # nothing left to do
    finally:
        await conn.execute("DELETE FROM reporting.referral WHERE tenant = 'TM'")
        await conn.close()
