"""The audit service's HTTP API under /v1: templates, audits, concerns, and raising an action
on an audit or a concern (listing, reading and completing actions: the shared
`actions_router`, mounted by app.py).

Writes need `audit:write`; reads `reporting:read` or `audit:write`. The raw case reference
is shown only to `audit:write` callers (auditors); other readers see its keyed hash.
Errors: 401/403 (token, role, tenant), 404 unknown id, 409 not allowed in the current state,
422 invalid request (FastAPI's shape: `detail: [{loc, msg, type}]`, naming the field).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from services.audit import handlers
from services.audit.commands import (
    CompleteAudit,
    CreateTemplate,
    GradeAudit,
    ModerateAudit,
    RaiseConcern,
    RecordInspectionFinding,
    RescheduleAudit,
    ResolveConcern,
    ScheduleAudit,
)
from services.audit.domain import Audit, Concern, InspectionFinding, Moderation
from services.audit.handlers import AuditDetail, ConcernDetail, FindingDetail
from services.audit.store import (
    AuditQuery,
    AuditStatusFilter,
    AuditUnitOfWork,
    ConcernQuery,
    ConcernStatusFilter,
    FindingQuery,
)
from services.audit.templates import ChecklistItem, Template, TemplateArea
from shared.access_log import PERSONAL_DATA
from shared.actions.api import RAISE_DESCRIPTION, ActionView, raised
from shared.actions.domain import RaiseAction
from shared.auth import Principal, require_served
from shared.bounds import CalendarDate, Name
from shared.bounds import Offset as Offset64
from shared.calendar import london_date
from shared.events import AuditType, ConcernOutcome, Grade, InspectionBody, ServiceArea
from shared.service import unit_of_work
from shared.uow import utc_now

WRITE = "audit:write"
READ = ("reporting:read", WRITE)

Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(*READ))]
UoW = Annotated[AuditUnitOfWork, Depends(unit_of_work)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[Offset64, Query()]
T = TypeVar("T")

router = APIRouter(prefix="/v1")


def _today() -> date:
    return london_date(utc_now())


# --------------------------------------------------------------------------- views


class TemplateAreaView(BaseModel):
    key: str
    title: str
    guidance: str = ""


class ChecklistItemView(BaseModel):
    key: str
    title: str

    @classmethod
    def of(cls, c: ChecklistItem) -> ChecklistItemView:
        return cls(key=c.key, title=c.title)


class TemplateView(BaseModel):
    template_id: str
    name: str
    service_area: str
    audit_type: AuditType | None
    areas: list[TemplateAreaView]
    is_default: bool
    created_by: str
    created_at: datetime
    checklist: list[ChecklistItemView] = Field(description="EHCP templates: the procedure checklist")

    @classmethod
    def of(cls, t: Template) -> TemplateView:
        assert t.created_at is not None  # a stored template
        areas = [TemplateAreaView(key=a.key, title=a.title, guidance=a.guidance) for a in t.areas]
        return cls(
            template_id=t.template_id,
            name=t.name,
            service_area=t.service_area,
            audit_type=t.audit_type,
            areas=areas,
            is_default=t.is_default,
            created_by=t.created_by,
            created_at=t.created_at,
            checklist=[ChecklistItemView.of(c) for c in t.checklist],
        )


class TemplateList(BaseModel):
    items: list[TemplateView]


class AuditAreaView(BaseModel):
    area: str
    title: str
    grade: Grade | None = None
    rationale: str | None = None
    graded_by: str | None = None
    graded_at: datetime | None = None

    @classmethod
    def of(cls, area: TemplateArea, audit: Audit) -> AuditAreaView:
        judgement = audit.grades.get(area.key)
        if judgement is None:
            return cls(area=area.key, title=area.title)
        return cls(
            area=area.key,
            title=area.title,
            grade=judgement.grade,
            rationale=judgement.rationale,
            graded_by=judgement.graded_by,
            graded_at=judgement.graded_at,
        )


class ChecklistAnswerView(BaseModel):
    item: str
    title: str
    met: bool | None = Field(description="null until the audit is completed")


class ModerationView(BaseModel):
    grade_before: Grade
    grade_after: Grade
    moderator_id: str
    reason: str
    moderated_at: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, m: Moderation) -> ModerationView:
        return cls.model_validate(m, from_attributes=True)


class AuditSummary(BaseModel):
    audit_id: str
    case_reference: str | None = Field(description="raw case number: shown to audit:write callers only")
    case_ref: str = Field(description="the pseudonymised case reference that events carry")
    service_area: str
    team: str
    audit_type: AuditType
    theme: str | None
    concern_id: str | None
    template_id: str
    auditor_id: str
    due_date: date
    status: Literal["scheduled", "in_progress", "completed"]
    overdue: bool
    grade_rule: Literal["worst", "best_fit"] | None
    overall_grade: Grade | None = Field(description="as completed")
    current_grade: Grade | None = Field(description="after the latest moderation (what reporting counts)")
    completed_at: datetime | None
    scheduled_by: str
    scheduled_at: datetime
    procedure_compliant: bool | None = Field(
        description="EHCP audits, once completed: every item of the procedure checklist met"
    )

    @staticmethod
    def fields_of(a: Audit, principal: Principal, today: date) -> dict[str, object]:
        """The summary's fields; the raw case reference only for `audit:write` callers."""
        return {
            "audit_id": a.audit_id,
            "case_reference": a.case_reference if principal.has(WRITE) else None,
            "case_ref": a.case_ref,
            "service_area": a.service_area,
            "team": a.team,
            "audit_type": a.audit_type,
            "theme": a.theme,
            "concern_id": a.concern_id,
            "template_id": a.template_id,
            "auditor_id": a.auditor_id,
            "due_date": a.due_date,
            "status": a.status.value,
            "overdue": a.overdue(today),
            "grade_rule": a.grade_rule.value if a.grade_rule else None,
            "overall_grade": a.overall_grade,
            "current_grade": a.current_grade,
            "completed_at": a.completed_at,
            "scheduled_by": a.scheduled_by,
            "scheduled_at": a.scheduled_at,
            "procedure_compliant": a.procedure_compliant,
        }

    @classmethod
    def of(cls, a: Audit, principal: Principal) -> AuditSummary:
        return cls.model_validate(cls.fields_of(a, principal, _today()))


