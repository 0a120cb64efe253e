"""Facts: the parts of each event that the reporting rules use, already reduced to London dates.

These are plain frozen dataclasses (no I/O). Each kind is a row of its read-model table
(`readmodels.py`: the columns are these fields), and `followups.py` and `kpis.py` apply
their rules to the facts of one aggregate at a time. `key` is the event's identity
(`source` + `id`), used to name the evidence that closed a follow-up. `sequence` is the
envelope's per-aggregate sequence (0 when absent); `at` is the fact's own timestamp in
`data`, kept beside its London date to order facts that fall on the same day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import shared.events as ev
from shared.calendar import london_date
from shared.events import CloudEvent, EventData


@dataclass(frozen=True)
class AreaGradeFact:
    """One area's grade as the auditor gave it (moderation never changes it)."""

    area: str
    grade: str  # shared.events.Grade value


@dataclass(frozen=True)
class AuditScheduledFact:
    """An audit's schedule: the one with the highest envelope ``sequence`` (then ``time``,
    then ``event_id``) holds, so that a rescheduled audit is timed against its last due date."""

    key: str
    event_id: str
    audit_id: str
    due_date: date
    time: datetime  # envelope time: orders schedules with equal sequence
    sequence: int = 0


@dataclass(frozen=True)
class AuditGradedFact:
    key: str
    event_id: str
    audit_id: str
    case_ref: str
    service_area: str
    team: str
    audit_type: str
    concern_id: str | None
    completed_at: datetime
    completed_on: date
    overall_grade: str  # shared.events.Grade value
    sequence: int = 0
    area_grades: tuple[AreaGradeFact, ...] = field(default_factory=tuple)  # the auditor's
    procedure_compliant: bool | None = None  # ehcp audits that carry it


@dataclass(frozen=True)
class AuditModeratedFact:
    key: str
    event_id: str
    audit_id: str
    grade_before: str
    grade_after: str
    moderated_at: datetime
    moderated_on: date
    sequence: int = 0


@dataclass(frozen=True)
class ConcernRaisedFact:
    key: str
    event_id: str
    concern_id: str
    service_area: str
    theme: str
    raised_on: date
    review_by: date
    supersedes: str | None = None  # the concern this one reworks (concern-rework)


@dataclass(frozen=True)
class ConcernResolvedFact:
    key: str
    event_id: str
    concern_id: str
    resolved_at: datetime
    resolved_on: date
    outcome: str | None = None  # shared.events.ConcernOutcome value, where the resolution carries one


@dataclass(frozen=True)
class InspectionFindingFact:
    key: str
    event_id: str
    finding_id: str
    body: str  # shared.events.InspectionBody value
    service_area: str
    team: str | None
    recorded_at: datetime
    recorded_on: date


@dataclass(frozen=True)
class AnswerFact:
    question_id: str
    positive: bool | None  # None: skipped (no value)
    safeguarding_negative: bool  # a safeguarding question answered `no`, 1 or 2


