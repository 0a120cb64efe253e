"""The dashboard served by reporting at `/` (issue 7).

Static HTML, CSS and vanilla JS (`static/`, no build step) that sign in with a bearer token
kept in sessionStorage and draw the `/v1` JSON API as inline SVG charts. The routes here:

* `GET /` — the page; `GET /dashboard/{asset}` — its script and style sheet.
* `GET /dev-login` — a `reporting:detail` token, only where the settings still use the
  development JWT secret (404 otherwise), so that `qaloop demo` opens without a token.
* `GET /v1/dashboard/breakdowns` — what the filters and the per-team chart need and the
  contract's API does not list: the periods, teams, categories and questions present in the
  tenant's facts, complaints received per team (through the same KPI computation and
  publication rules as `/v1/kpis/values`), and managers' commentary.
* `GET /v1/dashboard/stamp` — a cheap marker of the tenant's facts that changes whenever an
  event is applied; the page polls it and redraws only when it moves.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from services.reporting import kpis, store
from services.reporting.api import _filters, _period
from services.reporting.facts import Facts
from services.reporting.handlers import ReportingQueries
from services.reporting.report.content import commentary_filters
from shared.auth import Principal, issue_token, require
from shared.calendar import Period, period_of, periods_between
from shared.events import known_service_areas
from shared.settings import DEVELOPMENT_JWT_SECRET, Settings, get_settings

router = APIRouter(tags=["dashboard"])
Reader = Annotated[Principal, Depends(require("reporting:read"))]

STATIC = Path(__file__).parent / "static"
_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# The page keeps a bearer token in sessionStorage: no inline script, no third-party origin.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DEV_LOGIN_ROLE = "reporting:detail"
DEV_LOGIN_TTL_SECONDS = 8 * 3600


def dev_login_enabled(settings: Settings) -> bool:
    """Only with the development JWT secret itself (not merely the development pseudonym
    key) and no identity provider: a token signed here is then worthless elsewhere."""
    return (
        settings.using_development_secrets()
        and settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
        and not settings.jwks_url
    )


@router.get("/", include_in_schema=False)
async def dashboard_page() -> HTMLResponse:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    enabled = "true" if dev_login_enabled(get_settings()) else "false"
    html = html.replace('data-dev-login="false"', f'data-dev-login="{enabled}"', 1)
    return HTMLResponse(html, headers=_PAGE_HEADERS)


@router.get("/dashboard/{asset}", include_in_schema=False)
async def dashboard_asset(asset: str) -> FileResponse:
    media_type = _ASSETS.get(asset)
    if media_type is None:
        raise HTTPException(404, "Not Found")
    return FileResponse(STATIC / asset, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/dev-login", include_in_schema=False)
async def dev_login() -> JSONResponse:
    settings = get_settings()
    if not dev_login_enabled(settings):
        raise HTTPException(404, "Not Found")
    token = issue_token(settings, [DEV_LOGIN_ROLE], subject="dev-login", ttl_seconds=DEV_LOGIN_TTL_SECONDS)
    return JSONResponse(
        {"token": token, "token_type": "Bearer", "roles": [DEV_LOGIN_ROLE], "expires_in": DEV_LOGIN_TTL_SECONDS},
        headers={"Cache-Control": "no-store"},
    )


def _queries(request: Request) -> ReportingQueries:
    return request.app.state.queries


Queries = Annotated[ReportingQueries, Depends(_queries)]


@router.get("/v1/dashboard/stamp", summary="Changes whenever an event of the tenant is applied")
async def dashboard_stamp(principal: Reader, queries: Queries) -> dict[str, Any]:
    async with queries.pool.acquire() as conn:
        entry = await queries.cache.get(conn, principal.tenant)
    return {"stamp": f"{entry.generation}-{entry.last_position}", "as_of": queries.clock().isoformat()}


@router.get("/v1/dashboard/breakdowns", summary="Periods, teams, categories and questions present in the facts")
async def dashboard_breakdowns(
    principal: Reader,
    queries: Queries,
    period: Annotated[str | None, Query(description="2022-23-Q2, 2022-23 or 2022-07")] = None,
    service_area: str | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    p = _period("period", period) if period else None
    filters = _filters(service_area, team)
    today = queries.clock()
    async with queries.pool.acquire() as conn:
        entry = await queries.cache.get(conn, principal.tenant)
        facts = entry.facts
        inventory = _inventory(facts, p)
        commentary = (
            await store.commentary(conn, principal.tenant, p.label, _filters_key(service_area, team)) if p else {}
        )
    first_day = _first_day(facts)
    by_team: list[dict[str, Any]] = []
    if p is not None:
        teams = sorted({t for t, area in inventory["complaint_teams"] if service_area is None or area == service_area})
        detail = principal.has("reporting:detail")
        for t in teams:
            (value,) = await queries.values(
                principal.tenant,
                p,
                kpis.Filters(service_area=service_area, team=t),
                detail=detail,
                kpi_ids=["complaints.received"],
            )
            by_team.append({"team": t, "value": value.value, "suppressed": value.suppressed})
    return {
        "as_of": today.isoformat(),
        "period": p.label if p else None,
        "filters": {"service_area": filters.service_area, "team": filters.team},
        "default_period": _default_period(facts, today).label,
        "periods": _period_choices(first_day, today),
        "service_areas": sorted(known_service_areas()),
        "teams": [{"team": t, "service_area": a} for t, a in sorted(inventory["teams"], key=lambda x: (x[1], x[0]))],
        "categories": sorted(inventory["categories"]),
        "questions": sorted(inventory["questions"]),
        "complaints_by_team": by_team,
        "commentary": commentary,
    }


def _filters_key(service_area: str | None, team: str | None) -> str:
    """How commentary rows name their slice: the report's rule, so both read the same rows."""
    return commentary_filters(service_area, team)


