"""The audit service's HTTP API under /v1: templates, audits, concerns and actions.

Writes need `audit:write`; reads `reporting:read` or `audit:write`. The raw case reference
is shown only to `audit:write` callers (auditors); other readers see its keyed hash.
Errors: 401/403 (token, role, tenant), 404 unknown id, 409 not allowed in the current state,
422 invalid request (FastAPI's shape: `detail: [{loc, msg, type}]`, naming the field).
"""

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.audit.domain import AreaJudgement, AuditRuleError, Conflict, NotFound, TemplateArea
from services.audit.handlers import AuditHandlers, view_without_case_reference
from services.audit.store import ActionQuery, AuditQuery
from shared.access_log import PERSONAL_DATA
from shared.auth import Principal, require_served
from shared.bounds import AwareCalendarDateTime, CalendarDate, Name, text
from shared.bounds import Offset as Offset64
from shared.events import AuditType, Grade, LearningOrigin, ServiceArea

WRITE = "audit:write"
READ = ("reporting:read", WRITE)

Text = Annotated[str, text(200, 1)]
LongText = Annotated[str, text(4000, 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[Offset64, Query()]
T = TypeVar("T")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- requests


class TemplateAreaIn(Command):
    key: Annotated[str, text(64, 1), Field(examples=["voice_of_the_child"])]
    title: Text
    guidance: Annotated[str, text(4000)] = ""


class CreateTemplate(Command):
    name: Text
    service_area: ServiceArea
    audit_type: AuditType | None = Field(None, description="null: any audit type but EHCP")
    areas: Annotated[list[TemplateAreaIn], Field(min_length=1)]
    is_default: bool = Field(False, description="becomes the service area's default for its audit type")


class ScheduleAudit(Command):
    case_reference: Annotated[
        str,
        text(100, 1),
        Field(
            description="the raw case number; it never leaves this service",
        ),
    ]
    service_area: ServiceArea
    team: Text
    audit_type: AuditType
    theme: Annotated[str, text(200)] | None = Field(None, description="required for themed audits")
    concern_id: Name | None = Field(None, description="the concern a targeted audit checks (required for targeted)")
    auditor_id: Text
    due_date: CalendarDate
    template_id: Name | None = Field(None, description="default: the service area's default template for the type")


class AreaGradeIn(Command):
    area: Text
    grade: Grade
    rationale: Annotated[str, Field(min_length=1, max_length=2000)]


class GradeAudit(Command):
    grades: Annotated[list[AreaGradeIn], Field(min_length=1)]


class CompleteAudit(Command):
    overall_grade: Grade | None = Field(
        None,
        description="rule 'best_fit': required, between the best and worst area grade; rule 'worst': optional",
    )
    completed_at: AwareCalendarDateTime | None = Field(None, description="default: now")


class ModerateAudit(Command):
    overall_grade: Grade
    reason: LongText
    moderated_at: AwareCalendarDateTime | None = None


class RaiseConcern(Command):
    service_area: ServiceArea
    theme: Text
    description: LongText
    measures: Annotated[list[LongText], Field(min_length=1)]
    review_by: CalendarDate
    raised_at: AwareCalendarDateTime | None = None


class ResolveConcern(Command):
    evidence_audit_ids: Annotated[list[Text], Field(min_length=1)]
    resolved_at: AwareCalendarDateTime | None = None


class RaiseAction(Command):
    owner_id: Text
    due_date: CalendarDate
    summary: LongText
    team: Text | None = Field(None, description="required for a concern's action; an audit's is the audit's team")
    raised_at: AwareCalendarDateTime | None = None


class CompleteAction(Command):
    evidence: Annotated[str, text(4000)] | None = None
    completed_at: AwareCalendarDateTime | None = None


# --------------------------------------------------------------------------- views


class View(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TemplateAreaView(View):
    key: str
    title: str
    guidance: str = ""


class TemplateView(View):
    template_id: str
    name: str
    service_area: str
    audit_type: AuditType | None
    areas: list[TemplateAreaView]
    is_default: bool
    created_by: str
    created_at: datetime


class ActionView(View):
    action_id: str
    origin: LearningOrigin
    origin_id: str
    team: str
    service_area: str
    owner_id: str
    summary: str
    raised_at: datetime
    raised_by: str
    due_date: date
    status: Literal["open", "completed"]
    overdue: bool
    completed_at: datetime | None = None
    completed_by: str | None = None
    evidence: str | None = None


class AuditAreaView(View):
    area: str
    title: str
    grade: Grade | None = None
    rationale: str | None = None
    graded_by: str | None = None
    graded_at: datetime | None = None


class ModerationView(View):
    grade_before: Grade
    grade_after: Grade
    moderator_id: str
    reason: str
    moderated_at: datetime
    recorded_at: datetime


class AuditSummary(View):
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


class AuditView(AuditSummary):
    areas: list[AuditAreaView]
    moderations: list[ModerationView]
    actions: list[ActionView]


class ConcernSummary(View):
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


class ConcernView(ConcernSummary):
    audit_ids: list[str]
    actions: list[ActionView]


class TemplateList(BaseModel):
    items: list[TemplateView]


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int


# --------------------------------------------------------------------------- routes


Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(*READ))]


def _for(principal: Principal, view: dict[str, Any]) -> dict[str, Any]:
    return view if principal.has(WRITE) else view_without_case_reference(view)


def create_router(handlers: AuditHandlers) -> APIRouter:
    router = APIRouter(prefix="/v1")

    # ------------------------------------------------------------------- templates

    @router.post("/templates", status_code=201, response_model=TemplateView, tags=["templates"])
    async def create_template(body: CreateTemplate, principal: Writer) -> dict[str, Any]:
        """A named set of areas that audits of a service area (and audit type) are graded on."""
        return await handlers.create_template(
            name=body.name,
            service_area=body.service_area,
            audit_type=body.audit_type,
            areas=[TemplateArea(a.key, a.title, a.guidance) for a in body.areas],
            is_default=body.is_default,
            created_by=principal.subject,
        )

    @router.get("/templates", response_model=TemplateList, tags=["templates"])
    async def list_templates(
        _: Reader, service_area: ServiceArea | None = None, audit_type: AuditType | None = None
    ) -> dict[str, Any]:
        items = await handlers.list_templates(
            service_area=service_area, audit_type=audit_type.value if audit_type else None
        )
        return {"items": items}

    @router.get("/templates/{template_id}", response_model=TemplateView, tags=["templates"])
    async def get_template(template_id: Name, _: Reader) -> dict[str, Any]:
        return await handlers.get_template(template_id)

    # ------------------------------------------------------------------- audits

    @router.post("/audits", status_code=201, response_model=AuditView, tags=["audits"])
    async def schedule_audit(body: ScheduleAudit, principal: Writer) -> dict[str, Any]:
        """Schedule an audit of a case (publishes `AuditScheduled`)."""
        return await handlers.schedule_audit(
            case_reference=body.case_reference,
            service_area=body.service_area,
            team=body.team,
            audit_type=body.audit_type,
            theme=body.theme,
            concern_id=body.concern_id,
            auditor_id=body.auditor_id,
            due_date=body.due_date,
            template_id=body.template_id,
            scheduled_by=principal.subject,
        )

    @router.get("/audits", response_model=Page[AuditSummary], tags=["audits"])
    async def list_audits(
        principal: Reader,
        status_: Annotated[
            Literal["scheduled", "in_progress", "completed", "open", "overdue"] | None,
            Query(
                alias="status",
                description="open = not completed; overdue = open and past its due date",
            ),
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
    ) -> dict[str, Any]:
        query = AuditQuery(
            status=status_,
            team=team,
            auditor_id=auditor_id,
            service_area=service_area,
            audit_type=audit_type.value if audit_type else None,
            concern_id=concern_id,
            due_by=due_by,
            due_from=due_from,
            limit=limit,
            offset=offset,
        )
        items = [_for(principal, a) for a in await handlers.list_audits(query)]
        return {"items": items, "limit": limit, "offset": offset}

    @router.get("/audits/{audit_id}", response_model=AuditView, tags=["audits"], openapi_extra=PERSONAL_DATA)
    async def get_audit(audit_id: Name, principal: Reader) -> dict[str, Any]:
        """One audit with its area grades, moderation history and actions."""
        return _for(principal, await handlers.get_audit(audit_id))

    @router.post("/audits/{audit_id}/grades", response_model=AuditView, tags=["audits"])
    async def grade_audit(audit_id: Name, body: GradeAudit, principal: Writer) -> dict[str, Any]:
        """Record (or, before completion, change) area grades, each with a short rationale."""
        return await handlers.grade_audit(
            audit_id,
            [AreaJudgement(g.area, g.grade, g.rationale) for g in body.grades],
            graded_by=principal.subject,
        )

    @router.post("/audits/{audit_id}/complete", response_model=AuditView, tags=["audits"])
    async def complete_audit(audit_id: Name, body: CompleteAudit, principal: Writer) -> dict[str, Any]:
        """Complete a fully graded audit (publishes `AuditGraded`)."""
        return await handlers.complete_audit(
            audit_id,
            overall_grade=body.overall_grade,
            completed_at=body.completed_at,
            completed_by=principal.subject,
        )

    @router.post("/audits/{audit_id}/moderations", status_code=201, response_model=AuditView, tags=["audits"])
    async def moderate_audit(audit_id: Name, body: ModerateAudit, principal: Writer) -> dict[str, Any]:
        """A second reader (the caller) changes the overall grade (publishes `AuditModerated`)."""
        return await handlers.moderate_audit(
            audit_id,
            overall_grade=body.overall_grade,
            reason=body.reason,
            moderated_at=body.moderated_at,
            moderator_id=principal.subject,
        )

    @router.post("/audits/{audit_id}/actions", status_code=201, response_model=ActionView, tags=["actions"])
    async def raise_audit_action(audit_id: Name, body: RaiseAction, principal: Writer) -> dict[str, Any]:
        """An action arising from an audit (publishes `ActionRaised`, origin `audit`)."""
        return await handlers.raise_action(
            origin=LearningOrigin.AUDIT,
            origin_id=audit_id,
            owner_id=body.owner_id,
            due_date=body.due_date,
            summary=body.summary,
            team=body.team,
            raised_at=body.raised_at,
            raised_by=principal.subject,
        )

    # ------------------------------------------------------------------- concerns

    @router.post("/concerns", status_code=201, response_model=ConcernView, tags=["concerns"])
    async def raise_concern(body: RaiseConcern, principal: Writer) -> dict[str, Any]:
        """An area of concern, the measures put in place and when to review them (publishes
        `ConcernRaised`); targeted audits then link to it by `concern_id`."""
        return await handlers.raise_concern(
            service_area=body.service_area,
            theme=body.theme,
            description=body.description,
            measures=body.measures,
            review_by=body.review_by,
            raised_at=body.raised_at,
            raised_by=principal.subject,
        )

    @router.get("/concerns", response_model=Page[ConcernSummary], tags=["concerns"])
    async def list_concerns(
        _: Reader,
        status_: Annotated[Literal["open", "resolved"] | None, Query(alias="status")] = None,
        service_area: ServiceArea | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        items = await handlers.list_concerns(status=status_, service_area=service_area, limit=limit, offset=offset)
        return {"items": items, "limit": limit, "offset": offset}

    @router.get("/concerns/{concern_id}", response_model=ConcernView, tags=["concerns"])
    async def get_concern(concern_id: Name, _: Reader) -> dict[str, Any]:
        return await handlers.get_concern(concern_id)

    @router.post("/concerns/{concern_id}/resolve", response_model=ConcernView, tags=["concerns"])
    async def resolve_concern(concern_id: Name, body: ResolveConcern, principal: Writer) -> dict[str, Any]:
        """Resolve a concern with the completed audits linked to it that evidence the measures
        work (publishes `ConcernResolved`)."""
        return await handlers.resolve_concern(
            concern_id,
            evidence_audit_ids=body.evidence_audit_ids,
            resolved_at=body.resolved_at,
            resolved_by=principal.subject,
        )

    @router.post(
        "/concerns/{concern_id}/actions",
        status_code=201,
        response_model=ActionView,
        tags=["actions"],
    )
    async def raise_concern_action(concern_id: Name, body: RaiseAction, principal: Writer) -> dict[str, Any]:
        """An action arising from an open concern (publishes `ActionRaised`, origin `concern`)."""
        return await handlers.raise_action(
            origin=LearningOrigin.CONCERN,
            origin_id=concern_id,
            owner_id=body.owner_id,
            due_date=body.due_date,
            summary=body.summary,
            team=body.team,
            raised_at=body.raised_at,
            raised_by=principal.subject,
        )

    # ------------------------------------------------------------------- actions

    @router.get("/actions", response_model=Page[ActionView], tags=["actions"])
    async def list_actions(
        _: Reader,
        status_: Annotated[Literal["open", "completed", "overdue"] | None, Query(alias="status")] = None,
        owner_id: Name | None = None,
        team: Name | None = None,
        origin_id: Name | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        query = ActionQuery(
            status=status_,
            owner_id=owner_id,
            team=team,
            origin_id=origin_id,
            limit=limit,
            offset=offset,
        )
        return {"items": await handlers.list_actions(query), "limit": limit, "offset": offset}

    @router.get("/actions/{action_id}", response_model=ActionView, tags=["actions"])
    async def get_action(action_id: Name, _: Reader) -> dict[str, Any]:
        return await handlers.get_action(action_id)

    @router.post("/actions/{action_id}/complete", response_model=ActionView, tags=["actions"])
    async def complete_action(action_id: Name, body: CompleteAction, principal: Writer) -> dict[str, Any]:
        """Complete an action (publishes `ActionCompleted`)."""
        return await handlers.complete_action(
            action_id,
            evidence=body.evidence,
            completed_at=body.completed_at,
            completed_by=principal.subject,
        )

    return router


def install_error_handlers(app: FastAPI) -> None:
    """Rule errors as HTTP: 404 unknown id, 409 wrong state, 422 bad request (with the field)."""

    async def on_rule_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuditRuleError)
        if isinstance(exc, NotFound):
            return JSONResponse({"detail": exc.reason}, status_code=404)
        if isinstance(exc, Conflict):
            return JSONResponse({"detail": exc.reason}, status_code=409)
        loc = ["body", exc.field] if exc.field else ["body"]
        return JSONResponse({"detail": [{"loc": loc, "msg": exc.reason, "type": "value_error"}]}, status_code=422)

    app.add_exception_handler(AuditRuleError, on_rule_error)
