"""HTTP: the quarterly report's tables as CSV and XLSX (issue 14, item 11), for the same
reader and the same tenant as `GET /v1/reports/quarterly` (role `reporting:read`; the
token's tenant, never another's), built by the same `build_report` from the same snapshot,
so a download always agrees with the report of that moment:

* `GET /v1/reports/quarterly/tables?period=` — the tables' ids and captions, with their links;
* `GET /v1/reports/quarterly/tables/{table}.csv|.xlsx?period=` — one table;
* `GET /v1/reports/quarterly/tables.xlsx?period=` — every table, a sheet each.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from services.reporting.api import Queries, query_period, unprocessable
from shared.auth import Principal, require
from shared.calendar import Period

from .content import build_report
from .export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, report_tables, report_workbook, table_csv, tables_xlsx
from .inputs import load_inputs
from .model import QuarterlyReport, Table

router = APIRouter(tags=["report"])  # included in `api.router`, under /v1
Reader = Annotated[Principal, Depends(require("reporting:read"))]
QuarterText = Annotated[str, Query(description="a financial quarter, such as 2022-23-Q2", max_length=20)]
TABLES = "/reports/quarterly/tables"  # under /v1


def quarter_of(period: str) -> Period:
    p = query_period("period", period)
    if p.kind != "quarter":
        raise unprocessable(
            "period", f"the quarterly report is for a financial quarter such as 2022-23-Q2, not a {p.kind}", period
        )
    return p


async def quarterly(queries: Queries, tenant: str, period: Period) -> QuarterlyReport:
    inputs = await load_inputs(queries, tenant, period)
    return await asyncio.to_thread(build_report, inputs)


def download(body: bytes, media_type: str, file_name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{file_name}"', "Cache-Control": "private, no-store"}
    return Response(body, media_type=media_type, headers=headers)


def file_stem(period: Period, table_id: str | None = None) -> str:
    return f"qaloop-quarterly-report-{period.label}" + (f"-{table_id}" if table_id else "-tables")


@router.get(TABLES, summary="The quarterly report's tables: ids, captions and download links")
async def list_tables(principal: Reader, queries: Queries, period: QuarterText) -> dict[str, Any]:
    p = quarter_of(period)
    report = await quarterly(queries, principal.tenant, p)
    return {
        "period": p.label,
        "workbook": f"/v1{TABLES}.xlsx?period={p.label}",
        "tables": [
            {
                "id": t.id,
                "caption": t.caption,
                "csv": f"/v1{TABLES}/{t.id}.csv?period={p.label}",
                "xlsx": f"/v1{TABLES}/{t.id}.xlsx?period={p.label}",
            }
            for t in report_tables(report)
        ],
    }


@router.get(
    TABLES + ".xlsx",
    summary="Every table of the quarterly report as one XLSX workbook, a sheet each",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def workbook(principal: Reader, queries: Queries, period: QuarterText) -> Response:
    p = quarter_of(period)
    report = await quarterly(queries, principal.tenant, p)
    body = await asyncio.to_thread(report_workbook, report)
    return download(body, XLSX_MEDIA_TYPE, f"{file_stem(p)}.xlsx")


def table_file(table: Table, fmt: str) -> tuple[bytes, str]:
    if fmt == "csv":
        return table_csv(table), CSV_MEDIA_TYPE
    return tables_xlsx([table]), XLSX_MEDIA_TYPE


@router.get(
    TABLES + "/{table}.{fmt}",
    summary="One table of the quarterly report as CSV (UTF-8 with BOM) or XLSX",
    response_class=Response,
    responses={200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}}}, 404: {"description": "no such table"}},
)
async def one_table(
    principal: Reader,
    queries: Queries,
    table: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$", description="a table id, such as audit-grades")],
    fmt: Annotated[str, Path(pattern="^(csv|xlsx)$", description="csv or xlsx")],
    period: QuarterText,
) -> Response:
    p = quarter_of(period)
    report = await quarterly(queries, principal.tenant, p)
    found = next((t for t in report_tables(report) if t.id == table), None)
    if found is None:
        raise HTTPException(404, detail=f"the report for {p.label} has no table {table!r}")
    body, media_type = await asyncio.to_thread(table_file, found, fmt)
    return download(body, media_type, f"{file_stem(p, table)}.{fmt}")
