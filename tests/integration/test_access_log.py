"""The access log (shared/access_log.py) with the real PostgreSQL: reads of personal data and
writes are recorded with subject, tenant, route, ids and status, refusals too; the table is
append-only even for the application's role; ops:admin reads its own tenant's rows over HTTP
and with `qaloop ops access-log`, other roles get 403."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services import cli
from shared import access_log
from shared.auth import issue_token
from shared.service import StrandService
from shared.settings import Settings, get_settings
from tests.support import servers as srv

pytestmark = pytest.mark.integration

SERVED = "E10000034"
OTHER = "E99999999"
COMPLAINT_DETAIL = "/v1/complaints/{complaint_id}"


def bearer(*roles: str, subject: str = "officer-1", tenant: str = SERVED) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(Settings(tenant=SERVED), roles, subject=subject, tenant=tenant)}"}


@dataclass
class Strands:
    settings: Settings
    complaints: tuple[StrandService, FastAPI]
    audit: tuple[StrandService, FastAPI]

    def client(self, name: str) -> httpx.AsyncClient:
        _, app = getattr(self, name)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strand")


@pytest.fixture(scope="module")
async def strands(servers: srv.Servers) -> AsyncIterator[Strands]:
    from services.audit.app import build as build_audit
    from services.complaints.app import build as build_complaints

    async with srv.module_servers(servers, "accesslog") as (amqp_url, database_url):
        settings = Settings(amqp_url=amqp_url, database_url=database_url, tenant=SERVED)
        complaints = build_complaints(settings=settings)
        audit = build_audit(settings=settings)
        await complaints[0].start(relay=False)
        await audit[0].start(relay=False)
        try:
            yield Strands(settings, complaints, audit)
        finally:
            await audit[0].stop()
            await complaints[0].stop()


async def entries(strands: Strands, schema: str, **where: Any) -> list[dict[str, Any]]:
    """The rows of `schema.access_log` matching `where`, oldest first (straight from SQL)."""
    conn = await asyncpg.connect(strands.settings.database_url)
    try:
        rows = await conn.fetch(f"SELECT *, ids::text AS ids_text FROM {schema}.access_log ORDER BY id")
    finally:
        await conn.close()
    out = []
    for row in rows:
        entry = {**dict(row), "ids": json.loads(row["ids_text"])}
        if all(entry[k] == v for k, v in where.items()):
            out.append(entry)
    return out


def complaint(cid: str) -> dict[str, Any]:
    return {
        "complaint_id": cid,
        "procedure": "corporate",
        "stage": 1,
        "category": "communication",
        "team": "north",
        "service_area": "childrens_social_care",
        "complainant": "parent_carer",
        "received_at": "2022-08-01T10:00:00Z",
        "complainant_name": "Jane Brown",
    }


async def test_reading_a_complaint_and_writing_are_recorded_with_who_what_and_status(strands: Strands) -> None:
    cid = f"al-{uuid.uuid4().hex[:8]}"
    async with strands.client("complaints") as client:
        created = await client.post("/v1/complaints", json=complaint(cid), headers=bearer("complaints:write"))
        assert created.status_code == 201, created.text
        read = await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write", subject="reader-7"))
        assert read.status_code == 200
        listed = await client.get("/v1/complaints", headers=bearer("complaints:write", subject="lister-1"))
        assert listed.status_code == 200

    [write] = await entries(strands, "complaints", route="/v1/complaints", subject="officer-1")
    assert write["method"] == "POST" and write["status"] == 201 and write["tenant"] == SERVED
    assert write["token_tenant"] == SERVED and write["service"] == "complaints"
    assert write["ids"] == {"complaint_id": cid}  # the id the 201 created
    assert write["personal_data"] is False and write["at"] is not None
    # tracing is off here (no OTLP endpoint): no trace to name; with tracing on the row names
    # the request's trace (tests/integration/test_tracing.py)
    assert write["trace_id"] is None

    [detail] = await entries(strands, "complaints", route=COMPLAINT_DETAIL, subject="reader-7")
    assert detail["method"] == "GET" and detail["status"] == 200 and detail["tenant"] == SERVED
    assert detail["ids"] == {"complaint_id": cid} and detail["personal_data"] is True
    # a read of a route that is not marked as personal data is not recorded
    assert await entries(strands, "complaints", subject="lister-1") == []


async def test_writing_an_audit_is_recorded_with_its_ids(strands: Strands) -> None:
    body = {
        "case_reference": f"AL-{uuid.uuid4().hex[:8].upper()}",
        "service_area": "childrens_social_care",
        "team": "through-care",
        "audit_type": "routine",
        "auditor_id": "auditor-1",
        "due_date": "2030-01-31",
    }
    async with strands.client("audit") as client:
        scheduled = await client.post("/v1/audits", json=body, headers=bearer("audit:write", subject="auditor-9"))
        assert scheduled.status_code == 201, scheduled.text
        audit_id = scheduled.json()["audit_id"]
        area = scheduled.json()["areas"][0]["area"]
        grades = {"grades": [{"area": area, "grade": "good", "rationale": "seen in the file"}]}
        graded = await client.post(
            f"/v1/audits/{audit_id}/grades", json=grades, headers=bearer("audit:write", subject="auditor-9")
        )
        assert graded.status_code == 200, graded.text
        detail = await client.get(f"/v1/audits/{audit_id}", headers=bearer("reporting:read", subject="analyst-2"))
        assert detail.status_code == 200

    [schedule] = await entries(strands, "audit", route="/v1/audits", subject="auditor-9")
    assert (schedule["method"], schedule["status"], schedule["tenant"]) == ("POST", 201, SERVED)
    assert schedule["ids"] == {"audit_id": audit_id}
    [grade] = await entries(strands, "audit", route="/v1/audits/{audit_id}/grades")
    assert (grade["subject"], grade["status"], grade["ids"]) == ("auditor-9", 200, {"audit_id": audit_id})
    [read] = await entries(strands, "audit", route="/v1/audits/{audit_id}", subject="analyst-2")
    assert read["personal_data"] is True and read["ids"] == {"audit_id": audit_id}


async def test_refused_attempts_are_recorded(strands: Strands) -> None:
    cid = f"al-refused-{uuid.uuid4().hex[:6]}"
    async with strands.client("complaints") as client:
        no_role = await client.get(f"/v1/complaints/{cid}", headers=bearer("feedback:write", subject="nosy-1"))
        assert no_role.status_code == 403
        other = await client.get(
            f"/v1/complaints/{cid}", headers=bearer("complaints:write", subject="nosy-2", tenant=OTHER)
        )
        assert other.status_code == 403
        no_token = await client.get(f"/v1/complaints/{cid}")
        assert no_token.status_code == 401
        unknown = await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write", subject="nosy-3"))
        assert unknown.status_code == 404
        bad_write = await client.post("/v1/complaints", json={"complaint_id": cid}, headers=bearer("reporting:read"))
        assert bad_write.status_code == 403

    rows = await entries(strands, "complaints", ids={"complaint_id": cid}, route=COMPLAINT_DETAIL)
    by_status = {(r["subject"], r["status"]) for r in rows}
    assert by_status == {("nosy-1", 403), ("nosy-2", 403), (None, 401), ("nosy-3", 404)}
    # a token for another tenant: recorded under the tenant served (whose data it asked for)
    [cross] = [r for r in rows if r["subject"] == "nosy-2"]
    assert (cross["tenant"], cross["token_tenant"]) == (SERVED, OTHER)
    [anonymous] = [r for r in rows if r["subject"] is None]
    assert (anonymous["tenant"], anonymous["token_tenant"]) == (SERVED, None)
    assert [r["status"] for r in await entries(strands, "complaints", route="/v1/complaints", status=403)] == [403]


async def test_the_access_log_is_append_only_even_for_the_applications_role(strands: Strands) -> None:
    async with strands.client("complaints") as client:
        await client.get("/v1/complaints/append-only", headers=bearer("complaints:write"))
    conn = await asyncpg.connect(strands.settings.database_url)  # the role the services use
    try:
        before = await conn.fetchval("SELECT count(*) FROM complaints.access_log")
        assert before > 0
        for statement in (
            "UPDATE complaints.access_log SET subject = 'someone-else'",
            "DELETE FROM complaints.access_log",
            "DELETE FROM complaints.access_log WHERE false",  # even one that touches no row
            "TRUNCATE complaints.access_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM complaints.access_log") == before
        assert await conn.fetchval("SELECT count(*) FROM complaints.access_log WHERE subject = 'someone-else'") == 0
    finally:
        await conn.close()


async def test_ops_admin_reads_its_tenants_entries_and_no_one_else_does(strands: Strands) -> None:
    cid = f"al-query-{uuid.uuid4().hex[:6]}"
    async with strands.client("complaints") as client:
        assert (await client.post("/v1/complaints", json=complaint(cid), headers=bearer("complaints:write"))).is_success
        await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write", subject="watched-1"))
        # a row of another tenant in the same table (as a shared database could hold)
        service = strands.complaints[0]
        assert service.pool is not None
        async with service.pool.acquire() as conn:
            other_row = access_log.AccessRecord(
                service="complaints",
                tenant=OTHER,
                token_tenant=OTHER,
                subject="watched-1",
                method="GET",
                route=COMPLAINT_DETAIL,
                ids={"complaint_id": cid},
                status=200,
                personal_data=True,
                trace_id=None,
                duration_ms=None,
            )
            await access_log.append(conn, "complaints", other_row)

        admin = bearer("ops:admin", subject="admin-1")
        params = {"subject": "watched-1", "route": COMPLAINT_DETAIL}
        answer = await client.get("/v1/ops/access-log", params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["tenant"] == SERVED and body["service"] == "complaints"
        [entry] = body["entries"]  # the other tenant's row is not there
        assert entry["tenant"] == SERVED and entry["ids"] == {"complaint_id": cid} and entry["status"] == 200
        assert entry["method"] == "GET" and entry["personal_data"] is True

        since = (await client.get("/v1/ops/access-log", params={"since": "2999-01-01T00:00:00Z"}, headers=admin)).json()
        assert since["entries"] == []
        until = await client.get("/v1/ops/access-log", params={"until": "2000-01-01T00:00:00Z"}, headers=admin)
        assert until.json()["entries"] == []
        newest = (await client.get("/v1/ops/access-log", params={"limit": 2}, headers=admin)).json()["entries"]
        assert len(newest) == 2 and newest[0]["id"] > newest[1]["id"]

        writer = await client.get("/v1/ops/access-log", headers=bearer("complaints:write", subject="curious-1"))
        assert writer.status_code == 403
        other_admin = await client.get("/v1/ops/access-log", headers=bearer("ops:admin", subject="x", tenant=OTHER))
        assert other_admin.status_code == 403

    # reading the trail is recorded in it, and so is a refused read of it
    reads = await entries(strands, "complaints", route="/v1/ops/access-log")
    assert {(r["subject"], r["status"]) for r in reads} >= {("admin-1", 200), ("curious-1", 403)}


async def test_the_cli_reads_the_trail_for_one_tenant_and_records_the_read(
    strands: Strands, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = f"al-cli-{uuid.uuid4().hex[:6]}"
    async with strands.client("complaints") as client:
        await client.post("/v1/complaints", json=complaint(cid), headers=bearer("complaints:write"))
        await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write", subject="cli-watched"))
    monkeypatch.setenv("QALOOP_DATABASE_URL", strands.settings.database_url)
    monkeypatch.setenv("QALOOP_TENANT", SERVED)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        assert (
            await asyncio.to_thread(
                cli.main, ["ops", "access-log", "--json", "--subject", "cli-watched", "--since", "1h"]
            )
            == 0
        )
        out = json.loads(capsys.readouterr().out)
        assert out["tenant"] == SERVED and "reporting" in out["not_in_this_database"]
        [entry] = out["entries"]
        assert entry["service"] == "complaints" and entry["ids"] == {"complaint_id": cid}
        assert entry["route"] == COMPLAINT_DETAIL and entry["status"] == 200

        assert (
            await asyncio.to_thread(
                cli.main, ["ops", "access-log", "--service", "complaints", "--tenant", OTHER, "--json"]
            )
            == 0
        )
        assert all(e["tenant"] == OTHER for e in json.loads(capsys.readouterr().out)["entries"])
        assert (
            await asyncio.to_thread(cli.main, ["ops", "access-log", "--service", "audit", "--subject", "cli-watched"])
            == 0
        )
        assert "access log" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    reads = await entries(strands, "complaints", method="CLI")
    assert reads and all(r["subject"].startswith("cli:") for r in reads)


async def test_a_read_that_cannot_be_recorded_is_withheld_and_a_write_is_not_undone(
    strands: Strands, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = f"al-down-{uuid.uuid4().hex[:6]}"

    async def broken(*_: Any) -> None:
        raise ConnectionError("database away")

    failures = access_log.ACCESS_LOG_FAILURES.labels("complaints")
    before = failures._value.get()
    async with strands.client("complaints") as client:
        monkeypatch.setattr(access_log, "append", broken)
        created = await client.post("/v1/complaints", json=complaint(cid), headers=bearer("complaints:write"))
        assert created.status_code == 201  # committed: the answer says so
        withheld = await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write"))
        assert withheld.status_code == 503 and "Jane Brown" not in withheld.text
        refused = await client.get(f"/v1/complaints/{cid}", headers=bearer("feedback:write"))
        assert refused.status_code == 403  # a refusal disclosed nothing: answered as it was
        monkeypatch.undo()
        again = await client.get(f"/v1/complaints/{cid}", headers=bearer("complaints:write"))
        assert again.status_code == 200 and again.json()["complaint_id"] == cid
    assert failures._value.get() == before + 3
