"""HTTP: `GET /v1/reports/quarterly` (the quarterly QA report, HTML or PDF) and
`PUT /v1/kpis/{kpi}/commentary` (a manager's commentary beside a KPI value)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.reporting import kpis, store
from services.reporting.api import Queries, query_filters, query_period, unprocessable
from shared.auth import Principal, require
from shared.calendar import Period

from .content import build_report
from .inputs import load_inputs
from .labels import commentary_filters
from .render import PdfUnavailable, render_html, render_pdf

router = APIRouter(prefix="/v1", tags=["report"])
Reader = Annotated[Principal, Depends(require("reporting:read"))]
Manager = Annotated[Principal, Depends(require("reporting:detail"))]
PDF = "application/pdf"


def wants_pdf(accept: str | None) -> bool:
    """True when the Accept header prefers application/pdf to HTML (ties go to PDF, which
    a caller only names on purpose); HTML is the default."""
    if not accept:
        return False
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    pdf = max(quality.get(PDF, 0.0), quality.get("application/*", 0.0))
    html = max(quality.get("text/html", 0.0), quality.get("text/*", 0.0), quality.get("*/*", 0.0))
    return quality.get(PDF, 0.0) > 0 and pdf >= html


def report_file_name(period: Period, suffix: str) -> str:
    return f"qaloop-quarterly-report-{period.label}.{suffix}"


@router.get(
    "/reports/quarterly",
    summary="The quarterly QA report (HTML; PDF with Accept: application/pdf)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, PDF: {}}}},
)
async def quarterly_report(
    principal: Reader,
    queries: Queries,
    period: Annotated[str, Query(description="a financial quarter, such as 2022-23-Q2")],
    accept: Annotated[str | None, Header()] = None,
    format: Annotated[
        str | None, Query(pattern="^(html|pdf)$", description="overrides Accept, for links in a browser")
    ] = None,
) -> Response:
    p = query_period("period", period)
    if p.kind != "quarter":
        raise unprocessable(
            "period", f"the quarterly report is for a financial quarter such as 2022-23-Q2, not a {p.kind}", period
        )
    pdf = format == "pdf" if format else wants_pdf(accept)
    inputs = await load_inputs(queries, principal.tenant, p)

    def produce() -> bytes | str:
        html = render_html(build_report(inputs))
        return render_pdf(html) if pdf else html

    try:
        body = await asyncio.to_thread(produce)
    except PdfUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from None
    headers = {"Cache-Control": "private, no-store", "Vary": "Accept"}
    if pdf:
        headers["Content-Disposition"] = f'attachment; filename="{report_file_name(p, "pdf")}"'
        return Response(body, media_type=PDF, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="{report_file_name(p, "html")}"'
    return HTMLResponse(body, headers=headers)


class CommentaryIn(BaseModel):
    commentary: str = Field(min_length=1, max_length=4000, description="what the manager says about the value")


@router.put("/kpis/{kpi}/commentary", summary="A manager's commentary beside a KPI value (reporting:detail)")
async def put_commentary(
    kpi: str,
    body: CommentaryIn,
    principal: Manager,
    queries: Queries,
    period: Annotated[str, Query(description="2022-23-Q2, 2022-23 or 2022-07")],
    service_area: str | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    if not kpis.is_known_kpi(kpi):
        raise unprocessable("kpi", f"unknown KPI {kpi!r}", kpi)
    p = query_period("period", period)
    query_filters(service_area, team)
    words = body.commentary.strip()
    if not words:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "commentary"), "msg": "the commentary is empty", "input": ""}]
        )
    filters = commentary_filters(service_area, team)
    async with queries.pool.acquire() as conn:
        await store.save_commentary(conn, principal.tenant, kpi, p.label, filters, words, principal.subject)
    return {
        "kpi": kpi,
        "period": p.label,
        "filters": {"service_area": service_area, "team": team},
        "commentary": words,
        "author": principal.subject,
    }
