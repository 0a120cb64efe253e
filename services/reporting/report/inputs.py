"""Load what the quarterly report is made from, reading only the quarter and the previous
one — never the tenant's whole history — in one read-only snapshot (REPEATABLE READ), so
that every table of a report agrees with every other even while new events arrive:

* the read-model rows (`readmodels.py`) its sections list, by the (tenant, date) indexes of
  the two quarters: survey responses, compliments, "you said, we did" items, moderations,
  complaint receipts, closings (with their effective due dates and working days) and
  escalations, and the audits counted in either quarter (with their moderated grades);
* the rows of the aggregates those rows belong to, by id: the ComplaintReceived of each
  complaint closed in the quarter, and the raisings, resolutions and targeted audits of each
  concern raised, resolved or open in it;
* the follow-ups opened, closed or open in the quarter, and which rules the tenant has any of;
* the published KPI values of every period and slice the report shows
  (`content.kpi_requests`), from reporting's KPI statements (`queries.py`), periods of one
  slice in one statement;
* the managers' commentary for the period, and the words of the quarter's "you said, we
  did" items and of the survey questions answered in the two quarters, which the read models
  do not keep (read from the event store, by event id; `wording.py` for the questions).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import asyncpg

from services.reporting import facts as f
from services.reporting import kpis, store
from services.reporting.activity import breakdown_teams
from services.reporting.benchmarks.inputs import benchmarks_of
from services.reporting.followups import GradedAudit
from services.reporting.handlers import ReportingQueries, clock_for
from services.reporting.learning import followup_of
from services.reporting.readmodels import ReadModels
from services.reporting.subjects import load_subjects
from services.reporting.wording import question_wording
from shared.calendar import Period
from shared.events import Grade
from shared.settings import Settings
from shared.tenant_config.cache import ConfigCache
from shared.tenant_config.defaults import defaults_for

from .content import kpi_requests
from .model import KpiRequest, OpenFollowUp, ReportInputs, RuleTally

OPEN_FOLLOWUPS_LISTED = 25  # the report lists the most overdue of the follow-ups open at its end


async def period_commentary(
    conn: asyncpg.Connection, tenant: str, period: Period
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """The period's commentary: {kpi: text} on the whole authority, and {(kpi, filters): text}
    on one service area or team."""
    rows = await conn.fetch(
        f"SELECT kpi, filters, commentary FROM {store.SCHEMA}.kpi_commentary WHERE tenant = $1 AND period = $2",
        tenant,
        period.label,
    )
    whole = {r["kpi"]: r["commentary"] for r in rows if not r["filters"]}
    sliced = {(r["kpi"], r["filters"]): r["commentary"] for r in rows if r["filters"]}
    return whole, sliced


async def you_said_we_did_words(
    conn: asyncpg.Connection, tenant: str, keys: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """{fact key ("<source> <id>"): (you_said, we_did)} for the YouSaidWeDidPublished events."""
    wanted = sorted({(source, event_id) for source, _, event_id in (k.partition(" ") for k in keys)})
    if not wanted:
        return {}
    # By (source, id): the event store's unique key, so an index lookup per item.
    rows = await conn.fetch(
        f"""SELECT e.source, e.id, e.envelope -> 'data' AS data
            FROM unnest($2::text[], $3::text[]) AS k(source, id)
            JOIN {store.SCHEMA}.event_store e ON e.source = k.source AND e.id = k.id
            WHERE e.tenant = $1 AND e.type = 'YouSaidWeDidPublished'""",
        tenant,
        [source for source, _ in wanted],
        [event_id for _, event_id in wanted],
    )
    out = {}
    for r in rows:
        data: Any = r["data"]
        if isinstance(data, str):
            data = json.loads(data)
        out[f"{r['source']} {r['id']}"] = (str(data.get("you_said", "")), str(data.get("we_did", "")))
    return out


@dataclass
class _Reader:
    """The report's reads on one connection (inside the snapshot's transaction)."""

    conn: asyncpg.Connection
    readmodels: ReadModels
    tenant: str

    async def between(
        self, cls: type, column: str, start: date, end: date, where: str = ""
    ) -> tuple[list[Any], list[asyncpg.Record]]:
        """The facts of ``cls`` whose ``column`` (a date with a (tenant, date) index) is in
        [start, end]; and their rows, for the derived columns."""
        spec = self.readmodels.spec(cls)
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.readmodels.schema}.{spec.table}
                WHERE tenant = $1 AND {column} BETWEEN $2 AND $3 {where}""",
            self.tenant,
            start,
            end,
        )
        return [spec.fact(r) for r in rows], rows

    async def by_id(self, cls: type, column: str, ids: Iterable[str]) -> list[Any]:
        return await self.readmodels.load(self.conn, cls, self.tenant, column, ids)

    async def audits(self, start: date, end: date) -> dict[str, GradedAudit]:
        """The audits counted in [start, end]: each one's latest grading, at its grade after
        the latest moderation (the read model's `d_counted`, `d_grade`)."""
        gradings, rows = await self.between(f.AuditGradedFact, "completed_on", start, end, "AND d_counted")
        return {
            g.audit_id: GradedAudit(g, Grade(r["d_grade"] or g.overall_grade))
            for g, r in zip(gradings, rows, strict=True)
        }

    async def complaints(self, p: Period) -> tuple[dict[str, list[Any]], dict[str, tuple[date, int]]]:
        """The quarter's receipts, closings and escalations, every ComplaintReceived of the
        complaints closed in it, and each closing's effective due date and working days."""
        closed, closed_rows = await self.between(f.ComplaintClosedFact, "closed_on", p.start, p.end)
        received, _ = await self.between(f.ComplaintReceivedFact, "received_on", p.start, p.end)
        received += await self.by_id(f.ComplaintReceivedFact, "complaint_id", {c.complaint_id for c in closed})
        escalated, _ = await self.between(f.ComplaintEscalatedFact, "escalated_on", p.start, p.end)
        clocks = {
            r["key"]: (r["d_due_date"] or r["due_date"], int(r["d_working_days"] or r["working_days_taken"]))
            for r in closed_rows
        }
        lists = {"complaints_received": received, "complaints_closed": closed, "complaints_escalated": escalated}
        return lists, clocks

    async def concerns(self, p: Period, end: date) -> dict[str, list[Any]]:
        """Every raising, resolution and targeted audit of the concerns raised or resolved in
        the quarter or open during it (its concern-targeted-audit follow-up: one per concern
        raised, closed by the concern's first resolution)."""
        raised, _ = await self.between(f.ConcernRaisedFact, "raised_on", p.start, p.end)
        resolved, _ = await self.between(f.ConcernResolvedFact, "resolved_on", p.start, p.end)
        ids = {c.concern_id for c in raised} | {r.concern_id for r in resolved}
        ids |= await self.concerns_open_during(p, end)
        spec = self.readmodels.spec(f.AuditGradedFact)
        targeted = await self.conn.fetch(
            f"""SELECT * FROM {self.readmodels.schema}.{spec.table}
                WHERE tenant = $1 AND concern_id = ANY($2::text[]) AND audit_type = 'targeted'""",
            self.tenant,
            sorted(ids),
        )
        return {
            "concerns_raised": await self.by_id(f.ConcernRaisedFact, "concern_id", ids),
            "concerns_resolved": await self.by_id(f.ConcernResolvedFact, "concern_id", ids),
            "audits_graded": [spec.fact(r) for r in targeted],
        }

    async def workforce(self, p: Period) -> dict[str, list[Any]]:
        """The social workers' records in post at the quarter's end, and the leaves (each
        ending a spell) of social workers in the quarter and the previous one."""
        social_workers = "IN ('social_worker', 'senior', 'manager')"
        in_post, _ = await self.between(
            f.StaffJoinedFact,
            "joined_on",
            date.min,
            p.end,
            f"AND role {social_workers} AND (d_until IS NULL OR d_until > $3)",
        )
        previous = p.previous()
        left, _ = await self.between(
            f.StaffLeftFact, "left_on", previous.start, p.end, f"AND d_counted AND d_role {social_workers}"
        )
        return {"staff_joined": in_post, "staff_left": left}

    async def followup_tally(self, p: Period, end: date) -> dict[str, RuleTally]:
        """Per rule: follow-ups opened in the quarter, closed in it (and on time), open and
        overdue at ``end``, and re-audits closed in it that improved — aggregated in SQL over
        the follow-ups opened or closed in the quarter or open at its end, each part through
        an index on (tenant, date)."""
        schema = self.readmodels.schema
        rows = await self.conn.fetch(
            f"""SELECT rule,
                       count(*) FILTER (WHERE opened_on BETWEEN $2 AND $3) AS opened,
                       count(*) FILTER (WHERE closed_on BETWEEN $2 AND $3) AS closed,
                       count(*) FILTER (WHERE closed_on BETWEEN $2 AND $3 AND closed_on <= due_date) AS on_time,
                       count(*) FILTER (WHERE opened_on <= $4 AND (closed_on IS NULL OR closed_on > $4)) AS open,
                       count(*) FILTER (WHERE opened_on <= $4 AND (closed_on IS NULL OR closed_on > $4)
                                          AND due_date < $4) AS overdue,
                       count(*) FILTER (WHERE closed_on BETWEEN $2 AND $3 AND improved) AS improved
                FROM (SELECT * FROM {schema}.followups WHERE tenant = $1 AND opened_on BETWEEN $2 AND $3
                      UNION
                      SELECT * FROM {schema}.followups WHERE tenant = $1 AND closed_on BETWEEN $2 AND $3
                      UNION
                      SELECT * FROM {schema}.followups WHERE tenant = $1 AND closed_on IS NULL AND opened_on <= $4
                      UNION
                      SELECT * FROM {schema}.followups WHERE tenant = $1 AND closed_on > $4 AND opened_on <= $4) x
                GROUP BY rule""",
            self.tenant,
            p.start,
            p.end,
            end,
        )
        return {
            r["rule"]: RuleTally(*(int(r[c]) for c in ("opened", "closed", "on_time", "open", "overdue", "improved")))
            for r in rows
        }

    async def open_followups(self, end: date, limit: int) -> tuple[list[OpenFollowUp], int]:
        """The follow-ups open at ``end``, most overdue (earliest due) first, at most
        ``limit``, each described (`subjects.py`); and how many were open in all."""
        schema = self.readmodels.schema
        open_at_end = f"""SELECT * FROM {schema}.followups WHERE tenant = $1 AND closed_on IS NULL AND opened_on <= $2
                          UNION ALL
                          SELECT * FROM {schema}.followups WHERE tenant = $1 AND closed_on > $2 AND opened_on <= $2"""
        total = int(await self.conn.fetchval(f"SELECT count(*) FROM ({open_at_end}) x", self.tenant, end))
        rows = await self.conn.fetch(
            f"SELECT * FROM ({open_at_end}) x ORDER BY due_date, followup_id LIMIT $3", self.tenant, end, limit
        )
        found = [followup_of(r) for r in rows]
        subjects = await load_subjects(self.conn, schema, self.tenant, found)
        lines = [
            OpenFollowUp(
                fu.rule,
                fu.origin,
                subjects[fu.followup_id].text if fu.followup_id in subjects else None,
                fu.team,
                fu.opened_on,
                fu.due_date,
            )
            for fu in found
        ]
        return lines, total

    async def concerns_open_during(self, p: Period, end: date) -> set[str]:
        """Concerns whose concern-targeted-audit follow-up (one per concern raised, closed by
        its first resolution) was open at some time in the quarter."""
        schema = self.readmodels.schema
        rows = await self.conn.fetch(
            f"""SELECT origin_id FROM {schema}.followups
                WHERE tenant = $1 AND closed_on IS NULL AND opened_on <= $3 AND rule = 'concern-targeted-audit'
                UNION
                SELECT origin_id FROM {schema}.followups
                WHERE tenant = $1 AND closed_on >= $2 AND opened_on <= $3 AND rule = 'concern-targeted-audit'""",
            self.tenant,
            p.start,
            end,
        )
        return {r["origin_id"] for r in rows}

    async def followup_rules(self) -> list[str]:
        """The rules the tenant has follow-ups of: a skip scan of the (tenant, rule, origin_id)
        index, one lookup per rule."""
        schema = self.readmodels.schema
        rows = await self.conn.fetch(
            f"""WITH RECURSIVE r(rule) AS (
                    (SELECT rule FROM {schema}.followups WHERE tenant = $1 ORDER BY rule LIMIT 1)
                    UNION ALL
                    SELECT (SELECT x.rule FROM {schema}.followups x
                            WHERE x.tenant = $1 AND x.rule > r.rule ORDER BY x.rule LIMIT 1)
                    FROM r WHERE r.rule IS NOT NULL)
                SELECT rule FROM r WHERE rule IS NOT NULL""",
            self.tenant,
        )
        return [r["rule"] for r in rows]


