"""The audit use cases: one function each, over an `AuditUnitOfWork`.

Each runs in `async with uow:` — one transaction: load (a write locks what it changes),
ask the domain, save, `uow.emit(event)`; the events reach the outbox only if it commits,
and a refusal (`shared.errors`) rolls everything back. No SQL, no HTTP.

Events carry the keyed hash of the case reference (`case_ref`, and `subject` for events
about one child's case), never the raw case number or the auditor's rationale.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.audit import commands, domain, templates
from services.audit.commands import (
    CompleteAudit,
    CreateTemplate,
    GradeAudit,
    ModerateAudit,
    RaiseConcern,
    ResolveConcern,
    ScheduleAudit,
)
from services.audit.domain import Audit, Concern, InspectionFinding
from services.audit.store import AuditQuery, AuditUnitOfWork, ConcernQuery, FindingQuery
from services.audit.templates import Template
from shared.actions.domain import Action, ActionOrigin, RaiseAction
from shared.actions.handlers import raise_action_on
from shared.errors import Conflict, NotFound
from shared.events import AuditType, known_service_areas


@dataclass(frozen=True)
class AuditDetail:
    """An audit and the actions raised on it."""

    audit: Audit
    actions: list[Action]


@dataclass(frozen=True)
class FindingDetail:
    """An inspection finding and the actions raised on it."""

    finding: InspectionFinding
    actions: list[Action]


@dataclass(frozen=True)
class ConcernDetail:
    """A concern, the audits linked to it and the actions raised on it."""

    concern: Concern
    audit_ids: list[str]
    actions: list[Action]


# --------------------------------------------------------------------------- templates


async def create_template(uow: AuditUnitOfWork, cmd: CreateTemplate, *, actor: str) -> Template:
    """A new template (a default one takes over as its service area's default for its type)."""
    async with uow:
        template = templates.create_template(
            cmd,
            template_id=str(uuid.uuid4()),
            known_service_areas=known_service_areas(),
            created_by=actor,
            now=uow.now(),
        )
        if not await uow.templates.add(template):
            raise Conflict(f"a template named {template.name!r} exists already")
    return template


async def list_templates(
    uow: AuditUnitOfWork, *, service_area: str | None = None, audit_type: AuditType | None = None
) -> list[Template]:
    async with uow:
        return await uow.templates.find(service_area=service_area, audit_type=audit_type)


async def get_template(uow: AuditUnitOfWork, template_id: str) -> Template:
    async with uow:
        found = await uow.templates.get(template_id)
    if found is None:
        raise NotFound(f"no template {template_id!r}")
    return found


# --------------------------------------------------------------------------- audits


async def schedule_audit(uow: AuditUnitOfWork, cmd: ScheduleAudit, *, actor: str) -> AuditDetail:
    """Schedule an audit of a case on its template; publishes `AuditScheduled`."""
    async with uow:
        concern = await uow.concerns.get(cmd.concern_id, for_share=True) if cmd.concern_id else None
        if cmd.template_id is None:
            candidates = await uow.templates.find(service_area=cmd.service_area)
        else:
            named = await uow.templates.get(cmd.template_id)
            candidates = [] if named is None else [named]
        audit = domain.schedule_audit(
            cmd,
            audit_id=str(uuid.uuid4()),
            case_ref=uow.pseudonym(cmd.case_reference),
            templates=candidates,
            concern=concern,
            scheduled_by=actor,
            now=uow.now(),
        )
        await uow.audits.add(audit)
        uow.emit(audit.scheduled_event(), aggregate=audit.audit_id, subject=audit.subject, actor=actor)
    return AuditDetail(audit, [])


async def reschedule_audit(
    uow: AuditUnitOfWork, audit_id: str, cmd: commands.RescheduleAudit, *, actor: str
) -> AuditDetail:
    """A new due date for an audit not completed yet; publishes `AuditScheduled` again (the
    next in the audit's sequence)."""
    async with uow:
        audit = await _audit_for_update(uow, audit_id)
        event = audit.reschedule(cmd)
        await uow.audits.save(audit)
        uow.emit(event, aggregate=audit_id, subject=audit.subject, actor=actor)
        return AuditDetail(audit, await uow.actions.of_origin(audit_id))


async def grade_audit(uow: AuditUnitOfWork, audit_id: str, cmd: GradeAudit, *, actor: str) -> AuditDetail:
    """Record (or, before completion, change) area grades; publishes nothing."""
    async with uow:
        audit = await _audit_for_update(uow, audit_id)
        audit.grade(cmd, graded_by=actor, now=uow.now())
        await uow.audits.save(audit)
        return AuditDetail(audit, await uow.actions.of_origin(audit_id))


async def complete_audit(uow: AuditUnitOfWork, audit_id: str, cmd: CompleteAudit, *, actor: str) -> AuditDetail:
    """Complete a fully graded audit by the authority's rule; publishes `AuditGraded`."""
    async with uow:
        audit = await _audit_for_update(uow, audit_id)
        event = audit.complete(cmd, uow.grade_rule, completed_by=actor, now=uow.now())
        await uow.audits.save(audit)
        uow.emit(event, aggregate=audit_id, subject=audit.subject, actor=actor)
        return AuditDetail(audit, await uow.actions.of_origin(audit_id))


async def moderate_audit(uow: AuditUnitOfWork, audit_id: str, cmd: ModerateAudit, *, actor: str) -> AuditDetail:
    """A second reader (`actor`) changes the overall grade; publishes `AuditModerated`."""
    async with uow:
        audit = await _audit_for_update(uow, audit_id)
        event = audit.moderate(cmd, moderator_id=actor, now=uow.now())
        await uow.audits.save(audit)
        uow.emit(event, aggregate=audit_id, subject=audit.subject, actor=actor)
        return AuditDetail(audit, await uow.actions.of_origin(audit_id))


async def get_audit(uow: AuditUnitOfWork, audit_id: str) -> AuditDetail:
    async with uow:
        audit = await uow.audits.get(audit_id)
        if audit is None:
            raise NotFound(f"no audit {audit_id!r}")
        return AuditDetail(audit, await uow.actions.of_origin(audit_id))


async def list_audits(uow: AuditUnitOfWork, query: AuditQuery) -> list[Audit]:
    async with uow:
        return await uow.audits.find(query)


async def _audit_for_update(uow: AuditUnitOfWork, audit_id: str) -> Audit:
    audit = await uow.audits.get(audit_id, for_update=True)
    if audit is None:
        raise NotFound(f"no audit {audit_id!r}")
    return audit


# --------------------------------------------------------------------------- concerns


async def raise_concern(uow: AuditUnitOfWork, cmd: RaiseConcern, *, actor: str) -> ConcernDetail:
    """An area of concern and its measures (a rework names the resolved concern it
    supersedes); publishes `ConcernRaised`."""
    async with uow:
        superseded = await uow.concerns.get(cmd.supersedes, for_share=True) if cmd.supersedes else None
        concern = domain.raise_concern(
            cmd, concern_id=str(uuid.uuid4()), raised_by=actor, now=uow.now(), superseded=superseded
        )
        await uow.concerns.add(concern)
        uow.emit(concern.raised_event(), aggregate=concern.concern_id, actor=actor)
    return ConcernDetail(concern, [], [])


async def resolve_concern(uow: AuditUnitOfWork, concern_id: str, cmd: ResolveConcern, *, actor: str) -> ConcernDetail:
    """Resolve a concern with the completed audits linked to it; publishes `ConcernResolved`."""
    async with uow:
        concern = await uow.concerns.get(concern_id, for_update=True)
        if concern is None:
            raise NotFound(f"no concern {concern_id!r}")
        evidence = {e.audit_id: e for e in await uow.audits.evidence(cmd.evidence_audit_ids)}
        event = concern.resolve(cmd, evidence, resolved_by=actor, now=uow.now())
        await uow.concerns.save(concern)
        uow.emit(event, aggregate=concern_id, actor=actor)
        return await _concern_detail(uow, concern)


async def get_concern(uow: AuditUnitOfWork, concern_id: str) -> ConcernDetail:
    async with uow:
        concern = await uow.concerns.get(concern_id)
        if concern is None:
            raise NotFound(f"no concern {concern_id!r}")
        return await _concern_detail(uow, concern)


async def list_concerns(uow: AuditUnitOfWork, query: ConcernQuery) -> list[Concern]:
    async with uow:
        return await uow.concerns.find(query)


async def _concern_detail(uow: AuditUnitOfWork, concern: Concern) -> ConcernDetail:
    cid = concern.concern_id
    return ConcernDetail(concern, await uow.audits.linked_to(cid), await uow.actions.of_origin(cid))


# --------------------------------------------------------------------------- actions


async def raise_audit_action(
    uow: AuditUnitOfWork, audit_id: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """An action arising from an audit (its team's; its events carry the case's pseudonym);
    publishes `ActionRaised`. (action, created): a retry with the same id creates nothing."""

    async def the_audit(uow: AuditUnitOfWork) -> ActionOrigin:
        audit = await uow.audits.get(audit_id)
        if audit is None:
            raise NotFound(f"no audit {audit_id!r}")
        return audit.action_origin()

    return await raise_action_on(uow, the_audit, cmd, actor=actor)


async def raise_concern_action(
    uow: AuditUnitOfWork, concern_id: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """An action arising from an open concern (the request names the team); publishes
    `ActionRaised`. (action, created): a retry with the same id creates nothing."""

    async def the_concern(uow: AuditUnitOfWork) -> ActionOrigin:
        concern = await uow.concerns.get(concern_id, for_share=True)  # not resolved meanwhile
        if concern is None:
            raise NotFound(f"no concern {concern_id!r}")
        return concern.action_origin()

    return await raise_action_on(uow, the_concern, cmd, actor=actor)


# --------------------------------------------------------------------------- inspection findings


async def record_inspection_finding(
    uow: AuditUnitOfWork, cmd: commands.RecordInspectionFinding, *, actor: str
) -> FindingDetail:
    """An inspection finding to learn from; publishes `InspectionFindingRecorded`."""
    async with uow:
        finding = domain.record_inspection_finding(cmd, finding_id=str(uuid.uuid4()), recorded_by=actor, now=uow.now())
        await uow.findings.add(finding)
        uow.emit(finding.recorded_event(), aggregate=finding.finding_id, actor=actor)
    return FindingDetail(finding, [])


async def get_inspection_finding(uow: AuditUnitOfWork, finding_id: str) -> FindingDetail:
    async with uow:
        finding = await uow.findings.get(finding_id)
        if finding is None:
            raise NotFound(f"no inspection finding {finding_id!r}")
        return FindingDetail(finding, await uow.actions.of_origin(finding_id))


async def list_inspection_findings(uow: AuditUnitOfWork, query: FindingQuery) -> list[InspectionFinding]:
    async with uow:
        return await uow.findings.find(query)


async def raise_finding_action(
    uow: AuditUnitOfWork, finding_id: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """An action answering an inspection finding (origin `inspection`; the finding's team,
    or the one the request names); publishes `ActionRaised`. (action, created): a retry with
    the same id creates nothing."""

    async def the_finding(uow: AuditUnitOfWork) -> ActionOrigin:
        finding = await uow.findings.get(finding_id)
        if finding is None:
            raise NotFound(f"no inspection finding {finding_id!r}")
        return finding.action_origin()

    return await raise_action_on(uow, the_finding, cmd, actor=actor)
