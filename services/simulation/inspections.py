"""Did the measures work, and what inspectors found: concerns whose measures did not work
(reworked by a concern that supersedes them) or only partly, and inspection findings
answered by actions — through the audit service's API.

* Voice of the child in children's social care: raised in May, targeted audits in the
  summer still find the child's views missing, resolved **not effective** in late August;
  a rework concern supersedes it eight working days later (the concern-rework follow-up
  closes on time), and its own targeted audits find it effective in the new year.
* Support for foster carers: resolved **partly effective** in November (no rework).
* Two inspection findings: an Ofsted focused visit on the front door (an action within a
  week: on time) and the local area SEND inspection (an action five weeks later: the
  inspection-finding follow-up closes late).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.simulation.audits import WEAK_AREAS, AuditSpec, action_calls, audit_calls
from services.simulation.authority import AUDITORS, QA_MANAGER, team_manager
from services.simulation.plan import Call, Ref, SimulatedYear, Story, in_order, team_in
from shared.events import Grade


@dataclass(frozen=True)
class ConcernPlan:
    """One concern as the plan sees it (days are relative to 1 April)."""

    key: str
    area: str
    theme: str
    description: str
    measures: tuple[str, ...]
    raised_day: int
    targeted_from_day: int
    targeted: tuple[Grade, ...]  # the targeted audits' overall grades
    weak_area: str
    resolved_day: int
    outcome: str
    reason: str | None = None
    supersedes: str | None = None  # the key of the concern this one reworks


VOICE = ConcernPlan(
    key="concern-csc-voice",
    area="childrens_social_care",
    theme="voice_of_the_child",
    description="Case file audits find the child's wishes and feelings missing from plans "
    "and from the reasons recorded for decisions.",
    measures=("Practice workshops on direct work with children", "A child's-voice section in the plan template"),
    raised_day=45,
    targeted_from_day=95,
    targeted=(Grade.REQUIRES_IMPROVEMENT, Grade.REQUIRES_IMPROVEMENT, Grade.GOOD),
    weak_area="voice_of_the_child",
    resolved_day=148,
    outcome="not_effective",
    reason="Targeted audits still find the child's views missing from two plans in three.",
)
VOICE_REWORK = ConcernPlan(
    key="concern-csc-voice-rework",
    area="childrens_social_care",
    theme="voice_of_the_child",
    description="The child's voice is still missing from plans: the workshops did not change practice.",
    measures=("Managers check the child's views in every plan at supervision", "Direct-work tools in every team"),
    raised_day=160,
    targeted_from_day=230,
    targeted=(Grade.GOOD, Grade.GOOD, Grade.GOOD),
    weak_area="voice_of_the_child",
    resolved_day=285,
    outcome="effective",
    supersedes="concern-csc-voice",
)
CARERS = ConcernPlan(
    key="concern-fostering-support",
    area="fostering",
    theme="carer_support_and_supervision",
    description="Foster carers' supervision visits are not happening every month.",
    measures=("Monthly supervisory visits tracked by the team manager",),
    raised_day=120,
    targeted_from_day=175,
    targeted=(Grade.GOOD, Grade.REQUIRES_IMPROVEMENT),
    weak_area="carer_support_and_supervision",
    resolved_day=222,
    outcome="partly_effective",
    reason="Visits are now monthly for most carers, but not yet recorded for new carers.",
)
# One story each: a rework names the concern it supersedes by the id that concern was given,
# so they are in one story.
CONCERN_STORIES = ((VOICE, VOICE_REWORK), (CARERS,))


@dataclass(frozen=True)
class FindingPlan:
    key: str
    body: str
    area: str
    team: str | None
    summary: str
    day: int
    action_after: int  # working days from the finding to its action
    action_team: str
    action_summary: str


FINDINGS = (
    FindingPlan(
        key="finding-front-door",
        body="ofsted",
        area="childrens_social_care",
        team="assessment",
        summary="Management oversight of strategy discussions at the front door is not consistently recorded.",
        day=130,
        action_after=5,
        action_team="assessment",
        action_summary="Team managers record their oversight of every strategy discussion",
    ),
    FindingPlan(
        key="finding-send-area",
        body="ofsted",
        area="send",
        team=None,
        summary="Too many EHC plans are issued late and annual reviews do not update them.",
        day=215,
        action_after=25,
        action_team="send-north",
        action_summary="Weekly tracking of EHC needs assessments against the 20-week timescale",
    ),
)


def plan_learning(year: SimulatedYear) -> list[Story]:
    """The concerns and inspection findings of the year, one story each."""
    rng = year.rng("learning")
    stories = [
        Story(f"{year.prefix}-{plans[0].key}", in_order(c for plan in plans for c in _concern_calls(year, rng, plan)))
        for plans in CONCERN_STORIES
    ]
    stories += [_finding_story(year, rng, f) for f in FINDINGS]
    return stories


def _day(year: SimulatedYear, offset: int) -> date:
    return year.working_day_from(year.fy.start + timedelta(days=offset))


def _concern_calls(year: SimulatedYear, rng: random.Random, c: ConcernPlan) -> list[Call]:
    """Raise (a rework names the concern it supersedes), targeted audits, resolve with the
    outcome and, unless effective, the reason."""
    raised_day = _day(year, c.raised_day)
    raised = year.at(raised_day, rng)
    body: dict[str, object] = {
        "service_area": c.area,
        "theme": c.theme,
        "description": c.description,
        "measures": list(c.measures),
        "review_by": _day(year, c.resolved_day + 5),
        "raised_at": raised,
    }
    if c.supersedes:
        body["supersedes"] = Ref(c.supersedes)
    calls = [
        Call(
            raised,
            "audit.concern.raise",
            "audit",
            "POST",
            "/v1/concerns",
            body,
            QA_MANAGER,
            capture=(c.key, "concern_id"),
        )
    ]
    evidence = []
    for i, grade in enumerate(c.targeted, start=1):
        audit = AuditSpec(
            key=f"{c.key}-targeted-{i}",
            case_reference=f"WCF-{year.seed}-{c.key[-6:].upper()}-{i:02d}",
            area=c.area,
            team=team_in(c.area, rng),
            audit_type="targeted",
            theme=None,
            auditor=rng.choice(AUDITORS),
            completed=year.at(_day(year, c.targeted_from_day + 12 * i + rng.randint(0, 8)), rng),
            overall=grade,
            weak={**WEAK_AREAS, c.weak_area: 10.0},
            concern=Ref(c.key),
        )
        calls += audit_calls(year, rng, audit, "audit")
        evidence.append(Ref(f"audit:{audit.key}"))
    resolved = year.at(_day(year, c.resolved_day), rng)
    resolve: dict[str, object] = {"evidence_audit_ids": evidence, "resolved_at": resolved, "outcome": c.outcome}
    if c.reason:
        resolve["reason"] = c.reason
    calls.append(
        Call(
            resolved, "audit.concern.resolve", "audit", "POST", f"/v1/concerns/{{{c.key}}}/resolve", resolve, QA_MANAGER
        )
    )
    return calls


def _finding_story(year: SimulatedYear, rng: random.Random, f: FindingPlan) -> Story:
    """Record the finding; the action that answers it (completed on time)."""
    recorded = year.at(_day(year, f.day), rng)
    body: dict[str, object] = {"body": f.body, "service_area": f.area, "summary": f.summary, "recorded_at": recorded}
    if f.team:
        body["team"] = f.team
    calls = [
        Call(
            recorded,
            "audit.inspection.record",
            "audit",
            "POST",
            "/v1/inspection-findings",
            body,
            QA_MANAGER,
            capture=(f.key, "finding_id"),
        )
    ]
    after: datetime = year.later(recorded, f.action_after, rng)
    calls += action_calls(
        year,
        rng,
        key=f"action:{f.key}",
        raise_path=f"/v1/inspection-findings/{{{f.key}}}/actions",
        kind="audit.inspection.action",
        after=after,
        team=None if f.team else f.action_team,
        owner=team_manager(f.action_team),
        summary=f.action_summary,
        due_in_days=(40, 60),
        completed=True,
        on_time=True,
    )
    return Story(f"{year.prefix}-{f.key}", in_order(calls))