@dataclass(frozen=True)
class FeedbackFact:
    key: str
    event_id: str
    response_id: str
    survey_id: str
    service_area: str
    team: str | None
    respondent: str
    received_at: datetime
    received_on: date
    answers: tuple[AnswerFact, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ComplimentFact:
    key: str
    event_id: str
    compliment_id: str
    service_area: str
    team: str
    origin: str  # "external" | "internal"
    received_on: date
    # the summary, only where its giver agreed to share it (`summary_shareable`); else None,
    # so that reporting never keeps a summary nobody agreed to show
    shared_summary: str | None = None


@dataclass(frozen=True)
class YouSaidWeDidFact:
    key: str
    event_id: str
    item_id: str
    service_area: str
    theme: str
    published_at: datetime
    published_on: date


@dataclass(frozen=True)
class ComplaintReceivedFact:
    key: str
    event_id: str
    complaint_id: str
    procedure: str
    stage: int
    category: str
    team: str
    service_area: str
    received_on: date


@dataclass(frozen=True)
class ComplaintExtendedFact:
    key: str
    event_id: str
    complaint_id: str
    stage: int
    new_due_date: date
    time: datetime  # envelope time: orders extensions with equal sequence
    sequence: int = 0


@dataclass(frozen=True)
class ComplaintEscalatedFact:
    key: str
    event_id: str
    complaint_id: str
    from_stage: int
    to_stage: int
    escalated_at: datetime
    escalated_on: date
    late_request: bool = False  # as the producer flagged it (absent: false)


@dataclass(frozen=True)
class ComplaintStatementAgreedFact:
    key: str
    event_id: str
    complaint_id: str
    agreed_at: datetime
    agreed_on: date


@dataclass(frozen=True)
class ComplaintPanelHeldFact:
    key: str
    event_id: str
    complaint_id: str
    held_at: datetime
    held_on: date


@dataclass(frozen=True)
class OmbudsmanReferralFact:
    key: str
    event_id: str
    complaint_id: str
    referred_at: datetime
    referred_on: date


@dataclass(frozen=True)
class OmbudsmanDecisionFact:
    key: str
    event_id: str
    complaint_id: str
    decided_at: datetime
    decided_on: date
    finding: str  # shared.events.OmbudsmanFinding value


@dataclass(frozen=True)
class ComplaintClosedFact:
    key: str
    event_id: str
    complaint_id: str
    stage: int
    closed_at: datetime
    closed_on: date
    outcome: str  # shared.events.Outcome value
    due_date: date
    within_timescale: bool  # as the producer reported it
    working_days_taken: int  # as the producer reported it


@dataclass(frozen=True)
class ActionRaisedFact:
    key: str
    event_id: str
    action_id: str
    origin: str
    origin_id: str
    team: str
    service_area: str
    raised_on: date
    due_date: date


@dataclass(frozen=True)
class ActionCompletedFact:
    key: str
    event_id: str
    action_id: str
    completed_at: datetime
    completed_on: date


@dataclass(frozen=True)
class ReferralFact:
    key: str
    event_id: str
    referral_id: str
    child_ref: str
    received_on: date
    team: str
    service_area: str


@dataclass(frozen=True)
class AssessmentFact:
    key: str
    event_id: str
    assessment_id: str
    child_ref: str
    started_on: date
    completed_on: date
    team: str
    service_area: str


@dataclass(frozen=True)
class EhcpFact:
    key: str
    event_id: str
    plan_id: str
    child_ref: str
    requested_on: date
    issued_on: date
    exception: bool
    team: str
    service_area: str


@dataclass(frozen=True)
class ContactAttemptFact:
    key: str
    event_id: str
    attempt_id: str
    child_ref: str
    attempted_on: date
    reached: bool
    team: str
    service_area: str


# --------------------------------------------------------------------------- workforce


@dataclass(frozen=True)
class StaffJoinedFact:
    """A worker's record from ``joined_on``: a joiner, or (for a worker in post) a changed
    record (`workforce.staff_timeline`)."""

    key: str
    event_id: str
    worker_id: str
    team: str
    service_area: str
    role: str  # shared.events.StaffRole value
    contract: str  # shared.events.Contract value
    fte: float
    case_holding: bool
    joined_at: datetime
    joined_on: date
    sequence: int = 0


@dataclass(frozen=True)
class StaffLeftFact:
    key: str
    event_id: str
    worker_id: str
    left_at: datetime
    left_on: date
    reason: str  # shared.events.LeavingReason value
    sequence: int = 0


@dataclass(frozen=True)
class VacancyFact:
    key: str
    event_id: str
    team: str
    service_area: str
    vacant_fte: float
    as_of: date
    time: datetime  # envelope time: orders records of one team with the same as_of
    sequence: int = 0


@dataclass(frozen=True)
class CaseloadFact:
    key: str
    event_id: str
    worker_id: str
    cases: int
    as_of: date
    time: datetime  # envelope time: orders snapshots of one worker with the same as_of
    sequence: int = 0


@dataclass(frozen=True)
class StaffSurveyFact:
    key: str
    event_id: str
    response_id: str
    survey_id: str
    service_area: str
    team: str | None
    received_at: datetime
    received_on: date
    answers: tuple[AnswerFact, ...] = field(default_factory=tuple)


@dataclass
class Facts:
    """Every fact of one tenant (or the slice of them a query needs)."""

    audits_graded: list[AuditGradedFact] = field(default_factory=list)
    audits_scheduled: list[AuditScheduledFact] = field(default_factory=list)
    inspection_findings: list[InspectionFindingFact] = field(default_factory=list)
    audits_moderated: list[AuditModeratedFact] = field(default_factory=list)
    concerns_raised: list[ConcernRaisedFact] = field(default_factory=list)
    concerns_resolved: list[ConcernResolvedFact] = field(default_factory=list)
    feedback: list[FeedbackFact] = field(default_factory=list)
    compliments: list[ComplimentFact] = field(default_factory=list)
    you_said_we_did: list[YouSaidWeDidFact] = field(default_factory=list)
    complaints_received: list[ComplaintReceivedFact] = field(default_factory=list)
    complaints_extended: list[ComplaintExtendedFact] = field(default_factory=list)
    complaints_escalated: list[ComplaintEscalatedFact] = field(default_factory=list)
    complaints_closed: list[ComplaintClosedFact] = field(default_factory=list)
    complaints_statements: list[ComplaintStatementAgreedFact] = field(default_factory=list)
    complaints_panels: list[ComplaintPanelHeldFact] = field(default_factory=list)
    ombudsman_referrals: list[OmbudsmanReferralFact] = field(default_factory=list)
    ombudsman_decisions: list[OmbudsmanDecisionFact] = field(default_factory=list)
    actions_raised: list[ActionRaisedFact] = field(default_factory=list)
    actions_completed: list[ActionCompletedFact] = field(default_factory=list)
    referrals: list[ReferralFact] = field(default_factory=list)
    assessments: list[AssessmentFact] = field(default_factory=list)
    ehcps: list[EhcpFact] = field(default_factory=list)
    contact_attempts: list[ContactAttemptFact] = field(default_factory=list)
    staff_joined: list[StaffJoinedFact] = field(default_factory=list)
    staff_left: list[StaffLeftFact] = field(default_factory=list)
    vacancies: list[VacancyFact] = field(default_factory=list)
    caseloads: list[CaseloadFact] = field(default_factory=list)
    staff_survey: list[StaffSurveyFact] = field(default_factory=list)

    def add(self, fact: object) -> None:
        """Append ``fact`` to the list of its kind (TypeError for anything else)."""
        for name, kind in _FACT_LISTS.items():
            if isinstance(fact, kind):
                getattr(self, name).append(fact)
                return
        raise TypeError(f"not a reporting fact: {type(fact).__name__}")

    @classmethod
    def of(cls, facts: Iterable[object]) -> Facts:
        """A `Facts` holding every fact of ``facts`` (each in the list of its kind)."""
        out = cls()
        for fact in facts:
            out.add(fact)
        return out


_FACT_LISTS: dict[str, type] = {
    "audits_graded": AuditGradedFact,
    "audits_scheduled": AuditScheduledFact,
    "inspection_findings": InspectionFindingFact,
    "audits_moderated": AuditModeratedFact,
    "concerns_raised": ConcernRaisedFact,
    "concerns_resolved": ConcernResolvedFact,
    "feedback": FeedbackFact,
    "compliments": ComplimentFact,
    "you_said_we_did": YouSaidWeDidFact,
    "complaints_received": ComplaintReceivedFact,
    "complaints_extended": ComplaintExtendedFact,
    "complaints_escalated": ComplaintEscalatedFact,
    "complaints_closed": ComplaintClosedFact,
    "complaints_statements": ComplaintStatementAgreedFact,
    "complaints_panels": ComplaintPanelHeldFact,
    "ombudsman_referrals": OmbudsmanReferralFact,
    "ombudsman_decisions": OmbudsmanDecisionFact,
    "actions_raised": ActionRaisedFact,
    "actions_completed": ActionCompletedFact,
    "referrals": ReferralFact,
    "assessments": AssessmentFact,
    "ehcps": EhcpFact,
    "contact_attempts": ContactAttemptFact,
    "staff_joined": StaffJoinedFact,
    "staff_left": StaffLeftFact,
    "vacancies": VacancyFact,
    "caseloads": CaseloadFact,
    "staff_survey": StaffSurveyFact,
}


# --------------------------------------------------------------------------- from events


def fact_from_event(envelope: CloudEvent, data: EventData) -> object | None:
    """The fact a validated event contributes to reporting, or None if it contributes none.

    ``key`` is ``"<source> <id>"`` (the deduplication identity), ``event_id`` the envelope
    ``id``, ``sequence`` the envelope's sequence number (0 when absent). Every date is the
    Europe/London date of the event's own timestamp in ``data`` (never the envelope time,
    which only orders extensions and schedules). Events that no reporting rule reads
    (ComplaintAcknowledged, LearningIdentified, the FollowUp* events reporting publishes
    itself) give None. One builder per event type, looked up in `FACT_BUILDERS`.
    """
    build = FACT_BUILDERS.get(type(data))
    return None if build is None else build(envelope, data)


def _ids(envelope: CloudEvent) -> dict[str, str]:
    return {"key": f"{envelope.source} {envelope.id}", "event_id": envelope.id}


def _audit_graded(envelope: CloudEvent, d: ev.AuditGraded) -> AuditGradedFact:
    return AuditGradedFact(
        **_ids(envelope),
        audit_id=d.audit_id,
        case_ref=d.case_ref,
        service_area=d.service_area,
        team=d.team,
        audit_type=ev.AuditType(d.audit_type).value,
        concern_id=d.concern_id,
        completed_at=d.completed_at,
        completed_on=london_date(d.completed_at),
        overall_grade=ev.Grade(d.overall_grade).value,
        sequence=envelope.sequence_number,
        area_grades=tuple(AreaGradeFact(g.area, ev.Grade(g.grade).value) for g in d.area_grades),
        procedure_compliant=d.procedure_compliant,
    )


def _audit_scheduled(envelope: CloudEvent, d: ev.AuditScheduled) -> AuditScheduledFact:
    return AuditScheduledFact(
        **_ids(envelope),
        audit_id=d.audit_id,
        due_date=d.due_date,
        time=envelope.time,
        sequence=envelope.sequence_number,
    )


def _inspection_finding(envelope: CloudEvent, d: ev.InspectionFindingRecorded) -> InspectionFindingFact:
    return InspectionFindingFact(
        **_ids(envelope),
        finding_id=d.finding_id,
        body=ev.InspectionBody(d.body).value,
        service_area=d.service_area,
        team=d.team,
        recorded_at=d.recorded_at,
        recorded_on=london_date(d.recorded_at),
    )


def _audit_moderated(envelope: CloudEvent, d: ev.AuditModerated) -> AuditModeratedFact:
    return AuditModeratedFact(
        **_ids(envelope),
        audit_id=d.audit_id,
        grade_before=ev.Grade(d.overall_grade_before).value,
        grade_after=ev.Grade(d.overall_grade_after).value,
        moderated_at=d.moderated_at,
        moderated_on=london_date(d.moderated_at),
        sequence=envelope.sequence_number,
    )


def _concern_raised(envelope: CloudEvent, d: ev.ConcernRaised) -> ConcernRaisedFact:
    return ConcernRaisedFact(
        **_ids(envelope),
        concern_id=d.concern_id,
        service_area=d.service_area,
        theme=d.theme,
        raised_on=london_date(d.raised_at),
        review_by=d.review_by,
        supersedes=d.supersedes,
    )


def _concern_resolved(envelope: CloudEvent, d: ev.ConcernResolved) -> ConcernResolvedFact:
    return ConcernResolvedFact(
        **_ids(envelope),
        concern_id=d.concern_id,
        resolved_at=d.resolved_at,
        resolved_on=london_date(d.resolved_at),
        outcome=ev.ConcernOutcome(d.outcome).value if d.outcome is not None else None,
    )


def _feedback_received(envelope: CloudEvent, d: ev.FeedbackReceived) -> FeedbackFact:
    return FeedbackFact(
        **_ids(envelope),
        response_id=d.response_id,
        survey_id=d.survey_id,
        service_area=d.service_area,
        team=d.team,
        respondent=ev.Respondent(d.respondent).value,
        received_at=d.received_at,
        received_on=london_date(d.received_at),
        answers=tuple(
            AnswerFact(
                question_id=a.question_id,
                positive=a.positive,
                safeguarding_negative=a.safeguarding and a.negative,
            )
            for a in d.answers
        ),
    )


def _compliment_received(envelope: CloudEvent, d: ev.ComplimentReceived) -> ComplimentFact:
    return ComplimentFact(
        **_ids(envelope),
        compliment_id=d.compliment_id,
        service_area=d.service_area,
        team=d.team,
        origin=ev.ComplimentOrigin(d.origin).value,
        received_on=london_date(d.received_at),
        shared_summary=d.summary if d.summary_shareable and d.summary else None,
    )


def _you_said_we_did_published(envelope: CloudEvent, d: ev.YouSaidWeDidPublished) -> YouSaidWeDidFact:
    return YouSaidWeDidFact(
        **_ids(envelope),
        item_id=d.item_id,
        service_area=d.service_area,
        theme=d.theme,
        published_at=d.published_at,
        published_on=london_date(d.published_at),
    )


def _complaint_received(envelope: CloudEvent, d: ev.ComplaintReceived) -> ComplaintReceivedFact:
    return ComplaintReceivedFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        procedure=ev.Procedure(d.procedure).value,
        stage=d.stage,
        category=d.category,
        team=d.team,
        service_area=d.service_area,
        received_on=london_date(d.received_at),
    )


