"""What a simulated year is made of, as plain data: no I/O, nothing sent.

A `Plan` holds
* `casework`: the events a case-management system publishes (`CmsEvent`), and
* `stories`: what staff do through the strand HTTP APIs, one `Story` per audit, complaint,
  survey response, … — a sequence of `Call`s that must run in order (a later call may use an
  id the service gave an earlier one: `Ref`), while different stories are independent.

Plans are built by `services.simulation.year.plan_year` from a seed; the same seed (and
year and scale) gives an equal plan. `services.simulation.runner` sends one.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, TypeVar

from services.simulation.authority import SEASON, TEAMS
from shared.calendar import LONDON, Period, WorkingCalendar, london_date, parse_period
from shared.events import EventData

# --------------------------------------------------------------------------- plan items


@dataclass(frozen=True)
class Ref:
    """An id a service chose when an earlier call of the same story created something
    (an audit's, a concern's or an audit action's id): resolved when the story runs."""

    key: str


@dataclass(frozen=True)
class Call:
    """One request to a strand API, made by `actor` (the token's subject) with the strand's
    write role. `at` is when it happens in the simulated year (the back-dated timestamp in
    `body`, or, for a call whose API takes none, when it would have happened). `path` may
    name `{key}`s of `Ref`s. `capture` = (key, field): remember the reply's field as `key`.
    `events` is how many events the strand publishes when the call succeeds."""

    at: datetime
    kind: str
    strand: str
    method: str
    path: str
    body: Mapping[str, Any]
    actor: str
    capture: tuple[str, str] | None = None
    events: int = 1

    @property
    def role(self) -> str:
        return f"{self.strand}:write"

    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.path)


PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Story:
    """Calls that run one after another; they are in time order."""

    key: str
    calls: tuple[Call, ...]

    @property
    def starts(self) -> datetime:
        return self.calls[0].at


@dataclass(frozen=True)
class CmsEvent:
    """A casework event as the case-management system has it: `data.child_ref` is still the
    system's own person number, which the sender pseudonymises (keyed hash) before it leaves."""

    event_id: str
    system: str
    at: datetime  # the fact's own timestamp (received_at, completed_at, issued_at, attempted_at)
    data: EventData

    @property
    def type(self) -> str:
        return self.data.event_type

    @property
    def source(self) -> str:
        return f"/cms/{self.system}"


@dataclass(frozen=True)
class MonthPlan:
    label: str
    stories: tuple[Story, ...]
    casework: tuple[CmsEvent, ...]


