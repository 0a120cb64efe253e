"""Audit rules, pure: the overall-grade rule, the audit and its lifecycle, areas of concern,
and where an action can be raised (the templates audits are graded on:
`services.audit.templates`). No I/O: records are plain dataclasses whose command methods
check the rules, change the record and return the event they cause; a request the rules
refuse raises `shared.errors` — `Invalid` (wrong whatever the state, 422),
`Conflict` (not allowed in the record's current state, 409). See DOMAIN.md, "Audits".

The audit lifecycle::

    scheduled --grade--> in_progress --grade--> in_progress --complete--> completed
                                                                              |
                                                      moderate (any number) --+

An audit is graded area by area against the areas of its template (an area may be
re-graded until the audit is completed). Completing needs every area graded and fixes the
overall grade by the configured rule; after that only moderation by a second reader can
change the overall grade.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from services.audit.commands import (
    MAX_RATIONALE,
    ChecklistAnswer,
    CompleteAudit,
    GradeArea,
    GradeAudit,
    ModerateAudit,
    RaiseConcern,
    RecordInspectionFinding,
    RescheduleAudit,
    ResolveConcern,
    ScheduleAudit,
)
from services.audit.templates import ChecklistItem, Template, TemplateArea, choose_template
from shared.actions.domain import ActionOrigin
from shared.calendar import london_date
from shared.errors import Conflict, Invalid
from shared.events import (
    AreaGrade,
    AuditGraded,
    AuditModerated,
    AuditScheduled,
    AuditType,
    ConcernOutcome,
    ConcernRaised,
    ConcernResolved,
    Grade,
    InspectionBody,
    InspectionFindingRecorded,
    LearningOrigin,
)
from shared.pseudonym import subject_for
from shared.text import occurred_at


class AuditStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ConcernStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class OverallGradeRule(enum.StrEnum):
    WORST = "worst"  # limiting judgement: the worst area grade
    BEST_FIT = "best_fit"  # the auditor states it, between the best and the worst area grade


# --------------------------------------------------------------------------- grades


def worst_grade(grades: Iterable[Grade]) -> Grade:
    return max(grades, key=lambda g: g.rank)


def best_grade(grades: Iterable[Grade]) -> Grade:
    return min(grades, key=lambda g: g.rank)


def overall_grade(rule: OverallGradeRule, area_grades: Iterable[Grade], stated: Grade | None) -> Grade:
    """The audit's overall grade from its area grades under `rule`.

    `worst`: the worst area grade (one requires_improvement among goods makes the audit
    requires_improvement); a stated grade is accepted only if it is that grade.
    `best_fit`: the auditor's stated grade, which must lie between the best and the worst
    area grade (inclusive).
    """
    grades = list(area_grades)
    if not grades:
        raise Invalid("an audit with no graded area has no overall grade", "area_grades")
    worst, best = worst_grade(grades), best_grade(grades)
    if rule is OverallGradeRule.WORST:
        if stated is not None and stated is not worst:
            raise Invalid(
                f"the overall grade is the worst area grade ({worst}) under this authority's "
                f"rule 'worst', not {stated}; leave overall_grade out or send {worst}",
                "overall_grade",
            )
        return worst
    if stated is None:
        raise Invalid(
            "under the rule 'best_fit' the auditor states the overall grade: overall_grade is required",
            "overall_grade",
        )
    if not best.rank <= stated.rank <= worst.rank:
        raise Invalid(
            f"overall_grade {stated} must lie between the best ({best}) and the worst ({worst}) area grade",
            "overall_grade",
        )
    return stated


# --------------------------------------------------------------------------- audits


@dataclass(frozen=True)
class AreaJudgement:
    """An area's grade and why (the rationale stays in this service: never in an event)."""

    area: str
    grade: Grade
    rationale: str
    graded_by: str
    graded_at: datetime


@dataclass(frozen=True)
class Moderation:
    """A second reader's change of a completed audit's overall grade."""

    grade_before: Grade
    grade_after: Grade
    moderator_id: str
    reason: str
    moderated_at: datetime
    recorded_at: datetime