class AuditView(AuditSummary):
    areas: list[AuditAreaView]
    checklist: list[ChecklistAnswerView]
    moderations: list[ModerationView]
    actions: list[ActionView]

    @classmethod
    def of_detail(cls, detail: AuditDetail, principal: Principal) -> AuditView:
        a, today = detail.audit, _today()
        return cls.model_validate(
            cls.fields_of(a, principal, today)
            | {
                "areas": [AuditAreaView.of(area, a) for area in a.areas],
                "checklist": [
                    ChecklistAnswerView(item=c.key, title=c.title, met=a.checklist_answers.get(c.key))
                    for c in a.checklist
                ],
                "moderations": [ModerationView.of(m) for m in a.moderations],
                "actions": [ActionView.of(x, today) for x in detail.actions],
            }
        )


class ConcernSummary(BaseModel):
    concern_id: str
    service_area: str
    theme: str
    description: str
    measures: list[str]
    raised_at: datetime
    raised_by: str
    review_by: date
    review_overdue: bool
    status: Literal["open", "resolved"]
    resolved_at: datetime | None
    resolved_by: str | None
    evidence_audit_ids: list[str] | None
    supersedes: str | None
    outcome: ConcernOutcome | None
    reason: str | None

    @staticmethod
    def fields_of(c: Concern, today: date) -> dict[str, object]:
        return {
            "concern_id": c.concern_id,
            "service_area": c.service_area,
            "theme": c.theme,
            "description": c.description,
            "measures": c.measures,
            "raised_at": c.raised_at,
            "raised_by": c.raised_by,
            "review_by": c.review_by,
            "review_overdue": c.review_overdue(today),
            "status": c.status.value,
            "resolved_at": c.resolved_at,
            "resolved_by": c.resolved_by,
            "evidence_audit_ids": c.evidence_audit_ids,
            "supersedes": c.supersedes,
            "outcome": c.outcome,
            "reason": c.reason,
        }

    @classmethod
    def of(cls, c: Concern) -> ConcernSummary:
        return cls.model_validate(cls.fields_of(c, _today()))


class ConcernView(ConcernSummary):
    audit_ids: list[str]
    actions: list[ActionView]

    @classmethod
    def of_detail(cls, detail: ConcernDetail) -> ConcernView:
        today = _today()
        return cls.model_validate(
            cls.fields_of(detail.concern, today)
            | {"audit_ids": detail.audit_ids, "actions": [ActionView.of(x, today) for x in detail.actions]}
        )


class FindingSummary(BaseModel):
    finding_id: str
    body: InspectionBody
    service_area: str
    team: str | None
    summary: str
    recorded_at: datetime
    recorded_by: str

    @classmethod
    def of(cls, f: InspectionFinding) -> FindingSummary:
        return cls(
            finding_id=f.finding_id,
            body=f.body,
            service_area=f.service_area,
            team=f.team,
            summary=f.summary,
            recorded_at=f.recorded_at,
            recorded_by=f.recorded_by,
        )


