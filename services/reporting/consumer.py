"""Reporting's intake: batches from `reporting.events` → event store (the inbox) → facts →
projection state, in one transaction per batch, then one multi-ack (shared.inbox).

Applying an event never reads other events: each one becomes an append-only fact, and the
rules that join facts (latest moderation, stage clocks, re-referrals, follow-ups) run over
the whole fact set when figures are asked for. That is what makes the projections the same
whatever order the events arrive in and however often they are redelivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.reporting import projections, store
from services.reporting.facts import fact_from_event
from shared.inbox import Received, first_copies


def _fact_time(fact: Any) -> datetime | None:
    for name in (
        "completed_at",
        "moderated_at",
        "resolved_at",
        "received_at",
        "closed_at",
        "escalated_at",
        "published_at",
        "time",
    ):
        value = getattr(fact, name, None)
        if isinstance(value, datetime):
            return value
    return None


# Intake batches commit one at a time (several replicas included), so fact positions become
# visible in order and the query cache can top itself up with "position > last seen".
INTAKE_LOCK = 0x7161_6C6F_6F70_01  # "qaloop" 01


class Projector:
    """Implements the inbox `claim` (event store insert) and the batch handler (facts)."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], int] = {}

    async def claim(self, conn: asyncpg.Connection, events: Sequence[Received]) -> list[Received]:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", INTAKE_LOCK)
        rows = [
            (
                e.envelope.tenant,
                e.envelope.source,
                e.envelope.id,
                e.envelope.type,
                e.envelope.time,
                e.envelope.subject,
                e.envelope.sequence,
                _envelope_text(e),
            )
            for e in events
        ]
        self._positions = await store.append_events(conn, rows)
        return first_copies(events, set(self._positions))

    async def handle(self, conn: asyncpg.Connection, events: list[Received]) -> None:
        await apply_events(conn, [(self._positions[e.key], e) for e in events])


async def apply_events(conn: asyncpg.Connection, events: Sequence[tuple[int, Received]]) -> None:
    """Project events already in the event store (live intake and rebuild share this)."""
    fact_rows = []
    counts: dict[str, list[Any]] = {}

    def count(name: str, when: datetime | None) -> None:
        entry = counts.setdefault(name, [0, None])
        entry[0] += 1
        if when is not None and (entry[1] is None or when > entry[1]):
            entry[1] = when

    for position, event in events:
        count("event_store", event.envelope.time)
        fact = fact_from_event(event.envelope, event.data)
        if fact is None:
            continue
        kind, payload = projections.encode(fact)
        fact_rows.append((position, event.envelope.tenant, kind, store.dumps(payload)))
        when = _fact_time(fact)
        count("facts", when)
        count(projections.PROJECTION_OF_KIND[kind], when)
    await store.insert_facts(conn, fact_rows)
    await store.bump_projection_state(conn, {k: (v[0], v[1]) for k, v in counts.items()})


def _envelope_text(event: Received) -> str:
    try:
        return event.body.decode("utf-8")
    except UnicodeDecodeError:
        return event.envelope.to_json().decode()
