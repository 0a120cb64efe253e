"""The dashboard served by reporting at `/` (issue 7).

Static HTML, CSS and vanilla JS (`static/`, no build step) that sign in with a bearer token
kept in sessionStorage and draw the `/v1` JSON API as inline SVG charts. The routes here:

* `GET /` — the page; `GET /dashboard/{asset}` — its script and style sheet.
* `GET /dev-login` — a `reporting:detail` token, only in development (`QALOOP_ENV=development`,
  the development JWT secret, no identity provider, a loopback address; 404 otherwise), so
  that `qaloop demo` opens without a token.
* `GET /v1/dashboard/breakdowns` — what the filters and the per-team chart need and the
  contract's API does not list: the periods to choose from (from the tenant's first day of
  activity) and a default one, the teams, categories and questions present in the period
  asked for (the default period's without one) with the questions' wording where known (the
  categories are the page's complaint-category choices), complaints received per team and per
  category (of the complaint category chosen, where one is) (the KPIs' definitions, with the publication
  rules of `/v1/kpis/values` and secondary suppression), and managers' commentary.
* `GET /v1/dashboard/teams` — every KPI that has a team, per team of the slice's service area
  (issue 14, item 10), with secondary suppression across the teams.
* `GET /v1/dashboard/tables/{table}.csv|.xlsx`, `GET /v1/dashboard/tables.xlsx` — the
  page's tables as files (`downloads.py`, from `tables.py`).
* `GET /v1/dashboard/stamp` — a cheap marker of the tenant's read models that changes
  whenever an event of the tenant is applied (or the read models are rebuilt); the page
  polls it and redraws only when it moves.

Every statement here reads the period asked for (or the last two years, for the default
period, and one index lookup per table for the first day) through the read models'
(tenant, date) indexes: nothing reads the tenant's whole history.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from services.reporting import kpis, store
from services.reporting.activity import DATED, and_condition, teams_in
from services.reporting.api import Category, Queries, query_filters, query_period, unprocessable, value_json
from services.reporting.report.labels import commentary_filters
from services.reporting.wording import question_wording
from shared.auth import Principal, issue_token, require
from shared.calendar import Period, parse_period, period_of, periods_between
from shared.events import known_service_areas
from shared.settings import DEVELOPMENT_JWT_SECRET, Settings, get_settings, is_loopback

from .downloads import router as downloads_router
from .tables import complaints_by_team, leavers_by_reason, received_by_category

router = APIRouter(tags=["dashboard"])
router.include_router(downloads_router)  # the dashboard's tables as CSV and XLSX (`downloads.py`)
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
    """Only in development (`QALOOP_ENV=development`, listening on a loopback address: a
    service does not start otherwise with the development secrets) and with the development
    JWT secret itself (not merely the development pseudonym key) and no identity provider: a
    token signed here is then worthless elsewhere."""
    return (
        settings.is_development
        and is_loopback(settings.host)
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


@router.get("/v1/dashboard/stamp", summary="Changes whenever an event of the tenant is applied")
async def dashboard_stamp(principal: Reader, queries: Queries) -> dict[str, Any]:
    async with queries.reads.acquire() as conn:
        stamp = await _stamp(conn, principal.tenant)
    return {"stamp": stamp, "as_of": queries.clock().isoformat()}


async def _stamp(conn: Any, tenant: str) -> str:
    """The tenant's newest event-store position (an index-only max over (tenant, position))
    and a digest of its projection-state rows with their row versions (`xmin`), which every
    applied batch and every rebuild rewrites."""
    position = await conn.fetchval(
        f"SELECT coalesce(max(position), 0) FROM {store.SCHEMA}.event_store WHERE tenant = $1", tenant
    )
    rows = await conn.fetch(
        f"""SELECT name, events_applied, xmin::text AS version FROM {store.SCHEMA}.tenant_projection_state
            WHERE tenant = $1 ORDER BY name""",
        tenant,
    )
    state = ";".join(f"{r['name']}:{r['events_applied']}:{r['version']}" for r in rows)
    return f"{position}-{hashlib.sha256(state.encode()).hexdigest()[:12]}"


@router.get("/v1/dashboard/breakdowns", summary="Periods, teams, categories and questions present in the facts")
async def dashboard_breakdowns(
    principal: Reader,
    queries: Queries,
    period: Annotated[str | None, Query(description="2022-23-Q2, 2022-23 or 2022-07")] = None,
    service_area: str | None = None,
    team: str | None = None,
    category: Category = None,
) -> dict[str, Any]:
    p = query_period("period", period) if period else None
    filters = query_filters(service_area, team, category)
    today = queries.clock()
    tenant = principal.tenant
    detail = principal.has("reporting:detail")
    async with queries.reads.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        first_day = await _first_day(conn, tenant)
        default = await _default_period(conn, tenant, today)
        shown = p or default
        teams = await teams_in(conn, tenant, shown)
        categories = await _distinct(conn, tenant, "complaint_received", "category", "received_on", shown)
        questions = await _distinct(conn, tenant, "feedback_answer", "question_id", "received_on", shown)
        wording = await question_wording(conn, tenant, shown.start, shown.end)
        reasons = await leavers_by_reason(conn, tenant, p, filters) if p else {}
        commentary = await store.commentary(conn, tenant, p.label, _filters_key(service_area, team)) if p else {}
    by_category = await _by_category(queries, tenant, p, filters, categories, detail) if p else []
    by_team = await _by_team(queries, tenant, p, service_area, category, detail) if p else []
    leavers = _leavers(queries, tenant, reasons, detail)
    return {
        "as_of": today.isoformat(),
        "period": p.label if p else None,
        "filters": {"service_area": filters.service_area, "team": filters.team, "category": filters.category},
        "default_period": default.label,
        "periods": period_choices(first_day, today),
        "service_areas": sorted(known_service_areas()),
        "teams": [{"team": t, "service_area": a} for t, a in sorted(teams, key=lambda x: (x[1], x[0]))],
        "categories": categories,
        "questions": questions,
        "question_wording": {q: wording[q] for q in questions if q in wording},
        "complaints_by_team": by_team,
        "complaints_by_category": by_category,
        "leavers_by_reason": leavers,
        "commentary": commentary,
    }


@router.get("/v1/dashboard/teams", summary="Every KPI that has a team, per team of the slice's service area")
async def dashboard_teams(
    principal: Reader,
    queries: Queries,
    period: Annotated[str, Query(description="2022-23-Q2, 2022-23 or 2022-07")],
    service_area: str | None = None,
    category: Category = None,
    kpi: Annotated[list[str] | None, Query(description="only these KPIs (each one that has a team)")] = None,
) -> dict[str, Any]:
    """Per team of the period (of the service area, where one is given), each KPI that has a
    team, published as `/v1/kpis/values` publishes it, with secondary suppression for a reader
    without `reporting:detail` (`kpis.protect_teams`): computed across every team of the
    period and each service area's teams, whatever service area is shown, so that a service
    area's view hides what the whole breakdown hides."""
    p = query_period("period", period)
    filters = query_filters(service_area, None, category)
    wanted = kpi or kpis.team_kpi_ids()
    unknown = [k for k in wanted if k not in kpis.team_kpi_ids()]
    if unknown:
        raise unprocessable("kpi", f"not a KPI that has a team: {unknown[0]!r}", unknown[0])
    detail = principal.has("reporting:detail")
    teams, found = await queries.by_team(principal.tenant, p, category, detail=detail, kpi_ids=wanted)
    if not detail:
        found = {k: kpis.protect_teams(line, teams) for k, line in found.items()}
    shown = [i for i, (_, a) in enumerate(teams) if service_area in (None, a)]
    return {
        "period": p.label,
        "filters": {"service_area": filters.service_area, "category": filters.category},
        "teams": [{"team": teams[i][0], "service_area": teams[i][1]} for i in shown],
        "kpis": [
            {"kpi": k, "values": [{"team": teams[i][0], **value_json(found[k][i])} for i in shown]} for k in wanted
        ],
    }


