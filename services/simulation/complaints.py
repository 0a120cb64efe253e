"""Complaints through the complaints service's API: received, acknowledged, sometimes
extended, answered point by point (the outcome rolls up), some withdrawn, some escalated to
stage 2 (a few of them after the 20-working-day window; each with an agreed statement of
complaint) and, rarely, to a stage-3 review panel (the panel's date recorded,
now and then reconvened); upheld ones lead to learning and an action. A few complainants
take their complaint to the Ombudsman, whose decision (fault, no fault, not investigated)
follows some months later.

The 2026-12 steps (statements, panels, late requests, the Ombudsman) draw on a random
stream of their own per complaint, so that every other step of a seed's year is as before.

Communication is the largest category and clusters in the two largest teams (through-care
and safeguarding), with a low upheld rate — as the panel heard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.simulation.authority import COMPLAINTS_OFFICERS, COUNTY, LARGEST_TEAMS, AnnualVolumes, team_manager
from services.simulation.plan import Call, SimulatedYear, Story, in_order, team_in, weighted
from shared.calendar import london_date

COMPLAINT_AREAS = {
    "childrens_social_care": 0.62,
    "send": 0.2,
    "fostering": 0.06,
    "early_help": 0.06,
    "youth_justice": 0.06,
}
PROCEDURE = {
    "childrens_social_care": "statutory_children",
    "fostering": "statutory_children",
    "send": "send",
    "early_help": "corporate",
    "youth_justice": "corporate",
}
CATEGORIES_LARGEST_TEAMS = {
    "communication": 0.55,
    "delay": 0.1,
    "quality_of_service": 0.14,
    "staff_conduct": 0.09,
    "decision": 0.12,
}
CATEGORIES_OTHER_TEAMS = {
    "communication": 0.15,
    "delay": 0.27,
    "quality_of_service": 0.26,
    "staff_conduct": 0.1,
    "decision": 0.22,
}
COMPLAINANTS_STATUTORY = {
    "parent_carer": 0.52,
    "young_person": 0.15,
    "child": 0.07,
    "advocate": 0.14,
    "foster_carer": 0.05,
    "other": 0.07,
}
COMPLAINANTS_OTHER = {"parent_carer": 0.75, "young_person": 0.1, "advocate": 0.05, "other": 0.1}
POINT_UPHELD = {"communication": 0.15}
POINT_UPHELD_OTHERWISE = 0.35
POINT_UPHELD_STAGE_2 = 0.25
WITHDRAWN = 0.05
EXTENDED_STAGE_1 = 0.12
EXTENDED_STAGE_2 = 0.15
ON_TIME_STAGE_1 = 0.78
ON_TIME_EXTENDED = 0.85
ON_TIME_STAGE_2 = 0.7
ESCALATED = {"upheld": 0.06, "partially_upheld": 0.12, "not_upheld": 0.16}
TO_STAGE_3 = 0.12  # of stage-2 responses, statutory complaints only
STAGE_2_DUE = {"statutory_children": 25, "send": 20, "corporate": 20}
LATE_REQUEST = 0.12  # of stage-2 requests: more than 20 working days after the response
PANEL_IN_TIME = 0.85  # panels held within 30 working days of the stage-3 request
PANEL_RECONVENED = 0.15
STAGE_3_ON_TIME = 0.8  # responses within 20 working days of the (latest) panel
OMBUDSMAN = {1: 0.02, 2: 0.15, 3: 0.4}  # referrals after a final response (not upheld) at that stage
OMBUDSMAN_FINDINGS = {"fault": 0.45, "no_fault": 0.3, "not_investigated": 0.25}
ACTION_COMPLETED = 0.9
ACTION_ON_TIME = 0.8
EXTENSION_REASONS = ("complex", "awaiting_information", "complainant_agreed", "investigator_availability")
POINTS = {
    "communication": ("Calls were not returned", "Not told about a change of social worker", "Letters were unclear"),
    "delay": ("The assessment took too long", "The review meeting was postponed twice"),
    "quality_of_service": ("The plan was not followed", "Support promised was not arranged"),
    "staff_conduct": ("The worker was dismissive in a meeting",),
    "decision": ("Disagrees with the decision on contact arrangements", "Disagrees with the level of support"),
}


def plan_complaints(year: SimulatedYear, volumes: AnnualVolumes = COUNTY) -> list[Story]:
    rng = year.rng("complaints")
    received = []
    for month, count in zip(year.months, year.per_month(volumes.complaints), strict=True):
        days = year.working_days(month)
        received += [year.at(rng.choice(days), rng) for _ in range(count)]
    received.sort()
    areas = [weighted(rng, COMPLAINT_AREAS) for _ in received]
    teams = [team_in(area, rng) for area in areas]
    categories = _categories(rng, teams)
    stories = []
    for serial, (when, area, team, category) in enumerate(zip(received, areas, teams, categories, strict=True), 1):
        calls = _complaint(year, rng, f"{year.prefix}-complaint-{serial:04d}", when, area, team, category)
        stories.append(Story(calls[0].body["complaint_id"], tuple(calls)))
    return stories


def _categories(rng: random.Random, teams: list[str]) -> list[str]:
    """Categories dealt from shuffled packs with the mixes above, one pack for the two
    largest teams and one for the rest, so that every year (whatever the seed) shows the
    pattern the panel heard about."""
    packs = {}
    for largest, mix in ((True, CATEGORIES_LARGEST_TEAMS), (False, CATEGORIES_OTHER_TEAMS)):
        n = sum(1 for t in teams if (t in LARGEST_TEAMS) == largest)
        pack: list[str] = []
        running = 0.0
        for category, share in mix.items():
            running += share * n
            pack += [category] * (round(running) - len(pack))
        rng.shuffle(pack)
        packs[largest] = iter(pack)
    return [next(packs[t in LARGEST_TEAMS]) for t in teams]


@dataclass
class _Complaint:
    """One complaint's calls as they are planned, each by the officer who handles it."""

    year: SimulatedYear
    rng: random.Random
    complaint_id: str
    officer: str
    calls: list[Call] = field(default_factory=list)
    # The complaint's own stream for the 2026-12 steps (the same for a seed and id).
    reviews: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.reviews = self.year.rng(f"complaint-reviews:{self.complaint_id}")

    def post(self, at: datetime, kind: str, suffix: str, payload: dict[str, object]) -> None:
        """A call on the complaint, `/v1/complaints/<id><suffix>`."""
        path = f"/v1/complaints/{self.complaint_id}{suffix}"
        self.calls.append(Call(at, f"complaints.{kind}", "complaints", "POST", path, payload, self.officer))

    @property
    def last_at(self) -> datetime:
        """When the call planned last happens (not necessarily the latest)."""
        return self.calls[-1].at

    def in_order(self) -> list[Call]:
        return list(in_order(self.calls))


