"""Audit activity through the audit service's API: case-file audits graded area by area,
moderation by a second reader, actions from weak audits (some completed late), re-audits of
weak cases, and one area of concern — management oversight in SEND — with its measures,
targeted audits and resolution (the panel minutes).

Grades: mostly good, a fair share requiring improvement (under the authority's "worst area
grade" rule one weak area makes the audit require improvement — what worried the panel),
some inadequate, a few outstanding. SEND case files grade worse on management oversight
until the concern's measures take hold.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.simulation.authority import (
    AUDITORS,
    COUNTY,
    EHCP_AREAS,
    EHCP_CHECKLIST_MET,
    MODERATORS,
    QA_MANAGER,
    TEMPLATE_AREAS,
    AnnualVolumes,
    team_manager,
)
from services.simulation.plan import Call, Ref, SimulatedYear, Story, in_order, team_in, weighted
from shared.calendar import london_date
from shared.events import Grade

AUDIT_AREAS = {"childrens_social_care": 0.55, "send": 0.15, "fostering": 0.1, "early_help": 0.12, "youth_justice": 0.08}
AUDIT_TYPES = {"routine": 0.75, "themed": 0.13, "dip_sample": 0.12}
THEMES = ("neglect", "exploitation", "voice_of_the_child", "transitions_to_adulthood")
EHCP_SHARE_OF_SEND = 0.35

G = Grade
OVERALL = {G.OUTSTANDING: 0.05, G.GOOD: 0.53, G.REQUIRES_IMPROVEMENT: 0.35, G.INADEQUATE: 0.07}
SEND_BEFORE_MEASURES = {G.OUTSTANDING: 0.02, G.GOOD: 0.38, G.REQUIRES_IMPROVEMENT: 0.48, G.INADEQUATE: 0.12}
EHCP_OVERALL = {G.OUTSTANDING: 0.05, G.GOOD: 0.62, G.REQUIRES_IMPROVEMENT: 0.28, G.INADEQUATE: 0.05}
WEAK_AREAS = {
    "voice_of_the_child": 1.5,
    "assessment_and_analysis": 1.0,
    "planning": 1.5,
    "management_oversight": 1.2,
    "recording": 1.3,
    "carer_support_and_supervision": 1.0,
}
SEND_WEAK_AREAS = {**WEAK_AREAS, "management_oversight": 6.0}
EHCP_WEAK_AREAS = {a: 1.0 for a in EHCP_AREAS} | {"timeliness": 3.0, "outcomes": 2.0}

MODERATED = 0.10
MODERATION = {
    G.REQUIRES_IMPROVEMENT: {G.GOOD: 0.8, G.INADEQUATE: 0.2},
    G.GOOD: {G.REQUIRES_IMPROVEMENT: 0.85, G.OUTSTANDING: 0.15},
    G.INADEQUATE: {G.REQUIRES_IMPROVEMENT: 1.0},
    G.OUTSTANDING: {G.GOOD: 1.0},
}
ACTION_RAISED = {G.REQUIRES_IMPROVEMENT: 0.55, G.INADEQUATE: 1.0}
ACTION_COMPLETED = 0.9
ACTION_ON_TIME = 0.78
RE_AUDITED = {G.REQUIRES_IMPROVEMENT: 0.8, G.INADEQUATE: 0.9}
RE_AUDITED_IN_TIME = 0.85
RE_AUDITS_AT_MOST = 2  # a case re-audited and still weak is audited once more
RESCHEDULED = 0.1  # audits whose due date moves once (a sick auditor, a family's request)
RESCHEDULED_BY_DAYS = (7, 21)  # ... later by this many days

AREA_WORDS = {
    "voice_of_the_child": "the child's wishes, feelings and lived experience",
    "assessment_and_analysis": "assessment and analysis of needs and risks",
    "planning": "the plan",
    "management_oversight": "management oversight",
    "recording": "recording",
    "carer_support_and_supervision": "support and supervision of the carers",
    "timeliness": "timeliness of the plan",
    "child_and_family_views": "the child's and family's views",
    "needs_described": "the description of needs",
    "outcomes": "the outcomes",
    "provision_specified": "the provision",
    "health_and_social_care": "health and social care advice",
    "multi_agency_advice": "multi-agency advice",
}
RATIONALE = {
    G.OUTSTANDING: "Exemplary: {w} is clear, child-centred and makes a visible difference.",
    G.GOOD: "Good: {w} is clear, up to date and focused on the child.",
    G.REQUIRES_IMPROVEMENT: "Meets the baseline, but {w} needs more consistent good practice.",
    G.INADEQUATE: "Inadequate: {w} is missing or out of date and risks are not addressed.",
}
ACTION_SUMMARIES = (
    "Update the plan with the child's views and review it in supervision",
    "Manager to record oversight and the reasons for decisions on the case file",
    "Bring the chronology and case summary up to date",
    "Complete the overdue risk assessment and share it with partners",
)

# The concern (relative to 1 April): raised in July, targeted audits in October and
# November, resolved early in January.
CONCERN_RAISED_DAY = 110
CONCERN_REVIEW_AFTER = 150
CONCERN_RESOLVED_AFTER = 170
MEASURES_TAKE_HOLD_AFTER = 75
TARGETED_AUDITS = 6


def plan_audits(year: SimulatedYear, volumes: AnnualVolumes = COUNTY) -> list[Story]:
    rng = year.rng("audits")
    stories: list[Story] = []
    raised = _concern_raised(year)
    measures_hold = raised + timedelta(days=MEASURES_TAKE_HOLD_AFTER)
    serial = 0
    for month, count in zip(year.months, year.per_month(volumes.audits), strict=True):
        days = year.working_days(month)
        for _ in range(count):
            serial += 1
            area = weighted(rng, AUDIT_AREAS)
            audit_type = "ehcp" if area == "send" and rng.random() < EHCP_SHARE_OF_SEND else weighted(rng, AUDIT_TYPES)
            completed = year.at(rng.choice(days), rng)
            if audit_type == "ehcp":
                overall_weights, weak = EHCP_OVERALL, EHCP_WEAK_AREAS
            elif area == "send" and london_date(completed) < measures_hold:
                overall_weights, weak = SEND_BEFORE_MEASURES, SEND_WEAK_AREAS
            else:
                overall_weights, weak = OVERALL, WEAK_AREAS
            audit = AuditSpec(
                key=f"{year.prefix}-audit-{serial:04d}",
                case_reference=f"WCF-{year.seed}-{serial:05d}",
                area=area,
                team=team_in(area, rng),
                audit_type=audit_type,
                theme=rng.choice(THEMES) if audit_type == "themed" else None,
                auditor=rng.choice(AUDITORS),
                completed=completed,
                overall=Grade(weighted(rng, overall_weights)),
                weak=weak,
            )
            calls = audit_calls(year, rng, audit, "audit")
            calls += _moderation_and_action(year, rng, audit)
            stories.append(Story(audit.key, in_order(calls)))
            earlier = audit
            for _ in range(RE_AUDITS_AT_MOST):
                re_audit = _re_audit(year, rng, earlier)
                if re_audit is None:
                    break
                stories.append(Story(re_audit.key, in_order(audit_calls(year, rng, re_audit, "audit"))))
                earlier = re_audit
    concern = _concern_story(year, year.rng("concern"), raised)
    if concern is not None:
        stories.append(concern)
    return [s for s in stories if year.fy.contains(london_date(s.starts))]


@dataclass(frozen=True)
class AuditSpec:
    """One audit as the plan sees it: the case, who audits it, when it completes and how it
    is graded overall (the area grades follow)."""

    key: str
    case_reference: str
    area: str
    team: str
    audit_type: str
    theme: str | None
    auditor: str
    completed: datetime
    overall: Grade
    weak: dict[str, float]
    concern: Ref | None = None

    @property
    def areas(self) -> tuple[str, ...]:
        return EHCP_AREAS if self.audit_type == "ehcp" else TEMPLATE_AREAS[self.area]


def audit_calls(year: SimulatedYear, rng: random.Random, audit: AuditSpec, ref: str) -> list[Call]:
    """Schedule, grade every area (one request), complete: the audit's `AuditGraded`."""
    ref_key = f"{ref}:{audit.key}"
    due = london_date(audit.completed) + timedelta(days=rng.randint(-6, 12))
    schedule = {
        "case_reference": audit.case_reference,
        "service_area": audit.area,
        "team": audit.team,
        "audit_type": audit.audit_type,
        "auditor_id": audit.auditor,
        "due_date": due,
    }
    if audit.theme:
        schedule["theme"] = audit.theme
    if audit.concern is not None:
        schedule["concern_id"] = audit.concern
    grades = area_grades(rng, audit.overall, audit.areas, audit.weak)
    moved = _rescheduled(audit)
    if moved:  # first due earlier, then moved to `due`
        schedule["due_date"] = due - timedelta(days=moved)
    return [
        Call(
            audit.completed - timedelta(hours=2),
            "audit.schedule",
            "audit",
            "POST",
            "/v1/audits",
            schedule,
            QA_MANAGER,
            capture=(ref_key, "audit_id"),
        ),
        *_reschedule_calls(audit, ref_key, due, moved),
        Call(
            audit.completed - timedelta(hours=1),
            "audit.grade",
            "audit",
            "POST",
            f"/v1/audits/{{{ref_key}}}/grades",
            {
                "grades": [
                    {"area": a, "grade": g.value, "rationale": RATIONALE[g].format(w=AREA_WORDS[a])}
                    for a, g in zip(audit.areas, grades, strict=True)
                ]
            },
            audit.auditor,
            events=0,
        ),
        Call(
            audit.completed,
            "audit.complete",
            "audit",
            "POST",
            f"/v1/audits/{{{ref_key}}}/complete",
            {"completed_at": audit.completed, **_checklist(audit)},
            audit.auditor,
        ),
    ]


