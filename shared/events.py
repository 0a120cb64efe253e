"""The event catalogue: the CloudEvents 1.0 envelope and one pydantic model per event type.

CONTRACT.md is the source of truth. Producers validate before they write to the outbox;
consumers validate on receipt and dead-letter what does not validate. Unknown extra fields
are tolerated (a newer producer must not break an older consumer); missing or malformed
required fields are errors that name the field.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

# --------------------------------------------------------------------------- vocabularies


class Grade(enum.StrEnum):
    """Ofsted scale, best first."""

    OUTSTANDING = "outstanding"
    GOOD = "good"
    REQUIRES_IMPROVEMENT = "requires_improvement"
    INADEQUATE = "inadequate"

    @property
    def rank(self) -> int:
        """0 = outstanding … 3 = inadequate: larger is worse."""
        return _GRADE_ORDER.index(self)


_GRADE_ORDER = [Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE]


class Respondent(enum.StrEnum):
    CHILD = "child"
    YOUNG_PERSON = "young_person"
    PARENT_CARER = "parent_carer"
    PROFESSIONAL = "professional"
    OTHER = "other"
    FOSTER_CARER = "foster_carer"  # CONTRACT.md §4


class Procedure(enum.StrEnum):
    STATUTORY_CHILDREN = "statutory_children"
    CORPORATE = "corporate"
    SEND = "send"


class Outcome(enum.StrEnum):
    UPHELD = "upheld"
    PARTIALLY_UPHELD = "partially_upheld"
    NOT_UPHELD = "not_upheld"
    WITHDRAWN = "withdrawn"


class Complainant(enum.StrEnum):
    CHILD = "child"
    YOUNG_PERSON = "young_person"
    PARENT_CARER = "parent_carer"
    ADVOCATE = "advocate"
    OTHER = "other"
    FOSTER_CARER = "foster_carer"  # CONTRACT.md §4


class OmbudsmanFinding(enum.StrEnum):
    """The Local Government and Social Care Ombudsman's decision on a complaint."""

    FAULT = "fault"
    NO_FAULT = "no_fault"
    NOT_INVESTIGATED = "not_investigated"


class AuditType(enum.StrEnum):
    ROUTINE = "routine"
    THEMED = "themed"
    TARGETED = "targeted"
    EHCP = "ehcp"
    DIP_SAMPLE = "dip_sample"


class ComplimentOrigin(enum.StrEnum):
    EXTERNAL = "external"
    INTERNAL = "internal"


class LearningOrigin(enum.StrEnum):
    COMPLAINT = "complaint"
    AUDIT = "audit"
    FEEDBACK = "feedback"
    CONCERN = "concern"
    INSPECTION = "inspection"  # an inspection finding (CONTRACT.md §4)
    WORKFORCE = "workforce"  # an action raised for a team's workforce (closes a workforce-review)


class ConcernOutcome(enum.StrEnum):
    """Did the concern's measures work (CONTRACT.md §4, `ConcernResolved.outcome`)."""

    EFFECTIVE = "effective"
    PARTLY_EFFECTIVE = "partly_effective"
    NOT_EFFECTIVE = "not_effective"


class InspectionBody(enum.StrEnum):
    """Who inspected (CONTRACT.md §4, `InspectionFindingRecorded.body`)."""

    OFSTED = "ofsted"
    CQC = "cqc"
    DFE = "dfe"
    OTHER = "other"


DEFAULT_SERVICE_AREAS: tuple[str, ...] = (
    "childrens_social_care",
    "send",
    "fostering",
    "early_help",
    "youth_justice",
)
# The service-area vocabulary is extendable by configuration (CONTRACT.md): settings call
# `extend_service_areas` at start-up. It is a module-level set so that every model sees it.
_service_areas: set[str] = set(DEFAULT_SERVICE_AREAS)


def extend_service_areas(extra: list[str] | tuple[str, ...]) -> None:
    _service_areas.update(a.strip() for a in extra if a.strip())