@dataclass(frozen=True)
class Plan:
    year: str
    seed: int
    scale: float
    first_day: date
    last_day: date
    setup: tuple[Call, ...]  # before anything else (survey definitions)
    stories: tuple[Story, ...]
    casework: tuple[CmsEvent, ...]

    # -- reading

    def calls(self) -> Iterator[Call]:
        yield from self.setup
        for story in self.stories:
            yield from story.calls

    @property
    def requests(self) -> int:
        return len(self.setup) + sum(len(s.calls) for s in self.stories)

    def counts(self) -> Counter[str]:
        """Planned API calls by kind and casework events by type."""
        out: Counter[str] = Counter(c.kind for c in self.calls())
        out.update(e.type for e in self.casework)
        return out

    def calls_of(self, kind: str, period: Period | None = None) -> list[Call]:
        return [c for c in self.calls() if c.kind == kind and (period is None or period.contains(london_date(c.at)))]

    def events_of(self, event_type: str, period: Period | None = None) -> list[CmsEvent]:
        return [
            e for e in self.casework if e.type == event_type and (period is None or period.contains(london_date(e.at)))
        ]

    def months(self) -> list[MonthPlan]:
        """Stories by the month they start in, casework by the month of the fact."""
        by_month: dict[str, tuple[list[Story], list[CmsEvent]]] = {}
        day = self.first_day.replace(day=1)
        while day <= self.last_day:
            by_month[f"{day:%Y-%m}"] = ([], [])
            day = (day + timedelta(days=32)).replace(day=1)
        for story in self.stories:
            by_month[f"{london_date(story.starts):%Y-%m}"][0].append(story)
        for event in self.casework:
            by_month[f"{london_date(event.at):%Y-%m}"][1].append(event)
        return [MonthPlan(label, tuple(s), tuple(e)) for label, (s, e) in by_month.items()]

    def fingerprint(self) -> str:
        """A digest of the whole plan: equal plans, equal fingerprints."""
        text = json.dumps(self, default=_canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- slicing

    def within(self, first: date, last: date) -> Plan:
        """The part of the plan inside [first, last]: stories that start there, cut off at
        `last` (a complaint received in the slice but answered after it stays open), and
        casework dated there. A "you said, we did" item keeps only links to responses that
        are in the slice."""
        first, last = max(first, self.first_day), min(last, self.last_day)
        stories = []
        for story in self.stories:
            if not first <= london_date(story.starts) <= last:
                continue
            kept = []
            for call in story.calls:
                if london_date(call.at) > last:
                    break
                kept.append(call)
            stories.append(replace(story, calls=tuple(kept)))
        responses = {c.body["response_id"] for s in stories for c in s.calls if c.kind == "feedback.response"}
        stories = [replace(s, calls=tuple(_keep_links(c, responses) for c in s.calls)) for s in stories]
        return replace(
            self,
            first_day=first,
            last_day=last,
            stories=tuple(stories),
            casework=tuple(e for e in self.casework if first <= london_date(e.at) <= last),
        )


def _keep_links(call: Call, responses: set[str]) -> Call:
    if call.kind != "feedback.you_said_we_did":
        return call
    body = dict(call.body)
    body["feedback_ids"] = [f for f in body["feedback_ids"] if f in responses]
    return replace(call, body=body)


def _canonical(value: Any) -> Any:
    """JSON's `default` hook for what a plan holds beyond JSON's own types."""
    if isinstance(value, EventData):
        return {"type": value.event_type, **value.model_dump(mode="json")}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot put {type(value).__name__} in a plan's fingerprint")


def to_json(value: Any, refs: Mapping[str, str]) -> Any:
    """A call's body as JSON: timestamps ISO 8601 with offset, dates ISO, `Ref`s resolved."""
    if isinstance(value, Ref):
        return refs[value.key]
    if isinstance(value, Mapping):
        return {k: to_json(v, refs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, refs) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def resolve_path(path: str, refs: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: refs[m.group(1)], path)


# --------------------------------------------------------------------------- the year


@dataclass
class SimulatedYear:
    """What the planners share: the financial year, the seed and scale, the working-day
    calendar and helpers for days and times. Each planner draws from its own named random
    stream, so that changing one planner never changes what another plans."""

    label: str
    seed: int
    scale: float
    calendar: WorkingCalendar
    fy: Period = field(init=False)
    months: list[Period] = field(init=False)

    def __post_init__(self) -> None:
        self.fy = parse_period(self.label)
        if self.fy.kind != "year":
            raise ValueError(f"{self.label!r} is not a financial year (e.g. 2022-23)")
        self.months = []
        month = parse_period(f"{self.fy.start:%Y-%m}")
        while month.start <= self.fy.end:
            self.months.append(month)
            month = month.next()

    @property
    def prefix(self) -> str:
        """Ids the simulator chooses start with this: one seed never collides with another."""
        return f"sim{self.seed}"

    def rng(self, name: str) -> random.Random:
        return random.Random(f"qaloop-simulation:{self.label}:{self.seed}:{name}")

    def per_month(self, annual: int, season: Sequence[float] = SEASON) -> list[int]:
        """`annual` times the scale, spread over the months by `season`, rounded so the months add
        up to the rounded total."""
        total = annual * self.scale
        weights = list(season)
        whole = sum(weights)
        out, running, given = [], 0.0, 0
        for w in weights:
            running += total * w / whole
            n = round(running) - given
            out.append(n)
            given += n
        return out

    def working_days(self, month: Period) -> list[date]:
        days = [month.start + timedelta(days=i) for i in range((month.end - month.start).days + 1)]
        return [d for d in days if self.calendar.is_working_day(d)]

    def days(self, month: Period) -> list[date]:
        return [month.start + timedelta(days=i) for i in range((month.end - month.start).days + 1)]

    def at(self, day: date, rng: random.Random, first_hour: int = 9, last_hour: int = 17) -> datetime:
        """A time on `day` (London working hours by default), in UTC."""
        local = datetime.combine(day, time(rng.randint(first_hour, last_hour), rng.randint(0, 59)), LONDON)
        return local.astimezone(UTC)

    def working_day_from(self, day: date) -> date:
        """``day`` when it is a working day, else the next working day."""
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        return day

    def working_days_after(self, when: datetime | date, n: int) -> date:
        return self.calendar.add_working_days(london_date(when), n)

    def later(self, when: datetime, working_days: int, rng: random.Random) -> datetime:
        """A working-hours time `working_days` working days after `when` (same day if 0,
        then never before `when`)."""
        day = self.working_days_after(when, working_days)
        out = self.at(day, rng)
        return max(out, when + timedelta(minutes=5)) if working_days == 0 else out


K = TypeVar("K")


def weighted(rng: random.Random, weights: Mapping[K, float]) -> K:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def team_in(area: str, rng: random.Random) -> str:
    return weighted(rng, TEAMS[area])


def in_order(calls: Iterable[Call]) -> tuple[Call, ...]:
    """Calls sorted by time (stable: calls at the same time keep their order)."""
    return tuple(sorted(calls, key=lambda c: c.at))
