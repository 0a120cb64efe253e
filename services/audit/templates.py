"""Audit templates, pure: the areas an audit is graded on, the rules a template follows,
which template an audit is graded against, and the templates every authority starts with.
No I/O; a request the rules refuse raises `shared.errors.Invalid` (422)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.audit.commands import CreateTemplate
from shared.errors import Invalid
from shared.events import AuditType

AREA_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_AREAS = 30
SEED_AUTHOR = "qaloop-seed"


@dataclass(frozen=True)
class TemplateArea:
    key: str
    title: str
    guidance: str = ""


@dataclass(frozen=True)
class ChecklistItem:
    """One step of a procedure an audit checks was followed (met or not), beside its grades."""

    key: str
    title: str


@dataclass(frozen=True)
class Template:
    """A named set of areas that audits of a service area (and audit type) are graded on."""

    template_id: str
    name: str
    service_area: str
    audit_type: AuditType | None  # None: any audit type but EHCP
    areas: tuple[TemplateArea, ...]
    is_default: bool = False
    created_by: str = SEED_AUTHOR
    created_at: datetime | None = None  # None: not stored yet (a seed takes the time it is stored)
    # EHCP templates: the EHC plan procedure's checklist; an audit's `procedure_compliant` is
    # true when every item is met (DOMAIN.md "EHCP audit procedure").
    checklist: tuple[ChecklistItem, ...] = ()

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


def validate_checklist(audit_type: AuditType | None, items: Sequence[ChecklistItem]) -> tuple[ChecklistItem, ...]:
    """A template's procedure checklist, tidied, or `Invalid`: only EHCP templates have one
    (the EHC plan audit procedure); keys as area keys, each once, each with a title."""
    if not items:
        return ()
    if audit_type is not AuditType.EHCP:
        raise Invalid("only an EHCP template has a procedure checklist", "checklist")
    if len(items) > MAX_AREAS:
        raise Invalid(f"a checklist has at most {MAX_AREAS} items", "checklist")
    tidy: list[ChecklistItem] = []
    for item in items:
        key = item.key.strip()
        if not AREA_KEY.match(key):
            raise Invalid(
                f"checklist item {item.key!r} must be lower-case letters, digits and underscores, "
                "starting with a letter",
                "checklist",
            )
        if key in {t.key for t in tidy}:
            raise Invalid(f"checklist item {key!r} appears twice", "checklist")
        if not item.title.strip():
            raise Invalid(f"checklist item {key!r} needs a title", "checklist")
        tidy.append(ChecklistItem(key, item.title.strip()))
    return tuple(tidy)


def create_template(
    cmd: CreateTemplate, *, template_id: str, known_service_areas: Collection[str], created_by: str, now: datetime
) -> Template:
    """A new template from a request (its name must still be free: the store says)."""
    areas = validate_template(
        name=cmd.name,
        service_area=cmd.service_area,
        audit_type=cmd.audit_type,
        areas=[TemplateArea(a.key, a.title, a.guidance) for a in cmd.areas],
        known_service_areas=known_service_areas,
    )
    checklist = validate_checklist(cmd.audit_type, [ChecklistItem(c.key, c.title) for c in cmd.checklist])
    return Template(
        template_id,
        cmd.name.strip(),
        cmd.service_area,
        cmd.audit_type,
        areas,
        cmd.is_default,
        created_by,
        now,
        checklist,
    )


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
        _check_named_template(found, service_area=service_area, audit_type=audit_type)
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


def _check_named_template(found: Template, *, service_area: str, audit_type: AuditType) -> None:
    template_id = found.template_id
    if found.service_area != service_area:
        raise Invalid(f"template {template_id!r} is for {found.service_area}, not {service_area}", "template_id")
    if found.audit_type is not None and found.audit_type is not audit_type:
        raise Invalid(f"template {template_id!r} is for {found.audit_type} audits, not {audit_type}", "template_id")
    if audit_type is AuditType.EHCP and found.audit_type is not AuditType.EHCP:
        raise Invalid(
            "an EHCP audit is graded against an EHCP template (the EHC plan audit procedure)",
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
    ("timeliness", "Timeliness: plan issued within 20 weeks of the request, or an exception recorded"),
    ("child_and_family_views", "The child's and family's views, interests and aspirations (section A)"),
    ("needs_described", "Special educational needs described specifically (section B)"),
    ("outcomes", "Outcomes: specific, measurable and person-centred (section E)"),
    ("provision_specified", "Provision specified and quantified for each need (section F)"),
    ("health_and_social_care", "Health and social care needs and provision (sections C, D, G, H)"),
    ("multi_agency_advice", "Advice from education, health and care reflected in the plan"),
)

# The EHC needs assessment and plan procedure (SEND Code of Practice 0-25, chapter 9): what
# an EHCP audit checks was done, each item met or not.
EHCP_CHECKLIST = (
    ChecklistItem("decision_within_6_weeks", "Decision whether to assess made within 6 weeks of the request"),
    ChecklistItem("family_involved", "The child and parents involved and their views sought throughout"),
    ChecklistItem("advice_within_6_weeks", "Education, health and care advice sought and returned within 6 weeks"),
    ChecklistItem("draft_shared_15_days", "Draft plan shared with 15 days to comment and to ask for a setting"),
    ChecklistItem("setting_consulted", "The setting named in the plan consulted before the plan was finalised"),
    ChecklistItem("issued_within_20_weeks", "Final plan issued within 20 weeks of the request, or exception recorded"),
    ChecklistItem("review_within_12_months", "First annual review arranged within 12 months of issue"),
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
    Template("case-file-early_help", "Case file audit: early help", "early_help", None, _areas(*_CASE_FILE), True),
    Template(
        "case-file-youth_justice",
        "Case file audit: youth justice",
        "youth_justice",
        None,
        _areas(*_CASE_FILE),
        True,
    ),
    Template("ehcp-send", "EHC plan audit", "send", AuditType.EHCP, EHCP_AREAS, True, checklist=EHCP_CHECKLIST),
)
