"""services/complaints/migrations/002_shared_actions.sql: the complaints strand's own actions
table becomes exactly the shared one (shared.actions.store.ACTIONS_TABLE: column names and
types, nullability, indexes, constraints), and every action recorded before keeps what it
said — read back through the shared repository, with who raised and completed it taken from
the complaint's history and its case pseudonym from the complaint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.complaints.app import MIGRATIONS
from shared import outbox
from shared.actions.domain import Action
from shared.actions.store import ACTIONS_TABLE, COLUMNS, PostgresActions
from shared.db import Migration, connect, load_migrations, migrate
from shared.events import LearningOrigin

pytestmark = pytest.mark.integration

RECEIVED = datetime(2022, 8, 1, 10, 0, tzinfo=UTC)
RAISED = datetime(2022, 8, 12, 10, 0, tzinfo=UTC)
DONE = datetime(2022, 9, 20, 15, 30, tzinfo=UTC)
SUBJECT = "case:k1:0123456789abcdef"


@dataclass
class Scratch:
    conn: asyncpg.Connection
    complaints: str  # the complaints migrations run here
    reference: str  # the shared ACTIONS_TABLE, created as it is written


@pytest.fixture
async def scratch(servers: Any) -> AsyncIterator[Scratch]:
    conn = await connect(servers.database_url)
    made = Scratch(conn, f"complaints_migration_{uuid.uuid4().hex[:8]}", f"shared_actions_{uuid.uuid4().hex[:8]}")
    try:
        yield made
    finally:
        for schema in (made.complaints, made.reference):
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


def migrations(schema: str, *, up_to: int) -> list[Migration]:
    """The service's migrations as StrandService runs them (the outbox first)."""
    own = [m for m in load_migrations(MIGRATIONS, schema) if m.version <= up_to]
    return [outbox.outbox_migration(schema, version=0), *own]


async def shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """The actions table's columns (type, nullability, default), indexes and constraints."""
    columns = await conn.fetch(
        """SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'actions'""",
        schema,
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'actions'", schema
    )
    constraints = await conn.fetch(
        """SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = $1 AND t.relname = 'actions'""",
        schema,
    )
    return {
        "columns": {r["column_name"]: (r["data_type"], r["is_nullable"], r["column_default"]) for r in columns},
        "indexes": {r["indexname"]: r["indexdef"].replace(f"{schema}.", "<schema>.") for r in indexes},
        "constraints": {r["conname"]: r["def"] for r in constraints},
    }


async def old_rows(conn: asyncpg.Connection, s: str) -> None:
    """Two complaints, learning, three actions and the history the old service wrote."""
    await conn.execute(
        f"""INSERT INTO {s}.complaints (complaint_id, procedure, category, team, service_area, complainant,
                                        received_at, case_ref, case_subject, status, current_stage)
            VALUES ('c1', 'statutory_children', 'communication', 'through-care', 'childrens_social_care',
                    'parent_carer', '{RECEIVED.isoformat()}', 'CASE-1', '{SUBJECT}', 'responded', 1),
                   ('c2', 'corporate', 'delay', 'send-east', 'send', 'child',
                    '{RECEIVED.isoformat()}', NULL, NULL, 'responded', 1);
            INSERT INTO {s}.learning (learning_id, complaint_id, team, service_area, summary, identified_at)
            VALUES ('l1', 'c1', 'through-care', 'childrens_social_care', 'Call back', '{RAISED.isoformat()}')"""
    )
    await conn.executemany(
        f"""INSERT INTO {s}.actions (action_id, complaint_id, learning_id, team, service_area, owner_id,
                                     raised_at, due_date, summary, completed_at, evidence)
            VALUES ($1, $2, $3, $4, $5, 'manager-7', $6, '2022-09-30', 'Call-back log', $7, $8)""",
        [
            ("a1", "c1", "l1", "through-care", "childrens_social_care", RAISED, None, None),
            ("a2", "c1", None, "through-care", "childrens_social_care", RAISED, DONE, "rota v3"),
            ("a3", "c2", None, "send-east", "send", RAISED, DONE, None),
        ],
    )
    history = [
        ("c1", "ActionRaised", "a1", "officer-1"),
        ("c1", "ActionRaised", "a2", "officer-2"),
        ("c1", "ActionCompleted", "a2", "manager-7"),
        ("c2", "ActionRaised", "a3", None),  # written without an actor: raised_by unknown
        ("c2", "ActionCompleted", "a3", None),
    ]
    await conn.executemany(
        f"INSERT INTO {s}.complaint_history (complaint_id, kind, event_id, data, actor) VALUES ($1, $2, $3, $4, $5)",
        [(c, kind, str(uuid.uuid4()), {"action_id": a}, actor) for c, kind, a, actor in history],
    )
    await conn.executemany(f"INSERT INTO {s}.event_sequences (aggregate, last) VALUES ($1, $2)", [("c1", 7), ("c2", 4)])


def migrated(action_id: str, origin_id: str, **changes: Any) -> Action:
    base: dict[str, Any] = {
        "action_id": action_id,
        "origin": LearningOrigin.COMPLAINT,
        "origin_id": origin_id,
        "team": "through-care",
        "service_area": "childrens_social_care",
        "owner_id": "manager-7",
        "summary": "Call-back log",
        "due_date": date(2022, 9, 30),
        "raised_at": RAISED,
        "raised_by": "officer-1",
        "subject": SUBJECT,
    }
    return Action(**(base | changes))


async def test_the_migrated_actions_table_is_the_shared_one_with_every_row_kept(scratch: Scratch) -> None:
    conn, s = scratch.conn, scratch.complaints
    await migrate(conn, s, migrations(s, up_to=1))
    await old_rows(conn, s)

    assert await migrate(conn, s, migrations(s, up_to=999)) == ["002_shared_actions", "003_panels_ombudsman"]

    names = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'actions'", s
    )
    assert sorted(r["column_name"] for r in names) == sorted(COLUMNS) and len(names) == len(COLUMNS)
    await conn.execute(f"CREATE SCHEMA {scratch.reference}")
    await conn.execute(ACTIONS_TABLE.format(schema=scratch.reference))
    assert await shape(conn, s) == await shape(conn, scratch.reference)

    actions = PostgresActions(conn, s)
    assert await actions.of_origin("c1") == [
        migrated("a1", "c1", learning_id="l1"),
        migrated("a2", "c1", raised_by="officer-2", completed_at=DONE, completed_by="manager-7", evidence="rota v3"),
    ]
    assert await actions.of_origin("c2") == [
        migrated(
            "a3",
            "c2",
            team="send-east",
            service_area="send",
            raised_by="unknown",
            subject=None,
            completed_at=DONE,
            completed_by="unknown",
        )
    ]
    # an action's own sequence carries on after the events it had in its complaint's
    sequences = await conn.fetch(f"SELECT aggregate, last FROM {s}.event_sequences ORDER BY aggregate")
    assert [(r["aggregate"], r["last"]) for r in sequences] == [
        ("action:a1", 7),
        ("action:a2", 7),
        ("action:a3", 4),
        ("c1", 7),
        ("c2", 4),
    ]
