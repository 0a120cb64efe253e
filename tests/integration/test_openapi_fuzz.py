"""Schemathesis over every service's OpenAPI: requests generated from each operation's
schema (valid and invalid: NUL characters, huge integers, far dates, long text…) with a
token holding every role for the served tenant, sent in-process to the real application
on this run's PostgreSQL. No request may get a server error (5xx): what the schema allows
the service handles, and what the service cannot handle the schema refuses (422).

Examples per operation are few (QALOOP_FUZZ_EXAMPLES, default 40) so that the four
services take about a minute; raise it locally to search harder. Each service runs with its
lifespan in one event loop of its own (an anyio portal thread), started and stopped by the
fixture; the strand services run without their outbox relay (nothing needs publishing)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.modes import GenerationMode

from services.installed import installed_services
from shared.auth import ROLES, issue_token
from shared.settings import get_settings

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("QALOOP_FUZZ_EXAMPLES", "40"))
SERVICES = tuple(installed_services())  # every installed service, a new one included
# Operations not fuzzed, and why: purging or replaying the dead-letter queue acts on the run's
# shared RabbitMQ vhost (its behaviour has its own tests in test_ops.py).
SKIPPED = {("reporting", "POST", "/v1/ops/dlq/purge"), ("reporting", "POST", "/v1/ops/dlq/replay")}


@dataclass
class Running:
    portal: BlockingPortal
    client: httpx.AsyncClient
    schema: Any
    headers: dict[str, str]

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        return self.portal.call(lambda: self.client.request(**kwargs))


def _build(name: str) -> tuple[Any, Any]:
    if name == "reporting":
        from services.reporting.app import build as reporting

        return reporting(clock=lambda: date(2023, 6, 30), consume=False, followup_interval=3600.0)
    module = __import__(f"services.{name}.app", fromlist=["build"])
    return module.build()


@pytest.fixture(scope="module", params=SERVICES)
def running(request: pytest.FixtureRequest, servers: Any) -> Iterator[Running]:
    get_settings.cache_clear()
    service, app = _build(request.param)
    with start_blocking_portal() as portal:
        portal.call(lambda: service.start(relay=False))
        client = portal.call(_client, app)
        try:
            token = issue_token(get_settings(), ROLES, subject="fuzzer")
            schema = schemathesis.openapi.from_dict(app.openapi())
            yield Running(portal, client, schema, {"Authorization": f"Bearer {token}"})
        finally:
            portal.call(client.aclose)
            portal.call(service.stop)
            portal.call(_forget_fuzzed_settings, servers.database_url)


async def _forget_fuzzed_settings(database_url: str) -> None:
    """The fuzzer's changes to the run's per-authority configuration (PATCH /v1/config with
    generated values) must not reach the tests that run after it in the same database."""
    conn = await asyncpg.connect(database_url)
    try:
        for table in ("settings", "history"):
            await conn.execute(f"DELETE FROM tenant_config.{table} WHERE changed_by = 'fuzzer'")
    finally:
        await conn.close()


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://fuzz", timeout=60
    )


def _request(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The generated case as httpx.request keyword arguments."""
    kwargs = case.as_transport_kwargs(base_url="http://fuzz", headers=headers)
    allowed = {"method", "url", "headers", "params", "json", "content", "data", "files"}
    if "data" in kwargs and not isinstance(kwargs["data"], dict):
        kwargs["content"] = kwargs.pop("data")
    return {k: v for k, v in kwargs.items() if k in allowed and v is not None}


def _fuzz(running: Running, operation: Any, record: Callable[[str], None]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE))
    def check(case: Any) -> None:
        response = running.send(_request(case, running.headers))
        if response.status_code >= 500:
            record(f"{case.method} {case.formatted_path} -> {response.status_code}: {case.as_curl_command()}")

    check()


def _operations(running: Running) -> Iterator[Any]:
    for result in running.schema.get_all_operations():
        yield result.ok()


