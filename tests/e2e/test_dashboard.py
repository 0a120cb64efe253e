"""The dashboard at `/`, in a real browser against a really running reporting service.

Reporting runs under uvicorn on a free localhost port (in a thread, with a fixed clock),
a simulated stream of contract events goes over the real broker, and headless Chromium
(Debian's, driven by Playwright) signs in, reads the tiles and compares them with the API,
changes filters, sees a newly published event appear without a reload, passes the
accessibility checks in `dashboard_a11y.js`, and leaves a screenshot in
`test-artifacts/dashboard.png`.

Without Chromium or Playwright the browser test is skipped, except under CI (`CI=true`),
where it fails: CI must have installed them (`scripts/bootstrap`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from shared.auth import issue_token, verify_token
from shared.bus import declare_topology
from shared.events import AuditGraded, CloudEvent, ComplaintReceived, new_event
from shared.settings import DEVELOPMENT_JWT_SECRET, get_settings
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
A11Y_CHECKS = (Path(__file__).parent / "dashboard_a11y.js").read_text(encoding="utf-8")
CHROMIUM = os.environ.get("QALOOP_CHROMIUM", "/usr/bin/chromium")
# This machine has no network but the package registries: keep Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CLOCK = date(2023, 6, 30)
PERIOD = "2022-23-Q2"
EVENTS = 700
DAYS_KPI = "complaints.average_response_working_days"
FAMILIES = ("complaints.by_category.", "feedback.positive_rate.", "audit.area_good_or_better_rate.")


# --------------------------------------------------------------------------- fixtures


def _why_no_browser() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (it is in requirements.lock)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; scripts/bootstrap does it as root)"
    return None


@pytest.fixture
def chromium() -> str:
    reason = _why_no_browser()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the dashboard's browser test must run under CI, but {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def development_secret(monkeypatch: pytest.MonkeyPatch) -> object:
    """Settings with the development JWT secret (so /dev-login answers), restored after."""
    monkeypatch.setenv("QALOOP_JWT_SECRET", DEVELOPMENT_JWT_SECRET)
    monkeypatch.delenv("QALOOP_JWKS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def reporting_url(servers, development_secret) -> AsyncIterator[str]:
    """Reporting, for real: uvicorn on a free localhost port in its own thread and loop."""
    from services.reporting.app import build

    service, app = build(clock=lambda: CLOCK, followup_interval=0.2)
    await fresh_reporting_state(service, servers)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="reporting", daemon=True)
    thread.start()
    try:

        async def up() -> bool:
            if not thread.is_alive():
                raise AssertionError("reporting's server thread stopped while starting")
            consumer = service.consumer
            return server.started and consumer is not None and consumer.ready.is_set()

        await eventually(up, bool, timeout=30, what="reporting to start and its consumer to connect")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        sock.close()


@asynccontextmanager
async def broker(servers) -> AsyncIterator[Callable[[CloudEvent], Any]]:
    connection = await aio_pika.connect(servers.amqp_url)
    try:
        exchange = await declare_topology(await connection.channel())

        async def publish(event: CloudEvent) -> None:
            await exchange.publish(
                aio_pika.Message(
                    event.to_json(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/cloudevents+json",
                    message_id=event.id,
                ),
                event.routing_key(),
                mandatory=True,
            )

        yield publish
    finally:
        await connection.close()


# --------------------------------------------------------------------------- page helpers

READ_TILES = """() => Object.fromEntries([...document.querySelectorAll('li.tile')].map(t => [
    t.dataset.kpi,
    {value: t.dataset.value, suppressed: t.dataset.suppressed,
     text: t.querySelector('[data-role=value]').textContent}]))"""


def _expected_text(kpi: str, v: dict[str, Any]) -> str | None:
    """The tile's text for an API value; None for a rate or a number of days (checked
    numerically: JavaScript and Python round halves differently)."""
    if v["suppressed"]:
        return "suppressed"
    if v["value"] is None:
        return "no data"
    if isinstance(v["value"], int):
        return f"{v['value']:,}"
    return None


def mismatches(tiles: dict[str, dict[str, str]], api_values: list[dict[str, Any]]) -> list[str]:
    """How the page's tiles differ from `/v1/kpis/values` (empty when they agree)."""
    out = []
    wanted = {v["kpi"]: v for v in api_values if not v["kpi"].startswith(FAMILIES)}
    if set(tiles) != set(wanted):
        out.append(f"tiles {sorted(set(tiles) ^ set(wanted))} differ from the API's KPIs")
    for kpi, v in wanted.items():
        tile = tiles.get(kpi)
        if tile is None:
            continue
        shown = None if tile["value"] == "" else float(tile["value"])
        if shown != v["value"] or tile["suppressed"] != str(v["suppressed"]).lower():
            out.append(f"{kpi}: page {tile} != API {v}")
            continue
        text = _expected_text(kpi, v)
        if text is not None and tile["text"] != text:
            out.append(f"{kpi}: shows {tile['text']!r}, expected {text!r}")
        if text is None and kpi == DAYS_KPI:
            if not tile["text"].endswith(" days") or abs(float(tile["text"][:-5]) - v["value"]) > 0.05 + 1e-9:
                out.append(f"{kpi}: shows {tile['text']!r} for {v['value']}")
        elif text is None and abs(float(tile["text"].rstrip("%")) - v["value"] * 100) > 0.5 + 1e-9:
            out.append(f"{kpi}: shows {tile['text']!r} for {v['value']}")
    return out


