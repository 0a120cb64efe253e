"""Audit use cases. Each write loads what it changes with a row lock (FOR UPDATE), asks the
domain, saves, and writes its event through `service.emit` — all in ONE transaction, so a
row and its event commit or roll back together. Reads return plain dicts (the API's views).

Events carry the keyed hash of the case reference (`case_ref`, and `subject` for events
about one child's case), never the raw case number or the auditor's rationale.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.audit import domain
from services.audit.domain import (
    ActionStatus,
    AreaJudgement,
    AuditState,
    AuditStatus,
    ConcernState,
    ConcernStatus,
    Conflict,
    EvidenceAudit,
    Invalid,
    NotFound,
    OverallGradeRule,
    Template,
    TemplateArea,
)
from services.audit.store import ActionQuery, AuditQuery, AuditStore, Row, template_from_row
from shared import events as ev
from shared.calendar import london_date
from shared.events import AuditType, Grade, LearningOrigin
from shared.pseudonym import pseudonymise, subject_for
from shared.service import StrandService


def _now() -> datetime:
    return datetime.now(UTC)


class AuditHandlers:
    def __init__(self, service: StrandService, *, clock: Callable[[], datetime] = _now) -> None:
        self.service = service
        self.store = AuditStore(service.schema)
        self.clock = clock

    @property
    def rule(self) -> OverallGradeRule:
        return OverallGradeRule(self.service.settings.overall_grade_rule)

    def today(self) -> date:
        return london_date(self.clock())

    def pseudonym(self, case_reference: str) -> str:
        settings = self.service.settings
        return pseudonymise(case_reference, settings.pseudonym_key.get_secret_value(), settings.pseudonym_key_id)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self.service.pool
        if pool is None:
            raise RuntimeError("the audit service is not started")
        async with pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self.service.pool
        if pool is None:
            raise RuntimeError("the audit service is not started")
        async with pool.acquire() as conn:
            yield conn

    # ----------------------------------------------------------------------- templates

    async def seed_default_templates(self) -> list[str]:
        async with self._transaction() as conn:
            return await self.store.seed_templates(conn, domain.DEFAULT_TEMPLATES)

    async def create_template(
        self,
        *,
        name: str,
        service_area: str,
        audit_type: AuditType | None,
        areas: Sequence[TemplateArea],
        is_default: bool,
        created_by: str,
    ) -> Row:
        tidy = domain.validate_template(
            name=name,
            service_area=service_area,
            audit_type=audit_type,
            areas=areas,
            known_service_areas=ev.known_service_areas(),
        )
        template = Template(str(uuid.uuid4()), name.strip(), service_area, audit_type, tidy, is_default)
        async with self._transaction() as conn:
            try:
                await self.store.insert_template(conn, template, created_by)
            except asyncpg.UniqueViolationError:
                raise Conflict(f"a template named {template.name!r} exists already") from None
            row = await self.store.template(conn, template.template_id)
        assert row is not None
        return row

    async def list_templates(self, *, service_area: str | None, audit_type: str | None) -> list[Row]:
        async with self._read() as conn:
            return await self.store.templates(conn, service_area=service_area, audit_type=audit_type)

    async def get_template(self, template_id: str) -> Row:
        async with self._read() as conn:
            row = await self.store.template(conn, template_id)
        if row is None:
            raise NotFound(f"no template {template_id!r}")
        return row

    # ----------------------------------------------------------------------- audits

    async def schedule_audit(
        self,
        *,
        case_reference: str,
        service_area: str,
        team: str,
        audit_type: AuditType,
        theme: str | None,
        concern_id: str | None,
        auditor_id: str,
        due_date: date,
        template_id: str | None,
        scheduled_by: str,
    ) -> Row:
        case_reference = case_reference.strip()
        if not case_reference:
            raise Invalid("the case reference is empty", "case_reference")
        theme = theme.strip() if theme and theme.strip() else None
        audit_id = str(uuid.uuid4())
        case_ref = self.pseudonym(case_reference)
        async with self._transaction() as conn:
            concern_row = await self.store.lock_concern(conn, concern_id, share=True) if concern_id else None
            domain.check_schedule(
                audit_type=audit_type,
                service_area=service_area,
                theme=theme,
                concern_id=concern_id,
                concern=_concern_state(concern_row) if concern_row else None,
            )
            templates = [template_from_row(r) for r in await self.store.templates(conn, service_area=service_area)]
            if template_id is not None and template_id not in {t.template_id for t in templates}:
                other = await self.store.template(conn, template_id)
                templates += [template_from_row(other)] if other else []
            template = domain.choose_template(
                templates, service_area=service_area, audit_type=audit_type, template_id=template_id
            )
            await self.store.insert_audit(
                conn,
                {
                    "audit_id": audit_id,
                    "case_reference": case_reference,
                    "case_ref": case_ref,
                    "service_area": service_area,
                    "team": team,
                    "audit_type": audit_type.value,
                    "theme": theme,
                    "concern_id": concern_id,
                    "template_id": template.template_id,
                    "areas": [{"key": a.key, "title": a.title} for a in template.areas],
                    "auditor_id": auditor_id,
                    "due_date": due_date,
                    "scheduled_by": scheduled_by,
                },
            )
            await self.service.emit(
                conn,
                ev.AuditScheduled(
                    audit_id=audit_id,
                    case_ref=case_ref,
                    service_area=service_area,
                    team=team,
                    audit_type=audit_type,
                    theme=theme,
                    concern_id=concern_id,
                    auditor_id=auditor_id,
                    due_date=due_date,
                ),
                aggregate=audit_id,
                subject=subject_for(case_ref),
            )
            return await self._audit_view(conn, audit_id)

    async def grade_audit(self, audit_id: str, judgements: Sequence[AreaJudgement], *, graded_by: str) -> Row:
        async with self._transaction() as conn:
            row = await self._lock_audit(conn, audit_id)
            state = await self._audit_state(conn, row)
            status = domain.record_grades(state, judgements)
            await self.store.save_area_grades(conn, audit_id, judgements, graded_by, status.value)
            return await self._audit_view(conn, audit_id)

    async def complete_audit(
        self,
        audit_id: str,
        *,
        overall_grade: Grade | None,
        completed_at: datetime | None,
        completed_by: str,
    ) -> Row:
        when = domain.occurred_at(completed_at, self.clock(), "completed_at")
        rule = self.rule
        async with self._transaction() as conn:
            row = await self._lock_audit(conn, audit_id)
            state = await self._audit_state(conn, row)
            overall = domain.complete(state, rule, overall_grade, when)
            await self.store.save_completion(
                conn,
                audit_id,
                rule=rule.value,
                overall_grade=overall.value,
                completed_at=when,
                completed_by=completed_by,
            )
            await self.service.emit(
                conn,
                ev.AuditGraded(
                    audit_id=audit_id,
                    case_ref=row["case_ref"],
                    service_area=row["service_area"],
                    team=row["team"],
                    audit_type=AuditType(row["audit_type"]),
                    concern_id=row["concern_id"],
                    completed_at=when,
                    area_grades=[ev.AreaGrade(area=a, grade=state.grades[a]) for a in state.areas],
                    overall_grade=overall,
                    auditor_id=row["auditor_id"],
                ),
                aggregate=audit_id,
                subject=subject_for(row["case_ref"]),
            )
            return await self._audit_view(conn, audit_id)

    async def moderate_audit(
        self,
        audit_id: str,
        *,
        overall_grade: Grade,
        reason: str,
        moderated_at: datetime | None,
        moderator_id: str,
    ) -> Row:
        if not reason.strip():
            raise Invalid("a moderation gives its reason", "reason")
        when = domain.occurred_at(moderated_at, self.clock(), "moderated_at")
        async with self._transaction() as conn:
            row = await self._lock_audit(conn, audit_id)
            state = await self._audit_state(conn, row)
            before = domain.moderate(state, overall_grade, moderator_id, when)
            await self.store.save_moderation(
                conn,
                audit_id,
                grade_before=before.value,
                grade_after=overall_grade.value,
                moderator_id=moderator_id,
                reason=reason.strip(),
                moderated_at=when,
            )
            await self.service.emit(
                conn,
                ev.AuditModerated(
                    audit_id=audit_id,
                    overall_grade_before=before,
                    overall_grade_after=overall_grade,
                    moderator_id=moderator_id,
                    moderated_at=when,
                    reason=reason.strip(),
                ),
                aggregate=audit_id,
                subject=subject_for(row["case_ref"]),
            )
            return await self._audit_view(conn, audit_id)

    async def get_audit(self, audit_id: str) -> Row:
        async with self._read() as conn:
            if await self.store.audit(conn, audit_id) is None:
                raise NotFound(f"no audit {audit_id!r}")
            return await self._audit_view(conn, audit_id)

    async def list_audits(self, query: AuditQuery) -> list[Row]:
        today = self.today()
        async with self._read() as conn:
            rows = await self.store.list_audits(conn, query, today)
        return [self._audit_summary(r, today) for r in rows]

    async def _lock_audit(self, conn: asyncpg.Connection, audit_id: str) -> Row:
        row = await self.store.lock_audit(conn, audit_id)
        if row is None:
            raise NotFound(f"no audit {audit_id!r}")
        return row

    async def _audit_state(self, conn: asyncpg.Connection, row: Row) -> AuditState:
        grades = await self.store.area_grades(conn, row["audit_id"])
        return AuditState(
            audit_id=row["audit_id"],
            status=AuditStatus(row["status"]),
            auditor_id=row["auditor_id"],
            areas=tuple(a["key"] for a in row["areas"]),
            grades={g["area"]: Grade(g["grade"]) for g in grades},
            overall_grade=Grade(row["overall_grade"]) if row["overall_grade"] else None,
            current_grade=Grade(row["current_grade"]) if row["current_grade"] else None,
            completed_at=row["completed_at"],
            concern_id=row["concern_id"],
        )

    def _audit_summary(self, row: Row, today: date) -> Row:
        view = {k: v for k, v in row.items() if k not in ("areas",)}
        view["overdue"] = domain.is_overdue(row["due_date"], row["status"] == AuditStatus.COMPLETED, today)
        return view

    async def _audit_view(self, conn: asyncpg.Connection, audit_id: str) -> Row:
        row = await self.store.audit(conn, audit_id)
        assert row is not None
        grades = {g["area"]: g for g in await self.store.area_grades(conn, audit_id)}
        view = self._audit_summary(row, self.today())
        view["areas"] = [
            {
                "area": a["key"],
                "title": a["title"],
                **{k: grades[a["key"]][k] for k in ("grade", "rationale", "graded_by", "graded_at")},
            }
            if a["key"] in grades
            else {"area": a["key"], "title": a["title"]}
            for a in row["areas"]
        ]
        view["moderations"] = await self.store.moderations(conn, audit_id)
        view["actions"] = [
            self._action_view(a, self.today()) for a in await self.store.actions_of(conn, "audit", audit_id)
        ]
        return view

    # ----------------------------------------------------------------------- concerns

    async def raise_concern(
        self,
        *,
        service_area: str,
        theme: str,
        description: str,
        measures: Sequence[str],
        review_by: date,
        raised_at: datetime | None,
        raised_by: str,
    ) -> Row:
        when = domain.occurred_at(raised_at, self.clock(), "raised_at")
        tidy = domain.check_concern(
            theme=theme,
            description=description,
            measures=measures,
            raised_at=when,
            review_by=review_by,
        )
        concern_id = str(uuid.uuid4())
        async with self._transaction() as conn:
            await self.store.insert_concern(
                conn,
                {
                    "concern_id": concern_id,
                    "service_area": service_area,
                    "theme": theme.strip(),
                    "description": description.strip(),
                    "measures": tidy,
                    "raised_at": when,
                    "review_by": review_by,
                    "raised_by": raised_by,
                },
            )
            await self.service.emit(
                conn,
                ev.ConcernRaised(
                    concern_id=concern_id,
                    service_area=service_area,
                    theme=theme.strip(),
                    description=description.strip(),
                    measures=tidy,
                    raised_at=when,
                    review_by=review_by,
                ),
                aggregate=concern_id,
            )
            return await self._concern_view(conn, concern_id)

    async def resolve_concern(
        self,
        concern_id: str,
        *,
        evidence_audit_ids: Sequence[str],
        resolved_at: datetime | None,
        resolved_by: str,
    ) -> Row:
        when = domain.occurred_at(resolved_at, self.clock(), "resolved_at")
        async with self._transaction() as conn:
            row = await self.store.lock_concern(conn, concern_id)
            if row is None:
                raise NotFound(f"no concern {concern_id!r}")
            evidence = {
                r["audit_id"]: EvidenceAudit(
                    r["audit_id"], AuditStatus(r["status"]), r["concern_id"], r["completed_at"]
                )
                for r in await self.store.evidence_audits(conn, evidence_audit_ids)
            }
            ids = domain.check_resolution(_concern_state(row), evidence_audit_ids, evidence, when)
            await self.store.save_resolution(
                conn, concern_id, resolved_at=when, resolved_by=resolved_by, evidence_audit_ids=ids
            )
            await self.service.emit(
                conn,
                ev.ConcernResolved(concern_id=concern_id, resolved_at=when, evidence_audit_ids=ids),
                aggregate=concern_id,
            )
            return await self._concern_view(conn, concern_id)

    async def get_concern(self, concern_id: str) -> Row:
        async with self._read() as conn:
            if await self.store.concern(conn, concern_id) is None:
                raise NotFound(f"no concern {concern_id!r}")
            return await self._concern_view(conn, concern_id)

    async def list_concerns(
        self, *, status: str | None, service_area: str | None, limit: int, offset: int
    ) -> list[Row]:
        async with self._read() as conn:
            rows = await self.store.list_concerns(
                conn, status=status, service_area=service_area, limit=limit, offset=offset
            )
        today = self.today()
        return [
            {
                **r,
                "review_overdue": domain.is_overdue(r["review_by"], r["status"] == "resolved", today),
            }
            for r in rows
        ]

    async def _concern_view(self, conn: asyncpg.Connection, concern_id: str) -> Row:
        row = await self.store.concern(conn, concern_id)
        assert row is not None
        today = self.today()
        return {
            **row,
            "review_overdue": domain.is_overdue(row["review_by"], row["status"] == "resolved", today),
            "audit_ids": await self.store.concern_audit_ids(conn, concern_id),
            "actions": [self._action_view(a, today) for a in await self.store.actions_of(conn, "concern", concern_id)],
        }

    # ----------------------------------------------------------------------- actions

    async def raise_action(
        self,
        *,
        origin: LearningOrigin,
        origin_id: str,
        owner_id: str,
        due_date: date,
        summary: str,
        team: str | None,
        raised_at: datetime | None,
        raised_by: str,
    ) -> Row:
        """An action from an audit (its team and service area) or from a concern (the caller
        names the team: a concern is about a service area, not one team)."""
        when = domain.occurred_at(raised_at, self.clock(), "raised_at")
        domain.check_action(summary=summary, raised_at=when, due_date=due_date)
        action_id = str(uuid.uuid4())
        async with self._transaction() as conn:
            subject = None
            if origin is LearningOrigin.AUDIT:
                audit = await self.store.lock_audit(conn, origin_id)
                if audit is None:
                    raise NotFound(f"no audit {origin_id!r}")
                if team is not None and team != audit["team"]:
                    raise Invalid(f"an action from this audit belongs to its team {audit['team']!r}", "team")
                team, service_area = audit["team"], audit["service_area"]
                subject = subject_for(audit["case_ref"])
                links = {"audit_id": origin_id}
            else:
                concern = await self.store.lock_concern(conn, origin_id, share=True)
                if concern is None:
                    raise NotFound(f"no concern {origin_id!r}")
                if concern["status"] == ConcernStatus.RESOLVED:
                    raise Conflict(f"concern {origin_id} is resolved; raise the action on a new concern or audit")
                if not team:
                    raise Invalid("an action from a concern names the team that owns it", "team")
                service_area = concern["service_area"]
                links = {"concern_id": origin_id}
            await self.store.insert_action(
                conn,
                {
                    "action_id": action_id,
                    "origin": origin.value,
                    "origin_id": origin_id,
                    **links,
                    "team": team,
                    "service_area": service_area,
                    "owner_id": owner_id,
                    "summary": summary.strip(),
                    "raised_at": when,
                    "raised_by": raised_by,
                    "due_date": due_date,
                },
            )
            await self.service.emit(
                conn,
                ev.ActionRaised(
                    action_id=action_id,
                    origin=origin,
                    origin_id=origin_id,
                    team=team,
                    service_area=service_area,
                    owner_id=owner_id,
                    raised_at=when,
                    due_date=due_date,
                    summary=summary.strip(),
                ),
                aggregate=action_id,
                subject=subject,
            )
            row = await self.store.action(conn, action_id)
        assert row is not None
        return self._action_view(row, self.today())

    async def complete_action(
        self,
        action_id: str,
        *,
        evidence: str | None,
        completed_at: datetime | None,
        completed_by: str,
    ) -> Row:
        when = domain.occurred_at(completed_at, self.clock(), "completed_at")
        evidence = evidence.strip() if evidence and evidence.strip() else None
        async with self._transaction() as conn:
            row = await self.store.lock_action(conn, action_id)
            if row is None:
                raise NotFound(f"no action {action_id!r}")
            domain.complete_action(action_id, ActionStatus(row["status"]), row["raised_at"], when)
            await self.store.save_action_completion(
                conn, action_id, completed_at=when, completed_by=completed_by, evidence=evidence
            )
            subject = None
            if row["audit_id"]:
                audit = await self.store.audit(conn, row["audit_id"])
                subject = subject_for(audit["case_ref"]) if audit else None
            await self.service.emit(
                conn,
                ev.ActionCompleted(action_id=action_id, completed_at=when, evidence=evidence),
                aggregate=action_id,
                subject=subject,
            )
            done = await self.store.action(conn, action_id)
        assert done is not None
        return self._action_view(done, self.today())

    async def get_action(self, action_id: str) -> Row:
        async with self._read() as conn:
            row = await self.store.action(conn, action_id)
        if row is None:
            raise NotFound(f"no action {action_id!r}")
        return self._action_view(row, self.today())

    async def list_actions(self, query: ActionQuery) -> list[Row]:
        today = self.today()
        async with self._read() as conn:
            rows = await self.store.list_actions(conn, query, today)
        return [self._action_view(r, today) for r in rows]

    @staticmethod
    def _action_view(row: Row, today: date) -> Row:
        return {
            **row,
            "overdue": domain.is_overdue(row["due_date"], row["status"] == ActionStatus.COMPLETED, today),
        }


def _concern_state(row: Row) -> ConcernState:
    return ConcernState(
        concern_id=row["concern_id"],
        service_area=row["service_area"],
        status=ConcernStatus(row["status"]),
        raised_at=row["raised_at"],
    )


def view_without_case_reference(view: dict[str, Any]) -> dict[str, Any]:
    """An audit view for readers who may not see the raw case number (reporting:read only)."""
    return {**view, "case_reference": None}