@dataclass
class Audit:
    """An audit of one case against the areas of its template."""

    audit_id: str
    case_reference: str  # raw: never leaves this service
    case_ref: str  # its keyed hash: what events carry
    service_area: str
    team: str
    audit_type: AuditType
    theme: str | None
    concern_id: str | None
    template_id: str
    areas: tuple[TemplateArea, ...]  # the template's areas (key and title) when it was scheduled
    auditor_id: str
    due_date: date
    scheduled_by: str
    scheduled_at: datetime
    status: AuditStatus = AuditStatus.SCHEDULED
    grade_rule: OverallGradeRule | None = None
    overall_grade: Grade | None = None  # as completed
    current_grade: Grade | None = None  # after the latest moderation
    completed_at: datetime | None = None
    completed_by: str | None = None
    grades: dict[str, AreaJudgement] = field(default_factory=dict)
    moderations: list[Moderation] = field(default_factory=list)
    checklist: tuple[ChecklistItem, ...] = ()  # the template's procedure checklist when scheduled (EHCP)
    checklist_answers: dict[str, bool] = field(default_factory=dict)  # item -> met, as completed
    procedure_compliant: bool | None = None  # every checklist item met; None without a checklist

    @property
    def area_keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.areas)

    @property
    def subject(self) -> str:
        """The CloudEvents subject of its events: the case's pseudonym."""
        return subject_for(self.case_ref)

    def overdue(self, today: date) -> bool:
        """Not completed and past its due date (London dates)."""
        return self.status is not AuditStatus.COMPLETED and self.due_date < today

    def scheduled_event(self) -> AuditScheduled:
        return AuditScheduled(
            audit_id=self.audit_id,
            case_ref=self.case_ref,
            service_area=self.service_area,
            team=self.team,
            audit_type=self.audit_type,
            theme=self.theme,
            concern_id=self.concern_id,
            auditor_id=self.auditor_id,
            due_date=self.due_date,
        )

    def reschedule(self, cmd: RescheduleAudit) -> AuditScheduled:
        """A new due date for an audit not completed yet; its `AuditScheduled` again."""
        if self.status is AuditStatus.COMPLETED:
            raise Conflict(f"audit {self.audit_id} is completed: its due date can no longer change")
        if cmd.due_date == self.due_date:
            raise Invalid(f"the audit is already due on {cmd.due_date.isoformat()}", "due_date")
        self.due_date = cmd.due_date
        return self.scheduled_event()

    def grade(self, cmd: GradeAudit, *, graded_by: str, now: datetime) -> None:
        """Record (or, before completion, change) area grades; grading publishes nothing."""
        if self.status is AuditStatus.COMPLETED:
            raise Conflict(
                f"audit {self.audit_id} is completed: its area grades can no longer change "
                "(a second reader may moderate the overall grade)"
            )
        self._check_grades(cmd.grades)
        for g in cmd.grades:
            self.grades[g.area] = AreaJudgement(g.area, g.grade, g.rationale.strip(), graded_by, now)
        self.status = AuditStatus.IN_PROGRESS

    def _check_grades(self, grades: Sequence[GradeArea]) -> None:
        if not grades:
            raise Invalid("grade at least one area", "grades")
        seen: set[str] = set()
        for g in grades:
            if g.area in seen:
                raise Invalid(f"area {g.area!r} is graded twice in one request", "grades")
            seen.add(g.area)
            if g.area not in self.area_keys:
                raise Invalid(
                    f"area {g.area!r} is not in this audit's template; its areas are {list(self.area_keys)}",
                    "grades",
                )
            if not g.rationale.strip():
                raise Invalid(f"area {g.area!r} needs a short rationale for its grade", "grades")
            if len(g.rationale) > MAX_RATIONALE:
                raise Invalid(f"the rationale for {g.area!r} is longer than {MAX_RATIONALE} characters", "grades")

    def complete(self, cmd: CompleteAudit, rule: OverallGradeRule, *, completed_by: str, now: datetime) -> AuditGraded:
        """Complete a fully graded audit with its overall grade under `rule`."""
        completed_at = occurred_at(cmd.completed_at, now, "completed_at")
        if self.status is AuditStatus.COMPLETED:
            raise Conflict(f"audit {self.audit_id} is already completed")
        ungraded = [a for a in self.area_keys if a not in self.grades]
        if ungraded:
            raise Conflict(f"audit {self.audit_id} cannot be completed: areas not graded yet: {', '.join(ungraded)}")
        overall = overall_grade(rule, (self.grades[a].grade for a in self.area_keys), cmd.overall_grade)
        answers = self._checklist_answers(cmd.checklist)
        self.checklist_answers = answers
        self.procedure_compliant = all(answers.values()) if self.checklist else None
        self.status = AuditStatus.COMPLETED
        self.grade_rule = rule
        self.overall_grade = self.current_grade = overall
        self.completed_at = completed_at
        self.completed_by = completed_by
        return AuditGraded(
            audit_id=self.audit_id,
            case_ref=self.case_ref,
            service_area=self.service_area,
            team=self.team,
            audit_type=self.audit_type,
            concern_id=self.concern_id,
            completed_at=completed_at,
            area_grades=[AreaGrade(area=a, grade=self.grades[a].grade) for a in self.area_keys],
            overall_grade=overall,
            auditor_id=self.auditor_id,
            procedure_compliant=self.procedure_compliant,
        )

    def _checklist_answers(self, answers: Sequence[ChecklistAnswer] | None) -> dict[str, bool]:
        """Every item of the audit's procedure checklist answered once (an audit without a
        checklist takes none), as item -> met."""
        keys = [c.key for c in self.checklist]
        if not keys:
            if answers:
                raise Invalid("this audit has no procedure checklist (only EHCP audits have one)", "checklist")
            return {}
        given: dict[str, bool] = {}
        for a in answers or ():
            if a.item not in keys:
                raise Invalid(f"{a.item!r} is not an item of this audit's checklist; its items are {keys}", "checklist")
            if a.item in given:
                raise Invalid(f"checklist item {a.item!r} is answered twice", "checklist")
            given[a.item] = a.met
        if missing := [k for k in keys if k not in given]:
            raise Invalid(
                f"answer every item of the EHC plan procedure checklist; missing: {', '.join(missing)}", "checklist"
            )
        return {k: given[k] for k in keys}

    def moderate(self, cmd: ModerateAudit, *, moderator_id: str, now: datetime) -> AuditModerated:
        """A second reader changes the overall grade of a completed audit."""
        moderated_at = occurred_at(cmd.moderated_at, now, "moderated_at")
        before = self.current_grade
        if self.status is not AuditStatus.COMPLETED or before is None:
            raise Conflict(f"audit {self.audit_id} is not completed yet; only a completed audit is moderated")
        if moderator_id == self.auditor_id:
            raise Conflict("moderation is by a second reader, not the audit's own auditor")
        if cmd.overall_grade is before:
            raise Invalid(f"the overall grade is already {before}; a moderation changes it", "overall_grade")
        if self.completed_at is not None and moderated_at < self.completed_at:
            raise Invalid("moderated_at is before the audit was completed", "moderated_at")
        self.moderations.append(Moderation(before, cmd.overall_grade, moderator_id, cmd.reason, moderated_at, now))
        self.current_grade = cmd.overall_grade
        return AuditModerated(
            audit_id=self.audit_id,
            overall_grade_before=before,
            overall_grade_after=cmd.overall_grade,
            moderator_id=moderator_id,
            moderated_at=moderated_at,
            reason=cmd.reason,
        )

    def action_origin(self) -> ActionOrigin:
        """An action arising from the audit: the audit's team owns it, and its events carry the
        case's pseudonym. Raised at any time: the audit's own times bound nothing (it is
        scheduled at the time of the request, never back-dated, while actions may be)."""
        return ActionOrigin(
            origin=LearningOrigin.AUDIT,
            origin_id=self.audit_id,
            service_area=self.service_area,
            team=self.team,
            subject=self.subject,
            describes="audit",
        )