def _complaint_extended(envelope: CloudEvent, d: ev.ComplaintExtended) -> ComplaintExtendedFact:
    return ComplaintExtendedFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        stage=d.stage,
        new_due_date=d.new_due_date,
        time=envelope.time,
        sequence=envelope.sequence_number,
    )


def _complaint_escalated(envelope: CloudEvent, d: ev.ComplaintEscalated) -> ComplaintEscalatedFact:
    return ComplaintEscalatedFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        from_stage=d.from_stage,
        to_stage=d.to_stage,
        escalated_at=d.escalated_at,
        escalated_on=london_date(d.escalated_at),
        late_request=bool(d.late_request),
    )


def _complaint_statement_agreed(envelope: CloudEvent, d: ev.ComplaintStatementAgreed) -> ComplaintStatementAgreedFact:
    return ComplaintStatementAgreedFact(
        **_ids(envelope), complaint_id=d.complaint_id, agreed_at=d.agreed_at, agreed_on=london_date(d.agreed_at)
    )


def _complaint_panel_held(envelope: CloudEvent, d: ev.ComplaintPanelHeld) -> ComplaintPanelHeldFact:
    return ComplaintPanelHeldFact(
        **_ids(envelope), complaint_id=d.complaint_id, held_at=d.held_at, held_on=london_date(d.held_at)
    )