async def page_agrees(page, api: httpx.AsyncClient, period: str = PERIOD, **filters: str) -> list[dict[str, Any]]:
    """Wait until the page's tiles equal the API's values for `period` and `filters`; return those values."""
    params = {"period": period, **{k: v for k, v in filters.items() if v}}

    async def probe() -> tuple[list[str], list[dict[str, Any]]]:
        r = await api.get("/v1/kpis/values", params=params)
        assert r.status_code == 200, r.text
        values = r.json()["values"]
        return mismatches(await page.evaluate(READ_TILES), values), values

    _, values = await eventually(probe, lambda got: not got[0], timeout=20, interval=0.2, what=f"tiles = API {params}")
    return values


def value_of(values: list[dict[str, Any]], kpi: str) -> Any:
    return next(v["value"] for v in values if v["kpi"] == kpi)


def complaint(i: int, team: str, area: str, category: str) -> CloudEvent:
    return new_event(
        ComplaintReceived(
            complaint_id=f"live-complaint-{i}",
            procedure="statutory_children",
            category=category,
            team=team,
            service_area=area,
            received_at="2022-08-16T10:00:00Z",
            complainant="parent_carer",
        ),
        source="/qaloop/complaints",
        tenant=get_settings().tenant,
        sequence=1,
    )


def audit(i: int, team: str, area: str) -> CloudEvent:
    return new_event(
        AuditGraded(
            audit_id=f"live-audit-{i}",
            case_ref=pseudonym(f"live-case-{i}"),
            service_area=area,
            team=team,
            audit_type="routine",
            completed_at="2022-08-17T10:00:00Z",
            area_grades=[{"area": "planning", "grade": "inadequate"}],
            overall_grade="inadequate",
            auditor_id="qa-live",
        ),
        source="/qaloop/audit",
        tenant=get_settings().tenant,
        sequence=1,
    )


# --------------------------------------------------------------------------- the browser test


