"""Complaints: the rules, pure (no I/O). See DOMAIN.md "Complaints" and "Precise readings".

A complaint runs through up to three stages (1 local resolution, 2 investigation,
3 review panel). Each stage starts on a date that is day 0 of its clock — the receipt date
for the stage a complaint is received into, the escalation date for a later stage (or, when
configured, the date the stage-2 statement of complaint was agreed) — and ends in one
response, published as ``ComplaintClosed`` with its points, outcome, due date, whether it
was within timescale and how many working days it took. A complainant who is not satisfied
escalates to the next stage, which starts a new clock. Withdrawal closes the stage in
progress with the outcome ``withdrawn`` and ends the complaint.

Every transition returns the events it produced, built from ``shared.events`` models so
that they validate. What an event must not carry stays here and in the store: complainant
details, the raw case reference, point summaries and free-text notes.

Errors: :class:`InvalidTransition` (the complaint's state forbids it: HTTP 409),
:class:`InvalidValue` (a value breaks a rule, naming the field: HTTP 422),
:class:`UnknownComplaint` / :class:`UnknownAction` (HTTP 404).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared.calendar import WorkingCalendar, london_date
from shared.events import (
    ActionCompleted,
    ActionRaised,
    Complainant,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintPoint,
    ComplaintReceived,
    EventData,
    LearningIdentified,
    LearningOrigin,
    Outcome,
    Procedure,
)

FIRST_STAGE = 1
LAST_STAGE = 3

# --------------------------------------------------------------------------- errors


class ComplaintError(Exception):
    """A request the rules refuse; ``reason`` says why in words a complaints officer reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidTransition(ComplaintError):
    """The complaint's current state does not allow this (respond to a closed stage, …)."""


