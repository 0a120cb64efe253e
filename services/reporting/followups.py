"""Closing the learning loop: the follow-ups that the facts call for (DOMAIN.md).

`derive` is a pure function of the fact set. Any order of the facts and any number of copies
of the same fact (same ``key``: source + id) give the same follow-ups, because every input
is first deduplicated by key and then always read in a fixed order, and every "first" or
"latest" choice below has a total order ending in the ``event_id``.

Rules (defaults in `FollowUpRules`; DOMAIN.md "Closing the learning loop" and "Precise
readings"):

========================  ==============================  ===============================
rule                      opened                          closed by
========================  ==============================  ===============================
complaint-learning        first upheld/partially upheld   first ActionCompleted on or after
                          closing; due +20 working days   it, of an action whose origin_id
                                                          is the complaint
re-audit                  audit whose moderated grade is  next AuditGraded of the same
                          RI/inadequate; due +3 months    case_ref (records `improved`)
                          (+1 if inadequate)
concern-targeted-audit    ConcernRaised; due review_by    first ConcernResolved
feedback-response         quarter's positive rate < 60%   first matching YouSaidWeDid on or
                          with >= 5 answers; opened the   after opening
                          day after the quarter, due end
                          of the next quarter
action                    ActionRaised; due its due_date  first ActionCompleted
safeguarding-alert        response with a negative        first ActionCompleted on or after
                          safeguarding answer; due +1     receipt, of an action whose
                          working day                     origin_id is the response
concern-rework            the concern's first             first ConcernRaised on or after
                          not_effective resolution;       it whose supersedes is the
                          due +20 working days            concern
inspection-finding        InspectionFindingRecorded;      first ActionRaised on or after
                          due +20 working days            it, origin inspection and
                                                          origin_id the finding
========================  ==============================  ===============================

"First" evidence is always the first by (London date, timestamp, event_id).

This module also holds the canonical views of the facts that KPIs and follow-ups share
(`unique`, `graded_audits`, `first_received`, `first_raised`, `action_completions`), so
that both read audits, complaints and actions in exactly the same way.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar

from shared.calendar import Period, WorkingCalendar, add_months, period_of
from shared.events import ConcernOutcome, Grade, LearningOrigin, Outcome
from shared.tenant_config.model import WORKFORCE_REVIEW
from shared.tenant_config.model import FollowUpRules as FollowUpRuleSettings

from .facts import (
    ActionCompletedFact,
    ActionRaisedFact,
    AuditGradedFact,
    AuditScheduledFact,
    ComplaintReceivedFact,
    ConcernRaisedFact,
    ConcernResolvedFact,
    Facts,
    FeedbackFact,
    ReferralFact,
    YouSaidWeDidFact,
)

__all__ = [
    "FollowUp",
    "FollowUpRules",
    "GradedAudit",
    "action_completions",
    "counted_resolutions",
    "derive",
    "first_raised",
    "first_raised_concerns",
    "first_received",
    "graded_audits",
    "latest_schedules",
    "re_referrals",
    "rules_of",
    "unique",
]


# --------------------------------------------------------------------------- canonical views


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def unique(items: Iterable[K]) -> list[K]:
    """``items`` without duplicates (same ``key``), sorted by key.

    Duplicates are copies of one event, so they are equal; should two facts ever share a key
    but differ, the one with the smallest ``repr`` is kept, so the choice never depends on
    the order of the input.
    """
    chosen: dict[str, K] = {}
    for item in items:
        old = chosen.get(item.key)
        if old is None or (old != item and repr(item) < repr(old)):
            chosen[item.key] = item
    return [chosen[k] for k in sorted(chosen)]


@dataclass(frozen=True)
class GradedAudit:
    """One audit as reporting counts it: its latest grading and its effective grade."""

    fact: AuditGradedFact
    grade: Grade  # the overall grade after the latest moderation, else the graded one


def graded_audits(facts: Facts) -> dict[str, GradedAudit]:
    """Every audit once, by audit_id, with its effective (moderated) grade.

    * An audit graded more than once is represented by its latest ``AuditGraded``, latest
      by (sequence, completed_at, event_id); it is counted once, on that completion date.
    * Its grade is ``overall_grade_after`` of the latest ``AuditModerated`` for the audit
      (latest by (moderated_at, sequence, event_id)), whenever that moderation happened,
      else ``overall_grade``. Moderation never moves the audit's period.
    * A moderation of an audit that was never graded is ignored.
    """
    latest: dict[str, AuditGradedFact] = {}
    for a in unique(facts.audits_graded):
        old = latest.get(a.audit_id)
        if old is None or (a.sequence, a.completed_at, a.event_id) > (
            old.sequence,
            old.completed_at,
            old.event_id,
        ):
            latest[a.audit_id] = a
    moderated: dict[str, tuple[tuple[datetime, int, str], str]] = {}
    for m in unique(facts.audits_moderated):
        order = (m.moderated_at, m.sequence, m.event_id)
        old_m = moderated.get(m.audit_id)
        if old_m is None or order > old_m[0]:
            moderated[m.audit_id] = (order, m.grade_after)
    out: dict[str, GradedAudit] = {}
    for audit_id, a in latest.items():
        grade = moderated[audit_id][1] if audit_id in moderated else a.overall_grade
        out[audit_id] = GradedAudit(a, Grade(grade))
    return out


def first_received(facts: Facts) -> dict[str, ComplaintReceivedFact]:
    """Each complaint's ``ComplaintReceived`` by complaint_id.

    Should a complaint be received twice under different event ids, the earliest by
    (received date, event_id) describes it (procedure, stage, team, service area).
    """
    out: dict[str, ComplaintReceivedFact] = {}
    for r in sorted(unique(facts.complaints_received), key=lambda r: (r.received_on, r.event_id)):
        out.setdefault(r.complaint_id, r)
    return out


def first_raised(facts: Facts) -> dict[str, ActionRaisedFact]:
    """Each action's ``ActionRaised`` by action_id (the earliest by (raised date, event_id))."""
    out: dict[str, ActionRaisedFact] = {}
    for a in sorted(unique(facts.actions_raised), key=lambda a: (a.raised_on, a.event_id)):
        out.setdefault(a.action_id, a)
    return out


