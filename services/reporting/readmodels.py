"""Reporting's read models (SQL): one table per kind of fact, written in the inbox
transaction, and the derived columns of every aggregate a batch touches.

* `write_facts` appends the batch's facts, one set-based INSERT per table (a fact is a row;
  rows only accumulate, so any order converges). Columns are the fact's fields
  (`facts.py`), found from the dataclass, so a new field needs a column and nothing here.
* `derive_touched` recomputes the ``d_*`` columns of each aggregate the batch touched — an
  audit (its counted grading and moderated grade), a complaint (each closing's effective
  due date, working days and slice), an action (its first raise and first completion), a
  child (re-referrals) — from *all* that aggregate's rows, with the same pure rules
  (`followups.py`, `kpis.py`). The cost is per touched aggregate, never per history.
* `load_*` read an aggregate's rows back as facts, for the derivations and the follow-ups.

Configuration read here, per tenant (`TenantConfigs`: its working-day calendar, its
complaint timescales — the complaints service's own setting — and its follow-up rules), is
the authority's as configured now (shared/tenant_config). Rows already written keep the
settings they were written under until a rebuild: a change to one of these settings makes
reporting rebuild its read models (`ReportingService._follow_config`).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import asyncpg

from services.reporting import facts as f
from services.reporting.followups import (
    action_completions,
    counted_resolutions,
    first_raised,
    first_raised_concerns,
    graded_audits,
    latest_schedules,
    re_referrals,
)
from services.reporting.kpis import AREA_GOOD, BY_CATEGORY, POSITIVE_RATE, SURVEY_POSITIVE_RATE, ComplaintView
from services.reporting.workforce import staff_timeline
from shared.calendar import WorkingCalendar
from shared.tenant_config.cache import FixedConfig, TenantConfigs

SCHEMA = "reporting"

# Fact class -> its table, and the projection (as /v1/projections/status names them).
TABLES: dict[type, tuple[str, str]] = {
    f.AuditGradedFact: ("audit_graded", "audits"),
    f.AuditModeratedFact: ("audit_moderated", "audits"),
    f.AuditScheduledFact: ("audit_scheduled", "audits"),
    f.InspectionFindingFact: ("inspection_finding", "audits"),
    f.ConcernRaisedFact: ("concern_raised", "audits"),
    f.ConcernResolvedFact: ("concern_resolved", "audits"),
    f.FeedbackFact: ("feedback", "feedback"),
    f.ComplimentFact: ("compliment", "feedback"),
    f.YouSaidWeDidFact: ("you_said_we_did", "feedback"),
    f.ComplaintReceivedFact: ("complaint_received", "complaints"),
    f.ComplaintExtendedFact: ("complaint_extended", "complaints"),
    f.ComplaintEscalatedFact: ("complaint_escalated", "complaints"),
    f.ComplaintClosedFact: ("complaint_closed", "complaints"),
    f.ComplaintStatementAgreedFact: ("complaint_statement_agreed", "complaints"),
    f.ComplaintPanelHeldFact: ("complaint_panel_held", "complaints"),
    f.OmbudsmanReferralFact: ("ombudsman_referral", "complaints"),
    f.OmbudsmanDecisionFact: ("ombudsman_decision", "complaints"),
    f.ActionRaisedFact: ("action_raised", "actions"),
    f.ActionCompletedFact: ("action_completed", "actions"),
    f.ReferralFact: ("referral", "casework"),
    f.AssessmentFact: ("assessment", "casework"),
    f.EhcpFact: ("ehcp", "casework"),
    f.ContactAttemptFact: ("contact_attempt", "casework"),
    f.StaffJoinedFact: ("staff_joined", "workforce"),
    f.StaffLeftFact: ("staff_left", "workforce"),
    f.VacancyFact: ("vacancy", "workforce"),
    f.CaseloadFact: ("caseload", "workforce"),
    f.StaffSurveyFact: ("staff_survey", "workforce"),
}
PROJECTIONS = ("audits", "feedback", "complaints", "actions", "casework", "workforce")
# Reporting's connections plan each statement for its own parameters. A cached generic plan
# for `tenant = $1 AND audit_id = ANY($2)` or a period's range cannot see how few rows the
# parameters select and, with statistics that lag (or none, where autovacuum is off), may
# read every row of the tenant; measured, it made KPI queries 3x slower at 10x history.
PLANNING = {"plan_cache_mode": "force_custom_plan"}
# Every table of the read models (rebuild swaps them all), follow-ups last.
ALL_TABLES = (
    *(t for t, _ in TABLES.values()),
    "feedback_answer",
    "staff_survey_answer",
    "kpi_member",
    "followups",
    "followups_retracted",
)

_PG_TYPES: dict[Any, str] = {
    str: "text",
    int: "numeric",
    float: "numeric",
    bool: "boolean",
    date: "date",
    datetime: "timestamptz",
}


def _pg_type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint in _PG_TYPES:
        return _PG_TYPES[hint]
    if len(args) == 1 and args[0] in _PG_TYPES:
        return _PG_TYPES[args[0]]
    return "jsonb"  # FeedbackFact.answers, AuditGradedFact.area_grades


# Fields held as JSON: the class of each element.
_JSON_FIELDS: dict[str, type] = {"answers": f.AnswerFact, "area_grades": f.AreaGradeFact}


Derived = Callable[[Any, WorkingCalendar], Any]


def _write_time_columns() -> dict[type, tuple[tuple[str, str, Derived], ...]]:
    """Derived columns that depend on the fact alone (and its tenant's calendar): set on insert."""
    return {
        f.AssessmentFact: (
            ("d_within", "boolean", lambda a, cal: a.completed_on <= cal.add_working_days(a.started_on, 45)),
        ),
        f.EhcpFact: (("d_within", "boolean", lambda p, _: (p.issued_on - p.requested_on).days <= 140),),
    }


@dataclass(frozen=True)
class TableSpec:
    """How one fact class is stored: its table, the fact's fields as columns, and any
    derived columns computed when the row is written."""

    cls: type
    table: str
    fields: tuple[str, ...]
    types: tuple[str, ...]
    extras: tuple[tuple[str, str, Derived], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return ("tenant", *self.fields, *(name for name, _, _ in self.extras))

    @property
    def column_types(self) -> tuple[str, ...]:
        return ("text", *self.types, *(t for _, t, _ in self.extras))

    def row(self, tenant: str, fact: Any, calendar: WorkingCalendar) -> tuple[Any, ...]:
        values = [_encode(getattr(fact, name)) for name in self.fields]
        return (tenant, *values, *(compute(fact, calendar) for _, _, compute in self.extras))

    def insert_sql(self, schema: str = SCHEMA) -> str:
        """One INSERT of many rows: a text[] (JSON text, for jsonb) or typed array per column."""
        cols = ", ".join(self.columns)
        arrays = ", ".join(f"${i}::{'text' if t == 'jsonb' else t}[]" for i, t in enumerate(self.column_types, 1))
        names = ", ".join(f"c{i}" for i in range(len(self.columns)))
        values = ", ".join(f"c{i}::jsonb" if t == "jsonb" else f"c{i}" for i, t in enumerate(self.column_types))
        return (
            f"INSERT INTO {schema}.{self.table} ({cols}) SELECT {values} FROM unnest({arrays}) AS u({names}) "
            "ON CONFLICT (tenant, key) DO NOTHING"
        )

    def fact(self, row: asyncpg.Record | dict[str, Any]) -> Any:
        return self.cls(*[row[name] if decode is None else decode(row[name]) for name, decode in _decoders(self.cls)])


def _encode(value: Any) -> Any:
    if isinstance(value, tuple):  # answers, area grades: as JSON text
        return json.dumps([dataclasses.asdict(v) for v in value], separators=(",", ":"))
    return value


@cache
def _decoders(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Per field in declaration order: how to turn its column back into the field (None: as
    it comes)."""
    hints = typing.get_type_hints(cls)
    out: list[tuple[str, Callable[[Any], Any] | None]] = []
    for fld in dataclasses.fields(cls):
        hint = hints[fld.name]
        if hint is int:
            out.append((fld.name, lambda v: int(v) if isinstance(v, Decimal) else v))
        elif fld.name in _JSON_FIELDS:
            out.append((fld.name, _json_decoder(_JSON_FIELDS[fld.name])))
        elif hint is float:
            out.append((fld.name, lambda v: float(v) if isinstance(v, Decimal) else v))
        else:
            out.append((fld.name, None))
    return tuple(out)


def _json_decoder(cls: type) -> Callable[[Any], Any]:
    return lambda v: tuple(cls(**a) for a in (json.loads(v) if isinstance(v, str) else v))


def table_specs() -> dict[type, TableSpec]:
    extras = _write_time_columns()
    out = {}
    for cls, (table, _) in TABLES.items():
        hints = typing.get_type_hints(cls)
        names = tuple(fld.name for fld in dataclasses.fields(cls))
        out[cls] = TableSpec(cls, table, names, tuple(_pg_type(hints[n]) for n in names), extras.get(cls, ()))
    return out


ANSWER_COLUMNS = ("tenant", "key", "position", "question_id", "positive", "received_on", "service_area", "team")
ANSWER_TYPES = ("text", "text", "integer", "text", "boolean", "date", "text", "text")


# Facts whose answers are also kept one row per answer, and in which table.
ANSWER_TABLES: dict[type, str] = {f.FeedbackFact: "feedback_answer", f.StaffSurveyFact: "staff_survey_answer"}


def answer_rows(tenant: str, fact: f.FeedbackFact | f.StaffSurveyFact) -> list[tuple[Any, ...]]:
    return [
        (tenant, fact.key, i, a.question_id, a.positive, fact.received_on, fact.service_area, fact.team)
        for i, a in enumerate(fact.answers)
    ]


def family_members(tenant: str, fact: Any) -> list[tuple[str, str, str]]:
    """(tenant, family prefix, member) rows a fact makes known: its question ids or category."""
    if isinstance(fact, f.FeedbackFact):
        return [(tenant, POSITIVE_RATE, a.question_id) for a in fact.answers if a.question_id]
    if isinstance(fact, f.ComplaintReceivedFact) and fact.category:
        return [(tenant, BY_CATEGORY, fact.category)]
    if isinstance(fact, f.AuditGradedFact):
        return [(tenant, AREA_GOOD, g.area) for g in fact.area_grades if g.area]
    if isinstance(fact, f.StaffSurveyFact):
        return [(tenant, SURVEY_POSITIVE_RATE, a.question_id) for a in fact.answers if a.question_id]
    return []


# --------------------------------------------------------------------------- what a batch touched


@dataclass
class Touched:
    """The aggregates one tenant's batch touched, by kind."""

    audits: set[str] = field(default_factory=set)
    case_refs: set[str] = field(default_factory=set)
    complaints: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)  # origin ids of touched actions
    children: set[str] = field(default_factory=set)
    concerns: set[str] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)
    # feedback-response: (service area, question id, a day of the quarter) / (area, theme)
    feedback_quarters: set[tuple[str, str, date]] = field(default_factory=set)
    you_said_we_did: set[tuple[str, str]] = field(default_factory=set)
    findings: set[str] = field(default_factory=set)  # inspection findings
    workers: set[str] = field(default_factory=set)
    # workforce-review: (team or None for a worker's, worker id or None, a day it concerns)
    workforce_days: set[tuple[str | None, str | None, date]] = field(default_factory=set)

    def add(self, fact: Any) -> None:
        handler = _TOUCH.get(type(fact))
        if handler is not None:
            handler(self, fact)


def _touch_feedback(t: Touched, x: f.FeedbackFact) -> None:
    t.responses.add(x.response_id)
    for a in x.answers:
        if a.positive is not None:
            t.feedback_quarters.add((x.service_area, a.question_id, x.received_on))


def _touch_audit(t: Touched, x: f.AuditGradedFact) -> None:
    t.audits.add(x.audit_id)
    t.case_refs.add(x.case_ref)


def _touch_concern(t: Touched, x: f.ConcernRaisedFact) -> None:
    t.concerns.add(x.concern_id)
    if x.supersedes:  # it may close the superseded concern's concern-rework
        t.concerns.add(x.supersedes)


def _touch_action(t: Touched, x: f.ActionRaisedFact) -> None:
    t.actions.add(x.action_id)
    t.origins.add(x.origin_id)


def _touch_worker(t: Touched, worker_id: str, day: date) -> None:
    t.workers.add(worker_id)
    t.workforce_days.add((None, worker_id, day))


def _touch_action_raised(t: Touched, x: f.ActionRaisedFact) -> None:
    _touch_action(t, x)
    if x.origin == "workforce":
        t.workforce_days.add((x.team, None, x.raised_on))


_TOUCH: dict[type, Callable[[Touched, Any], None]] = {
    f.AuditGradedFact: _touch_audit,
    f.AuditModeratedFact: lambda t, x: t.audits.add(x.audit_id),
    f.AuditScheduledFact: lambda t, x: t.audits.add(x.audit_id),
    f.InspectionFindingFact: lambda t, x: t.findings.add(x.finding_id),
    f.ConcernRaisedFact: _touch_concern,
    f.ConcernResolvedFact: lambda t, x: t.concerns.add(x.concern_id),
    f.FeedbackFact: _touch_feedback,
    f.YouSaidWeDidFact: lambda t, x: t.you_said_we_did.add((x.service_area, x.theme)),
    f.ComplaintReceivedFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ComplaintExtendedFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ComplaintEscalatedFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ComplaintClosedFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ComplaintStatementAgreedFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ComplaintPanelHeldFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.OmbudsmanReferralFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.OmbudsmanDecisionFact: lambda t, x: t.complaints.add(x.complaint_id),
    f.ActionRaisedFact: _touch_action_raised,
    f.ActionCompletedFact: lambda t, x: t.actions.add(x.action_id),
    f.ReferralFact: lambda t, x: t.children.add(x.child_ref),
    f.StaffJoinedFact: lambda t, x: _touch_worker(t, x.worker_id, x.joined_on),
    f.StaffLeftFact: lambda t, x: _touch_worker(t, x.worker_id, x.left_on),
    f.CaseloadFact: lambda t, x: t.workforce_days.add((None, x.worker_id, x.as_of)),
}


# --------------------------------------------------------------------------- the store


@dataclass
class ReadModels:
    """Writes facts and keeps the derived columns, for one schema (the live one, or the
    rebuild's)."""

    # Each tenant's calendar, complaint timescales (the complaints service's own setting, so
    # the two never disagree) and follow-up rules: the service's ConfigCache.
    config: TenantConfigs = field(default_factory=FixedConfig)
    schema: str = SCHEMA
    specs: dict[type, TableSpec] = field(init=False)

    def __post_init__(self) -> None:
        self.specs = table_specs()

    def spec(self, cls: type) -> TableSpec:
        return self.specs[cls]

    async def write_facts(self, conn: asyncpg.Connection, items: Sequence[tuple[str, Any]]) -> dict[str, Touched]:
        """Insert (tenant, fact) rows, one statement per table; return what each tenant's
        rows touched."""
        by_cls: dict[type, list[tuple[str, Any]]] = defaultdict(list)
        touched: dict[str, Touched] = defaultdict(Touched)
        for tenant, fact in items:
            by_cls[type(fact)].append((tenant, fact))
            touched[tenant].add(fact)
        for cls, group in by_cls.items():
            spec = self.specs[cls]
            rows = [spec.row(tenant, fact, self.config.calendar(tenant)) for tenant, fact in group]
            await conn.execute(spec.insert_sql(self.schema), *_columns(rows, len(spec.columns)))
            if cls in ANSWER_TABLES:
                answers = [r for tenant, fact in group for r in answer_rows(tenant, fact)]
                if answers:
                    sql = self.answers_insert_sql(ANSWER_TABLES[cls])
                    await conn.execute(sql, *_columns(answers, len(ANSWER_COLUMNS)))
        members = {m for tenant, fact in items for m in family_members(tenant, fact)}
        if members:
            await conn.execute(
                f"""INSERT INTO {self.schema}.kpi_member (tenant, family, member)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING""",
                *_columns(sorted(members), 3),
            )
        return dict(touched)

    def answers_insert_sql(self, table: str = "feedback_answer") -> str:
        args = ", ".join(f"${i}::{t}[]" for i, t in enumerate(ANSWER_TYPES, 1))
        return (
            f"INSERT INTO {self.schema}.{table} ({', '.join(ANSWER_COLUMNS)}) "
            f"SELECT * FROM unnest({args}) ON CONFLICT DO NOTHING"
        )

    async def load(
        self, conn: asyncpg.Connection, cls: type, tenant: str, column: str, ids: Iterable[Any]
    ) -> list[Any]:
        """The facts of ``cls`` whose ``column`` is one of ``ids``."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        spec = self.specs[cls]
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.{spec.table} WHERE tenant = $1 AND {column} = ANY($2::text[])",
            tenant,
            wanted,
        )
        return [spec.fact(r) for r in rows]

    def loader(self, conn: asyncpg.Connection, tenant: str) -> BatchLoader:
        return BatchLoader(self, conn, tenant)

    # ------------------------------------------------------------------ derived columns

    async def derive_touched(self, loader: BatchLoader, touched: Touched) -> None:
        """Recompute the derived columns of every aggregate ``touched`` names."""
        if touched.audits:
            touched.case_refs |= await self._derive_audits(loader, touched.audits)
        if touched.complaints:
            await self._derive_complaints(loader, touched.complaints)
        if touched.actions:
            touched.origins |= await self._derive_actions(loader, touched.actions)
        if touched.children:
            await self._derive_referrals(loader, touched.children)
        if touched.concerns:
            await self._derive_concerns(loader, touched.concerns)
        if touched.workers:
            await self._derive_workers(loader, touched.workers)

    async def _derive_audits(self, loader: BatchLoader, audit_ids: set[str]) -> set[str]:
        """Per audit: its latest grading is the one counted, with the latest moderation's
        grade (`followups.graded_audits`), and the due date of its schedule with the highest
        sequence (`followups.latest_schedules`; None when no schedule is known). Returns the
        audits' case references."""
        gradings = await loader.load(f.AuditGradedFact, "audit_id", audit_ids)
        moderations = await loader.load(f.AuditModeratedFact, "audit_id", audit_ids)
        schedules = latest_schedules(await loader.load(f.AuditScheduledFact, "audit_id", audit_ids))
        audits = graded_audits(f.Facts(audits_graded=gradings, audits_moderated=moderations))
        counted = {g.fact.key: g.grade.value for g in audits.values()}

        def due(audit_id: str) -> date | None:
            s = schedules.get(audit_id)
            return s.due_date if s else None

        await loader.update(
            "audit_graded",
            [(g.key, g.key in counted, counted.get(g.key), due(g.audit_id)) for g in gradings],
            ("d_counted", "boolean"),
            ("d_grade", "text"),
            ("d_due_date", "date"),
        )
        return {g.case_ref for g in gradings}

    async def _derive_complaints(self, loader: BatchLoader, complaint_ids: set[str]) -> None:
        """Per complaint, under its tenant's timescales: each closing's effective due date,
        working days and slice; each escalation's, panel's and Ombudsman referral's and
        decision's slice (service area, team, category); each panel's timeliness
        (`kpis.ComplaintView`)."""
        load = loader.load
        facts = f.Facts(
            complaints_received=await load(f.ComplaintReceivedFact, "complaint_id", complaint_ids),
            complaints_extended=await load(f.ComplaintExtendedFact, "complaint_id", complaint_ids),
            complaints_escalated=await load(f.ComplaintEscalatedFact, "complaint_id", complaint_ids),
            complaints_closed=await load(f.ComplaintClosedFact, "complaint_id", complaint_ids),
            complaints_statements=await load(f.ComplaintStatementAgreedFact, "complaint_id", complaint_ids),
            complaints_panels=await load(f.ComplaintPanelHeldFact, "complaint_id", complaint_ids),
            ombudsman_referrals=await load(f.OmbudsmanReferralFact, "complaint_id", complaint_ids),
            ombudsman_decisions=await load(f.OmbudsmanDecisionFact, "complaint_id", complaint_ids),
        )
        tenant = loader.tenant
        view = ComplaintView(facts, self.config.calendar(tenant), self.config.timescales(tenant))

        def slice_of(complaint_id: str) -> tuple[bool, str | None, str | None, str | None]:
            r = view.received.get(complaint_id)
            return (r is not None, r.service_area if r else None, r.team if r else None, r.category if r else None)

        await loader.update(
            "complaint_closed",
            [
                (c.key, *slice_of(c.complaint_id), view.due_date(c), view.working_days(c))
                for c in facts.complaints_closed
            ],
            *_COMPLAINT_SLICE,
            ("d_due_date", "date"),
            ("d_working_days", "numeric"),
        )
        await loader.update(
            "complaint_panel_held",
            [(p.key, *slice_of(p.complaint_id), view.panel_within(p)) for p in facts.complaints_panels],
            *_COMPLAINT_SLICE,
            ("d_within", "boolean"),
        )
        for table, rows in (
            ("complaint_escalated", facts.complaints_escalated),
            ("ombudsman_referral", facts.ombudsman_referrals),
            ("ombudsman_decision", facts.ombudsman_decisions),
        ):
            await loader.update(table, [(x.key, *slice_of(x.complaint_id)) for x in rows], *_COMPLAINT_SLICE)

    async def _derive_actions(self, loader: BatchLoader, action_ids: set[str]) -> set[str]:
        """Per action: the first ActionRaised describes it; its first completion is the one
        the on-time KPI counts, with the raise's slice and due date. Returns the actions'
        origin ids (their follow-ups depend on them)."""
        raised_rows = await loader.load(f.ActionRaisedFact, "action_id", action_ids)
        completed = await loader.load(f.ActionCompletedFact, "action_id", action_ids)
        facts = f.Facts(actions_raised=raised_rows, actions_completed=completed)
        raised = first_raised(facts)
        firsts = {a.key for a in raised.values()}
        await loader.update(
            "action_raised",
            [(a.key, a.key in firsts) for a in raised_rows],
            ("d_first", "boolean"),
        )
        first_completion = {cs[0].key for cs in action_completions(facts).values()}
        rows = []
        for c in completed:
            a = raised.get(c.action_id)
            rows.append(
                (
                    c.key,
                    c.key in first_completion,
                    a is not None,
                    a.service_area if a else None,
                    a.team if a else None,
                    a.due_date if a else None,
                )
            )
        await loader.update(
            "action_completed",
            rows,
            ("d_first", "boolean"),
            ("d_known", "boolean"),
            ("d_service_area", "text"),
            ("d_team", "text"),
            ("d_due_date", "date"),
        )
        return {a.origin_id for a in raised_rows}

    async def _derive_referrals(self, loader: BatchLoader, children: set[str]) -> None:
        """Per child: which of its referrals are re-referrals (`followups.re_referrals`)."""
        referrals = await loader.load(f.ReferralFact, "child_ref", children)
        again = re_referrals(referrals)
        await loader.update("referral", [(r.key, r.key in again) for r in referrals], ("d_re_referral", "boolean"))

    async def _derive_concerns(self, loader: BatchLoader, concern_ids: set[str]) -> None:
        """Per concern: the resolution the effectiveness KPI counts — the first that carries
        an outcome (`followups.counted_resolutions`) — with the concern's service area from
        its ConcernRaised (unknown: counted only unfiltered)."""
        raised = first_raised_concerns(await loader.load(f.ConcernRaisedFact, "concern_id", concern_ids))
        resolved = await loader.load(f.ConcernResolvedFact, "concern_id", concern_ids)
        counted = {r.key for r in counted_resolutions(resolved).values()}
        rows = []
        for r in resolved:
            c = raised.get(r.concern_id)
            rows.append((r.key, r.key in counted, c is not None, c.service_area if c else None))
        await loader.update(
            "concern_resolved",
            rows,
            ("d_counted", "boolean"),
            ("d_known", "boolean"),
            ("d_service_area", "text"),
        )

    async def _derive_workers(self, loader: BatchLoader, workers: set[str]) -> None:
        """Per worker: when each record stops being in post, and which leaves ended a spell
        with the ended record's slice, role, contract and FTE (`workforce.staff_timeline`)."""
        joins = await loader.load(f.StaffJoinedFact, "worker_id", workers)
        leaves = await loader.load(f.StaffLeftFact, "worker_id", workers)
        timeline = staff_timeline(joins, leaves)
        await loader.update("staff_joined", [(j.key, timeline.until.get(j.key)) for j in joins], ("d_until", "date"))
        rows = []
        for x in leaves:
            r = timeline.ended.get(x.key)
            rows.append(
                (x.key, r is not None, *((r.team, r.service_area, r.role, r.contract, r.fte) if r else (None,) * 5))
            )
        await loader.update(
            "staff_left",
            rows,
            ("d_counted", "boolean"),
            ("d_team", "text"),
            ("d_service_area", "text"),
            ("d_role", "text"),
            ("d_contract", "text"),
            ("d_fte", "numeric"),
        )


# The derived columns that put a complaint's fact in its complaint's slice.
_COMPLAINT_SLICE = (("d_known", "boolean"), ("d_service_area", "text"), ("d_team", "text"), ("d_category", "text"))


@dataclass
class BatchLoader:
    """One tenant's reads and derived-column writes within one batch: each (fact kind,
    column, id) is read from the database once per batch, however many derivations need it
    (the derived columns it writes are not part of the facts it returns)."""

    readmodels: ReadModels
    conn: asyncpg.Connection
    tenant: str
    _seen: dict[tuple[type, str], dict[Any, list[Any]]] = field(default_factory=dict)

    async def load(self, cls: type, column: str, ids: Iterable[Any]) -> list[Any]:
        """The facts of ``cls`` whose ``column`` is one of ``ids``."""
        seen = self._seen.setdefault((cls, column), {})
        wanted = set(ids)
        missing = wanted - seen.keys()
        if missing:
            for i in missing:
                seen[i] = []
            for fact in await self.readmodels.load(self.conn, cls, self.tenant, column, missing):
                seen[getattr(fact, column)].append(fact)
        return [fact for i in sorted(wanted) for fact in seen[i]]

    async def update(self, table: str, rows: list[tuple[Any, ...]], *columns: tuple[str, str]) -> None:
        """Set derived ``columns`` by key, on the rows whose values change: rows are (key,
        value, ...). Rows already right are not rewritten (no dead tuples, no index churn)."""
        if not rows:
            return
        sets = ", ".join(f"{name} = u.{name}" for name, _ in columns)
        args = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(columns, 3))
        names = ", ".join(name for name, _ in columns)
        changed = " OR ".join(f"t.{name} IS DISTINCT FROM u.{name}" for name, _ in columns)
        await self.conn.execute(
            f"""UPDATE {self.readmodels.schema}.{table} t SET {sets}
                FROM unnest($2::text[], {args}) AS u(key, {names})
                WHERE t.tenant = $1 AND t.key = u.key AND ({changed})""",
            self.tenant,
            *_columns(rows, 1 + len(columns)),
        )


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(c) for c in zip(*rows, strict=True)]