async def _kpi_values(
    queries: ReportingQueries, conn: asyncpg.Connection, tenant: str, today: date, requests: Sequence[KpiRequest]
) -> dict[KpiRequest, dict[str, kpis.KpiValue]]:
    """Published values (as `ReportingQueries.series` gives them without reporting:detail)
    for each request, on the snapshot's connection: one KPI query per slice and set of ids,
    for all the periods asked of it."""
    groups: dict[tuple[kpis.Filters, tuple[str, ...] | None], list[Period]] = defaultdict(list)
    for r in requests:
        groups[(r.filters, r.kpi_ids)].append(r.period)
    out: dict[KpiRequest, dict[str, kpis.KpiValue]] = {}
    for (filters, kpi_ids), periods in groups.items():
        raw = await queries.sql.values(conn, tenant, periods, filters, today=today, kpi_ids=kpi_ids)
        for period, values in zip(periods, raw, strict=True):
            published = kpis.apply_publication_rules(
                values, detail=False, threshold=queries.threshold(tenant), targets=queries.targets(tenant)
            )
            out[KpiRequest(period, filters, kpi_ids)] = {v.kpi: v for v in published}
    return out


async def load_inputs(queries: ReportingQueries, tenant: str, period: Period) -> ReportInputs:
    """Everything `content.build_report` needs for ``period`` (a financial quarter)."""
    if period.kind != "quarter":
        raise ValueError(f"the quarterly report is for a financial quarter, not a {period.kind}")
    today = queries.clock()
    previous = period.previous()
    end = today if period.contains(today) else period.end
    readmodels = ReadModels(queries.config)
    async with queries.reads.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        read = _Reader(conn, readmodels, tenant)
        lists, clocks = await read.complaints(period)
        lists |= await read.concerns(period, end)
        lists["feedback"], _ = await read.between(f.FeedbackFact, "received_on", previous.start, period.end)
        lists["compliments"], _ = await read.between(f.ComplimentFact, "received_on", period.start, period.end)
        lists["you_said_we_did"], _ = await read.between(f.YouSaidWeDidFact, "published_on", period.start, period.end)
        lists["audits_moderated"], _ = await read.between(
            f.AuditModeratedFact, "moderated_on", period.start, period.end
        )
        lists |= await read.workforce(period)
        commentary, commentary_on_slices = await period_commentary(conn, tenant, period)
        open_followups, open_total = await read.open_followups(end, OPEN_FOLLOWUPS_LISTED)
        inputs = ReportInputs(
            tenant=tenant,
            authority=queries.authority(tenant),
            period=period,
            today=today,
            facts=f.Facts(**lists),
            followups=await read.followup_tally(period, end),
            audits=await read.audits(previous.start, period.end),
            closing_clocks=clocks,
            followup_rules=await read.followup_rules(),
            threshold=queries.threshold(tenant),
            targets=queries.targets(tenant),
            commentary=commentary,
            commentary_on_slices=commentary_on_slices,
            you_said_we_did=await you_said_we_did_words(conn, tenant, [y.key for y in lists["you_said_we_did"]]),
            overall_grade_rule=queries.config.for_tenant(tenant).overall_grade_rule,
            question_wording=await question_wording(conn, tenant, previous.start, period.end),
            open_followups=open_followups,
            open_followups_total=open_total,
            # the quarter's teams, as the dashboard's for the same period
            teams=await breakdown_teams(conn, tenant, period),
        )
        values: dict[KpiRequest, dict[str, kpis.KpiValue]] = {}
        while missing := [r for r in kpi_requests(inputs) if r not in values]:
            values |= await _kpi_values(queries, conn, tenant, today, missing)
            inputs = replace(inputs, kpi_values=values)
    return replace(inputs, benchmarks=await benchmarks_of(queries, tenant, period))


async def queries_from_settings(pool: asyncpg.Pool, settings: Settings) -> ReportingQueries:
    """ReportingQueries configured as the reporting service configures its own (app.py), for
    building a report straight from the database without the service running: each
    authority's configuration as stored (shared/tenant_config) over the environment's
    defaults."""
    config = ConfigCache(functools.partial(defaults_for, settings))
    if pool is not None:
        await config.bind(pool)
    return ReportingQueries(
        pool,
        config=config,
        clock=clock_for(settings.as_of),
        authority_names={settings.tenant: settings.authority_name} if settings.authority_name else {},
    )