def _complaint_referred_to_ombudsman(envelope: CloudEvent, d: ev.ComplaintReferredToOmbudsman) -> OmbudsmanReferralFact:
    return OmbudsmanReferralFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        referred_at=d.referred_at,
        referred_on=london_date(d.referred_at),
    )


def _ombudsman_decided(envelope: CloudEvent, d: ev.OmbudsmanDecided) -> OmbudsmanDecisionFact:
    return OmbudsmanDecisionFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        decided_at=d.decided_at,
        decided_on=london_date(d.decided_at),
        finding=ev.OmbudsmanFinding(d.finding).value,
    )


def _complaint_closed(envelope: CloudEvent, d: ev.ComplaintClosed) -> ComplaintClosedFact:
    return ComplaintClosedFact(
        **_ids(envelope),
        complaint_id=d.complaint_id,
        stage=d.stage,
        closed_at=d.closed_at,
        closed_on=london_date(d.closed_at),
        outcome=ev.Outcome(d.outcome).value,
        due_date=d.due_date,
        within_timescale=d.within_timescale,
        working_days_taken=d.working_days_taken,
    )


def _action_raised(envelope: CloudEvent, d: ev.ActionRaised) -> ActionRaisedFact:
    return ActionRaisedFact(
        **_ids(envelope),
        action_id=d.action_id,
        origin=ev.LearningOrigin(d.origin).value,
        origin_id=d.origin_id,
        team=d.team,
        service_area=d.service_area,
        raised_on=london_date(d.raised_at),
        due_date=d.due_date,
    )