def action_completions(facts: Facts) -> dict[str, list[ActionCompletedFact]]:
    """Every completion of each action, by action_id, first first (date, timestamp, id)."""
    out: dict[str, list[ActionCompletedFact]] = defaultdict(list)
    for c in sorted(unique(facts.actions_completed), key=lambda c: (c.completed_on, c.completed_at, c.event_id)):
        out[c.action_id].append(c)
    return dict(out)


def latest_schedules(schedules: Iterable[AuditScheduledFact]) -> dict[str, AuditScheduledFact]:
    """Each audit's schedule by audit_id: its ``AuditScheduled`` with the highest envelope
    sequence (DOMAIN.md "Audits on time"), ties by (envelope time, event_id), so that a
    rescheduled audit is timed against its last due date whatever order they arrive in."""
    out: dict[str, AuditScheduledFact] = {}
    for s in unique(schedules):
        old = out.get(s.audit_id)
        if old is None or (s.sequence, s.time, s.event_id) > (old.sequence, old.time, old.event_id):
            out[s.audit_id] = s
    return out


def first_raised_concerns(raised: Iterable[ConcernRaisedFact]) -> dict[str, ConcernRaisedFact]:
    """Each concern's ``ConcernRaised`` by concern_id (a concern raised twice: the earliest by
    (raised date, event_id) describes it)."""
    out: dict[str, ConcernRaisedFact] = {}
    for c in sorted(unique(raised), key=lambda c: (c.raised_on, c.event_id)):
        out.setdefault(c.concern_id, c)
    return out


def counted_resolutions(resolved: Iterable[ConcernResolvedFact]) -> dict[str, ConcernResolvedFact]:
    """The resolution of each concern that the effectiveness KPI and the concern-rework rule
    read, by concern_id: of the concern's resolutions that carry an ``outcome``, the first by
    (London date, resolved_at, event_id). A concern is counted once, in the period of that
    resolution's date; resolutions without an outcome (older producers) are in neither part."""
    out: dict[str, ConcernResolvedFact] = {}
    for r in sorted(unique(resolved), key=lambda r: (r.resolved_on, r.resolved_at, r.event_id)):
        if r.outcome is not None:
            out.setdefault(r.concern_id, r)
    return out


