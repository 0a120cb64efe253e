"""The complaints service's composition root (HTTP port 8003 by default): settings → the
StrandService (pool, outbox relay, health, limits, error mapping) → the unit of work the
routes get (`app.state.unit_of_work`) → the routers (`api.router` and the shared actions).

``service`` (the StrandService) and ``app`` (the FastAPI application) are built at import
time without touching the network; the application's lifespan migrates, opens the pool and
starts the outbox relay. Tests call :func:`build` after setting their environment.

Configuration beyond ``shared.settings`` (complaint timescales are this service's own):

* ``QALOOP_COMPLAINTS_STAGE2_CLOCK`` — ``escalation`` (default) or ``agreed_statement``:
  whether stage 2's clock starts at escalation or when the statement of complaint is agreed.
* ``QALOOP_COMPLAINTS_TIMESCALES`` — JSON overriding the default working-day timescales,
  e.g. ``{"corporate": {"2": {"due": 15, "maximum": 30}}}``.
* ``QALOOP_CALENDAR_CLOSURES`` (shared) — the authority's own closure days.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.complaints import api
from services.complaints.domain import CaseSubjects
from services.complaints.store import PostgresComplaintsUnitOfWork
from services.complaints.timescales import Rules, Stage2Clock, Timescales
from shared.actions.api import actions_router
from shared.calendar import WorkingCalendar, default_calendar
from shared.service import StrandService, unit_of_work
from shared.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


class ComplaintsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QALOOP_COMPLAINTS_", env_file=".env", extra="ignore")

    stage2_clock: Stage2Clock = Stage2Clock.ESCALATION
    timescales: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)


def rules_from(settings: Settings, complaints: ComplaintsSettings) -> Rules:
    timescales = Timescales().with_overrides(complaints.timescales, complaints.stage2_clock)
    closures = settings.calendar_closures
    calendar = WorkingCalendar(closures=closures) if closures else default_calendar()
    return Rules(timescales, calendar)


def build(
    settings: Settings | None = None,
    complaints: ComplaintsSettings | None = None,
    rules: Rules | None = None,
) -> tuple[StrandService, FastAPI]:
    """The complaints StrandService and its FastAPI application (nothing is connected)."""
    settings = settings or get_settings()
    rules = rules or rules_from(settings, complaints or ComplaintsSettings())
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