def test_no_generated_request_gets_a_server_error(running: Running, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["running"]
    errors: list[str] = []
    fuzzed = 0
    for operation in _operations(running):
        if (name, operation.method.upper(), operation.path) in SKIPPED:
            continue
        seen: set[str] = set()
        _fuzz(running, operation, lambda line, seen=seen: seen.add(line))
        errors.extend(sorted(seen)[:3])
        fuzzed += 1
    assert fuzzed >= 5, f"{name}: only {fuzzed} operations in the OpenAPI"
    assert not errors, f"{name}: {len(errors)} server error(s):\n" + "\n".join(errors)


# Out-of-bounds inputs, each a 422. Those marked 5xx gave a server error before shared.bounds
# (schemathesis found the kinds: offsets beyond int64, versions beyond int32, NUL in text, times
# outside the working-day calendar's years); the others check the same bounds elsewhere.
BIG = 2**63


def _complaint(received_at: str) -> tuple[str, str, dict[str, Any]]:
    body = {
        "procedure": "statutory_children",
        "category": "communication",
        "team": "t1",
        "service_area": "childrens_social_care",
        "complainant": "parent_carer",
        "received_at": received_at,
    }
    return "POST", "/v1/complaints", {"json": body}


KNOWN = {
    "audit": [
        ("GET", "/v1/audits", {"params": {"offset": BIG}}),  # 5xx
        ("GET", "/v1/actions", {"params": {"offset": BIG * 10**9}}),  # 5xx
        ("GET", "/v1/audits", {"params": {"due_from": "0001-01-01"}}),
        ("GET", "/v1/audits/a%00b", {}),  # 5xx
        (
            "POST",
            "/v1/audits",
            {
                "json": {
                    "case_reference": "LL-1\x00",
                    "service_area": "send",
                    "team": "t1",
                    "audit_type": "routine",
                    "auditor_id": "a1",
                    "due_date": "2030-01-31",
                }
            },
        ),
        ("POST", "/v1/concerns/c1/actions", {"json": {"owner_id": "o", "due_date": "9999-12-31", "summary": "s"}}),
    ],
    "feedback": [
        ("GET", "/v1/surveys/send-family-experience", {"params": {"version": 2**31}}),  # 5xx
        ("GET", "/v1/actions", {"params": {"offset": BIG}}),  # 5xx
        ("GET", "/v1/surveys/a%00b", {}),  # 5xx
        ("POST", "/v1/responses", {"json": {"survey_id": "s\x00", "answers": {}}}),  # 5xx
        ("POST", "/v1/responses", {"json": {"survey_id": "s", "team": "t\x00", "answers": {}}}),
        ("POST", "/v1/responses", {"json": {"survey_id": "s", "answers": {"q": "a\x00"}}}),
        (
            "POST",
            "/v1/responses",
            {"json": {"survey_id": "s", "received_at": "0001-01-01T00:00:00+05:00", "answers": {}}},
        ),
    ],
    "complaints": [
        ("GET", "/v1/complaints", {"params": {"offset": BIG}}),  # 5xx
        ("GET", "/v1/complaints", {"params": {"as_of": "0001-01-01"}}),
        ("GET", "/v1/complaints/c1", {"params": {"as_of": "9999-12-31"}}),
        ("GET", "/v1/complaints", {"params": {"team": "t\x00"}}),  # 5xx
        ("GET", "/v1/actions", {"params": {"offset": BIG}}),
        ("POST", "/v1/complaints/c1/actions", {"json": {"owner_id": "o", "due_date": "9999-12-31", "summary": "s"}}),
        *(_complaint(at) for at in ("9999-12-31T23:00:00-05:00", "0001-01-01", "2101-06-01", "1850-06-01")),  # 5xx
        (
            "POST",
            "/v1/complaints",
            {
                "json": {
                    "procedure": "statutory_children",
                    "category": "communication",
                    "team": "t1",
                    "service_area": "childrens_social_care",
                    "complainant": "parent_carer",
                    "received_at": "9999-12-31T23:00:00-05:00",
                }
            },
        ),
    ],
    "workforce": [
        ("GET", "/v1/actions", {"params": {"offset": BIG}}),
        ("GET", "/v1/staff-surveys/health-check", {"params": {"version": 2**31}}),
        ("GET", "/v1/staff/SW%00", {}),
        ("GET", "/v1/staff", {"params": {"team": "t\x00"}}),
        (
            "POST",
            "/v1/vacancies",
            {"json": {"team": "t", "service_area": "send", "vacant_fte": 1e308, "as_of": "2022-09-30"}},
        ),
        ("POST", "/v1/caseloads", {"json": {"worker_ref": "SW1", "cases": 2**40, "as_of": "0001-01-01"}}),
        (
            "POST",
            "/v1/staff",
            {
                "json": {
                    "worker_ref": "Jane Smith",
                    "team": "t",
                    "service_area": "send",
                    "role": "social_worker",
                    "contract": "employed",
                    "fte": 1,
                    "case_holding": True,
                }
            },
        ),
        (
            "POST",
            "/v1/staff-survey-responses",
            {"json": {"survey_id": "s", "service_area": "send", "answers": {"q": "a\x00"}}},
        ),
    ],
    "reporting": [
        ("GET", "/v1/followups", {"params": {"rule": "r\x00"}}),  # 5xx
        ("GET", "/v1/followups", {"params": {"offset": BIG}}),
        ("GET", "/v1/benchmarks", {"params": {"period": "2022-23-Q1"}}),  # benchmarks are by year
        ("GET", "/v1/benchmarks", {"params": {"period": "2022\x00-23"}}),
        ("POST", "/v1/benchmarks/import", {"content": b"la_code,la_name\x00,measure\n"}),
        ("POST", "/v1/benchmarks/import", {"content": b"la_code,la_name,measure,year,value\nE1,x,m,9999-00,1e999\n"}),
        # per-authority configuration (shared/tenant_config): every setting bounded
        ("PATCH", "/v1/config", {"json": {"small_number_threshold": 2**40}}),
        ("PATCH", "/v1/config", {"json": {"calendar_closures": ["0001-01-01"]}}),
        ("PATCH", "/v1/config", {"json": {"targets": {"k\x00": {"target": 1}}}}),
        ("PATCH", "/v1/config", {"json": {"followup_rules": {"reaudit_months": 2**31}}}),
        ("PATCH", "/v1/config", {"json": {"complaint_timescales": {"panel_within": 0}}}),
        ("GET", "/v1/config/history", {"params": {"offset": BIG}}),
        ("GET", "/v1/config/history", {"params": {"limit": 0}}),
        ("DELETE", "/v1/config/nothing", {}),
    ],
    "notifier": [
        ("GET", "/v1/notices", {"params": {"limit": 0}}),
        ("GET", "/v1/notices", {"params": {"limit": BIG}}),
        ("GET", "/v1/notices", {"params": {"status": "sent\x00"}}),
        ("PUT", "/v1/recipients", {"content": b"kind,id,email\n\xff\xfe"}),  # not UTF-8
        ("PUT", "/v1/recipients", {"content": b"kind,id,email\nowner,o1,not-an-address\n"}),
    ],
}


def test_out_of_bounds_inputs_are_422(running: Running, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["running"]
    for method, path, extra in KNOWN[name]:
        response = running.send({"method": method, "url": path, "headers": running.headers, **extra})
        assert response.status_code == 422, f"{method} {path} {extra}: {response.status_code} {response.text[:300]}"
