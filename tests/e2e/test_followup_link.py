"""The link in a notifier e-mail (`{QALOOP_PUBLIC_URL}/?followup=ID`), in a real browser
against a really running reporting service (the dashboard test's fixtures): after the
development login the dashboard shows that follow-up above the figures — what it is about,
its due date and status, as `GET /v1/followups/{id}` has them — and an unknown id says it
was not found. Skipped without Chromium or Playwright, except under CI."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from shared.auth import issue_token
from shared.settings import get_settings
from tests.e2e.test_dashboard import (  # noqa: F401 - fixtures
    A11Y_CHECKS,
    CHROMIUM_ARGS,
    audit,
    broker,
    chromium,
    development_secret,
    reporting_url,
)
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e

FOLLOWUP = "re-audit:live-audit-7"


async def test_the_emailed_link_opens_the_followup(chromium, servers, reporting_url):  # noqa: F811
    from playwright.async_api import async_playwright

    reader = {"Authorization": "Bearer " + issue_token(get_settings(), ["reporting:read"], subject="e2e")}
    async with broker(servers) as publish:
        await publish(audit(7, "send-north", "send"))  # graded inadequate: a re-audit follow-up opens
    async with httpx.AsyncClient(base_url=reporting_url, headers=reader, timeout=20) as api:

        async def one() -> httpx.Response:
            return await api.get(f"/v1/followups/{quote(FOLLOWUP, safe='')}")

        found = (await eventually(one, lambda r: r.status_code == 200, timeout=30, what="the follow-up")).json()
    f = found["followup"]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await page.goto(f"{reporting_url}/?followup={quote(FOLLOWUP, safe='')}")
            await page.get_by_role("button", name="Development login").click()
            detail = page.locator("#followup-detail [data-role=followup-detail]")
            await detail.wait_for(state="visible")
            names, values = await detail.locator("dt").all_inner_texts(), await detail.locator("dd").all_inner_texts()
            shown = dict(zip(names, values, strict=True))
            assert shown["About"] == f["subject"]["text"], shown
            assert shown["Due"] == f["due_date"] and shown["Team"] == "send-north", shown
            assert shown["Status"].startswith(f["status"]), shown
            assert "followup=" in page.url  # the filters written back keep the link's follow-up
            assert await page.evaluate(A11Y_CHECKS) == []
            await page.get_by_role("button", name="Close").click()
            await detail.wait_for(state="hidden")
            assert "followup=" not in page.url

            await page.goto(f"{reporting_url}/?followup=re-audit%3Anobody")
            alert = page.locator("#followup-detail [role=alert]")
            await alert.wait_for(state="visible")
            assert "not found" in await alert.inner_text()
            assert errors == []
        finally:
            await browser.close()
