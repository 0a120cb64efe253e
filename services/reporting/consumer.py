"""Reporting's intake: batches from `reporting.events` → event store (the inbox) → read
models → follow-ups of the origins touched → projection state, in one transaction per
batch, then one multi-ack (shared.inbox).

Each event becomes a fact (`facts.FACT_BUILDERS`, one builder per event type), written as a
row of its read model; then the derived columns of the aggregates the batch touched and
the follow-ups of the origins it touched are recomputed from those aggregates' rows alone
(`readmodels.py`, `learning.py`). Rows only accumulate and derivations read whole
aggregates, so any order and any number of redeliveries give the same read models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.reporting import store
from services.reporting.facts import fact_from_event
from services.reporting.learning import FollowUpDeriver
from services.reporting.readmodels import TABLES, ReadModels
from shared.inbox import Received, first_copies


class Projector:
    """Implements the inbox `claim` (event store insert) and the batch handler (read models)."""

    def __init__(self, readmodels: ReadModels, deriver: FollowUpDeriver) -> None:
        self.readmodels = readmodels
        self.deriver = deriver
        self._positions: dict[tuple[str, str], int] = {}

    async def claim(self, conn: asyncpg.Connection, events: Sequence[Received]) -> list[Received]:
        await store.lock_read_models(conn)  # batches commit one at a time, replicas included
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
        await apply_events(conn, self.readmodels, self.deriver, events)


async def apply_events(
    conn: asyncpg.Connection,
    readmodels: ReadModels,
    deriver: FollowUpDeriver,
    events: Sequence[Received],
    *,
    count: bool = True,
) -> None:
    """Project events already in the event store: facts, derived columns, follow-ups, and
    (unless ``count`` is off: a rebuild recounts from its tables) the projection counts."""
    items = []
    counts: dict[tuple[str, str], list[Any]] = {}

    def tally(name: str, when: datetime | None) -> None:
        entry = counts.setdefault((event.envelope.tenant, name), [0, None])
        entry[0] += 1
        if when is not None and (entry[1] is None or when > entry[1]):
            entry[1] = when

    for event in events:
        tally("event_store", event.envelope.time)
        tally("read_models", event.envelope.time)
        fact = fact_from_event(event.envelope, event.data)
        if fact is None:
            continue
        items.append((event.envelope.tenant, fact))
        tally(TABLES[type(fact)][1], event.envelope.time)
    touched = await readmodels.write_facts(conn, items)
    for tenant, t in sorted(touched.items()):
        loader = readmodels.loader(conn, tenant)
        await readmodels.derive_touched(loader, t)
        await deriver.derive_touched(loader, t)
    if count:
        await store.bump_projection_state(conn, {k: (v[0], v[1]) for k, v in counts.items()})


def _envelope_text(event: Received) -> str:
    try:
        return event.body.decode("utf-8")
    except UnicodeDecodeError:
        return event.envelope.to_json().decode()
