"""The simulator's concerns, inspection findings and EHCP audits for a whole year, sent to
the strand services (in process) and onto the real broker: reporting shows whether the
concerns' measures worked, the EHCP procedure compliance, the concern-rework and
inspection-finding follow-ups — what `qaloop demo` shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date

import pytest

from services.simulation.year import plan_year
from shared.settings import Settings
from tests.e2e.test_simulate import Running, running  # noqa: F401 (the fixture)
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e
YEAR = "2022-23"


@pytest.fixture(scope="module")
async def own_servers(servers: srv.Servers) -> AsyncIterator[Settings]:
    async with srv.module_servers(servers, "learning") as (amqp_url, database_url):
        yield Settings(amqp_url=amqp_url, database_url=database_url)


async def test_concerns_inspections_and_ehcp_audits_of_a_year_reach_reporting(running: Running):  # noqa: F811
    year = plan_year(YEAR, seed=11, scale=0.2)
    ehcp = [s for s in year.stories if any(c.kind == "audit.complete" and "checklist" in c.body for c in s.calls)]
    learning = [s for s in year.stories if "concern-" in s.key or "finding-" in s.key]
    plan = replace(year, stories=tuple(sorted([*learning, *ehcp[:12]], key=lambda s: (s.starts, s.key))), casework=())
    simulator = running.simulator(plan)
    try:
        summary = await simulator.run()
    finally:
        await simulator.sink.close()
    assert summary.ok, summary.errors
    expected = summary.events_for_reporting
    await eventually(running.events_applied, lambda n: n >= expected, timeout=60, what=f"{expected} events applied")

    kpis = await running.kpis(YEAR)
    effective = kpis["audit.concern_measures_effective_rate"]
    assert (effective["numerator"], effective["denominator"]) == (2, 4)  # SEND, the rework / + not, partly
    compliant = [
        all(a["met"] for a in c.body["checklist"])
        for s in ehcp[:12]
        for c in s.calls
        if c.kind == "audit.complete" and date.fromisoformat(str(c.at)[:10]) <= date(2023, 3, 31)
    ]
    procedure = kpis["audit.ehcp_procedure_compliance_rate"]
    assert (procedure["numerator"], procedure["denominator"]) == (sum(compliant), len(compliant))
    assert kpis["audit.completed_on_time_rate"]["denominator"] == kpis["audit.completed"]["value"]
    assert any(k.startswith("audit.area_good_or_better_rate.") for k in kpis)

    async def followups() -> dict[str, list[dict]]:
        reply = await running.reporting.get("/v1/followups")
        assert reply.status_code == 200, reply.text
        out: dict[str, list[dict]] = {}
        for f in reply.json()["followups"]:
            out.setdefault(f["rule"], []).append(f)
        return out

    found = await eventually(
        followups, lambda f: len(f.get("inspection-finding", [])) == 2, timeout=30, what="inspection follow-ups"
    )
    [rework] = found["concern-rework"]
    assert rework["status"] == "closed" and rework["team"] is None
    inspections = sorted(found["inspection-finding"], key=lambda f: f["due_date"])
    assert [f["status"] for f in inspections] == ["closed", "closed"]
    assert [f["on_time"] for f in inspections] == [True, False]  # the SEND area finding answered late