def check_schedule(
    *,
    audit_type: AuditType,
    service_area: str,
    theme: str | None,
    concern_id: str | None,
    concern: Concern | None,
) -> None:
    """A targeted audit checks a concern's measures, so it names the (open) concern; a
    themed audit names its theme. Any audit may link to an open concern of its service area."""
    if audit_type is AuditType.TARGETED and concern_id is None:
        raise Invalid("a targeted audit checks the measures for a concern: concern_id is required", "concern_id")
    if audit_type is AuditType.THEMED and not (theme or "").strip():
        raise Invalid("a themed audit needs its theme", "theme")
    if concern_id is None:
        return
    if concern is None:
        raise Invalid(f"unknown concern {concern_id!r}", "concern_id")
    if concern.service_area != service_area:
        raise Invalid(f"concern {concern_id!r} is about {concern.service_area}, not {service_area}", "concern_id")
    if concern.status is ConcernStatus.RESOLVED:
        raise Conflict(f"concern {concern_id!r} is already resolved")


def schedule_audit(
    cmd: ScheduleAudit,
    *,
    audit_id: str,
    case_ref: str,
    templates: Iterable[Template],
    concern: Concern | None,
    scheduled_by: str,
    now: datetime,
) -> Audit:
    """A new audit of a case, graded on the areas of the template chosen for it."""
    check_schedule(
        audit_type=cmd.audit_type,
        service_area=cmd.service_area,
        theme=cmd.theme,
        concern_id=cmd.concern_id,
        concern=concern,
    )
    template = choose_template(
        templates, service_area=cmd.service_area, audit_type=cmd.audit_type, template_id=cmd.template_id
    )
    return Audit(
        audit_id=audit_id,
        case_reference=cmd.case_reference,
        case_ref=case_ref,
        service_area=cmd.service_area,
        team=cmd.team,
        audit_type=cmd.audit_type,
        theme=cmd.theme,
        concern_id=cmd.concern_id,
        template_id=template.template_id,
        areas=tuple(TemplateArea(a.key, a.title) for a in template.areas),
        checklist=template.checklist,
        auditor_id=cmd.auditor_id,
        due_date=cmd.due_date,
        scheduled_by=scheduled_by,
        scheduled_at=now,
    )


