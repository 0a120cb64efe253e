"""The notifier's subscriber wiring on FastStream's in-memory TestRabbitBroker: each event type
reaches its handler, and the settlement middleware sorts what fails into dead letters (with
the reason) and requeues. TestRabbitBroker fakes ack, nack and dead-lettering (STYLE.md trap
6): what RabbitMQ itself does with them is tested on the real broker
(tests/integration/test_notifier_flow.py); here the settlement's decisions are recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from faststream.rabbit import TestRabbitBroker

from services.notifier import consumer
from services.notifier.commands import ImportRecipients
from services.notifier.domain import Outcome, Policy
from services.notifier.handlers import import_recipients
from shared.bus import EXCHANGE, FOLLOWUPS_QUEUE, NOTIFIER_ACTIONS_QUEUE
from shared.events import ActionRaised, FollowUpDue, FollowUpOpened, FollowUpOverdue, LearningOrigin, new_event
from shared.trust import IntakeChecks
from tests.fakes.notifier import FakeNotifierUnitOfWork, RecordingMailer

T = "E10000034"
DUE = date(2022, 10, 3)
OWNER, MANAGER = "owner@council.example", "tc@council.example"


@dataclass
class RecordedDeadLetters:
    letters: list[tuple[str, str, str]] = field(default_factory=list)  # (queue, kind, reason)

    async def dead_letter(self, message: Any, queue: str, kind: str, reason: str) -> None:
        self.letters.append((queue, kind, reason))


@dataclass
class Settled:
    """Every settlement decision, by wrapping `consumer.settle`."""

    outcomes: list[str] = field(default_factory=list)


@pytest.fixture
async def wired(monkeypatch: pytest.MonkeyPatch) -> Any:
    uow = FakeNotifierUnitOfWork(now=datetime(2022, 10, 4, 9, tzinfo=UTC))
    directory = f"kind,id,email\nstaff,staff-1,{OWNER}\nteam,through-care,{MANAGER}\n"
    await import_recipients(uow, T, ImportRecipients.from_csv(directory))
    mailer = RecordingMailer()
    sources = {
        "/qaloop/reporting": {"events": ["reporting"]},
        "/qaloop/audit": {"events": ["ActionRaised"]},
    }
    notifier = consumer.Notifier(lambda: uow, mailer, Policy("https://qa.example"), IntakeChecks(sources))
    dead = RecordedDeadLetters()
    settled = Settled()
    real_settle = consumer.settle

    async def recording_settle(*args: Any, **kwargs: Any) -> str:
        outcome = await real_settle(*args, **kwargs)
        settled.outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(consumer, "settle", recording_settle)
    broker = consumer.build_broker("amqp://guest:guest@localhost:5672/", notifier, dead, wait=lambda _: 0.0)
    async with TestRabbitBroker(broker) as test_broker:
        yield test_broker, uow, mailer, dead, settled


async def publish(broker: Any, data: Any, *, strand: str = "reporting", source: str | None = None, **raw: Any) -> None:
    event = new_event(data, source=source or f"/qaloop/{strand}", tenant=T, time=datetime(2022, 10, 4, 8, tzinfo=UTC))
    body = raw.pop("body", event.to_json())
    await broker.publish(
        body,
        exchange=EXCHANGE,
        routing_key=f"{strand}.{data.event_type}",
        content_type="application/cloudevents+json",
        message_id=event.id,
        **raw,
    )


def opened() -> FollowUpOpened:
    return FollowUpOpened(
        followup_id="action:act-1",
        rule="action",
        origin="audit",
        origin_id="act-1",
        team="through-care",
        service_area="fostering",
        due_date=DUE,
    )


def raised() -> ActionRaised:
    return ActionRaised(
        action_id="act-1",
        origin=LearningOrigin.AUDIT,
        origin_id="a-1",
        team="through-care",
        service_area="fostering",
        owner_id="staff-1",
        raised_at=datetime(2022, 9, 1, tzinfo=UTC),
        due_date=DUE,
        summary="Re-audit the plan",
    )


async def test_each_event_type_reaches_its_handler_and_is_acked(wired: Any) -> None:
    broker, uow, mailer, dead, settled = wired
    await publish(broker, raised(), strand="audit")
    await publish(broker, opened())
    await publish(broker, FollowUpDue(followup_id="action:act-1", due_date=DUE))
    await publish(broker, FollowUpOverdue(followup_id="action:act-1", due_date=DUE, days_overdue=1))
    assert await uow.owners.get(T, "act-1") == "staff-1"
    assert (await uow.followups.get(T, "action:act-1")).team == "through-care"
    assert sorted(m.to for m in mailer.sent) == [OWNER, OWNER, MANAGER, MANAGER]
    assert dead.letters == [] and settled.outcomes == ["acked"] * 4


async def test_the_subscribers_read_their_own_queues(wired: Any) -> None:
    broker, *_ = wired
    queues = {sub.queue.name: sub for sub in broker.subscribers}
    assert set(queues) == {FOLLOWUPS_QUEUE, NOTIFIER_ACTIONS_QUEUE}
    for sub in queues.values():
        assert sub.queue.declare is False  # the topology is shared/bus.py's (or the setup job's)
        assert sub.exchange.name == EXCHANGE
    assert queues[FOLLOWUPS_QUEUE].queue.routing_key == "reporting.#"
    assert queues[NOTIFIER_ACTIONS_QUEUE].queue.routing_key == "*.ActionRaised"


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"not json", "not-json", "body is not JSON"),
        (b'{"specversion": "1.0"}', "not-cloudevent", "id: Field required"),
        (b"x" * 2_000_000, "oversized", "the limit is 1048576"),
    ],
)
async def test_a_bad_message_is_dead_lettered_with_the_reason(wired: Any, body: bytes, kind: str, reason: str) -> None:
    broker, _, mailer, dead, settled = wired
    await publish(broker, FollowUpDue(followup_id="action:act-1", due_date=DUE), body=body)
    ((queue, got_kind, got_reason),) = dead.letters
    assert (queue, got_kind) == (FOLLOWUPS_QUEUE, kind) and reason in got_reason
    assert settled.outcomes == ["dead-lettered"] and mailer.sent == []


async def test_invalid_data_and_an_untrusted_source_are_dead_letters(wired: Any) -> None:
    broker, _, _, dead, _ = wired
    event = json.loads(
        new_event(FollowUpDue(followup_id="f", due_date=DUE), source="/qaloop/reporting", tenant=T).to_json()
    )
    event["data"]["due_date"] = "the third"
    await publish(broker, FollowUpDue(followup_id="f", due_date=DUE), body=json.dumps(event).encode())
    await publish(broker, FollowUpDue(followup_id="f", due_date=DUE), source="/cms/mosaic")
    await publish(broker, raised(), strand="complaints", source="/qaloop/complaints")
    await publish(broker, raised(), strand="reporting", source="/qaloop/reporting")  # reporting posing as a strand
    kinds = sorted((queue, kind) for queue, kind, _ in dead.letters)
    assert kinds == sorted(
        [
            (FOLLOWUPS_QUEUE, "invalid-data"),
            (FOLLOWUPS_QUEUE, "untrusted-source"),
            (NOTIFIER_ACTIONS_QUEUE, "untrusted-source"),
            (FOLLOWUPS_QUEUE, "untrusted-source"),  # reporting.ActionRaised reaches both queues
            (NOTIFIER_ACTIONS_QUEUE, "untrusted-source"),
        ]
    )
    assert "data.due_date" in dead.letters[0][2]


async def test_an_event_type_without_a_handler_on_its_queue_is_dead_lettered(wired: Any) -> None:
    broker, uow, _, dead, _ = wired
    # `reporting.ActionRaised` (from a source allowed ActionRaised) matches both queues'
    # bindings: notifier.actions handles it, reporting.followups has no handler for it
    await publish(broker, raised(), strand="reporting", source="/qaloop/audit")
    assert await uow.owners.get(T, "act-1") == "staff-1"
    ((queue, kind, reason),) = dead.letters
    assert (queue, kind) == (FOLLOWUPS_QUEUE, "unexpected-type") and "no handler" in reason


async def test_a_refused_address_dead_letters_the_transition_after_telling_the_others(wired: Any) -> None:
    broker, uow, mailer, dead, settled = wired
    mailer.refuse.add(OWNER)
    await publish(broker, raised(), strand="audit")
    await publish(broker, opened())
    await publish(broker, FollowUpDue(followup_id="action:act-1", due_date=DUE))
    assert [m.to for m in mailer.sent] == [MANAGER]
    ((queue, kind, reason),) = dead.letters
    assert (queue, kind) == (FOLLOWUPS_QUEUE, "recipient-refused") and "550 no such mailbox" in reason
    assert [n.address for n in await uow.notices.find(T, Outcome.REFUSED, 10)] == [OWNER]
    assert settled.outcomes[-1] == "dead-lettered"


async def test_a_failure_for_now_goes_back_to_the_queue(wired: Any) -> None:
    broker, _, mailer, dead, settled = wired
    await publish(broker, opened())
    mailer.unavailable = 1
    await publish(broker, FollowUpDue(followup_id="action:act-1", due_date=DUE))
    assert settled.outcomes == ["acked", "requeued"] and dead.letters == []
