"""Audit rules, pure: templates, the audit state machine, the overall-grade rule, concerns
and actions. No I/O; every function takes plain data and either returns the decision or
raises `Invalid` (the request itself is wrong: HTTP 422) or `Conflict` (not allowed in the
current state: HTTP 409). See DOMAIN.md, "Audits".

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
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from shared.calendar import london_date
from shared.events import AuditType, Grade

# A clock may run a little ahead of ours; anything later than this is a typo, not a fact.
CLOCK_SKEW = timedelta(minutes=5)
AREA_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_AREAS = 30
MAX_RATIONALE = 2000


class AuditStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ConcernStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class OverallGradeRule(enum.StrEnum):
    WORST = "worst"  # limiting judgement: the worst area grade
    BEST_FIT = "best_fit"  # the auditor states it, between the best and the worst area grade


# --------------------------------------------------------------------------- errors


class AuditRuleError(Exception):
    """A request the rules refuse; `field` names the request field at fault, if one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class Invalid(AuditRuleError):
    """The request is wrong whatever the state (422)."""


class Conflict(AuditRuleError):
    """The request is not allowed in the current state (409)."""


class NotFound(AuditRuleError):
    """No such audit, concern, action or template (404)."""


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


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class TemplateArea:
    key: str
    title: str
    guidance: str = ""


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    service_area: str
    audit_type: AuditType | None  # None: any audit type but EHCP
    areas: tuple[TemplateArea, ...]
    is_default: bool = False

    @property
    def area_keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.areas)


def validate_template(
    *,
    name: str,
    service_area: str,
    audit_type: AuditType | None,
    areas: Sequence[TemplateArea],
    known_service_areas: Collection[str],
) -> tuple[TemplateArea, ...]:
    """The template's areas, tidied, or `Invalid` naming what is wrong."""
    if not name.strip():
        raise Invalid("a template needs a name", "name")
    if service_area not in known_service_areas:
        raise Invalid(
            f"unknown service_area {service_area!r}; expected one of {sorted(known_service_areas)}",
            "service_area",
        )
    if not areas:
        raise Invalid("a template needs at least one area", "areas")
    if len(areas) > MAX_AREAS:
        raise Invalid(f"a template has at most {MAX_AREAS} areas", "areas")
    tidy: list[TemplateArea] = []
    seen: set[str] = set()
    for area in areas:
        key = area.key.strip()
        if not AREA_KEY.match(key):
            raise Invalid(
                f"area key {area.key!r} must be lower-case letters, digits and underscores, "
                "starting with a letter (e.g. voice_of_the_child)",
                "areas",
            )
        if key in seen:
            raise Invalid(f"area {key!r} appears twice", "areas")
        if not area.title.strip():
            raise Invalid(f"area {key!r} needs a title", "areas")
        seen.add(key)
        tidy.append(TemplateArea(key, area.title.strip(), area.guidance.strip()))
    return tuple(tidy)


def choose_template(
    templates: Iterable[Template],
    *,
    service_area: str,
    audit_type: AuditType,
    template_id: str | None = None,
) -> Template:
    """The template an audit is graded against.

    A named template must be for the audit's service area, and for its audit type where the
    template names one; an EHCP audit needs an EHCP template (the EHC plan audit procedure
    grades its own areas). Without a name: the service area's default template for that
    audit type, else (not for EHCP) its general default.
    """
    candidates = list(templates)
    if template_id is not None:
        found = next((t for t in candidates if t.template_id == template_id), None)
        if found is None:
            raise Invalid(f"unknown template {template_id!r}", "template_id")
        if found.service_area != service_area:
            raise Invalid(
                f"template {template_id!r} is for {found.service_area}, not {service_area}",
                "template_id",
            )
        if found.audit_type is not None and found.audit_type is not audit_type:
            raise Invalid(
                f"template {template_id!r} is for {found.audit_type} audits, not {audit_type}",
                "template_id",
            )
        if audit_type is AuditType.EHCP and found.audit_type is not AuditType.EHCP:
            raise Invalid(
                "an EHCP audit is graded against an EHCP template (the EHC plan audit procedure)",
                "template_id",
            )
        return found
    defaults = [t for t in candidates if t.is_default and t.service_area == service_area]
    for wanted in (audit_type, None):
        if wanted is None and audit_type is AuditType.EHCP:
            break
        match = next((t for t in defaults if t.audit_type == wanted), None)
        if match is not None:
            return match
    raise Invalid(
        f"no default {audit_type} template for {service_area}; create one or name template_id",
        "template_id",
    )


def _areas(*pairs: tuple[str, str]) -> tuple[TemplateArea, ...]:
    return tuple(TemplateArea(key, title) for key, title in pairs)


