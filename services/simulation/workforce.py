"""The county's social work workforce for a simulated year (issue 15): a few hundred staff in
post at the start (back-dated joiners), leavers through the year with their reasons and most
of them replaced, a few agency workers converting to employed, caseload snapshots and
vacancies at each quarter's end, and the staff health-check survey in the autumn. Pure: the
calls are planned here and sent by the runner through the workforce API (port 8004).

Churn follows the national picture (DfE children's social work workforce: about 16% of
employed social workers leave in a year, agency workers about twice as often); the two
largest teams carry heavier caseloads, so the workforce-review follow-up has something to
find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from services.simulation.authority import TEAMS, team_manager
from services.simulation.plan import Call, SimulatedYear, Story, in_order, weighted
from shared.calendar import LONDON, Period, london_date, period_of

__all__ = ["STAFF_SURVEY", "plan_staff_survey", "plan_workforce"]

HR_OFFICER = "hr-officer-1"
# Social workers per service area at scale 1 (about 330 in all).
AREA_STAFF = {"childrens_social_care": 220, "send": 40, "fostering": 25, "early_help": 30, "youth_justice": 15}
BUSY_TEAMS = ("through-care", "safeguarding")
ANNUAL_LEAVING = {"employed": 0.16, "agency": 0.32}
REPLACED = 0.8
CONVERSIONS = 8  # agency workers taking a permanent post in the year (scale 1)
REASONS = {
    "workload": 0.25,
    "career": 0.2,
    "personal": 0.13,
    "management": 0.12,
    "pay": 0.1,
    "training_development": 0.08,
    "retired": 0.07,
    "other": 0.05,
}
SURVEY_ID = "health-check"
STAFF_SURVEY = {
    "title": "Social worker health check (LGA standards for employers of social workers)",
    "questions": [
        {"question_id": "manageable_caseload", "wording": "My caseload is manageable", "answer_type": "scale_1_5"},
        {
            "question_id": "regular_supervision",
            "wording": "I receive regular, reflective supervision",
            "answer_type": "yes_no",
        },
        {"question_id": "stable_management", "wording": "My team has stable management", "answer_type": "scale_1_5"},
        {
            "question_id": "training_and_development",
            "wording": "I have the training and development I need",
            "answer_type": "scale_1_5",
        },
        {"question_id": "would_recommend", "wording": "I would recommend this employer", "answer_type": "yes_no"},
    ],
}


@dataclass
class _Worker:
    ref: str
    area: str
    team: str
    role: str
    contract: str
    fte: float
    since: date
    calls: list[Call] = field(default_factory=list)
    left_on: date | None = None


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A London time on ``day``, in UTC (as the other planners give times)."""
    return datetime.combine(day, time(hour, minute), LONDON).astimezone(UTC)


def _post(w: _Worker) -> dict[str, object]:
    return {
        "worker_ref": w.ref,
        "team": w.team,
        "service_area": w.area,
        "role": w.role,
        "contract": w.contract,
        "fte": w.fte,
        "case_holding": w.role != "manager",
    }


def _join(w: _Worker, at: datetime, joined: date) -> Call:
    body = {**_post(w), "joined_at": joined.isoformat()}
    return Call(at, "workforce.join", "workforce", "POST", "/v1/staff", body, HR_OFFICER)


def _new_worker(year: SimulatedYear, rng: random.Random, n: int, area: str, team: str, since: date) -> _Worker:
    role = "manager" if n % 12 == 0 else "senior" if n % 5 == 0 else "social_worker"
    contract = "agency" if role == "social_worker" and rng.random() < 0.15 else "employed"
    fte = 1.0 if rng.random() < 0.8 else rng.choice([0.5, 0.6, 0.8])
    return _Worker(f"{year.prefix}-SW{n:05d}", area, team, role, contract, fte, since)


def _staff(year: SimulatedYear, rng: random.Random) -> list[_Worker]:
    """Everyone in post at the start of the year, joined on a day of the last ten years."""
    out: list[_Worker] = []
    for area, size in AREA_STAFF.items():
        for _ in range(max(2, round(size * year.scale))):
            team = weighted(rng, TEAMS[area])
            since = year.fy.start - timedelta(days=rng.randint(30, 3650))
            out.append(_new_worker(year, rng, len(out) + 1, area, team, since))
    for w in out:
        w.calls.append(_join(w, _at(year.fy.start, 8), w.since))
    return out


def _leave(year: SimulatedYear, rng: random.Random, w: _Worker) -> date | None:
    """The day the worker leaves in the year, if they do."""
    if rng.random() >= ANNUAL_LEAVING[w.contract]:
        return None
    day = year.working_day_from(year.fy.start + timedelta(days=rng.randint(14, 350)))
    return day if day <= year.fy.end else None


