"""HTTP: the dashboard's tables as CSV and XLSX (issue 14, item 11), for the period and slice
the page shows, with the reader's role (`reporting:read`: small numbers suppressed, secondary
suppression in the breakdowns; `reporting:detail`: as the page shows them to that role) and
the token's tenant:

* `GET /v1/dashboard/tables/{table}.csv|.xlsx?period=&service_area=&team=&category=` — one panel's table
  (`tables.DASHBOARD_TABLES`);
* `GET /v1/dashboard/tables.xlsx?period=&service_area=&team=&category=` — every panel's, a sheet each
  (`category`, a complaint category, filters the complaints figures only, as in `/v1/kpis/values`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from services.reporting.api import Category, Queries, query_filters, query_period
from services.reporting.report.downloads import download
from services.reporting.report.export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Workbook, table_csv, tables_xlsx
from services.reporting.report.labels import slice_label
from shared.auth import Principal, require

from .tables import DASHBOARD_TABLES, DashboardData, dashboard_tables, load

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
Reader = Annotated[Principal, Depends(require("reporting:read"))]
PeriodText = Annotated[str, Query(description="2022-23-Q2, 2022-23 or 2022-07", max_length=20)]
_TABLE_PATTERN = "^(" + "|".join(DASHBOARD_TABLES) + ")$"


async def _data(
    principal: Principal,
    queries: Queries,
    period: str,
    service_area: str | None,
    team: str | None,
    category: str | None,
    only: str | None = None,
) -> DashboardData:
    p = query_period("period", period)
    filters = query_filters(service_area, team, category)
    return await load(queries, principal.tenant, p, filters, detail=principal.has("reporting:detail"), only=only)


def _stem(data: DashboardData) -> str:
    parts = [data.period.label, data.filters.service_area, data.filters.team, data.filters.category]
    return "qaloop-dashboard-" + "-".join(p for p in parts if p)


@router.get(
    "/tables.xlsx",
    summary="Every table of the dashboard as one XLSX workbook, a sheet each",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def dashboard_workbook(
    principal: Reader,
    queries: Queries,
    period: PeriodText,
    service_area: str | None = None,
    team: str | None = None,
    category: Category = None,
) -> Response:
    data = await _data(principal, queries, period, service_area, team, category)
    about = Workbook(
        f"qaloop dashboard, {slice_label(data.filters)}, {data.period.label}",
        [
            f"Authority {principal.tenant}; as on {data.today.isoformat()}.",
            "Small numbers suppressed unless the reader has the reporting:detail role; a figure hidden so that "
            "another cannot be worked out from a total reads \u201csuppressed\u201d.",
        ],
    )
    return download(tables_xlsx(dashboard_tables(data), about), XLSX_MEDIA_TYPE, f"{_stem(data)}.xlsx")


@router.get(
    "/tables/{table}.{fmt}",
    summary="One table of the dashboard as CSV (UTF-8 with BOM) or XLSX",
    response_class=Response,
    responses={200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}}}},
)
async def dashboard_table(
    principal: Reader,
    queries: Queries,
    table: Annotated[str, Path(pattern=_TABLE_PATTERN, description="one of " + ", ".join(DASHBOARD_TABLES))],
    fmt: Annotated[str, Path(pattern="^(csv|xlsx)$", description="csv or xlsx")],
    period: PeriodText,
    service_area: str | None = None,
    team: str | None = None,
    category: Category = None,
) -> Response:
    data = await _data(principal, queries, period, service_area, team, category, only=table)
    (found,) = dashboard_tables(data, only=table)
    if fmt == "csv":
        return download(table_csv(found), CSV_MEDIA_TYPE, f"{_stem(data)}-{table}.csv")
    return download(tables_xlsx([found]), XLSX_MEDIA_TYPE, f"{_stem(data)}-{table}.xlsx")
