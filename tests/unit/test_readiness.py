"""A public `/readyz` says only ready or not ready (security issue, item 11): no host, port,
error text or migration name. The reasons go to the log (once per change) and to
`/v1/ops/readiness`, which needs an ops:admin token for the served tenant. No broker or
database: the checks are stubbed."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import issue_token
from shared.service import add_health_routes
from shared.settings import Settings

SECRET_LOOKING = "unreachable: OSError: connect to db-primary.internal:5432 refused"


def _app(state: dict[str, str]) -> FastAPI:
    async def readiness() -> dict[str, str]:
        return dict(state)

    app = FastAPI()
    app.state.service = SimpleNamespace(settings=Settings())
    add_health_routes(app, readiness)
    return app


def _token(roles: list[str], tenant: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(Settings(), roles, tenant=tenant)}


async def test_readyz_says_only_ready_or_not_ready_and_logs_the_reason_once(caplog: pytest.LogCaptureFixture):
    state = {"database": "ok", "migrations": "ok", "broker": "ok"}
    app = _app(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        with caplog.at_level(logging.INFO, logger="shared.service"):
            r = await client.get("/readyz")
            assert r.status_code == 200 and r.json() == {"status": "ready"}

            state.update(database=SECRET_LOOKING, migrations="pending: 0004_more.sql")
            for _ in range(3):
                r = await client.get("/readyz")
                assert r.status_code == 503
                assert r.json() == {"status": "not ready"}
                assert "5432" not in r.text and "0004" not in r.text
            reasons = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("not ready")]
            assert reasons == [f"not ready: database: {SECRET_LOOKING}; migrations: pending: 0004_more.sql"]

            state.update(database="ok", migrations="ok")
            assert (await client.get("/readyz")).status_code == 200
            assert "ready again" in caplog.text
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_the_reasons_need_an_ops_admin_token_for_the_served_tenant():
    state = {"database": SECRET_LOOKING, "broker": "ok"}
    app = _app(state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/v1/ops/readiness")).status_code == 401
        assert (await client.get("/v1/ops/readiness", headers=_token(["reporting:detail"]))).status_code == 403
        other = _token(["ops:admin"], tenant="E99999999")
        assert (await client.get("/v1/ops/readiness", headers=other)).status_code == 403
        r = await client.get("/v1/ops/readiness", headers=_token(["ops:admin"]))
        assert r.status_code == 200
        assert r.json() == {"status": "not ready", "checks": state}
