"""Complaints: the records and rules, pure (no I/O). See DOMAIN.md "Complaints" and
"Precise readings" (and their 2026-12 additions); the timescales are the authority's
(``shared.complaint_timescales``, read by reporting too), counted on the working-day calendar.

A complaint runs through up to three stages (1 local resolution, 2 investigation,
3 review panel). Each stage starts on a date that is day 0 of its clock — the receipt date
for the stage a complaint is received into, the escalation date for a later stage (or, when
configured, the date the stage-2 statement of complaint was agreed) — and ends in one
response, published as ``ComplaintClosed`` with its points, outcome, due date, whether it
was within timescale and how many working days it took. A complainant who is not satisfied
escalates to the next stage, which starts a new clock (a stage-2 request after the
escalation window is accepted and flagged ``late_request``). Stage 3's response is due 20
working days after the latest review panel (``ComplaintPanelHeld``), or 50 after the request
while no panel is recorded, with no extension. Withdrawal closes the stage in progress with
the outcome ``withdrawn`` and ends the complaint. At any time the complainant may go to the
Ombudsman (``ComplaintReferredToOmbudsman``), whose decision is ``OmbudsmanDecided``.

Each command method of :class:`Complaint` returns the event it causes, built from
``shared.events`` models so that it validates. What an event must not carry stays in these
records and the store: complainant details, the raw case reference, point summaries and
free-text notes. Actions on a complaint are the shared lifecycle (``shared.actions``): a
complaint only says where they are raised (:meth:`Complaint.action_origin`).

Refusals are ``shared.errors``: :class:`Conflict` (the complaint's state forbids it: 409),
:class:`Invalid` (a value breaks a rule, naming the field: 422).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared.actions.domain import ActionOrigin
from shared.calendar import WorkingCalendar, london_date
from shared.complaint_timescales import FIRST_STAGE, LAST_STAGE, PANEL_STAGE, StageTimescale, Timescales
from shared.errors import Conflict, Invalid
from shared.events import (
    Complainant,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintExtended,
    ComplaintPanelHeld,
    ComplaintPoint,
    ComplaintReceived,
    ComplaintReferredToOmbudsman,
    ComplaintStatementAgreed,
    LearningIdentified,
    LearningOrigin,
    OmbudsmanDecided,
    OmbudsmanFinding,
    Outcome,
    Procedure,
)
from shared.pseudonym import DEFAULT_KEY_ID, pseudonymise, subject_for

# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rules:
    """What every transition needs: the authority's timescales (shared.complaint_timescales,
    the same that reporting reads) and the working-day calendar."""

    timescales: Timescales
    calendar: WorkingCalendar


def working_days_left(calendar: WorkingCalendar, due_date: date, as_of: date) -> int:
    """Working days from ``as_of`` to ``due_date``: 0 on the due date, negative when past it
    (minus the working days since the due date)."""
    if due_date >= as_of:
        return calendar.working_days_between(as_of, due_date)
    return -calendar.working_days_between(due_date, as_of)


def late_escalation(rules: Rules, responded_on: date, requested_on: date) -> bool:
    """A stage-2 request is late when it is after the escalation window's last day: the
    20th working day (by default) after the stage-1 response's date ("within N working days
    of D" ends on the N-th working day after D, DOMAIN.md "Calendar"), so a request on the
    Saturday after a Friday deadline is late."""
    return requested_on > rules.calendar.add_working_days(responded_on, rules.timescales.escalation_window)


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


# --------------------------------------------------------------------------- records


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


@dataclass(frozen=True)
class ComplainantDetails:
    """Who complained, as the complaints officer needs it. Never in an event."""

    name: str | None
    contact: str | None


@dataclass(frozen=True)
class PrivateDetails:
    """What of a complaint stays in this service and only complaints officers read: the raw
    case reference and the complainant's details (None when none were given)."""

    case_ref: str | None = None
    complainant: ComplainantDetails | None = None


@dataclass(frozen=True)
class CaseSubjects:
    """The CloudEvents subject of a complaint about a case: a keyed pseudonym of its case
    reference (shared.pseudonym), so that the raw reference never leaves this service."""

    key: str
    key_id: str = DEFAULT_KEY_ID  # written into the pseudonym: `k1:<hex>`

    def of(self, case_ref: str | None) -> str | None:
        """None when no case reference was given (or only white space)."""
        if case_ref is None or not case_ref.strip():
            return None
        return subject_for(pseudonymise(case_ref, self.key, self.key_id))