def _complaint(
    year: SimulatedYear,
    rng: random.Random,
    complaint_id: str,
    received: datetime,
    area: str,
    team: str,
    category: str,
) -> list[Call]:
    """Received and acknowledged; then withdrawn, or answered at stage 1 and perhaps
    escalated to stage 2 and (statutory complaints) stage 3. A stage with an upheld point
    leads to learning and an action, once per complaint."""
    procedure = PROCEDURE[area]
    story = _Complaint(year, rng, complaint_id, rng.choice(COMPLAINTS_OFFICERS))
    body = _receipt(year, rng, complaint_id, received, area, team, category)
    story.calls.append(
        Call(received, "complaints.receive", "complaints", "POST", "/v1/complaints", body, story.officer)
    )
    acknowledged = year.later(received, rng.randint(0, 3), rng)
    story.post(acknowledged, "acknowledge", "/acknowledge", {"acknowledged_at": acknowledged})
    if rng.random() < WITHDRAWN:
        withdrawn = max(year.later(received, rng.randint(2, 8), rng), acknowledged + timedelta(minutes=5))
        story.post(withdrawn, "withdraw", "/withdraw", {"withdrawn_at": withdrawn})
        return story.in_order()
    closed, outcome = _stage_one(story, received, acknowledged, category)
    learning_done = outcome != "not_upheld"
    if learning_done:
        _learning_and_action(story, team, closed)
    # stage 2, when the complainant is not satisfied
    if rng.random() >= ESCALATED[outcome]:
        _ombudsman(story, closed, 1, outcome)
        return story.in_order()
    closed, outcome = _stage_two(story, closed, procedure, category)
    if outcome != "not_upheld" and not learning_done:
        _learning_and_action(story, team, closed)
    # stage 3: a review panel within 30 working days (statutory complaints)
    if procedure != "statutory_children" or rng.random() >= TO_STAGE_3:
        _ombudsman(story, closed, 2, outcome)
        return story.in_order()
    escalated = year.later(closed, rng.randint(5, 15), rng)
    story.post(escalated, "escalate", "/escalate", {"escalated_at": escalated})
    year.later(escalated, rng.randint(15, 30), rng)  # the draws of the old stage-3 timing: the main stream as before
    closed = _panels(story, escalated)
    _ombudsman(story, closed, 3, _respond(story, closed, category, 0.2))
    return story.in_order()


