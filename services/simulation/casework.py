"""The case-management feed: referrals (with re-referrals), assessments, EHC plans issued and
attempts to reach a case worker, as Liquidlogic and Capita One would publish them.

* Referrals: about a fifth of social care referrals are for a child referred before within
  12 months (re-referrals), fewer in early help; the rate builds up over the year because
  the feed starts on 1 April.
* Assessments: most referrals lead to one, started within three working days; about 85%
  complete within 45 working days.
* EHC plans: most issued within 20 weeks of the request; some with an exception.
* Contact attempts: SEND case workers were hard to reach in 2022-23 Q2 (about half the
  attempts; the panel minutes), better after the communication framework.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.simulation.authority import COUNTY, SEND_SYSTEM, SOCIAL_CARE_SYSTEM, TEAMS, AnnualVolumes
from services.simulation.plan import CmsEvent, SimulatedYear, weighted
from shared.calendar import Period, london_date
from shared.events import AssessmentCompleted, CaseworkerContactAttempted, EhcpIssued, ReferralReceived

RE_REFERRAL_CHANCE = {"childrens_social_care": 0.22, "early_help": 0.12}
ASSESSED = {"childrens_social_care": 0.82, "early_help": 0.55}
ASSESSED_IN_45_DAYS = {"childrens_social_care": 0.84, "early_help": 0.9}
REFERRAL_TEAMS = {
    "childrens_social_care": {"assessment": 0.6, "safeguarding": 0.15, "family-support": 0.15, "through-care": 0.1},
    "early_help": TEAMS["early_help"],
}
EHCP_EXCEPTION = 0.07
EHCP_IN_20_WEEKS = 0.64
CONTACT_AREAS = {"childrens_social_care": 0.55, "send": 0.3, "early_help": 0.1, "fostering": 0.05}
# Chance a contact attempt reaches the case worker, per quarter (Q1..Q4).
CONTACT_REACHED = {
    "childrens_social_care": (0.78, 0.77, 0.79, 0.8),
    "send": (0.57, 0.5, 0.62, 0.7),
    "early_help": (0.8, 0.8, 0.82, 0.82),
    "fostering": (0.83, 0.82, 0.84, 0.85),
}


def plan_casework(year: SimulatedYear, volumes: AnnualVolumes = COUNTY) -> list[CmsEvent]:
    events: list[CmsEvent] = []
    events += _referrals_and_assessments(year, volumes)
    events += _assessments_carried_in(year, volumes)
    events += _ehc_plans(year, volumes)
    events += _contact_attempts(year, volumes)
    events.sort(key=lambda e: (e.at, e.event_id))
    return events


@dataclass
class _Referred:
    """The children referred so far, for re-referrals: ``history`` holds (date, child),
    oldest first."""

    seed: int
    history: list[tuple[date, str]] = field(default_factory=list)
    children: int = 0

    def child_for(self, rng: random.Random, area: str, day: date) -> str:
        """The child a referral on ``day`` is for: some are re-referrals of a child referred
        at least a week and at most a year before; the rest are new children."""
        child = None
        if rng.random() < RE_REFERRAL_CHANCE[area]:
            lo = bisect_left(self.history, (day - timedelta(days=364),))
            hi = bisect_left(self.history, (day - timedelta(days=7),))
            if hi > lo:
                child = self.history[rng.randrange(lo, hi)][1]
        if child is None:
            self.children += 1
            child = f"LL{self.seed}-{self.children:06d}"
        self.history.append((day, child))
        return child


def _referral_days(
    year: SimulatedYear, rng: random.Random, month: Period, counts: dict[str, int]
) -> list[tuple[str, date]]:
    """(area, day) of the month's referrals, by day: mostly on working days."""
    days = year.days(month)
    weights = [1.0 if year.calendar.is_working_day(d) else 0.15 for d in days]
    todo = [(area, rng.choices(days, weights)[0]) for area, n in counts.items() for _ in range(n)]
    todo.sort(key=lambda t: t[1])
    return todo


def _assessment(year: SimulatedYear, rng: random.Random, referral: ReferralReceived, received: datetime) -> CmsEvent:
    """The referral's assessment: started within three working days, most completed within 45."""
    area = referral.service_area
    start_day = year.working_days_after(received, rng.randint(0, 3))
    started = year.at(start_day, rng)
    if rng.random() < ASSESSED_IN_45_DAYS[area]:
        took = rng.randint(10, 45)
    else:
        took = rng.randint(46, 80)
    completed = year.at(year.working_days_after(start_day, took), rng)
    if completed <= started:
        completed = started + timedelta(hours=1)
    return CmsEvent(
        f"{year.prefix}:{referral.referral_id}-assessment",
        SOCIAL_CARE_SYSTEM,
        completed,
        AssessmentCompleted(
            assessment_id=f"{referral.referral_id}-assessment",
            child_ref=referral.child_ref,
            referral_id=referral.referral_id,
            started_at=started,
            completed_at=completed,
            team="assessment" if area == "childrens_social_care" else referral.team,
            service_area=area,
        ),
    )