def _fact_dates(fact: Any) -> list[date]:
    return [
        value
        for f in dataclasses.fields(fact)
        if f.name.endswith("_on") and isinstance(value := getattr(fact, f.name), date)
    ]


def _inventory(facts: Facts, period: Period | None) -> dict[str, set[Any]]:
    """Teams (with their service area) anywhere in the facts; categories, questions and
    complaint teams in `period` (or at any time)."""

    def in_period(d: date) -> bool:
        return period is None or period.contains(d)

    teams: set[tuple[str, str]] = set()
    for items in vars(facts).values():
        for fact in items:
            team, area = getattr(fact, "team", None), getattr(fact, "service_area", None)
            if team and area:
                teams.add((team, area))
    received = [c for c in facts.complaints_received if in_period(c.received_on)]
    return {
        "teams": teams,
        "categories": {c.category for c in received},
        "complaint_teams": {(c.team, c.service_area) for c in received},
        "questions": {
            a.question_id for r in facts.feedback if in_period(r.received_on) for a in r.answers if a.question_id
        },
    }


def _first_day(facts: Facts) -> date | None:
    days = [d for items in vars(facts).values() for fact in items for d in _fact_dates(fact)]
    return min(days) if days else None


def _default_period(facts: Facts, today: date) -> Period:
    """The latest quarter up to today with a fair share of the activity (at least a quarter
    of the busiest quarter's facts): the current one once it is under way, else the last
    one that was, rather than a quarter holding only the tail of late completions."""
    per_quarter: Counter[Period] = Counter(
        period_of(d, "quarter")
        for items in vars(facts).values()
        for fact in items
        for d in _fact_dates(fact)
        if d <= today
    )
    if not per_quarter:
        return period_of(today, "quarter")
    busiest = max(per_quarter.values())
    return max(q for q, n in per_quarter.items() if n * 4 >= busiest)


def _period_choices(first_day: date | None, today: date) -> list[dict[str, str]]:
    """Quarters and financial years from the first fact (at most ten years back) to today,
    newest first, each with a label a reader knows."""
    first = first_day if first_day and first_day.year >= today.year - 10 else date(today.year - 1, today.month, 1)
    first = min(first, today)
    out: list[dict[str, str]] = []
    years = periods_between(period_of(first, "year"), period_of(today, "year"))
    quarters = periods_between(period_of(first, "quarter"), period_of(today, "quarter"))
    for year in reversed(years):
        for q in reversed([q for q in quarters if year.contains(q.start)]):
            out.append({"id": q.label, "kind": "quarter", "label": _quarter_label(q)})
        out.append({"id": year.label, "kind": "year", "label": f"Financial year {year.label} (whole year)"})
    return out


def _quarter_label(q: Period) -> str:
    months = f"{q.start:%b} to {q.end:%b %Y}"
    return f"{q.label[:7]} Q{q.label[-1]}: {months}"
