"""Reporting use cases: KPI figures for a slice or a series, the catalogue, the follow-up
listing — each a few indexed SQL statements over the read models (`queries.py`), whatever
the length of the history — and the publication rules (suppression, RAG) on top."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg

from services.reporting import kpis
from services.reporting.activity import breakdown_teams
from services.reporting.followups import FollowUp
from services.reporting.learning import followup_of
from services.reporting.queries import KpiQueries
from services.reporting.store import SCHEMA
from services.reporting.subjects import Subject, load_subjects
from shared.calendar import LONDON, Period
from shared.tenant_config.cache import FixedConfig, TenantConfigs

Clock = Callable[[], date]


def _shown(v: kpis.KpiValue) -> bool:
    """A published figure on some cases: one a breakdown could hide."""
    return not v.suppressed and bool(v.value if v.denominator is None else v.denominator)


def london_today() -> date:
    return datetime.now(LONDON).date()


def clock_for(as_of: date | None) -> Clock:
    """The clock reporting reads "today" from: a fixed day where one is configured
    (`QALOOP_AS_OF`: the demo stands at the end of its simulated year), else London's today.
    Chosen once, where the service is composed (`app.build`, `report.inputs`), and passed
    to everything that asks the date: KPI queries, follow-up listings and transitions, the
    dashboard and the report."""
    if as_of is None:
        return london_today

    def fixed() -> date:
        return as_of

    return fixed


@dataclass
class ReportingQueries:
    """Reporting's read side. `pool` is the primary (commentary is written there); `reads`
    is the read replica's pool when one is configured (QALOOP_DATABASE_READ_URL), else the
    primary's: every query below reads through it."""

    pool: asyncpg.Pool
    # Each authority's targets, small-number threshold, calendar, timescales and grade rule
    # as configured now (shared/tenant_config: the service's ConfigCache).
    config: TenantConfigs = field(default_factory=FixedConfig)
    clock: Clock = london_today
    # Each authority's name as people say it, by tenant (the configured QALOOP_AUTHORITY_NAME
    # names QALOOP_TENANT's); a tenant without one is named by its code.
    authority_names: dict[str, str] = field(default_factory=dict)
    sql: KpiQueries = field(default_factory=KpiQueries)
    read_pool: asyncpg.Pool | None = None

    def targets(self, tenant: str) -> dict[str, kpis.Target]:
        """The authority's KPI targets: what RAG is read against."""
        return {
            kpi: kpis.Target(t.target, t.amber_tolerance, t.higher_is_better)
            for kpi, t in self.config.for_tenant(tenant).targets.items()
        }

    def threshold(self, tenant: str) -> int:
        """The authority's small-number threshold."""
        return self.config.for_tenant(tenant).small_number_threshold

    @property
    def reads(self) -> asyncpg.Pool:
        return self.read_pool or self.pool

    async def values(
        self,
        tenant: str,
        period: Period,
        filters: kpis.Filters,
        *,
        detail: bool,
        kpi_ids: Iterable[str] | None = None,
    ) -> list[kpis.KpiValue]:
        (values,) = await self.series(tenant, [period], filters, detail=detail, kpi_ids=kpi_ids)
        return values

    async def series(
        self,
        tenant: str,
        periods: Sequence[Period],
        filters: kpis.Filters,
        *,
        detail: bool,
        kpi_ids: Iterable[str] | None = None,
    ) -> list[list[kpis.KpiValue]]:
        """The KPI values of each period, all periods in the same statements. For a reader
        without ``detail``: small numbers suppressed; a team- or category-filtered figure
        published only where its cell of the breakdown it belongs to is (`_as_in_breakdown`);
        and the categories protected by secondary suppression (they add up to complaints
        received). A category asked for alone is protected among all the tenant's categories
        and the slice's complaints received, so that asking for it by itself shows nothing
        its breakdown hides. Every filtered read (`/v1/kpis/values`, `/series`, the
        dashboard's tiles and downloads) passes through here."""
        wanted = None if kpi_ids is None else list(kpi_ids)
        protect = not detail and wanted is not None and any(k.startswith(kpis.BY_CATEGORY) for k in wanted)
        async with self.reads.acquire() as conn:
            asked = wanted
            if protect and wanted is not None:
                every = (await self.sql.members(conn, tenant))[kpis.BY_CATEGORY]
                asked = list(dict.fromkeys([*wanted, "complaints.received", *(kpis.BY_CATEGORY + c for c in every)]))
            raw = await self.sql.values(conn, tenant, periods, filters, today=self.clock(), kpi_ids=asked)
            published = [self._rules(tenant, values, detail) for values in raw]
            if not detail and (filters.team is not None or filters.category is not None):
                published = await self._as_in_breakdown(conn, tenant, periods, filters, published)
        if not detail:
            published = [kpis.protect_categories(values) for values in published]
        if protect and wanted is not None:
            keep = set(wanted)
            published = [[v for v in values if v.kpi in keep] for values in published]
        return published

    def _rules(self, tenant: str, values: Iterable[kpis.KpiValue], detail: bool) -> list[kpis.KpiValue]:
        """Suppression and RAG by the authority's threshold and targets as configured now."""
        return kpis.apply_publication_rules(
            values, detail=detail, threshold=self.threshold(tenant), targets=self.targets(tenant)
        )

    async def _as_in_breakdown(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        periods: Sequence[Period],
        filters: kpis.Filters,
        published: list[list[kpis.KpiValue]],
    ) -> list[list[kpis.KpiValue]]:
        """A team-filtered slice is a cell of the per-team breakdown (of its complaint
        category, every team of the period: `team_breakdowns`); a category-filtered one
        (no team) a cell of the breakdown across the tenant's categories (in its service
        area). Each published figure of those KPIs is kept only where that cell is published
        (`kpis.publish_filtered`). Only the KPIs with a figure still to check are computed."""
        by_team = filters.team is not None
        of_breakdown = (
            set(kpis.team_kpi_ids()) if by_team else {k for k in kpis.fixed_kpi_ids() if kpis.reads_category(k)}
        )
        needed = sorted(
            {
                v.kpi
                for values in published
                for v in values
                if _shown(v) and (v.kpi in of_breakdown or (by_team and kpis.is_family_member(v.kpi)))
            }
        )
        if not needed:
            return published
        if by_team:
            place = kpis.Filters(category=filters.category)
            member = filters.team
            breakdowns = [
                kpis.team_breakdown(t, v)
                for t, v in await self.team_breakdowns(conn, tenant, periods, place, needed, detail=False)
            ]
        else:
            member = filters.category
            breakdowns = await self._category_breakdowns(conn, tenant, periods, filters, needed)
        assert member is not None
        return [kpis.publish_filtered(values, b, member) for values, b in zip(published, breakdowns, strict=True)]

    async def _category_breakdowns(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        periods: Sequence[Period],
        filters: kpis.Filters,
        kpi_ids: list[str],
    ) -> list[kpis.Breakdown]:
        """Per period, ``kpi_ids`` for each of the tenant's categories in the slice's service
        area (a category's figures are the complaints of that category; a team filter is not
        set here), published."""
        categories = (await self.sql.members(conn, tenant))[kpis.BY_CATEGORY]
        per: list[list[dict[str, kpis.KpiValue]]] = []
        for category in categories:
            slice_ = kpis.Filters(service_area=filters.service_area, category=category)
            raw = await self.sql.values(conn, tenant, periods, slice_, today=self.clock(), kpi_ids=kpi_ids)
            per.append([{v.kpi: v for v in self._rules(tenant, values, False)} for values in raw])
        return [
            kpis.category_breakdown(categories, {k: [per[c][i][k] for c in range(len(categories))] for k in kpi_ids})
            for i in range(len(periods))
        ]

    async def team_breakdowns(
        self,
        conn: asyncpg.Connection,
        tenant: str,
        periods: Sequence[Period],
        filters: kpis.Filters,
        kpi_ids: Sequence[str],
        *,
        detail: bool,
    ) -> list[tuple[list[tuple[str, str]], dict[str, list[kpis.KpiValue]]]]:
        """Per period, the per-team breakdown of ``kpi_ids`` (KPIs that have a team, a family's
        members included: a question, an audit area, a category — a team without one has it on
        no cases) of the slice's complaint category: every team of the period (`activity.breakdown_teams`,
        whatever service area is shown) and per KPI one published value per team, in that
        order, not yet protected: for a reader without ``detail`` every by-team table protects
        each line with `kpis.protect_teams` (then shows the teams of its service area). One KPI
        query per team, for all the periods at once."""
        teams_per = [await breakdown_teams(conn, tenant, p) for p in periods]
        every = sorted({t for teams in teams_per for t in teams}, key=lambda ta: (ta[1], ta[0]))
        found: dict[tuple[str, str], list[dict[str, kpis.KpiValue]]] = {}
        for team, area in every:
            slice_ = kpis.Filters(service_area=area, team=team, category=filters.category)
            raw = await self.sql.values(conn, tenant, periods, slice_, today=self.clock(), kpi_ids=kpi_ids)
            found[(team, area)] = [{v.kpi: v for v in self._rules(tenant, values, detail)} for values in raw]
        return [
            (teams, {k: [found[t][i].get(k) or kpis.no_cases(k) for t in teams] for k in kpi_ids})
            for i, teams in enumerate(teams_per)
        ]

    async def by_team(
        self, tenant: str, period: Period, category: str | None, *, detail: bool, kpi_ids: Iterable[str] | None = None
    ) -> tuple[list[tuple[str, str]], dict[str, list[kpis.KpiValue]]]:
        """`team_breakdowns` of one period, on a connection of its own; ``kpi_ids`` default
        to every KPI that has a team."""
        wanted = [k for k in (kpi_ids or kpis.team_kpi_ids()) if k not in kpis.TEAMLESS]
        async with self.reads.acquire() as conn:
            ((teams, values),) = await self.team_breakdowns(
                conn, tenant, [period], kpis.Filters(category=category), wanted, detail=detail
            )
        return teams, values

    def authority(self, tenant: str) -> str:
        """ "Westshire County Council (E10000034)", or the code alone when no name is configured."""
        name = self.authority_names.get(tenant)
        return f"{name} ({tenant})" if name else tenant

    async def catalogue(self, tenant: str) -> list[kpis.KpiDefinition]:
        async with self.reads.acquire() as conn:
            members = await self.sql.members(conn, tenant)
        return kpis.catalogue(
            question_ids=members[kpis.POSITIVE_RATE],
            categories=members[kpis.BY_CATEGORY],
            areas=members.get(kpis.AREA_GOOD, []),
            staff_question_ids=members[kpis.SURVEY_POSITIVE_RATE],
        )

    async def followups(
        self,
        tenant: str,
        *,
        status: str | None = None,
        filters: kpis.Filters = kpis.Filters(),
        rule: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[FollowUp]:
        """The tenant's follow-ups already opened by today, by (opened_on, followup_id):
        ``status`` open (overdue included), overdue or closed as of today; a team filter
        leaves out follow-ups with no team. Filtered and paged in SQL, through the index on
        opening dates (and the partial index on open rows), so a page costs its own rows."""
        today = self.clock()
        where = {
            None: "",
            "open": "AND (closed_on IS NULL OR closed_on > $2)",
            "overdue": "AND (closed_on IS NULL OR closed_on > $2) AND due_date < $2",
            "closed": "AND closed_on <= $2",
        }[status]
        async with self.reads.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT * FROM {SCHEMA}.followups
                    WHERE tenant = $1 AND opened_on <= $2 {where}
                      AND ($3::text IS NULL OR service_area = $3) AND ($4::text IS NULL OR team = $4)
                      AND ($5::text IS NULL OR rule = $5)
                    ORDER BY opened_on, followup_id LIMIT $6 OFFSET $7""",
                tenant,
                today,
                filters.service_area,
                filters.team,
                rule,
                limit,
                offset,
            )
        return [followup_of(r) for r in rows]

    async def followup(self, tenant: str, followup_id: str) -> FollowUp | None:
        """One of the tenant's follow-ups already opened by today (None: no such follow-up,
        another tenant's, or one that opens after today)."""
        async with self.reads.acquire() as conn:
            row = await conn.fetchrow(
                f"""SELECT * FROM {SCHEMA}.followups
                    WHERE tenant = $1 AND followup_id = $2 AND opened_on <= $3""",
                tenant,
                followup_id,
                self.clock(),
            )
        return followup_of(row) if row else None

    async def subjects(self, tenant: str, followups: Sequence[FollowUp]) -> dict[str, Subject]:
        """What each follow-up is about (`subjects.py`): by its origin's read-model rows."""
        async with self.pool.acquire() as conn:
            return await load_subjects(conn, SCHEMA, tenant, followups)