def _reschedule_calls(audit: AuditSpec, ref_key: str, due: date, moved: int) -> list[Call]:
    """The call that moves a rescheduled audit to its due date (none when it is not)."""
    if not moved:
        return []
    at = audit.completed - timedelta(minutes=90)
    path = f"/v1/audits/{{{ref_key}}}/reschedule"
    return [Call(at, "audit.reschedule", "audit", "POST", path, {"due_date": due}, QA_MANAGER)]


def _rescheduled(audit: AuditSpec) -> int:
    """Days an audit's due date moves later when it is rescheduled (0: it is not): first due
    that much earlier, then moved to its due date. Drawn from the audit's own generator, so
    the rest of the year's plan does not move."""
    rng = random.Random(f"{audit.key}:reschedule")
    return rng.randint(*RESCHEDULED_BY_DAYS) if rng.random() < RESCHEDULED else 0


def _checklist(audit: AuditSpec) -> dict[str, object]:
    """An EHCP audit answers its procedure checklist on completion (each item met or not, by
    how often the county's files meet it); other audits have none. Drawn from the audit's
    own generator, so the rest of the year's plan does not move."""
    if audit.audit_type != "ehcp":
        return {}
    rng = random.Random(f"{audit.key}:checklist")
    return {"checklist": [{"item": item, "met": rng.random() < p} for item, p in EHCP_CHECKLIST_MET.items()]}


