"""The feedback service's composition root (HTTP port 8002): settings → StrandService (schema
`feedback`, pool, outbox relay, health, limits, error mapping) → `app.state.unit_of_work` →
the routers (`api.router` and the shared action routes). `service` and `app` are built at
import time without touching the network; the lifespan (or `await service.start()`)
migrates, opens the pool and starts the relay. Tests call `build()` after setting their
environment."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.feedback import api
from services.feedback.store import PostgresFeedbackUnitOfWork
from shared.actions.api import actions_router
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

__all__ = ["app", "build", "service"]

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None) -> tuple[StrandService, FastAPI]:
    """A feedback service and its FastAPI application (settings: the environment's)."""
    service = StrandService(name="feedback", migrations_dir=MIGRATIONS, settings=settings or get_settings())
    app = service.create_app(
        [api.router, actions_router("feedback", unit_of_work)],
        body_limits={api.IMPORTS_PATH: service.settings.max_import_bytes},
        title="qaloop feedback",
        description="Surveys (versioned), survey responses (one at a time or from a CSV "
        'export), compliments, "you said, we did" and the actions raised on responses (a '
        "safeguarding answer's follow-up) or themes. Publishes FeedbackReceived, ComplimentReceived, "
        "YouSaidWeDidPublished, ActionRaised and ActionCompleted through the outbox.",
    )
    app.state.unit_of_work = lambda: PostgresFeedbackUnitOfWork(service)
    return service, app


service, app = build()