class InvalidValue(ComplaintError):
    """A value breaks a rule (an extension past the maximum, a date before the stage, …)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name


class UnknownComplaint(ComplaintError):
    pass


class UnknownAction(ComplaintError):
    pass


class AlreadyExists(ComplaintError):
    """An identifier supplied by the caller is already taken."""


# --------------------------------------------------------------------------- configuration


class Stage2Clock(enum.StrEnum):
    """When the stage-2 clock starts: the escalation (request) date, or the date the
    statement of complaint was agreed (DOMAIN.md: configurable)."""

    ESCALATION = "escalation"
    AGREED_STATEMENT = "agreed_statement"


@dataclass(frozen=True)
class StageTimescale:
    """Working days from the stage start: ``due`` for the response, ``maximum`` with any
    extension."""

    due: int
    maximum: int

    def __post_init__(self) -> None:
        if not 1 <= self.due <= self.maximum:
            raise ValueError(
                f"a stage timescale needs 1 <= due <= maximum working days, got due {self.due}, maximum {self.maximum}"
            )


def _default_procedures() -> dict[Procedure, dict[int, StageTimescale]]:
    authority_own = {
        1: StageTimescale(10, 20),
        2: StageTimescale(20, 20),
        3: StageTimescale(30, 30),
    }
    return {
        Procedure.STATUTORY_CHILDREN: {
            1: StageTimescale(10, 20),
            2: StageTimescale(25, 65),
            3: StageTimescale(30, 30),
        },
        Procedure.CORPORATE: dict(authority_own),
        Procedure.SEND: dict(authority_own),
    }


@dataclass(frozen=True)
class Timescales:
    """Response timescales per procedure and stage, and when the stage-2 clock starts.

    Defaults (DOMAIN.md): statutory children's — stage 1 due 10 / at most 20 working days,
    stage 2 25 / 65, stage 3 30 / 30; corporate and SEND — stage 1 10 / 20, stage 2 20 / 20,
    stage 3 30 / 30. The stage-2 clock starts at escalation unless configured otherwise.
    """

    procedures: Mapping[Procedure, Mapping[int, StageTimescale]] = field(default_factory=_default_procedures)
    stage2_clock: Stage2Clock = Stage2Clock.ESCALATION

    def stage(self, procedure: Procedure, stage: int) -> StageTimescale:
        try:
            return self.procedures[procedure][stage]
        except KeyError:
            raise ValueError(f"no timescale configured for {procedure} stage {stage}") from None

    def with_overrides(
        self,
        overrides: Mapping[str, Mapping[Any, Mapping[str, int]]],
        stage2_clock: Stage2Clock | str | None = None,
    ) -> Timescales:
        """These timescales with some replaced: ``{"corporate": {"2": {"due": 15,
        "maximum": 30}}}``; a stage that gives only ``due`` or ``maximum`` keeps the other."""
        procedures = {p: dict(stages) for p, stages in self.procedures.items()}
        for name, stages in overrides.items():
            procedure = Procedure(name)
            table = procedures.setdefault(procedure, {})
            for key, values in stages.items():
                number = int(key)
                if not FIRST_STAGE <= number <= LAST_STAGE:
                    raise ValueError(f"complaint stages are 1 to 3, got {key!r} for {name}")
                unknown = set(values) - {"due", "maximum"}
                if unknown:
                    raise ValueError(f"unknown timescale fields {sorted(unknown)} for {name} {key}")
                old = table.get(number)
                due = int(values.get("due", old.due if old else 0))
                maximum = int(values.get("maximum", old.maximum if old else due))
                table[number] = StageTimescale(due, maximum)
        clock = Stage2Clock(stage2_clock) if stage2_clock is not None else self.stage2_clock
        return Timescales(procedures, clock)


@dataclass(frozen=True)
class Rules:
    """What every transition needs: the timescales and the working-day calendar."""

    timescales: Timescales
    calendar: WorkingCalendar


# --------------------------------------------------------------------------- outcome


def roll_up(upheld: Sequence[bool]) -> Outcome:
    """All points upheld = upheld, none = not upheld, some = partially upheld."""
    if not upheld:
        raise ValueError("a response needs at least one point")
    if all(upheld):
        return Outcome.UPHELD
    if any(upheld):
        return Outcome.PARTIALLY_UPHELD
    return Outcome.NOT_UPHELD


# --------------------------------------------------------------------------- the aggregate


class Status(enum.StrEnum):
    OPEN = "open"  # the current stage is in progress: its clock runs
    RESPONDED = "responded"  # the current stage has its response; it may be escalated
    WITHDRAWN = "withdrawn"  # withdrawn by the complainant: nothing more happens


class ExtensionReason(enum.StrEnum):
    """Why a stage was extended: a vocabulary, so that the event carries no free text (the
    officer's own words go in the extension's note, which stays in this service)."""

    COMPLEX = "complex"
    COMPLAINANT_AGREED = "complainant_agreed"
    AWAITING_INFORMATION = "awaiting_information"
    INVESTIGATOR_AVAILABILITY = "investigator_availability"
    OTHER = "other"


@dataclass(frozen=True)
class Point:
    upheld: bool
    summary: str | None = None  # stays in this service: never in an event


@dataclass(frozen=True)
class Extension:
    new_due_date: date
    reason: ExtensionReason
    extended_at: datetime
    note: str | None = None  # stays in this service


@dataclass
class Stage:
    """One stage: its clock, extensions, acknowledgement and (once closed) its response."""

    number: int
    requested_at: datetime  # receipt, or the escalation to this stage
    clock_start: date | None = None  # day 0; None while the statement of complaint is awaited
    base_due_date: date | None = None  # fixed when the clock starts
    maximum_date: date | None = None  # fixed when the clock starts
    statement_agreed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    extensions: list[Extension] = field(default_factory=list)
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    points: list[Point] = field(default_factory=list)
    # as reported at closing
    due_date_at_close: date | None = None
    within_timescale: bool | None = None
    working_days_taken: int | None = None

    @property
    def requested_on(self) -> date:
        return london_date(self.requested_at)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def awaiting_statement(self) -> bool:
        return self.clock_start is None

    @property
    def due_date(self) -> date | None:
        """The latest extension's date where one was recorded, else the base due date;
        never past the maximum. None while the clock has not started."""
        if self.base_due_date is None or self.maximum_date is None:
            return None
        due = self.extensions[-1].new_due_date if self.extensions else self.base_due_date
        return min(due, self.maximum_date)

    def start_clock(self, start: date, timescale: StageTimescale, calendar: WorkingCalendar) -> None:
        self.clock_start = start
        self.base_due_date = calendar.add_working_days(start, timescale.due)
        self.maximum_date = calendar.add_working_days(start, timescale.maximum)


def _waits_for_statement(stage: int, timescales: Timescales) -> bool:
    """Stage 2 waits for its agreed statement of complaint to start its clock, where so
    configured (whether escalated to or received straight into)."""
    return stage == 2 and timescales.stage2_clock == Stage2Clock.AGREED_STATEMENT


def _not_before(field_name: str, when: datetime, earliest: date, what: str) -> date:
    day = london_date(when)
    if day < earliest:
        raise InvalidValue(field_name, f"{field_name} {day.isoformat()} is before {what} ({earliest.isoformat()})")
    return day


@dataclass
class Complaint:
    complaint_id: str
    procedure: Procedure
    category: str
    team: str
    service_area: str
    complainant: Complainant
    received_at: datetime
    stages: list[Stage]
    case_subject: str | None = None  # the pseudonymised CloudEvents subject, if any

    # -- reading

    @property
    def stage(self) -> Stage:
        """The current stage (the latest one)."""
        return self.stages[-1]

    @property
    def status(self) -> Status:
        current = self.stage
        if not current.closed:
            return Status.OPEN
        return Status.WITHDRAWN if current.outcome == Outcome.WITHDRAWN else Status.RESPONDED

    def stage_named(self, number: int) -> Stage | None:
        return next((s for s in self.stages if s.number == number), None)

    def _open_stage(self, doing: str) -> Stage:
        current = self.stage
        if self.status == Status.WITHDRAWN:
            raise InvalidTransition(
                f"complaint {self.complaint_id} was withdrawn at stage {current.number}; it cannot be {doing}"
            )
        if current.closed:
            assert current.closed_at is not None
            raise InvalidTransition(
                f"stage {current.number} of complaint {self.complaint_id} was responded to on "
                f"{london_date(current.closed_at).isoformat()} and is closed; it cannot be "
                f"{doing}" + (" (escalate it to start the next stage)" if current.number < LAST_STAGE else "")
            )
        return current

    # -- transitions

    @classmethod
    def receive(
        cls,
        rules: Rules,
        *,
        complaint_id: str,
        procedure: Procedure,
        category: str,
        team: str,
        service_area: str,
        complainant: Complainant,
        received_at: datetime,
        stage: int = FIRST_STAGE,
        case_subject: str | None = None,
    ) -> tuple[Complaint, list[EventData]]:
        """A new complaint, at stage 1 or straight into a later stage (day 0 = receipt)."""
        if not FIRST_STAGE <= stage <= LAST_STAGE:
            raise InvalidValue("stage", f"stage must be 1, 2 or 3, got {stage}")
        event = ComplaintReceived(
            complaint_id=complaint_id,
            procedure=procedure,
            stage=stage,
            category=category,
            team=team,
            service_area=service_area,
            received_at=received_at,
            complainant=complainant,
        )
        first = Stage(number=stage, requested_at=received_at)
        complaint = cls(
            complaint_id=complaint_id,
            procedure=procedure,
            category=category,
            team=team,
            service_area=service_area,
            complainant=complainant,
            received_at=received_at,
            stages=[first],
            case_subject=case_subject,
        )
        if not _waits_for_statement(stage, rules.timescales):
            first.start_clock(first.requested_on, rules.timescales.stage(procedure, stage), rules.calendar)
        return complaint, [event]

    def acknowledge(self, rules: Rules, *, acknowledged_at: datetime) -> list[EventData]:
        """Acknowledge the stage in progress (once per stage)."""
        current = self._open_stage("acknowledged")
        if current.acknowledged_at is not None:
            raise InvalidTransition(
                f"stage {current.number} of complaint {self.complaint_id} was already "
                f"acknowledged on {london_date(current.acknowledged_at).isoformat()}"
            )
        _not_before(
            "acknowledged_at",
            acknowledged_at,
            current.requested_on,
            f"stage {current.number} began",
        )
        current.acknowledged_at = acknowledged_at
        return [ComplaintAcknowledged(complaint_id=self.complaint_id, acknowledged_at=acknowledged_at)]

    def extension_date(self, rules: Rules, working_days: int) -> date:
        """The date ``working_days`` after the current due date (for "extend by N days")."""
        current = self._open_stage("extended")
        if current.due_date is None:
            raise self._awaiting_statement_error("extended")
        if working_days < 1:
            raise InvalidValue("extend_by_working_days", "an extension adds at least one working day")
        return rules.calendar.add_working_days(current.due_date, working_days)

    def extend(
        self,
        rules: Rules,
        *,
        new_due_date: date,
        reason: ExtensionReason,
        extended_at: datetime,
        note: str | None = None,
    ) -> list[EventData]:
        """Move the current stage's due date later, never past the procedure's maximum.

        The extension must be agreed while the stage is in progress and on or before its
        current due date: a response that is already late cannot be made "on time" after
        the fact.
        """
        current = self._open_stage("extended")
        if current.due_date is None or current.maximum_date is None or current.clock_start is None:
            raise self._awaiting_statement_error("extended")
        timescale = rules.timescales.stage(self.procedure, current.number)
        extended_on = _not_before("extended_at", extended_at, current.requested_on, f"stage {current.number} began")
        if extended_on > current.due_date:
            raise InvalidTransition(
                f"the due date of stage {current.number} ({current.due_date.isoformat()}) passed "
                f"before {extended_on.isoformat()}; an extension must be agreed on or before it"
            )
        if new_due_date <= current.due_date:
            raise InvalidValue(
                "new_due_date",
                f"the new due date {new_due_date.isoformat()} must be after the current due date "
                f"{current.due_date.isoformat()}",
            )
        if new_due_date > current.maximum_date:
            raise InvalidValue(
                "new_due_date",
                f"the new due date {new_due_date.isoformat()} is past the maximum for stage "
                f"{current.number} of a {self.procedure.value} complaint: at most "
                f"{timescale.maximum} working days from {current.clock_start.isoformat()}, that is "
                f"{current.maximum_date.isoformat()}",
            )
        if not rules.calendar.is_working_day(new_due_date):
            raise InvalidValue("new_due_date", f"the new due date {new_due_date.isoformat()} is not a working day")
        current.extensions.append(Extension(new_due_date, reason, extended_at, note))
        return [
            ComplaintExtended(
                complaint_id=self.complaint_id,
                stage=current.number,
                new_due_date=new_due_date,
                reason=reason.value,
            )
        ]

    def agree_statement(self, rules: Rules, *, agreed_at: datetime) -> list[EventData]:
        """Record the agreed statement of complaint: where configured, stage 2's day 0."""
        current = self._open_stage("given an agreed statement")
        if current.number != 2:
            raise InvalidTransition(
                f"a statement of complaint is agreed at stage 2; complaint {self.complaint_id} "
                f"is at stage {current.number}"
            )
        if rules.timescales.stage2_clock != Stage2Clock.AGREED_STATEMENT:
            raise InvalidTransition(
                "the stage-2 clock starts at escalation in this configuration; an agreed statement would not change it"
            )
        if current.statement_agreed_at is not None:
            raise InvalidTransition(
                f"the statement of complaint {self.complaint_id} was already agreed on "
                f"{london_date(current.statement_agreed_at).isoformat()}"
            )
        agreed_on = _not_before("agreed_at", agreed_at, current.requested_on, "stage 2 was requested")
        current.statement_agreed_at = agreed_at
        current.start_clock(agreed_on, rules.timescales.stage(self.procedure, 2), rules.calendar)
        return []  # no contract event carries it: the handler records it in the history

    def respond(self, rules: Rules, *, closed_at: datetime, points: Sequence[Point]) -> list[EventData]:
        """The stage's response: its points decide the outcome; the stage closes."""
        current = self._open_stage("responded to")
        if current.awaiting_statement:
            raise self._awaiting_statement_error("responded to")
        if not points:
            raise InvalidValue("points", "a response needs at least one point")
        outcome = roll_up([p.upheld for p in points])
        return [self._close(rules, current, closed_at, outcome, list(points))]

    def withdraw(self, rules: Rules, *, withdrawn_at: datetime) -> list[EventData]:
        """The complainant withdraws: the stage in progress closes as ``withdrawn``."""
        current = self._open_stage("withdrawn")
        return [self._close(rules, current, withdrawn_at, Outcome.WITHDRAWN, [], field_name="withdrawn_at")]

    def _close(
        self,
        rules: Rules,
        current: Stage,
        closed_at: datetime,
        outcome: Outcome,
        points: list[Point],
        field_name: str = "closed_at",
    ) -> ComplaintClosed:
        start = current.clock_start
        due = current.due_date
        if start is None or due is None:
            # Withdrawn before the statement of complaint was agreed: the clock never
            # started, so the stage is measured from its request date.
            provisional = replace(current, extensions=[])
            provisional.start_clock(
                current.requested_on,
                rules.timescales.stage(self.procedure, current.number),
                rules.calendar,
            )
            start, due = provisional.clock_start, provisional.due_date
        assert start is not None and due is not None
        closed_on = _not_before(field_name, closed_at, start, f"stage {current.number} started")
        current.closed_at = closed_at
        current.outcome = outcome
        current.points = points
        current.due_date_at_close = due
        current.within_timescale = closed_on <= due
        current.working_days_taken = rules.calendar.working_days_between(start, closed_on)
        return ComplaintClosed(
            complaint_id=self.complaint_id,
            stage=current.number,
            closed_at=closed_at,
            outcome=outcome,
            points=[ComplaintPoint(upheld=p.upheld) for p in points],  # summaries stay here
            due_date=due,
            within_timescale=current.within_timescale,
            working_days_taken=current.working_days_taken,
        )

    def escalate(self, rules: Rules, *, escalated_at: datetime) -> list[EventData]:
        """The complainant is not satisfied with the response: the next stage starts."""
        current = self.stage
        if self.status == Status.WITHDRAWN:
            raise InvalidTransition(
                f"complaint {self.complaint_id} was withdrawn at stage {current.number}; it cannot be escalated"
            )
        if self.status == Status.OPEN:
            raise InvalidTransition(
                f"stage {current.number} of complaint {self.complaint_id} has no response yet; "
                f"a stage is escalated after its response"
            )
        if current.number >= LAST_STAGE:
            raise InvalidTransition(
                f"complaint {self.complaint_id} is at stage {LAST_STAGE}, the last stage; it "
                f"cannot be escalated further"
            )
        assert current.closed_at is not None
        escalated_on = _not_before(
            "escalated_at",
            escalated_at,
            london_date(current.closed_at),
            f"stage {current.number}'s response",
        )
        following = Stage(number=current.number + 1, requested_at=escalated_at)
        if not _waits_for_statement(following.number, rules.timescales):
            following.start_clock(
                escalated_on,
                rules.timescales.stage(self.procedure, following.number),
                rules.calendar,
            )
        self.stages.append(following)
        return [
            ComplaintEscalated(
                complaint_id=self.complaint_id,
                from_stage=current.number,
                to_stage=following.number,
                escalated_at=escalated_at,
            )
        ]

    def _awaiting_statement_error(self, doing: str) -> InvalidTransition:
        return InvalidTransition(
            f"stage {self.stage.number} of complaint {self.complaint_id} waits for its agreed "
            f"statement of complaint, which starts its clock; it cannot be {doing} before that"
        )

    # -- learning and actions

    def identify_learning(
        self,
        *,
        learning_id: str,
        summary: str,
        team: str | None = None,
        service_area: str | None = None,
    ) -> LearningIdentified:
        return LearningIdentified(
            learning_id=learning_id,
            origin=LearningOrigin.COMPLAINT,
            origin_id=self.complaint_id,
            team=team or self.team,
            service_area=service_area or self.service_area,
            summary=summary,
        )

    def raise_action(
        self,
        *,
        action_id: str,
        owner_id: str,
        raised_at: datetime,
        due_date: date,
        summary: str,
        team: str | None = None,
        service_area: str | None = None,
        learning_id: str | None = None,
    ) -> tuple[Action, ActionRaised]:
        raised_on = _not_before("raised_at", raised_at, london_date(self.received_at), "the complaint was received")
        if due_date < raised_on:
            raise InvalidValue(
                "due_date",
                f"due_date {due_date.isoformat()} is before the action was raised ({raised_on.isoformat()})",
            )
        action = Action(
            action_id=action_id,
            complaint_id=self.complaint_id,
            team=team or self.team,
            service_area=service_area or self.service_area,
            owner_id=owner_id,
            raised_at=raised_at,
            due_date=due_date,
            summary=summary,
            learning_id=learning_id,
        )
        event = ActionRaised(
            action_id=action_id,
            origin=LearningOrigin.COMPLAINT,
            origin_id=self.complaint_id,
            team=action.team,
            service_area=action.service_area,
            owner_id=owner_id,
            raised_at=raised_at,
            due_date=due_date,
            summary=summary,
        )
        return action, event


@dataclass
class Action:
    """Something to be done because of what a complaint taught, followed up until done."""

    action_id: str
    complaint_id: str
    team: str
    service_area: str
    owner_id: str
    raised_at: datetime
    due_date: date
    summary: str
    learning_id: str | None = None
    completed_at: datetime | None = None
    evidence: str | None = None

    def complete(self, *, completed_at: datetime, evidence: str | None = None) -> list[EventData]:
        if self.completed_at is not None:
            raise InvalidTransition(
                f"action {self.action_id} was already completed on {london_date(self.completed_at).isoformat()}"
            )
        _not_before("completed_at", completed_at, london_date(self.raised_at), "the action was raised")
        self.completed_at = completed_at
        self.evidence = evidence
        return [ActionCompleted(action_id=self.action_id, completed_at=completed_at, evidence=evidence)]


# --------------------------------------------------------------------------- queries


def working_days_left(calendar: WorkingCalendar, due_date: date, as_of: date) -> int:
    """Working days from ``as_of`` to ``due_date``: 0 on the due date, negative when past it
    (minus the working days since the due date)."""
    if due_date >= as_of:
        return calendar.working_days_between(as_of, due_date)
    return -calendar.working_days_between(due_date, as_of)