def _action_completed(envelope: CloudEvent, d: ev.ActionCompleted) -> ActionCompletedFact:
    return ActionCompletedFact(
        **_ids(envelope),
        action_id=d.action_id,
        completed_at=d.completed_at,
        completed_on=london_date(d.completed_at),
    )


def _referral_received(envelope: CloudEvent, d: ev.ReferralReceived) -> ReferralFact:
    return ReferralFact(
        **_ids(envelope),
        referral_id=d.referral_id,
        child_ref=d.child_ref,
        received_on=london_date(d.received_at),
        team=d.team,
        service_area=d.service_area,
    )


def _assessment_completed(envelope: CloudEvent, d: ev.AssessmentCompleted) -> AssessmentFact:
    return AssessmentFact(
        **_ids(envelope),
        assessment_id=d.assessment_id,
        child_ref=d.child_ref,
        started_on=london_date(d.started_at),
        completed_on=london_date(d.completed_at),
        team=d.team,
        service_area=d.service_area,
    )


def _ehcp_issued(envelope: CloudEvent, d: ev.EhcpIssued) -> EhcpFact:
    return EhcpFact(
        **_ids(envelope),
        plan_id=d.plan_id,
        child_ref=d.child_ref,
        requested_on=london_date(d.requested_at),
        issued_on=london_date(d.issued_at),
        exception=d.exception,
        team=d.team,
        service_area=d.service_area,
    )


