"""The notifier's RabbitMQ subscribers (FastStream): a per-message consumer.

Two durable quorum queues of `shared.bus`, each with its dead-letter queue, declared by the
topology (`shared.bus.declare_topology`, or the setup job under least privilege) and only
looked up here (`declare=False`):

* `reporting.followups` (`reporting.#`): `FollowUpOpened`, `Due`, `Overdue`, `Closed`;
* `notifier.actions` (`*.ActionRaised`): each action's owner.

One handler per event type (`on_follow_up_due`, …) takes the event as its own envelope model
(`FollowUpDueMessage`: CloudEvents with `type` fixed and `data` the catalogue model), so
FastStream's AsyncAPI document names each message with the project's own schema
(tests/unit/test_notifier_asyncapi.py checks it against `shared.contract`).

Every message is settled in one middleware (`Settlement`; the subscribers' ack policy is
MANUAL), after STYLE.md's FastStream traps:

* handled → ack;
* bad (not JSON, not a CloudEvent, unknown type or data, untrusted source, oversized, an
  event type this queue has no handler for, an address refused for good) → published to
  `qa.events.dlx` with the reason in `x-qaloop-reason` and its kind in
  `x-qaloop-error-kind` (confirmed), then acked: `qaloop ops dlq … --queue <queue>` lists,
  shows and replays it;
* failing for now (database down, mail service unavailable after the mailer's own retries)
  → back to the queue after a back-off that grows with the delivery count, bounded by the
  quorum queue's `x-delivery-limit` (past it RabbitMQ dead-letters it itself);
* anything else → back to the queue once, dead-lettered with its error if it fails again.

Prefetch is bounded (`QALOOP_NOTIFY_PREFETCH`) and each subscriber handles one message at a
time, in queue order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from faststream import AckPolicy, BaseMiddleware
from faststream.exceptions import SubscriberNotFound
from faststream.message import StreamMessage
from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.schemas import Channel
from pydantic import ValidationError

from services.notifier import handlers
from services.notifier.domain import Chase, Mailer, MailerUnavailable, Policy, RecipientRefused, Transition
from services.notifier.store import NotifierUnitOfWork
from shared.bus import (
    CONSUMER_QUEUES,
    DEAD_AT_HEADER,
    DLX,
    EXCHANGE,
    FOLLOWUPS_QUEUE,
    KIND_HEADER,
    NOTIFIER_ACTIONS_QUEUE,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_QUEUE_HEADER,
    REASON_HEADER,
    OutgoingMessage,
    Publisher,
    connect,
)
from shared.calendar import london_date
from shared.events import (
    ActionRaised,
    CloudEvent,
    FollowUpClosed,
    FollowUpDue,
    FollowUpOpened,
    FollowUpOverdue,
    PoisonEvent,
    describe_errors,
)
from shared.inbox import TRANSIENT_ERRORS, Received, parse_message

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the messages


class FollowUpOpenedMessage(CloudEvent):
    type: Literal["FollowUpOpened"]
    data: FollowUpOpened  # type: ignore[assignment]


class FollowUpDueMessage(CloudEvent):
    type: Literal["FollowUpDue"]
    data: FollowUpDue  # type: ignore[assignment]


class FollowUpOverdueMessage(CloudEvent):
    type: Literal["FollowUpOverdue"]
    data: FollowUpOverdue  # type: ignore[assignment]


class FollowUpClosedMessage(CloudEvent):
    type: Literal["FollowUpClosed"]
    data: FollowUpClosed  # type: ignore[assignment]


class ActionRaisedMessage(CloudEvent):
    type: Literal["ActionRaised"]
    data: ActionRaised  # type: ignore[assignment]


def _binding(queue: str) -> str:
    (spec,) = [s for s in CONSUMER_QUEUES if s.name == queue]
    (key,) = spec.bindings
    return key


# Looked up, never declared here: the topology is shared/bus.py's (and, under least
# privilege, the setup job's); the routing key is documentation for the AsyncAPI document.
FOLLOWUP_EVENTS = RabbitQueue(FOLLOWUPS_QUEUE, QueueType.QUORUM, declare=False, routing_key=_binding(FOLLOWUPS_QUEUE))
ACTION_EVENTS = RabbitQueue(
    NOTIFIER_ACTIONS_QUEUE, QueueType.QUORUM, declare=False, routing_key=_binding(NOTIFIER_ACTIONS_QUEUE)
)
EVENTS = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True, declare=False)


@dataclass
class Notifier:
    """What the handlers need: a unit of work per use, the mailer, the policy and the
    per-message trust checks (`shared.trust.IntakeChecks`)."""

    unit_of_work: Callable[[], NotifierUnitOfWork]
    mailer: Mailer
    policy: Policy
    checks: Callable[[Received], None] = lambda _: None
    max_message_bytes: int = 1_048_576

    def read(self, msg: StreamMessage[Any]) -> dict[str, Any]:
        """The decoder: one message body as a validated, trusted event (`PoisonEvent` else)."""
        raw: AbstractIncomingMessage = msg.raw_message
        body = bytes(msg.body)
        if len(body) > self.max_message_bytes:
            raise PoisonEvent("oversized", f"body is {len(body)} bytes; the limit is {self.max_message_bytes}")
        envelope, data = parse_message(body)
        self.checks(Received(envelope, data, body, raw.routing_key or "", getattr(raw, "user_id", None)))
        return envelope.model_dump(mode="json")

    async def opened(self, event: FollowUpOpenedMessage) -> None:
        uow, tenant = self.unit_of_work(), event.tenant
        told = await handlers.record_followup_opened(uow, tenant, event.data, mailer=self.mailer, policy=self.policy)
        told.raise_refusals()

    async def chase(self, event: FollowUpDueMessage | FollowUpOverdueMessage, transition: Transition) -> None:
        overdue = event.data.days_overdue if isinstance(event.data, FollowUpOverdue) else 0
        chase = Chase(event.data.followup_id, transition, event.data.due_date, london_date(event.time), overdue)
        uow, tenant = self.unit_of_work(), event.tenant
        told = await handlers.chase_followup(uow, tenant, chase, mailer=self.mailer, policy=self.policy)
        told.raise_refusals()


def of_type(event_type: str) -> Callable[[StreamMessage[Any]], Awaitable[bool]]:
    async def matches(msg: StreamMessage[Any]) -> bool:
        event = await msg.decode()
        return isinstance(event, dict) and event.get("type") == event_type

    return matches


def subscribe(broker: RabbitBroker, notifier: Notifier) -> None:
    """The subscribers and their handlers, one per event type."""
    decoder = notifier.read
    followups = broker.subscriber(
        FOLLOWUP_EVENTS,
        EVENTS,
        ack_policy=AckPolicy.MANUAL,
        decoder=decoder,
        title=FOLLOWUPS_QUEUE,
        description="Follow-ups of the learning loop, published by reporting: the notifier chases Due and Overdue.",
    )
    actions = broker.subscriber(
        ACTION_EVENTS,
        EVENTS,
        ack_policy=AckPolicy.MANUAL,
        decoder=decoder,
        title=NOTIFIER_ACTIONS_QUEUE,
        description="Every strand's ActionRaised: who owns each action.",
    )

    @followups(filter=of_type("FollowUpOpened"))
    async def on_follow_up_opened(event: FollowUpOpenedMessage) -> None:
        await notifier.opened(event)

    @followups(filter=of_type("FollowUpDue"))
    async def on_follow_up_due(event: FollowUpDueMessage) -> None:
        await notifier.chase(event, Transition.DUE)

    @followups(filter=of_type("FollowUpOverdue"))
    async def on_follow_up_overdue(event: FollowUpOverdueMessage) -> None:
        await notifier.chase(event, Transition.OVERDUE)

    @followups(filter=of_type("FollowUpClosed"))
    async def on_follow_up_closed(event: FollowUpClosedMessage) -> None:
        await handlers.record_followup_closed(notifier.unit_of_work(), event.tenant, event.data)

    @actions(filter=of_type("ActionRaised"))
    async def on_action_raised(event: ActionRaisedMessage) -> None:
        await handlers.record_action_raised(notifier.unit_of_work(), event.tenant, event.data)


# --------------------------------------------------------------------------- settlement


class DeadLetters(Protocol):
    async def dead_letter(self, message: AbstractIncomingMessage, queue: str, kind: str, reason: str) -> None: ...


class BusDeadLetters:
    """Dead letters published to `qa.events.dlx` (routing key: the queue) with the reason
    in headers, persistent, mandatory and confirmed (`shared.bus.Publisher`), on a connection
    of their own."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self._connection: AbstractConnection | None = None
        self._publisher: Publisher | None = None

    async def dead_letter(self, message: AbstractIncomingMessage, queue: str, kind: str, reason: str) -> None:
        headers = dict(message.headers or {})
        headers.update(
            {
                REASON_HEADER: reason[:2000],
                KIND_HEADER: kind,
                ORIGINAL_KEY_HEADER: message.routing_key or "",
                ORIGINAL_QUEUE_HEADER: queue,
                DEAD_AT_HEADER: datetime.now(UTC).isoformat(),
            }
        )
        letter = OutgoingMessage(queue, bytes(message.body), message.message_id or "", headers, exchange=DLX)
        if self._publisher is None or self._connection is None or self._connection.is_closed:
            self._connection = await connect(self.amqp_url)
            self._publisher = Publisher(self._connection)
        await self._publisher.publish(letter)
        log.warning("dead-lettered a message from %s (%s): %s", queue, kind, reason[:300])

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()