def _churn(year: SimulatedYear, rng: random.Random, staff: list[_Worker]) -> list[_Worker]:
    """Leavers (and their replacements, who join three to ten weeks later) and conversions."""
    joiners: list[_Worker] = []
    agency = [w for w in staff if w.contract == "agency"]
    converting = {w.ref for w in rng.sample(agency, k=min(len(agency), max(1, round(CONVERSIONS * year.scale))))}
    for w in list(staff):
        if w.ref in converting:
            converted = year.working_day_from(year.fy.start + timedelta(days=rng.randint(30, 300)))
            w.contract = "employed"
            w.calls.append(_join(w, _at(converted, 9, 30), converted))
        day = _leave(year, rng, w)
        if day is None or any(london_date(c.at) > day for c in w.calls):
            continue
        w.left_on = day
        body = {"left_at": day.isoformat(), "reason": weighted(rng, REASONS)}
        w.calls.append(
            Call(_at(day, 16), "workforce.leave", "workforce", "POST", f"/v1/staff/{w.ref}/leave", body, HR_OFFICER)
        )
        if rng.random() < REPLACED:
            start = year.working_day_from(day + timedelta(weeks=rng.randint(3, 10)))
            if start <= year.fy.end:
                new = _new_worker(year, rng, len(staff) + len(joiners) + 1, w.area, w.team, start)
                new.calls.append(_join(new, _at(start, 9), start))
                joiners.append(new)
    return joiners


def _quarters(year: SimulatedYear) -> list[Period]:
    q = period_of(year.fy.start, "quarter")
    return [q, q.next(), q.next().next(), q.next().next().next()]


def _caseloads(year: SimulatedYear, rng: random.Random, staff: list[_Worker]) -> None:
    """Each case-holder in post at a quarter's end: cases as of that day (more in the two
    largest teams), recorded the next working day."""
    for q in _quarters(year):
        for w in staff:
            if w.role == "manager" or w.since > q.end or (w.left_on is not None and w.left_on <= q.end):
                continue
            mean = (20 if w.team in BUSY_TEAMS else 16) * w.fte
            cases = max(0, round(rng.gauss(mean, 3)))
            body = {"worker_ref": w.ref, "cases": cases, "as_of": q.end.isoformat()}
            w.calls.append(
                Call(_at(q.end, 17), "workforce.caseload", "workforce", "POST", "/v1/caseloads", body, HR_OFFICER)
            )


def _vacancies(year: SimulatedYear, rng: random.Random) -> list[Story]:
    stories = []
    for area, teams in TEAMS.items():
        for team in teams:
            calls = []
            for q in _quarters(year):
                vacant = rng.choice([0.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.0])
                body = {"team": team, "service_area": area, "vacant_fte": vacant, "as_of": q.end.isoformat()}
                calls.append(
                    Call(
                        _at(q.end, 17, 30),
                        "workforce.vacancy",
                        "workforce",
                        "POST",
                        "/v1/vacancies",
                        body,
                        team_manager(team),
                    )
                )
            stories.append(Story(f"{year.prefix}-vacancies-{team}", in_order(calls)))
    return stories


def _survey_responses(year: SimulatedYear, rng: random.Random, staff: list[_Worker]) -> list[Story]:
    """About 55% of the staff in post answer the health check in November (anonymously:
    team and service area only)."""
    month = next(m for m in year.months if m.start.month == 11)
    stories = []
    for i, w in enumerate(staff):
        if w.since > month.start or (w.left_on is not None and w.left_on <= month.end) or rng.random() > 0.55:
            continue
        day = rng.choice(year.working_days(month))
        busy = w.team in BUSY_TEAMS
        answers = {
            "manageable_caseload": rng.choice([1, 2, 2, 3, 3, 4] if busy else [2, 3, 4, 4, 5]),
            "regular_supervision": "yes" if rng.random() < 0.75 else "no",
            "stable_management": rng.choice([2, 3, 4, 4, 5]),
            "training_and_development": rng.choice([3, 4, 4, 5]),
            "would_recommend": "yes" if rng.random() < (0.55 if busy else 0.75) else "no",
        }
        body = {
            "response_id": f"{year.prefix}-hc-{i:05d}",
            "survey_id": SURVEY_ID,
            "service_area": w.area,
            "team": w.team,
            "received_at": day.isoformat(),
            "answers": answers,
        }
        call = Call(
            _at(day, 12),
            "workforce.survey_response",
            "workforce",
            "POST",
            "/v1/staff-survey-responses",
            body,
            HR_OFFICER,
        )
        stories.append(Story(str(body["response_id"]), (call,)))
    return stories


def plan_staff_survey(year: SimulatedYear) -> list[Call]:
    """Publish the staff health-check survey (idempotent: a retry changes nothing)."""
    at = _at(year.fy.start, 7)
    return [
        Call(
            at,
            "workforce.survey",
            "workforce",
            "PUT",
            f"/v1/staff-surveys/{SURVEY_ID}",
            STAFF_SURVEY,
            HR_OFFICER,
            events=0,
        )
    ]


def plan_workforce(year: SimulatedYear) -> list[Story]:
    """Every worker's story (join, conversion, caseloads, leave), vacancies, the staff survey."""
    rng = year.rng("workforce")
    staff = _staff(year, rng)
    staff += _churn(year, rng, staff)
    _caseloads(year, rng, staff)
    stories = [Story(w.ref, in_order(w.calls)) for w in staff]
    return [*stories, *_vacancies(year, rng), *_survey_responses(year, rng, staff)]