def _whole(value: float | None) -> int | None:
    """A count as the API gives counts: a whole number, or null where it is suppressed."""
    return None if value is None else int(value)


async def _by_team(
    queries: Any, tenant: str, p: Period, service_area: str | None, category: str | None, detail: bool
) -> list[dict[str, Any]]:
    """Complaints received per team of the service area (of the complaint category chosen):
    the per-team breakdown's `complaints.received` cells (`complaints_by_team`), teams with
    none left out."""
    teams, found = await queries.by_team(tenant, p, category, detail=detail, kpi_ids=["complaints.received"])
    return [
        {"team": team, "value": _whole(f.value), "suppressed": f.suppressed}
        for team, f in complaints_by_team(teams, found["complaints.received"], service_area)
    ]


async def _by_category(
    queries: Any, tenant: str, p: Period, filters: kpis.Filters, categories: list[str], detail: bool
) -> list[dict[str, Any]]:
    """complaints.by_category.<category> of the slice for the period's categories, as
    `/v1/kpis/values` publishes them (`ReportingQueries.series`: a team's categories must not
    add up to a team figure its breakdown hides), with secondary suppression (they add up to
    complaints received, a tile)."""
    if not categories:
        return []
    ids = [kpis.BY_CATEGORY + c for c in categories]
    published = await queries.values(tenant, p, filters, detail=detail, kpi_ids=ids)
    return [
        {"category": c, "value": _whole(f.value), "suppressed": f.suppressed}
        for c, f in received_by_category(published, queries.threshold(tenant))
        if f.suppressed or f.value  # as /v1/kpis/values lists them: the categories with complaints in the slice
    ]