def re_referrals(referrals: Iterable[ReferralFact]) -> set[str]:
    """Keys of the referrals that are re-referrals: the same ``child_ref`` had an earlier
    referral (any team or service area) on a date d with d < this referral's date <=
    add_months(d, 12). A referral on the same day as another is not a re-referral of it.
    Pass every referral of each child concerned."""
    all_referrals = unique(referrals)
    dates_by_child: dict[str, list[date]] = defaultdict(list)
    for r in all_referrals:
        dates_by_child[r.child_ref].append(r.received_on)
    for ds in dates_by_child.values():
        ds.sort()

    def is_re_referral(child_ref: str, on: date) -> bool:
        # The latest earlier date gives the latest 12-month window (add_months is monotone).
        ds = dates_by_child[child_ref]
        i = bisect.bisect_left(ds, on)
        return i > 0 and on <= add_months(ds[i - 1], 12)

    return {r.key for r in all_referrals if is_re_referral(r.child_ref, r.received_on)}


# --------------------------------------------------------------------------- follow-ups


@dataclass(frozen=True)
class FollowUpRules:
    """The follow-up rules' parameters: DOMAIN.md's defaults, or each authority's settings
    (`shared.tenant_config.model.FollowUpRules`, where they are bounded: `rules_of`)."""

    complaint_learning_working_days: int = 20
    reaudit_months: int = 3
    reaudit_inadequate_months: int = 1
    feedback_positive_threshold: float = 0.60  # opened when the positive rate is below this
    feedback_min_answers: int = 5  # ... with at least this many answers
    safeguarding_working_days: int = 1
    concern_rework_working_days: int = 20
    inspection_finding_working_days: int = 20


DEFAULT_RULES = FollowUpRules()


def rules_of(settings: FollowUpRuleSettings) -> FollowUpRules:
    """The rules' parameters an authority configured (shared/tenant_config: the same fields,
    bounded there)."""
    return FollowUpRules(**settings.model_dump(exclude=set(WORKFORCE_REVIEW)))


@dataclass(frozen=True)
class FollowUp:
    """One follow-up: what opened it, when it is due and what (if anything) closed it.

    ``improved`` is only set by the re-audit rule, once a later audit of the case exists:
    True when the later audit's effective grade is better than this audit's.
    """

    followup_id: str
    rule: str
    origin: str
    origin_id: str
    team: str | None
    service_area: str | None
    opened_on: date
    due_date: date
    closed_on: date | None = None
    closed_by_event_id: str | None = None
    improved: bool | None = None

    @property
    def on_time(self) -> bool | None:
        """Closed on or before its due date; None while it is open."""
        if self.closed_on is None:
            return None
        return self.closed_on <= self.due_date

    def status(self, at: date) -> str:
        """The state at the end of day ``at``.

        ``not_yet_open`` before ``opened_on``; ``closed`` once closed (closed_on <= at);
        otherwise ``overdue`` when the due date is before ``at``, else ``open``.
        """
        if self.opened_on > at:
            return "not_yet_open"
        if self.closed_on is not None and self.closed_on <= at:
            return "closed"
        if self.due_date < at:
            return "overdue"
        return "open"

    def is_open(self, at: date) -> bool:
        """Open (overdue included) at the end of day ``at``."""
        return self.status(at) in ("open", "overdue")


def derive(facts: Facts, *, calendar: WorkingCalendar, rules: FollowUpRules = DEFAULT_RULES) -> list[FollowUp]:
    """Every follow-up the facts call for, sorted by (opened_on, followup_id).

    Ids are deterministic: ``"<rule>:<origin_id>"``.
    """
    raised = first_raised(facts)
    completions = action_completions(facts)
    out = [
        *_complaint_learning(facts, calendar, rules, raised, completions),
        *_re_audit(facts, rules),
        *_concern_targeted_audit(facts),
        *feedback_response_followups(feedback_tallies(facts.feedback), facts.you_said_we_did, rules),
        *_action(raised, completions),
        *_safeguarding_alert(facts, calendar, rules, raised, completions),
        *_concern_rework(facts, calendar, rules),
        *_inspection_finding(facts, calendar, rules),
    ]
    return sorted(out, key=lambda f: (f.opened_on, f.followup_id))


def _first_completion_for_origin(
    origin_id: str,
    by_origin: dict[str, list[str]],
    completions: dict[str, list[ActionCompletedFact]],
    on_or_after: date,
) -> ActionCompletedFact | None:
    """The first completion (by (date, completed_at, event_id)) dated on or after
    ``on_or_after`` of any action raised with this ``origin_id``. Every completion of such an
    action is evidence, not only the action's first."""
    candidates = [
        c
        for action_id in by_origin.get(origin_id, ())
        for c in completions.get(action_id, ())
        if c.completed_on >= on_or_after
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.completed_on, c.completed_at, c.event_id))