def area_grades(rng: random.Random, overall: Grade, areas: tuple[str, ...], weak: dict[str, float]) -> list[Grade]:
    """Area grades whose worst is `overall` (the authority's rule)."""
    if overall is G.OUTSTANDING:
        return [G.OUTSTANDING] * len(areas)
    grades = [G.OUTSTANDING if rng.random() < 0.15 else G.GOOD for _ in areas]
    if overall is G.GOOD:
        if G.GOOD not in grades:
            grades[rng.randrange(len(grades))] = G.GOOD
        return grades
    weights = [weak.get(a, 1.0) for a in areas]
    if overall is G.INADEQUATE:
        (worst,) = _pick(rng, weights, 1)
        grades[worst] = G.INADEQUATE
        weights[worst] = 0
        for i in _pick(rng, weights, rng.choice((0, 1, 1, 2))):
            grades[i] = G.REQUIRES_IMPROVEMENT
        return grades
    for i in _pick(rng, weights, rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]):
        grades[i] = G.REQUIRES_IMPROVEMENT
    return grades


def _pick(rng: random.Random, weights: list[float], k: int) -> list[int]:
    """`k` distinct indexes, drawn by weight."""
    w = list(weights)
    out: list[int] = []
    for _ in range(min(k, sum(1 for x in w if x > 0))):
        i = rng.choices(range(len(w)), w)[0]
        out.append(i)
        w[i] = 0
    return out


