"""Simulated staff answering the learning loop: what they do when reporting says a follow-up
is open, as they would from the dashboard or the notifier's e-mail.

The year's plan (`year.plan_year`) is what staff do anyway; some of it opens follow-ups that
nothing in the plan closes (a moderation that turned a good audit into a weak one, an action
nobody completed, an upheld complaint whose learning was never acted on). After the plan is
sent and reporting has applied it, `answer_the_loop` reads the open follow-ups from
reporting (`GET /v1/followups?status=open`, as of reporting's clock — the demo's stands at
the end of the simulated year) and answers each through the strand services' APIs, as the
real services receive staff's work:

=====================  =================================================================
follow-up              what the member of staff does
=====================  =================================================================
re-audit               reads the audit (audit service), audits the same case again
action                 completes the action (on the strand that raised it)
complaint-learning     raises an action on the complaint and completes it
safeguarding-alert     raises an action on the response and completes it
feedback-response      publishes a "you said, we did" item on the question's theme
=====================  =================================================================

Most are answered by their due date, some late, a few not by the clock's day (they stay
open; overdue where their due date has passed). Each follow-up is decided once, by a draw
seeded by the plan's seed and what the follow-up is about (`stable_key`: its rule, reporting's
description of it and its dates, not its id — the services choose audit and action ids anew
on every run), so the same seed answers the same way. What staff do opens follow-ups of its
own (a re-audit that is still weak, an action raised): the next round answers those, up to
`ROUNDS` rounds. A concern's targeted audit is left to the plan (resolving a concern needs
the targeted audits' evidence, which the plan's concern story carries).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from services.simulation.audits import EHCP_WEAK_AREAS, WEAK_AREAS, AuditSpec, audit_calls
from services.simulation.authority import AUDITORS, PARTICIPATION_WORKERS, QA_MANAGER, TEAMS, team_manager
from services.simulation.plan import Call, Plan, SimulatedYear, Story, in_order, weighted
from services.simulation.runner import BusSink, Simulator, Summary
from shared.auth import issue_token
from shared.calendar import LONDON, WorkingCalendar, london_date
from shared.events import Grade
from shared.settings import Settings

ANSWERED_ON_TIME = 0.75  # by the due date
ANSWERED_LATE = 0.17  # after it; the rest are not answered by the clock's day
LATE_BY_DAYS = (1, 35)
ROUNDS = 3
# A re-audit after the follow-up: mostly better.
RE_AUDIT_GRADES = {Grade.GOOD: 0.72, Grade.REQUIRES_IMPROVEMENT: 0.24, Grade.INADEQUATE: 0.04}
# The strand whose API holds an action, by the action's origin.
ACTION_STRANDS = {"audit": "audit", "concern": "audit", "complaint": "complaints", "feedback": "feedback"}
ANSWERED_RULES = ("re-audit", "action", "complaint-learning", "safeguarding-alert", "feedback-response")

EVIDENCE = "Done and checked by the team manager, after the learning-loop follow-up."
LEARNING_ACTIONS = {
    "complaint-learning": "Share the learning from the upheld complaint with the team and change the practice",
    "safeguarding-alert": "Speak with the child about feeling safe and update the safety plan",
}


@dataclass(frozen=True)
class Answer:
    """What staff do about one open follow-up: answered on ``day`` (None: not by the clock's day)."""

    followup: Mapping[str, Any]
    day: date | None

    @property
    def rule(self) -> str:
        return str(self.followup["rule"])

    @property
    def outcome(self) -> str:
        if self.day is None:
            return "not yet"
        return "on time" if self.day <= date.fromisoformat(self.followup["due_date"]) else "late"


@dataclass
class LoopSummary:
    """What staff did about the follow-ups: answers by rule and outcome, and the run's calls."""

    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    runs: list[Summary] = field(default_factory=list)

    @property
    def events_for_reporting(self) -> int:
        return sum(s.events_for_reporting for s in self.runs)

    @property
    def failures(self) -> int:
        return sum(sum(s.failures.values()) for s in self.runs)

    @property
    def errors(self) -> list[str]:
        return [e for s in self.runs for e in s.errors]


def stable_key(followup: Mapping[str, Any]) -> str:
    """What the follow-up is, whatever ids the services chose: its rule, reporting's words for
    it (the case pseudonym, the complaint's category and dates …) and its dates; its id where
    reporting has no words for it yet."""
    subject = followup.get("subject")
    about = subject["text"] if isinstance(subject, Mapping) and subject.get("text") else followup["followup_id"]
    return f"{followup['rule']}|{about}|{followup['opened_on']}|{followup['due_date']}"


def decide(followup: Mapping[str, Any], seed: int, today: date) -> Answer:
    """When (if at all) staff answer this follow-up: a draw seeded by the plan's seed and
    `stable_key`. On time: a day from its opening to its due date; late: 1-35 days after
    the due date. A day after ``today`` (the clock's) has not come yet: not answered."""
    rng = random.Random(f"{seed}:loop:{stable_key(followup)}")
    opened = date.fromisoformat(followup["opened_on"])
    due = max(date.fromisoformat(followup["due_date"]), opened)
    draw = rng.random()
    if draw < ANSWERED_ON_TIME:
        day: date | None = opened + timedelta(days=rng.randint(0, (due - opened).days))
    elif draw < ANSWERED_ON_TIME + ANSWERED_LATE:
        day = due + timedelta(days=rng.randint(*LATE_BY_DAYS))
    else:
        day = None
    return Answer(followup, day if day is not None and day <= today else None)


def _at(day: date, rng: random.Random, *, earliest: datetime | None = None) -> datetime:
    """A working hour of ``day`` in London, not before ``earliest``."""
    at = datetime(day.year, day.month, day.day, rng.randint(9, 16), rng.randint(0, 59), tzinfo=LONDON)
    return max(at, earliest + timedelta(minutes=10)) if earliest is not None else at


def _raise_and_complete(
    answer: Answer, rng: random.Random, *, strand: str, raise_path: str, body: Mapping[str, Any]
) -> list[Call]:
    """Raise an action on the follow-up's origin (due on the follow-up's due date) and
    complete it on the answer's day."""
    assert answer.day is not None
    f = answer.followup
    opened = date.fromisoformat(f["opened_on"])
    raised = _at(opened + timedelta(days=min(rng.randint(0, 2), (answer.day - opened).days)), rng)
    done = _at(answer.day, rng, earliest=raised)
    owner = team_manager(f["team"]) if f.get("team") else team_manager(str(body.get("team", "service")))
    key = f"loop-action:{f['followup_id']}"
    summary = LEARNING_ACTIONS[answer.rule]
    raise_body = {"owner_id": owner, "due_date": f["due_date"], "summary": summary, "raised_at": raised, **body}
    return [
        Call(raised, f"{strand}.loop.raise", strand, "POST", raise_path, raise_body, owner, capture=(key, "action_id")),
        Call(
            done,
            f"{strand}.loop.complete",
            strand,
            "POST",
            f"/v1/actions/{{{key}}}/complete",
            {"evidence": EVIDENCE, "completed_at": done},
            owner,
        ),
    ]


def _complete_action(answer: Answer, rng: random.Random) -> list[Call]:
    assert answer.day is not None
    f = answer.followup
    strand = ACTION_STRANDS.get(f["origin"])
    if strand is None:
        return []
    owner = team_manager(f["team"]) if f.get("team") else QA_MANAGER
    done = _at(answer.day, rng)
    if answer.day == date.fromisoformat(f["opened_on"]):
        # completed the day it was raised (in working hours, when staff raise them): the evening
        done = done.replace(hour=rng.randint(19, 22))
    body = {"evidence": EVIDENCE, "completed_at": done}
    path = f"/v1/actions/{f['origin_id']}/complete"
    return [Call(done, f"{strand}.loop.complete", strand, "POST", path, body, owner)]


def _you_said_we_did(answer: Answer, rng: random.Random) -> list[Call]:
    assert answer.day is not None
    area, question, quarter = str(answer.followup["origin_id"]).split(":", 2)
    at = _at(answer.day, rng)
    body = {
        "item_id": f"loop-ysd-{area}-{question}-{quarter}",
        "service_area": area,
        "theme": question,
        "you_said": f"In {quarter} fewer of you than we want answered well about this ({question.replace('_', ' ')}).",
        "we_did": "We talked it through with the teams, changed how we work and will ask again next quarter.",
        "published_at": at,
    }
    worker = rng.choice(PARTICIPATION_WORKERS)
    return [Call(at, "feedback.loop.you_said_we_did", "feedback", "POST", "/v1/you-said-we-did", body, worker)]


def re_audit(answer: Answer, rng: random.Random, year: SimulatedYear, audit: Mapping[str, Any]) -> list[Call]:
    """The same case audited again on the answer's day (``audit``: the audit service's view
    of the weak audit, with its case reference)."""
    assert answer.day is not None
    ehcp = audit["audit_type"] == "ehcp"
    spec = AuditSpec(
        key=f"loop-{answer.followup['followup_id']}",
        case_reference=str(audit["case_reference"]),
        area=str(audit["service_area"]),
        team=str(audit["team"]),
        audit_type="ehcp" if ehcp else "routine",
        theme=None,
        auditor=rng.choice(AUDITORS),
        completed=_at(answer.day, rng),
        overall=Grade(weighted(rng, RE_AUDIT_GRADES)),
        weak=EHCP_WEAK_AREAS if ehcp else WEAK_AREAS,
    )
    return [replace_kind(c) for c in audit_calls(year, rng, spec, "loop-audit")]


def replace_kind(call: Call) -> Call:
    """The call, counted apart as the loop's (`audit.loop.schedule` …)."""
    strand, _, what = call.kind.partition(".")
    return Call(
        call.at,
        f"{strand}.loop.{what}",
        call.strand,
        call.method,
        call.path,
        call.body,
        call.actor,
        call.capture,
        call.events,
    )


def calls_for(answer: Answer, year: SimulatedYear, audits: Mapping[str, Mapping[str, Any]]) -> list[Call]:
    """What staff send for an answered follow-up (nothing when it is not answered, or when
    its audit could not be read)."""
    if answer.day is None:
        return []
    f = answer.followup
    rng = random.Random(f"{year.seed}:loop-calls:{stable_key(f)}")
    if answer.rule == "re-audit":
        audit = audits.get(f["origin_id"])
        return re_audit(answer, rng, year, audit) if audit and audit.get("case_reference") else []
    if answer.rule == "action":
        return _complete_action(answer, rng)
    if answer.rule == "complaint-learning":
        path = f"/v1/complaints/{f['origin_id']}/actions"
        return _raise_and_complete(answer, rng, strand="complaints", raise_path=path, body={})
    if answer.rule == "safeguarding-alert":
        team = {} if f.get("team") else {"team": weighted(rng, TEAMS[f["service_area"]])}
        path = f"/v1/responses/{f['origin_id']}/actions"
        return _raise_and_complete(answer, rng, strand="feedback", raise_path=path, body=team)
    if answer.rule == "feedback-response":
        return _you_said_we_did(answer, rng)
    return []


def stories_for(answers: Sequence[Answer], year: SimulatedYear, audits: Mapping[str, Mapping[str, Any]]) -> list[Story]:
    out = []
    for answer in answers:
        calls = calls_for(answer, year, audits)
        if calls:
            out.append(Story(f"loop:{answer.followup['followup_id']}", in_order(calls)))
    return out


# --------------------------------------------------------------------------- sending


@dataclass
class LoopClients:
    """HTTP clients: reporting's and each strand's."""

    reporting: httpx.AsyncClient
    strands: Mapping[str, httpx.AsyncClient]


class Loop:
    """Rounds of reading the open follow-ups and answering them (see the module's doc)."""

    def __init__(self, settings: Settings, plan: Plan, clients: LoopClients, *, today: date, rate: float | None = None):
        self.settings = settings
        self.plan = plan
        self.clients = clients
        self.today = today
        self.rate = rate
        self.year = SimulatedYear(
            plan.year, plan.seed, plan.scale, WorkingCalendar(closures=settings.calendar_closures)
        )
        self.decided: set[str] = set()
        self.summary = LoopSummary()

    def _auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, [role], subject='simulator-loop')}"}

    async def open_followups(self) -> list[dict[str, Any]]:
        """Every open follow-up (overdue included) as reporting lists them, page by page."""
        out: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            reply = await self.clients.reporting.get(
                "/v1/followups",
                params={"status": "open", "limit": 5000, "offset": offset},
                headers=self._auth("reporting:read"),
            )
            reply.raise_for_status()
            body = reply.json()
            out += body["followups"]
            offset = body["next_offset"]
        return out

    async def audits_of(self, answers: Sequence[Answer]) -> dict[str, dict[str, Any]]:
        """The audit service's view (case reference included) of each weak audit answered."""
        out = {}
        for a in answers:
            if a.rule == "re-audit" and a.day is not None:
                audit_id = a.followup["origin_id"]
                reply = await self.clients.strands["audit"].get(
                    f"/v1/audits/{audit_id}", headers=self._auth("audit:write")
                )
                if reply.status_code == 200:
                    out[audit_id] = reply.json()
        return out

    async def round(self) -> list[Story]:
        """This round's answers: the open follow-ups not decided yet."""
        fresh = [f for f in await self.open_followups() if f["followup_id"] not in self.decided]
        answers = [decide(f, self.plan.seed, self.today) for f in fresh if f["rule"] in ANSWERED_RULES]
        self.decided.update(f["followup_id"] for f in fresh)
        self.summary.answers.update((a.rule, a.outcome) for a in answers)
        return stories_for(answers, self.year, await self.audits_of(answers))

    async def send(self, stories: Sequence[Story]) -> Summary:
        starts = [london_date(s.starts) for s in stories]
        plan = Plan(
            self.plan.year,
            self.plan.seed,
            self.plan.scale,
            min([self.plan.first_day, *starts]),
            max([self.plan.last_day, self.today, *starts]),
            setup=(),
            stories=tuple(sorted(stories, key=lambda s: s.starts)),
            casework=(),
        )
        sink = BusSink(self.settings.amqp_url)  # no casework: never opened
        simulator = Simulator(
            plan, clients=self.clients.strands, sink=sink, settings=self.settings, rate=self.rate, show_progress=False
        )
        return await simulator.run()

    async def wait_applied(self, expected: int, timeout: float = 300) -> None:
        """Until reporting has applied ``expected`` events in all and its queue is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = await self.clients.reporting.get("/v1/projections/status", headers=self._auth("reporting:read"))
            status = reply.json()
            if int(status["events_applied"]) >= expected and status.get("queue_depth") in (0, None):
                return
            await asyncio.sleep(0.5)

    async def run(self, applied: int) -> LoopSummary:
        """Answer rounds until nothing new is open (at most ROUNDS); ``applied``: events
        reporting has applied before the first round."""
        for _ in range(ROUNDS):
            stories = await self.round()
            if not stories:
                break
            sent = await self.send(stories)
            self.summary.runs.append(sent)
            applied += sent.events_for_reporting
            await self.wait_applied(applied)
        return self.summary
