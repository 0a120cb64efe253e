"""Wiring of the audit service (HTTP port 8001): its schema and migrations, the default
templates, the handlers and the /v1 router. `service` and `app` are built at import time
without touching the network; the app's lifespan (or `await service.start()`) connects,
migrates, seeds the default templates where absent and starts the outbox relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from services.audit.api import create_router, install_error_handlers
from services.audit.domain import DEFAULT_TEMPLATES
from services.audit.store import AuditStore
from shared.db import connect
from shared.service import StrandService
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
                seeded = await AuditStore(self.schema).seed_templates(conn, DEFAULT_TEMPLATES)
        finally:
            await conn.close()
        return [*applied, *(f"seed template {t}" for t in seeded)]


def build(settings: Settings | None = None) -> tuple[AuditService, FastAPI]:
    """A fresh service and its FastAPI app (nothing connects until `start`)."""
    from services.audit.handlers import AuditHandlers

    service = AuditService(name="audit", migrations_dir=MIGRATIONS, settings=settings or get_settings())
    handlers = AuditHandlers(service)
    app = service.create_app(
        [create_router(handlers)],
        title="qaloop audit",
        description="Audit templates, case audits (schedule, grade, complete, moderate), "
        "areas of concern and the actions they raise.",
    )
    install_error_handlers(app)
    app.state.handlers = handlers
    return service, app


service, app = build()