def known_service_areas() -> frozenset[str]:
    return frozenset(_service_areas)


def _check_service_area(value: str) -> str:
    if value not in _service_areas:
        raise ValueError(f"unknown service_area {value!r}; expected one of {sorted(_service_areas)}")
    return value


ServiceArea = Annotated[str, AfterValidator(_check_service_area)]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]


def _to_timestamp(value: Any) -> Any:
    """Timestamps in `data`: RFC 3339 with offset as the contract says.

    Leniency, documented in the README: a bare date (`2022-08-01`) is read as midnight
    Europe/London of that date, and a naive date-time as Europe/London local time, so that
    the London calendar date — which is all the domain rules use — is what the producer meant.
    """
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    if isinstance(value, str) and len(value) == 10:
        try:
            d = date.fromisoformat(value)
        except ValueError:
            return value
        return datetime(d.year, d.month, d.day, tzinfo=london)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=london)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=london)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic reports it, naming the field
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=london)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_to_timestamp)]


def _to_date(value: Any) -> Any:
    """Dates in `data`: ISO 8601 dates; a full timestamp is reduced to its London date."""
    if isinstance(value, datetime):
        from shared.calendar import london_date

        return london_date(value)
    if isinstance(value, str) and len(value) > 10:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        from shared.calendar import london_date

        return london_date(parsed)
    return value


Day = Annotated[date, BeforeValidator(_to_date)]


# --------------------------------------------------------------------------- base classes


class EventData(BaseModel):
    """Base of every event's `data`. Subclasses set `event_type` and `strand`."""

    model_config = ConfigDict(extra="allow", frozen=True, use_enum_values=False)

    event_type: ClassVar[str]
    strand: ClassVar[str]  # routing-key prefix for the producing strand ("" = any strand)