_CASE_FILE = (
    ("voice_of_the_child", "Voice of the child: the child's wishes, feelings and lived experience"),
    ("assessment_and_analysis", "Assessment and analysis of needs and risks"),
    ("planning", "Planning: outcome-focused, timely and reviewed"),
    ("management_oversight", "Management oversight and supervision of the case"),
    ("recording", "Recording: up to date, clear and written to the child"),
)
EHCP_AREAS = _areas(
    (
        "timeliness",
        "Timeliness: plan issued within 20 weeks of the request, or an exception recorded",
    ),
    (
        "child_and_family_views",
        "The child's and family's views, interests and aspirations (section A)",
    ),
    ("needs_described", "Special educational needs described specifically (section B)"),
    ("outcomes", "Outcomes: specific, measurable and person-centred (section E)"),
    ("provision_specified", "Provision specified and quantified for each need (section F)"),
    ("health_and_social_care", "Health and social care needs and provision (sections C, D, G, H)"),
    ("multi_agency_advice", "Advice from education, health and care reflected in the plan"),
)

# Seeded on start where absent (one case-file template per default service area, and the
# EHC plan audit procedure's template for SEND). More are created through the API.
DEFAULT_TEMPLATES: tuple[Template, ...] = (
    Template(
        "case-file-childrens_social_care",
        "Case file audit: children's social care",
        "childrens_social_care",
        None,
        _areas(*_CASE_FILE),
        True,
    ),
    Template("case-file-send", "Case file audit: SEND", "send", None, _areas(*_CASE_FILE), True),
    Template(
        "case-file-fostering",
        "Case file audit: fostering",
        "fostering",
        None,
        _areas(
            *_CASE_FILE[:3],
            ("carer_support_and_supervision", "Support and supervision of the foster carers"),
            *_CASE_FILE[3:],
        ),
        True,
    ),
    Template(
        "case-file-early_help",
        "Case file audit: early help",
        "early_help",
        None,
        _areas(*_CASE_FILE),
        True,
    ),
    Template(
        "case-file-youth_justice",
        "Case file audit: youth justice",
        "youth_justice",
        None,
        _areas(*_CASE_FILE),
        True,
    ),
    Template("ehcp-send", "EHC plan audit", "send", AuditType.EHCP, EHCP_AREAS, True),
)


# --------------------------------------------------------------------------- audits


@dataclass(frozen=True)
class ConcernState:
    concern_id: str
    service_area: str
    status: ConcernStatus
    raised_at: datetime


@dataclass(frozen=True)
class AuditState:
    audit_id: str
    status: AuditStatus
    auditor_id: str
    areas: tuple[str, ...]  # the template's area keys, fixed when the audit was scheduled
    grades: Mapping[str, Grade] = field(default_factory=dict)
    overall_grade: Grade | None = None  # as completed
    current_grade: Grade | None = None  # after the latest moderation
    completed_at: datetime | None = None
    concern_id: str | None = None


@dataclass(frozen=True)
class AreaJudgement:
    area: str
    grade: Grade
    rationale: str


def occurred_at(value: datetime | None, now: datetime, field_name: str) -> datetime:
    """When a fact happened: `now` unless the caller records an earlier one (back-entry)."""
    if value is None:
        return now
    if value.tzinfo is None:
        raise Invalid("a timestamp needs a UTC offset", field_name)
    if value > now + CLOCK_SKEW:
        raise Invalid(f"{field_name} {value.isoformat()} is in the future", field_name)
    return value


def check_schedule(
    *,
    audit_type: AuditType,
    service_area: str,
    theme: str | None,
    concern_id: str | None,
    concern: ConcernState | None,
) -> None:
    """A targeted audit checks a concern's measures, so it names the (open) concern; a
    themed audit names its theme. Any audit may link to an open concern of its service area."""
    if audit_type is AuditType.TARGETED and concern_id is None:
        raise Invalid(
            "a targeted audit checks the measures for a concern: concern_id is required",
            "concern_id",
        )
    if audit_type is AuditType.THEMED and not (theme or "").strip():
        raise Invalid("a themed audit needs its theme", "theme")
    if concern_id is None:
        return
    if concern is None:
        raise Invalid(f"unknown concern {concern_id!r}", "concern_id")
    if concern.service_area != service_area:
        raise Invalid(
            f"concern {concern_id!r} is about {concern.service_area}, not {service_area}",
            "concern_id",
        )
    if concern.status is ConcernStatus.RESOLVED:
        raise Conflict(f"concern {concern_id!r} is already resolved")


def record_grades(audit: AuditState, judgements: Sequence[AreaJudgement]) -> AuditStatus:
    """Check area grades for an audit still open; returns the audit's new status."""
    if audit.status is AuditStatus.COMPLETED:
        raise Conflict(
            f"audit {audit.audit_id} is completed: its area grades can no longer change "
            "(a second reader may moderate the overall grade)"
        )
    if not judgements:
        raise Invalid("grade at least one area", "grades")
    seen: set[str] = set()
    for j in judgements:
        if j.area in seen:
            raise Invalid(f"area {j.area!r} is graded twice in one request", "grades")
        seen.add(j.area)
        if j.area not in audit.areas:
            raise Invalid(
                f"area {j.area!r} is not in this audit's template; its areas are {list(audit.areas)}",
                "grades",
            )
        if not j.rationale.strip():
            raise Invalid(f"area {j.area!r} needs a short rationale for its grade", "grades")
        if len(j.rationale) > MAX_RATIONALE:
            raise Invalid(f"the rationale for {j.area!r} is longer than {MAX_RATIONALE} characters", "grades")
    return AuditStatus.IN_PROGRESS


