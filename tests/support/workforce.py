"""Workforce facts for tests, and an oracle: the DOMAIN.md workforce definitions computed
from the facts in plain Python, written apart from the reporting SQL (no shared code but the
fact classes), so that the two can be compared on the same data."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.reporting.facts import (
    AnswerFact,
    CaseloadFact,
    StaffJoinedFact,
    StaffLeftFact,
    StaffSurveyFact,
    VacancyFact,
)
from shared.calendar import Period, add_months

SOURCE = "/qaloop/workforce"
SW = ("social_worker", "senior", "manager")
_ids = itertools.count(1)


def _eid() -> str:
    return f"w{next(_ids):06d}"


def at(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def joined(
    worker: str,
    on: date,
    *,
    team: str = "t1",
    area: str = "childrens_social_care",
    role: str = "social_worker",
    contract: str = "employed",
    fte: float = 1.0,
    case_holding: bool = True,
    hour: int = 9,
    seq: int = 0,
) -> StaffJoinedFact:
    eid = _eid()
    return StaffJoinedFact(
        key=f"{SOURCE} {eid}",
        event_id=eid,
        worker_id=worker,
        team=team,
        service_area=area,
        role=role,
        contract=contract,
        fte=fte,
        case_holding=case_holding,
        joined_at=at(on, hour),
        joined_on=on,
        sequence=seq,
    )


def left(worker: str, on: date, reason: str = "workload", *, hour: int = 17, seq: int = 0) -> StaffLeftFact:
    eid = _eid()
    return StaffLeftFact(
        key=f"{SOURCE} {eid}",
        event_id=eid,
        worker_id=worker,
        left_at=at(on, hour),
        left_on=on,
        reason=reason,
        sequence=seq,
    )


def vacancy(team: str, on: date, vacant: float, *, area: str = "childrens_social_care", seq: int = 0) -> VacancyFact:
    eid = _eid()
    return VacancyFact(
        key=f"{SOURCE} {eid}",
        event_id=eid,
        team=team,
        service_area=area,
        vacant_fte=vacant,
        as_of=on,
        time=at(on),
        sequence=seq,
    )


def caseload(worker: str, on: date, cases: int, *, seq: int = 0) -> CaseloadFact:
    eid = _eid()
    return CaseloadFact(
        key=f"{SOURCE} {eid}", event_id=eid, worker_id=worker, cases=cases, as_of=on, time=at(on), sequence=seq
    )


def survey(on: date, answers: dict[str, bool | None], *, team: str | None = "t1", area: str = "childrens_social_care"):
    eid = _eid()
    return StaffSurveyFact(
        key=f"{SOURCE} {eid}",
        event_id=eid,
        response_id=eid,
        survey_id="health-check",
        service_area=area,
        team=team,
        received_at=at(on),
        received_on=on,
        answers=tuple(AnswerFact(q, v, False) for q, v in answers.items()),
    )


# --------------------------------------------------------------------------- the oracle


@dataclass(frozen=True)
class _Record:
    fact: StaffJoinedFact
    start: date
    end: date | None  # first day not in post at its end


def _records(facts: list[Any]) -> tuple[list[_Record], list[tuple[StaffLeftFact, StaffJoinedFact]]]:
    """Per worker, walk its joins and leaves in time order (join first at the same instant)."""
    records: list[_Record] = []
    leavers: list[tuple[StaffLeftFact, StaffJoinedFact]] = []
    workers = {x.worker_id for x in facts if isinstance(x, (StaffJoinedFact, StaffLeftFact))}
    for w in sorted(workers):
        mine = [x for x in facts if isinstance(x, (StaffJoinedFact, StaffLeftFact)) and x.worker_id == w]
        mine.sort(
            key=lambda x: (
                (x.joined_at, 0, x.sequence, x.event_id)
                if isinstance(x, StaffJoinedFact)
                else (x.left_at, 1, x.sequence, x.event_id)
            )
        )
        current: StaffJoinedFact | None = None
        for x in mine:
            if isinstance(x, StaffJoinedFact):
                if current is not None:
                    records.append(_Record(current, current.joined_on, x.joined_on))
                current = x
            elif current is not None:
                records.append(_Record(current, current.joined_on, x.left_on))
                leavers.append((x, current))
                current = None
        if current is not None:
            records.append(_Record(current, current.joined_on, None))
    return records, leavers


def _in_slice(area: str | None, team: str | None, want_area: str | None, want_team: str | None) -> bool:
    return (want_area is None or area == want_area) and (want_team is None or team == want_team)


def oracle(facts: list[Any], period: Period, area: str | None = None, team: str | None = None) -> dict[str, Any]:
    """{kpi: (value, numerator, denominator)} for the five fixed workforce KPIs."""
    records, leavers = _records(facts)
    e, b, a = period.end, period.start - timedelta(days=1), add_months(period.end, -12)

    def posted(day: date) -> list[StaffJoinedFact]:
        return [r.fact for r in records if r.start <= day and (r.end is None or r.end > day)]

    def fte(xs: list[StaffJoinedFact], contract: str) -> Decimal:
        return sum(
            (
                Decimal(str(x.fte))
                for x in xs
                if x.role in SW and x.contract == contract and _in_slice(x.service_area, x.team, area, team)
            ),
            Decimal(0),
        )

    end_posts, start_posts = posted(e), posted(b)
    employed_end, employed_start, agency_end = (
        fte(end_posts, "employed"),
        fte(start_posts, "employed"),
        fte(end_posts, "agency"),
    )
    gone = sum(
        (
            Decimal(str(r.fte))
            for x, r in leavers
            if period.start <= x.left_on <= e
            and r.role in SW
            and r.contract == "employed"
            and _in_slice(r.service_area, r.team, area, team)
        ),
        Decimal(0),
    )
    latest: dict[str, tuple[tuple[Any, ...], Decimal]] = {}
    for v in facts:
        if isinstance(v, VacancyFact) and v.as_of <= e:
            order = (v.as_of, v.sequence, v.time, v.event_id)
            if v.team not in latest or order > latest[v.team][0]:
                latest[v.team] = (order, Decimal(str(v.vacant_fte)))
    areas = {
        v.team: v.service_area
        for v in facts
        if isinstance(v, VacancyFact) and latest.get(v.team, ((),))[0] == (v.as_of, v.sequence, v.time, v.event_id)
    }
    vacant = sum((x for t, (_, x) in latest.items() if _in_slice(areas[t], t, area, team)), Decimal(0))
    cases = Decimal(0)
    holding = Decimal(0)
    for x in end_posts:
        if x.role in SW and x.case_holding and _in_slice(x.service_area, x.team, area, team):
            holding += Decimal(str(x.fte))
            snaps = [c for c in facts if isinstance(c, CaseloadFact) and c.worker_id == x.worker_id and c.as_of <= e]
            if snaps:
                cases += max(snaps, key=lambda c: (c.as_of, c.sequence, c.time, c.event_id)).cases
    then = {x.worker_id for x in posted(a) if x.role in SW and x.contract == "employed"}
    now = [
        x
        for x in end_posts
        if x.role in SW and x.contract == "employed" and _in_slice(x.service_area, x.team, area, team)
    ]
    stable = sum(1 for x in now if x.worker_id in then)

    def rate(n: Decimal | int, d: Decimal | int) -> tuple[float | None, float, float]:
        return (float(Decimal(n) / Decimal(d)) if d else None, float(n), float(d))

    return {
        "workforce.turnover_rate": rate(gone, (employed_start + employed_end) / 2),
        "workforce.vacancy_rate": rate(vacant, vacant + employed_end),
        "workforce.agency_rate": rate(agency_end, agency_end + employed_end),
        "workforce.average_caseload": rate(cases, holding),
        "workforce.stability_rate": rate(stable, len(now)),
    }
