"""Benchmarking on the real path: comparator files imported over HTTP (and by the CLI) into
reporting's PostgreSQL tables, `GET /v1/benchmarks` reading them beside the tenant's live
KPI from events applied through the broker, role and tenant checks, a bad file importing
nothing, live comparison only between tenants that have both opted in (what one sees of
the other suppressed), and the quarterly report's benchmarking page."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from pathlib import Path

import aio_pika
import asyncpg
import httpx
import pytest

from services import cli
from services.reporting.benchmarks import domain
from services.reporting.benchmarks.lait import FigureFile, NeighbourFile, read_comparator_file
from shared.auth import issue_token
from shared.events import AssessmentCompleted, new_event
from shared.settings import get_settings
from tests.integration.test_reporting_intake import fresh_reporting_state
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

A = "E10000034"  # the sample's own authority
B = "E10000035"  # another authority served by the same deployment
SAMPLE = Path(__file__).parents[2] / "services" / "reporting" / "benchmarks" / "sample"
ASSESS = "casework.assessment_within_45_days_rate"
TABLES = "reporting.benchmark_authority, reporting.benchmark_neighbour, reporting.benchmark_figure, " + (
    "reporting.benchmark_live_opt_in"
)


def _token(tenant: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(get_settings(), roles, subject='bench', tenant=tenant)}"}


def _assessments(tenant: str, within: int, late: int) -> list[bytes]:
    out = []
    for i in range(within + late):
        completed = "2022-08-20" if i < within else "2022-12-20"  # 14 vs ~100 working days after 1 August
        out.append(
            new_event(
                AssessmentCompleted(
                    assessment_id=f"{tenant}-as{i}",
                    child_ref=pseudonym(f"child{i}"),
                    started_at="2022-08-01",
                    completed_at=completed,
                    team="t1",
                    service_area="childrens_social_care",
                ),
                source="/cms/bench",
                tenant=tenant,
                sequence=1,
            ).to_json()
        )
    return out


async def _clear(servers) -> None:
    conn = await asyncpg.connect(servers.database_url)
    try:
        await conn.execute(f"TRUNCATE {TABLES}")
    finally:
        await conn.close()


@pytest.fixture
async def reporting(servers):
    """Reporting with 8 assessments of A (6 within 45 days) and 3 of B (all within) in 2022-23."""
    get_settings.cache_clear()
    from services.reporting.app import build

    service, app = build(clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    await fresh_reporting_state(service, servers)
    await _clear(servers)
    await service.start()
    connection = await aio_pika.connect(servers.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("qa.events")
        for body in _assessments(A, 6, 2) + _assessments(B, 3, 0):
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await exchange.publish(message, "casework.AssessmentCompleted", mandatory=True)

    async def applied() -> int:
        return int((await service.status(A))["events_applied"]) + int((await service.status(B))["events_applied"])

    await eventually(applied, lambda n: n >= 11, what="the assessments applied")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield service, client
    await client.aclose()
    await service.stop()
    await _clear(servers)


async def _import(client: httpx.AsyncClient, tenant: str, data: bytes) -> httpx.Response:
    headers = {**_token(tenant, "reporting:admin"), "Content-Type": "text/csv"}
    return await client.post("/v1/benchmarks/import", content=data, headers=headers)


async def _import_sample(client: httpx.AsyncClient, tenant: str = A) -> None:
    for name in ("neighbours.csv", "figures.csv"):
        r = await _import(client, tenant, (SAMPLE / name).read_bytes())
        assert r.status_code == 200, r.text


def _expected(year: str) -> dict[str, domain.Benchmark]:
    """The sample's comparison by the pure rules, with A's live assessment rate (6 of 8)."""
    neighbours = read_comparator_file((SAMPLE / "neighbours.csv").read_bytes())
    figures = read_comparator_file((SAMPLE / "figures.csv").read_bytes())
    assert isinstance(neighbours, NeighbourFile) and isinstance(figures, FigureFile)
    by_measure: dict[str, dict[str, float]] = defaultdict(dict)
    for f in figures.figures:
        if f.year == year:
            by_measure[f.measure][f.area] = f.value
    comparators = domain.Comparators(
        {a.code: a for a in neighbours.authorities}, {A: neighbours.neighbours[A]}, by_measure
    )
    from services.reporting import kpis

    live = {ASSESS: kpis.rate_value(ASSESS, 6, 8)}
    return {b.measure.kpi: b for b in domain.benchmarks(comparators, A, live=live, targets={})}


async def test_benchmarks_read_the_imported_figures_beside_the_live_kpi(reporting):
    _, client = reporting
    await _import_sample(client)
    r = await client.get("/v1/benchmarks", params={"period": "2022-23"}, headers=_token(A, "reporting:read"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["authority"]["region_name"] == "West Midlands"
    assert len(body["neighbours"]) == 10
    assert body["live_comparison"] == {"opted_in": False, "peers": []}
    expected = _expected("2022-23")
    assert [b["kpi"] for b in body["benchmarks"]] == list(expected)
    for row in body["benchmarks"]:
        want = expected[row["kpi"]]
        assert (row["value"], row["source"]) == (pytest.approx(want.value), want.source), row["kpi"]
        assert row["neighbours"]["mean"] == pytest.approx(want.neighbours_mean)
        assert (row["neighbours"]["rank"], row["neighbours"]["of"]) == (want.neighbours.rank, want.neighbours.of)
        assert (row["region"]["rank"], row["england"]["rank"]) == (want.in_region.rank, want.nationally.rank)
        assert row["england"]["value"] == pytest.approx(want.england_value)
        assert row["summary"] == want.summary()
    assess = next(b for b in body["benchmarks"] if b["kpi"] == ASSESS)
    assert (assess["value"], assess["source"]) == (0.75, "qaloop")
    reref = next(b for b in body["benchmarks"] if b["kpi"] == "casework.re_referral_rate")
    assert reref["source"] == "published"  # qaloop has no referrals this year


async def test_a_file_with_a_bad_row_is_refused_whole_and_the_old_figures_stay(reporting):
    _, client = reporting
    await _import_sample(client)
    good = (SAMPLE / "figures.csv").read_text()
    bad = good.replace(
        f"{A},Demo authority (the demo's tenant),assessments_within_45_days_pct,2022-23,",
        f"{A},X,assessments_within_45_days_pct,2022-23,1",
        1,
    )
    bad += f"{A},Demo,sw_average_caseload,2022-23,lots\n"
    before = await client.get("/v1/benchmarks", params={"period": "2022-23"}, headers=_token(A, "reporting:read"))
    r = await _import(client, A, bad.encode())
    assert r.status_code == 422
    locations = [d["loc"] for d in r.json()["detail"]]
    assert ["body", len(bad.splitlines()), "value"] in locations  # line of the file, column
    after = await client.get("/v1/benchmarks", params={"period": "2022-23"}, headers=_token(A, "reporting:read"))
    assert after.json() == before.json()


async def test_roles_and_tenants(reporting):
    _, client = reporting
    r = await client.post(
        "/v1/benchmarks/import",
        content=(SAMPLE / "figures.csv").read_bytes(),
        headers={**_token(A, "reporting:read", "reporting:detail"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 403
    assert (await client.get("/v1/benchmarks", params={"period": "2022-23"})).status_code == 401
    await _import_sample(client, A)
    # B's token reads B's comparators only: A's import is A's
    r = await client.get("/v1/benchmarks", params={"period": "2022-23"}, headers=_token(B, "reporting:read"))
    assert r.status_code == 200 and r.json()["benchmarks"] == [] and r.json()["neighbours"] == []
    assert (await client.put("/v1/benchmarks/live-comparison", headers=_token(A, "reporting:read"))).status_code == 403
    for period in ("2022-23-Q1", "2022-07", "last year"):
        r = await client.get("/v1/benchmarks", params={"period": period}, headers=_token(A, "reporting:read"))
        assert r.status_code == 422, period


async def test_live_comparison_needs_both_tenants_opted_in_and_is_suppressed(reporting):
    _, client = reporting
    await _import_sample(client, A)
    await _import_sample(client, B)
    read_a, read_b = _token(A, "reporting:detail"), _token(B, "reporting:detail")
    admin_a, admin_b = _token(A, "reporting:admin"), _token(B, "reporting:admin")

    async def live(headers: dict[str, str]) -> tuple[dict, dict]:
        body = (await client.get("/v1/benchmarks", params={"period": "2022-23"}, headers=headers)).json()
        return body["live_comparison"], next(b for b in body["benchmarks"] if b["kpi"] == ASSESS)

    assert (await client.put("/v1/benchmarks/live-comparison", headers=admin_a)).json()["opted_in"] is True
    state, row = await live(read_a)
    assert state == {"opted_in": True, "peers": []} and row["live"] == []  # B has not opted in
    await client.put("/v1/benchmarks/live-comparison", headers=admin_b)
    state, row = await live(read_a)
    assert state == {"opted_in": True, "peers": [B]}
    # B has 3 assessments: suppressed for A even with reporting:detail
    assert row["live"] == [{"authority": B, "value": None, "suppressed": True}]
    _, row_b = await live(read_b)
    assert row_b["live"] == [{"authority": A, "value": 0.75, "suppressed": False}]
    assert row_b["value"] == 1.0 and row_b["source"] == "qaloop"  # B's own, unsuppressed for its detail reader
    assert (await client.delete("/v1/benchmarks/live-comparison", headers=admin_b)).json()["opted_in"] is False
    state, row = await live(read_a)
    assert state["peers"] == [] and row["live"] == []
    got = await client.get("/v1/benchmarks/live-comparison", headers=_token(B, "reporting:read"))
    assert got.json() == {"tenant": B, "opted_in": False, "peers": []}


async def test_the_cli_imports_and_the_quarterly_report_has_a_benchmarking_page(reporting, tmp_path, capsys):
    _, client = reporting
    bad = tmp_path / "bad.csv"
    bad.write_text("la_code,la_name,measure,year,value\nE1,x,m,2022-23,1\n")
    assert await asyncio.to_thread(cli.main, ["benchmarks", "import", str(bad), "--tenant", A]) == 1
    assert "line 2, column la_code" in capsys.readouterr().err
    for name in ("neighbours.csv", "figures.csv"):
        assert await asyncio.to_thread(cli.main, ["benchmarks", "import", str(SAMPLE / name), "--tenant", A]) == 0
    assert await asyncio.to_thread(cli.main, ["benchmarks", "live-comparison", "on", "--tenant", A]) == 0
    assert "live comparison on" in capsys.readouterr().out
    r = await client.get("/v1/reports/quarterly", params={"period": "2023-24-Q1"}, headers=_token(A, "reporting:read"))
    assert r.status_code == 200
    html = r.text
    assert "Benchmarking across authorities" in html
    assert "Financial year 2022-23" in html  # the latest year with comparator figures
    assert "75.0% (qaloop)" in html


async def test_the_benchmarking_view_is_served(reporting):
    _, client = reporting
    page = await client.get("/benchmarking")
    assert page.status_code == 200 and "benchmarks.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (await client.get("/benchmarking/benchmarks.js")).status_code == 200
    assert (await client.get("/benchmarking/other.js")).status_code == 404