POISON = (PoisonEvent, RecipientRefused, ValidationError, SubscriberNotFound)
TRANSIENT = (*TRANSIENT_ERRORS, MailerUnavailable, aio_pika.exceptions.AMQPError)


def kind_and_reason(error: Exception) -> tuple[str, str]:
    if isinstance(error, PoisonEvent):
        return error.kind, error.reason
    if isinstance(error, RecipientRefused):
        return "recipient-refused", str(error)
    if isinstance(error, ValidationError):
        return "invalid-data", describe_errors(error)
    if isinstance(error, SubscriberNotFound):
        return "unexpected-type", "this queue's consumer (the notifier) has no handler for the event type"
    return "handler-error", f"{type(error).__name__}: {str(error)[:1000]}"


def delivery_count(message: AbstractIncomingMessage) -> int:
    """Earlier deliveries of the message (a quorum queue's `x-delivery-count`)."""
    value = (message.headers or {}).get("x-delivery-count")
    return int(value) if isinstance(value, int) else (1 if message.redelivered else 0)


def backoff(deliveries: int) -> float:
    return float(min(0.5 * 2**deliveries, 30.0))


async def settle(
    message: AbstractIncomingMessage,
    queue: str,
    error: Exception | None,
    dead_letters: DeadLetters,
    wait: Callable[[int], float] = backoff,
) -> str:
    """Ack, dead-letter (then ack) or requeue one message; returns which."""
    if error is None:
        await message.ack()
        return "acked"
    poison = isinstance(error, POISON)
    if isinstance(error, TRANSIENT) or (not poison and delivery_count(message) == 0):
        delay = wait(delivery_count(message))
        log.warning("message from %s failed for now (%r); back to the queue in %.1fs", queue, error, delay)
        await asyncio.sleep(delay)
        await message.nack(requeue=True)
        return "requeued"
    kind, reason = kind_and_reason(error)
    await dead_letters.dead_letter(message, queue, kind, reason)
    await message.ack()
    return "dead-lettered"