class AreaGrade(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    area: Identifier
    grade: Grade


class ComplaintPoint(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    summary: str | None = None
    upheld: bool


class AnswerOnScale(BaseModel):
    """One answer: `yes`/`no` or 1-5 (None: skipped). What feedback surveys and the staff
    health-check survey share."""

    model_config = ConfigDict(extra="allow", frozen=True)
    question_id: Identifier
    value: Literal["yes", "no"] | Annotated[int, Field(ge=1, le=5)] | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _normalise(cls, v: Any) -> Any:
        if isinstance(v, bool):  # True/False are not answers on this scale
            raise ValueError("value must be 'yes', 'no' or an integer 1-5")
        if isinstance(v, str):
            s = v.strip().lower()
            if s == "":
                return None  # skipped question
            if s.isdigit():
                return int(s)
            return s
        return v

    @property
    def positive(self) -> bool | None:
        """`yes`, 4 or 5 is positive; None for a skipped question."""
        if self.value is None:
            return None
        return self.value == "yes" or (isinstance(self.value, int) and self.value >= 4)


class SurveyAnswer(AnswerOnScale):
    safeguarding: bool = False
    # Optional (issue 14): the question's wording in the survey version answered, so that
    # reports show questions by their words; absent where the sender does not know it.
    wording: str | None = Field(default=None, min_length=1, max_length=500)

    @property
    def negative(self) -> bool:
        """`no`, 1 or 2: what raises a safeguarding alert on a safeguarding question."""
        return self.value == "no" or (isinstance(self.value, int) and self.value <= 2)


# --------------------------------------------------------------------------- audit


class AuditScheduled(EventData):
    event_type = "AuditScheduled"
    strand = "audit"
    audit_id: Identifier
    case_ref: Identifier
    service_area: ServiceArea
    team: Identifier
    audit_type: AuditType
    theme: str | None = None
    concern_id: str | None = None
    auditor_id: Identifier
    due_date: Day


class AuditGraded(EventData):
    event_type = "AuditGraded"
    strand = "audit"
    audit_id: Identifier
    case_ref: Identifier
    service_area: ServiceArea
    team: Identifier
    audit_type: AuditType
    concern_id: str | None = None
    completed_at: Timestamp
    area_grades: list[AreaGrade] = Field(min_length=1)
    overall_grade: Grade
    auditor_id: Identifier
    # `ehcp` audits (CONTRACT.md §4): every item of the EHCP template's procedure checklist met.
    procedure_compliant: bool | None = None


class AuditModerated(EventData):
    event_type = "AuditModerated"
    strand = "audit"
    audit_id: Identifier
    overall_grade_before: Grade
    overall_grade_after: Grade
    moderator_id: Identifier
    moderated_at: Timestamp
    reason: str | None = None


class ConcernRaised(EventData):
    event_type = "ConcernRaised"
    strand = "audit"
    concern_id: Identifier
    service_area: ServiceArea
    theme: Identifier
    description: str
    measures: list[str]
    raised_at: Timestamp
    review_by: Day
    supersedes: str | None = None  # the concern whose measures did not work, reworked here


class ConcernResolved(EventData):
    event_type = "ConcernResolved"
    strand = "audit"
    concern_id: Identifier
    resolved_at: Timestamp
    evidence_audit_ids: list[str]
    outcome: ConcernOutcome | None = None
    # Required unless the outcome is effective: the audit service refuses a resolution
    # without it (422). Consumers do not dead-letter one that lacks it: the outcome is what
    # reporting counts, and the reason is free text no rule reads.
    reason: str | None = None


class InspectionFindingRecorded(EventData):
    event_type = "InspectionFindingRecorded"
    strand = "audit"
    finding_id: Identifier
    body: InspectionBody
    service_area: ServiceArea
    team: str | None = None
    summary: str
    recorded_at: Timestamp


# --------------------------------------------------------------------------- feedback


class FeedbackReceived(EventData):
    event_type = "FeedbackReceived"
    strand = "feedback"
    response_id: Identifier
    survey_id: Identifier
    service_area: ServiceArea
    team: str | None = None
    respondent: Respondent
    received_at: Timestamp
    channel: str | None = None
    answers: list[SurveyAnswer]


class ComplimentReceived(EventData):
    event_type = "ComplimentReceived"
    strand = "feedback"
    compliment_id: Identifier
    service_area: ServiceArea
    team: Identifier
    origin: ComplimentOrigin
    received_at: Timestamp
    summary: str | None = None
    # CONTRACT.md §4 is additive: true when the person who gave the compliment agreed that its
    # summary may be shared (the quarterly report's good-practice page shows it, by team);
    # absent or false, the summary is counted but never shown.
    summary_shareable: bool | None = None


class YouSaidWeDidPublished(EventData):
    event_type = "YouSaidWeDidPublished"
    strand = "feedback"
    item_id: Identifier
    service_area: ServiceArea
    theme: Identifier
    you_said: str
    we_did: str
    feedback_ids: list[str]
    action_id: str | None = None
    published_at: Timestamp


# --------------------------------------------------------------------------- complaints


class ComplaintReceived(EventData):
    event_type = "ComplaintReceived"
    strand = "complaints"
    complaint_id: Identifier
    procedure: Procedure
    stage: Annotated[int, Field(ge=1, le=3)] = 1
    category: Identifier
    team: Identifier
    service_area: ServiceArea
    received_at: Timestamp
    complainant: Complainant


class ComplaintAcknowledged(EventData):
    event_type = "ComplaintAcknowledged"
    strand = "complaints"
    complaint_id: Identifier
    acknowledged_at: Timestamp


class ComplaintExtended(EventData):
    event_type = "ComplaintExtended"
    strand = "complaints"
    complaint_id: Identifier
    stage: Annotated[int, Field(ge=1, le=3)]
    new_due_date: Day
    reason: str


class ComplaintEscalated(EventData):
    event_type = "ComplaintEscalated"
    strand = "complaints"
    complaint_id: Identifier
    from_stage: Annotated[int, Field(ge=1, le=2)]
    to_stage: Annotated[int, Field(ge=2, le=3)]
    escalated_at: Timestamp
    # CONTRACT.md §4: a stage-2 request more than 20 working days after the stage-1 response
    # (accepted, flagged); never set for 2 -> 3. Absent reads as false.
    late_request: bool | None = None


class ComplaintClosed(EventData):
    event_type = "ComplaintClosed"
    strand = "complaints"
    complaint_id: Identifier
    stage: Annotated[int, Field(ge=1, le=3)]
    closed_at: Timestamp
    outcome: Outcome
    points: list[ComplaintPoint]
    due_date: Day
    within_timescale: bool
    working_days_taken: Annotated[int, Field(ge=0)]


class ComplaintStatementAgreed(EventData):
    """The stage-2 statement of complaint was agreed (where configured, stage 2's day 0)."""

    event_type = "ComplaintStatementAgreed"
    strand = "complaints"
    complaint_id: Identifier
    agreed_at: Timestamp


class ComplaintPanelHeld(EventData):
    """A stage-3 review panel met: the stage-3 response is due 20 working days after the latest."""

    event_type = "ComplaintPanelHeld"
    strand = "complaints"
    complaint_id: Identifier
    held_at: Timestamp


class ComplaintReferredToOmbudsman(EventData):
    event_type = "ComplaintReferredToOmbudsman"
    strand = "complaints"
    complaint_id: Identifier
    referred_at: Timestamp


class OmbudsmanDecided(EventData):
    event_type = "OmbudsmanDecided"
    strand = "complaints"
    complaint_id: Identifier
    decided_at: Timestamp
    finding: OmbudsmanFinding


class LearningIdentified(EventData):
    event_type = "LearningIdentified"
    strand = "complaints"
    learning_id: Identifier
    origin: LearningOrigin
    origin_id: Identifier
    team: Identifier
    service_area: ServiceArea
    summary: str


# --------------------------------------------------------------------------- actions


class ActionRaised(EventData):
    event_type = "ActionRaised"
    strand = ""  # published by the strand that raised it: audit.ActionRaised, complaints.…
    action_id: Identifier
    origin: LearningOrigin
    origin_id: Identifier
    team: Identifier
    service_area: ServiceArea
    owner_id: Identifier
    raised_at: Timestamp
    due_date: Day
    summary: str


class ActionCompleted(EventData):
    event_type = "ActionCompleted"
    strand = ""
    action_id: Identifier
    completed_at: Timestamp
    evidence: str | None = None


# --------------------------------------------------------------------------- casework


class ReferralReceived(EventData):
    event_type = "ReferralReceived"
    strand = "casework"
    referral_id: Identifier
    child_ref: Identifier
    received_at: Timestamp
    team: Identifier
    service_area: ServiceArea


class AssessmentCompleted(EventData):
    event_type = "AssessmentCompleted"
    strand = "casework"
    assessment_id: Identifier
    child_ref: Identifier
    referral_id: str | None = None
    started_at: Timestamp
    completed_at: Timestamp
    team: Identifier
    service_area: ServiceArea


class EhcpIssued(EventData):
    event_type = "EhcpIssued"
    strand = "casework"
    plan_id: Identifier
    child_ref: Identifier
    requested_at: Timestamp
    issued_at: Timestamp
    exception: bool
    team: Identifier
    service_area: ServiceArea


class CaseworkerContactAttempted(EventData):
    event_type = "CaseworkerContactAttempted"
    strand = "casework"
    attempt_id: Identifier
    child_ref: Identifier
    team: Identifier
    service_area: ServiceArea
    attempted_at: Timestamp
    reached: bool


# --------------------------------------------------------------------------- reporting


class FollowUpOpened(EventData):
    event_type = "FollowUpOpened"
    strand = "reporting"
    followup_id: Identifier
    rule: Identifier
    origin: Identifier
    origin_id: Identifier
    team: str | None = None
    service_area: str | None = None
    due_date: Day


class FollowUpDue(EventData):
    event_type = "FollowUpDue"
    strand = "reporting"
    followup_id: Identifier
    due_date: Day


class FollowUpOverdue(EventData):
    event_type = "FollowUpOverdue"
    strand = "reporting"
    followup_id: Identifier
    due_date: Day
    days_overdue: Annotated[int, Field(ge=0)]


class FollowUpClosed(EventData):
    event_type = "FollowUpClosed"
    strand = "reporting"
    followup_id: Identifier
    closed_at: Timestamp
    closed_by_event_id: Identifier
    on_time: bool


# --------------------------------------------------------------------------- workforce


class StaffRole(enum.StrEnum):
    """A worker's role; `social_worker`, `senior` and `manager` are the social workers of the
    workforce KPIs (DOMAIN.md), `other` is in none of them."""

    SOCIAL_WORKER = "social_worker"
    SENIOR = "senior"
    MANAGER = "manager"
    OTHER = "other"


SOCIAL_WORKER_ROLES: tuple[str, ...] = ("social_worker", "senior", "manager")


class Contract(enum.StrEnum):
    EMPLOYED = "employed"
    AGENCY = "agency"


class LeavingReason(enum.StrEnum):
    MANAGEMENT = "management"
    TRAINING_DEVELOPMENT = "training_development"
    WORKLOAD = "workload"
    PAY = "pay"
    CAREER = "career"
    PERSONAL = "personal"
    RETIRED = "retired"
    OTHER = "other"


Fte = Annotated[float, Field(gt=0, le=1.5, allow_inf_nan=False)]


class StaffJoined(EventData):
    """A worker in post from `joined_at`; a second one for a worker in post changes the
    record (team, role, contract, FTE, case-holding) from that date: not a leaver."""

    event_type = "StaffJoined"
    strand = "workforce"
    worker_id: Identifier  # pseudonymised, like a case reference
    team: Identifier
    service_area: ServiceArea
    role: StaffRole
    contract: Contract
    fte: Fte
    case_holding: bool
    joined_at: Timestamp


class StaffLeft(EventData):
    event_type = "StaffLeft"
    strand = "workforce"
    worker_id: Identifier
    left_at: Timestamp
    reason: LeavingReason


class VacancyRecorded(EventData):
    event_type = "VacancyRecorded"
    strand = "workforce"
    team: Identifier
    service_area: ServiceArea
    vacant_fte: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)]
    as_of: Day


