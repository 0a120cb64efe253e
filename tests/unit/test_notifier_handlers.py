"""The notifier's use cases on the in-memory unit of work: each transition told once to each
recipient, held until its follow-up is known, nobody recorded, refusals recorded and raised,
a send that fails for now rolled back, daily digests once a day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notifier import handlers
from services.notifier.commands import ImportRecipients
from services.notifier.domain import Chase, MailerUnavailable, Outcome, Policy, RecipientRefused, Transition
from shared.events import ActionRaised, FollowUpClosed, FollowUpOpened, LearningOrigin
from tests.fakes.notifier import FakeNotifierUnitOfWork, RecordingMailer

T = "E10000034"
DUE = date(2022, 10, 3)
POLICY = Policy("https://qa.council.example")
OWNER, MANAGER = "owner@council.example", "tc@council.example"
DIRECTORY = f"kind,id,email,delivery\nstaff,staff-1,{OWNER},\nteam,through-care,{MANAGER},\n"


def opened(
    followup_id: str = "action:act-1", team: str | None = "through-care", rule: str = "action"
) -> FollowUpOpened:
    return FollowUpOpened(
        followup_id=followup_id,
        rule=rule,
        origin="complaint",
        origin_id=followup_id.split(":", 1)[1],
        team=team,
        service_area="fostering",
        due_date=DUE,
    )


def raised(action_id: str = "act-1", owner: str = "staff-1") -> ActionRaised:
    return ActionRaised(
        action_id=action_id,
        origin=LearningOrigin.COMPLAINT,
        origin_id="c-1",
        team="through-care",
        service_area="fostering",
        owner_id=owner,
        raised_at=datetime(2022, 9, 1, tzinfo=UTC),
        due_date=DUE,
        summary="Review the letter templates",
    )


def due(followup_id: str = "action:act-1") -> Chase:
    return Chase(followup_id, Transition.DUE, DUE, DUE)


def overdue(followup_id: str = "action:act-1") -> Chase:
    return Chase(followup_id, Transition.OVERDUE, DUE, date(2022, 10, 4), 1)


@pytest.fixture
async def uow() -> FakeNotifierUnitOfWork:
    uow = FakeNotifierUnitOfWork(now=datetime(2022, 10, 4, 9, tzinfo=UTC))
    await handlers.import_recipients(uow, T, ImportRecipients.from_csv(DIRECTORY))
    return uow


async def test_opened_then_due_then_overdue_tells_owner_and_manager_once_each(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer()
    await handlers.record_action_raised(uow, T, raised())
    assert (await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)).notices == []
    assert mailer.sent == []  # opening is not chased
    told = await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert {(n.address, n.role, n.status) for n in told.notices} == {
        (OWNER, "owner", Outcome.SENT),
        (MANAGER, "team-manager", Outcome.SENT),
    }
    await handlers.chase_followup(uow, T, overdue(), mailer=mailer, policy=POLICY)
    assert [m.subject.split(" (")[0] for m in mailer.to(OWNER)] == [
        "Follow-up due on 3 October 2022",
        "Follow-up 1 day overdue",
    ]
    assert len(mailer.to(MANAGER)) == 2
    # redelivered or replayed: nothing more
    for chase in (due(), overdue(), due()):
        assert (await handlers.chase_followup(uow, T, chase, mailer=mailer, policy=POLICY)).notices == []
    await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    assert len(mailer.sent) == 4


async def test_a_transition_before_its_followup_is_held_then_told_when_it_opens(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer()
    await handlers.record_action_raised(uow, T, raised())
    told = await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert [(n.address, n.status) for n in told.notices] == [("", Outcome.HELD)]
    assert mailer.sent == []
    told = await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    assert {n.address for n in told.notices} == {OWNER, MANAGER}
    assert await uow.notices.find(T, Outcome.HELD, 10) == []  # the placeholder is gone
    assert len(mailer.sent) == 2


async def test_nobody_to_tell_is_recorded_for_ops_and_not_retried(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer()
    await handlers.record_followup_opened(
        uow, T, opened("re-audit:a1", team="unknown-team", rule="re-audit"), mailer=mailer, policy=POLICY
    )
    told = await handlers.chase_followup(uow, T, due("re-audit:a1"), mailer=mailer, policy=POLICY)
    (nobody,) = told.notices
    assert nobody.status is Outcome.NOBODY and nobody.address == ""
    assert nobody.reason == "no address in the directory for the manager of team 'unknown-team'"
    assert (await handlers.list_notices(uow, T, Outcome.NOBODY, 10)) == [nobody]
    assert mailer.sent == []
    # the owner is not known (no ActionRaised): only the manager is told
    await handlers.record_followup_opened(uow, T, opened("action:act-9"), mailer=mailer, policy=POLICY)
    told = await handlers.chase_followup(uow, T, due("action:act-9"), mailer=mailer, policy=POLICY)
    assert [n.address for n in told.notices] == [MANAGER]


async def test_closed_and_late_transitions_are_recorded_not_sent(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer()
    await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    late = Chase("action:act-1", Transition.OVERDUE, DUE, date(2023, 3, 1), 149)  # history being loaded
    assert [n.status for n in (await handlers.chase_followup(uow, T, late, mailer=mailer, policy=POLICY)).notices] == [
        Outcome.LATE
    ]
    closed = FollowUpClosed(
        followup_id="action:act-1",
        closed_at=datetime(2022, 10, 2, 12, tzinfo=UTC),
        closed_by_event_id="e-1",
        on_time=True,
    )
    await handlers.record_followup_closed(uow, T, closed)
    told = await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert [n.status for n in told.notices] == [Outcome.CLOSED]
    assert mailer.sent == []


async def test_a_refused_address_is_recorded_raised_and_tried_again_on_replay(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer(refuse={OWNER})
    await handlers.record_action_raised(uow, T, raised())
    await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    told = await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert [m.to for m in mailer.sent] == [MANAGER]
    with pytest.raises(RecipientRefused, match=r"owner@council\.example: 550 no such mailbox"):
        told.raise_refusals()
    mailer.refuse.clear()  # the address fixed, the dead letter replayed
    told = await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert [(n.address, n.status) for n in told.notices] == [(OWNER, Outcome.SENT)]
    assert [m.to for m in mailer.sent] == [MANAGER, OWNER]


async def test_a_send_that_fails_for_now_rolls_back_only_its_own_claim(uow: FakeNotifierUnitOfWork) -> None:
    mailer = RecordingMailer()
    await handlers.record_action_raised(uow, T, raised())
    await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    mailer.unavailable = 1  # the owner's send fails for now
    with pytest.raises(MailerUnavailable):
        await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert mailer.sent == []
    assert await uow.notices.find(T, None, 10) == []
    await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)  # redelivered
    assert sorted(m.to for m in mailer.sent) == [OWNER, MANAGER]


async def test_daily_recipients_get_one_digest_a_day_listing_open_followups(uow: FakeNotifierUnitOfWork) -> None:
    directory = f"kind,id,email,delivery\nstaff,staff-1,{OWNER},\nteam,through-care,{MANAGER},daily\n"
    await handlers.import_recipients(uow, T, ImportRecipients.from_csv(directory))
    mailer = RecordingMailer()
    await handlers.record_action_raised(uow, T, raised())
    for fid in ("action:act-1", "action:act-2"):
        await handlers.record_followup_opened(uow, T, opened(fid), mailer=mailer, policy=POLICY)
        await handlers.chase_followup(uow, T, due(fid), mailer=mailer, policy=POLICY)
    await handlers.chase_followup(uow, T, overdue("action:act-1"), mailer=mailer, policy=POLICY)
    assert [m.to for m in mailer.sent] == [OWNER, OWNER]  # the owner at once; the manager waits
    day = date(2022, 10, 4)
    sent = await handlers.send_digests(uow, day, mailer=mailer, policy=POLICY)
    assert [(s.address, s.items) for s in sent] == [(MANAGER, 2)]
    (digest,) = mailer.to(MANAGER)
    assert digest.subject == "qaloop follow-ups for 4 October 2022: 2 to chase"
    assert "1 day overdue" in digest.body and "action%3Aact-2" in digest.body
    assert await handlers.send_digests(uow, day, mailer=mailer, policy=POLICY) == []  # once a day
    assert {n.status for n in await uow.notices.find(T, None, 20) if n.address == MANAGER} == {Outcome.SENT}
    assert {n.digest_day for n in await uow.notices.find(T, None, 20) if n.address == MANAGER} == {day}


async def test_a_digest_that_fails_for_now_stays_queued_and_the_others_are_sent(uow: FakeNotifierUnitOfWork) -> None:
    directory = f"kind,id,email,delivery\nstaff,staff-1,{OWNER},daily\nteam,through-care,{MANAGER},daily\n"
    await handlers.import_recipients(uow, T, ImportRecipients.from_csv(directory))
    mailer = RecordingMailer()
    await handlers.record_action_raised(uow, T, raised())
    await handlers.record_followup_opened(uow, T, opened(), mailer=mailer, policy=POLICY)
    await handlers.chase_followup(uow, T, due(), mailer=mailer, policy=POLICY)
    assert mailer.sent == []  # both daily: nothing at once
    mailer.unavailable = 1  # the first address's digest fails for now
    first = await handlers.send_digests(uow, DUE, mailer=mailer, policy=POLICY)
    failed = [d for d in first if d.unavailable]
    delivered = [d for d in first if not d.unavailable]
    assert len(failed) == 1 and failed[0].unavailable == "421 try again later"
    assert [d.address for d in delivered] == [({OWNER, MANAGER} - {failed[0].address}).pop()]
    assert [m.to for m in mailer.sent] == [delivered[0].address]
    statuses = {n.address: n.status for n in await uow.notices.find(T, None, 10)}
    assert statuses == {failed[0].address: Outcome.QUEUED, delivered[0].address: Outcome.SENT}
    second = await handlers.send_digests(uow, DUE, mailer=mailer, policy=POLICY)  # the next run
    assert [(d.address, d.items, d.unavailable) for d in second] == [(failed[0].address, 1, None)]
    assert sorted(m.to for m in mailer.sent) == sorted([OWNER, MANAGER])
