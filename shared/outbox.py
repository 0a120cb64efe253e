"""Transactional outbox: at-least-once, in-order publishing of what a service committed.

A use case calls `append(conn, events)` inside its business transaction, so the domain rows
and their events commit (or roll back) together. `OutboxRelay` publishes unsent rows with
publisher confirms and marks them sent only after the confirm.

Guarantees and how:
- Nothing is lost: a row is marked sent only after the broker confirmed it; while RabbitMQ
  or PostgreSQL is unreachable the relay retries with jittered exponential back-off of at
  most `max_backoff` seconds (`shared.bus.keep_connected`).
- In order: rows go out in `position` order, and a row is only eligible once every
  transaction that started before it has finished (`txid < pg_snapshot_xmin`), so a late
  commit can never slip an earlier position behind a later one.
- One publisher at a time: each pass holds a transaction-level advisory lock, so several
  relay replicas never publish the same row twice in normal operation (a relay that dies
  between the confirm and the commit re-sends that batch; consumers deduplicate on the id).
- Fast: a trigger NOTIFYs on insert; the relay LISTENs and wakes within milliseconds,
  polling every `poll_interval` seconds as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence

import asyncpg

from shared import metrics, tracing
from shared.bus import OutgoingMessage, Publisher, connect, ensure_topology, keep_connected
from shared.db import Migration, check_identifier
from shared.db import connect as db_connect
from shared.events import CloudEvent

log = logging.getLogger(__name__)


def outbox_migration(schema: str, version: int = 1) -> Migration:
    s = check_identifier(schema)
    return Migration(
        version,
        "outbox",
        f"""
CREATE TABLE {s}.outbox (
    position     bigserial PRIMARY KEY,
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id     text NOT NULL UNIQUE,
    event_type   text NOT NULL,
    routing_key  text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at      timestamptz
);
CREATE INDEX outbox_unsent ON {s}.outbox (position) WHERE sent_at IS NULL;
CREATE FUNCTION {s}.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{s}_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON {s}.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.outbox_notify();
-- CloudEvents `sequence`: events per aggregate, from 1.
CREATE TABLE {s}.event_sequences (
    aggregate  text PRIMARY KEY,
    last       integer NOT NULL
);
""",
    )


async def append(conn: asyncpg.Connection, schema: str, events: Sequence[tuple[CloudEvent, str]]) -> None:
    """Write events (each with its routing key) in the caller's transaction."""
    if not events:
        return
    s = check_identifier(schema)
    await conn.executemany(
        f"INSERT INTO {s}.outbox (event_id, event_type, routing_key, body) VALUES ($1, $2, $3, $4)",
        [(e.id, e.type, key, e.to_json()) for e, key in events],
    )


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        amqp_url: str,
        schema: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 10.0,
    ) -> None:
        self.schema = check_identifier(schema)
        self._database_url = database_url
        self._amqp_url = amqp_url
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock_key = int.from_bytes(
            hashlib.sha256(f"qaloop-outbox:{schema}".encode()).digest()[:8], "big", signed=True
        )
        self.published = 0  # events confirmed by the broker since start (for metrics and tests)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until `stop()`; survives broker and database outages."""
        await keep_connected(
            self._run_connected,
            self._stopping,
            first_wait=0.1,
            max_wait=self._max_backoff,
            on_failure=self._failed,
        )

    def _failed(self, error: BaseException | None, wait: float) -> None:
        metrics.OUTBOX_RELAY_CONNECTED.labels(self.schema).set(0)
        log.warning("outbox relay for %s: %s; retrying in %.1fs", self.schema, error, wait)

    async def _run_connected(self) -> None:
        connection = await connect(self._amqp_url)
        conn: asyncpg.Connection = await db_connect(self._database_url)
        publisher = Publisher(connection)
        try:
            await conn.add_listener(f"{self.schema}_outbox", lambda *_: self._wake.set())
            await ensure_topology(connection)
            metrics.OUTBOX_RELAY_CONNECTED.labels(self.schema).set(1)
            while not self._stopping.is_set():
                self._wake.clear()
                sent = await self.relay_once(conn, publisher)
                if sent == self._batch_size:
                    continue  # more waiting: go again at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        finally:
            metrics.OUTBOX_RELAY_CONNECTED.labels(self.schema).set(0)
            with contextlib.suppress(Exception):
                await conn.close()
            with contextlib.suppress(Exception):
                await connection.close()

    async def relay_once(self, conn: asyncpg.Connection, publisher: Publisher) -> int:
        """One pass: lock, read the oldest unsent rows, publish, mark the confirmed ones sent.

        The pass itself is untraced (it runs every `poll_interval` even when idle); each
        publish is a span of its event's trace (`tracing.continued` in `Publisher`)."""
        with tracing.untraced():
            return await self._relay_once(conn, publisher)

    async def _relay_once(self, conn: asyncpg.Connection, publisher: Publisher) -> int:
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._lock_key):
                return 0  # another relay replica is publishing
            rows = await conn.fetch(
                f"""SELECT position, event_id, routing_key, body FROM {self.schema}.outbox
                    WHERE sent_at IS NULL AND txid < pg_snapshot_xmin(pg_current_snapshot())
                    ORDER BY position LIMIT $1""",
                self._batch_size,
            )
            if not rows:
                return 0
            messages = [
                OutgoingMessage(
                    routing_key=r["routing_key"],
                    body=bytes(r["body"]),
                    message_id=r["event_id"],
                    traceparent=tracing.body_traceparent(r["body"]),
                )
                for r in rows
            ]
            confirmed = await publisher.publish_many(messages)
            if confirmed:
                await conn.execute(
                    f"UPDATE {self.schema}.outbox SET sent_at = clock_timestamp() WHERE position = ANY($1::bigint[])",
                    [r["position"] for r in rows[:confirmed]],
                )
            self.published += confirmed
            metrics.EVENTS_PUBLISHED.labels(self.schema).inc(confirmed)
        if confirmed < len(rows):
            raise ConnectionError(f"broker confirmed {confirmed} of {len(rows)} messages")
        return confirmed


async def next_sequence(conn: asyncpg.Connection, schema: str, aggregate: str) -> int:
    """The next CloudEvents `sequence` for an aggregate (1, 2, …), in the caller's transaction."""
    s = check_identifier(schema)
    return int(
        await conn.fetchval(
            f"""INSERT INTO {s}.event_sequences (aggregate, last) VALUES ($1, 1)
                ON CONFLICT (aggregate) DO UPDATE SET last = {s}.event_sequences.last + 1
                RETURNING last""",
            aggregate,
        )
    )


async def backlog(conn: asyncpg.Connection, schema: str) -> int:
    s = check_identifier(schema)
    return int(await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL"))
