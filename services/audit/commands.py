"""What the audit strand is asked to do: one request model per command, named for it.

Their validators are input rules (a field on its own: present, short enough, no NUL, tidied);
rules that need a record (an audit's template, a concern's state) are the domain's. Actions
are raised and completed with the shared requests (`shared.actions.domain.RaiseAction`,
`CompleteAction`). Pure: no I/O.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.bounds import AwareCalendarDateTime, CalendarDate, Name, text
from shared.events import AuditType, ConcernOutcome, Grade, InspectionBody, ServiceArea
from shared.text import published_text

MAX_RATIONALE = 2000
MAX_REASON = 1000  # a concern resolution's reason: published in ConcernResolved
MAX_FINDING = 1000  # an inspection finding's summary: published in InspectionFindingRecorded

Text = Annotated[str, text(200, 1)]
LongText = Annotated[str, text(4000, 1)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaToGrade(Command):
    """One area of a template: what an audit grades."""

    key: Annotated[str, text(64, 1), Field(examples=["voice_of_the_child"])]
    title: Text
    guidance: Annotated[str, text(4000)] = ""


class ChecklistItemToCheck(Command):
    """One item of an EHCP template's procedure checklist."""

    key: Annotated[str, text(64, 1), Field(examples=["decision_within_6_weeks"])]
    title: Text


class ChecklistAnswer(Command):
    """Whether one item of the audit's procedure checklist was met."""

    item: Annotated[str, text(64, 1)]
    met: bool


class CreateTemplate(Command):
    name: Text
    service_area: ServiceArea
    audit_type: AuditType | None = Field(None, description="null: any audit type but EHCP")
    areas: Annotated[list[AreaToGrade], Field(min_length=1)]
    checklist: Annotated[list[ChecklistItemToCheck], Field(max_length=30)] = Field(
        default_factory=list, description="EHCP templates: the procedure checklist an audit answers item by item"
    )
    is_default: bool = Field(False, description="becomes the service area's default for its audit type")


class ScheduleAudit(Command):
    case_reference: Annotated[str, text(100, 1), Field(description="the raw case number; it never leaves this service")]
    service_area: ServiceArea
    team: Text
    audit_type: AuditType
    theme: Annotated[str, text(200)] | None = Field(None, description="required for themed audits")
    concern_id: Name | None = Field(None, description="the concern a targeted audit checks (required for targeted)")
    auditor_id: Text
    due_date: CalendarDate
    template_id: Name | None = Field(None, description="default: the service area's default template for the type")

    @field_validator("case_reference")
    @classmethod
    def _case_reference(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the case reference is empty")
        return v.strip()

    @field_validator("theme")
    @classmethod
    def _theme(cls, v: str | None) -> str | None:
        return v.strip() if v is not None and v.strip() else None


class RescheduleAudit(Command):
    """A new due date for an audit not completed yet (publishes `AuditScheduled` again: the
    one with the highest sequence is the schedule reporting times the audit against)."""

    due_date: CalendarDate


class GradeArea(Command):
    area: Text
    grade: Grade
    rationale: Annotated[str, Field(min_length=1, max_length=MAX_RATIONALE)]


class GradeAudit(Command):
    grades: Annotated[list[GradeArea], Field(min_length=1)]


class CompleteAudit(Command):
    overall_grade: Grade | None = Field(
        None,
        description="rule 'best_fit': required, between the best and worst area grade; rule 'worst': optional",
    )
    completed_at: AwareCalendarDateTime | None = Field(None, description="default: now")
    checklist: Annotated[list[ChecklistAnswer], Field(max_length=30)] | None = Field(
        None,
        description="an EHCP audit: every item of its template's procedure checklist, met or not "
        "(procedure_compliant is true when all are met); other audits have no checklist",
    )


class ModerateAudit(Command):
    overall_grade: Grade
    reason: LongText
    moderated_at: AwareCalendarDateTime | None = None

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a moderation gives its reason")
        return v.strip()


class RaiseConcern(Command):
    service_area: ServiceArea
    theme: Text
    description: LongText
    measures: Annotated[list[LongText], Field(min_length=1)]
    review_by: CalendarDate
    raised_at: AwareCalendarDateTime | None = None
    supersedes: Name | None = Field(
        None, description="the resolved concern whose measures did not work, which this one reworks"
    )


class ResolveConcern(Command):
    evidence_audit_ids: Annotated[list[Text], Field(min_length=1)]
    resolved_at: AwareCalendarDateTime | None = None
    outcome: ConcernOutcome | None = Field(None, description="did the measures work")
    reason: str | None = Field(
        None,
        description=f"why they did not, or only partly (required unless effective); at most {MAX_REASON} "
        "characters, published in ConcernResolved, so no child's name and no contact details",
    )

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else published_text(v, MAX_REASON)


class RecordInspectionFinding(Command):
    """A finding of an inspection (Ofsted, CQC, DfE or another body) to learn from."""

    body: InspectionBody
    service_area: ServiceArea
    team: Name | None = Field(None, description="the team the finding is about, if it names one")
    summary: str = Field(
        description=f"the finding; at most {MAX_FINDING} characters, published in InspectionFindingRecorded, "
        "so no child's name and no contact details"
    )
    recorded_at: AwareCalendarDateTime | None = Field(None, description="default: now")

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return published_text(v, MAX_FINDING)