@dataclass(frozen=True)
class HistoryEntry:
    """One step in a complaint's history: an event it published (``event_id``) or a step
    that stays in this service (an agreed statement of complaint). ``data`` carries no
    personal details."""

    kind: str
    event_id: str | None
    data: dict[str, Any]
    actor: str | None
    recorded_at: datetime


@dataclass
class OmbudsmanReferral:
    """A referral of the complaint to the Local Government and Social Care Ombudsman, and
    (once made) the Ombudsman's decision."""

    referred_at: datetime
    decided_at: datetime | None = None
    finding: OmbudsmanFinding | None = None

    @property
    def decided(self) -> bool:
        return self.decided_at is not None


@dataclass(frozen=True)
class Learning:
    """What a complaint taught, published as ``LearningIdentified``."""

    learning_id: str
    complaint_id: str
    team: str
    service_area: str
    summary: str
    identified_at: datetime
    recorded_by: str | None

    def identified_event(self) -> LearningIdentified:
        return LearningIdentified(
            learning_id=self.learning_id,
            origin=LearningOrigin.COMPLAINT,
            origin_id=self.complaint_id,
            team=self.team,
            service_area=self.service_area,
            summary=self.summary,
        )


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
    panels: list[datetime] = field(default_factory=list)  # stage 3: the review panels held
    late_request: bool = False  # stage 2: requested after the escalation window
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

    @property
    def latest_panel_on(self) -> date | None:
        """The London date of the latest review panel held (stage 3), None before any."""
        return max((london_date(p) for p in self.panels), default=None)

    def start_clock(self, start: date, timescale: StageTimescale, calendar: WorkingCalendar) -> None:
        self.clock_start = start
        self.base_due_date = calendar.add_working_days(start, timescale.due)
        self.maximum_date = calendar.add_working_days(start, timescale.maximum)

    def due_after_panel(self, timescales: Timescales, calendar: WorkingCalendar) -> None:
        """Stage 3 with a panel recorded: due ``panel_response`` working days after the latest
        panel's London date, with no extension (the maximum is that date too). The clock
        still starts at the stage-3 request (working days taken count from it)."""
        latest = self.latest_panel_on
        if latest is not None:
            self.base_due_date = calendar.add_working_days(latest, timescales.panel_response)
            self.maximum_date = self.base_due_date


def _waits_for_statement(stage: int, timescales: Timescales) -> bool:
    """Stage 2 waits for its agreed statement of complaint to start its clock, where so
    configured (whether escalated to or received straight into)."""
    return stage == 2 and timescales.starts_stage2_at_statement


def _not_before(field_name: str, when: datetime, earliest: date, what: str) -> date:
    day = london_date(when)
    if day < earliest:
        raise Invalid(f"{field_name} {day.isoformat()} is before {what} ({earliest.isoformat()})", field_name)
    return day