# --------------------------------------------------------------------------- concerns


@dataclass(frozen=True)
class EvidenceAudit:
    """What resolving a concern needs to know of an audit that evidences it."""

    audit_id: str
    status: AuditStatus
    concern_id: str | None
    completed_at: datetime | None


@dataclass
class Concern:
    """An area of concern, the measures put in place, and when (targeted) audits review them."""

    concern_id: str
    service_area: str
    theme: str
    description: str
    measures: list[str]
    raised_at: datetime
    review_by: date
    raised_by: str
    status: ConcernStatus = ConcernStatus.OPEN
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    evidence_audit_ids: list[str] | None = None
    supersedes: str | None = None  # the concern whose measures did not work, reworked by this one
    outcome: ConcernOutcome | None = None  # did the measures work (as resolved)
    reason: str | None = None  # why not, or only partly

    def review_overdue(self, today: date) -> bool:
        """Open past its review date (London dates)."""
        return self.status is not ConcernStatus.RESOLVED and self.review_by < today

    def raised_event(self) -> ConcernRaised:
        return ConcernRaised(
            concern_id=self.concern_id,
            service_area=self.service_area,
            theme=self.theme,
            description=self.description,
            measures=self.measures,
            raised_at=self.raised_at,
            review_by=self.review_by,
            supersedes=self.supersedes,
        )

    def resolve(
        self, cmd: ResolveConcern, evidence: Mapping[str, EvidenceAudit], *, resolved_by: str, now: datetime
    ) -> ConcernResolved:
        """Resolve the concern with the audits that evidence its measures work: linked to it
        and completed by then (`evidence`: what is known of them, by id)."""
        resolved_at = occurred_at(cmd.resolved_at, now, "resolved_at")
        ids = self._evidence(cmd.evidence_audit_ids, evidence, resolved_at)
        check_outcome(cmd.outcome, cmd.reason)
        self.status = ConcernStatus.RESOLVED
        self.resolved_at = resolved_at
        self.resolved_by = resolved_by
        self.evidence_audit_ids = ids
        self.outcome, self.reason = cmd.outcome, cmd.reason
        return ConcernResolved(
            concern_id=self.concern_id,
            resolved_at=resolved_at,
            evidence_audit_ids=ids,
            outcome=cmd.outcome,
            reason=cmd.reason,
        )

    def _evidence(
        self, evidence_ids: Sequence[str], evidence: Mapping[str, EvidenceAudit], resolved_at: datetime
    ) -> list[str]:
        """The evidence audit ids, deduplicated in order, or why they do not resolve it."""
        if self.status is ConcernStatus.RESOLVED:
            raise Conflict(f"concern {self.concern_id} is already resolved")
        ids = list(dict.fromkeys(evidence_ids))
        if not ids:
            raise Invalid("a concern is resolved with the audits that evidence it", "evidence_audit_ids")
        if unknown := [i for i in ids if i not in evidence]:
            raise Invalid(f"unknown audits: {', '.join(unknown)}", "evidence_audit_ids")
        if unlinked := [i for i in ids if evidence[i].concern_id != self.concern_id]:
            raise Invalid(
                f"audits not linked to concern {self.concern_id}: {', '.join(unlinked)}", "evidence_audit_ids"
            )
        if still_open := [i for i in ids if evidence[i].status is not AuditStatus.COMPLETED]:
            raise Conflict(f"evidence audits not completed yet: {', '.join(still_open)}")
        if late := [i for i in ids if (c := evidence[i].completed_at) is not None and c > resolved_at]:
            raise Invalid(f"audits completed after resolved_at: {', '.join(late)}", "resolved_at")
        if resolved_at < self.raised_at:
            raise Invalid("resolved_at is before the concern was raised", "resolved_at")
        return ids

    def action_origin(self) -> ActionOrigin:
        """An action arising from an open concern: a concern is about a service area, not one
        team, so the request names the team; it cannot be raised before the concern was."""
        if self.status is ConcernStatus.RESOLVED:
            raise Conflict(f"concern {self.concern_id} is resolved; raise the action on a new concern or audit")
        return ActionOrigin(
            origin=LearningOrigin.CONCERN,
            origin_id=self.concern_id,
            service_area=self.service_area,
            team=None,
            not_before=self.raised_at,
            describes="concern",
        )