class CaseloadRecorded(EventData):
    event_type = "CaseloadRecorded"
    strand = "workforce"
    worker_id: Identifier
    cases: Annotated[int, Field(ge=0, le=1000)]
    as_of: Day


class StaffSurveyAnswer(AnswerOnScale):
    """An answer to a staff health-check survey question (no safeguarding flag)."""


class StaffSurveyResponseReceived(EventData):
    event_type = "StaffSurveyResponseReceived"
    strand = "workforce"
    response_id: Identifier
    survey_id: Identifier
    team: str | None = None
    service_area: ServiceArea
    received_at: Timestamp
    answers: list[StaffSurveyAnswer]


# --------------------------------------------------------------------------- registry

EVENT_MODELS: dict[str, type[EventData]] = {
    cls.event_type: cls
    for cls in (
        AuditScheduled,
        AuditGraded,
        AuditModerated,
        ConcernRaised,
        ConcernResolved,
        InspectionFindingRecorded,
        FeedbackReceived,
        ComplimentReceived,
        YouSaidWeDidPublished,
        ComplaintReceived,
        ComplaintAcknowledged,
        ComplaintExtended,
        ComplaintEscalated,
        ComplaintClosed,
        ComplaintStatementAgreed,
        ComplaintPanelHeld,
        ComplaintReferredToOmbudsman,
        OmbudsmanDecided,
        LearningIdentified,
        ActionRaised,
        ActionCompleted,
        ReferralReceived,
        AssessmentCompleted,
        EhcpIssued,
        CaseworkerContactAttempted,
        FollowUpOpened,
        FollowUpDue,
        FollowUpOverdue,
        FollowUpClosed,
        StaffJoined,
        StaffLeft,
        VacancyRecorded,
        CaseloadRecorded,
        StaffSurveyResponseReceived,
    )
}

