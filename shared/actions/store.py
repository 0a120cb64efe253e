"""Where a strand keeps its actions: the repository Protocol and its PostgreSQL adapter.

Every strand has the same table, `<schema>.actions` (`ACTIONS_TABLE`, created by the
strand's own migrations); `tests/fakes/actions.py` is the in-memory twin, and
`tests/integration/test_store_contract.py` runs one suite against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

import asyncpg

from shared.actions.domain import Action
from shared.events import LearningOrigin

# The columns of every strand's actions table, in order (a migration test checks them).
ACTIONS_TABLE = """
CREATE TABLE {schema}.actions (
    action_id     text PRIMARY KEY,
    origin        text NOT NULL,
    origin_id     text NOT NULL,
    team          text NOT NULL,
    service_area  text NOT NULL,
    owner_id      text NOT NULL,
    summary       text NOT NULL,
    due_date      date NOT NULL,
    raised_at     timestamptz NOT NULL,
    raised_by     text NOT NULL,
    learning_id   text,
    subject       text,
    completed_at  timestamptz,
    completed_by  text,
    evidence      text
);
CREATE INDEX actions_by_origin ON {schema}.actions (origin_id, raised_at);
CREATE INDEX actions_open_by_due ON {schema}.actions (due_date) WHERE completed_at IS NULL;
"""
COLUMNS = (
    "action_id",
    "origin",
    "origin_id",
    "team",
    "service_area",
    "owner_id",
    "summary",
    "due_date",
    "raised_at",
    "raised_by",
    "learning_id",
    "subject",
    "completed_at",
    "completed_by",
    "evidence",
)

Status = Literal["open", "overdue", "completed"]


@dataclass(frozen=True)
class ActionQuery:
    """Which actions to list, by due date then id. `overdue`: open past their due date on
    `today`."""

    today: date
    status: Status | None = None
    origin: LearningOrigin | None = None
    origin_id: str | None = None
    team: str | None = None
    service_area: str | None = None
    owner_id: str | None = None
    limit: int = 100
    offset: int = 0

    def matches(self, action: Action) -> bool:
        """The same filter in Python (the fake's, and a reading of the SQL)."""
        wanted = {
            "origin": self.origin,
            "origin_id": self.origin_id,
            "team": self.team,
            "service_area": self.service_area,
            "owner_id": self.owner_id,
        }
        if any(value is not None and getattr(action, name) != value for name, value in wanted.items()):
            return False
        if self.status == "completed":
            return action.completed_at is not None
        if self.status == "open":
            return action.completed_at is None
        if self.status == "overdue":
            return action.overdue(self.today)
        return True


class ActionRepository(Protocol):
    async def add(self, action: Action) -> bool:
        """Store a new action; False (nothing stored) when its id is taken."""

    async def get(self, action_id: str, *, for_update: bool = False) -> Action | None: ...

    async def save(self, action: Action) -> None:
        """Store an action's completion."""

    async def find(self, query: ActionQuery) -> list[Action]: ...

    async def of_origin(self, origin_id: str) -> list[Action]:
        """An origin's actions, oldest first."""


class PostgresActions:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.table = f"{schema}.actions"

    async def add(self, action: Action) -> bool:
        values = [getattr(action, c) for c in COLUMNS]
        values[1] = str(action.origin)
        status = await self.conn.execute(
            f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))}) ON CONFLICT (action_id) DO NOTHING",
            *values,
        )
        return bool(status == "INSERT 0 1")

    async def get(self, action_id: str, *, for_update: bool = False) -> Action | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT * FROM {self.table} WHERE action_id = $1{lock}", action_id)
        return None if row is None else _action(row)

    async def save(self, action: Action) -> None:
        await self.conn.execute(
            f"UPDATE {self.table} SET completed_at = $2, completed_by = $3, evidence = $4 WHERE action_id = $1",
            action.action_id,
            action.completed_at,
            action.completed_by,
            action.evidence,
        )

    async def find(self, query: ActionQuery) -> list[Action]:
        where, args = _filters(query)
        args += [query.limit, query.offset]
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.table} WHERE {' AND '.join(where) or 'true'} "
            f"ORDER BY due_date, action_id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return [_action(r) for r in rows]

    async def of_origin(self, origin_id: str) -> list[Action]:
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.table} WHERE origin_id = $1 ORDER BY raised_at, action_id", origin_id
        )
        return [_action(r) for r in rows]


def _filters(query: ActionQuery) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    for column in ("origin", "origin_id", "team", "service_area", "owner_id"):
        value = getattr(query, column)
        if value is not None:
            args.append(str(value))
            where.append(f"{column} = ${len(args)}")
    if query.status == "completed":
        where.append("completed_at IS NOT NULL")
    elif query.status == "open":
        where.append("completed_at IS NULL")
    elif query.status == "overdue":
        args.append(query.today)
        where.append(f"completed_at IS NULL AND due_date < ${len(args)}")
    return where, args


def _action(row: asyncpg.Record) -> Action:
    values = dict(row)
    values["origin"] = LearningOrigin(values["origin"])
    return Action(**{c: values[c] for c in COLUMNS})