def check_outcome(outcome: ConcernOutcome | None, reason: str | None) -> None:
    """A resolution says whether the measures worked, and why not unless they did."""
    if outcome is None and reason is not None:
        raise Invalid("a reason explains an outcome: give the outcome too", "reason")
    if outcome not in (None, ConcernOutcome.EFFECTIVE) and reason is None:
        raise Invalid(f"say why the measures were {str(outcome).replace('_', ' ')}", "reason")


def check_supersedes(superseded: Concern | None, supersedes: str, raised_at: datetime) -> None:
    """A concern that reworks another names a resolved concern (its measures did not work,
    or only partly) and is raised after that resolution."""
    if superseded is None:
        raise Invalid(f"unknown concern {supersedes!r}", "supersedes")
    if superseded.status is not ConcernStatus.RESOLVED or superseded.resolved_at is None:
        raise Conflict(f"concern {supersedes!r} is still open: resolve it (with its outcome) before reworking it")
    if superseded.outcome is ConcernOutcome.EFFECTIVE:
        raise Conflict(f"concern {supersedes!r} was resolved as effective: there is nothing to rework")
    if raised_at < superseded.resolved_at:
        raise Invalid(f"raised_at is before concern {supersedes!r} was resolved", "raised_at")


def raise_concern(
    cmd: RaiseConcern, *, concern_id: str, raised_by: str, now: datetime, superseded: Concern | None = None
) -> Concern:
    """A new concern. It names the new measures put in place and when a (targeted) audit
    will review whether they work; a rework names the concern it supersedes (`superseded`:
    that concern, None when unknown)."""
    raised_at = occurred_at(cmd.raised_at, now, "raised_at")
    if cmd.supersedes is not None:
        check_supersedes(superseded, cmd.supersedes, raised_at)
    if not cmd.theme.strip():
        raise Invalid("a concern needs a theme (e.g. management_oversight)", "theme")
    if not cmd.description.strip():
        raise Invalid("describe the concern", "description")
    measures = [m.strip() for m in cmd.measures if m.strip()]
    if not measures:
        raise Invalid("name at least one measure put in place", "measures")
    if cmd.review_by < london_date(raised_at):
        raise Invalid("review_by is before the concern was raised", "review_by")
    return Concern(
        concern_id=concern_id,
        service_area=cmd.service_area,
        theme=cmd.theme.strip(),
        description=cmd.description.strip(),
        measures=measures,
        raised_at=raised_at,
        review_by=cmd.review_by,
        raised_by=raised_by,
        supersedes=cmd.supersedes,
    )


# --------------------------------------------------------------------------- inspection findings


@dataclass(frozen=True)
class InspectionFinding:
    """A finding of an inspection (Ofsted, CQC, DfE or another body): a learning origin that
    actions answer (follow-up rule inspection-finding)."""

    finding_id: str
    body: InspectionBody
    service_area: str
    team: str | None
    summary: str
    recorded_at: datetime
    recorded_by: str

    def recorded_event(self) -> InspectionFindingRecorded:
        return InspectionFindingRecorded(
            finding_id=self.finding_id,
            body=self.body,
            service_area=self.service_area,
            team=self.team,
            summary=self.summary,
            recorded_at=self.recorded_at,
        )

    def action_origin(self) -> ActionOrigin:
        """An action answering the finding: the finding's team owns it (a finding about no
        one team: the request names the team); not raised before the finding was recorded."""
        return ActionOrigin(
            origin=LearningOrigin.INSPECTION,
            origin_id=self.finding_id,
            service_area=self.service_area,
            team=self.team,
            not_before=self.recorded_at,
            describes="inspection finding",
        )


def record_inspection_finding(
    cmd: RecordInspectionFinding, *, finding_id: str, recorded_by: str, now: datetime
) -> InspectionFinding:
    """A new inspection finding (its summary already checked as published text)."""
    return InspectionFinding(
        finding_id=finding_id,
        body=cmd.body,
        service_area=cmd.service_area,
        team=cmd.team.strip() if cmd.team and cmd.team.strip() else None,
        summary=cmd.summary,
        recorded_at=occurred_at(cmd.recorded_at, now, "recorded_at"),
        recorded_by=recorded_by,
    )
