"""The simulator end to end: a month of the simulated year sent to the strand services (in
process, over ASGI) and onto the real broker, and reporting's KPIs for that month are what
the simulator did. Also: what it says when the services are not there, and that it will
not send the same seed's year twice."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from services.simulation.authority import AUTHORITY_NAME
from services.simulation.loop import Loop, LoopClients
from services.simulation.plan import Plan
from services.simulation.runner import BusSink, ServicesUnavailable, Simulator
from services.simulation.year import plan_year
from shared.auth import issue_token
from shared.calendar import london_date, parse_period
from shared.events import Grade
from shared.settings import Settings, get_settings
from tests.support import servers as srv
from tests.support.wait import eventually

pytestmark = pytest.mark.e2e

MONTH = "2022-07"
YEAR_END = date(2023, 3, 31)  # reporting's clock here, as `qaloop demo` sets it (QALOOP_AS_OF)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
async def own_servers(servers: srv.Servers) -> AsyncIterator[Settings]:
    """This module's own database and RabbitMQ vhost: reporting here sees exactly what the
    simulator sent (the run's vhost and database are shared with other test modules, whose
    strand outboxes and reporting queue would otherwise mix in)."""
    async with srv.module_servers(servers, "simulate") as (amqp_url, database_url):
        yield Settings(amqp_url=amqp_url, database_url=database_url, authority_name=AUTHORITY_NAME)


@dataclass
class Running:
    settings: Settings
    clients: dict[str, httpx.AsyncClient]
    reporting: httpx.AsyncClient

    def simulator(self, plan: Plan) -> Simulator:
        return Simulator(
            plan,
            clients=self.clients,
            sink=BusSink(self.settings.amqp_url),
            settings=self.settings,
            concurrency=8,
            show_progress=False,
        )

    async def kpis(self, period: str) -> dict[str, dict[str, Any]]:
        reply = await self.reporting.get("/v1/kpis/values", params={"period": period})
        assert reply.status_code == 200, reply.text
        return {v["kpi"]: v for v in reply.json()["values"]}

    async def followups(self) -> list[dict[str, Any]]:
        reply = await self.reporting.get("/v1/followups", params={"limit": 5000})
        assert reply.status_code == 200, reply.text
        assert reply.json()["next_offset"] is None
        return list(reply.json()["followups"])

    async def events_applied(self) -> int:
        reply = await self.reporting.get("/v1/projections/status")
        assert reply.status_code == 200, reply.text
        return int(reply.json()["events_applied"])


@pytest.fixture(scope="module")
async def running(own_servers: Settings) -> AsyncIterator[Running]:
    """The three strand services and reporting, started in process against this module's
    servers, with ASGI clients."""
    from services.audit.app import build as build_audit
    from services.complaints.app import build as build_complaints
    from services.feedback.app import build as build_feedback
    from services.reporting.app import build as build_reporting
    from services.workforce.app import build as build_workforce

    built = {
        "audit": build_audit(settings=own_servers),
        "feedback": build_feedback(settings=own_servers),
        "complaints": build_complaints(settings=own_servers),
        "workforce": build_workforce(settings=own_servers),
    }
    reporting, reporting_app = build_reporting(settings=own_servers, clock=lambda: YEAR_END, followup_interval=0.2)
    started = []
    try:
        for service, _ in built.values():
            await service.start()
            started.append(service)
        await reporting.start()
        started.append(reporting)
        clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
            for name, (_, app) in built.items()
        }
        token = issue_token(own_servers, ["reporting:detail"], subject="e2e")
        reporting_client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reporting_app),
            base_url="http://reporting",
            headers={"Authorization": f"Bearer {token}"},
        )
        yield Running(own_servers, clients, reporting_client)
        for client in [*clients.values(), reporting_client]:
            await client.aclose()
    finally:
        for service in reversed(started):
            await service.stop()


def _final_grades(plan: Plan) -> Counter[Grade]:
    """Each completed audit's overall grade as reporting counts it: the worst area grade,
    or the moderated grade where the plan moderates it."""
    grade: dict[str, Grade] = {}
    completed: set[str] = set()
    for call in plan.calls():
        if not call.kind.startswith("audit.") or not call.placeholders():
            continue
        (audit,) = call.placeholders()
        if call.kind == "audit.grade":
            grade[audit] = max((Grade(g["grade"]) for g in call.body["grades"]), key=lambda g: g.rank)
        elif call.kind == "audit.moderate":
            grade[audit] = Grade(call.body["overall_grade"])
        elif call.kind == "audit.complete":
            completed.add(audit)
    return Counter(grade[a] for a in completed)


async def test_a_simulated_month_shows_in_reportings_kpis(running: Running):
    plan = plan_year("2022-23", seed=11, scale=0.2, period=MONTH)
    month = parse_period(MONTH)
    simulator = running.simulator(plan)
    await simulator.preflight()
    assert await simulator.previous_run() is None
    before = await running.events_applied()
    try:
        summary = await simulator.run()
    finally:
        await simulator.sink.close()

    assert summary.ok, summary.errors
    assert summary.not_run == 0
    assert sum(summary.calls.values()) == plan.requests
    assert summary.events == Counter(e.type for e in plan.casework)
    assert summary.calls["audit.complete"] > 0 and summary.calls["complaints.receive"] > 0
    expected = before + summary.events_for_reporting
    await eventually(running.events_applied, lambda n: n >= expected, timeout=60, what=f"{expected} events applied")

    kpis = await running.kpis(MONTH)
    assert kpis["audit.completed"]["value"] == summary.calls["audit.complete"]
    grades = _final_grades(plan)
    good = grades[Grade.GOOD] + grades[Grade.OUTSTANDING]
    assert kpis["audit.good_or_better_rate"]["numerator"] == good
    assert kpis["audit.requires_improvement_rate"]["numerator"] == grades[Grade.REQUIRES_IMPROVEMENT]
    # audits on schedule: against each audit's latest due date (a rescheduled one's new date)
    due: dict[str, date] = {}
    for call in plan.calls():
        if call.kind == "audit.schedule" and call.capture:
            due[call.capture[0]] = call.body["due_date"]
        elif call.kind == "audit.reschedule":
            due[call.placeholders()[0]] = call.body["due_date"]
    completions = plan.calls_of("audit.complete")
    on_time = sum(1 for c in completions if london_date(c.at) <= due[c.placeholders()[0]])
    assert kpis["audit.completed_on_time_rate"]["numerator"] == on_time
    assert kpis["audit.completed_on_time_rate"]["denominator"] == len(completions)
    assert kpis["complaints.received"]["value"] == summary.calls["complaints.receive"]
    closings = plan.calls_of("complaints.respond") + plan.calls_of("complaints.withdraw")
    assert kpis["complaints.closed"]["value"] == len(closings)
    assert kpis["feedback.responses"]["value"] == summary.calls["feedback.response"]
    origins = Counter(c.body["origin"] for c in plan.calls_of("feedback.compliment"))
    assert kpis["compliments.external"]["value"] == origins["external"]
    assert kpis["compliments.internal"]["value"] == origins["internal"]
    assert kpis["casework.re_referral_rate"]["denominator"] == summary.events["ReferralReceived"]
    assert kpis["casework.assessment_within_45_days_rate"]["denominator"] == summary.events["AssessmentCompleted"]
    assert kpis["casework.contact_success_rate"]["denominator"] == summary.events["CaseworkerContactAttempted"]
    counted_plans = [e for e in plan.events_of("EhcpIssued", month) if not e.data.exception]  # type: ignore[attr-defined]
    assert kpis["send.ehcp_within_20_weeks_rate"]["denominator"] == len(counted_plans)
    answers = [
        c.body["answers"]["easy_to_contact_case_worker"]
        for c in plan.calls_of("feedback.response")
        if "easy_to_contact_case_worker" in c.body["answers"]
    ]
    asked = kpis["feedback.positive_rate.easy_to_contact_case_worker"]
    assert asked["denominator"] == len(answers)
    assert asked["numerator"] == answers.count("yes")
    # foster carers answer their seeded survey (feedback migration 006), and reporting counts it
    carers = [
        c.body["answers"]["help_out_of_hours"]
        for c in plan.calls_of("feedback.response")
        if c.body["survey_id"] == "foster-carer-experience" and "help_out_of_hours" in c.body["answers"]
    ]
    assert carers and all(
        c.body["respondent"] == "foster_carer"
        for c in plan.calls_of("feedback.response")
        if c.body["survey_id"] == "foster-carer-experience"
    )
    out_of_hours = kpis["feedback.positive_rate.help_out_of_hours"]
    assert (out_of_hours["numerator"], out_of_hours["denominator"]) == (carers.count("yes"), len(carers))
    assert all(london_date(c.at) <= month.end for c in plan.calls())

    # the same seed's year again: refused, since the audit service would record the audits twice
    assert "already recorded" in (await running.simulator(plan).previous_run() or "")


async def test_staff_answer_the_loop_and_the_report_names_the_authority_cases_and_shared_compliments(
    running: Running,
):
    """The last quarter of the year, then simulated staff answering the follow-ups open at the
    year's end (`simulation.loop`), as `qaloop demo` does: most follow-ups end closed, some are
    still open and not all of those are overdue; the follow-ups are named by what they are
    about, not by ids; the report's cover names the authority and its good-practice page lists
    the compliments whose givers agreed to share them, by team."""
    plan = plan_year("2022-23", seed=12, scale=0.3, period="2022-23-Q4")
    simulator = running.simulator(plan)
    await simulator.preflight()
    applied = await running.events_applied()
    try:
        summary = await simulator.run()
    finally:
        await simulator.sink.close()
    assert summary.ok, summary.errors
    expected = applied + summary.events_for_reporting
    await eventually(running.events_applied, lambda n: n >= expected, timeout=60, what=f"{expected} events applied")
    before = Counter(f["status"] for f in await running.followups())

    loop = Loop(
        running.settings,
        plan,
        LoopClients(running.reporting, running.clients),
        today=YEAR_END,
    )
    answered = await loop.run(await running.events_applied())
    assert answered.failures == 0, answered.errors
    assert answered.answers, "there were open follow-ups to answer"
    after = await running.followups()
    states = Counter(f["status"] for f in after)
    assert states["closed"] > before["closed"]
    assert states["closed"] > states["open"] + states["overdue"], states  # mostly closed
    assert states["open"] + states["overdue"] > 0, states  # ... some still open
    assert states["open"] > 0, states  # ... and not all of those overdue
    closed = [f for f in after if f["status"] == "closed"]
    assert any(f["on_time"] for f in closed) and not all(f["on_time"] for f in closed), "some late"

    # named by what they are about: the re-audits by audit type, case pseudonym, team and date
    assert all(f["subject"] is not None for f in after)
    assert not any(UUID.search(f["subject"]["text"]) for f in after)
    reaudit = next(f for f in after if f["rule"] == "re-audit")
    assert reaudit["subject"]["case_ref"] and reaudit["subject"]["case_ref"] in reaudit["subject"]["text"]
    assert reaudit["team"] in reaudit["subject"]["text"] and " audit of case " in reaudit["subject"]["text"]

    reply = await running.reporting.get("/v1/reports/quarterly", params={"period": "2022-23-Q4"})
    assert reply.status_code == 200, reply.text
    html = reply.text
    cover = html[html.index("<header>") : html.index("</header>")]
    assert f"{AUTHORITY_NAME} ({running.settings.tenant})" in cover
    listed = html[html.index('id="followups-open"') :]
    listed = listed[: listed.index("</table>")]
    assert " audit of case " in listed and not UUID.search(listed)
    good_practice = html[html.index('<section id="good-practice"') :]
    good_practice = good_practice[: good_practice.index("</section>")]
    shared = [c.body for c in plan.calls_of("feedback.compliment") if c.body.get("summary_shareable")]
    not_shared = [c.body for c in plan.calls_of("feedback.compliment") if not c.body.get("summary_shareable")]
    assert shared and not_shared
    for team in {c["team"] for c in shared}:
        assert f"Team {team} (" in good_practice
    for team in {c["team"] for c in not_shared} - {c["team"] for c in shared}:
        assert f"Team {team} (" not in good_practice
    assert good_practice.count('<th scope="row"') == len(shared)


async def test_it_says_how_to_start_the_services_when_they_are_not_there(own_servers: Settings):
    down = {
        name: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2)
        for name, port in (("audit", 9), ("feedback", 9), ("complaints", 9), ("workforce", 9))
    }
    simulator = Simulator(
        plan_year("2022-23", seed=1, scale=0.01, period="2022-04"),
        clients=down,
        sink=BusSink("amqp://guest:guest@127.0.0.1:9/"),
        settings=own_servers,
        show_progress=False,
    )
    with pytest.raises(ServicesUnavailable) as raised:
        await simulator.preflight()
    text = str(raised.value)
    assert "The audit service is not reachable at http://127.0.0.1:9" in text
    assert "RabbitMQ is not reachable" in text
    assert "qaloop run all" in text
    for client in down.values():
        await client.aclose()


def test_the_command_exits_with_the_reason_when_the_services_are_down(monkeypatch, capsys):
    from services.simulation.command import run_simulate

    for strand in ("audit", "feedback", "complaints"):
        monkeypatch.setenv(f"QALOOP_{strand.upper()}_PORT", "9")
    get_settings.cache_clear()
    try:
        code = run_simulate(year="2022-23", seed=1, scale=0.01, period="2022-04", progress=False)
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert code == 2
    assert "not reachable" in out and "qaloop run all" in out
