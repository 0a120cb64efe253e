"""SQL for the audit schema (asyncpg). Every function takes the caller's connection, so a
use case's reads, writes and outbox append share one transaction. `lock_*` functions take
the row lock (FOR UPDATE) that serialises writers of one audit, concern or action."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.audit.domain import AreaJudgement, Template, TemplateArea
from shared.db import check_identifier
from shared.events import AuditType

Row = dict[str, Any]


class AuditStore:
    def __init__(self, schema: str) -> None:
        self.s = check_identifier(schema)

    # ----------------------------------------------------------------------- templates

    async def insert_template(self, conn: asyncpg.Connection, template: Template, created_by: str) -> None:
        if template.is_default:  # the new default replaces the old one
            await conn.execute(
                f"""UPDATE {self.s}.templates SET is_default = false
                    WHERE is_default AND service_area = $1
                      AND audit_type IS NOT DISTINCT FROM $2""",
                template.service_area,
                _type_or_none(template.audit_type),
            )
        await conn.execute(
            f"""INSERT INTO {self.s}.templates
                (template_id, name, service_area, audit_type, areas, is_default, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            template.template_id,
            template.name,
            template.service_area,
            _type_or_none(template.audit_type),
            _areas_json(template.areas),
            template.is_default,
            created_by,
        )

    async def seed_templates(self, conn: asyncpg.Connection, templates: Iterable[Template]) -> list[str]:
        """Insert the default templates that are absent (by id); a seeded template becomes
        the default only where the service area has none for its type. Returns ids added."""
        added = []
        for t in templates:
            inserted = await conn.fetchval(
                f"""INSERT INTO {self.s}.templates
                    (template_id, name, service_area, audit_type, areas, is_default, created_by)
                    SELECT $1, $2, $3, $4, $5,
                           $6 AND NOT EXISTS (SELECT 1 FROM {self.s}.templates
                                              WHERE is_default AND service_area = $3
                                                AND audit_type IS NOT DISTINCT FROM $4),
                           'qaloop-seed'
                    ON CONFLICT DO NOTHING
                    RETURNING template_id""",
                t.template_id,
                t.name,
                t.service_area,
                _type_or_none(t.audit_type),
                _areas_json(t.areas),
                t.is_default,
            )
            if inserted:
                added.append(str(inserted))
        return added

    async def templates(
        self,
        conn: asyncpg.Connection,
        *,
        service_area: str | None = None,
        audit_type: str | None = None,
    ) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.templates
                WHERE ($1::text IS NULL OR service_area = $1)
                  AND ($2::text IS NULL OR audit_type = $2)
                ORDER BY service_area, audit_type NULLS FIRST, is_default DESC, name""",
            service_area,
            audit_type,
        )
        return [dict(r) for r in rows]

    async def template(self, conn: asyncpg.Connection, template_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.templates WHERE template_id = $1", template_id)
        return dict(row) if row else None

    # ----------------------------------------------------------------------- audits

    async def insert_audit(self, conn: asyncpg.Connection, audit: Row) -> None:
        columns = list(audit)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO {self.s}.audits ({', '.join(columns)}) VALUES ({placeholders})",
            *audit.values(),
        )

    async def lock_audit(self, conn: asyncpg.Connection, audit_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.audits WHERE audit_id = $1 FOR UPDATE", audit_id)
        return dict(row) if row else None

    async def audit(self, conn: asyncpg.Connection, audit_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.audits WHERE audit_id = $1", audit_id)
        return dict(row) if row else None

    async def evidence_audits(self, conn: asyncpg.Connection, audit_ids: Sequence[str]) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT audit_id, status, concern_id, completed_at FROM {self.s}.audits
                WHERE audit_id = ANY($1::text[]) FOR SHARE""",
            list(audit_ids),
        )
        return [dict(r) for r in rows]

    async def area_grades(self, conn: asyncpg.Connection, audit_id: str) -> list[Row]:
        rows = await conn.fetch(
            f"SELECT * FROM {self.s}.area_grades WHERE audit_id = $1 ORDER BY graded_at, area",
            audit_id,
        )
        return [dict(r) for r in rows]

    async def save_area_grades(
        self,
        conn: asyncpg.Connection,
        audit_id: str,
        judgements: Sequence[AreaJudgement],
        graded_by: str,
        status: str,
    ) -> None:
        await conn.executemany(
            f"""INSERT INTO {self.s}.area_grades (audit_id, area, grade, rationale, graded_by)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (audit_id, area) DO UPDATE
                SET grade = EXCLUDED.grade, rationale = EXCLUDED.rationale,
                    graded_by = EXCLUDED.graded_by, graded_at = now()""",
            [(audit_id, j.area, j.grade.value, j.rationale.strip(), graded_by) for j in judgements],
        )
        await conn.execute(f"UPDATE {self.s}.audits SET status = $2 WHERE audit_id = $1", audit_id, status)

    async def save_completion(
        self,
        conn: asyncpg.Connection,
        audit_id: str,
        *,
        rule: str,
        overall_grade: str,
        completed_at: datetime,
        completed_by: str,
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.s}.audits
                SET status = 'completed', grade_rule = $2, overall_grade = $3, current_grade = $3,
                    completed_at = $4, completed_by = $5
                WHERE audit_id = $1""",
            audit_id,
            rule,
            overall_grade,
            completed_at,
            completed_by,
        )

    async def save_moderation(
        self,
        conn: asyncpg.Connection,
        audit_id: str,
        *,
        grade_before: str,
        grade_after: str,
        moderator_id: str,
        reason: str,
        moderated_at: datetime,
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.s}.moderations
                (audit_id, grade_before, grade_after, moderator_id, reason, moderated_at)
                VALUES ($1, $2, $3, $4, $5, $6)""",
            audit_id,
            grade_before,
            grade_after,
            moderator_id,
            reason,
            moderated_at,
        )
        await conn.execute(
            f"UPDATE {self.s}.audits SET current_grade = $2 WHERE audit_id = $1",
            audit_id,
            grade_after,
        )

    async def moderations(self, conn: asyncpg.Connection, audit_id: str) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT grade_before, grade_after, moderator_id, reason, moderated_at, recorded_at
                FROM {self.s}.moderations WHERE audit_id = $1 ORDER BY moderation_id""",
            audit_id,
        )
        return [dict(r) for r in rows]

    async def list_audits(self, conn: asyncpg.Connection, query: AuditQuery, today: date) -> list[Row]:
        where, args = ["true"], []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if query.status == "overdue":
            where.append(f"status <> 'completed' AND due_date < {arg(today)}")
        elif query.status == "open":
            where.append("status <> 'completed'")
        elif query.status is not None:
            where.append(f"status = {arg(query.status)}")
        for column in ("team", "auditor_id", "service_area", "audit_type", "concern_id"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = {arg(value)}")
        if query.due_by is not None:
            where.append(f"due_date <= {arg(query.due_by)}")
        if query.due_from is not None:
            where.append(f"due_date >= {arg(query.due_from)}")
        limit, offset = arg(query.limit), arg(query.offset)
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.audits WHERE {" AND ".join(where)}
                ORDER BY due_date, audit_id LIMIT {limit} OFFSET {offset}""",
            *args,
        )
        return [dict(r) for r in rows]

    # ----------------------------------------------------------------------- concerns

    async def insert_concern(self, conn: asyncpg.Connection, concern: Row) -> None:
        columns = list(concern)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO {self.s}.concerns ({', '.join(columns)}) VALUES ({placeholders})",
            *concern.values(),
        )

    async def lock_concern(self, conn: asyncpg.Connection, concern_id: str, *, share: bool = False) -> Row | None:
        mode = "FOR SHARE" if share else "FOR UPDATE"
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.concerns WHERE concern_id = $1 {mode}", concern_id)
        return dict(row) if row else None

    async def concern(self, conn: asyncpg.Connection, concern_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.concerns WHERE concern_id = $1", concern_id)
        return dict(row) if row else None

    async def save_resolution(
        self,
        conn: asyncpg.Connection,
        concern_id: str,
        *,
        resolved_at: datetime,
        resolved_by: str,
        evidence_audit_ids: list[str],
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.s}.concerns
                SET status = 'resolved', resolved_at = $2, resolved_by = $3, evidence_audit_ids = $4
                WHERE concern_id = $1""",
            concern_id,
            resolved_at,
            resolved_by,
            evidence_audit_ids,
        )

    async def list_concerns(
        self,
        conn: asyncpg.Connection,
        *,
        status: str | None,
        service_area: str | None,
        limit: int,
        offset: int,
    ) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.concerns
                WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR service_area = $2)
                ORDER BY review_by, concern_id LIMIT $3 OFFSET $4""",
            status,
            service_area,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def concern_audit_ids(self, conn: asyncpg.Connection, concern_id: str) -> list[str]:
        rows = await conn.fetch(
            f"""SELECT audit_id FROM {self.s}.audits WHERE concern_id = $1
                ORDER BY due_date, audit_id""",
            concern_id,
        )
        return [r["audit_id"] for r in rows]

    # ----------------------------------------------------------------------- actions

    async def insert_action(self, conn: asyncpg.Connection, action: Row) -> None:
        columns = list(action)
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO {self.s}.actions ({', '.join(columns)}) VALUES ({placeholders})",
            *action.values(),
        )

    async def lock_action(self, conn: asyncpg.Connection, action_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.actions WHERE action_id = $1 FOR UPDATE", action_id)
        return dict(row) if row else None

    async def action(self, conn: asyncpg.Connection, action_id: str) -> Row | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.actions WHERE action_id = $1", action_id)
        return dict(row) if row else None

    async def save_action_completion(
        self,
        conn: asyncpg.Connection,
        action_id: str,
        *,
        completed_at: datetime,
        completed_by: str,
        evidence: str | None,
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.s}.actions
                SET status = 'completed', completed_at = $2, completed_by = $3, evidence = $4
                WHERE action_id = $1""",
            action_id,
            completed_at,
            completed_by,
            evidence,
        )

    async def actions_of(self, conn: asyncpg.Connection, origin: str, origin_id: str) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.actions WHERE origin = $1 AND origin_id = $2
                ORDER BY raised_at, action_id""",
            origin,
            origin_id,
        )
        return [dict(r) for r in rows]

    async def list_actions(self, conn: asyncpg.Connection, query: ActionQuery, today: date) -> list[Row]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.actions
                WHERE (CASE $1::text
                         WHEN 'overdue' THEN status = 'open' AND due_date < $7
                         WHEN 'open' THEN status = 'open'
                         WHEN 'completed' THEN status = 'completed'
                         ELSE true END)
                  AND ($2::text IS NULL OR owner_id = $2)
                  AND ($3::text IS NULL OR team = $3)
                  AND ($4::text IS NULL OR origin_id = $4)
                ORDER BY due_date, action_id LIMIT $5 OFFSET $6""",
            query.status,
            query.owner_id,
            query.team,
            query.origin_id,
            query.limit,
            query.offset,
            today,
        )
        return [dict(r) for r in rows]


@dataclass(frozen=True)
class AuditQuery:
    status: str | None = None  # scheduled, in_progress, completed, open (not completed), overdue
    team: str | None = None
    auditor_id: str | None = None
    service_area: str | None = None
    audit_type: str | None = None
    concern_id: str | None = None
    due_by: date | None = None
    due_from: date | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ActionQuery:
    status: str | None = None  # open, completed, overdue
    owner_id: str | None = None
    team: str | None = None
    origin_id: str | None = None
    limit: int = 100
    offset: int = 0


def template_from_row(row: Row) -> Template:
    return Template(
        template_id=row["template_id"],
        name=row["name"],
        service_area=row["service_area"],
        audit_type=AuditType(row["audit_type"]) if row["audit_type"] else None,
        areas=tuple(TemplateArea(a["key"], a["title"], a.get("guidance", "")) for a in row["areas"]),
        is_default=row["is_default"],
    )


def _areas_json(areas: Iterable[TemplateArea]) -> list[dict[str, str]]:
    return [{"key": a.key, "title": a.title, "guidance": a.guidance} for a in areas]


def _type_or_none(audit_type: AuditType | None) -> str | None:
    return audit_type.value if audit_type is not None else None