# --------------------------------------------------------------------------- the complaint


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
    ombudsman: list[OmbudsmanReferral] = field(default_factory=list)

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

    @property
    def open_due_date(self) -> date | None:
        """The current stage's due date while it is open (None once it is closed, or while
        its clock waits for the agreed statement)."""
        return None if self.stage.closed else self.stage.due_date

    def _open_stage(self, doing: str) -> Stage:
        current = self.stage
        if self.status == Status.WITHDRAWN:
            raise Conflict(
                f"complaint {self.complaint_id} was withdrawn at stage {current.number}; it cannot be {doing}"
            )
        if current.closed_at is not None:
            raise Conflict(
                f"stage {current.number} of complaint {self.complaint_id} was responded to on "
                f"{london_date(current.closed_at).isoformat()} and is closed; it cannot be "
                f"{doing}" + (" (escalate it to start the next stage)" if current.number < LAST_STAGE else "")
            )
        return current

    def _awaiting_statement(self, doing: str) -> Conflict:
        return Conflict(
            f"stage {self.stage.number} of complaint {self.complaint_id} waits for its agreed "
            f"statement of complaint, which starts its clock; it cannot be {doing} before that"
        )

    # -- receipt

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
    ) -> Complaint:
        """A new complaint, at stage 1 or straight into a later stage (day 0 = receipt);
        :meth:`received_event` is what it publishes."""
        if not FIRST_STAGE <= stage <= LAST_STAGE:
            raise Invalid(f"stage must be 1, 2 or 3, got {stage}", "stage")
        first = Stage(number=stage, requested_at=received_at)
        if not _waits_for_statement(stage, rules.timescales):
            first.start_clock(first.requested_on, rules.timescales.stage(procedure, stage), rules.calendar)
        return cls(
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

    def received_event(self) -> ComplaintReceived:
        return ComplaintReceived(
            complaint_id=self.complaint_id,
            procedure=self.procedure,
            stage=self.stages[0].number,
            category=self.category,
            team=self.team,
            service_area=self.service_area,
            received_at=self.received_at,
            complainant=self.complainant,
        )

    # -- the stage in progress

    def acknowledge(self, *, acknowledged_at: datetime) -> ComplaintAcknowledged:
        """Acknowledge the stage in progress (once per stage)."""
        current = self._open_stage("acknowledged")
        if current.acknowledged_at is not None:
            raise Conflict(
                f"stage {current.number} of complaint {self.complaint_id} was already "
                f"acknowledged on {london_date(current.acknowledged_at).isoformat()}"
            )
        _not_before("acknowledged_at", acknowledged_at, current.requested_on, f"stage {current.number} began")
        current.acknowledged_at = acknowledged_at
        return ComplaintAcknowledged(complaint_id=self.complaint_id, acknowledged_at=acknowledged_at)

    def extension_date(self, rules: Rules, working_days: int) -> date:
        """The date ``working_days`` after the current due date (for "extend by N days")."""
        current = self._open_stage("extended")
        self._no_extension_at_panel_stage(current)
        if current.due_date is None:
            raise self._awaiting_statement("extended")
        if working_days < 1:
            raise Invalid("an extension adds at least one working day", "extend_by_working_days")
        return rules.calendar.add_working_days(current.due_date, working_days)

    def extend(
        self,
        rules: Rules,
        *,
        reason: ExtensionReason,
        extended_at: datetime,
        new_due_date: date | None = None,
        by_working_days: int | None = None,
        note: str | None = None,
    ) -> ComplaintExtended:
        """Extend the current stage to ``new_due_date``, or by ``by_working_days`` after its
        current due date (exactly one of the two); a refusal names the field the caller gave."""
        if (new_due_date is None) == (by_working_days is None):
            raise Invalid("give either new_due_date or extend_by_working_days (exactly one)", "new_due_date")
        if new_due_date is not None:
            return self._extend_to(rules, new_due_date, reason=reason, extended_at=extended_at, note=note)
        assert by_working_days is not None
        due = self.extension_date(rules, by_working_days)
        try:
            return self._extend_to(rules, due, reason=reason, extended_at=extended_at, note=note)
        except Invalid as exc:
            raise Invalid(
                f"{by_working_days} working days after the current due date: {exc.reason}", "extend_by_working_days"
            ) from None

    def _extend_to(
        self, rules: Rules, new_due_date: date, *, reason: ExtensionReason, extended_at: datetime, note: str | None
    ) -> ComplaintExtended:
        """Move the current stage's due date later, never past the procedure's maximum.

        The extension must be agreed while the stage is in progress and on or before its
        current due date: a response that is already late cannot be made "on time" after
        the fact.
        """
        current = self._open_stage("extended")
        self._no_extension_at_panel_stage(current)
        if current.due_date is None or current.maximum_date is None or current.clock_start is None:
            raise self._awaiting_statement("extended")
        extended_on = _not_before("extended_at", extended_at, current.requested_on, f"stage {current.number} began")
        if extended_on > current.due_date:
            raise Conflict(
                f"the due date of stage {current.number} ({current.due_date.isoformat()}) passed "
                f"before {extended_on.isoformat()}; an extension must be agreed on or before it"
            )
        self._check_new_due_date(rules, current, new_due_date)
        current.extensions.append(Extension(new_due_date, reason, extended_at, note))
        return ComplaintExtended(
            complaint_id=self.complaint_id, stage=current.number, new_due_date=new_due_date, reason=reason.value
        )

    def _no_extension_at_panel_stage(self, current: Stage) -> None:
        if current.number == PANEL_STAGE:
            raise Conflict(
                f"stage {PANEL_STAGE} has no extension: its response is due a fixed number of working days "
                "after the review panel (or after the request while no panel is recorded)"
            )

    def _check_new_due_date(self, rules: Rules, current: Stage, new_due_date: date) -> None:
        assert current.due_date is not None and current.maximum_date is not None and current.clock_start is not None
        if new_due_date <= current.due_date:
            raise Invalid(
                f"the new due date {new_due_date.isoformat()} must be after the current due date "
                f"{current.due_date.isoformat()}",
                "new_due_date",
            )
        if new_due_date > current.maximum_date:
            maximum = rules.timescales.stage(self.procedure, current.number).maximum
            raise Invalid(
                f"the new due date {new_due_date.isoformat()} is past the maximum for stage "
                f"{current.number} of a {self.procedure.value} complaint: at most "
                f"{maximum} working days from {current.clock_start.isoformat()}, that is "
                f"{current.maximum_date.isoformat()}",
                "new_due_date",
            )
        if not rules.calendar.is_working_day(new_due_date):
            raise Invalid(f"the new due date {new_due_date.isoformat()} is not a working day", "new_due_date")

    def agree_statement(self, rules: Rules, *, agreed_at: datetime) -> ComplaintStatementAgreed:
        """Record the agreed stage-2 statement of complaint (once). Where the authority
        configures it, it is stage 2's day 0 (its clock starts); elsewhere it is recorded and
        the clock stays at the escalation."""
        current = self._open_stage("given an agreed statement")
        if current.number != 2:
            raise Conflict(
                f"a statement of complaint is agreed at stage 2; complaint {self.complaint_id} "
                f"is at stage {current.number}"
            )
        if current.statement_agreed_at is not None:
            raise Conflict(
                f"the statement of complaint {self.complaint_id} was already agreed on "
                f"{london_date(current.statement_agreed_at).isoformat()}"
            )
        agreed_on = _not_before("agreed_at", agreed_at, current.requested_on, "stage 2 was requested")
        current.statement_agreed_at = agreed_at
        if rules.timescales.starts_stage2_at_statement:
            current.start_clock(agreed_on, rules.timescales.stage(self.procedure, 2), rules.calendar)
        return ComplaintStatementAgreed(complaint_id=self.complaint_id, agreed_at=agreed_at)

    def hold_panel(self, rules: Rules, *, held_at: datetime) -> ComplaintPanelHeld:
        """A stage-3 review panel met: the response is due ``panel_response`` working days
        after the latest panel held (a panel reconvened moves it; one recorded late, with an
        earlier date, does not)."""
        current = self._open_stage("given a review panel")
        if current.number != PANEL_STAGE:
            raise Conflict(
                f"a review panel is held at stage {PANEL_STAGE}; complaint {self.complaint_id} "
                f"is at stage {current.number}"
            )
        _not_before("held_at", held_at, current.requested_on, f"stage {PANEL_STAGE} was requested")
        current.panels.append(held_at)
        current.due_after_panel(rules.timescales, rules.calendar)
        return ComplaintPanelHeld(complaint_id=self.complaint_id, held_at=held_at)

    # -- the Ombudsman

    def refer_to_ombudsman(self, *, referred_at: datetime) -> ComplaintReferredToOmbudsman:
        """The complainant took the complaint to the Ombudsman (at any stage: the Ombudsman
        decides whether it is premature). One referral at a time: a new one only after the
        Ombudsman decided the last."""
        pending = self._pending_referral()
        if pending is not None:
            raise Conflict(
                f"complaint {self.complaint_id} was referred to the Ombudsman on "
                f"{london_date(pending.referred_at).isoformat()} and awaits its decision"
            )
        _not_before("referred_at", referred_at, london_date(self.received_at), "the complaint was received")
        self.ombudsman.append(OmbudsmanReferral(referred_at))
        return ComplaintReferredToOmbudsman(complaint_id=self.complaint_id, referred_at=referred_at)

    def record_ombudsman_decision(self, *, decided_at: datetime, finding: OmbudsmanFinding) -> OmbudsmanDecided:
        """The Ombudsman's decision on the pending referral."""
        pending = self._pending_referral()
        if pending is None:
            raise Conflict(f"complaint {self.complaint_id} has no referral to the Ombudsman awaiting a decision")
        _not_before("decided_at", decided_at, london_date(pending.referred_at), "the referral")
        pending.decided_at = decided_at
        pending.finding = finding
        return OmbudsmanDecided(complaint_id=self.complaint_id, decided_at=decided_at, finding=finding)

    def _pending_referral(self) -> OmbudsmanReferral | None:
        return next((r for r in self.ombudsman if not r.decided), None)

    # -- closing a stage

    def respond(self, rules: Rules, *, closed_at: datetime, points: Sequence[Point]) -> ComplaintClosed:
        """The stage's response: its points decide the outcome; the stage closes."""
        current = self._open_stage("responded to")
        if current.awaiting_statement:
            raise self._awaiting_statement("responded to")
        if not points:
            raise Invalid("a response needs at least one point", "points")
        outcome = roll_up([p.upheld for p in points])
        return self._close(rules, current, closed_at, outcome, list(points))

    def withdraw(self, rules: Rules, *, withdrawn_at: datetime) -> ComplaintClosed:
        """The complainant withdraws: the stage in progress closes as ``withdrawn``."""
        current = self._open_stage("withdrawn")
        return self._close(rules, current, withdrawn_at, Outcome.WITHDRAWN, [], field_name="withdrawn_at")

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
                current.requested_on, rules.timescales.stage(self.procedure, current.number), rules.calendar
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

    def escalate(self, rules: Rules, *, escalated_at: datetime) -> ComplaintEscalated:
        """The complainant is not satisfied with the response: the next stage starts."""
        current = self.stage
        if self.status == Status.WITHDRAWN:
            raise Conflict(
                f"complaint {self.complaint_id} was withdrawn at stage {current.number}; it cannot be escalated"
            )
        if current.closed_at is None:
            raise Conflict(
                f"stage {current.number} of complaint {self.complaint_id} has no response yet; "
                f"a stage is escalated after its response"
            )
        if current.number >= LAST_STAGE:
            raise Conflict(
                f"complaint {self.complaint_id} is at stage {LAST_STAGE}, the last stage; "
                "it cannot be escalated further"
            )
        escalated_on = _not_before(
            "escalated_at", escalated_at, london_date(current.closed_at), f"stage {current.number}'s response"
        )
        following = Stage(number=current.number + 1, requested_at=escalated_at)
        if not _waits_for_statement(following.number, rules.timescales):
            following.start_clock(
                escalated_on, rules.timescales.stage(self.procedure, following.number), rules.calendar
            )
        # Accepted (the authority's discretion), flagged; never for 2 -> 3.
        following.late_request = current.number == FIRST_STAGE and late_escalation(
            rules, london_date(current.closed_at), escalated_on
        )
        self.stages.append(following)
        return ComplaintEscalated(
            complaint_id=self.complaint_id,
            from_stage=current.number,
            to_stage=following.number,
            escalated_at=escalated_at,
            late_request=following.late_request,
        )

    # -- the learning loop

    def identify_learning(
        self,
        *,
        learning_id: str,
        summary: str,
        identified_at: datetime,
        recorded_by: str | None,
        team: str | None = None,
        service_area: str | None = None,
    ) -> Learning:
        """What the complaint taught: the complaint's team and service area unless named."""
        return Learning(
            learning_id=learning_id,
            complaint_id=self.complaint_id,
            team=team or self.team,
            service_area=service_area or self.service_area,
            summary=summary,
            identified_at=identified_at,
            recorded_by=recorded_by,
        )

    def action_origin(self, *, learning_id: str | None = None, learning: Learning | None = None) -> ActionOrigin:
        """Where an action on this complaint is raised: its team and service area, not
        before the complaint was received, under its case pseudonym. ``learning_id``, when
        given, must name learning recorded for this complaint (``learning``, as found)."""
        if learning_id is not None and (learning is None or learning.complaint_id != self.complaint_id):
            raise Invalid(f"no learning {learning_id!r} was recorded for this complaint", "learning_id")
        return ActionOrigin(
            origin=LearningOrigin.COMPLAINT,
            origin_id=self.complaint_id,
            service_area=self.service_area,
            team=self.team,
            not_before=self.received_at,
            subject=self.case_subject,
            describes="complaint",
        )