def _panels(story: _Complaint, escalated: datetime) -> datetime:
    """The review panel (mostly within 30 working days of the request; sometimes
    reconvened); the response due 20 working days after the latest panel, mostly on time.
    Returns when the response is made."""
    year, rng = story.year, story.reviews
    within = rng.random() < PANEL_IN_TIME
    held = year.later(escalated, rng.randint(10, 30) if within else rng.randint(31, 38), rng)
    story.post(held, "panel", "/hold-panel", {"held_at": held})
    if rng.random() < PANEL_RECONVENED:
        held = year.later(held, rng.randint(3, 8), rng)
        story.post(held, "panel", "/hold-panel", {"held_at": held})
    took = rng.randint(5, 20) if rng.random() < STAGE_3_ON_TIME else rng.randint(21, 28)
    return max(year.later(held, took, rng), held + timedelta(minutes=5))


def _ombudsman(story: _Complaint, answered: datetime, stage: int, outcome: str) -> None:
    """After a final response that did not uphold the complaint in full, a few complainants
    go to the Ombudsman (more after stage 3 than after stage 1); its decision follows some
    months later (cut off when it falls after the simulated year)."""
    year, rng = story.year, story.reviews
    if outcome == "upheld" or rng.random() >= OMBUDSMAN[stage]:
        return
    referred = year.later(answered, rng.randint(5, 40), rng)
    story.post(referred, "ombudsman.refer", "/refer-to-ombudsman", {"referred_at": referred})
    decided = year.later(referred, rng.randint(30, 110), rng)
    finding = weighted(rng, OMBUDSMAN_FINDINGS)
    story.post(decided, "ombudsman.decide", "/ombudsman-decision", {"decided_at": decided, "finding": finding})


def _receipt(
    year: SimulatedYear, rng: random.Random, complaint_id: str, received: datetime, area: str, team: str, category: str
) -> dict[str, object]:
    procedure = PROCEDURE[area]
    body: dict[str, object] = {
        "complaint_id": complaint_id,
        "procedure": procedure,
        "category": category,
        "team": team,
        "service_area": area,
        "complainant": weighted(
            rng, COMPLAINANTS_STATUTORY if procedure == "statutory_children" else COMPLAINANTS_OTHER
        ),
        "received_at": received,
    }
    if area in ("childrens_social_care", "fostering"):
        body["case_ref"] = f"LL{year.seed}-{rng.randint(1, 6000):06d}"
    return body


def _stage_one(story: _Complaint, received: datetime, acknowledged: datetime, category: str) -> tuple[datetime, str]:
    """Due 10 working days after receipt; an extension adds 10 (the maximum is 20).
    (closed at, outcome)."""
    year, rng = story.year, story.rng
    extended = rng.random() < EXTENDED_STAGE_1
    if extended:
        at = max(year.later(received, rng.randint(5, 9), rng), acknowledged + timedelta(minutes=5))
        story.post(
            at,
            "extend",
            "/extend",
            {"extend_by_working_days": 10, "reason": rng.choice(EXTENSION_REASONS), "extended_at": at},
        )
        on_time = rng.random() < ON_TIME_EXTENDED
        took = rng.randint(11, 20) if on_time else rng.randint(21, 26)
    else:
        on_time = rng.random() < ON_TIME_STAGE_1
        took = rng.randint(3, 10) if on_time else rng.randint(11, 20)
    closed = max(year.later(received, took, rng), story.last_at + timedelta(minutes=5))
    upheld_chance = POINT_UPHELD.get(category, POINT_UPHELD_OTHERWISE)
    return closed, _respond(story, closed, category, upheld_chance)