def _moderation_and_action(year: SimulatedYear, rng: random.Random, audit: AuditSpec) -> list[Call]:
    ref_key = f"audit:{audit.key}"
    calls = []
    if rng.random() < MODERATED:
        after = Grade(weighted(rng, MODERATION[audit.overall]))
        moderator = rng.choice(MODERATORS)
        moderated = year.later(audit.completed, rng.randint(3, 10), rng)
        calls.append(
            Call(
                moderated,
                "audit.moderate",
                "audit",
                "POST",
                f"/v1/audits/{{{ref_key}}}/moderations",
                {
                    "overall_grade": after.value,
                    "reason": f"Second reading: the evidence on file supports {after.value.replace('_', ' ')} overall.",
                    "moderated_at": moderated,
                },
                moderator,
            )
        )
    if rng.random() < ACTION_RAISED.get(audit.overall, 0.0):
        calls += action_calls(
            year,
            rng,
            key=f"action:{audit.key}",
            raise_path=f"/v1/audits/{{{ref_key}}}/actions",
            kind="audit.action",
            after=audit.completed,
            team=None,
            owner=team_manager(audit.team),
        )
    return calls


def action_calls(
    year: SimulatedYear,
    rng: random.Random,
    *,
    key: str,
    raise_path: str,
    kind: str,
    after: datetime,
    team: str | None,
    owner: str,
    summary: str | None = None,
    due_in_days: tuple[int, int] = (20, 40),
    completed: bool | None = None,
    on_time: bool | None = None,
) -> list[Call]:
    """Raise an action (due in 20-40 days) and, mostly, complete it — some late."""
    raised = year.later(after, rng.randint(0, 2), rng)
    due = london_date(raised) + timedelta(days=rng.randint(*due_in_days))
    body: dict[str, object] = {
        "owner_id": owner,
        "due_date": due,
        "summary": summary or rng.choice(ACTION_SUMMARIES),
        "raised_at": raised,
    }
    if team is not None:
        body["team"] = team
    calls = [Call(raised, f"{kind}.raise", "audit", "POST", raise_path, body, owner, capture=(key, "action_id"))]
    done = rng.random() < ACTION_COMPLETED if completed is None else completed
    if done:
        punctual = rng.random() < ACTION_ON_TIME if on_time is None else on_time
        if punctual:
            day = london_date(raised) + timedelta(days=rng.randint(3, max(3, (due - london_date(raised)).days)))
            day = min(day, due)
        else:
            day = due + timedelta(days=rng.randint(1, 25))
        finished = max(year.at(day, rng), raised + timedelta(minutes=10))
        calls.append(
            Call(
                finished,
                f"{kind}.complete",
                "audit",
                "POST",
                f"/v1/actions/{{{key}}}/complete",
                {"evidence": "Checked on the case file by the team manager.", "completed_at": finished},
                owner,
            )
        )
    return calls


def _re_audit(year: SimulatedYear, rng: random.Random, audit: AuditSpec) -> AuditSpec | None:
    """A weak case audited again: within a month if inadequate, three if it requires
    improvement (the re-audit follow-up's due date); a few later than that."""
    if rng.random() >= RE_AUDITED.get(audit.overall, 0.0):
        return None
    if rng.random() < RE_AUDITED_IN_TIME:
        window = (18, 29) if audit.overall is G.INADEQUATE else (40, 88)
    else:
        window = (32, 50) if audit.overall is G.INADEQUATE else (95, 120)
    day = year.working_day_from(london_date(audit.completed) + timedelta(days=rng.randint(*window)))
    if audit.overall is G.INADEQUATE:
        overall = Grade(weighted(rng, {G.GOOD: 0.5, G.REQUIRES_IMPROVEMENT: 0.4, G.INADEQUATE: 0.1}))
    else:
        overall = Grade(weighted(rng, {G.GOOD: 0.7, G.REQUIRES_IMPROVEMENT: 0.27, G.INADEQUATE: 0.03}))
    return AuditSpec(
        key=f"{audit.key}-again",
        case_reference=audit.case_reference,
        area=audit.area,
        team=audit.team,
        audit_type="ehcp" if audit.audit_type == "ehcp" else "routine",
        theme=None,
        auditor=rng.choice(AUDITORS),
        completed=year.at(day, rng),
        overall=overall,
        weak=audit.weak,
    )