def _filters_key(service_area: str | None, team: str | None) -> str:
    """How commentary rows name their slice: the report's rule, so both read the same rows."""
    return commentary_filters(service_area, team)


async def _first_day(conn: Any, tenant: str) -> date | None:
    """The earliest date of activity: per table, the first entry of its (tenant, date) index."""
    firsts = ", ".join(
        f"""(SELECT {column} FROM {store.SCHEMA}.{table}
             WHERE tenant = $1{and_condition(cond)} ORDER BY {column} LIMIT 1)"""
        for table, column, cond in DATED
    )
    return await conn.fetchval(f"SELECT least({firsts})", tenant)


async def _default_period(conn: Any, tenant: str, today: date) -> Period:
    """The latest quarter up to today with a fair share of the activity (at least a quarter
    of the busiest quarter's, among the last eight and the current one): the current one
    once it is under way, else the last one that was, rather than a quarter holding only the
    tail of late completions."""
    last = period_of(today, "quarter")
    quarters = [last]
    while len(quarters) < 9:
        quarters.insert(0, quarters[0].previous())
    counts = " + ".join(
        f"""(SELECT count(*) FROM {store.SCHEMA}.{table}
             WHERE tenant = $1 AND {column} BETWEEN q.s AND least(q.e, $4){and_condition(cond)})"""
        for table, column, cond in DATED
    )
    rows = await conn.fetch(
        f"SELECT q.i, {counts} AS n FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS q(s, e, i)",
        tenant,
        [q.start for q in quarters],
        [q.end for q in quarters],
        today,
    )
    per_quarter = {quarters[r["i"] - 1]: int(r["n"]) for r in rows if r["n"]}
    if not per_quarter:
        return last
    busiest = max(per_quarter.values())
    return max(q for q, n in per_quarter.items() if n * 4 >= busiest)


async def _distinct(conn: Any, tenant: str, table: str, column: str, dated: str, period: Period) -> list[str]:
    rows = await conn.fetch(
        f"""SELECT DISTINCT {column} AS v FROM {store.SCHEMA}.{table}
            WHERE tenant = $1 AND {dated} BETWEEN $2 AND $3 AND {column} <> '' ORDER BY 1""",
        tenant,
        period.start,
        period.end,
    )
    return [r["v"] for r in rows]


def _leavers(queries: Any, tenant: str, reasons: dict[str, int], detail: bool) -> list[dict[str, Any]]:
    """Social workers leaving per reason, each count published (1 to the threshold
    suppressed). No total of them is shown on the dashboard, so no secondary suppression."""
    out = []
    for reason, n in sorted(reasons.items()):
        (value,) = kpis.apply_publication_rules(
            [kpis.count_value("workforce.leavers", n)], detail=detail, threshold=queries.threshold(tenant)
        )
        out.append({"reason": reason, "value": _whole(value.value), "suppressed": value.suppressed})
    return out


def period_choices(first_day: date | None, today: date) -> list[dict[str, str]]:
    """Financial years, quarters and months from the first fact (at most ten years back) to
    today, newest first, each with a label a reader knows: each year's quarters, newest first,
    each quarter followed by its months, newest first, and then the whole year."""
    first = first_day if first_day and first_day.year >= today.year - 10 else date(today.year - 1, today.month, 1)
    first = min(first, today)
    out: list[dict[str, str]] = []
    years = periods_between(period_of(first, "year"), period_of(today, "year"))
    quarters = periods_between(period_of(first, "quarter"), period_of(today, "quarter"))
    months = periods_between(period_of(first, "month"), period_of(today, "month"))
    for year in reversed(years):
        for q in reversed([q for q in quarters if year.contains(q.start)]):
            out.append({"id": q.label, "kind": "quarter", "label": _quarter_label(q)})
            out.extend(
                {"id": m.label, "kind": "month", "label": f"{m.start:%B %Y} (month)"}
                for m in reversed([m for m in months if q.contains(m.start)])
                if parse_period(m.label) == m  # 2000-2011: "2011-12" names the financial year
            )
        out.append({"id": year.label, "kind": "year", "label": f"Financial year {year.label} (whole year)"})
    return out


def _quarter_label(q: Period) -> str:
    months = f"{q.start:%b} to {q.end:%b %Y}"
    return f"{q.label[:7]} Q{q.label[-1]}: {months}"
