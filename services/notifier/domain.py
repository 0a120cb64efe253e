"""The notifier's records and rules: who is told about a follow-up, when, and in what words.

Pure: no I/O. A follow-up's transitions come from reporting (`FollowUpOpened`, `Due`,
`Overdue`, `Closed`); `Due` and `Overdue` are chased — the action's owner (for an `action`
follow-up, or any whose origin is an action) and the team's manager are e-mailed, each
(follow-up, transition, address) once. `Opened` and `Closed` only tell the notifier what it
needs to know (the rule, team and due date; that nobody need be chased any more).

A message never carries a child's details, a case reference, a name or any free text from an
event: it is made from the rule (an identifier, said in plain words), the team (an
identifier), dates, the number of days overdue and a link to the follow-up.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, Protocol

from shared.events import FollowUpOpened

Delivery = Literal["immediate", "daily"]
Role = Literal["owner", "team-manager"]


class Transition(enum.StrEnum):
    OPENED = "opened"
    DUE = "due"
    OVERDUE = "overdue"
    CLOSED = "closed"


class Outcome(enum.StrEnum):
    """What became of one transition for one address (or for nobody: address "")."""

    SENT = "sent"  # e-mailed (or, channel `none`, recorded as if it were)
    QUEUED = "queued"  # waiting for the address's daily digest
    NOBODY = "nobody"  # no address for anyone who should be told (visible to ops)
    HELD = "held"  # the follow-up is not known yet: its FollowUpOpened has not arrived
    CLOSED = "closed"  # the follow-up closed before it was chased
    LATE = "late"  # published long after its due date: history being loaded, not news
    REFUSED = "refused"  # the address was refused for good (the message dead-letters)


# Outcomes a later attempt may replace: a held transition is chased once its follow-up is
# known, a refused address is tried again when its message is replayed from the DLQ.
REPLACEABLE = frozenset({Outcome.HELD, Outcome.REFUSED})
# Outcomes recorded for nobody in particular (address "").
PLACEHOLDERS = frozenset({Outcome.HELD, Outcome.NOBODY})

# The rules of DOMAIN.md "Closing the learning loop", in plain words.
RULE_WORDS: dict[str, str] = {
    "action": "an action raised to put something right is due to be completed",
    "complaint-learning": "learning from an upheld complaint needs an action completed",
    "re-audit": "a case audit graded requires improvement or inadequate needs a re-audit",
    "concern-targeted-audit": "an area of concern needs its targeted audit and review",
    "feedback-response": "poor feedback results need a 'you said, we did' response",
    "safeguarding-alert": "a safeguarding answer in feedback needs an action completed",
    "concern-rework": "a concern whose measures did not work needs a new concern with new measures",
    "inspection-finding": "an inspection finding needs an action raised to answer it",
}


def rule_in_words(rule: str) -> str:
    """The rule in plain words; an unknown rule by its identifier."""
    return RULE_WORDS.get(rule, f"follow-up rule '{rule}'")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FollowUp:
    """What the notifier knows of one follow-up. A `FollowUpClosed` may arrive before its
    `FollowUpOpened` (a redelivery, a replay): then only `closed_on` is known."""

    followup_id: str
    rule: str | None = None
    origin: str | None = None
    origin_id: str | None = None
    team: str | None = None
    service_area: str | None = None
    due_date: date | None = None
    closed_on: date | None = None

    @property
    def known(self) -> bool:
        return self.rule is not None

    @property
    def action_id(self) -> str | None:
        """The action whose owner is told: an `action` follow-up's origin_id is its action,
        as is the origin_id of any follow-up whose origin is an action."""
        if self.rule == "action" or self.origin == "action":
            return self.origin_id
        return None

    def opened(self, event: FollowUpOpened) -> FollowUp:
        return replace(
            self,
            rule=event.rule,
            origin=event.origin,
            origin_id=event.origin_id,
            team=event.team,
            service_area=event.service_area,
            due_date=event.due_date,
        )

    def closed(self, on: date) -> FollowUp:
        return replace(self, closed_on=on if self.closed_on is None else min(self.closed_on, on))


@dataclass(frozen=True)
class Chase:
    """One transition to chase (Due or Overdue), as reporting published it."""

    followup_id: str
    transition: Transition
    due_date: date
    published_on: date  # the London date of the event's `time`
    days_overdue: int = 0

    def days_overdue_on(self, today: date) -> int:
        if self.transition is not Transition.OVERDUE:
            return 0
        return max(self.days_overdue, (today - self.due_date).days, 1)


@dataclass(frozen=True)
class Contact:
    """A directory entry: an address and how its owner likes to be told (None: the default)."""

    address: str
    delivery: Delivery | None = None


@dataclass(frozen=True)
class Recipient:
    address: str
    role: Role
    delivery: Delivery


@dataclass(frozen=True)
class Notice:
    """One transition of one follow-up for one address ("" for nobody in particular)."""

    followup_id: str
    transition: Transition
    address: str
    status: Outcome
    due_date: date
    published_on: date
    days_overdue: int = 0
    role: Role | None = None
    reason: str | None = None
    channel: str | None = None
    digest_day: date | None = None

    @classmethod
    def of(cls, chase: Chase, status: Outcome, *, recipient: Recipient | None = None, **more: object) -> Notice:
        return cls(
            followup_id=chase.followup_id,
            transition=chase.transition,
            address=recipient.address if recipient else "",
            role=recipient.role if recipient else None,
            status=status,
            due_date=chase.due_date,
            published_on=chase.published_on,
            days_overdue=chase.days_overdue,
            **more,  # type: ignore[arg-type]
        )

    @property
    def chase(self) -> Chase:
        return Chase(self.followup_id, self.transition, self.due_date, self.published_on, self.days_overdue)


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Policy:
    """The settings the rules need: where the links point, the default delivery, and when a
    transition is too late to be news."""

    public_url: str
    default_delivery: Delivery = "immediate"
    late_days: int = 14

    def link(self, followup_id: str) -> str:
        from urllib.parse import quote

        # the dashboard (a single page at /) opens the follow-up named in `?followup=`
        return f"{self.public_url.rstrip('/')}/?followup={quote(followup_id, safe='')}"

    def screen(self, followup: FollowUp | None, chase: Chase) -> Outcome | None:
        """Why nobody is told about `chase` (closed, not known yet, late), or None: tell."""
        if followup is not None and followup.closed_on is not None:
            return Outcome.CLOSED
        if followup is None or not followup.known:
            return Outcome.HELD
        if (chase.published_on - chase.due_date).days >= self.late_days:
            return Outcome.LATE
        return None

    def recipients(self, owner: Contact | None, manager: Contact | None) -> list[Recipient]:
        """The action's owner, then the team's manager; one entry per address."""
        out: list[Recipient] = []
        for contact, role in ((owner, "owner"), (manager, "team-manager")):
            if contact is None or any(r.address == contact.address for r in out):
                continue
            out.append(Recipient(contact.address, role, contact.delivery or self.default_delivery))  # type: ignore[arg-type]
        return out


def _status_words(chase: Chase, today: date) -> str:
    if chase.transition is Transition.OVERDUE:
        days = chase.days_overdue_on(today)
        return f"{days} day{'s' if days != 1 else ''} overdue"
    return "due today" if chase.due_date == today else f"due on {_day(chase.due_date)}"


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _team_words(followup: FollowUp) -> str:
    return f"the {followup.team} team" if followup.team else "your service"


def compose(followup: FollowUp, chase: Chase, recipient: Recipient, *, link: str, today: date) -> Message:
    """The e-mail for one transition: the rule in plain words, the team, the due date, how
    late it is, and the link — nothing else from any event."""
    status = _status_words(chase, today)
    why = (
        "You are told as the owner of the action."
        if recipient.role == "owner"
        else f"You are told as the manager of {_team_words(followup)}."
    )
    body = "\n".join(
        [
            "Hello,",
            "",
            f"A follow-up for {_team_words(followup)} is {status}: {rule_in_words(followup.rule or '')}.",
            "",
            f"Due date: {_day(chase.due_date)}",
            f"Status: {status}",
            "",
            f"Open the follow-up: {link}",
            "",
            why,
            "This message holds no personal details: the link opens the follow-up in qaloop.",
        ]
    )
    team = f" ({followup.team})" if followup.team else ""
    return Message(recipient.address, f"Follow-up {status}{team}: {rule_in_words(followup.rule or '')}", body)


# --------------------------------------------------------------------------- digests


@dataclass(frozen=True)
class DigestLine:
    followup: FollowUp
    chase: Chase


def digest_lines(notices: Iterable[Notice], followups: dict[str, FollowUp]) -> list[DigestLine]:
    """One line per open follow-up: its latest transition queued for the address (Overdue
    over Due), oldest due date first. Follow-ups closed since are left out."""
    latest: dict[str, Notice] = {}
    for notice in notices:
        old = latest.get(notice.followup_id)
        if old is None or (notice.transition is Transition.OVERDUE and old.transition is not Transition.OVERDUE):
            latest[notice.followup_id] = notice
    lines = [
        DigestLine(followups[fid], notice.chase)
        for fid, notice in latest.items()
        if fid in followups and followups[fid].closed_on is None
    ]
    return sorted(lines, key=lambda line: (line.chase.due_date, line.followup.followup_id))


def compose_digest(address: str, lines: Sequence[DigestLine], *, policy: Policy, day: date) -> Message:
    """One message listing the day's follow-ups for one address."""
    count = len(lines)
    rows = [
        f"- {rule_in_words(line.followup.rule or '')} — {_team_words(line.followup)} — due "
        f"{_day(line.chase.due_date)} — {_status_words(line.chase, day)}\n  {policy.link(line.followup.followup_id)}"
        for line in lines
    ]
    body = "\n".join(
        [
            "Hello,",
            "",
            f"{count} follow-up{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention ({_day(day)}):",
            "",
            *rows,
            "",
            "This message holds no personal details: each link opens the follow-up in qaloop.",
        ]
    )
    subject = f"qaloop follow-ups for {_day(day)}: {count} to chase"
    return Message(address, subject, body)


def group_by_address(notices: Iterable[tuple[str, Notice]]) -> dict[tuple[str, str], list[Notice]]:
    """Queued notices per (tenant, address): one digest each."""
    out: dict[tuple[str, str], list[Notice]] = {}
    for tenant, notice in notices:
        out.setdefault((tenant, notice.address), []).append(notice)
    return out


# --------------------------------------------------------------------------- sending (the port)


class RecipientRefused(Exception):
    """The address is refused for good (no such mailbox, not a valid address): retrying will
    not help; the message dead-letters with this reason."""


class MailerUnavailable(Exception):
    """The mail service could not take the message now (down, rate-limited): try later."""


class Mailer(Protocol):
    channel: str

    async def send(self, message: Message) -> None:
        """Send, or raise `RecipientRefused` / `MailerUnavailable`."""
