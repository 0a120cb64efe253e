"""Benchmarking over HTTP (CONTRACT.md §4): `GET /v1/benchmarks?period=YYYY-YY`,
`POST /v1/benchmarks/import` (a comparator CSV, role reporting:admin), the live-comparison
opt-in (`GET|PUT|DELETE /v1/benchmarks/live-comparison`), and the dashboard's benchmarking
view (`GET /benchmarking`, static like the dashboard, signed in with the dashboard's token)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from services.reporting.api import Queries, query_period, unprocessable
from shared.auth import Principal, require

from . import handlers
from .domain import Authority, Benchmark, Standing
from .measures import PERCENT
from .store import PostgresBenchmarkStore, QueriedKpis

__all__ = ["IMPORT_PATH", "benchmark_view", "router"]

router = APIRouter(tags=["benchmarks"])
Reader = Annotated[Principal, Depends(require("reporting:read"))]
Admin = Annotated[Principal, Depends(require("reporting:admin"))]
IMPORT_PATH = "/v1/benchmarks/import"  # its body may be as large as `settings.max_import_bytes`
STATIC = Path(__file__).parent / "static"
_ASSETS = {"benchmarks.js": "text/javascript; charset=utf-8"}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _standing(s: Standing) -> dict[str, Any]:
    return {"rank": s.rank, "of": s.of}


def _authority(a: Authority | str) -> dict[str, Any]:
    if isinstance(a, str):
        return {"code": a, "name": None, "region_code": None, "region_name": None}
    return {"code": a.code, "name": a.name, "region_code": a.region_code, "region_name": a.region_name}


def benchmark_view(b: Benchmark) -> dict[str, Any]:
    """One KPI beside its comparators, as `GET /v1/benchmarks` lists it."""
    return {
        "kpi": b.measure.kpi,
        "measure": b.measure.measure,
        "title": b.measure.title,
        "unit": "rate" if b.measure.scale == PERCENT else "number",
        "higher_is_better": b.higher_is_better,
        "value": b.value,
        "source": b.source,
        "published_value": b.published_value,
        "neighbours": {
            "mean": b.neighbours_mean,
            "counted": b.neighbours_counted,
            "listed": b.neighbours_listed,
            **_standing(b.neighbours),
        },
        "region": {
            "code": b.region.region_code if b.region else None,
            "name": b.region.region_name if b.region else None,
            "value": b.region_value,
            **_standing(b.in_region),
        },
        "england": {"value": b.england_value, **_standing(b.nationally)},
        "summary": b.summary(),
        "live": [{"authority": p.authority, "value": p.value, "suppressed": p.suppressed} for p in b.live],
        "live_rank": _standing(b.live_standing) if b.live_standing else None,
    }


@router.get("/v1/benchmarks", summary="Each KPI with comparators beside its neighbours, region and England")
async def benchmarks(
    principal: Reader,
    queries: Queries,
    period: Annotated[str, Query(max_length=20, description="a financial year, such as 2022-23")],
) -> dict[str, Any]:
    """Per KPI with a published comparator for the year: the authority's value (its live
    qaloop KPI, or its published figure where qaloop has none: `source`), its statistical
    neighbours' mean, its region's and England's published figures, and its rank in each
    (1 = best, honouring the KPI's direction; ties share the better rank). Rates are
    fractions 0-1. With live comparison opted in by this authority and others, `live` lists
    theirs, small numbers suppressed."""
    p = query_period("period", period)
    if p.kind != "year":
        raise unprocessable("period", "benchmarks are by financial year, such as 2022-23", period)
    table = await handlers.benchmark_table(
        PostgresBenchmarkStore(queries.pool),
        QueriedKpis(queries),
        principal.tenant,
        p,
        detail=principal.has("reporting:detail"),
        targets=queries.targets(principal.tenant),
        threshold=queries.threshold(principal.tenant),
    )
    return {
        "period": p.label,
        "authority": _authority(table.authority or principal.tenant),
        "neighbours": [_authority(n) for n in table.neighbours],
        "live_comparison": {"opted_in": table.live_opted_in, "peers": list(table.live_peers)},
        "benchmarks": [benchmark_view(b) for b in table.benchmarks],
    }


@router.post(
    IMPORT_PATH,
    summary="Import comparator data: statistical neighbours or published figures (CSV)",
    description="The request body is the CSV file (`Content-Type: text/csv`): statistical neighbours "
    "(`la_code,la_name,region_code,region_name,sn1,…,sn10`) or published figures in the long form "
    "of DfE's LAIT export (`la_code,la_name,measure,year,value`), for the token's authority. Every "
    "row is checked first: any bad row is a 422 naming each (line, column), and nothing is imported. "
    "Neighbours replace the authority's lists; figures replace its figures of the years and measures "
    "the file covers. See README 'Benchmarking'.",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_comparators(request: Request, principal: Admin, queries: Queries) -> dict[str, Any]:
    limit = request.app.state.service.settings.max_import_bytes
    data = await request.body()
    if len(data) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"the file is larger than {limit:,} bytes")
    summary = await handlers.import_comparator_file(PostgresBenchmarkStore(queries.pool), principal.tenant, data)
    return {
        "tenant": principal.tenant,
        "kind": summary.kind,
        "rows": summary.rows,
        "ignored_measures": dict(summary.ignored),
        "not_published": summary.not_published,
    }


@router.get("/v1/benchmarks/live-comparison", summary="Whether this authority compares live with others")
async def live_comparison(principal: Reader, queries: Queries) -> dict[str, Any]:
    opted_in, peers = await PostgresBenchmarkStore(queries.pool).live_peers(principal.tenant)
    return {"tenant": principal.tenant, "opted_in": opted_in, "peers": peers}


@router.put("/v1/benchmarks/live-comparison", summary="Opt in to live comparison with the other authorities")
async def opt_in(principal: Admin, queries: Queries) -> dict[str, Any]:
    store = PostgresBenchmarkStore(queries.pool)
    await handlers.set_live_comparison(store, principal.tenant, True, principal.subject)
    return {"tenant": principal.tenant, "opted_in": True}


@router.delete("/v1/benchmarks/live-comparison", summary="Opt out of live comparison")
async def opt_out(principal: Admin, queries: Queries) -> dict[str, Any]:
    store = PostgresBenchmarkStore(queries.pool)
    await handlers.set_live_comparison(store, principal.tenant, False, principal.subject)
    return {"tenant": principal.tenant, "opted_in": False}


@router.get("/benchmarking", include_in_schema=False)
async def benchmarking_page() -> HTMLResponse:
    return HTMLResponse((STATIC / "benchmarks.html").read_text(encoding="utf-8"), headers=_PAGE_HEADERS)


@router.get("/benchmarking/{asset}", include_in_schema=False)
async def benchmarking_asset(asset: str) -> FileResponse:
    media_type = _ASSETS.get(asset)
    if media_type is None:
        raise HTTPException(404, "Not Found")
    return FileResponse(STATIC / asset, media_type=media_type, headers={"Cache-Control": "no-cache"})
