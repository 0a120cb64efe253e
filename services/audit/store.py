"""Where the audit strand keeps its records: a repository Protocol per record kind, its
PostgreSQL adapter (asyncpg SQL on the `audit` schema only), and `AuditUnitOfWork` — what
the handlers see — with `PostgresAuditUnitOfWork`, which binds every repository (and the
shared actions') to one transaction.

`tests/fakes/audit.py` is the in-memory twin; `tests/support/contracts_audit.py` runs one
suite against both, so the twin cannot drift from the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

import asyncpg

from services.audit.domain import (
    AreaJudgement,
    Audit,
    AuditStatus,
    Concern,
    ConcernStatus,
    EvidenceAudit,
    InspectionFinding,
    Moderation,
    OverallGradeRule,
)
from services.audit.templates import SEED_AUTHOR, ChecklistItem, Template, TemplateArea
from shared.actions.store import ActionRepository, PostgresActions
from shared.db import check_identifier
from shared.events import AuditType, ConcernOutcome, Grade, InspectionBody
from shared.pseudonym import pseudonymise
from shared.uow import PostgresUnitOfWork, UnitOfWork

AuditStatusFilter = Literal["scheduled", "in_progress", "completed", "open", "overdue"]
ConcernStatusFilter = Literal["open", "resolved"]


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class AuditQuery:
    """Which audits to list, by due date then id. `open`: not completed; `overdue`: open past
    its due date on `today`. `due_by` and `due_from` are inclusive."""

    today: date
    status: AuditStatusFilter | None = None
    team: str | None = None
    auditor_id: str | None = None
    service_area: str | None = None
    audit_type: AuditType | None = None
    concern_id: str | None = None
    due_by: date | None = None
    due_from: date | None = None
    limit: int = 100
    offset: int = 0

    def matches(self, audit: Audit) -> bool:
        """The same filter in Python (the fake's, and a reading of the SQL)."""
        wanted = {
            "team": self.team,
            "auditor_id": self.auditor_id,
            "service_area": self.service_area,
            "audit_type": self.audit_type,
            "concern_id": self.concern_id,
        }
        if any(value is not None and getattr(audit, name) != value for name, value in wanted.items()):
            return False
        if self.due_by is not None and audit.due_date > self.due_by:
            return False
        if self.due_from is not None and audit.due_date < self.due_from:
            return False
        if self.status == "overdue":
            return audit.overdue(self.today)
        if self.status == "open":
            return audit.status is not AuditStatus.COMPLETED
        return self.status is None or audit.status == self.status


@dataclass(frozen=True)
class ConcernQuery:
    """Which concerns to list, by review date then id."""

    status: ConcernStatusFilter | None = None
    service_area: str | None = None
    limit: int = 100
    offset: int = 0

    def matches(self, concern: Concern) -> bool:
        return (self.status is None or concern.status == self.status) and (
            self.service_area is None or concern.service_area == self.service_area
        )


@dataclass(frozen=True)
class FindingQuery:
    """Which inspection findings to list, newest first (by recorded_at, then id)."""

    body: InspectionBody | None = None
    service_area: str | None = None
    team: str | None = None
    limit: int = 100
    offset: int = 0

    def matches(self, finding: InspectionFinding) -> bool:
        wanted = {"body": self.body, "service_area": self.service_area, "team": self.team}
        return all(value is None or getattr(finding, name) == value for name, value in wanted.items())


# --------------------------------------------------------------------------- the Protocols


class TemplateRepository(Protocol):
    async def add(self, template: Template) -> bool:
        """Store a new template; False (nothing stored) when its name is taken. A default
        template takes over from the service area's default for its audit type."""

    async def get(self, template_id: str) -> Template | None: ...

    async def find(self, *, service_area: str | None = None, audit_type: AuditType | None = None) -> list[Template]:
        """By service area, then audit type (the general ones first), the default first, then name."""


class AuditRepository(Protocol):
    async def add(self, audit: Audit) -> None: ...

    async def get(self, audit_id: str, *, for_update: bool = False) -> Audit | None: ...

    async def save(self, audit: Audit) -> None:
        """Store what grading, completing or moderating changed (moderations are appended)."""

    async def find(self, query: AuditQuery) -> list[Audit]: ...

    async def evidence(self, audit_ids: Sequence[str]) -> list[EvidenceAudit]:
        """What resolving a concern needs of these audits (the unknown ones left out), kept
        from changing until the unit of work ends."""

    async def linked_to(self, concern_id: str) -> list[str]:
        """The ids of the audits linked to a concern, by due date then id."""


class ConcernRepository(Protocol):
    async def add(self, concern: Concern) -> None: ...

    async def get(self, concern_id: str, *, for_update: bool = False, for_share: bool = False) -> Concern | None:
        """`for_share`: kept from changing (not resolved) until the unit of work ends."""

    async def save(self, concern: Concern) -> None:
        """Store a concern's resolution."""

    async def find(self, query: ConcernQuery) -> list[Concern]: ...


class FindingRepository(Protocol):
    async def add(self, finding: InspectionFinding) -> None: ...

    async def get(self, finding_id: str) -> InspectionFinding | None: ...

    async def find(self, query: FindingQuery) -> list[InspectionFinding]: ...


class AuditUnitOfWork(UnitOfWork, Protocol):
    """What the audit handlers work with: the strand's repositories and the shared actions',
    in one transaction, and the two settings the rules need. (Read-only members: a unit of
    work holding concrete repositories — the fake's, PostgreSQL's — is one.)"""

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def audits(self) -> AuditRepository: ...

    @property
    def concerns(self) -> ConcernRepository: ...

    @property
    def findings(self) -> FindingRepository: ...

    @property
    def actions(self) -> ActionRepository: ...

    @property
    def grade_rule(self) -> OverallGradeRule:
        """This authority's overall-grade rule."""

    def pseudonym(self, case_reference: str) -> str:
        """The case reference's keyed hash: what leaves the service instead of it."""


# --------------------------------------------------------------------------- PostgreSQL


class PostgresAuditUnitOfWork(PostgresUnitOfWork):
    templates: TemplateRepository
    audits: AuditRepository
    concerns: ConcernRepository
    findings: FindingRepository
    actions: ActionRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        schema = self.service.schema
        self.templates = PostgresTemplates(conn, schema)
        self.audits = PostgresAudits(conn, schema)
        self.concerns = PostgresConcerns(conn, schema)
        self.findings = PostgresFindings(conn, schema)
        self.actions = PostgresActions(conn, schema)

    @property
    def grade_rule(self) -> OverallGradeRule:
        # the served authority's rule as configured now (shared/tenant_config), as reporting's
        service = self.service
        return OverallGradeRule(service.config.for_tenant(service.settings.tenant).overall_grade_rule)

    def pseudonym(self, case_reference: str) -> str:
        settings = self.service.settings
        return pseudonymise(case_reference, settings.pseudonym_key.get_secret_value(), settings.pseudonym_key_id)


def _insert(table: str, columns: Sequence[str]) -> str:
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


def _lock(for_update: bool, for_share: bool = False) -> str:
    return " FOR UPDATE" if for_update else " FOR SHARE" if for_share else ""


TEMPLATE_COLUMNS = (
    "template_id",
    "name",
    "service_area",
    "audit_type",
    "areas",
    "is_default",
    "created_by",
    "created_at",
    "checklist",
)


class PostgresTemplates:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.table = f"{check_identifier(schema)}.templates"

    async def add(self, template: Template) -> bool:
        values = [getattr(template, c) for c in TEMPLATE_COLUMNS]
        values[3], values[4], values[5] = _type_or_none(template.audit_type), _areas_json(template.areas), False
        values[8] = _checklist_json(template.checklist)
        status = await self.conn.execute(
            _insert(self.table, TEMPLATE_COLUMNS) + " ON CONFLICT (name) DO NOTHING", *values
        )
        if status != "INSERT 0 1":
            return False
        if template.is_default:  # the new default takes over (one default per area and type)
            same_kind = "service_area = $1 AND audit_type IS NOT DISTINCT FROM $2"
            kind = (template.service_area, _type_or_none(template.audit_type))
            await self.conn.execute(
                f"UPDATE {self.table} SET is_default = false WHERE is_default AND {same_kind}", *kind
            )
            await self.conn.execute(
                f"UPDATE {self.table} SET is_default = true WHERE template_id = $3 AND {same_kind}",
                *kind,
                template.template_id,
            )
        return True

    async def seed(self, templates: Iterable[Template]) -> list[str]:
        """Insert the templates that are absent (by id); a seeded template becomes the default
        only where the service area has none for its type. Returns the ids added."""
        added = []
        for t in templates:
            inserted = await self.conn.fetchval(
                f"""INSERT INTO {self.table}
                    (template_id, name, service_area, audit_type, areas, is_default, created_by, checklist)
                    SELECT $1, $2, $3, $4, $5,
                           $6 AND NOT EXISTS (SELECT 1 FROM {self.table}
                                              WHERE is_default AND service_area = $3
                                                AND audit_type IS NOT DISTINCT FROM $4),
                           $7, $8
                    ON CONFLICT DO NOTHING
                    RETURNING template_id""",
                t.template_id,
                t.name,
                t.service_area,
                _type_or_none(t.audit_type),
                _areas_json(t.areas),
                t.is_default,
                SEED_AUTHOR,
                _checklist_json(t.checklist),
            )
            if inserted:
                added.append(str(inserted))
            elif t.checklist:  # a seeded template stored before it had its checklist gets it
                await self.conn.execute(
                    f"""UPDATE {self.table} SET checklist = $2
                        WHERE template_id = $1 AND created_by = $3 AND checklist = '[]'::jsonb""",
                    t.template_id,
                    _checklist_json(t.checklist),
                    SEED_AUTHOR,
                )
        return added

    async def get(self, template_id: str) -> Template | None:
        row = await self.conn.fetchrow(f"SELECT * FROM {self.table} WHERE template_id = $1", template_id)
        return None if row is None else _template(row)

    async def find(self, *, service_area: str | None = None, audit_type: AuditType | None = None) -> list[Template]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table}
                WHERE ($1::text IS NULL OR service_area = $1) AND ($2::text IS NULL OR audit_type = $2)
                ORDER BY service_area, audit_type NULLS FIRST, is_default DESC, name""",
            service_area,
            _type_or_none(audit_type),
        )
        return [_template(r) for r in rows]


AUDIT_COLUMNS = (
    "audit_id",
    "case_reference",
    "case_ref",
    "service_area",
    "team",
    "audit_type",
    "theme",
    "concern_id",
    "template_id",
    "areas",
    "auditor_id",
    "due_date",
    "scheduled_by",
    "scheduled_at",
    "status",
    "grade_rule",
    "overall_grade",
    "current_grade",
    "completed_at",
    "completed_by",
    "checklist",
    "checklist_answers",
    "procedure_compliant",
)
# What grading, completing and moderating change on an audit's own row.
AUDIT_STATE = (
    "due_date",
    "status",
    "grade_rule",
    "overall_grade",
    "current_grade",
    "completed_at",
    "completed_by",
    "checklist_answers",
    "procedure_compliant",
)
GRADE_COLUMNS = ("audit_id", "area", "grade", "rationale", "graded_by", "graded_at")
MODERATION_COLUMNS = (
    "audit_id",
    "grade_before",
    "grade_after",
    "moderator_id",
    "reason",
    "moderated_at",
    "recorded_at",
)


class PostgresAudits:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.s = check_identifier(schema)

    async def add(self, audit: Audit) -> None:
        await self.conn.execute(_insert(f"{self.s}.audits", AUDIT_COLUMNS), *_audit_values(audit, AUDIT_COLUMNS))
        await self._write_grades(audit)
        await self._append_moderations(audit, stored=0)

    async def get(self, audit_id: str, *, for_update: bool = False) -> Audit | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.s}.audits WHERE audit_id = $1{_lock(for_update)}", audit_id
        )
        if row is None:
            return None
        [audit] = await self._assemble([row])
        return audit

    async def save(self, audit: Audit) -> None:
        assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(AUDIT_STATE, start=2))
        await self.conn.execute(
            f"UPDATE {self.s}.audits SET {assignments} WHERE audit_id = $1",
            audit.audit_id,
            *_audit_values(audit, AUDIT_STATE),
        )
        await self._write_grades(audit)
        stored = await self.conn.fetchval(
            f"SELECT count(*) FROM {self.s}.moderations WHERE audit_id = $1", audit.audit_id
        )
        await self._append_moderations(audit, stored=stored)

    async def find(self, query: AuditQuery) -> list[Audit]:
        where, args = _audit_filters(query)
        args += [query.limit, query.offset]
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.s}.audits WHERE {" AND ".join(where) or "true"}
                ORDER BY due_date, audit_id LIMIT ${len(args) - 1} OFFSET ${len(args)}""",
            *args,
        )
        return await self._assemble(rows)

    async def evidence(self, audit_ids: Sequence[str]) -> list[EvidenceAudit]:
        rows = await self.conn.fetch(
            f"""SELECT audit_id, status, concern_id, completed_at FROM {self.s}.audits
                WHERE audit_id = ANY($1::text[]) ORDER BY audit_id FOR SHARE""",
            list(audit_ids),
        )
        return [
            EvidenceAudit(r["audit_id"], AuditStatus(r["status"]), r["concern_id"], r["completed_at"]) for r in rows
        ]

    async def linked_to(self, concern_id: str) -> list[str]:
        rows = await self.conn.fetch(
            f"SELECT audit_id FROM {self.s}.audits WHERE concern_id = $1 ORDER BY due_date, audit_id", concern_id
        )
        return [r["audit_id"] for r in rows]

    async def _write_grades(self, audit: Audit) -> None:
        """Upsert the audit's area grades (a row that did not change is left alone)."""
        if not audit.grades:
            return
        changed = " OR ".join(f"area_grades.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in GRADE_COLUMNS[2:])
        await self.conn.executemany(
            _insert(f"{self.s}.area_grades", GRADE_COLUMNS)
            + f""" ON CONFLICT (audit_id, area) DO UPDATE
                   SET grade = EXCLUDED.grade, rationale = EXCLUDED.rationale,
                       graded_by = EXCLUDED.graded_by, graded_at = EXCLUDED.graded_at
                   WHERE {changed}""",
            [
                (audit.audit_id, j.area, j.grade.value, j.rationale, j.graded_by, j.graded_at)
                for j in audit.grades.values()
            ],
        )

    async def _append_moderations(self, audit: Audit, *, stored: int) -> None:
        """Moderations are a history: those after the `stored` first are new."""
        new = audit.moderations[stored:]
        if new:
            await self.conn.executemany(
                _insert(f"{self.s}.moderations", MODERATION_COLUMNS),
                [
                    (
                        audit.audit_id,
                        m.grade_before.value,
                        m.grade_after.value,
                        m.moderator_id,
                        m.reason,
                        m.moderated_at,
                        m.recorded_at,
                    )
                    for m in new
                ],
            )

    async def _assemble(self, rows: Sequence[asyncpg.Record]) -> list[Audit]:
        """Audits from their rows, with their area grades and moderations (two queries)."""
        ids = [r["audit_id"] for r in rows]
        grades: dict[str, dict[str, AreaJudgement]] = {i: {} for i in ids}
        for g in await self.conn.fetch(
            f"SELECT * FROM {self.s}.area_grades WHERE audit_id = ANY($1::text[]) ORDER BY graded_at, area", ids
        ):
            grades[g["audit_id"]][g["area"]] = AreaJudgement(
                g["area"], Grade(g["grade"]), g["rationale"], g["graded_by"], g["graded_at"]
            )
        moderations: dict[str, list[Moderation]] = {i: [] for i in ids}
        for m in await self.conn.fetch(
            f"SELECT * FROM {self.s}.moderations WHERE audit_id = ANY($1::text[]) ORDER BY moderation_id", ids
        ):
            moderations[m["audit_id"]].append(
                Moderation(
                    Grade(m["grade_before"]),
                    Grade(m["grade_after"]),
                    m["moderator_id"],
                    m["reason"],
                    m["moderated_at"],
                    m["recorded_at"],
                )
            )
        return [_audit(r, grades[r["audit_id"]], moderations[r["audit_id"]]) for r in rows]


def _audit_filters(query: AuditQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if query.status == "overdue":
        where.append(f"status <> 'completed' AND due_date < {arg(query.today)}")
    elif query.status == "open":
        where.append("status <> 'completed'")
    elif query.status is not None:
        where.append(f"status = {arg(query.status)}")
    for column in ("team", "auditor_id", "service_area", "audit_type", "concern_id"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"{column} = {arg(str(value))}")
    if query.due_by is not None:
        where.append(f"due_date <= {arg(query.due_by)}")
    if query.due_from is not None:
        where.append(f"due_date >= {arg(query.due_from)}")
    return where, args


def _audit_values(audit: Audit, columns: Sequence[str]) -> list[Any]:
    """The audit's values for `columns`, as the table stores them."""
    stored: dict[str, Any] = {
        "audit_type": audit.audit_type.value,
        "areas": [{"key": a.key, "title": a.title} for a in audit.areas],
        "status": audit.status.value,
        "grade_rule": audit.grade_rule.value if audit.grade_rule else None,
        "overall_grade": audit.overall_grade.value if audit.overall_grade else None,
        "current_grade": audit.current_grade.value if audit.current_grade else None,
        "checklist": _checklist_json(audit.checklist),
    }
    return [stored[c] if c in stored else getattr(audit, c) for c in columns]


def _audit(row: asyncpg.Record, grades: dict[str, AreaJudgement], moderations: list[Moderation]) -> Audit:
    values = {c: row[c] for c in AUDIT_COLUMNS}
    values["audit_type"] = AuditType(row["audit_type"])
    values["areas"] = tuple(TemplateArea(a["key"], a["title"]) for a in row["areas"])
    values["status"] = AuditStatus(row["status"])
    for grade in ("overall_grade", "current_grade"):
        values[grade] = Grade(row[grade]) if row[grade] else None
    values["grade_rule"] = OverallGradeRule(row["grade_rule"]) if row["grade_rule"] else None
    values["checklist"] = _checklist(row["checklist"])
    values["checklist_answers"] = dict(row["checklist_answers"])
    return Audit(**values, grades=grades, moderations=moderations)


CONCERN_COLUMNS = (
    "concern_id",
    "service_area",
    "theme",
    "description",
    "measures",
    "raised_at",
    "review_by",
    "raised_by",
    "status",
    "resolved_at",
    "resolved_by",
    "evidence_audit_ids",
    "supersedes",
    "outcome",
    "reason",
)


class PostgresConcerns:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.table = f"{check_identifier(schema)}.concerns"

    async def add(self, concern: Concern) -> None:
        values = [getattr(concern, c) for c in CONCERN_COLUMNS]
        values[8] = concern.status.value
        values[13] = concern.outcome.value if concern.outcome else None
        await self.conn.execute(_insert(self.table, CONCERN_COLUMNS), *values)

    async def get(self, concern_id: str, *, for_update: bool = False, for_share: bool = False) -> Concern | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.table} WHERE concern_id = $1{_lock(for_update, for_share)}", concern_id
        )
        return None if row is None else _concern(row)

    async def save(self, concern: Concern) -> None:
        await self.conn.execute(
            f"""UPDATE {self.table} SET status = $2, resolved_at = $3, resolved_by = $4, evidence_audit_ids = $5,
                       outcome = $6, reason = $7
                WHERE concern_id = $1""",
            concern.concern_id,
            concern.status.value,
            concern.resolved_at,
            concern.resolved_by,
            concern.evidence_audit_ids,
            concern.outcome.value if concern.outcome else None,
            concern.reason,
        )

    async def find(self, query: ConcernQuery) -> list[Concern]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table}
                WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR service_area = $2)
                ORDER BY review_by, concern_id LIMIT $3 OFFSET $4""",
            query.status,
            query.service_area,
            query.limit,
            query.offset,
        )
        return [_concern(r) for r in rows]


def _concern(row: asyncpg.Record) -> Concern:
    values = {c: row[c] for c in CONCERN_COLUMNS}
    values["status"] = ConcernStatus(row["status"])
    values["outcome"] = ConcernOutcome(row["outcome"]) if row["outcome"] else None
    return Concern(**values)


FINDING_COLUMNS = ("finding_id", "body", "service_area", "team", "summary", "recorded_at", "recorded_by")


class PostgresFindings:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.table = f"{check_identifier(schema)}.inspection_findings"

    async def add(self, finding: InspectionFinding) -> None:
        values = [getattr(finding, c) for c in FINDING_COLUMNS]
        values[1] = finding.body.value
        await self.conn.execute(_insert(self.table, FINDING_COLUMNS), *values)

    async def get(self, finding_id: str) -> InspectionFinding | None:
        row = await self.conn.fetchrow(f"SELECT * FROM {self.table} WHERE finding_id = $1", finding_id)
        return None if row is None else _finding(row)

    async def find(self, query: FindingQuery) -> list[InspectionFinding]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.table}
                WHERE ($1::text IS NULL OR body = $1) AND ($2::text IS NULL OR service_area = $2)
                  AND ($3::text IS NULL OR team = $3)
                ORDER BY recorded_at DESC, finding_id LIMIT $4 OFFSET $5""",
            query.body.value if query.body else None,
            query.service_area,
            query.team,
            query.limit,
            query.offset,
        )
        return [_finding(r) for r in rows]