class FindingView(FindingSummary):
    actions: list[ActionView]

    @classmethod
    def of_detail(cls, detail: FindingDetail) -> FindingView:
        today = _today()
        summary = FindingSummary.of(detail.finding).model_dump()
        return cls(**summary, actions=[ActionView.of(x, today) for x in detail.actions])


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int


# --------------------------------------------------------------------------- templates


@router.post("/templates", status_code=201, response_model=TemplateView, tags=["templates"])
async def create_template(body: CreateTemplate, principal: Writer, uow: UoW) -> TemplateView:
    """A named set of areas that audits of a service area (and audit type) are graded on."""
    return TemplateView.of(await handlers.create_template(uow, body, actor=principal.subject))


@router.get("/templates", response_model=TemplateList, tags=["templates"])
async def list_templates(
    _: Reader, uow: UoW, service_area: ServiceArea | None = None, audit_type: AuditType | None = None
) -> TemplateList:
    found = await handlers.list_templates(uow, service_area=service_area, audit_type=audit_type)
    return TemplateList(items=[TemplateView.of(t) for t in found])


@router.get("/templates/{template_id}", response_model=TemplateView, tags=["templates"])
async def get_template(template_id: Name, _: Reader, uow: UoW) -> TemplateView:
    return TemplateView.of(await handlers.get_template(uow, template_id))


# --------------------------------------------------------------------------- audits


@router.post("/audits", status_code=201, response_model=AuditView, tags=["audits"])
async def schedule_audit(body: ScheduleAudit, principal: Writer, uow: UoW) -> AuditView:
    """Schedule an audit of a case (publishes `AuditScheduled`)."""
    return AuditView.of_detail(await handlers.schedule_audit(uow, body, actor=principal.subject), principal)


