"""Reporting HTTP API, exactly as CONTRACT.md §2 (all under /v1, bearer token)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError

from services.reporting import kpis
from services.reporting.followups import FollowUp
from services.reporting.handlers import ReportingQueries
from services.reporting.subjects import Subject
from shared.auth import Principal, require
from shared.bounds import NO_NUL
from shared.calendar import Period, parse_period, period_of, periods_between
from shared.events import known_service_areas

router = APIRouter(prefix="/v1", tags=["reporting"])
Reader = Annotated[Principal, Depends(require("reporting:read"))]
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def _queries(request: Request) -> ReportingQueries:
    return request.app.state.queries


Queries = Annotated[ReportingQueries, Depends(_queries)]


def unprocessable(field: str, reason: str, value: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the query field and the reason."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": reason, "input": value}])


def query_period(field: str, text: str) -> Period:
    """The period a query parameter names; a 422 naming ``field`` when it names none."""
    try:
        return parse_period(text)
    except ValueError as exc:
        raise unprocessable(field, str(exc), text) from None


def query_filters(service_area: str | None, team: str | None, category: str | None = None) -> kpis.Filters:
    """The slice the service_area, team and category query parameters name; a 422 for an
    unknown service area, or a team or category that is not an identifier. The category
    filters the complaints.* KPIs only (DOMAIN.md); the others read as if it were not set."""
    if service_area is not None and service_area not in known_service_areas():
        raise unprocessable(
            "service_area", f"unknown service_area; expected one of {sorted(known_service_areas())}", service_area
        )
    if team is not None and not _TEAM.match(team):
        raise unprocessable("team", "a team is an identifier such as 'through-care'", team)
    if category is not None and not _TEAM.match(category):
        raise unprocessable("category", "a complaint category is an identifier such as 'communication'", category)
    return kpis.Filters(service_area=service_area, team=team, category=category)


def _echo(filters: kpis.Filters) -> dict[str, str | None]:
    """The filters as the answer repeats them (category only where it was given)."""
    out = {"service_area": filters.service_area, "team": filters.team}
    return out | ({"category": filters.category} if filters.category is not None else {})


Category = Annotated[
    str | None,
    Query(description="a complaint category: filters the complaints.* KPIs only (the others ignore it)"),
]


def value_json(v: kpis.KpiValue) -> dict[str, Any]:
    """A KPI value as the API gives it."""
    return {
        "kpi": v.kpi,
        "value": v.value,
        "numerator": v.numerator,
        "denominator": v.denominator,
        "suppressed": v.suppressed,
        "rag": v.rag,
    }


@router.get("/kpis", summary="The KPI catalogue")
async def kpi_catalogue(principal: Reader, queries: Queries) -> list[dict[str, str]]:
    return [
        {"id": d.id, "title": d.title, "unit": d.unit, "definition": d.definition}
        for d in await queries.catalogue(principal.tenant)
    ]


@router.get("/kpis/values", summary="Every KPI for one period and slice")
async def kpi_values(
    principal: Reader,
    queries: Queries,
    period: Annotated[str, Query(description="2022-23-Q2, 2022-23 or 2022-07")],
    service_area: str | None = None,
    team: str | None = None,
    category: Category = None,
) -> dict[str, Any]:
    p = query_period("period", period)
    filters = query_filters(service_area, team, category)
    values = await queries.values(principal.tenant, p, filters, detail=principal.has("reporting:detail"))
    return {
        "period": p.label,
        "filters": _echo(filters),
        "values": [value_json(v) for v in values],
    }


@router.get("/kpis/{kpi}/series", summary="One KPI per period, oldest first")
async def kpi_series(
    kpi: str,
    principal: Reader,
    queries: Queries,
    from_: Annotated[str | None, Query(alias="from", description="first period (default: 7 before `to`)")] = None,
    to: Annotated[str | None, Query(description="last period (default: the current quarter)")] = None,
    service_area: str | None = None,
    team: str | None = None,
    category: Category = None,
) -> dict[str, Any]:
    if not kpis.is_known_kpi(kpi):
        raise HTTPException(
            422, detail=[{"loc": ["path", "kpi"], "msg": f"unknown KPI {kpi!r}", "type": "value_error"}]
        )
    last = (
        query_period("to", to)
        if to
        else period_of(queries.clock(), "quarter" if from_ is None else query_period("from", from_).kind)
    )
    first = query_period("from", from_) if from_ else _back(last, 7)
    if first.kind != last.kind:
        raise unprocessable("to", f"'from' is a {first.kind} and 'to' a {last.kind}: use the same kind", to)
    if first.start > last.start:
        raise unprocessable("from", "'from' is after 'to'", from_)
    periods = periods_between(first, last)
    if len(periods) > 240:
        raise unprocessable("from", "at most 240 periods in one series", from_)
    filters = query_filters(service_area, team, category)
    detail = principal.has("reporting:detail")
    values = await queries.series(principal.tenant, periods, filters, detail=detail, kpi_ids=[kpi])
    series = [{"period": p.label, **value_json(v)} for p, (v,) in zip(periods, values, strict=True)]
    return {"kpi": kpi, "filters": _echo(filters), "series": series}


def _back(period: Period, n: int) -> Period:
    for _ in range(n):
        period = period.previous()
    return period


@router.get("/followups", summary="The learning loop's follow-ups")
async def followups(
    principal: Reader,
    queries: Queries,
    status: Annotated[str | None, Query(pattern="^(open|overdue|closed)$")] = None,
    team: str | None = None,
    service_area: str | None = None,
    rule: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="at most this many (a page)")] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="skip this many (the next page)")] = 0,
) -> dict[str, Any]:
    """Follow-ups opened by today, oldest first, a page at a time: ``count`` is how many this
    page holds, and ``next_offset`` the offset of the next page (null on the last)."""
    filters = query_filters(service_area, team)
    today = queries.clock()
    found = await queries.followups(
        principal.tenant, status=status, filters=filters, rule=rule, limit=limit + 1, offset=offset
    )
    more = len(found) > limit
    found = found[:limit]
    subjects = await queries.subjects(principal.tenant, found)
    items = [followup_json(f, today, subjects.get(f.followup_id)) for f in found]
    return {
        "as_of": today.isoformat(),
        "count": len(items),
        "next_offset": offset + len(items) if more else None,
        "followups": items,
    }


@router.get("/followups/{followup_id}", summary="One follow-up (the notifier's e-mails link to it)")
async def one_followup(
    principal: Reader,
    queries: Queries,
    followup_id: Annotated[str, Path(max_length=200, pattern=NO_NUL)],
) -> dict[str, Any]:
    """One of the tenant's follow-ups, in the shape of the list's items; 404 for another
    tenant's follow-up, an unknown id, or one that opens after today."""
    found = await queries.followup(principal.tenant, followup_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such follow-up")
    subjects = await queries.subjects(principal.tenant, [found])
    return {
        "as_of": queries.clock().isoformat(),
        "followup": followup_json(found, queries.clock(), subjects.get(followup_id)),
    }


def followup_json(f: FollowUp, today: date, subject: Subject | None) -> dict[str, Any]:
    """A follow-up as the API shows it, its status as of `today`."""
    state = f.status(today)
    return {
        "followup_id": f.followup_id,
        "rule": f.rule,
        "origin": f.origin,
        "origin_id": f.origin_id,
        "team": f.team,
        "service_area": f.service_area,
        "opened_on": f.opened_on.isoformat(),
        "due_date": f.due_date.isoformat(),
        "status": state,
        "closed_on": f.closed_on.isoformat() if f.closed_on else None,
        "closed_by_event_id": f.closed_by_event_id,
        "on_time": f.on_time,
        "improved": f.improved,
        "days_overdue": (today - f.due_date).days if state == "overdue" else 0,
        # what it is about, in words (audit type, team, date, case pseudonym): null while its
        # origin's event has not reached reporting
        "subject": subject.as_json() if subject else None,
    }


@router.get("/projections/status", summary="Events applied, last event time, queue lag")
async def projection_status(principal: Reader, request: Request) -> dict[str, Any]:
    status_of = request.app.state.status
    return await status_of(principal.tenant)
