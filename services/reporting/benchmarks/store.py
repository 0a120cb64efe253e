"""Benchmarking's SQL: the tenant's comparator data and the live-comparison opt-ins
(migration 007). Every statement names the tenant; reads take one year's rows of the
measures asked for, by primary key, and the tenant's own neighbour list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.reporting import kpis
from services.reporting.handlers import ReportingQueries
from services.reporting.store import SCHEMA
from shared.calendar import Period

from .domain import Authority, Comparators
from .lait import FigureFile, NeighbourFile

__all__ = ["MAX_LIVE_PEERS", "PostgresBenchmarkStore", "QueriedKpis"]

MAX_LIVE_PEERS = 200  # opted-in tenants one comparison reads (a national deployment has ~150)


@dataclass
class PostgresBenchmarkStore:
    pool: asyncpg.Pool

    async def replace_neighbours(self, tenant: str, file: NeighbourFile) -> None:
        """The tenant's authorities and neighbour lists become the file's, in one transaction."""
        positions = [(code, i, n) for code, listed in file.neighbours.items() for i, n in enumerate(listed, 1)]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {SCHEMA}.benchmark_neighbour WHERE tenant = $1", tenant)
            await conn.execute(f"DELETE FROM {SCHEMA}.benchmark_authority WHERE tenant = $1", tenant)
            await conn.execute(
                f"""INSERT INTO {SCHEMA}.benchmark_authority (tenant, la_code, la_name, region_code, region_name)
                    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])""",
                tenant,
                [a.code for a in file.authorities],
                [a.name for a in file.authorities],
                [a.region_code for a in file.authorities],
                [a.region_name for a in file.authorities],
            )
            await conn.execute(
                f"""INSERT INTO {SCHEMA}.benchmark_neighbour (tenant, la_code, position, neighbour)
                    SELECT $1, * FROM unnest($2::text[], $3::smallint[], $4::text[])""",
                tenant,
                [p[0] for p in positions],
                [p[1] for p in positions],
                [p[2] for p in positions],
            )

    async def replace_figures(self, tenant: str, file: FigureFile) -> None:
        """For every (year, measure) the file covers, the tenant's figures become the file's,
        in one transaction; other years and measures are kept."""
        covered = sorted(file.covered)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"""DELETE FROM {SCHEMA}.benchmark_figure f
                    USING unnest($2::text[], $3::text[]) AS c(year, measure)
                    WHERE f.tenant = $1 AND f.year = c.year AND f.measure = c.measure""",
                tenant,
                [c[0] for c in covered],
                [c[1] for c in covered],
            )
            await conn.execute(
                f"""INSERT INTO {SCHEMA}.benchmark_figure (tenant, year, measure, area, value)
                    SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[])""",
                tenant,
                [f.year for f in file.figures],
                [f.measure for f in file.figures],
                [f.area for f in file.figures],
                [f.value for f in file.figures],
            )

    async def comparators(self, tenant: str, year: str, measures: Sequence[str]) -> Comparators:
        """The tenant's comparator data for one financial year and the measures asked for."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            authorities = await conn.fetch(
                f"""SELECT la_code, la_name, region_code, region_name FROM {SCHEMA}.benchmark_authority
                    WHERE tenant = $1""",
                tenant,
            )
            neighbours = await conn.fetch(
                f"""SELECT neighbour FROM {SCHEMA}.benchmark_neighbour WHERE tenant = $1 AND la_code = $1
                    ORDER BY position""",
                tenant,
            )
            figures = await conn.fetch(
                f"""SELECT measure, area, value FROM {SCHEMA}.benchmark_figure
                    WHERE tenant = $1 AND year = $2 AND measure = ANY($3::text[])""",
                tenant,
                year,
                list(measures),
            )
        by_measure: dict[str, dict[str, float]] = defaultdict(dict)
        for r in figures:
            by_measure[r["measure"]][r["area"]] = float(r["value"])
        return Comparators(
            authorities={r["la_code"]: Authority(*r.values()) for r in authorities},
            neighbours={tenant: tuple(r["neighbour"] for r in neighbours)},
            figures=dict(by_measure),
        )

    async def latest_year(self, tenant: str, up_to: str) -> str | None:
        """The latest financial year, up to ``up_to``, with any of the tenant's figures."""
        async with self.pool.acquire() as conn:
            year = await conn.fetchval(
                f"SELECT max(year) FROM {SCHEMA}.benchmark_figure WHERE tenant = $1 AND year <= $2", tenant, up_to
            )
        return None if year is None else str(year)

    async def set_live_comparison(self, tenant: str, opted_in: bool, actor: str) -> None:
        async with self.pool.acquire() as conn:
            if opted_in:
                await conn.execute(
                    f"""INSERT INTO {SCHEMA}.benchmark_live_opt_in (tenant, opted_in_by) VALUES ($1, $2)
                        ON CONFLICT (tenant) DO NOTHING""",
                    tenant,
                    actor,
                )
            else:
                await conn.execute(f"DELETE FROM {SCHEMA}.benchmark_live_opt_in WHERE tenant = $1", tenant)

    async def live_peers(self, tenant: str) -> tuple[bool, list[str]]:
        """(whether the tenant has opted in, the other opted-in tenants — none unless it has)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT tenant FROM {SCHEMA}.benchmark_live_opt_in
                    WHERE EXISTS (SELECT 1 FROM {SCHEMA}.benchmark_live_opt_in WHERE tenant = $1)
                    ORDER BY tenant = $1 DESC, tenant LIMIT $2""",
                tenant,
                MAX_LIVE_PEERS + 1,
            )
        found = [r["tenant"] for r in rows]
        if not found:
            return False, []
        return True, [t for t in found if t != tenant]


@dataclass
class QueriedKpis:
    """`handlers.LiveKpis` from reporting's KPI queries: the whole authority, the ids this
    build computes (a mapped KPI of a strand not deployed is compared on published figures)."""

    queries: ReportingQueries

    async def values(
        self, tenant: str, period: Period, kpi_ids: Sequence[str], *, detail: bool
    ) -> dict[str, kpis.KpiValue]:
        known = [k for k in kpi_ids if kpis.is_known_kpi(k)]
        if not known:
            return {}
        found = await self.queries.values(tenant, period, kpis.NO_FILTERS, detail=detail, kpi_ids=known)
        return {v.kpi: v for v in found}
