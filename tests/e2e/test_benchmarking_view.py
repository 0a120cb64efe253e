"""The benchmarking view at `/benchmarking`, in a real browser against a really running
reporting service (the dashboard test's fixtures): the illustrative comparator files are
imported over HTTP, the development login signs in on the dashboard, the dashboard's link
opens the view, and its table shows the API's comparison row by row, passing the
dashboard's accessibility checks. Skipped without Chromium or Playwright, except under CI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.auth import issue_token
from shared.settings import get_settings
from tests.e2e.test_dashboard import (  # noqa: F401 - fixtures
    A11Y_CHECKS,
    ARTIFACTS,
    CHROMIUM_ARGS,
    chromium,
    development_secret,
    reporting_url,
)

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "reporting" / "benchmarks" / "sample"
YEAR = "2022-23"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


async def test_the_benchmarking_view_shows_the_comparison(chromium, servers, reporting_url):  # noqa: F811
    from playwright.async_api import async_playwright

    settings = get_settings()
    admin = {"Authorization": "Bearer " + issue_token(settings, ["reporting:admin"], subject="e2e")}
    async with httpx.AsyncClient(base_url=reporting_url, headers=admin, timeout=20) as api:
        for name in ("neighbours.csv", "figures.csv"):
            r = await api.post(
                "/v1/benchmarks/import", content=(SAMPLE / name).read_bytes(), headers={"Content-Type": "text/csv"}
            )
            assert r.status_code == 200, r.text
        body = (await api.get("/v1/benchmarks", params={"period": YEAR})).json()
    assert body["benchmarks"], "the sample has figures for the year"

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await page.goto(reporting_url + "/")
            await page.get_by_role("button", name="Development login").click()
            await page.locator("#dashboard").wait_for(state="visible")
            await page.get_by_role("link", name="Benchmarking across authorities").click()
            await page.wait_for_url("**/benchmarking**")
            await page.get_by_label("Financial year").select_option(YEAR)
            rows = page.locator("#bm-results tbody tr")
            await rows.first.wait_for(state="visible")
            assert await rows.count() == len(body["benchmarks"])
            for i, b in enumerate(body["benchmarks"]):
                row = rows.nth(i)
                assert await row.get_attribute("data-kpi") == b["kpi"]
                cells = await row.locator("td").all_inner_texts()
                assert cells[0].endswith(f"({b['source']})"), cells
                rank = b["england"]["rank"]
                assert cells[6] == f"{_ordinal(rank)} of {b['england']['of']}", cells
            heading = await page.locator("#bm-neighbours li").count()
            assert heading == len(body["neighbours"]) == 10
            assert await page.evaluate(A11Y_CHECKS) == []
            assert errors == []
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "benchmarking.png"), full_page=True)
        finally:
            await browser.close()
