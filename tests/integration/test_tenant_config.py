"""Per-authority configuration on the real path, in this module's own database and vhost:
the store (settings and the append-only history) against PostgreSQL, `/v1/config` on
reporting (role and tenant, bounded inputs refused with the field and the reason), a changed
target changing the RAG on `/v1/kpis`, a changed complaint timescale seen by both the
complaints service (its due dates) and reporting (its figures, rebuilt when the setting
changes after the fact), and `qaloop config`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from services import cli
from shared.auth import issue_token
from shared.bus import declare_topology
from shared.events import AssessmentCompleted, ComplaintClosed, ComplaintReceived, new_event
from shared.settings import Settings, get_settings
from shared.tenant_config import store
from shared.tenant_config.model import Setting, TenantConfig
from tests.support import servers as srv
from tests.support.samples import pseudonym
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

A = "E10000034"  # the complaints service's tenant (QALOOP_TENANT's default)
B = "E10000035"
ASSESS = "casework.assessment_within_45_days_rate"
AVERAGE = "complaints.average_response_working_days"


def token(tenant: str, *roles: str, subject: str = "an.admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(get_settings(), roles, subject=subject, tenant=tenant)}"}


ADMIN_A = token(A, "config:admin")


@pytest.fixture(scope="module")
async def own(servers: srv.Servers) -> AsyncIterator[Settings]:
    async with srv.module_servers(servers, "config") as (amqp_url, database_url):
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await declare_topology(await connection.channel())
        yield Settings(amqp_url=amqp_url, database_url=database_url, config_refresh_seconds=0.1)


@pytest.fixture(scope="module")
async def reporting(own: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    from services.reporting.app import build

    service, app = build(settings=own, clock=lambda: date(2023, 6, 30), followup_interval=0.1)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield service, client
    finally:
        await service.stop()


@pytest.fixture
async def conn(own: Settings, reporting) -> AsyncIterator[asyncpg.Connection]:
    from shared.db import connect

    c = await connect(own.database_url)
    try:
        yield c
    finally:
        await c.close()


async def test_each_change_is_stored_with_who_and_when_and_a_bad_one_writes_nothing(conn):
    tenant, defaults = "T-store", TenantConfig()
    config, (change,) = await store.change_settings(conn, tenant, defaults, {Setting.SMALL_NUMBER_THRESHOLD: 3}, "ann")
    assert config.small_number_threshold == 3
    assert (change.setting, change.old_value, change.new_value, change.changed_by) == (
        "small_number_threshold",
        5,
        3,
        "ann",
    )
    assert change.rebuilds is False and change.reset is False
    _, same = await store.change_settings(conn, tenant, defaults, {Setting.SMALL_NUMBER_THRESHOLD: 3}, "bob")
    assert same == []  # the value it has already: nothing recorded
    with pytest.raises(Exception, match="small_number_threshold"):
        await store.change_settings(
            conn,
            tenant,
            defaults,
            {Setting.OVERALL_GRADE_RULE: "best_fit", Setting.SMALL_NUMBER_THRESHOLD: 1000},
            "eve",
        )
    assert (await store.stored_settings(conn, tenant))[tenant] == {Setting.SMALL_NUMBER_THRESHOLD: 3}  # eve: nothing
    closures = {Setting.CALENDAR_CLOSURES: ["2022-12-28"]}
    _, (closed,) = await store.change_settings(conn, tenant, defaults, closures, "bob")
    assert closed.rebuilds is True
    latest, rebuild = await store.latest_changes(conn)
    assert latest == rebuild == closed.change_id
    config, (reset,) = await store.change_settings(
        conn, tenant, defaults, {Setting.SMALL_NUMBER_THRESHOLD: None}, "ann", reset=True
    )
    assert config.small_number_threshold == 5 and (reset.old_value, reset.new_value, reset.reset) == (3, 5, True)
    history = await store.history(conn, tenant)
    assert [(c.setting, c.changed_by) for c in history] == [
        ("small_number_threshold", "ann"),
        ("calendar_closures", "bob"),
        ("small_number_threshold", "ann"),
    ]
    assert [c.change_id for c in await store.history(conn, tenant, Setting.CALENDAR_CLOSURES)] == [closed.change_id]
    assert (await store.stored_settings(conn, tenant))[tenant] == {Setting.CALENDAR_CLOSURES: ["2022-12-28"]}
    assert await store.stored_settings(conn, "T-other") == {}


async def test_the_api_checks_the_role_and_answers_for_the_token_s_tenant_only(reporting):
    _, client = reporting
    assert (await client.get("/v1/config")).status_code == 401
    for roles in (("reporting:read",), ("reporting:admin",), ("ops:admin",)):
        r = await client.patch("/v1/config", json={"small_number_threshold": 2}, headers=token(A, *roles))
        assert r.status_code == 403, roles
        assert (await client.get("/v1/config/history", headers=token(A, *roles))).status_code == 403
    r = await client.patch("/v1/config", json={"overall_grade_rule": "best_fit"}, headers=token(B, "config:admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tenant"] == B and body["changed"] == ["overall_grade_rule"] and body["rebuilds_projections"] is False
    assert body["changes"][0]["changed_by"] == "an.admin"
    ours = (await client.get("/v1/config", headers=ADMIN_A)).json()
    assert ours["tenant"] == A and ours["settings"]["overall_grade_rule"] == "worst"  # B's change is B's
    assert all(
        c["setting"] != "overall_grade_rule" for c in (await client.get("/v1/config/history", headers=ADMIN_A)).json()
    )
    theirs = (await client.get("/v1/config/history", headers=token(B, "config:admin"))).json()
    assert [c["setting"] for c in theirs] == ["overall_grade_rule"]
    r = await client.delete("/v1/config/overall_grade_rule", headers=token(B, "config:admin"))
    assert r.json()["settings"]["overall_grade_rule"] == "worst" and r.json()["changed"] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"small_number_threshold": 101}, ["body", "small_number_threshold"]),
        ({"small_number_threshold": 2**40}, ["body", "small_number_threshold"]),
        ({"calendar_closures": ["2022-02-30"]}, ["body", "calendar_closures", 0]),
        ({"targets": {"x": {"target": 1e300}}}, ["body", "targets", "x", "target"]),
        ({"followup_rules": {"reaudit_months": 25}}, ["body", "followup_rules", "reaudit_months"]),
        (
            {"complaint_timescales": {"procedures": {"send": {"1": {"due": 30, "maximum": 20}}}}},
            ["body", "complaint_timescales"],
        ),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
async def test_a_bad_setting_is_422_with_the_field_and_nothing_changes(reporting, body, loc):
    _, client = reporting
    before = (await client.get("/v1/config/history", headers=token(B, "config:admin"))).json()
    r = await client.patch("/v1/config", json=body, headers=token(B, "config:admin"))
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["detail"]] == [loc] and r.json()["detail"][0]["msg"]
    assert (await client.get("/v1/config/history", headers=token(B, "config:admin"))).json() == before
    assert (await client.delete("/v1/config/no_such_setting", headers=token(B, "config:admin"))).status_code == 422


def _assessments(tenant: str, within: int, late: int) -> list[bytes]:
    return [
        new_event(
            AssessmentCompleted(
                assessment_id=f"{tenant}-as{i}",
                child_ref=pseudonym(f"child{i}"),
                started_at="2022-08-01",
                completed_at="2022-08-20" if i < within else "2022-12-20",
                team="t1",
                service_area="childrens_social_care",
            ),
            source="/cms/config",
            tenant=tenant,
            sequence=1,
        ).to_json()
        for i in range(within + late)
    ]


async def _publish(amqp_url: str, bodies: list[bytes], key: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        exchange = await (await connection.channel()).get_exchange("qa.events")
        for body in bodies:
            await exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), key, mandatory=True
            )


async def _kpi(client: httpx.AsyncClient, tenant: str, kpi: str, period: str) -> dict[str, Any]:
    r = await client.get("/v1/kpis/values", params={"period": period}, headers=token(tenant, "reporting:detail"))
    assert r.status_code == 200, r.text
    return next(v for v in r.json()["values"] if v["kpi"] == kpi)


async def test_a_changed_target_changes_the_rag_on_kpis(own, reporting):
    _, client = reporting
    tenant = "T-targets"
    await _publish(own.amqp_url, _assessments(tenant, 6, 2), "casework.AssessmentCompleted")
    value = await eventually(lambda: _kpi(client, tenant, ASSESS, "2022-23"), lambda v: v["denominator"] == 8)
    assert (value["value"], value["rag"]) == (0.75, None)  # no target: no RAG
    admin = token(tenant, "config:admin")
    for target, tolerance, rag in ((0.7, 0.0, "green"), (0.8, 0.1, "amber"), (0.9, 0.1, "red")):
        targets = {ASSESS: {"target": target, "amber_tolerance": tolerance}}
        r = await client.patch("/v1/config", json={"targets": targets}, headers=admin)
        assert r.status_code == 200 and r.json()["rebuilds_projections"] is False
        assert (await _kpi(client, tenant, ASSESS, "2022-23"))["rag"] == rag  # the next read, no rebuild
    lower = {ASSESS: {"target": 0.5, "higher_is_better": False}}
    await client.patch("/v1/config", json={"targets": lower}, headers=admin)
    assert (await _kpi(client, tenant, ASSESS, "2022-23"))["rag"] == "red"


async def test_a_changed_complaint_timescale_is_seen_by_complaints_and_by_reporting(own, reporting):
    """Stage 2 counted from the agreed statement (issue 14 item 2): the complaints service waits
    for the statement and dates the response from it, and reporting counts its working days
    from it too (24, not 29 from the request); returned to the default afterwards, reporting
    rebuilds and counts from the request."""
    from services.complaints.app import build

    _, client = reporting
    r = await client.patch(
        "/v1/config", json={"complaint_timescales": {"stage2_clock": "agreed_statement"}}, headers=ADMIN_A
    )
    assert r.status_code == 200 and r.json()["rebuilds_projections"] is True
    complaints, app = build(settings=own)
    await complaints.start()
    try:
        await eventually(
            lambda: asyncio.sleep(0, complaints.config.timescales(A).starts_stage2_at_statement),
            bool,
            what="complaints reads it",
        )
        writer = token(A, "complaints:write")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=writer
        ) as http:
            received = {
                "complaint_id": "cfg-1",
                "procedure": "statutory_children",
                "stage": 2,
                "category": "c",
                "team": "t",
                "service_area": "fostering",
                "complainant": "advocate",
                "received_at": "2022-09-01T10:00:00Z",
            }
            assert (await http.post("/v1/complaints", json=received)).status_code == 201
            early = await http.post(
                "/v1/complaints/cfg-1/respond", json={"closed_at": "2022-09-02", "points": [{"upheld": True}]}
            )
            assert early.status_code == 409 and "agreed statement" in early.json()["detail"]
            agreed = await http.post("/v1/complaints/cfg-1/agree-statement", json={"agreed_at": "2022-09-08"})
            assert agreed.json()["due_date"] == "2022-10-14"
            closed = await http.post(
                "/v1/complaints/cfg-1/respond", json={"closed_at": "2022-10-13", "points": [{"upheld": True}]}
            )
            assert closed.status_code == 200, closed.text
        value = await eventually(lambda: _kpi(client, A, AVERAGE, "2022-10"), lambda v: v["denominator"] == 1)
        assert value["value"] == 24  # from the agreed statement: reporting reads the same setting
        assert (await _kpi(client, A, "complaints.within_timescale_rate", "2022-10"))["value"] == 1.0
        r = await client.delete("/v1/config/complaint_timescales", headers=ADMIN_A)
        assert r.json()["rebuilds_projections"] is True
        await eventually(lambda: _kpi(client, A, AVERAGE, "2022-10"), lambda v: v["value"] == 29, what="the rebuild")
    finally:
        await complaints.stop()


async def test_qaloop_config_sets_shows_and_lists_the_history(own, reporting, monkeypatch, capsys):
    _, client = reporting
    monkeypatch.setenv("QALOOP_DATABASE_URL", own.database_url)
    get_settings.cache_clear()
    try:
        args = ["config", "set", "small_number_threshold", "2", "--tenant", "T-cli"]
        assert await asyncio.to_thread(cli.main, args) == 0
        assert "small_number_threshold 5 -> 2" in capsys.readouterr().out
        bad = ["config", "set", "followup_rules", '{"reaudit_months": 99}', "--tenant", "T-cli"]
        assert await asyncio.to_thread(cli.main, bad) == 1
        assert "followup_rules.reaudit_months" in capsys.readouterr().err
        assert await asyncio.to_thread(cli.main, ["config", "history", "--tenant", "T-cli", "--json"]) == 0
        (change,) = json.loads(capsys.readouterr().out)
        assert change["changed_by"].startswith("cli:") and change["new_value"] == 2
        assert await asyncio.to_thread(cli.main, ["config", "show", "--tenant", "T-cli"]) == 0
        assert '"small_number_threshold": 2' in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    shown = await eventually(
        lambda: client.get("/v1/config", headers=token("T-cli", "config:admin")),
        lambda r: r.json()["settings"]["small_number_threshold"] == 2,
        what="reporting reads the CLI's change",
    )
    assert shown.json()["changed"] == ["small_number_threshold"]


def _upheld_complaint(tenant: str) -> list[bytes]:
    """A complaint received and upheld at stage 1 on Friday 2 December 2022: it opens the
    complaint-learning follow-up, due N working days after the closing."""
    received = ComplaintReceived(
        complaint_id="cl-1",
        procedure="statutory_children",
        category="communication",
        team="t1",
        service_area="childrens_social_care",
        received_at="2022-11-21T10:00:00Z",
        complainant="parent_carer",
    )
    closed = ComplaintClosed(
        complaint_id="cl-1",
        stage=1,
        closed_at="2022-12-02T10:00:00Z",
        outcome="upheld",
        points=[{"upheld": True}],
        due_date="2022-12-05",
        within_timescale=True,
        working_days_taken=9,
    )
    return [
        new_event(data, source="/qaloop/complaints", tenant=tenant, sequence=n).to_json()
        for n, data in enumerate((received, closed), 1)
    ]


async def _learning_due(client: httpx.AsyncClient, tenant: str) -> str | None:
    r = await client.get(
        "/v1/followups", params={"rule": "complaint-learning"}, headers=token(tenant, "reporting:read")
    )
    assert r.status_code == 200, r.text
    items = r.json()["followups"]
    return items[0]["due_date"] if items else None


async def test_follow_up_rules_and_closures_are_each_authority_s_and_rebuild_its_follow_ups(own, reporting):
    """complaint-learning is due 20 working days after the closing (DOMAIN.md): from Friday
    2 December 2022, over Christmas and Boxing Day (27 December in lieu), 4 January 2023.
    One authority's 10 working days bring it to 16 December; its closure on 14 December to
    19 December. The other authority keeps DOMAIN.md's rule and England's calendar."""
    _, client = reporting
    ours, theirs = "T-loop-a", "T-loop-b"
    for tenant in (ours, theirs):
        await _publish(own.amqp_url, _upheld_complaint(tenant), "complaints.ComplaintClosed")
        await eventually(lambda t=tenant: _learning_due(client, t), lambda due: due == "2023-01-04", what=tenant)
    admin = token(ours, "config:admin")
    r = await client.patch(
        "/v1/config", json={"followup_rules": {"complaint_learning_working_days": 10}}, headers=admin
    )
    assert r.json()["rebuilds_projections"] is True
    await eventually(lambda: _learning_due(client, ours), lambda due: due == "2022-12-16", what="the rule's rebuild")
    r = await client.patch("/v1/config", json={"calendar_closures": ["2022-12-14"]}, headers=admin)
    assert r.json()["rebuilds_projections"] is True
    await eventually(lambda: _learning_due(client, ours), lambda due: due == "2022-12-19", what="the closure's rebuild")
    assert await _learning_due(client, theirs) == "2023-01-04"


async def test_the_audit_service_grades_by_the_rule_the_authority_set(own, reporting):
    """The overall-grade rule set through /v1/config (reporting) is the one the audit service
    grades by: `worst` refuses an auditor's overall judgement, `best_fit` takes it."""
    from services.audit.app import build

    _, client = reporting
    audit, app = build(own)
    await audit.start(relay=False)
    writer = token(A, "audit:write")
    areas = ["voice_of_the_child", "assessment_and_analysis", "planning", "management_oversight", "recording"]
    grades = {a: "good" for a in areas} | {"recording": "requires_improvement"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=writer
        ) as http:

            async def graded_audit() -> str:
                body = {
                    "case_reference": "LL-CFG1",
                    "service_area": "childrens_social_care",
                    "team": "through-care",
                    "audit_type": "routine",
                    "auditor_id": "auditor-1",
                    "due_date": "2030-01-31",
                }
                audit_id = (await http.post("/v1/audits", json=body)).json()["audit_id"]
                body = {"grades": [{"area": a, "grade": g, "rationale": "seen"} for a, g in grades.items()]}
                assert (await http.post(f"/v1/audits/{audit_id}/grades", json=body)).status_code == 200
                return str(audit_id)

            first = await graded_audit()
            judged = await http.post(f"/v1/audits/{first}/complete", json={"overall_grade": "good"})
            assert judged.status_code == 422  # `worst`: the overall grade is the worst area's
            r = await client.patch("/v1/config", json={"overall_grade_rule": "best_fit"}, headers=ADMIN_A)
            assert r.status_code == 200 and r.json()["rebuilds_projections"] is False
            await eventually(
                lambda: asyncio.sleep(0, audit.config.for_tenant(A).overall_grade_rule), lambda rule: rule == "best_fit"
            )
            judged = await http.post(f"/v1/audits/{first}/complete", json={"overall_grade": "good"})
            assert judged.status_code == 200, judged.text
            assert (judged.json()["overall_grade"], judged.json()["grade_rule"]) == ("good", "best_fit")
    finally:
        await client.delete("/v1/config/overall_grade_rule", headers=ADMIN_A)
        await audit.stop()
