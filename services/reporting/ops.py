"""Operations endpoints (role ops:admin): queues, dead letters, lag (issue 8).

The same operations as `qaloop ops …` (CONTRACT.md §3), over HTTP, built on `shared.ops`:

| method and path | does |
| --- | --- |
| `GET /v1/ops/queues` | depth, consumers and rates of every qaloop queue and its DLQ |
| `GET /v1/ops/dlq?queue=reporting.events&limit=100` | the dead letters (nothing is removed) |
| `GET /v1/ops/dlq/{id}?queue=…` | one dead letter: reason headers and the event |
| `POST /v1/ops/dlq/replay?queue=…` `{"ids": [...]}` or `{"all": true}` | re-publish, confirmed, then remove |
| `POST /v1/ops/dlq/purge?queue=…` `{"confirm": true}` | delete every dead letter of the queue |
| `GET /v1/ops/lag` | outbox backlog per schema; projection lag (queue depth, age of the last applied event) |

Projection lag is reporting's own knowledge (its event store), so it lives here; the CLI
(the composition root) calls `lag_report` directly, without the service having to run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import aio_pika
import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel
from rich import box
from rich.table import Table

from services.reporting.store import SCHEMA
from shared.auth import require
from shared.bus import REPORTING_QUEUE
from shared.ops import Operations, UnknownQueue, outbox_backlogs, queue_spec
from shared.settings import Settings

router = APIRouter(prefix="/v1/ops", tags=["operations"], dependencies=[Depends(require("ops:admin"))])


# --------------------------------------------------------------------------- projection lag


@dataclass(frozen=True)
class ProjectionLag:
    queue_depth: int | None  # events waiting in reporting.events
    dead_letters: int | None  # in reporting.events.dlq
    consumers: int | None
    events_applied: int
    last_applied_at: datetime | None  # when the newest event in the event store was applied
    last_applied_age_seconds: float | None
    last_event_time: datetime | None  # the newest fact time applied

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue_depth": self.queue_depth,
            "dead_letters": self.dead_letters,
            "consumers": self.consumers,
            "events_applied": self.events_applied,
            "last_applied_at": _iso(self.last_applied_at),
            "last_applied_age_seconds": self.last_applied_age_seconds,
            "last_event_time": _iso(self.last_event_time),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def last_applied(conn: asyncpg.Connection) -> tuple[datetime | None, float | None]:
    """When the newest event-store row was applied, and its age in seconds (position is the
    primary key, so this reads one index entry however large the store is)."""
    row = await conn.fetchrow(
        f"""SELECT applied_at, extract(epoch FROM clock_timestamp() - applied_at)::float8 AS age
            FROM {SCHEMA}.event_store ORDER BY position DESC LIMIT 1"""
    )
    return (row["applied_at"], row["age"]) if row else (None, None)


async def overdue_followups(conn: asyncpg.Connection, today: date) -> dict[str, int]:
    """Follow-ups overdue today per tenant, for the gauge `qaloop_followups_overdue`: the rows
    `GET /v1/followups?status=overdue` lists (opened by today, not closed by today, due before
    today), and 0 for every other tenant whose events reporting has applied, so that a tenant
    with none has a series (an alert on a jump then compares with a real 0, never with an
    absent series)."""
    known = await conn.fetch(f"SELECT tenant FROM {SCHEMA}.tenant_projection_state WHERE name = 'event_store'")
    rows = await conn.fetch(
        f"""SELECT tenant, count(*) AS n FROM {SCHEMA}.followups
            WHERE opened_on <= $1 AND (closed_on IS NULL OR closed_on > $1) AND due_date < $1
            GROUP BY tenant""",
        today,
    )
    return {r["tenant"]: 0 for r in known} | {r["tenant"]: int(r["n"]) for r in rows}


async def projection_lag(conn: asyncpg.Connection, operations: Operations) -> ProjectionLag | None:
    """None where this database has no reporting schema."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.event_store"):
        return None
    applied_at, age = await last_applied(conn)
    state = await conn.fetchrow(
        f"SELECT coalesce(sum(events_applied), 0) AS events_applied, max(last_event_time) AS last_event_time "
        f"FROM {SCHEMA}.tenant_projection_state WHERE name = 'event_store'"
    )
    queue, dlq = await operations.queues([queue_spec(REPORTING_QUEUE)])
    return ProjectionLag(
        queue_depth=queue.messages,
        dead_letters=dlq.messages,
        consumers=queue.consumers,
        events_applied=int(state["events_applied"]) if state else 0,
        last_applied_at=applied_at,
        last_applied_age_seconds=age,
        last_event_time=state["last_event_time"] if state else None,
    )


