"""The bus port and its RabbitMQ adapter (aio-pika).

Topology (CONTRACT.md §1): topic exchange `qa.events`; dead-letter exchange `qa.events.dlx`;
each consuming queue `<name>` is a durable quorum queue with `x-delivery-limit` whose dead
letters go to `<name>.dlq`. `reporting.events` is bound to every strand's events except
reporting's own (`audit.#`, `feedback.#`, `complaints.#`, `casework.#`, `workforce.#`): a topic binding
cannot say "all but", so the four strands are bound one by one.

Publishing is always persistent, `mandatory` (an unroutable message raises instead of
vanishing) and confirmed by the broker, and carries the connection's user as the AMQP
`user_id` property (validated by RabbitMQ). Services never touch aio-pika directly: they use
`Publisher` (through the outbox relay) and `shared.inbox.BatchConsumer`.

Staying connected: the outbox relay and the consumer each run a session (connect, then work
until told to stop) under `keep_connected`, which runs it again after any failure with
jittered exponential back-off (`backoff`, from tenacity) that a stop cuts short. Against a
cluster the AMQP setting lists its nodes (comma-separated URLs, `amqp_urls`); `connect` takes
the first that accepts, so a session that lost its node starts again on a survivor.

Why aio-pika and not FastStream here: FastStream's RabbitMQ subscriber handles one message
at a time and acks each one; the reporting consumer's speed comes from taking a batch,
committing it in one transaction and settling it with one multi-ack, and the relay's from
pipelining many confirmed publishes. FastStream drives the naive per-message baseline in
`bench/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential, wait_random_exponential
from tenacity.wait import wait_base

from shared import tracing

log = logging.getLogger(__name__)

EXCHANGE = "qa.events"
DLX = "qa.events.dlx"
REPORTING_QUEUE = "reporting.events"
CONTENT_TYPE = "application/cloudevents+json"

# Headers qaloop puts on a dead letter it routes itself.
REASON_HEADER = "x-qaloop-reason"
KIND_HEADER = "x-qaloop-error-kind"
ORIGINAL_KEY_HEADER = "x-qaloop-original-routing-key"
ORIGINAL_QUEUE_HEADER = "x-qaloop-original-queue"
DEAD_AT_HEADER = "x-qaloop-dead-lettered-at"
# Stamped by `Publisher` on every message it sends (milliseconds since the epoch, UTC): the
# consumer measures publish -> visible from it (shared.metrics, PUBLISH_TO_VISIBLE). A replay
# is a new publication and gets a new stamp.
PUBLISHED_AT_HEADER = "x-qaloop-published-at"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    bindings: tuple[str, ...]
    max_length: int | None = None

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


FOLLOWUPS_QUEUE = "reporting.followups"
# reporting.followups keeps reporting's own FollowUp* events for the systems that chase them
# (the notifier, services/notifier, e-mails them; case management may read them too):
# without a bound queue a mandatory publish of them would be returned as unroutable. It holds
# at most `max_length` (oldest dropped) if nobody reads it.
NOTIFIER_ACTIONS_QUEUE = "notifier.actions"
# notifier.actions: every strand's ActionRaised, for the notifier to know each action's owner.
CONSUMER_QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(REPORTING_QUEUE, ("audit.#", "feedback.#", "complaints.#", "casework.#", "workforce.#")),
    QueueSpec(FOLLOWUPS_QUEUE, ("reporting.#",), max_length=100_000),
    QueueSpec(NOTIFIER_ACTIONS_QUEUE, ("*.ActionRaised",), max_length=100_000),
)


def queue_arguments(spec: QueueSpec, delivery_limit: int) -> dict[str, Any]:
    # No `x-quorum-initial-group-size`: a quorum queue gets a replica on every node of the
    # cluster it is first declared in (RabbitMQ's default): three on a three-node cluster,
    # one on a single node. The argument only counts at creation anyway (an existing queue's
    # members change with `rabbitmq-queues grow` / `add_member`, docs/operations.md).
    # tests/faults/test_rabbitmq_cluster.py checks the three.
    arguments: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DLX,
        "x-dead-letter-routing-key": spec.name,
    }
    if spec.max_length is not None:
        arguments["x-max-length"] = spec.max_length
        arguments["x-overflow"] = "drop-head"
    return arguments


async def declare_topology(
    channel: AbstractChannel,
    *,
    delivery_limit: int = 20,
    queues: Sequence[QueueSpec] = CONSUMER_QUEUES,
) -> AbstractExchange:
    """Declare exchanges, consumer queues and dead-letter queues (idempotent).

    Every service declares the whole topology before it publishes, so that a publish can
    never race the consumer's queue declaration and be returned as unroutable.
    """
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DLX, aio_pika.ExchangeType.TOPIC, durable=True)
    for spec in queues:
        dlq = await channel.declare_queue(spec.dlq, durable=True, arguments={"x-queue-type": "quorum"})
        await dlq.bind(dlx, routing_key=spec.name)
        queue = await channel.declare_queue(spec.name, durable=True, arguments=queue_arguments(spec, delivery_limit))
        for key in spec.bindings:
            await queue.bind(exchange, routing_key=key)
    return exchange


async def ensure_topology(connection: AbstractConnection, *, delivery_limit: int = 20) -> None:
    """`declare_topology` where the user may configure; a user that may not (a service's own
    least-privilege user, shared/roles.py: the setup declared the topology) only checks that
    the exchange is there, with a passive declaration on a fresh channel."""
    try:
        async with connection.channel() as channel:
            await declare_topology(channel, delivery_limit=delivery_limit)
    except aiormq.exceptions.ChannelAccessRefused:
        async with connection.channel() as channel:
            await channel.get_exchange(EXCHANGE, ensure=True)


# Several nodes of one cluster: URLs separated by commas. The split is only at a comma that
# starts a new URL, so a comma inside a password (percent-encoded or not) is never a separator.
_NEXT_URL = re.compile(r"\s*,\s*(?=amqps?://)")


def amqp_urls(value: str) -> list[str]:
    """The nodes named by an AMQP setting (QALOOP_AMQP_URL or a service's own): one URL, or
    several separated by commas (the nodes of one cluster, in the order they are tried)."""
    urls = [part.strip() for part in _NEXT_URL.split(value.strip(", \t\r\n")) if part.strip()]
    if not urls:
        raise ValueError("no AMQP URL given")
    return urls


async def connect(url: str, *, timeout: float = 10.0) -> AbstractConnection:
    """A connection to the first node of `url` (one URL, or a cluster's URLs separated by
    commas, `amqp_urls`) that accepts one, trying them in order; each node gets `timeout`
    seconds. If none does, the last node's error is raised (with every node's in a note).

    This is the only way qaloop connects to the broker. It is not aio-pika's
    `connect_robust`: that reconnects to its one URL only, so it would wait for a lost node
    instead of moving on to a survivor. The callers that stay connected run their session
    under `keep_connected`, which, after a lost connection, calls this again: the dead node
    refuses at once and a survivor is taken."""
    _, connection = await _first_node(url, timeout)
    return connection


async def reachable_node(url: str, *, timeout: float = 10.0) -> str:
    """The URL of the first node of `url` that accepts a connection now (as `connect`), for
    a client that must be handed a single URL (FastStream's broker, in the notifier)."""
    node, connection = await _first_node(url, timeout)
    await connection.close()
    return node


async def _first_node(url: str, timeout: float) -> tuple[str, AbstractConnection]:
    nodes = amqp_urls(url)
    errors: list[str] = []
    last: Exception | None = None
    for node in nodes:
        try:
            connection = await aio_pika.connect(node, timeout=timeout, client_properties={"connection_name": "qaloop"})
            return node, connection
        except Exception as exc:
            last = exc
            errors.append(f"{_where(node)}: {type(exc).__name__}: {exc}")
            if len(nodes) > 1:
                log.warning("broker node refused a connection: %s", errors[-1])
    assert last is not None  # `amqp_urls` names at least one node
    if len(nodes) > 1:
        last.add_note("no node of the cluster accepted a connection: " + "; ".join(errors))
    raise last


def _where(url: str) -> str:
    """host:port/vhost of an AMQP URL, without its credentials (for logs)."""
    return url.rpartition("@")[2]


def backoff(first: float, most: float) -> wait_base:
    """Exponential back-off with "equal jitter": the n-th wait is at least half and at most
    all of `first * 2**(n-1)`, and never more than `most` seconds. Replicas that lost the
    broker or the database together do not all come back at the same moment, and none
    retries at once."""
    half = wait_exponential(multiplier=first / 2, max=most / 2)
    return half + wait_random_exponential(multiplier=first / 2, max=most / 2)


async def keep_connected(
    session: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    *,
    first_wait: float,
    max_wait: float,
    on_failure: Callable[[BaseException | None, float], None],
) -> None:
    """Run `session` (connect, then work until `stopping` is set) until it returns. Each time
    it fails, `on_failure(error, wait)` is called and it runs again after a `backoff` wait
    that `stopping` cuts short; once `stopping` is set no new session starts. Cancellation is
    not a failure: it ends this at once."""

    def failed(state: RetryCallState) -> None:
        on_failure(state.outcome.exception() if state.outcome else None, state.upcoming_sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=backoff(first_wait, max_wait),
        sleep=functools.partial(_sleep_unless_set, stopping),
        before_sleep=failed,
    )
    async for attempt in retrying:
        if stopping.is_set():
            return
        with attempt:
            await session()


async def _sleep_unless_set(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def connection_user(connection: AbstractConnection) -> str | None:
    """The user a connection logged in as, when its URL names one: publishers set it as the
    AMQP `user_id` property, which RabbitMQ checks against the connection's user (a message
    claiming another user is refused), so a consumer can trust it (`shared.trust`)."""
    url = getattr(connection, "url", None)
    user = getattr(url, "user", None)
    return user if isinstance(user, str) and user else None


@dataclass
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    exchange: str = EXCHANGE
    # The trace the publish belongs to (the event's CloudEvents `traceparent`: the relay's);
    # None: the current one (a dead letter: the consumer's batch).
    traceparent: str | None = None


class Publisher:
    """Persistent, mandatory, confirmed publishing, pipelined.

    `publish_many` sends every message before awaiting any confirm (one round trip for the
    lot, in order on one channel) and returns how many leading messages were confirmed, so a
    caller can record exactly the prefix that is safe to forget.
    """

    def __init__(self, connection: AbstractConnection, *, confirm_timeout: float = 30.0) -> None:
        self._connection = connection
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._timeout = confirm_timeout
        self.user_id = connection_user(connection)

    async def _exchange(self, name: str) -> AbstractExchange:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._exchanges = {}
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=True)
        return self._exchanges[name]

    async def publish_many(self, messages: Sequence[OutgoingMessage]) -> int:
        if not messages:
            return 0
        pending = []
        stamp = int(time.time() * 1000)
        for m in messages:
            exchange = await self._exchange(m.exchange)
            with tracing.continued(m.traceparent):  # the task takes the context it is made in
                pending.append(self._publish_one(exchange, m, stamp))
        results = await asyncio.gather(*pending, return_exceptions=True)
        confirmed = 0
        for result in results:
            if isinstance(result, BaseException):
                break
            confirmed += 1
        first_error = next((r for r in results if isinstance(r, BaseException)), None)
        if first_error is not None:
            if confirmed == 0:
                raise first_error
            log.warning("published %d of %d before an error: %s", confirmed, len(messages), first_error)
        return confirmed

    def _publish_one(self, exchange: AbstractExchange, m: OutgoingMessage, stamp: int) -> asyncio.Future[Any]:
        """One publish, started now as a task (so that the publishes pipeline)."""
        return asyncio.ensure_future(
            exchange.publish(
                aio_pika.Message(
                    m.body,
                    content_type=CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=m.message_id,
                    headers={**m.headers, PUBLISHED_AT_HEADER: stamp},
                    user_id=self.user_id,
                ),
                routing_key=m.routing_key,
                mandatory=True,
                timeout=self._timeout,
            )
        )

    async def publish(self, message: OutgoingMessage) -> None:
        await self.publish_many([message])

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