@router.get("/audits", response_model=Page[AuditSummary], tags=["audits"])
async def list_audits(
    principal: Reader,
    uow: UoW,
    status_: Annotated[
        AuditStatusFilter | None,
        Query(alias="status", description="open = not completed; overdue = open and past its due date"),
    ] = None,
    team: Name | None = None,
    auditor_id: Name | None = None,
    service_area: ServiceArea | None = None,
    audit_type: AuditType | None = None,
    concern_id: Name | None = None,
    due_by: Annotated[CalendarDate | None, Query(description="due on or before")] = None,
    due_from: Annotated[CalendarDate | None, Query(description="due on or after")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AuditSummary]:
    query = AuditQuery(
        today=_today(),
        status=status_,
        team=team,
        auditor_id=auditor_id,
        service_area=service_area,
        audit_type=audit_type,
        concern_id=concern_id,
        due_by=due_by,
        due_from=due_from,
        limit=limit,
        offset=offset,
    )
    items = [AuditSummary.of(a, principal) for a in await handlers.list_audits(uow, query)]
    return Page[AuditSummary](items=items, limit=limit, offset=offset)


@router.get("/audits/{audit_id}", response_model=AuditView, tags=["audits"], openapi_extra=PERSONAL_DATA)
async def get_audit(audit_id: Name, principal: Reader, uow: UoW) -> AuditView:
    """One audit with its area grades, moderation history and actions."""
    return AuditView.of_detail(await handlers.get_audit(uow, audit_id), principal)


@router.post("/audits/{audit_id}/reschedule", response_model=AuditView, tags=["audits"])
async def reschedule_audit(audit_id: Name, body: RescheduleAudit, principal: Writer, uow: UoW) -> AuditView:
    """A new due date for an audit not completed yet (publishes `AuditScheduled` again;
    reporting times the audit against the latest)."""
    detail = await handlers.reschedule_audit(uow, audit_id, body, actor=principal.subject)
    return AuditView.of_detail(detail, principal)


@router.post("/audits/{audit_id}/grades", response_model=AuditView, tags=["audits"])
async def grade_audit(audit_id: Name, body: GradeAudit, principal: Writer, uow: UoW) -> AuditView:
    """Record (or, before completion, change) area grades, each with a short rationale."""
    return AuditView.of_detail(await handlers.grade_audit(uow, audit_id, body, actor=principal.subject), principal)


@router.post("/audits/{audit_id}/complete", response_model=AuditView, tags=["audits"])
async def complete_audit(audit_id: Name, body: CompleteAudit, principal: Writer, uow: UoW) -> AuditView:
    """Complete a fully graded audit (publishes `AuditGraded`)."""
    detail = await handlers.complete_audit(uow, audit_id, body, actor=principal.subject)
    return AuditView.of_detail(detail, principal)


@router.post("/audits/{audit_id}/moderations", status_code=201, response_model=AuditView, tags=["audits"])
async def moderate_audit(audit_id: Name, body: ModerateAudit, principal: Writer, uow: UoW) -> AuditView:
    """A second reader (the caller) changes the overall grade (publishes `AuditModerated`)."""
    detail = await handlers.moderate_audit(uow, audit_id, body, actor=principal.subject)
    return AuditView.of_detail(detail, principal)


@router.post(
    "/audits/{audit_id}/actions",
    status_code=201,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on an audit (publishes ActionRaised, origin audit)",
    description="The action belongs to the audit's team. " + RAISE_DESCRIPTION,
)
async def raise_audit_action(
    audit_id: Name, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_audit_action(uow, audit_id, body, actor=principal.subject)
    return raised(action, created, response)


# --------------------------------------------------------------------------- concerns


@router.post("/concerns", status_code=201, response_model=ConcernView, tags=["concerns"])
async def raise_concern(body: RaiseConcern, principal: Writer, uow: UoW) -> ConcernView:
    """An area of concern, the measures put in place and when to review them (publishes
    `ConcernRaised`); targeted audits then link to it by `concern_id`."""
    return ConcernView.of_detail(await handlers.raise_concern(uow, body, actor=principal.subject))


@router.get("/concerns", response_model=Page[ConcernSummary], tags=["concerns"])
async def list_concerns(
    _: Reader,
    uow: UoW,
    status_: Annotated[ConcernStatusFilter | None, Query(alias="status")] = None,
    service_area: ServiceArea | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ConcernSummary]:
    query = ConcernQuery(status=status_, service_area=service_area, limit=limit, offset=offset)
    items = [ConcernSummary.of(c) for c in await handlers.list_concerns(uow, query)]
    return Page[ConcernSummary](items=items, limit=limit, offset=offset)


@router.get("/concerns/{concern_id}", response_model=ConcernView, tags=["concerns"])
async def get_concern(concern_id: Name, _: Reader, uow: UoW) -> ConcernView:
    return ConcernView.of_detail(await handlers.get_concern(uow, concern_id))


@router.post("/concerns/{concern_id}/resolve", response_model=ConcernView, tags=["concerns"])
async def resolve_concern(concern_id: Name, body: ResolveConcern, principal: Writer, uow: UoW) -> ConcernView:
    """Resolve a concern with the completed audits linked to it that evidence the measures
    work (publishes `ConcernResolved`)."""
    return ConcernView.of_detail(await handlers.resolve_concern(uow, concern_id, body, actor=principal.subject))


@router.post(
    "/concerns/{concern_id}/actions",
    status_code=201,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on an open concern (publishes ActionRaised, origin concern)",
    description="The request names the team that owns it. " + RAISE_DESCRIPTION,
)
async def raise_concern_action(
    concern_id: Name, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_concern_action(uow, concern_id, body, actor=principal.subject)
    return raised(action, created, response)


# --------------------------------------------------------------------------- inspection findings


@router.post("/inspection-findings", status_code=201, response_model=FindingView, tags=["inspection findings"])
async def record_inspection_finding(body: RecordInspectionFinding, principal: Writer, uow: UoW) -> FindingView:
    """A finding of an inspection (Ofsted, CQC, DfE or another body) to learn from
    (publishes `InspectionFindingRecorded`; reporting follows it up until an action answers it)."""
    return FindingView.of_detail(await handlers.record_inspection_finding(uow, body, actor=principal.subject))


@router.get("/inspection-findings", response_model=Page[FindingSummary], tags=["inspection findings"])
async def list_inspection_findings(
    _: Reader,
    uow: UoW,
    body: InspectionBody | None = None,
    service_area: ServiceArea | None = None,
    team: Name | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[FindingSummary]:
    query = FindingQuery(body=body, service_area=service_area, team=team, limit=limit, offset=offset)
    items = [FindingSummary.of(f) for f in await handlers.list_inspection_findings(uow, query)]
    return Page[FindingSummary](items=items, limit=limit, offset=offset)


@router.get("/inspection-findings/{finding_id}", response_model=FindingView, tags=["inspection findings"])
async def get_inspection_finding(finding_id: Name, _: Reader, uow: UoW) -> FindingView:
    return FindingView.of_detail(await handlers.get_inspection_finding(uow, finding_id))


@router.post(
    "/inspection-findings/{finding_id}/actions",
    status_code=201,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on an inspection finding (publishes ActionRaised, origin inspection)",
    description="The action belongs to the finding's team (a finding about no one team: the request "
    "names it). " + RAISE_DESCRIPTION,
)
async def raise_finding_action(
    finding_id: Name, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_finding_action(uow, finding_id, body, actor=principal.subject)
    return raised(action, created, response)
