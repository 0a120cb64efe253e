"""The notifier's use cases, over its unit of work. No SQL, no HTTP, no broker.

Each chased transition is told to each recipient in a transaction of its own: the notice is
claimed (`uow.notices.claim`), the e-mail sent, and the claim committed with it. A
redelivered or replayed transition finds its claims and sends nothing more; a send that
fails for now rolls its claim back (the message goes back to the queue, and the recipients
already told are not told again); an address refused for good is recorded as refused and the
message dead-letters with the reason (`RecipientRefused`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date

from services.notifier.commands import ImportRecipients
from services.notifier.domain import (
    PLACEHOLDERS,
    Chase,
    Contact,
    FollowUp,
    Mailer,
    MailerUnavailable,
    Notice,
    Outcome,
    Policy,
    Recipient,
    RecipientRefused,
    compose,
    compose_digest,
    digest_lines,
)
from services.notifier.store import NotifierUnitOfWork
from shared.calendar import london_date
from shared.events import ActionRaised, FollowUpClosed, FollowUpOpened

log = logging.getLogger(__name__)


@dataclass
class Told:
    """What one transition came to: a notice per address (or one for nobody)."""

    notices: list[Notice] = field(default_factory=list)

    @property
    def refused(self) -> list[Notice]:
        return [n for n in self.notices if n.status is Outcome.REFUSED]

    def raise_refusals(self) -> None:
        if self.refused:
            raise RecipientRefused("; ".join(f"{n.address}: {n.reason}" for n in self.refused))


# --------------------------------------------------------------------------- what to know


async def record_action_raised(uow: NotifierUnitOfWork, tenant: str, event: ActionRaised) -> None:
    """Who owns the action: its owner is told about the action's follow-up."""
    async with uow:
        await uow.owners.save(tenant, event.action_id, event.owner_id)


async def record_followup_opened(
    uow: NotifierUnitOfWork, tenant: str, event: FollowUpOpened, *, mailer: Mailer, policy: Policy
) -> Told:
    """Know the follow-up's rule, team and due date; then chase what was held waiting for it."""
    async with uow:
        await uow.followups.lock(tenant, event.followup_id)
        followup = await uow.followups.get(tenant, event.followup_id) or FollowUp(event.followup_id)
        await uow.followups.save(tenant, followup.opened(event))
        held = await uow.notices.held(tenant, event.followup_id)
    told = Told()
    for notice in held:
        told.notices += (await chase_followup(uow, tenant, notice.chase, mailer=mailer, policy=policy)).notices
    return told


async def record_followup_closed(uow: NotifierUnitOfWork, tenant: str, event: FollowUpClosed) -> None:
    """Nobody is chased about a closed follow-up any more (nor in a digest not yet sent)."""
    async with uow:
        await uow.followups.lock(tenant, event.followup_id)
        followup = await uow.followups.get(tenant, event.followup_id) or FollowUp(event.followup_id)
        await uow.followups.save(tenant, followup.closed(london_date(event.closed_at)))


# --------------------------------------------------------------------------- chasing


async def chase_followup(uow: NotifierUnitOfWork, tenant: str, chase: Chase, *, mailer: Mailer, policy: Policy) -> Told:
    """Tell the action's owner and the team's manager that a follow-up is due or overdue —
    once each — or record why nobody was told (held, closed, late, nobody)."""
    async with uow:
        await uow.followups.lock(tenant, chase.followup_id)
        followup = await uow.followups.get(tenant, chase.followup_id)
        outcome = policy.screen(followup, chase)
        recipients: list[Recipient] = []
        if outcome is None and followup is not None:
            recipients = policy.recipients(await _owner(uow, tenant, followup), await _manager(uow, tenant, followup))
            outcome = None if recipients else Outcome.NOBODY
        if outcome is not None:
            notice = Notice.of(chase, outcome, reason=_why(outcome, followup))
            claimed = await uow.notices.claim(tenant, notice)
            if outcome in PLACEHOLDERS or outcome is Outcome.CLOSED:
                log.info("follow-up %s %s: %s", chase.followup_id, chase.transition, outcome)
            return Told([notice] if claimed else [])
    assert followup is not None
    told = Told()
    for recipient in recipients:
        told_one = await _tell(uow, tenant, followup, chase, recipient, mailer=mailer, policy=policy)
        if told_one is not None:
            told.notices.append(told_one)
    async with uow:
        await uow.notices.drop_placeholders(tenant, chase.followup_id, chase.transition)
    return told