async def test_dashboard_shows_the_api_figures_filters_and_live_updates(chromium, servers, reporting_url):
    from playwright.async_api import async_playwright

    from services.simulation.stream import contract_stream

    settings = get_settings()
    detail = {"Authorization": "Bearer " + issue_token(settings, ["reporting:detail"], subject="test")}
    reader_token = issue_token(settings, ["reporting:read"], subject="reader")
    events = contract_stream(EVENTS, seed=11, tenant=settings.tenant)

    async with (
        broker(servers) as publish,
        httpx.AsyncClient(base_url=reporting_url, headers=detail, timeout=20) as api,
        async_playwright() as pw,
    ):
        for event in events:
            await publish(event)

        async def applied() -> int:
            return int((await api.get("/v1/projections/status")).json()["events_applied"])

        await eventually(applied, lambda n: n >= len(events), timeout=30, interval=0.2, what="the stream applied")

        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            # 1. Signed out: the sign-in form. A pasted reporting:read token sees small
            #    numbers suppressed, exactly as the API gives them to that role.
            await page.goto(reporting_url + "/")
            assert not await page.get_by_role("button", name="Sign out").is_visible()
            assert not await page.locator("#dashboard").is_visible()
            await page.get_by_label("Bearer token").fill(reader_token)
            await page.get_by_role("button", name="Sign in with this token").click()
            await page.get_by_label("Period", exact=True).select_option(PERIOD)
            await page.get_by_label("Service area", exact=True).select_option("send")
            reader = httpx.AsyncClient(
                base_url=reporting_url, headers={"Authorization": f"Bearer {reader_token}"}, timeout=20
            )
            async with reader:
                read_values = await page_agrees(page, reader, service_area="send")
            assert any(v["suppressed"] for v in read_values), "the slice should have small numbers"
            hidden = next(v["kpi"] for v in read_values if v["suppressed"] and not v["kpi"].startswith(FAMILIES))
            tile_text = page.locator(f'li.tile[data-kpi="{hidden}"] [data-role=value]')
            assert await tile_text.inner_text() == "suppressed"

            # 2. Sign out; the development login gives reporting:detail.
            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_role("button", name="Development login").click()
            await page.locator("#session-who").get_by_text("reporting:detail").wait_for()
            assert await page.evaluate("() => sessionStorage.getItem('qaloop.dashboard.token') !== null")
            # Filters are kept in the address, so the same slice comes back.
            assert await page.get_by_label("Service area", exact=True).input_value() == "send"
            await page.get_by_label("Service area", exact=True).select_option("")
            everything = await page_agrees(page, api)
            assert value_of(everything, "complaints.received") > 0 and value_of(everything, "audit.completed") > 0

            # 3. Changing a filter changes the figures, with the keyboard alone: Tab to the
            #    service-area list (its focus is visible) and type to choose SEND.
            await page.get_by_label("Period", exact=True).focus()
            await page.keyboard.press("Tab")
            focused = await page.evaluate(
                "() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]"
            )
            assert focused == ["f-area", "solid"], focused
            await page.keyboard.type("SEND")
            send = await page_agrees(page, api, service_area="send")
            assert value_of(send, "complaints.received") < value_of(everything, "complaints.received")
            await page.get_by_label("Team", exact=True).select_option("send-north")
            north = await page_agrees(page, api, service_area="send", team="send-north")
            assert value_of(north, "complaints.received") <= value_of(send, "complaints.received")

            # 4. Live: new events on the broker show up without a reload.
            await page.evaluate("() => { window.__samePage = true; }")
            status_before = await page.locator("#status").inner_text()
            before = value_of(north, "complaints.received")
            for i in range(3):
                await publish(complaint(i, "send-north", "send", "communication"))
            await publish(audit(1, "send-north", "send"))

            async def received_now() -> Any:
                params = {"period": PERIOD, "service_area": "send", "team": "send-north"}
                r = await api.get("/v1/kpis/values", params=params)
                return value_of(r.json()["values"], "complaints.received")

            # First the API has the events (intake is asynchronous), then the page must follow.
            await eventually(received_now, lambda n: n == before + 3, timeout=20, what="three complaints applied")
            after = await page_agrees(page, api, service_area="send", team="send-north")
            assert value_of(after, "complaints.received") == before + 3
            assert await page.evaluate("() => window.__samePage === true"), "the page was reloaded"
            assert await page.locator("#status").inner_text() != status_before
            assert await page.locator("#status").get_attribute("aria-live") == "polite"
            # The charts follow too: the category bars and the per-team figure.
            await page.locator("#chart-category svg desc").get_by_text("Communication").wait_for(state="attached")
            by_team = await api.get(
                "/v1/dashboard/breakdowns", params={"period": PERIOD, "service_area": "send", "team": "send-north"}
            )
            north_count = next(t for t in by_team.json()["complaints_by_team"] if t["team"] == "send-north")["value"]
            assert north_count == value_of(after, "complaints.received")
            assert f"send-north: {north_count}" in (await page.locator("#chart-team svg desc").text_content() or "")
            # The audit areas, lowest first (what drives "requires improvement"): each area the
            # slice graded has a row in the chart's table, as the API names the family's members.
            areas = [v["kpi"] for v in after if v["kpi"].startswith("audit.area_good_or_better_rate.")]
            rows = await page.locator("#chart-audit-areas table tbody tr").count()
            assert rows == len(areas)

            # 5. The follow-ups list is the API's (open ones, for the slice, overdue first).
            await page.get_by_label("Team", exact=True).select_option("")
            await page_agrees(page, api, service_area="send")
            r = await api.get("/v1/followups", params={"status": "open", "service_area": "send"})
            followups = r.json()["followups"]
            hint = await page.locator("#followups-hint").inner_text()
            overdue = sum(f["status"] == "overdue" for f in followups)
            assert f"{len(followups)} open, {overdue} of them overdue" in hint
            rows = page.locator("table[data-role=followups] tbody tr")
            assert await rows.count() == min(len(followups), 25)
            if overdue:
                assert (await rows.first.locator("td").first.inner_text()).startswith("Overdue by")
            # ... each named by what it is about (audit type, team, date, case pseudonym; the
            # complaint, the response …), as the API words it, never by its origin's id
            about = await rows.locator("td[data-role=followup-subject]").all_inner_texts()
            shown = sorted(followups, key=lambda f: (-f["days_overdue"], f["due_date"]))[:25]  # the page's order
            assert all(f["subject"] for f in shown)
            assert about == [f["subject"]["text"] for f in shown]
            assert not any(f["origin_id"] in text for f in followups for text in about)
            for f, text in zip(shown, about, strict=True):
                if f["rule"] == "re-audit":
                    assert f" audit of case {f['subject']['case_ref']} ({f['team']})" in text

            # 5b. Figures by team: the KPI chosen, per team of the service area, as the API gives them.
            await check_by_team(page, api)

            # 6. A month: the period list offers months beside quarters and years; August 2022
            #    (the live complaints' month) gives the API's figures for that month, monthly
            #    trend lines, and its tables download for that month.
            await check_month(page, api, north)

            # 7. A complaint category: the complaints figures are that category's, the others
            #    stay as they were; the choice is kept in the address.
            await check_category(page, api, send)

            # 8. Downloads: a panel's table as CSV (the figures its chart shows) and every table as XLSX.
            await page.get_by_label("Period", exact=True).select_option(PERIOD)
            await page_agrees(page, api, service_area="send")
            await check_downloads(page, api)

            # 9. Accessible: every control labelled, every chart titled and described, text
            #    contrast at least 4.5:1. Then the picture.
            problems = await page.evaluate(A11Y_CHECKS)
            assert problems == [], problems
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            assert errors == [], errors
        finally:
            await browser.close()


