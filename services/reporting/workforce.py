"""The workforce's per-worker rules (DOMAIN.md "Workforce" and its precise reading): which
record of a worker is in post when, which `StaffLeft` ends a spell, and the
`workforce-review` follow-up rule. Pure: no I/O.

A worker's `StaffJoined` and `StaffLeft` facts, read in the order of their own timestamps
(at the same instant a join before a leave, then by sequence and event id), make their
records:

* a `StaffJoined` while the worker is not in post starts a spell with that record;
* a `StaffJoined` while the worker is in post changes the record from its date (an agency
  worker converting to employed, a move of team, a change of FTE): the earlier record ends
  that day, and it is not a leaver;
* a `StaffLeft` while in post ends the spell on its date: the record in post is the ended
  record (its team, contract and FTE are the leaver's). A `StaffLeft` while not in post
  (before any join, or a second one) ends nothing and counts nowhere.

A record is in post at the end of day D when it started on or before D and did not end on
or before D (``joined_on <= D < until``): a leaver on 30 September is not in post at the end
of 30 September, and leaves in the period that holds that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.calendar import Period, period_of
from shared.events import SOCIAL_WORKER_ROLES
from shared.tenant_config.model import FollowUpRules as FollowUpRuleSettings

from .facts import ActionRaisedFact, StaffJoinedFact, StaffLeftFact
from .followups import FollowUp, unique

__all__ = [
    "SOCIAL_WORKER_ROLES",
    "StaffTimeline",
    "TeamQuarter",
    "WorkforceReviewRules",
    "staff_timeline",
    "workforce_review_followups",
]


@dataclass
class StaffTimeline:
    """Per StaffJoined key, the day its record stops being in post (None: still in post);
    per StaffLeft key that ended a spell, the record it ended."""

    until: dict[str, date | None] = field(default_factory=dict)
    ended: dict[str, StaffJoinedFact] = field(default_factory=dict)


def staff_timeline(joins: Iterable[StaffJoinedFact], leaves: Iterable[StaffLeftFact]) -> StaffTimeline:
    """The records of the workers whose facts are given (pass every fact of each worker)."""
    items: list[tuple[tuple[object, ...], StaffJoinedFact | StaffLeftFact]] = []
    for j in unique(joins):
        items.append(((j.worker_id, j.joined_at, 0, j.sequence, j.event_id), j))
    for x in unique(leaves):
        items.append(((x.worker_id, x.left_at, 1, x.sequence, x.event_id), x))
    items.sort(key=lambda kv: kv[0])
    out = StaffTimeline()
    current: dict[str, StaffJoinedFact] = {}
    for _, fact in items:
        worker = fact.worker_id
        in_post = current.get(worker)
        if isinstance(fact, StaffJoinedFact):
            if in_post is not None:
                out.until[in_post.key] = fact.joined_on
            current[worker] = fact
            out.until[fact.key] = None
        elif in_post is not None:
            out.until[in_post.key] = fact.left_on
            out.ended[fact.key] = in_post
            del current[worker]
    return out


def in_post(fact: StaffJoinedFact, until: date | None, day: date) -> bool:
    """The record is in post at the end of ``day``."""
    return fact.joined_on <= day and (until is None or until > day)


# --------------------------------------------------------------------------- workforce-review


@dataclass(frozen=True)
class WorkforceReviewRules:
    """Targets of the `workforce-review` follow-up (configuration): a team's quarterly
    turnover rate above ``turnover_target`` in two consecutive quarters, or its average
    caseload at a quarter's end above ``caseload_target``, opens one. None: that half of
    the rule is off. ``team_targets`` overrides either per team:
    ``{"team": {"turnover": 0.05, "caseload": 18}}``."""

    turnover_target: float | None = 0.05
    caseload_target: float | None = 20.0
    team_targets: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: FollowUpRuleSettings) -> WorkforceReviewRules:
        """The thresholds an authority configured (shared/tenant_config, bounded there)."""
        return cls(
            turnover_target=settings.workforce_turnover_target,
            caseload_target=settings.workforce_caseload_target,
            team_targets={team: t.model_dump(exclude_none=True) for team, t in settings.workforce_team_targets.items()},
        )

    def turnover(self, team: str) -> float | None:
        return self.team_targets.get(team, {}).get("turnover", self.turnover_target)

    def caseload(self, team: str) -> float | None:
        return self.team_targets.get(team, {}).get("caseload", self.caseload_target)


@dataclass(frozen=True)
class TeamQuarter:
    """One team's workforce figures for one financial quarter (None: no denominator)."""

    team: str
    service_area: str | None
    quarter: Period
    turnover: float | None
    average_caseload: float | None


def _breaches(q: TeamQuarter, previous: TeamQuarter | None, rules: WorkforceReviewRules) -> list[str]:
    """Why this quarter opens a review: ``turnover`` (over target this quarter and the one
    before) and/or ``caseload`` (over target at this quarter's end)."""
    reasons = []
    target = rules.turnover(q.team)
    if (
        target is not None
        and previous is not None
        and q.turnover is not None
        and previous.turnover is not None
        and q.turnover > target
        and previous.turnover > target
    ):
        reasons.append("turnover")
    target = rules.caseload(q.team)
    if target is not None and q.average_caseload is not None and q.average_caseload > target:
        reasons.append("caseload")
    return reasons


def workforce_review_followups(
    quarters: Iterable[TeamQuarter], actions: Iterable[ActionRaisedFact], rules: WorkforceReviewRules
) -> list[FollowUp]:
    """workforce-review: per team and financial quarter whose figures breach a target (see
    `_breaches`; the quarter before must be given for the turnover half). Opened the day after
    the quarter ends, due the last day of the next quarter; closed by the first ActionRaised
    (by (date, event_id)) for that team with origin `workforce`, raised on or after the
    opening. Origin id ``<team>:<quarter>``; service area: the team's at the quarter's end."""
    by_key = {(q.team, q.quarter.label): q for q in quarters}
    raised = sorted((a for a in unique(actions) if a.origin == "workforce"), key=lambda a: (a.raised_on, a.event_id))
    out = []
    for (team, _), q in sorted(by_key.items()):
        previous = by_key.get((team, q.quarter.previous().label))
        if not _breaches(q, previous, rules):
            continue
        opened = q.quarter.end + timedelta(days=1)
        done = next((a for a in raised if a.team == team and a.raised_on >= opened), None)
        origin_id = f"{team}:{q.quarter.label}"
        out.append(
            FollowUp(
                followup_id=f"workforce-review:{origin_id}",
                rule="workforce-review",
                origin="workforce",
                origin_id=origin_id,
                team=team,
                service_area=q.service_area,
                opened_on=opened,
                due_date=q.quarter.next().end,
                closed_on=done.raised_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def quarter_of(day: date) -> Period:
    return period_of(day, "quarter")
