"""`qaloop report --period 2022-23-Q2 --out FILE.pdf|.html [--url URL]`.

Without ``--url`` the report is built straight from reporting's database
(`QALOOP_DATABASE_URL`): no broker and no running service are needed, so it works offline
and in scripts. With ``--url`` it is fetched from a running reporting service, with a
development token (`QALOOP_JWT_SECRET`) for the role reporting:read. Either way it is the
same published output, small numbers suppressed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

import asyncpg
import httpx

from shared.calendar import Period, parse_period
from shared.settings import Settings, get_settings

from .api import PDF
from .content import build_report
from .inputs import load_inputs, queries_from_settings
from .render import PdfUnavailable, render_html, render_pdf


class ReportError(Exception):
    """Why the report could not be produced, in words for the operator."""


def _quarter(text: str) -> Period:
    try:
        period = parse_period(text)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if period.kind != "quarter":
        raise ReportError(f"the quarterly report is for a financial quarter such as 2022-23-Q2, not a {period.kind}")
    return period


async def report_from_database(
    settings: Settings, tenant: str, period: Period, *, pdf: bool, today: date | None = None
) -> bytes:
    from services.reporting.readmodels import PLANNING
    from shared.db import create_pool

    try:
        pool = await create_pool(settings.database_url, min_size=1, max_size=2, server_settings=PLANNING)
    except (OSError, asyncpg.PostgresError) as exc:
        raise ReportError(f"cannot connect to reporting's database (QALOOP_DATABASE_URL): {exc}") from None
    try:
        try:
            queries = await queries_from_settings(pool, settings)  # reads the authorities' configuration
            if today is not None:
                queries.clock = lambda: today
            inputs = await load_inputs(queries, tenant, period)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            raise ReportError("reporting's tables are missing: run `qaloop migrate reporting` first") from None
    finally:
        await pool.close()

    def produce() -> bytes:
        html = render_html(build_report(inputs))
        return render_pdf(html) if pdf else html.encode()

    try:
        return await asyncio.to_thread(produce)
    except PdfUnavailable as exc:
        raise ReportError(str(exc)) from None


async def fetch_report(
    url: str, period: Period, *, pdf: bool, token: str, transport: httpx.AsyncBaseTransport | None = None
) -> bytes:
    headers = {"Authorization": f"Bearer {token}", "Accept": PDF if pdf else "text/html"}
    try:
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=300) as client:
            r = await client.get("/v1/reports/quarterly", params={"period": period.label}, headers=headers)
    except httpx.HTTPError as exc:
        raise ReportError(f"cannot reach the reporting service at {url}: {exc}") from None
    if r.status_code != 200:
        raise ReportError(f"the reporting service answered {r.status_code}: {r.text[:500]}")
    return r.content


def run_report_cli(*, period: str, out: str, url: str | None = None, tenant: str | None = None) -> int:
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        print(f"qaloop report: --out must end in .pdf or .html, not {target.name!r}", file=sys.stderr)
        return 2
    pdf = suffix == ".pdf"
    settings = get_settings()
    tenant = tenant or settings.tenant
    try:
        quarter = _quarter(period)
        if url:
            from shared.auth import issue_token

            token = issue_token(settings, ["reporting:read"], subject="qaloop-report", tenant=tenant, ttl_seconds=600)
            body = asyncio.run(fetch_report(url, quarter, pdf=pdf, token=token))
        else:
            body = asyncio.run(report_from_database(settings, tenant, quarter, pdf=pdf))
    except ReportError as exc:
        print(f"qaloop report: {exc}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    source = url or "the database"
    print(f"qaloop report: wrote {target} ({quarter.label}, {'PDF' if pdf else 'HTML'}, from {source})")
    return 0