async def _owner(uow: NotifierUnitOfWork, tenant: str, followup: FollowUp) -> Contact | None:
    action_id = followup.action_id
    owner_id = await uow.owners.get(tenant, action_id) if action_id else None
    return await uow.recipients.staff(tenant, owner_id) if owner_id else None


async def _manager(uow: NotifierUnitOfWork, tenant: str, followup: FollowUp) -> Contact | None:
    return await uow.recipients.team_manager(tenant, followup.team) if followup.team else None


def _why(outcome: Outcome, followup: FollowUp | None) -> str:
    if outcome is Outcome.NOBODY:
        wanted = ["the action's owner"] if followup is not None and followup.action_id else []
        wanted += [f"the manager of team {followup.team!r}"] if followup is not None and followup.team else []
        return f"no address in the directory for {' or '.join(wanted) or 'anyone (no team, no action)'}"
    return {
        Outcome.HELD: "waiting for the follow-up's FollowUpOpened",
        Outcome.CLOSED: "closed before it was chased",
        Outcome.LATE: "published long after its due date (history being loaded)",
    }.get(outcome, str(outcome))


async def _tell(
    uow: NotifierUnitOfWork,
    tenant: str,
    followup: FollowUp,
    chase: Chase,
    recipient: Recipient,
    *,
    mailer: Mailer,
    policy: Policy,
) -> Notice | None:
    """Claim, send and commit for one address; None where it was told before."""
    daily = recipient.delivery == "daily"
    async with uow:
        status = Outcome.QUEUED if daily else Outcome.SENT
        notice = Notice.of(chase, status, recipient=recipient, channel=mailer.channel)
        if not await uow.notices.claim(tenant, notice):
            return None
        if daily:
            return notice
        message = compose(followup, chase, recipient, link=policy.link(followup.followup_id), today=uow.today())
        try:
            await mailer.send(message)
        except RecipientRefused as exc:
            notice = replace(notice, status=Outcome.REFUSED, reason=str(exc)[:500])
            await uow.notices.save(tenant, notice)
        return notice


# --------------------------------------------------------------------------- digests


@dataclass(frozen=True)
class DigestSent:
    tenant: str
    address: str
    items: int
    refused: str | None = None  # refused for good: its notices are marked refused
    unavailable: str | None = None  # failed for now: its notices stay queued for the next run


async def send_digests(uow: NotifierUnitOfWork, day: date, *, mailer: Mailer, policy: Policy) -> list[DigestSent]:
    """One message per address with queued notices, listing its open follow-ups; at most one
    per address per day. A send that fails for now leaves that address's notices queued for
    the next run (its claim rolls back) and the other addresses are still sent."""
    async with uow:
        addresses = await uow.notices.queued_addresses()
    sent = []
    for tenant, address in addresses:
        try:
            result = await _send_digest(uow, tenant, address, day, mailer=mailer, policy=policy)
        except MailerUnavailable as exc:
            log.warning("digest to an address of %s failed for now: %s; it stays queued", tenant, exc)
            result = DigestSent(tenant, address, 0, unavailable=str(exc)[:500])
        if result is not None:
            sent.append(result)
    return sent


async def _send_digest(
    uow: NotifierUnitOfWork, tenant: str, address: str, day: date, *, mailer: Mailer, policy: Policy
) -> DigestSent | None:
    async with uow:
        queued = await uow.notices.queued_for(tenant, address)
        followups = {}
        for notice in queued:
            found = await uow.followups.get(tenant, notice.followup_id)
            if found is not None:
                followups[found.followup_id] = found
        lines = digest_lines(queued, followups)
        if not await uow.digests.claim(tenant, address, day, len(lines)):
            return None
        refused = None
        if lines:
            try:
                await mailer.send(compose_digest(address, lines, policy=policy, day=day))
            except RecipientRefused as exc:
                refused = str(exc)[:500]
        for notice in queued:
            closed = notice.followup_id not in {line.followup.followup_id for line in lines}
            status = Outcome.REFUSED if refused else Outcome.CLOSED if closed else Outcome.SENT
            await uow.notices.save(tenant, replace(notice, status=status, reason=refused, digest_day=day))
        return DigestSent(tenant, address, len(lines), refused)


# --------------------------------------------------------------------------- directory and ops


async def import_recipients(uow: NotifierUnitOfWork, tenant: str, cmd: ImportRecipients) -> int:
    """The tenant's directory becomes the imported one."""
    async with uow:
        return await uow.recipients.replace(tenant, cmd.entries)


async def list_notices(uow: NotifierUnitOfWork, tenant: str, status: Outcome | None, limit: int) -> list[Notice]:
    async with uow:
        return await uow.notices.find(tenant, status, limit)
