"""The action lifecycle's rules: pure, no I/O.

`raise_action` turns a `RaiseAction` request on an `ActionOrigin` into an `Action` and its
`ActionRaised`; `Action.complete` records the completion and returns `ActionCompleted`.
A request repeated with the same `action_id` (a client's retry) changes nothing; the same id
with other content, or a second, different completion, is a Conflict.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.bounds import AwareCalendarDateTime, CalendarDate, text
from shared.calendar import london_date
from shared.errors import Conflict, Invalid, Problem
from shared.events import ActionCompleted, ActionRaised, LearningOrigin
from shared.text import occurred_at, published_text

MAX_SUMMARY = 280
MAX_EVIDENCE = 1000
Id = Annotated[str, text(200, 1), Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")]


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class RaiseAction(BaseModel):
    """An action raised on an origin, as staff record it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: Id | None = Field(default=None, description="your id for it (a retry with the same id adds nothing)")
    owner_id: Id = Field(description="who will see it done, e.g. the team manager", examples=["manager-through-care"])
    due_date: CalendarDate
    summary: str = Field(
        description=f"what will be done; at most {MAX_SUMMARY} characters, published in ActionRaised, "
        "so no child's name and no contact details"
    )
    team: Id | None = Field(
        default=None,
        description="the team that owns it: an action on an origin that has a team (an audit, a complaint, "
        "a response about a team) belongs to that team; elsewhere (a concern, a theme) name one",
    )
    raised_at: AwareCalendarDateTime | None = Field(
        default=None, description="default: now; to back-date, a date and time with its offset"
    )
    learning_id: Id | None = Field(default=None, description="the recorded learning it answers (complaints)")

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return published_text(v, MAX_SUMMARY)


class CompleteAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    completed_at: AwareCalendarDateTime | None = Field(
        default=None, description="default: now; to back-date, a date and time with its offset"
    )
    evidence: str | None = Field(
        default=None,
        description=f"what shows it was done; at most {MAX_EVIDENCE} characters, published in "
        "ActionCompleted, so no child's name and no contact details",
    )

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else published_text(v, MAX_EVIDENCE)


@dataclass(frozen=True)
class ActionOrigin:
    """What an action is raised on, as the strand that owns it describes it."""

    origin: LearningOrigin
    origin_id: str
    service_area: str
    team: str | None  # the origin's own team (its actions belong to it); None: the request names one
    not_before: datetime | None = None  # the earliest an action can be raised (the origin's own time)
    subject: str | None = None  # the CloudEvents subject of its events (a case pseudonym), if any
    describes: str = "origin"  # how the origin is named in messages: "audit", "response", …


@dataclass(frozen=True)
class Action:
    """Something to be done because of what was learned, followed until done."""

    action_id: str
    origin: LearningOrigin
    origin_id: str
    team: str
    service_area: str
    owner_id: str
    summary: str
    due_date: date
    raised_at: datetime
    raised_by: str
    learning_id: str | None = None
    subject: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    evidence: str | None = None

    @property
    def status(self) -> ActionStatus:
        return ActionStatus.OPEN if self.completed_at is None else ActionStatus.COMPLETED

    def overdue(self, today: date) -> bool:
        """Open past its due date (London dates)."""
        return self.completed_at is None and self.due_date < today

    @property
    def on_time(self) -> bool | None:
        """Completed on or before its due date (London date); None while open."""
        return None if self.completed_at is None else london_date(self.completed_at) <= self.due_date

    @property
    def fingerprint(self) -> str:
        """What a retry must repeat; the time is left out (a retry that let the service stamp
        it arrives later)."""
        content = {
            "origin": str(self.origin),
            "origin_id": self.origin_id,
            "team": self.team,
            "owner_id": self.owner_id,
            "summary": self.summary,
            "due_date": self.due_date.isoformat(),
            "learning_id": self.learning_id,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def raised_event(self) -> ActionRaised:
        return ActionRaised(
            action_id=self.action_id,
            origin=self.origin,
            origin_id=self.origin_id,
            team=self.team,
            service_area=self.service_area,
            owner_id=self.owner_id,
            raised_at=self.raised_at,
            due_date=self.due_date,
            summary=self.summary,
        )

    def complete(
        self, cmd: CompleteAction, *, completed_by: str, now: datetime
    ) -> tuple[Action, ActionCompleted | None]:
        """The action completed and its event; (self, None) when this repeats its completion
        (the same time and evidence). Another completion of a completed action is a Conflict."""
        if self.completed_at is not None:
            if cmd.completed_at in (None, self.completed_at) and cmd.evidence == self.evidence:
                return self, None
            raise Conflict(
                f"action {self.action_id!r} was already completed on {london_date(self.completed_at).isoformat()}"
            )
        completed_at = occurred_at(cmd.completed_at, now, "completed_at")
        if completed_at < self.raised_at:
            raise Invalid(
                f"{completed_at.isoformat()} is before the action was raised ({self.raised_at.isoformat()})",
                "completed_at",
            )
        done = replace(self, completed_at=completed_at, completed_by=completed_by, evidence=cmd.evidence)
        return done, ActionCompleted(action_id=self.action_id, completed_at=completed_at, evidence=cmd.evidence)


def raise_action(origin: ActionOrigin, cmd: RaiseAction, *, action_id: str, raised_by: str, now: datetime) -> Action:
    """Validate an action on `origin`; Invalid lists every problem."""
    problems: list[Problem] = []
    team = origin.team or cmd.team
    if origin.team is None and cmd.team is None:
        problems.append(Problem(("team",), f"is required: a {origin.describes}'s action names the team that owns it"))
    elif origin.team is not None and cmd.team not in (None, origin.team):
        problems.append(
            Problem(("team",), f"the {origin.describes} is about team {origin.team!r}: its actions belong to that team")
        )
    try:
        raised_at = occurred_at(cmd.raised_at, now, "raised_at")
    except Invalid as exc:
        problems.extend(exc.problems)
        raised_at = now
    if origin.not_before is not None and raised_at < origin.not_before:
        problems.append(
            Problem(
                ("raised_at",),
                f"{raised_at.isoformat()} is before the {origin.describes} ({origin.not_before.isoformat()})",
            )
        )
    raised_on = london_date(raised_at)
    if cmd.due_date < raised_on:
        problems.append(
            Problem(
                ("due_date",), f"{cmd.due_date.isoformat()} is before the action was raised ({raised_on.isoformat()})"
            )
        )
    if problems:
        raise Invalid.of(problems)
    assert team is not None
    return Action(
        action_id=action_id,
        origin=origin.origin,
        origin_id=origin.origin_id,
        team=team,
        service_area=origin.service_area,
        owner_id=cmd.owner_id,
        summary=cmd.summary,
        due_date=cmd.due_date,
        raised_at=raised_at,
        raised_by=raised_by,
        learning_id=cmd.learning_id,
        subject=origin.subject,
    )
