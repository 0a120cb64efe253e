"""The feedback store on PostgreSQL: the feedback store contract (its fake's run:
tests/unit/test_feedback_store_fake.py), the shared action store contract on feedback's own
migrated actions table, and that migration 004 turned the old table into exactly the shared
one, keeping every row."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.feedback.app import MIGRATIONS
from services.feedback.store import PostgresFeedbackUnitOfWork
from shared.actions.domain import Action
from shared.actions.store import ACTIONS_TABLE, COLUMNS, PostgresActions
from shared.db import connect, load_migrations, migrate
from shared.events import LearningOrigin
from shared.service import StrandService
from shared.settings import get_settings
from tests.support.contracts import ActionStoreContract
from tests.support.contracts_feedback import FeedbackStoreContract

pytestmark = pytest.mark.integration


def scratch_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class ScratchService(StrandService):
    """The feedback service's migrations in a schema of its own (its events route as feedback's)."""

    scratch = "feedback"

    @property
    def schema(self) -> str:
        return self.scratch


@pytest.fixture
async def service(servers: Any) -> AsyncIterator[StrandService]:
    svc = ScratchService("feedback", MIGRATIONS, settings=get_settings())
    svc.scratch = scratch_name("feedback_contract")
    await svc.start(relay=False)
    yield svc
    async with svc.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(f"DROP SCHEMA {svc.schema} CASCADE")
    await svc.stop()


class OnPostgres:
    @pytest.fixture(autouse=True)
    def _service(self, service: StrandService) -> None:
        self.service = service

    async def make_uow(self) -> Any:
        return PostgresFeedbackUnitOfWork(self.service)

    async def published(self, uow: Any) -> list[str]:
        async with self.service.pool.acquire() as conn:  # type: ignore[union-attr]
            rows = await conn.fetch(f"SELECT event_type FROM {self.service.schema}.outbox ORDER BY position")
        return [r["event_type"] for r in rows]


class TestPostgresFeedbackStore(OnPostgres, FeedbackStoreContract):
    pass


class TestPostgresFeedbackActionStore(OnPostgres, ActionStoreContract):
    """Feedback's migrated actions table does all the shared action store does."""


# --------------------------------------------------------------------------- migration 004


@dataclass
class Scratch:
    """A connection, and the scratch schemas a test made (dropped after it)."""

    conn: asyncpg.Connection
    schemas: list[str] = field(default_factory=list)

    def schema(self, prefix: str) -> str:
        self.schemas.append(scratch_name(prefix))
        return self.schemas[-1]

    async def migrated(self, *, up_to: int | None = None) -> str:
        """A schema with feedback's migrations applied (those up to `up_to`)."""
        schema = self.schema("feedback_migration")
        migrations = [m for m in load_migrations(MIGRATIONS, schema) if up_to is None or m.version <= up_to]
        await migrate(self.conn, schema, migrations)
        return schema


@pytest.fixture
async def scratch(servers: Any) -> AsyncIterator[Scratch]:
    made = Scratch(await connect(servers.database_url))
    yield made
    for schema in made.schemas:
        await made.conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await made.conn.close()


async def _shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    columns = await conn.fetch(
        """SELECT column_name, data_type, is_nullable FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'actions'""",
        schema,
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'actions'", schema
    )
    constraints = await conn.fetch(
        "SELECT conname, contype FROM pg_constraint WHERE conrelid = $1::regclass", f"{schema}.actions"
    )
    return {
        "columns": sorted(tuple(c) for c in columns),
        "indexes": sorted((i["indexname"], i["indexdef"].replace(f"{schema}.", "")) for i in indexes),
        "constraints": sorted(tuple(c) for c in constraints),
    }


async def test_the_migrated_actions_table_is_the_shared_one(scratch: Scratch) -> None:
    migrated = await scratch.migrated()
    reference = scratch.schema("actions_reference")
    await scratch.conn.execute(f"CREATE SCHEMA {reference}")
    await scratch.conn.execute(ACTIONS_TABLE.replace("{schema}", reference))

    shape = await _shape(scratch.conn, migrated)
    assert {name for name, _, _ in shape["columns"]} == set(COLUMNS)
    assert shape == await _shape(scratch.conn, reference)
    assert [i for i, _ in shape["indexes"]] == ["actions_by_origin", "actions_open_by_due", "actions_pkey"]


OLD_ROWS = [
    # action_id, origin_kind, origin_id, response_id, team, service_area, owner_id, summary, due_date,
    # raised_at, raised_by, completed_at, completed_by, evidence
    (
        "act-response",
        "response",
        "resp-1",
        "resp-1",
        "through-care",
        "childrens_social_care",
        "manager-through-care",
        "Visit the child today",
        date(2022, 8, 2),
        datetime(2022, 8, 1, 10, 30, tzinfo=UTC),
        "worker-1",
        datetime(2022, 8, 2, 8, 15, tzinfo=UTC),
        "manager-through-care",
        "Child seen alone",
    ),
    (
        "act-theme",
        "theme",
        "send:easy_to_contact_case_worker",
        None,
        "send-north",
        "send",
        "send-service-manager",
        "A duty line every working day",
        date(2022, 12, 1),
        datetime(2022, 10, 3, 9, 0, tzinfo=UTC),
        "worker-2",
        None,
        None,
        None,
    ),
]


async def test_migration_004_keeps_every_action_and_fills_the_new_columns(scratch: Scratch) -> None:
    conn = scratch.conn
    schema = await scratch.migrated(up_to=3)
    await conn.execute(
        f"""INSERT INTO {schema}.responses (response_id, survey_id, survey_version, service_area, team,
                respondent, received_at, fingerprint, source, recorded_by)
            VALUES ('resp-1', 'csc-children-young-people', 1, 'childrens_social_care', 'through-care',
                    'child', '2022-08-01T09:00:00Z', 'f', 'api', 'worker-1')"""
    )
    await conn.executemany(
        f"""INSERT INTO {schema}.actions (action_id, origin_kind, origin_id, response_id, team, service_area,
                owner_id, summary, due_date, raised_at, raised_by, completed_at, completed_by, evidence)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
        OLD_ROWS,
    )

    up_to_004 = [m for m in load_migrations(MIGRATIONS, schema) if m.version <= 4]
    applied = await migrate(conn, schema, up_to_004)

    assert applied == ["004_shared_actions"]
    actions = PostgresActions(conn, schema)
    for row in OLD_ROWS:
        action_id, _, origin_id, _, team, area, owner, summary, due, raised_at, raised_by, done, done_by, evidence = row
        assert await actions.get(action_id) == Action(
            action_id=action_id,
            origin=LearningOrigin.FEEDBACK,
            origin_id=origin_id,
            team=team,
            service_area=area,
            owner_id=owner,
            summary=summary,
            due_date=due,
            raised_at=raised_at,
            raised_by=raised_by,
            learning_id=None,
            subject=None,
            completed_at=done,
            completed_by=done_by,
            evidence=evidence,
        )
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.actions") == len(OLD_ROWS)
