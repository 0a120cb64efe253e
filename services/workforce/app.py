"""The workforce service's composition root (HTTP port 8004): settings → StrandService (schema
`workforce`, pool, outbox relay, health, limits, error mapping) → `app.state.unit_of_work` →
the routers (`api.router` and the shared action routes). `service` and `app` are built at
import time without touching the network; the lifespan (or `await service.start()`)
migrates, opens the pool and starts the relay. Tests call `build()` after setting their
environment."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.workforce import api
from services.workforce.store import PostgresWorkforceUnitOfWork
from shared.actions.api import actions_router
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

__all__ = ["app", "build", "service"]

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None) -> tuple[StrandService, FastAPI]:
    """A workforce service and its FastAPI application (settings: the environment's)."""
    service = StrandService(name="workforce", migrations_dir=MIGRATIONS, settings=settings or get_settings())
    limit = service.settings.max_import_bytes
    app = service.create_app(
        [api.router, actions_router("workforce", unit_of_work)],
        body_limits={api.CENSUS_PATH: limit, api.SURVEY_IMPORTS_PATH: limit},
        title="qaloop workforce",
        description="Staff records (joiners, changes, leavers with reason; agency or employed, FTE, "
        "case-holding) by pseudonym, vacancies per team, caseload snapshots, the DfE workforce census "
        "import, the staff health-check survey (versioned) and the actions raised on a team's "
        "workforce. Publishes StaffJoined, StaffLeft, VacancyRecorded, CaseloadRecorded, "
        "StaffSurveyResponseReceived, ActionRaised and ActionCompleted through the outbox.",
    )
    app.state.unit_of_work = lambda: PostgresWorkforceUnitOfWork(service)
    return service, app


service, app = build()
