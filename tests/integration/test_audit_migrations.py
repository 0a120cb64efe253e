"""services/audit/migrations/002_shared_actions.sql: the audit strand's own actions table
becomes exactly the shared one (shared.actions.store.ACTIONS_TABLE: columns, types,
nullability, indexes, constraints), and every action recorded before keeps what it said —
readable through the shared repository, its events' subject and sequence continued."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.audit.app import MIGRATIONS
from services.audit.store import PostgresConcerns, PostgresTemplates
from services.audit.templates import DEFAULT_TEMPLATES, EHCP_CHECKLIST, SEED_AUTHOR
from shared import outbox
from shared.actions.domain import Action
from shared.actions.store import ACTIONS_TABLE, COLUMNS, PostgresActions
from shared.db import connect, load_migrations, migrate
from shared.events import LearningOrigin

pytestmark = pytest.mark.integration

RAISED = datetime(2022, 9, 1, 9, 0, tzinfo=UTC)
DONE = datetime(2022, 9, 20, 15, 30, tzinfo=UTC)


@dataclass
class Scratch:
    conn: asyncpg.Connection
    audit: str  # the audit strand's migrations run here
    reference: str  # the shared ACTIONS_TABLE, created as it is written


@pytest.fixture
async def scratch(servers: Any) -> AsyncIterator[Scratch]:
    conn = await connect(servers.database_url)
    made = Scratch(conn, f"audit_migration_{uuid.uuid4().hex[:8]}", f"shared_actions_{uuid.uuid4().hex[:8]}")
    try:
        yield made
    finally:
        for schema in (made.audit, made.reference):
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


async def _reference_shape(scratch: Scratch) -> dict[str, Any]:
    await scratch.conn.execute(f"CREATE SCHEMA {scratch.reference}")
    await scratch.conn.execute(ACTIONS_TABLE.format(schema=scratch.reference))
    return await _shape(scratch.conn, scratch.reference)


def _migrations(schema: str, *, up_to: int) -> list[Any]:
    own = [m for m in load_migrations(MIGRATIONS, schema) if m.version <= up_to]
    return [outbox.outbox_migration(schema, version=0), *own]


async def _shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """The actions table's columns (type, nullability, default), indexes and constraints."""
    columns = await conn.fetch(
        """SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'actions'""",
        schema,
    )
    indexes = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema)
    constraints = await conn.fetch(
        """SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = $1 AND t.relname = 'actions'""",
        schema,
    )
    return {
        "columns": {r["column_name"]: (r["data_type"], r["is_nullable"], r["column_default"]) for r in columns},
        "indexes": {
            r["indexname"]: r["indexdef"].replace(f"{schema}.", "<schema>.")
            for r in indexes
            if r["indexname"].startswith("actions")
        },
        "constraints": {r["conname"]: r["def"] for r in constraints},
    }


async def _old_rows(conn: asyncpg.Connection, s: str) -> None:
    """An audit, a concern, and three actions as the old service recorded them (with their
    events' sequence counters under the bare action id)."""
    await conn.execute(
        f"""INSERT INTO {s}.templates (template_id, name, service_area, areas, created_by)
            VALUES ('t1', 'case file', 'send', '[{{"key": "planning", "title": "Planning"}}]', 'seed');
            INSERT INTO {s}.concerns (concern_id, service_area, theme, description, measures, raised_at,
                                      review_by, raised_by)
            VALUES ('c1', 'send', 'oversight', 'weak', '["supervision"]', '2022-08-01T09:00:00Z',
                    '2022-12-01', 'qa');
            INSERT INTO {s}.audits (audit_id, case_reference, case_ref, service_area, team, audit_type,
                                    template_id, areas, auditor_id, due_date, scheduled_by)
            VALUES ('a1', 'MOS/1', 'k1:0123456789abcdef', 'send', 'send-0-14', 'routine', 't1',
                    '[{{"key": "planning", "title": "Planning"}}]', 'auditor-1', '2022-09-30', 'qa')"""
    )
    old = [
        ("x1", "audit", "a1", "a1", None, "send-0-14", "open", None, None, None),
        ("x2", "audit", "a1", "a1", None, "send-0-14", "completed", DONE, "manager-1", "notes on file"),
        ("x3", "concern", "c1", None, "c1", "send-north", "open", None, None, None),
    ]
    await conn.executemany(
        f"""INSERT INTO {s}.actions (action_id, origin, origin_id, audit_id, concern_id, team, service_area,
                                     owner_id, summary, raised_at, raised_by, due_date, status, completed_at,
                                     completed_by, evidence)
            VALUES ($1, $2, $3, $4, $5, $6, 'send', 'manager-1', 'supervise monthly', $7, 'auditor-1',
                    '2022-09-30', $8, $9, $10, $11)""",
        [
            (i, o, oid, aid, cid, team, RAISED, status, at, by, ev)
            for i, o, oid, aid, cid, team, status, at, by, ev in old
        ],
    )
    await conn.executemany(
        f"INSERT INTO {s}.event_sequences (aggregate, last) VALUES ($1, $2)",
        [("a1", 2), ("c1", 1), ("x1", 1), ("x2", 2), ("x3", 1)],
    )