def _concern_raised(year: SimulatedYear) -> date:
    return year.working_day_from(year.fy.start + timedelta(days=CONCERN_RAISED_DAY))


def _raise_concern(raised: datetime, raised_day: date) -> Call:
    return Call(
        raised,
        "audit.concern.raise",
        "audit",
        "POST",
        "/v1/concerns",
        {
            "service_area": "send",
            "theme": "management_oversight",
            "description": "Case file audits show management oversight of SEND cases is weak: "
            "decisions and their reasons are not recorded and supervision is irregular.",
            "measures": [
                "A new management oversight template for SEND case files",
                "Monthly case supervision recorded on the case file",
            ],
            "review_by": raised_day + timedelta(days=CONCERN_REVIEW_AFTER),
            "raised_at": raised,
        },
        QA_MANAGER,
        capture=("concern", "concern_id"),
    )


# The concern's actions: (team, summary, completed on time).
CONCERN_ACTIONS = (
    ("send-north", "Introduce the management oversight template in SEND teams", True),
    ("send-south", "Audit the recording of monthly supervision in SEND teams", False),
)


def _concern_actions(year: SimulatedYear, rng: random.Random, raised: datetime) -> list[Call]:
    """The actions that put the concern's measures in place; both completed, one late."""
    calls: list[Call] = []
    for i, (team, summary, on_time) in enumerate(CONCERN_ACTIONS, start=1):
        calls += action_calls(
            year,
            rng,
            key=f"concern-action-{i}",
            raise_path="/v1/concerns/{concern}/actions",
            kind="audit.concern.action",
            after=raised,
            team=team,
            owner=team_manager(team),
            summary=summary,
            due_in_days=(30, 45),
            completed=True,
            on_time=on_time,
        )
    return calls


def _targeted_audits(year: SimulatedYear, rng: random.Random, raised_day: date) -> tuple[list[Call], list[Ref]]:
    """The concern's targeted audits, from 80 days after it was raised: all good but the
    last. Their calls, and refs to the audits (the resolution's evidence)."""
    calls: list[Call] = []
    evidence = []
    first_targeted = raised_day + timedelta(days=80)
    for i in range(1, TARGETED_AUDITS + 1):
        day = year.working_day_from(first_targeted + timedelta(days=rng.randint(0, 45)))
        audit = AuditSpec(
            key=f"targeted-{i}",
            case_reference=f"WCF-{year.seed}-T{i:02d}",
            area="send",
            team=team_in("send", rng),
            audit_type="targeted",
            theme=None,
            auditor=rng.choice(AUDITORS),
            completed=year.at(day, rng),
            overall=G.REQUIRES_IMPROVEMENT if i == TARGETED_AUDITS else G.GOOD,
            # the measures work: management oversight is no longer what lets audits down
            weak={**WEAK_AREAS, "management_oversight": 0.0},
            concern=Ref("concern"),
        )
        calls += audit_calls(year, rng, audit, "audit")
        evidence.append(Ref(f"audit:{audit.key}"))
    return calls, evidence


def _concern_story(year: SimulatedYear, rng: random.Random, raised_day: date) -> Story | None:
    """Management oversight in SEND: new measures (a new template, recorded supervision),
    actions to put them in place, a targeted audit to see whether they work, resolution."""
    raised = year.at(raised_day, rng)
    calls = [_raise_concern(raised, raised_day), *_concern_actions(year, rng, raised)]
    targeted, evidence = _targeted_audits(year, rng, raised_day)
    calls += targeted
    resolved = year.at(year.working_day_from(raised_day + timedelta(days=CONCERN_RESOLVED_AFTER)), rng)
    calls.append(
        Call(
            resolved,
            "audit.concern.resolve",
            "audit",
            "POST",
            "/v1/concerns/{concern}/resolve",
            {"evidence_audit_ids": evidence, "resolved_at": resolved, "outcome": "effective"},
            QA_MANAGER,
        )
    )
    return Story(f"{year.prefix}-concern-send-oversight", in_order(calls))
