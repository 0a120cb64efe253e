"""Idempotent inbox and the batching consumer: exactly-once effect from at-least-once delivery.

`BatchConsumer` takes messages from a queue in batches — whatever has arrived, up to
`max_batch`, waiting only briefly for more while they keep coming (light traffic: small
batches and little added latency; heavy traffic: large batches). For each batch it:

0. gathers the batch (`_gather_batch`): up to `max_batch` messages, or what arrives
   within `max_wait_ms` while messages keep coming less than `idle_ms` apart;
1. parses every message (`parse_message`) and runs the consumer's `validate` hook on it, if
   any (reporting's: `shared.trust`); poison (not JSON, not a CloudEvent, unknown type,
   invalid data, oversized, or what the hook refuses) is published to the dead-letter
   exchange with the reason in headers and then settled with the batch — it never blocks
   or slows the stream. Any failure to read one body (invalid UTF-8, JSON nested deeper
   than `MAX_JSON_DEPTH`, an integer past Python's digit limit, a validation error of any
   kind) is that message's poison, never taken for a broker or database failure;
2. opens one transaction: the inbox `claim` records each (source, id) and returns only the
   ones not seen before, the handler applies those, and the transaction commits;
3. acks the whole batch with one multi-ack.

A database outage is not poison: the batch is retried with jittered back-off
(`shared.bus.backoff`), unacked, so nothing is lost and no delivery count is spent. A handler
error that is not an outage is isolated by applying the batch one message at a time; the
message that still fails is dead-lettered with the error as its reason and the rest are
applied. A lost broker connection is taken up again by `shared.bus.keep_connected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from shared import metrics, tracing
from shared.bus import (
    DEAD_AT_HEADER,
    DLX,
    KIND_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_QUEUE_HEADER,
    PUBLISHED_AT_HEADER,
    REASON_HEADER,
    OutgoingMessage,
    Publisher,
    backoff,
    connect,
    ensure_topology,
    keep_connected,
)
from shared.db import Migration, check_identifier
from shared.events import CloudEvent, EventData, PoisonEvent, parse_event
from shared.logging import event_id_var

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """A valid event taken from the queue."""

    envelope: CloudEvent
    data: EventData
    body: bytes
    routing_key: str
    user_id: str | None = None  # the AMQP user_id property (RabbitMQ checks it is the publisher's user)
    published_at: float | None = None  # seconds since the epoch: the publisher's stamp, if it sent one
    traceparent: str | None = None  # the trace it continues, when tracing is on (tracing.message_traceparent)

    @property
    def key(self) -> tuple[str, str]:
        return (self.envelope.source, self.envelope.id)


class Inbox(Protocol):
    async def claim(self, conn: asyncpg.Connection, events: Sequence[Received]) -> list[Received]:
        """Record the events as applied; return those not applied before (first copy only)."""
        ...


Handler = Callable[[asyncpg.Connection, list[Received]], Awaitable[None]]
# A per-message check the consumer runs after parsing (e.g. `shared.trust.IntakeChecks`):
# it raises `PoisonEvent` for a message that must not be applied, which is then dead-lettered
# alone with that kind and reason.
Validator = Callable[[Received], None]

# How deeply a message's JSON may nest. An event nests a few levels (envelope, data, a list
# of objects); the bound is checked before the parser runs, so that a hostile body never
# reaches the parser's recursion limit.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nested_deeper_than(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text `body` opens more than `limit` arrays or objects inside one
    another (brackets within strings do not count). Cheap for an ordinary event: a body
    with no more than `limit` opening brackets in all is not even scanned."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def decode_json(body: bytes) -> Any:
    """The JSON value of one message body, or `PoisonEvent("not-json")` for any body that
    cannot be read: invalid UTF-8, not JSON, nested deeper than `MAX_JSON_DEPTH`, or an
    integer longer than Python converts (`sys.get_int_max_str_digits`)."""
    if nested_deeper_than(body):
        raise PoisonEvent("not-json", f"body is JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(body)
    except MemoryError:
        raise
    except Exception as exc:  # UnicodeDecodeError, JSONDecodeError, ValueError, RecursionError, …
        raise PoisonEvent("not-json", f"body is not JSON: {type(exc).__name__}: {str(exc)[:500]}") from None


def parse_message(body: bytes) -> tuple[CloudEvent, EventData]:
    """Envelope and data of one message body. Every failure is a `PoisonEvent` naming its
    kind and reason: whatever is wrong with one body is that message's fault alone."""
    raw = decode_json(body)
    if not isinstance(raw, dict):
        raise PoisonEvent("not-cloudevent", "body is not a JSON object")
    try:
        return parse_event(raw)
    except (PoisonEvent, MemoryError):
        raise
    except Exception as exc:  # a validator that raised something other than a ValidationError
        raise PoisonEvent("invalid-data", f"{type(exc).__name__}: {str(exc)[:500]}") from None


