"""The complaints service's composition root (HTTP port 8003 by default): settings → the
StrandService (pool, outbox relay, health, limits, error mapping) → the unit of work the
routes get (`app.state.unit_of_work`) → the routers (`api.router` and the shared actions).

``service`` (the StrandService) and ``app`` (the FastAPI application) are built at import
time without touching the network; the application's lifespan migrates, opens the pool and
starts the outbox relay. Tests call :func:`build` after setting their environment.

Configuration (``shared.tenant_config``, read by reporting too, so that the two never
disagree on a due date): the served tenant's complaint timescales and calendar closures, as
the authority last set them (``/v1/config``, ``qaloop config``), read for each request from
the service's refreshed copy (``StrandService.config``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.complaints import api
from services.complaints.domain import CaseSubjects, Rules
from services.complaints.store import PostgresComplaintsUnitOfWork
from shared.actions.api import actions_router
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def rules_for(strand: StrandService) -> Rules:
    """The served tenant's timescales on its working-day calendar, as configured now."""
    tenant = strand.settings.tenant
    return Rules(strand.config.timescales(tenant), strand.config.calendar(tenant))


def build(settings: Settings | None = None, rules: Rules | None = None) -> tuple[StrandService, FastAPI]:
    """The complaints StrandService and its FastAPI application (nothing is connected)."""
    settings = settings or get_settings()
    subjects = CaseSubjects(settings.pseudonym_key.get_secret_value(), settings.pseudonym_key_id)
    strand = StrandService(name="complaints", migrations_dir=MIGRATIONS, settings=settings)
    application = strand.create_app(
        [api.router, actions_router("complaints", unit_of_work)],
        title="qaloop complaints",
        description=(
            "Complaints through their stages, with working-day timescales, outcomes, "
            "learning and actions. Events carry no complainant details."
        ),
    )
    application.state.unit_of_work = lambda: PostgresComplaintsUnitOfWork(strand, rules or rules_for(strand), subjects)
    return strand, application


service, app = build()
