"""Least privilege (security issue item 4): each service's own PostgreSQL role reaches only its
own schema, and each service's own RabbitMQ user publishes only its own routing keys.

The module runs in its own database and vhost, set up as production is (shared/roles.py):
the migrator owns the schemas, the services' roles and users are named after the test run
and removed at the end."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import aiormq.exceptions
import asyncpg
import pytest

from shared.bus import REPORTING_QUEUE, OutgoingMessage, Publisher
from shared.settings import Settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def lp(servers: srv.Servers) -> AsyncIterator[srv.LeastPrivilege]:
    async with srv.least_privilege(servers) as credentials:
        yield credentials


def settings_of(lp: srv.LeastPrivilege) -> Settings:
    env = {k.removeprefix("QALOOP_").lower(): v for k, v in lp.settings_env().items()}
    return Settings(**env)


async def migrate_all(lp: srv.LeastPrivilege) -> None:
    from services.audit.app import build as build_audit
    from services.complaints.app import build as build_complaints
    from services.feedback.app import build as build_feedback
    from services.reporting.app import build as build_reporting
    from services.workforce.app import build as build_workforce

    settings = settings_of(lp)
    for build in (build_audit, build_feedback, build_complaints, build_workforce):
        service, _ = build(settings)
        await service.migrate()
    reporting, _ = build_reporting(settings=settings)
    await reporting.migrate()


async def test_feedback_role_cannot_read_complaints_tables_but_uses_its_own(lp: srv.LeastPrivilege) -> None:
    await migrate_all(lp)
    feedback = await asyncpg.connect(lp.database_urls["feedback"])
    try:
        assert await feedback.fetchval("SELECT current_user") == f"{lp.prefix}_feedback"
        await feedback.fetchval("SELECT count(*) FROM feedback.schema_migrations")  # its own: fine
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await feedback.fetch("SELECT * FROM complaints.complaints")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await feedback.fetch("SELECT * FROM audit.access_log")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await feedback.execute("CREATE TABLE feedback.sneaky (x int)")  # DDL is the migrator's
        # its access log: read and append, never rewrite (privileges, not only the trigger)
        await feedback.execute(
            """INSERT INTO feedback.access_log (service, tenant, method, route, status, personal_data)
               VALUES ('feedback', 'E1', 'GET', '/x', 200, false)"""
        )
        for statement in (
            "UPDATE feedback.access_log SET status = 500",
            "DELETE FROM feedback.access_log",
            "TRUNCATE feedback.access_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await feedback.execute(statement)
    finally:
        await feedback.close()
    complaints = await asyncpg.connect(lp.database_urls["complaints"])
    try:
        await complaints.fetch("SELECT * FROM complaints.complaints")
    finally:
        await complaints.close()
    # reporting's upkeep (VACUUM/ANALYZE need the owner) skips the migrator's tables quietly
    from services.reporting import store

    reporting = await asyncpg.connect(lp.database_urls["reporting"])
    try:
        await reporting.fetch("SELECT * FROM reporting.event_store LIMIT 1")
        assert await store.maintain_tables(reporting) == []
    finally:
        await reporting.close()


async def test_every_role_reads_the_configuration_and_only_reporting_s_changes_it(lp: srv.LeastPrivilege) -> None:
    """tenant_config (shared/tenant_config) is no service's own: the migrator owns it, every
    service's role reads it, reporting's (which serves /v1/config) sets settings and appends
    to the history, and no role rewrites the history."""
    from shared.tenant_config import store
    from shared.tenant_config.model import Setting, TenantConfig

    await migrate_all(lp)
    reporting = await connect_as(lp, "reporting")
    try:
        owner = await reporting.fetchval(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'tenant_config'"
        )
        assert owner == f"{lp.prefix}_migrator"
        tenant = f"T{uuid.uuid4().hex[:8]}"
        _, (change,) = await store.change_settings(
            reporting, tenant, TenantConfig(), {Setting.SMALL_NUMBER_THRESHOLD: 3}, "lp"
        )
        for statement in (
            "UPDATE tenant_config.history SET changed_by = 'someone else'",
            "DELETE FROM tenant_config.history",
            "TRUNCATE tenant_config.history",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await reporting.execute(statement)
    finally:
        await reporting.close()
    for service in ("audit", "feedback", "complaints"):  # the strands lp runs as their own roles
        conn = await connect_as(lp, service)
        try:
            assert (await store.stored_settings(conn, tenant))[tenant] == {Setting.SMALL_NUMBER_THRESHOLD: 3}
            assert (await store.latest_changes(conn))[0] >= change.change_id
            for statement in (
                "INSERT INTO tenant_config.settings VALUES ('x', 'y', '1', 1, 'me', now())",
                "UPDATE tenant_config.settings SET value = '100'",
                "DELETE FROM tenant_config.settings",
                "INSERT INTO tenant_config.history (tenant, setting, old_value, new_value, rebuilds, changed_by) "
                "VALUES ('x', 'y', '1', '2', false, 'me')",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                    await conn.execute(statement)
        finally:
            await conn.close()


async def connect_as(lp: srv.LeastPrivilege, service: str) -> asyncpg.Connection:
    from shared.db import connect

    return await connect(lp.database_urls[service])


def _message(routing_key: str) -> OutgoingMessage:
    event_id = str(uuid.uuid4())
    return OutgoingMessage(routing_key=routing_key, body=json.dumps({"id": event_id}).encode(), message_id=event_id)


async def test_audit_user_cannot_publish_a_complaints_routing_key_but_publishes_its_own(lp: srv.LeastPrivilege) -> None:
    connection = await aio_pika.connect(lp.amqp_urls["audit"])
    try:
        publisher = Publisher(connection)
        assert publisher.user_id == f"{lp.prefix}-audit"
        await publisher.publish(_message("audit.AuditScheduled"))  # its own: confirmed
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused, match=r"complaints\.ComplaintReceived"):
            await publisher.publish(_message("complaints.ComplaintReceived"))
        await publisher.publish(_message("audit.AuditGraded"))  # the publisher carries on
        # and it may not read reporting's queue
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            channel = await connection.channel()
            queue = await channel.get_queue(REPORTING_QUEUE, ensure=False)
            await queue.get(fail=False)
    finally:
        await connection.close()
    cms = await aio_pika.connect(lp.amqp_urls["cms"])
    try:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await Publisher(cms).publish(_message("audit.AuditScheduled"))
    finally:
        await cms.close()


async def test_a_service_runs_writes_and_publishes_as_its_own_role_and_user(lp: srv.LeastPrivilege) -> None:
    """feedback started with its own role and user: migrations as the migrator, its row and
    event written as its role, the event published as its user and read by reporting's user."""
    from services.feedback.app import build
    from shared.events import ComplimentReceived

    # reporting's queue may hold what the other tests published: drain it as reporting
    reader = await aio_pika.connect(lp.amqp_urls["reporting"])
    channel = await reader.channel()
    queue = await channel.get_queue(REPORTING_QUEUE, ensure=False)
    while await queue.get(fail=False, no_ack=True):
        pass

    service, _ = build(settings_of(lp))
    assert service.database_url == lp.database_urls["feedback"]
    await service.start()
    try:
        assert service.pool is not None
        async with service.pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == f"{lp.prefix}_feedback"
            async with conn.transaction():
                event = await service.emit(
                    conn,
                    ComplimentReceived(
                        compliment_id="cp-lp-1",
                        service_area="childrens_social_care",
                        team="safeguarding",
                        origin="external",
                        received_at="2024-05-01T10:00:00Z",
                    ),
                    aggregate="cp-lp-1",
                )

        async def next_message() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await queue.get(fail=False, no_ack=True)

        message = await eventually(next_message, lambda m: m is not None, timeout=15, what="published")
        assert message is not None
        assert message.routing_key == "feedback.ComplimentReceived"
        assert message.user_id == f"{lp.prefix}-feedback"
        assert json.loads(message.body)["id"] == event.id
    finally:
        await service.stop()
        await reader.close()
    await asyncio.sleep(0)