async def lag_report(conn: asyncpg.Connection, operations: Operations) -> dict[str, Any]:
    backlogs = await outbox_backlogs(conn)
    lag = await projection_lag(conn, operations)
    return {"outbox": [b.to_dict() for b in backlogs], "projection": lag.to_dict() if lag else None}


def projection_table(lag: dict[str, Any] | None) -> Table:
    table = Table(title="projection lag (reporting)", box=box.SIMPLE_HEAD)
    table.add_column("measure")
    table.add_column("value", justify="right")
    if lag is None:
        table.add_row("reporting schema", "not in this database")
        return table

    def show(value: Any, fmt: str = "{:,}") -> str:
        return "-" if value is None else fmt.format(value)

    table.add_row("waiting in reporting.events", show(lag["queue_depth"]))
    table.add_row("consumers on reporting.events", show(lag["consumers"]))
    table.add_row("dead letters", show(lag["dead_letters"]))
    table.add_row("events applied", show(lag["events_applied"]))
    table.add_row("last applied at", show(lag["last_applied_at"], "{}"))
    table.add_row("age of last applied event", show(lag["last_applied_age_seconds"], "{:,.1f} s"))
    table.add_row("newest fact time", show(lag["last_event_time"], "{}"))
    return table


# --------------------------------------------------------------------------- HTTP


def _settings(request: Request) -> Settings:
    return request.app.state.service.settings


def _operations(request: Request) -> Operations:
    settings = _settings(request)
    return Operations(settings.amqp_url, settings.rabbitmq_management_url)


Ops = Annotated[Operations, Depends(_operations)]
QueueName = Annotated[str, Query(description="a consuming queue, e.g. reporting.events (its DLQ is used)")]


@asynccontextmanager
async def _broker_errors() -> AsyncIterator[None]:
    try:
        yield
    except UnknownQueue as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except aio_pika.exceptions.ChannelNotFoundEntity as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no such queue: {exc}") from None
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"broker unavailable: {type(exc).__name__}: {exc}"
        ) from None


@router.get("/queues")
async def queues(operations: Ops) -> dict[str, Any]:
    return {"queues": [s.to_dict() for s in await operations.queues()]}


@router.get("/dlq")
async def dlq_list(
    operations: Ops,
    queue: QueueName = REPORTING_QUEUE,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    async with _broker_errors():
        depth, letters = await operations.dlq_list(queue, limit=limit)
    return {"queue": queue_spec(queue).dlq, "depth": depth, "dead_letters": [d.summary() for d in letters]}


@router.get("/dlq/{dead_letter_id}")
async def dlq_show(dead_letter_id: str, operations: Ops, queue: QueueName = REPORTING_QUEUE) -> dict[str, Any]:
    async with _broker_errors():
        letter = await operations.dlq_show(queue, dead_letter_id)
    if letter is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dead letter {dead_letter_id!r} in {queue}.dlq")
    return letter.to_dict()


class ReplayRequest(BaseModel):
    ids: list[str] = []
    all: bool = False


@router.post("/dlq/replay")
async def dlq_replay(body: ReplayRequest, operations: Ops, queue: QueueName = REPORTING_QUEUE) -> dict[str, Any]:
    if body.all == bool(body.ids):
        raise HTTPException(422, detail='give either "ids" or "all": true')
    async with _broker_errors():
        result = await operations.dlq_replay(queue, None if body.all else body.ids)
    return result.to_dict()


class PurgeRequest(BaseModel):
    confirm: bool = False


@router.post("/dlq/purge")
async def dlq_purge(body: PurgeRequest, operations: Ops, queue: QueueName = REPORTING_QUEUE) -> dict[str, Any]:
    if not body.confirm:
        raise HTTPException(422, detail='purging deletes dead letters for good: send {"confirm": true}')
    async with _broker_errors():
        purged = await operations.dlq_purge(queue)
    return {"queue": queue_spec(queue).dlq, "purged": purged}


@router.get("/lag")
async def lag(request: Request, operations: Ops) -> dict[str, Any]:
    pool = request.app.state.service.pool
    if pool is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the service has not started")
    async with pool.acquire() as conn:
        return await lag_report(conn, operations)