def _referrals_and_assessments(year: SimulatedYear, volumes: AnnualVolumes) -> list[CmsEvent]:
    rng = year.rng("referrals")
    out: list[CmsEvent] = []
    referred = _Referred(year.seed)
    serial = 0
    per_area = {
        "childrens_social_care": year.per_month(volumes.referrals_social_care),
        "early_help": year.per_month(volumes.referrals_early_help),
    }
    for m, month in enumerate(year.months):
        for area, day in _referral_days(year, rng, month, {a: counts[m] for a, counts in per_area.items()}):
            serial += 1
            child = referred.child_for(rng, area, day)
            referral_id = f"{year.prefix}-ref-{serial:05d}"
            team = weighted(rng, REFERRAL_TEAMS[area])
            received = year.at(day, rng, 8, 19)
            referral = ReferralReceived(
                referral_id=referral_id, child_ref=child, received_at=received, team=team, service_area=area
            )
            out.append(CmsEvent(f"{year.prefix}:{referral_id}", SOCIAL_CARE_SYSTEM, received, referral))
            if rng.random() < ASSESSED[area]:
                out.append(_assessment(year, rng, referral, received))
    return [e for e in out if year.fy.contains(london_date(e.at))]


def _assessments_carried_in(year: SimulatedYear, volumes: AnnualVolumes) -> list[CmsEvent]:
    """Assessments completed early in the year for referrals made before it: the feed
    starts on 1 April, the work does not (without them, only quick assessments would
    complete in April and Q1's timeliness would look too good)."""
    rng = year.rng("referrals-before-the-year")
    out = []
    serial = 0
    month = year.months[0]
    earlier = []
    for _ in range(3):
        month = month.previous()
        earlier.append(month)
    per_month = {
        "childrens_social_care": volumes.referrals_social_care * year.scale / 12,
        "early_help": volumes.referrals_early_help * year.scale / 12,
    }
    for month in reversed(earlier):
        days = year.working_days(month)
        for area, mean in per_month.items():
            for _ in range(round(mean)):
                serial += 1
                if rng.random() >= ASSESSED[area]:
                    continue
                start_day = year.calendar.add_working_days(rng.choice(days), rng.randint(0, 3))
                took = rng.randint(10, 45) if rng.random() < ASSESSED_IN_45_DAYS[area] else rng.randint(46, 80)
                completed = year.at(year.calendar.add_working_days(start_day, took), rng)
                if not year.fy.contains(london_date(completed)):
                    continue
                referral_id = f"{year.prefix}-ref-before-{serial:05d}"
                out.append(
                    CmsEvent(
                        f"{year.prefix}:{referral_id}-assessment",
                        SOCIAL_CARE_SYSTEM,
                        completed,
                        AssessmentCompleted(
                            assessment_id=f"{referral_id}-assessment",
                            child_ref=f"LL{year.seed}-B{serial:05d}",
                            referral_id=referral_id,
                            started_at=year.at(start_day, rng),
                            completed_at=completed,
                            team="assessment" if area == "childrens_social_care" else weighted(rng, TEAMS[area]),
                            service_area=area,
                        ),
                    )
                )
    return out


def _ehc_plans(year: SimulatedYear, volumes: AnnualVolumes) -> list[CmsEvent]:
    rng = year.rng("ehc-plans")
    out = []
    serial = 0
    for month, count in zip(year.months, year.per_month(volumes.ehc_plans_issued), strict=True):
        days = year.working_days(month)
        for _ in range(count):
            serial += 1
            issued = year.at(rng.choice(days), rng)
            exception = rng.random() < EHCP_EXCEPTION
            if exception:
                weeks = rng.uniform(21, 40)
            elif rng.random() < EHCP_IN_20_WEEKS:
                weeks = rng.uniform(13, 19.5)
            else:
                weeks = rng.uniform(20.5, 36)
            requested = issued - timedelta(days=round(weeks * 7))
            plan_id = f"{year.prefix}-ehcp-{serial:04d}"
            out.append(
                CmsEvent(
                    f"{year.prefix}:{plan_id}",
                    SEND_SYSTEM,
                    issued,
                    EhcpIssued(
                        plan_id=plan_id,
                        child_ref=f"C1-{year.seed}-{serial:05d}",
                        requested_at=requested,
                        issued_at=issued,
                        exception=exception,
                        team=weighted(rng, TEAMS["send"]),
                        service_area="send",
                    ),
                )
            )
    return out


def _contact_attempts(year: SimulatedYear, volumes: AnnualVolumes) -> list[CmsEvent]:
    rng = year.rng("contact-attempts")
    out = []
    serial = 0
    for m, (month, count) in enumerate(zip(year.months, year.per_month(volumes.contact_attempts), strict=True)):
        quarter = m // 3
        days = year.working_days(month)
        for _ in range(count):
            serial += 1
            area = weighted(rng, CONTACT_AREAS)
            system = SEND_SYSTEM if area == "send" else SOCIAL_CARE_SYSTEM
            child = (
                f"C1-{year.seed}-{rng.randint(1, 4000):05d}"
                if area == "send"
                else f"LL{year.seed}-{rng.randint(1, 6000):06d}"
            )
            attempted = year.at(rng.choice(days), rng, 8, 18)
            attempt_id = f"{year.prefix}-contact-{serial:05d}"
            out.append(
                CmsEvent(
                    f"{year.prefix}:{attempt_id}",
                    system,
                    attempted,
                    CaseworkerContactAttempted(
                        attempt_id=attempt_id,
                        child_ref=child,
                        team=weighted(rng, TEAMS[area]),
                        service_area=area,
                        attempted_at=attempted,
                        reached=rng.random() < CONTACT_REACHED[area][quarter],
                    ),
                )
            )
    return out