def _stage_two(story: _Complaint, closed: datetime, procedure: str, category: str) -> tuple[datetime, str]:
    """Escalated and acknowledged; statutory ones sometimes extended by 20 working days.
    (closed at, outcome)."""
    year, rng = story.year, story.rng
    escalated = year.later(closed, rng.randint(2, 10), rng)
    reviews = story.reviews
    if reviews.random() < LATE_REQUEST:  # accepted after the window, flagged late_request
        escalated = year.later(closed, reviews.randint(21, 35), reviews)
    story.post(escalated, "escalate", "/escalate", {"escalated_at": escalated})
    acknowledged = year.later(escalated, rng.randint(0, 2), rng)
    story.post(acknowledged, "acknowledge", "/acknowledge", {"acknowledged_at": acknowledged})
    # The statement of complaint, agreed before any extension or response (where the
    # authority starts stage 2 there, the service waits for it, whatever the procedure).
    agreed = max(year.later(escalated, reviews.randint(1, 5), reviews), acknowledged + timedelta(minutes=5))
    story.post(agreed, "agree_statement", "/agree-statement", {"agreed_at": agreed})
    due = STAGE_2_DUE[procedure]
    if procedure == "statutory_children" and rng.random() < EXTENDED_STAGE_2:
        at = max(year.later(escalated, rng.randint(15, due - 1), rng), acknowledged + timedelta(minutes=5))
        story.post(at, "extend", "/extend", {"extend_by_working_days": 20, "reason": "complex", "extended_at": at})
        due += 20
    took = rng.randint(12, due) if rng.random() < ON_TIME_STAGE_2 else rng.randint(due + 1, due + 15)
    closed = max(year.later(escalated, took, rng), story.last_at + timedelta(minutes=5))
    return closed, _respond(story, closed, category, POINT_UPHELD_STAGE_2)


def _respond(story: _Complaint, closed: datetime, category: str, upheld_chance: float) -> str:
    rng = story.rng
    n = rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]
    points = [{"upheld": rng.random() < upheld_chance, "summary": rng.choice(POINTS[category])} for _ in range(n)]
    story.post(closed, "respond", "/respond", {"closed_at": closed, "points": points})
    upheld = sum(1 for p in points if p["upheld"])
    return "upheld" if upheld == n else "not_upheld" if upheld == 0 else "partially_upheld"


def _learning_and_action(story: _Complaint, team: str, closed: datetime) -> None:
    """What the complaint taught, and an action due 20 working days after the response
    (the complaint-learning follow-up's due date); most are completed, some late."""
    year, rng = story.year, story.rng
    learning_id = f"{story.complaint_id}-learning"
    action_id = f"{story.complaint_id}-action"
    identified = year.later(closed, rng.randint(0, 2), rng)
    identified = max(identified, closed + timedelta(minutes=5))
    story.post(
        identified,
        "learning",
        "/learning",
        {
            "learning_id": learning_id,
            "summary": "Follow up conversations in writing so that families have a clear record of what was agreed.",
            "identified_at": identified,
        },
    )
    raised = max(year.later(closed, rng.randint(1, 4), rng), identified + timedelta(minutes=5))
    due = year.working_days_after(closed, 20)
    owner = team_manager(team)
    story.post(
        raised,
        "action.raise",
        "/actions",
        {
            "action_id": action_id,
            "learning_id": learning_id,
            "owner_id": owner,
            "due_date": due,
            "summary": "Team briefing on written follow-up after meetings with families",
            "raised_at": raised,
        },
    )
    if rng.random() < ACTION_COMPLETED:
        _completion(story, action_id, owner, raised, due)


def _completion(story: _Complaint, action_id: str, owner: str, raised: datetime, due: date) -> None:
    """The action's owner completes it: on time mostly, else up to 20 days after its due date."""
    year, rng = story.year, story.rng
    if rng.random() < ACTION_ON_TIME:
        span = (due - london_date(raised)).days
        day = london_date(raised) + timedelta(days=rng.randint(1, max(1, span)))
        day = min(day, due)
    else:
        day = due + timedelta(days=rng.randint(1, 20))
    completed = max(year.at(day, rng), raised + timedelta(minutes=5))
    payload: dict[str, object] = {
        "completed_at": completed,
        "evidence": "Briefing held; written follow-up now part of the team's practice.",
    }
    story.calls.append(
        Call(
            completed,
            "complaints.action.complete",
            "complaints",
            "POST",
            f"/v1/actions/{action_id}/complete",
            payload,
            owner,
        )
    )