STRANDS = ("audit", "feedback", "complaints", "casework", "reporting", "workforce")


# --------------------------------------------------------------------------- envelope


class CloudEvent(BaseModel):
    """CloudEvents 1.0, structured mode (CONTRACT.md §1). Extension attributes are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Identifier
    source: Identifier
    type: Identifier
    time: Timestamp
    subject: str | None = None
    datacontenttype: str | None = "application/json"
    dataschema: str | None = None
    tenant: Identifier
    sequence: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @field_validator("sequence", mode="before")
    @classmethod
    def _sequence_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    def typed_data(self) -> EventData:
        """The `data` validated against this type's model (ValidationError, naming the field)."""
        return model_for(self.type).model_validate(self.data)

    @property
    def sequence_number(self) -> int:
        try:
            return int(self.sequence) if self.sequence is not None else 0
        except ValueError:
            return 0

    def to_json(self) -> bytes:
        """Structured-mode body: absent optional attributes are left out, not sent as null."""
        return self.model_dump_json(exclude_none=True).encode()

    def routing_key(self, strand: str | None = None) -> str:
        return routing_key_for(self.type, strand or strand_of_source(self.source))


class UnknownEventType(ValueError):
    pass


def model_for(event_type: str) -> type[EventData]:
    try:
        return EVENT_MODELS[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def strand_of_source(source: str) -> str:
    """`/qaloop/audit` -> audit; `/cms/<system>` -> casework."""
    parts = [p for p in source.split("/") if p]
    if parts and parts[0] == "cms":
        return "casework"
    if len(parts) >= 2 and parts[0] == "qaloop" and parts[1] in STRANDS:
        return parts[1]
    raise ValueError(f"cannot tell the strand of source {source!r}")


def routing_key_for(event_type: str, strand: str) -> str:
    model = model_for(event_type)
    if model.strand and model.strand != strand:
        raise ValueError(f"{event_type} is published by {model.strand}, not {strand}")
    if strand not in STRANDS:
        raise ValueError(f"unknown strand {strand!r}")
    return f"{strand}.{event_type}"


def new_event(
    data: EventData,
    *,
    source: str,
    tenant: str,
    subject: str | None = None,
    sequence: int | None = None,
    time: datetime | None = None,
    event_id: str | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """Wrap validated `data` in a CloudEvents envelope."""
    return CloudEvent(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        datacontenttype="application/json",
        dataschema=f"urn:qaloop:event:{data.event_type}:1",
        tenant=tenant,
        sequence=str(sequence) if sequence is not None else None,
        traceparent=traceparent,
        data=data.model_dump(mode="json", exclude_none=True),
    )


def parse_event(body: bytes | str | Mapping[str, Any]) -> tuple[CloudEvent, EventData]:
    """Parse and validate a message body: envelope, then data. Raises `PoisonEvent`."""
    import json

    if isinstance(body, bytes | str):
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PoisonEvent("not-json", f"body is not JSON: {exc}") from None
    else:
        raw = dict(body)
    if not isinstance(raw, dict):
        raise PoisonEvent("not-cloudevent", "body is not a JSON object")
    try:
        envelope = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise PoisonEvent("not-cloudevent", describe_errors(exc)) from None
    if envelope.type not in EVENT_MODELS:
        raise PoisonEvent("unknown-type", f"unknown event type {envelope.type!r}")
    try:
        data = envelope.typed_data()
    except ValidationError as exc:
        raise PoisonEvent("invalid-data", describe_errors(exc, prefix="data")) from None
    return envelope, data


class PoisonEvent(ValueError):
    """A message that can never be applied: it goes to the dead-letter queue with `reason`."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


def describe_errors(exc: ValidationError, prefix: str = "") -> str:
    """`data.area_grades.0.grade: Input should be 'outstanding', …` — field first, then why."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