def _caseworker_contact_attempted(envelope: CloudEvent, d: ev.CaseworkerContactAttempted) -> ContactAttemptFact:
    return ContactAttemptFact(
        **_ids(envelope),
        attempt_id=d.attempt_id,
        child_ref=d.child_ref,
        attempted_on=london_date(d.attempted_at),
        reached=d.reached,
        team=d.team,
        service_area=d.service_area,
    )


def _staff_joined(envelope: CloudEvent, d: ev.StaffJoined) -> StaffJoinedFact:
    return StaffJoinedFact(
        **_ids(envelope),
        worker_id=d.worker_id,
        team=d.team,
        service_area=d.service_area,
        role=ev.StaffRole(d.role).value,
        contract=ev.Contract(d.contract).value,
        fte=float(d.fte),
        case_holding=d.case_holding,
        joined_at=d.joined_at,
        joined_on=london_date(d.joined_at),
        sequence=envelope.sequence_number,
    )


def _staff_left(envelope: CloudEvent, d: ev.StaffLeft) -> StaffLeftFact:
    return StaffLeftFact(
        **_ids(envelope),
        worker_id=d.worker_id,
        left_at=d.left_at,
        left_on=london_date(d.left_at),
        reason=ev.LeavingReason(d.reason).value,
        sequence=envelope.sequence_number,
    )


def _vacancy_recorded(envelope: CloudEvent, d: ev.VacancyRecorded) -> VacancyFact:
    return VacancyFact(
        **_ids(envelope),
        team=d.team,
        service_area=d.service_area,
        vacant_fte=float(d.vacant_fte),
        as_of=d.as_of,
        time=envelope.time,
        sequence=envelope.sequence_number,
    )


def _caseload_recorded(envelope: CloudEvent, d: ev.CaseloadRecorded) -> CaseloadFact:
    return CaseloadFact(
        **_ids(envelope),
        worker_id=d.worker_id,
        cases=d.cases,
        as_of=d.as_of,
        time=envelope.time,
        sequence=envelope.sequence_number,
    )


def _staff_survey_response_received(envelope: CloudEvent, d: ev.StaffSurveyResponseReceived) -> StaffSurveyFact:
    return StaffSurveyFact(
        **_ids(envelope),
        response_id=d.response_id,
        survey_id=d.survey_id,
        service_area=d.service_area,
        team=d.team,
        received_at=d.received_at,
        received_on=london_date(d.received_at),
        answers=tuple(
            AnswerFact(question_id=a.question_id, positive=a.positive, safeguarding_negative=False) for a in d.answers
        ),
    )


FACT_BUILDERS: dict[type[EventData], Callable[[CloudEvent, Any], object]] = {
    ev.AuditGraded: _audit_graded,
    ev.AuditScheduled: _audit_scheduled,
    ev.InspectionFindingRecorded: _inspection_finding,
    ev.AuditModerated: _audit_moderated,
    ev.ConcernRaised: _concern_raised,
    ev.ConcernResolved: _concern_resolved,
    ev.FeedbackReceived: _feedback_received,
    ev.ComplimentReceived: _compliment_received,
    ev.YouSaidWeDidPublished: _you_said_we_did_published,
    ev.ComplaintReceived: _complaint_received,
    ev.ComplaintExtended: _complaint_extended,
    ev.ComplaintEscalated: _complaint_escalated,
    ev.ComplaintClosed: _complaint_closed,
    ev.ComplaintStatementAgreed: _complaint_statement_agreed,
    ev.ComplaintPanelHeld: _complaint_panel_held,
    ev.ComplaintReferredToOmbudsman: _complaint_referred_to_ombudsman,
    ev.OmbudsmanDecided: _ombudsman_decided,
    ev.ActionRaised: _action_raised,
    ev.ActionCompleted: _action_completed,
    ev.ReferralReceived: _referral_received,
    ev.AssessmentCompleted: _assessment_completed,
    ev.EhcpIssued: _ehcp_issued,
    ev.CaseworkerContactAttempted: _caseworker_contact_attempted,
    ev.StaffJoined: _staff_joined,
    ev.StaffLeft: _staff_left,
    ev.VacancyRecorded: _vacancy_recorded,
    ev.CaseloadRecorded: _caseload_recorded,
    ev.StaffSurveyResponseReceived: _staff_survey_response_received,
}