def _actions_by_origin(raised: dict[str, ActionRaisedFact]) -> dict[str, list[str]]:
    """action_ids by their ActionRaised's origin_id (whatever the origin kind)."""
    out: dict[str, list[str]] = defaultdict(list)
    for action_id, a in raised.items():
        out[a.origin_id].append(action_id)
    return dict(out)


def _complaint_learning(
    facts: Facts,
    calendar: WorkingCalendar,
    rules: FollowUpRules,
    raised: dict[str, ActionRaisedFact],
    completions: dict[str, list[ActionCompletedFact]],
) -> list[FollowUp]:
    """complaint-learning: one per complaint, opened by its first upheld or partially upheld
    closing (first by (closed date, closed_at, event_id)), on that closing's date; due the
    20th working day after it; closed by the first ActionCompleted dated on or after the
    opening date of an action whose ``origin_id`` is the complaint (the action's ``origin``
    is not checked). Team and service area come from the ComplaintReceived (None if unknown).
    """
    received = first_received(facts)
    by_origin = _actions_by_origin(raised)
    first: dict[str, tuple[date, datetime, str]] = {}
    for c in unique(facts.complaints_closed):
        if c.outcome not in (Outcome.UPHELD.value, Outcome.PARTIALLY_UPHELD.value):
            continue
        order = (c.closed_on, c.closed_at, c.event_id)
        if c.complaint_id not in first or order < first[c.complaint_id]:
            first[c.complaint_id] = order
    out = []
    for complaint_id, (opened, _, _) in first.items():
        r = received.get(complaint_id)
        done = _first_completion_for_origin(complaint_id, by_origin, completions, opened)
        out.append(
            FollowUp(
                followup_id=f"complaint-learning:{complaint_id}",
                rule="complaint-learning",
                origin="complaint",
                origin_id=complaint_id,
                team=r.team if r else None,
                service_area=r.service_area if r else None,
                opened_on=opened,
                due_date=calendar.add_working_days(opened, rules.complaint_learning_working_days),
                closed_on=done.completed_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def _re_audit(facts: Facts, rules: FollowUpRules) -> list[FollowUp]:
    """re-audit: one per audit (graded once, see `graded_audits`) whose effective grade is
    requires improvement or inadequate; opened on its completion date; due 3 calendar months
    later (1 if inadequate; clamped to the month's end). Closed by the next audit of the same
    case_ref: the other audit with the earliest ``completed_at`` strictly later than this
    one's (ties by event_id); closed_on is that audit's completion date, and ``improved``
    whether its effective grade is better than this audit's effective grade.
    """
    audits = graded_audits(facts)
    by_case: dict[str, list[GradedAudit]] = defaultdict(list)
    for g in audits.values():
        by_case[g.fact.case_ref].append(g)
    for group in by_case.values():
        group.sort(key=lambda g: (g.fact.completed_at, g.fact.event_id))
    out = []
    for g in audits.values():
        if g.grade not in (Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE):
            continue
        a = g.fact
        months = rules.reaudit_inadequate_months if g.grade is Grade.INADEQUATE else rules.reaudit_months
        nxt = next(
            (o for o in by_case[a.case_ref] if o.fact.audit_id != a.audit_id and o.fact.completed_at > a.completed_at),
            None,
        )
        out.append(
            FollowUp(
                followup_id=f"re-audit:{a.audit_id}",
                rule="re-audit",
                origin="audit",
                origin_id=a.audit_id,
                team=a.team,
                service_area=a.service_area,
                opened_on=a.completed_on,
                due_date=add_months(a.completed_on, months),
                closed_on=nxt.fact.completed_on if nxt else None,
                closed_by_event_id=nxt.fact.event_id if nxt else None,
                improved=(nxt.grade.rank < g.grade.rank) if nxt else None,
            )
        )
    return out


def _concern_targeted_audit(facts: Facts) -> list[FollowUp]:
    """concern-targeted-audit: one per concern (a concern raised twice: the earliest
    ConcernRaised by (date, event_id)); opened on its raised date, due its review_by date;
    closed by the first ConcernResolved of the concern (by (date, resolved_at, event_id)),
    whatever its date. Service area from the concern, no team."""
    concerns = first_raised_concerns(facts.concerns_raised)
    resolved: dict[str, tuple[date, datetime, str]] = {}
    for r in unique(facts.concerns_resolved):
        order = (r.resolved_on, r.resolved_at, r.event_id)
        if r.concern_id not in resolved or order < resolved[r.concern_id]:
            resolved[r.concern_id] = order
    out = []
    for c in concerns.values():
        done = resolved.get(c.concern_id)
        out.append(
            FollowUp(
                followup_id=f"concern-targeted-audit:{c.concern_id}",
                rule="concern-targeted-audit",
                origin="concern",
                origin_id=c.concern_id,
                team=None,
                service_area=c.service_area,
                opened_on=c.raised_on,
                due_date=c.review_by,
                closed_on=done[0] if done else None,
                closed_by_event_id=done[2] if done else None,
            )
        )
    return out


Tally = tuple[int, int]  # (positive answers, answers with a value)
TallyKey = tuple[str, str, Period]  # (service area, question id, financial quarter)


def feedback_tallies(feedback: Iterable[FeedbackFact]) -> dict[TallyKey, Tally]:
    """Positive answers and answers with a value (skipped ones do not count) per service
    area, question and financial quarter of receipt, over every response (all teams)."""
    tallies: dict[TallyKey, list[int]] = defaultdict(lambda: [0, 0])
    for f in unique(feedback):
        q = period_of(f.received_on, "quarter")
        for ans in f.answers:
            if ans.positive is None:
                continue
            t = tallies[(f.service_area, ans.question_id, q)]
            t[0] += 1 if ans.positive else 0
            t[1] += 1
    return {k: (t[0], t[1]) for k, t in tallies.items()}


def feedback_response_followups(
    tallies: Mapping[TallyKey, Tally], you_said_we_did: Iterable[YouSaidWeDidFact], rules: FollowUpRules = DEFAULT_RULES
) -> list[FollowUp]:
    """feedback-response: per service area, question and financial quarter (see
    `feedback_tallies`). Opened when answers >= 5 and positive / answers < 0.60, on the day
    after the quarter ends (so a quarter still under way gives a follow-up that is not yet
    open); due the last day of the next quarter; closed by the first YouSaidWeDidPublished
    (by (date, published_at, event_id)) of the same service area whose theme is the question
    id, published on or after the opening date. No team. Pass every You-said-we-did item of
    the service areas and themes concerned.
    """
    ysd = sorted(unique(you_said_we_did), key=lambda y: (y.published_on, y.published_at, y.event_id))
    out = []
    for (area, question, q), (positive, answers) in sorted(
        tallies.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].label)
    ):
        if answers < rules.feedback_min_answers:
            continue
        if not positive / answers < rules.feedback_positive_threshold:
            continue
        opened = q.end + timedelta(days=1)
        done = next(
            (y for y in ysd if y.service_area == area and y.theme == question and y.published_on >= opened),
            None,
        )
        origin_id = f"{area}:{question}:{q.label}"
        out.append(
            FollowUp(
                followup_id=f"feedback-response:{origin_id}",
                rule="feedback-response",
                origin="feedback",
                origin_id=origin_id,
                team=None,
                service_area=area,
                opened_on=opened,
                due_date=q.next().end,
                closed_on=done.published_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def _action(raised: dict[str, ActionRaisedFact], completions: dict[str, list[ActionCompletedFact]]) -> list[FollowUp]:
    """action: one per action (see `first_raised`); origin the action's origin, origin_id
    the action_id; opened on its raised date, due its due_date; closed by the action's first
    ActionCompleted (by (date, completed_at, event_id)), whatever its date."""
    out = []
    for action_id, a in raised.items():
        done = completions.get(action_id, [None])[0]
        out.append(
            FollowUp(
                followup_id=f"action:{action_id}",
                rule="action",
                origin=a.origin,
                origin_id=action_id,
                team=a.team,
                service_area=a.service_area,
                opened_on=a.raised_on,
                due_date=a.due_date,
                closed_on=done.completed_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def _safeguarding_alert(
    facts: Facts,
    calendar: WorkingCalendar,
    rules: FollowUpRules,
    raised: dict[str, ActionRaisedFact],
    completions: dict[str, list[ActionCompletedFact]],
) -> list[FollowUp]:
    """safeguarding-alert: one per response (a response_id received twice: the earliest
    FeedbackReceived by (date, received_at, event_id)) with at least one safeguarding
    question answered negatively (`no`, 1 or 2); opened on the receipt date, due the next
    working day after it; closed by the first ActionCompleted dated on or after the receipt
    date of an action whose ``origin_id`` is the response_id. Team and service area from the
    response (team may be None).
    """
    by_origin = _actions_by_origin(raised)
    seen: set[str] = set()
    out = []
    for f in sorted(unique(facts.feedback), key=lambda f: (f.received_on, f.received_at, f.event_id)):
        if f.response_id in seen:
            continue
        seen.add(f.response_id)
        if not any(a.safeguarding_negative for a in f.answers):
            continue
        done = _first_completion_for_origin(f.response_id, by_origin, completions, f.received_on)
        out.append(
            FollowUp(
                followup_id=f"safeguarding-alert:{f.response_id}",
                rule="safeguarding-alert",
                origin="feedback",
                origin_id=f.response_id,
                team=f.team,
                service_area=f.service_area,
                opened_on=f.received_on,
                due_date=calendar.add_working_days(f.received_on, rules.safeguarding_working_days),
                closed_on=done.completed_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def _concern_rework(facts: Facts, calendar: WorkingCalendar, rules: FollowUpRules) -> list[FollowUp]:
    """concern-rework: one per concern with a ``not_effective`` resolution, opened by the
    first of them (by (date, resolved_at, event_id)) on its date — whatever other outcomes
    the concern's other resolutions carry — and due the 20th working day after it; closed by
    the first ConcernRaised (by (date, event_id)) whose ``supersedes`` is the concern,
    raised on or after the opening (one raised before it does not close it). No team
    (concerns have none); service area from the concern's ConcernRaised (None if unknown).
    Pass every ConcernRaised of the concerns and of those superseding them."""
    concerns = first_raised_concerns(facts.concerns_raised)
    reworks = sorted(
        (c for c in unique(facts.concerns_raised) if c.supersedes),
        key=lambda c: (c.raised_on, c.event_id),
    )
    first_failed: dict[str, ConcernResolvedFact] = {}
    for r in sorted(unique(facts.concerns_resolved), key=lambda r: (r.resolved_on, r.resolved_at, r.event_id)):
        if r.outcome == ConcernOutcome.NOT_EFFECTIVE.value:
            first_failed.setdefault(r.concern_id, r)
    out = []
    for concern_id, r in first_failed.items():
        opened = r.resolved_on
        done = next((c for c in reworks if c.supersedes == concern_id and c.raised_on >= opened), None)
        concern = concerns.get(concern_id)
        out.append(
            FollowUp(
                followup_id=f"concern-rework:{concern_id}",
                rule="concern-rework",
                origin="concern",
                origin_id=concern_id,
                team=None,
                service_area=concern.service_area if concern else None,
                opened_on=opened,
                due_date=calendar.add_working_days(opened, rules.concern_rework_working_days),
                closed_on=done.raised_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out


def _inspection_finding(facts: Facts, calendar: WorkingCalendar, rules: FollowUpRules) -> list[FollowUp]:
    """inspection-finding: one per finding (recorded twice: the earliest by (date,
    recorded_at, event_id)); opened on its recorded date, due the 20th working day after it;
    closed by the first ActionRaised (by (date, event_id)) with origin ``inspection`` and
    origin_id the finding, raised on or after the opening. Team and service area from the
    finding (team may be None). Pass every ActionRaised of the actions raised on the findings."""
    actions = sorted(
        (a for a in unique(facts.actions_raised) if a.origin == LearningOrigin.INSPECTION.value),
        key=lambda a: (a.raised_on, a.event_id),
    )
    seen: set[str] = set()
    out = []
    for x in sorted(unique(facts.inspection_findings), key=lambda x: (x.recorded_on, x.recorded_at, x.event_id)):
        if x.finding_id in seen:
            continue
        seen.add(x.finding_id)
        done = next((a for a in actions if a.origin_id == x.finding_id and a.raised_on >= x.recorded_on), None)
        out.append(
            FollowUp(
                followup_id=f"inspection-finding:{x.finding_id}",
                rule="inspection-finding",
                origin="inspection",
                origin_id=x.finding_id,
                team=x.team,
                service_area=x.service_area,
                opened_on=x.recorded_on,
                due_date=calendar.add_working_days(x.recorded_on, rules.inspection_finding_working_days),
                closed_on=done.raised_on if done else None,
                closed_by_event_id=done.event_id if done else None,
            )
        )
    return out
