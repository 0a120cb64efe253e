"""The read models from plain (synchronous) tests: facts in, figures out, through the real
path — `ReadModels.write_facts`, the derived columns, the follow-up deriver and the KPI SQL —
on the run's PostgreSQL database.

Each call works in a tenant of its own (a fresh id), so calls never see each other's rows
and need no clean-up. The asyncpg connection lives on an event loop in a thread of its own,
so that plain test functions (and hypothesis) can call it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from services.reporting.activity import breakdown_teams
from services.reporting.followups import FollowUp
from services.reporting.kpis import Filters, KpiValue
from services.reporting.learning import FollowUpDeriver, followup_of, upsert_followups
from services.reporting.queries import KpiQueries
from services.reporting.readmodels import ReadModels
from shared.calendar import Period, WorkingCalendar
from shared.complaint_timescales import AuthorityTimescales
from shared.db import connect, load_migrations, migrate
from shared.tenant_config.cache import FixedConfig

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "reporting" / "migrations"


class ReadModelHarness:
    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="readmodels-harness", daemon=True)
        self._thread.start()
        self._conn: asyncpg.Connection = self._run(self._open(database_url))

    async def _open(self, database_url: str) -> asyncpg.Connection:
        conn = await connect(database_url)
        await migrate(conn, "reporting", load_migrations(MIGRATIONS, "reporting"))
        return conn

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(120)

    def close(self) -> None:
        self._run(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # ------------------------------------------------------------------ the path under test

    def load(
        self,
        facts: Iterable[Any],
        *,
        calendar: WorkingCalendar,
        timescales: AuthorityTimescales | None = None,
        batch_sizes: Sequence[int] = (),
        tenant: str | None = None,
    ) -> str:
        """Write ``facts`` (in the order given, split into batches of ``batch_sizes``, cycled;
        one batch when empty) into a fresh tenant (or ``tenant``); return the tenant."""
        tenant = tenant or f"T{uuid.uuid4().hex[:12]}"
        self._run(self._load(tenant, list(facts), calendar, timescales, batch_sizes))
        return tenant

    async def _load(
        self,
        tenant: str,
        facts: list[Any],
        calendar: WorkingCalendar,
        timescales: AuthorityTimescales | None,
        batch_sizes: Sequence[int],
    ) -> None:
        readmodels = ReadModels(FixedConfig(fixed_calendar=calendar, fixed_timescales=timescales))
        deriver = FollowUpDeriver(readmodels)
        sizes = list(batch_sizes) or [max(len(facts), 1)]
        i = n = 0
        while i < len(facts):
            batch = facts[i : i + sizes[n % len(sizes)]]
            i, n = i + len(batch), n + 1
            async with self._conn.transaction():
                touched = await readmodels.write_facts(self._conn, [(tenant, x) for x in batch])
                for t in touched.values():
                    loader = readmodels.loader(self._conn, tenant)
                    await readmodels.derive_touched(loader, t)
                    await deriver.derive_touched(loader, t)

    def figures(
        self,
        tenant: str,
        periods: Sequence[Period],
        filters: Filters,
        *,
        today: date,
        kpi_ids: Iterable[str] | None = None,
    ) -> list[list[KpiValue]]:
        return self._run(KpiQueries().values(self._conn, tenant, periods, filters, today=today, kpi_ids=kpi_ids))

    def teams(self, tenant: str, period: Period) -> list[tuple[str, str]]:
        """The period's teams of every per-team breakdown (`activity.breakdown_teams`)."""
        return self._run(breakdown_teams(self._conn, tenant, period))

    def followups(self, tenant: str) -> list[FollowUp]:
        rows = self._run(
            self._conn.fetch(
                "SELECT * FROM reporting.followups WHERE tenant = $1 ORDER BY opened_on, followup_id", tenant
            )
        )
        return [followup_of(r) for r in rows]

    def replace_followups(self, tenant: str, followups: Iterable[FollowUp]) -> None:
        """Put these follow-ups in place of the derived ones (tests of the learning KPIs)."""

        # One row per follow-up id: of copies, the largest repr (as the in-memory rules chose).
        unique = {f.followup_id: f for f in sorted(followups, key=repr)}

        async def replace() -> None:
            await self._conn.execute("DELETE FROM reporting.followups WHERE tenant = $1", tenant)
            await upsert_followups(self._conn, "reporting", tenant, list(unique.values()))

        self._run(replace())