def settlement(dead_letters: DeadLetters, wait: Callable[[int], float] = backoff) -> type[BaseMiddleware]:
    """The broker middleware that settles every message (the subscribers' ack policy is MANUAL)."""

    class Settlement(BaseMiddleware):
        async def after_processed(
            self, exc_type: type[BaseException] | None = None, exc_val: BaseException | None = None, exc_tb: Any = None
        ) -> bool:
            if exc_val is not None and not isinstance(exc_val, Exception):
                return False  # cancelled (shutting down): unsettled, RabbitMQ redelivers it
            queue = self.context.get("handler_").queue.name
            assert self.msg is not None
            await settle(self.msg, queue, exc_val, dead_letters, wait)
            return True

    return Settlement


def build_broker(
    amqp_url: str,
    notifier: Notifier,
    dead_letters: DeadLetters,
    *,
    prefetch: int = 10,
    wait: Callable[[int], float] = backoff,
) -> RabbitBroker:
    """The broker with the notifier's subscribers (nothing connects until `start`). The
    AsyncAPI document names a placeholder server (`specification_url`), never the URL with
    its credentials."""
    broker = RabbitBroker(
        amqp_url,
        specification_url="amqp://localhost:5672/",
        default_channel=Channel(prefetch_count=prefetch),
        middlewares=[settlement(dead_letters, wait)],
        logger=log,
    )
    subscribe(broker, notifier)
    return broker
