"""The audit service's composition root (HTTP port 8001): settings → `AuditService` (its
schema, migrations and default templates; pool, outbox relay, health, limits, error
mapping) → `app.state.unit_of_work` (a `PostgresAuditUnitOfWork` per request) → the routers
(`api.router` and the shared actions'). `service` and `app` are built at import time without
touching the network; the app's lifespan (or `await service.start()`) connects, migrates,
seeds the default templates where absent and starts the outbox relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.audit import api
from services.audit.store import PostgresAuditUnitOfWork, PostgresTemplates
from services.audit.templates import DEFAULT_TEMPLATES
from shared.actions.api import actions_router
from shared.db import connect
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class AuditService(StrandService):
    """The strand service whose `migrate` (run by `start` and by `qaloop migrate audit`)
    also seeds the default audit templates that are absent. Templates are data: changed or
    added through the API, never overwritten by the seed."""

    async def migrate(self) -> list[str]:
        applied = await super().migrate()
        conn = await connect(self.migrate_url)
        try:
            async with conn.transaction():
                seeded = await PostgresTemplates(conn, self.schema).seed(DEFAULT_TEMPLATES)
        finally:
            await conn.close()
        return [*applied, *(f"seed template {t}" for t in seeded)]


def build(settings: Settings | None = None) -> tuple[AuditService, FastAPI]:
    """A fresh service and its FastAPI app (nothing connects until `start`)."""
    service = AuditService(name="audit", migrations_dir=MIGRATIONS, settings=settings or get_settings())
    app = service.create_app(
        [api.router, actions_router("audit", unit_of_work)],
        title="qaloop audit",
        description="Audit templates, case audits (schedule, grade, complete, moderate), "
        "areas of concern and the actions they raise.",
    )
    app.state.unit_of_work = partial(PostgresAuditUnitOfWork, service)
    return service, app


service, app = build()