def inbox_migration(schema: str, version: int) -> Migration:
    s = check_identifier(schema)
    return Migration(
        version,
        "inbox",
        f"""
CREATE TABLE {s}.inbox (
    source      text NOT NULL,
    id          text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);
""",
    )


class TableInbox:
    """The plain inbox: a (source, id) table in the consumer's schema."""

    def __init__(self, schema: str) -> None:
        self.table = f"{check_identifier(schema)}.inbox"

    async def claim(self, conn: asyncpg.Connection, events: Sequence[Received]) -> list[Received]:
        if not events:
            return []
        rows = await conn.fetch(
            f"""INSERT INTO {self.table} (source, id)
                SELECT * FROM unnest($1::text[], $2::text[])
                ON CONFLICT DO NOTHING RETURNING source, id""",
            [e.envelope.source for e in events],
            [e.envelope.id for e in events],
        )
        return first_copies(events, {(r["source"], r["id"]) for r in rows})


def first_copies(events: Sequence[Received], new_keys: set[tuple[str, str]]) -> list[Received]:
    """Keep events whose key was newly claimed, the first copy of each only."""
    out = []
    for event in events:
        if event.key in new_keys:
            out.append(event)
            new_keys.discard(event.key)
    return out


class DatabaseUnavailable(ConnectionError):
    """No connection could be had from the pool: never the events' fault."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    OSError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, out of memory or disk
    asyncpg.OperatorInterventionError,  # class 57: shutdown, cancelled by an operator
    asyncpg.exceptions.InternalClientError,  # a connection left mid-operation by a dropped link
    asyncio.TimeoutError,
)
# How often a split batch whose every event failed alike is retried whole before its events
# are dead-lettered one by one (an outage that does not look like one, not poison).
SAME_FAILURE_RETRIES = 5


class FailedAlike(Exception):
    """Every event of an attempt failed with the same error: more likely the database than
    the events, so the attempt is made again (a bounded number of times)."""


@dataclass
class ConsumerStats:
    batches: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    last_batch_size: int = 0
    retries: int = 0


class BatchConsumer:
    def __init__(
        self,
        *,
        amqp_url: str,
        pool: asyncpg.Pool,
        queue: str,
        inbox: Inbox,
        handler: Handler,
        max_batch: int = 1000,
        max_wait_ms: float = 10.0,
        idle_ms: float = 1.0,
        prefetch: int = 2000,
        max_message_bytes: int = 1_048_576,
        delivery_limit: int = 20,
        on_applied: Callable[[list[Received]], None] | None = None,
        validate: Validator | None = None,
    ) -> None:
        self._amqp_url = amqp_url
        self._pool = pool
        self.queue = queue
        self._inbox = inbox
        self._handler = handler
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._idle = idle_ms / 1000
        self._prefetch = prefetch
        self._max_bytes = max_message_bytes
        self._delivery_limit = delivery_limit
        self._on_applied = on_applied
        self._validate = validate
        self._buffer: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self.stats = ConsumerStats()
        self.ready = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, then stop (graceful drain)."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until `stop()`; survives broker outages (and the batch in hand, database
        outages)."""
        await keep_connected(
            self._run_connected, self._stopping, first_wait=0.2, max_wait=10.0, on_failure=self._lost_broker
        )

    def _lost_broker(self, error: BaseException | None, wait: float) -> None:
        self.ready.clear()
        log.warning("consumer of %s lost the broker: %s; retrying in %.1fs", self.queue, error, wait)

    async def _run_connected(self) -> None:
        connection = await connect(self._amqp_url)
        try:
            await ensure_topology(connection, delivery_limit=self._delivery_limit)
            channel = await connection.channel(publisher_confirms=False)
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await channel.get_queue(self.queue, ensure=False)
            dead_letters = Publisher(connection)
            self._buffer = asyncio.Queue()
            tag = await queue.consume(self._buffer.put)
            self.ready.set()
            closed = asyncio.ensure_future(_closed(connection))
            try:
                while not self._stopping.is_set():
                    getter = asyncio.ensure_future(self._buffer.get())
                    stop = asyncio.ensure_future(self._stopping.wait())
                    done, _ = await asyncio.wait({getter, stop, closed}, return_when=asyncio.FIRST_COMPLETED)
                    stop.cancel()
                    if getter not in done:
                        getter.cancel()
                        if closed in done:
                            raise ConnectionError("broker connection closed")
                        break
                    batch = await self._gather_batch(getter.result())
                    await self._process(batch, dead_letters)
            finally:
                closed.cancel()
                with contextlib.suppress(Exception):
                    await queue.cancel(tag)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _gather_batch(self, first: AbstractIncomingMessage) -> list[AbstractIncomingMessage]:
        """Up to `max_batch` messages: all that are buffered, then more while they keep
        arriving less than `idle_ms` apart, for at most `max_wait_ms` in all. Light traffic
        gets small batches at once; a burst fills a batch."""
        batch = [first]
        deadline = time.monotonic() + self._max_wait
        while len(batch) < self._max_batch:
            if not self._buffer.empty():
                batch.append(self._buffer.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._idle <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._buffer.get(), min(self._idle, remaining)))
            except TimeoutError:
                break
        return batch

    async def _process(self, batch: list[AbstractIncomingMessage], dead_letters: Publisher) -> None:
        good: list[tuple[AbstractIncomingMessage, Received]] = []
        poison: list[tuple[AbstractIncomingMessage, PoisonEvent]] = []
        for message in batch:
            try:
                good.append((message, self._parse(message)))
            except PoisonEvent as exc:
                poison.append((message, exc))
        if poison:
            await self._dead_letter(dead_letters, poison)
        if good:
            failed = await self._apply_with_retry([r for _, r in good])
            if failed:
                await self._dead_letter(dead_letters, failed_messages(good, failed))
        await batch[-1].ack(multiple=True)
        self.stats.batches += 1
        self.stats.last_batch_size = len(batch)
        metrics.consumed_batch(self.queue, len(batch))

    def _parse(self, message: AbstractIncomingMessage) -> Received:
        if len(message.body) > self._max_bytes:
            raise PoisonEvent("oversized", f"body is {len(message.body)} bytes; the limit is {self._max_bytes}")
        envelope, data = parse_message(message.body)
        stamp = metrics.published_at((message.headers or {}).get(PUBLISHED_AT_HEADER))
        traceparent = tracing.message_traceparent(message.headers, envelope.traceparent)
        received = Received(
            envelope, data, message.body, message.routing_key or "", message.user_id, stamp, traceparent
        )
        if self._validate is not None:
            try:
                self._validate(received)
            except (PoisonEvent, MemoryError):
                raise
            except Exception as exc:  # a check that failed on this message is still this message's poison
                raise PoisonEvent("invalid-data", f"{type(exc).__name__}: {str(exc)[:500]}") from None
        return received

    async def _apply_with_retry(self, events: list[Received]) -> dict[tuple[str, str], str]:
        """Apply in one transaction; returns {key: error} for events that cannot be applied.

        A database outage (`TRANSIENT_ERRORS`) is retried until it ends, with jittered
        back-off. Any other error is tried again when every event failed alike: one event
        once, a batch up to `SAME_FAILURE_RETRIES` times, each time split to isolate the
        culprit."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((*TRANSIENT_ERRORS, FailedAlike)),
            wait=backoff(0.1, 10.0),
            before_sleep=functools.partial(self._retrying, len(events)),
        )
        alike_retries = iter(range(1 if len(events) == 1 else SAME_FAILURE_RETRIES))
        return await retrying(self._apply_or_isolate, events, alike_retries)

    async def _apply_or_isolate(
        self, events: list[Received], alike_retries: Iterator[int]
    ) -> dict[tuple[str, str], str]:
        """One attempt of `_apply_with_retry`: apply, or, on an error that is not an outage,
        find which events fail. Raises `FailedAlike` to be tried again."""
        try:
            await self._apply(events)
            return {}
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            if len(events) == 1:
                return self._one_failed(events[0], exc, alike_retries)
            failed: dict[tuple[str, str], str] = {}
            for event in events:  # isolate the culprit; the rest still commit
                failed.update(await self._apply_with_retry([event]))
            reasons = {reason.split(":", 1)[0] for reason in failed.values()}
            if len(failed) == len(events) and len(reasons) == 1 and next(alike_retries, None) is not None:
                message = f"every event of a batch of {len(events)} failed with {reasons.pop()}; retrying it whole"
                raise FailedAlike(message) from exc
            return failed

    @staticmethod
    def _one_failed(event: Received, exc: Exception, alike_retries: Iterator[int]) -> dict[tuple[str, str], str]:
        """Poison fails again on a fresh connection; a glitch does not."""
        if next(alike_retries, None) is not None:
            raise FailedAlike(
                f"event {event.envelope.id} failed ({type(exc).__name__}: {exc}); trying it again"
            ) from exc
        log.error("event %s cannot be applied: %s", event.envelope.id, exc)
        return {event.key: f"{type(exc).__name__}: {exc}"}

    def _retrying(self, size: int, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, FailedAlike):
            log.warning("%s in %.1fs", error, state.upcoming_sleep)
            return
        self.stats.retries += 1
        metrics.CONSUMER_RETRIES.labels(self.queue).inc()
        log.warning("database unavailable (%s); retrying batch of %d in %.1fs", error, size, state.upcoming_sleep)

    async def _apply(self, events: list[Received]) -> None:
        started = time.perf_counter()
        try:
            conn = await self._pool.acquire()
        except Exception as exc:
            raise DatabaseUnavailable(f"no database connection: {type(exc).__name__}: {exc}") from exc
        try:
            with tracing.consuming(self.queue, (e.traceparent for e in events), len(events)):
                async with conn.transaction():
                    new = await self._inbox.claim(conn, events)
                    if new:
                        await self._handler(conn, new)
        finally:
            await self._pool.release(conn)
        self.stats.applied += len(new)
        self.stats.duplicates += len(events) - len(new)
        metrics.applied(
            self.queue, new=len(new), duplicates=len(events) - len(new), seconds=time.perf_counter() - started
        )
        metrics.visible(self.queue, [r.published_at for r in new], time.time())
        if new:
            token_event = event_id_var.set(new[-1].envelope.id)
            log.debug("applied %d events in %.1f ms", len(new), (time.perf_counter() - started) * 1000)
            event_id_var.reset(token_event)
            if self._on_applied:
                self._on_applied(new)

    async def _dead_letter(
        self, publisher: Publisher, items: Sequence[tuple[AbstractIncomingMessage, PoisonEvent]]
    ) -> None:
        now = datetime.now(UTC).isoformat()
        messages = []
        for message, exc in items:
            headers = dict(message.headers or {})
            headers.update(
                {
                    REASON_HEADER: exc.reason[:2000],
                    KIND_HEADER: exc.kind,
                    ORIGINAL_KEY_HEADER: message.routing_key or "",
                    ORIGINAL_QUEUE_HEADER: self.queue,
                    DEAD_AT_HEADER: now,
                }
            )
            messages.append(
                OutgoingMessage(
                    routing_key=self.queue,
                    body=message.body,
                    message_id=message.message_id or "",
                    headers=headers,
                    exchange=DLX,
                )
            )
            log.warning("dead-lettered a message from %s: %s", self.queue, exc)
        while messages:  # the dead letter must be confirmed before the original is acked
            messages = messages[await publisher.publish_many(messages) :]
        self.stats.dead_lettered += len(items)
        metrics.dead_lettered(self.queue, [exc.kind for _, exc in items])


def failed_messages(
    good: Sequence[tuple[AbstractIncomingMessage, Received]], failed: dict[tuple[str, str], str]
) -> list[tuple[AbstractIncomingMessage, PoisonEvent]]:
    out = []
    for message, received in good:
        if received.key in failed:
            out.append((message, PoisonEvent("handler-error", failed.pop(received.key))))
    return out


async def _closed(connection: aio_pika.abc.AbstractConnection) -> None:
    """Returns when the broker connection is lost or closed.

    `is_closed` only turns true when the client itself closes; a broker-side close (a
    restart, `stop_app`, a forced close) clears `connected` and fires `close_callbacks`
    instead, so both are watched (found by the fault suite: an idle consumer never noticed)."""
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_: lost.set())
    connected = getattr(connection, "connected", None)
    while not lost.is_set():
        if connection.is_closed or (isinstance(connected, asyncio.Event) and not connected.is_set()):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lost.wait(), 0.5)