async def test_the_migrated_actions_table_is_the_shared_one_with_every_row_kept(scratch: Scratch) -> None:
    conn, audit = scratch.conn, scratch.audit
    await migrate(conn, audit, _migrations(audit, up_to=1))
    await _old_rows(conn, audit)

    applied = await migrate(conn, audit, _migrations(audit, up_to=2))
    assert applied == ["002_shared_actions"]

    names = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'actions'",
            audit,
        )
    ]
    assert sorted(names) == sorted(COLUMNS) and len(names) == len(COLUMNS)
    assert await _shape(conn, audit) == await _reference_shape(scratch)

    actions = PostgresActions(conn, audit)
    found = {action_id: await actions.get(action_id) for action_id in ("x1", "x2", "x3")}
    common: dict[str, Any] = {
        "service_area": "send",
        "owner_id": "manager-1",
        "summary": "supervise monthly",
        "due_date": date(2022, 9, 30),
        "raised_at": RAISED,
        "raised_by": "auditor-1",
    }
    on_audit: dict[str, Any] = {
        "origin": LearningOrigin.AUDIT,
        "origin_id": "a1",
        "team": "send-0-14",
        "subject": "case:k1:0123456789abcdef",
    }
    assert found == {
        "x1": Action(action_id="x1", **common, **on_audit),
        "x2": Action(
            action_id="x2",
            **common,
            **on_audit,
            completed_at=DONE,
            completed_by="manager-1",
            evidence="notes on file",
        ),
        "x3": Action(action_id="x3", **common, origin=LearningOrigin.CONCERN, origin_id="c1", team="send-north"),
    }
    sequences = {r["aggregate"]: r["last"] for r in await conn.fetch(f"SELECT * FROM {audit}.event_sequences")}
    assert sequences == {"a1": 2, "c1": 1, "action:x1": 1, "action:x2": 2, "action:x3": 1}
    assert await outbox.next_sequence(conn, audit, "action:x1") == 2  # its ActionCompleted continues it


async def test_a_fresh_schema_gets_the_shared_actions_table_too(scratch: Scratch) -> None:
    await migrate(scratch.conn, scratch.audit, _migrations(scratch.audit, up_to=999))
    assert await _shape(scratch.conn, scratch.audit) == await _reference_shape(scratch)


async def test_the_migration_refuses_rows_whose_status_and_completion_disagree(scratch: Scratch) -> None:
    conn, audit = scratch.conn, scratch.audit
    await migrate(conn, audit, _migrations(audit, up_to=1))
    await _old_rows(conn, audit)
    await conn.execute(f"UPDATE {audit}.actions SET status = 'completed' WHERE action_id = 'x1'")
    with pytest.raises(asyncpg.RaiseError, match="disagree"):
        await migrate(conn, audit, _migrations(audit, up_to=999))
    assert await conn.fetchval(f"SELECT count(*) FROM {audit}.actions WHERE status IS NOT NULL") == 3  # unchanged


async def test_procedure_outcomes_and_inspections_keep_every_row_and_the_seed_gives_the_ehcp_checklist(
    scratch: Scratch,
) -> None:
    conn, audit = scratch.conn, scratch.audit
    await migrate(conn, audit, _migrations(audit, up_to=2))
    await conn.execute(
        f"""INSERT INTO {audit}.templates (template_id, name, service_area, audit_type, areas, is_default, created_by)
            VALUES ('ehcp-send', 'EHC plan audit', 'send', 'ehcp', '[]', true, $1)""",
        SEED_AUTHOR,
    )
    await conn.execute(
        f"""INSERT INTO {audit}.concerns (concern_id, service_area, theme, description, measures, raised_at,
                                         review_by, raised_by, status, resolved_at, resolved_by, evidence_audit_ids)
            VALUES ('c1', 'send', 'oversight', 'weak', '["m"]', $1, '2022-12-31', 'qa', 'resolved', $1, 'qa', '[]')""",
        RAISED,
    )
    applied = await migrate(conn, audit, _migrations(audit, up_to=999))
    assert applied == ["003_procedure_outcomes_inspections"]
    old = await PostgresConcerns(conn, audit).get("c1")
    assert old is not None and (old.outcome, old.reason, old.supersedes) == (None, None, None)
    await PostgresTemplates(conn, audit).seed(DEFAULT_TEMPLATES)
    ehcp = await PostgresTemplates(conn, audit).get("ehcp-send")
    assert ehcp is not None and ehcp.checklist == EHCP_CHECKLIST
    with pytest.raises(asyncpg.CheckViolationError):  # a reason unless effective
        await conn.execute(f"UPDATE {audit}.concerns SET outcome = 'not_effective' WHERE concern_id = 'c1'")