def complete(audit: AuditState, rule: OverallGradeRule, stated: Grade | None, completed_at: datetime) -> Grade:
    """The overall grade the audit completes with."""
    if audit.status is AuditStatus.COMPLETED:
        raise Conflict(f"audit {audit.audit_id} is already completed")
    ungraded = [a for a in audit.areas if a not in audit.grades]
    if ungraded:
        raise Conflict(f"audit {audit.audit_id} cannot be completed: areas not graded yet: {', '.join(ungraded)}")
    return overall_grade(rule, (audit.grades[a] for a in audit.areas), stated)


def moderate(audit: AuditState, new_grade: Grade, moderator_id: str, moderated_at: datetime) -> Grade:
    """Check a moderation; returns the overall grade before it."""
    if audit.status is not AuditStatus.COMPLETED or audit.current_grade is None:
        raise Conflict(f"audit {audit.audit_id} is not completed yet; only a completed audit is moderated")
    if moderator_id == audit.auditor_id:
        raise Conflict("moderation is by a second reader, not the audit's own auditor")
    if new_grade is audit.current_grade:
        raise Invalid(f"the overall grade is already {new_grade}; a moderation changes it", "overall_grade")
    if audit.completed_at is not None and moderated_at < audit.completed_at:
        raise Invalid("moderated_at is before the audit was completed", "moderated_at")
    return audit.current_grade


# --------------------------------------------------------------------------- concerns


def check_concern(
    *, theme: str, description: str, measures: Sequence[str], raised_at: datetime, review_by: date
) -> list[str]:
    """The concern's measures, tidied. A concern names the new measures put in place and
    when a (targeted) audit will review whether they work."""
    if not theme.strip():
        raise Invalid("a concern needs a theme (e.g. management_oversight)", "theme")
    if not description.strip():
        raise Invalid("describe the concern", "description")
    tidy = [m.strip() for m in measures if m.strip()]
    if not tidy:
        raise Invalid("name at least one measure put in place", "measures")
    if review_by < london_date(raised_at):
        raise Invalid("review_by is before the concern was raised", "review_by")
    return tidy


@dataclass(frozen=True)
class EvidenceAudit:
    audit_id: str
    status: AuditStatus
    concern_id: str | None
    completed_at: datetime | None


def check_resolution(
    concern: ConcernState,
    evidence_ids: Sequence[str],
    evidence: Mapping[str, EvidenceAudit],
    resolved_at: datetime,
) -> list[str]:
    """The evidence audit ids (deduplicated, in order) a concern is resolved with: audits
    linked to the concern and completed by the time it is resolved."""
    if concern.status is ConcernStatus.RESOLVED:
        raise Conflict(f"concern {concern.concern_id} is already resolved")
    ids = list(dict.fromkeys(evidence_ids))
    if not ids:
        raise Invalid("a concern is resolved with the audits that evidence it", "evidence_audit_ids")
    unknown = [i for i in ids if i not in evidence]
    if unknown:
        raise Invalid(f"unknown audits: {', '.join(unknown)}", "evidence_audit_ids")
    unlinked = [i for i in ids if evidence[i].concern_id != concern.concern_id]
    if unlinked:
        raise Invalid(
            f"audits not linked to concern {concern.concern_id}: {', '.join(unlinked)}",
            "evidence_audit_ids",
        )
    open_ = [i for i in ids if evidence[i].status is not AuditStatus.COMPLETED]
    if open_:
        raise Conflict(f"evidence audits not completed yet: {', '.join(open_)}")
    late = [i for i in ids if (c := evidence[i].completed_at) is not None and c > resolved_at]
    if late:
        raise Invalid(f"audits completed after resolved_at: {', '.join(late)}", "resolved_at")
    if resolved_at < concern.raised_at:
        raise Invalid("resolved_at is before the concern was raised", "resolved_at")
    return ids


# --------------------------------------------------------------------------- actions


def check_action(*, summary: str, raised_at: datetime, due_date: date) -> None:
    if not summary.strip():
        raise Invalid("say what the action is", "summary")
    if due_date < london_date(raised_at):
        raise Invalid("due_date is before the action was raised", "due_date")


def complete_action(action_id: str, status: ActionStatus, raised_at: datetime, completed_at: datetime) -> None:
    if status is ActionStatus.COMPLETED:
        raise Conflict(f"action {action_id} is already completed")
    if completed_at < raised_at:
        raise Invalid("completed_at is before the action was raised", "completed_at")


def is_overdue(due_date: date, done: bool, today: date) -> bool:
    return not done and due_date < today