def _finding(row: asyncpg.Record) -> InspectionFinding:
    values = {c: row[c] for c in FINDING_COLUMNS}
    values["body"] = InspectionBody(row["body"])
    return InspectionFinding(**values)


def _template(row: asyncpg.Record) -> Template:
    return Template(
        template_id=row["template_id"],
        name=row["name"],
        service_area=row["service_area"],
        audit_type=AuditType(row["audit_type"]) if row["audit_type"] else None,
        areas=tuple(TemplateArea(a["key"], a["title"], a.get("guidance", "")) for a in row["areas"]),
        is_default=row["is_default"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        checklist=_checklist(row["checklist"]),
    )


def _areas_json(areas: Iterable[TemplateArea]) -> list[dict[str, str]]:
    return [{"key": a.key, "title": a.title, "guidance": a.guidance} for a in areas]


def _checklist_json(items: Iterable[ChecklistItem]) -> list[dict[str, str]]:
    return [{"key": c.key, "title": c.title} for c in items]


def _checklist(stored: Iterable[dict[str, str]]) -> tuple[ChecklistItem, ...]:
    return tuple(ChecklistItem(c["key"], c["title"]) for c in stored)


def _type_or_none(audit_type: AuditType | None) -> str | None:
    return audit_type.value if audit_type is not None else None
