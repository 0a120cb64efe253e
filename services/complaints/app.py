"""The complaints service's composition root (HTTP port 8003 by default): settings → the
StrandService (pool, outbox relay, health, limits, error mapping) → the unit of work the
routes get (`app.state.unit_of_work`) → the routers (`api.router` and the shared actions).

``service`` (the StrandService) and ``app`` (the FastAPI application) are built at import
time without touching the network; the application's lifespan migrates, opens the pool and
starts the outbox relay. Tests call :func:`build` after setting their environment.

Configuration (``shared.settings``, read by reporting too, so that the two never disagree on
a due date): the served tenant's complaint timescales (``shared.complaint_timescales``:
``QALOOP_COMPLAINTS_TIMESCALES``, with a default and per-tenant sections, and
``QALOOP_COMPLAINTS_STAGE2_CLOCK``) and ``QALOOP_CALENDAR_CLOSURES``, the authority's own
closure days.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.complaints import api
from services.complaints.domain import CaseSubjects, Rules
from services.complaints.store import PostgresComplaintsUnitOfWork
from shared.actions.api import actions_router
from shared.calendar import WorkingCalendar, default_calendar
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def rules_from(settings: Settings) -> Rules:
    """The served tenant's timescales on the authority's working-day calendar."""
    timescales = settings.complaint_timescales().for_tenant(settings.tenant)
    closures = settings.calendar_closures
    calendar = WorkingCalendar(closures=closures) if closures else default_calendar()
    return Rules(timescales, calendar)


def build(settings: Settings | None = None, rules: Rules | None = None) -> tuple[StrandService, FastAPI]:
    """The complaints StrandService and its FastAPI application (nothing is connected)."""
    settings = settings or get_settings()
    rules = rules or rules_from(settings)
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
    application.state.unit_of_work = lambda: PostgresComplaintsUnitOfWork(strand, rules, subjects)
    return strand, application


service, app = build()