async def check_month(page, api: httpx.AsyncClient, quarter_north: list[dict[str, Any]]) -> None:
    """Choose August 2022 from the period list (by its label) for the send slice: the tiles
    are the API's for "2022-08", the trend lines run over months, and the complaints-by-category
    table downloads as CSV for that month with the table's header."""
    import csv
    import io

    month = "2022-08"
    select = page.get_by_label("Period", exact=True)
    options = await select.locator("option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
    kinds = {value for value, _ in options}
    assert {"2022-23", PERIOD, "2022-07", month, "2022-09"} <= kinds, options
    assert [label for value, label in options if value == month] == ["August 2022 (month)"]
    await select.select_option(label="August 2022 (month)")
    assert "period=2022-08" in page.url
    values = await page_agrees(page, api, period=month, service_area="send")
    # the three live complaints of 16 August (send-north) are in it; the quarter holds it all
    quarter = await api.get("/v1/kpis/values", params={"period": PERIOD, "service_area": "send"})
    in_month = value_of(values, "complaints.received")
    in_quarter = value_of(quarter.json()["values"], "complaints.received")
    assert 3 <= in_month <= in_quarter
    assert value_of(quarter_north, "complaints.received") + 3 <= in_quarter
    title = page.locator('li.tile[data-kpi="complaints.received"] svg.sparkline title')
    await title.get_by_text("Trend of Complaints received, January 2022 to August 2022").wait_for(state="attached")
    assert "Showing August 2022, SEND." in await page.locator("#status").inner_text()

    box = page.locator('.downloads[data-table="complaints-by-category"]')
    async with page.expect_download() as info:
        await box.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == f"qaloop-dashboard-{month}-send-complaints-by-category.csv"
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Category", "Complaints received"]
    shown = sum(int(n.replace(",", "")) for _, n in rows[1:])
    assert shown == value_of(values, "complaints.received")  # reporting:detail: every category shown
    assert any(c == "Communication" and int(n) >= 3 for c, n in rows[1:]), rows
    assert not await page.get_by_role("button", name="The quarterly report's tables (XLSX, a sheet each)").is_enabled()


async def check_by_team(page, api: httpx.AsyncClient) -> None:
    """The by-team panel of the send slice: complaints received first, then audits completed
    chosen from its list; each bar's figure is `/v1/dashboard/teams`' for the team."""
    for title, kpi in (("Complaints received", "complaints.received"), ("Audits completed", "audit.completed")):
        await page.get_by_label("Key performance indicator", exact=True).select_option(label=title)
        params = {"period": PERIOD, "service_area": "send", "kpi": kpi}
        body = (await api.get("/v1/dashboard/teams", params=params)).json()
        (entry,) = body["kpis"]
        expected = "; ".join(f"{v['team']}: {v['value']:,}" for v in entry["values"])
        assert expected and all(t["service_area"] == "send" for t in body["teams"])
        desc = page.locator("#chart-by-team svg desc")
        await desc.get_by_text(expected, exact=True).wait_for(state="attached")
        assert await page.locator("#chart-by-team svg title").text_content() == f"{title} by team in SEND, 2022-23 Q2"


async def check_category(page, api: httpx.AsyncClient, send_before: list[dict[str, Any]]) -> None:
    """August 2022, send, complaints about communication (the live complaints' category)."""
    month = "2022-08"
    await page.get_by_label("Complaint category", exact=True).select_option(label="Communication")
    assert "category=communication" in page.url
    values = await page_agrees(page, api, period=month, service_area="send", category="communication")
    everything = await api.get("/v1/kpis/values", params={"period": month, "service_area": "send"})
    all_categories = everything.json()["values"]
    assert 3 <= value_of(values, "complaints.received") <= value_of(all_categories, "complaints.received")
    assert value_of(values, "audit.completed") == value_of(all_categories, "audit.completed")  # not a complaint
    desc = await page.locator("#chart-category svg desc").text_content() or ""
    assert desc.startswith("Communication:") and ";" not in desc, desc
    assert "complaints about communication" in await page.locator("#status").inner_text()
    await page.get_by_label("Complaint category", exact=True).select_option("")
    await page_agrees(page, api, period=month, service_area="send")
    assert "category=" not in page.url
    assert value_of(send_before, "complaints.received") > 0


async def check_downloads(page, api: httpx.AsyncClient) -> None:
    """The send slice's complaints by team as CSV from its panel's button: UTF-8 with a BOM,
    the teams and figures of the breakdowns the chart draws; the dashboard's workbook as XLSX
    with a sheet per panel."""
    import csv
    import io

    import openpyxl

    box = page.locator('.downloads[data-table="complaints-by-team"]')
    async with page.expect_download() as info:
        await box.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == f"qaloop-dashboard-{PERIOD}-send-complaints-by-team.csv"
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Team", "Complaints received"]
    r = await api.get("/v1/dashboard/breakdowns", params={"period": PERIOD, "service_area": "send"})
    expected = {t["team"]: f"{t['value']:,}" for t in r.json()["complaints_by_team"]}  # reporting:detail: all shown
    assert dict((team, n) for team, n in rows[1:]) == expected

    # one panel's table as XLSX: the file arrives with the table's header row above its KPIs
    kpi_box = page.locator('.downloads[data-table="kpis"]')
    async with page.expect_download() as info:
        await kpi_box.get_by_role("button", name="Download XLSX").click()
    sheet_file = await info.value
    assert sheet_file.suggested_filename == f"qaloop-dashboard-{PERIOD}-send-kpis.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(await asyncio.to_thread(Path(await sheet_file.path()).read_bytes)))
    (only,) = sheet.worksheets
    cells = [[c for c in row if c is not None] for row in only.iter_rows(values_only=True)]
    header = cells.index(["KPI", "Value", "RAG", "Commentary"])
    titles = {row[0] for row in cells[header + 1 :] if row}
    assert "Complaints received" in titles and "Audits completed" in titles, titles

    async with page.expect_download() as info:
        await page.get_by_role("button", name="Every dashboard table (XLSX, a sheet each)").click()
    workbook = await info.value
    assert workbook.suggested_filename == f"qaloop-dashboard-{PERIOD}-send.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(await asyncio.to_thread(Path(await workbook.path()).read_bytes)))
    assert book.sheetnames[0] == "Contents" and "complaints-by-team" in book.sheetnames
    assert await page.get_by_role("button", name="The quarterly report's tables (XLSX, a sheet each)").is_enabled()


# --------------------------------------------------------------------------- /dev-login


def _router_app() -> FastAPI:
    from services.reporting.dashboard import router

    app = FastAPI()
    app.include_router(router)
    return app


async def test_dev_login_issues_a_detail_token_with_the_development_secret(development_secret):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_router_app()), base_url="http://test") as client:
        r = await client.get("/dev-login")
        assert r.status_code == 200
        principal = verify_token(r.json()["token"], get_settings())
        assert principal.has("reporting:detail")
        page = await client.get("/")
        assert 'data-dev-login="true"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await client.get("/dashboard/dashboard.js")).status_code == 200
        assert (await client.get("/dashboard/../__init__.py")).status_code == 404


@pytest.mark.parametrize(
    "env",
    [
        # a real JWT secret, with the development pseudonym key still in place
        {"QALOOP_JWT_SECRET": "a-real-secret-from-the-vault"},
        {"QALOOP_JWT_SECRET": "a-real-secret-from-the-vault", "QALOOP_PSEUDONYM_KEY": "a-real-pseudonym-key"},
        # the development secret, but tokens come from an identity provider
        {"QALOOP_JWT_SECRET": DEVELOPMENT_JWT_SECRET, "QALOOP_JWKS_URL": "https://idp.example.invalid/jwks"},
    ],
)
async def test_dev_login_is_not_found_without_the_development_secret(monkeypatch, env):
    for key in ("QALOOP_JWT_SECRET", "QALOOP_PSEUDONYM_KEY", "QALOOP_JWKS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_router_app()), base_url="http://test"
        ) as client:
            assert (await client.get("/dev-login")).status_code == 404
            assert 'data-dev-login="false"' in (await client.get("/")).text
    finally:
        get_settings.cache_clear()
