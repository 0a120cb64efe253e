"""Every route of every strand service (audit, feedback, complaints) checks the token's tenant
through the one shared dependency (`shared.auth.require_served`): a valid token holding every
role, but for another tenant, gets 403 and the route's function never runs. The routes are
walked from each application, not listed by hand. No broker or database: nothing is started."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import RouteContext, iter_route_contexts

from shared.auth import ROLES, authenticate, issue_token
from shared.settings import Settings

SERVED = "E10000034"
OTHER = "E99999999"
# Authenticated routes that are the platform's, not a tenant's: Prometheus metrics (ops:admin;
# counters with no tenant's data), added to every service by shared/service.py.
PLATFORM_ROUTES = {"/metrics"}


def _apps() -> Iterator[tuple[str, FastAPI]]:
    from services.audit.app import build as audit
    from services.complaints.app import build as complaints
    from services.feedback.app import build as feedback

    settings = Settings(tenant=SERVED)
    for name, build in (("audit", audit), ("feedback", feedback), ("complaints", complaints)):
        _, app = build(settings)
        yield name, app


def _routes(app: FastAPI) -> list[RouteContext]:
    """Every path operation of the application, with the routes of included routers."""
    return [r for r in iter_route_contexts(app.routes) if isinstance(getattr(r, "dependant", None), Dependant)]


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _is_tenants_route(route: RouteContext) -> bool:
    """Authenticated and not a platform route (health checks and metrics are not a tenant's)."""
    return route.path not in PLATFORM_ROUTES and authenticate in list(_calls(route.dependant))


APPS = dict(_apps())
ROUTES = [
    pytest.param(name, route, method, id=f"{name} {method} {route.path}")
    for name, app in APPS.items()
    for route in _routes(app)
    if _is_tenants_route(route)
    for method in sorted(route.methods or ())
]


def _is_tenant_check(call: Callable[..., Any]) -> bool:
    return getattr(call, "__qualname__", "") == "require_served.<locals>.dependency"


def _headers(tenant: str | None) -> dict[str, str]:
    token = issue_token(Settings(tenant=SERVED), ROLES, subject="someone", tenant=tenant)
    return {"Authorization": f"Bearer {token}"}


def _url(route: RouteContext) -> str:
    return route.path_format.format(**{name: "x1" for name in route.param_convertors})


def test_every_strand_app_has_routes_and_every_authenticated_one_checks_the_tenant():
    for name, app in APPS.items():
        routes = _routes(app)
        assert len([r for r in routes if r.path.startswith("/v1/")]) >= 10, name
        walked = {(r.path, m.lower()) for r in routes for m in r.methods or ()}
        documented = {(path, m) for path, item in app.openapi()["paths"].items() for m in item}
        assert documented <= walked, f"{name}: OpenAPI operations the walk missed: {documented - walked}"
        for route in routes:
            calls = list(_calls(route.dependant))
            if authenticate not in calls or route.path in PLATFORM_ROUTES:
                assert not route.path.startswith("/v1/"), f"{name} {route.path} does not authenticate"
                continue
            assert any(_is_tenant_check(c) for c in calls), f"{name} {route.path} does not check the tenant"


@pytest.mark.parametrize(("name", "route", "method"), ROUTES)
async def test_a_token_for_another_tenant_gets_403_and_the_route_never_runs(
    name: str, route: RouteContext, method: str, monkeypatch: pytest.MonkeyPatch
):
    ran: list[str] = []
    original = route.dependant.call
    assert original is not None

    if inspect.iscoroutinefunction(original):

        async def spy(**_: Any) -> Response:
            ran.append(route.path)
            return Response(status_code=299)
    else:

        def spy(**_: Any) -> Response:  # type: ignore[misc]
            ran.append(route.path)
            return Response(status_code=299)

    monkeypatch.setattr(route.dependant, "call", spy)
    transport = httpx.ASGITransport(app=APPS[name])
    async with httpx.AsyncClient(transport=transport, base_url="http://strand") as client:
        refused = await client.request(method, _url(route), headers=_headers(OTHER))
        assert refused.status_code == 403, refused.text
        assert f"serves tenant {SERVED}" in refused.json()["detail"]
        assert ran == []
        # The same token for the served tenant (named, or left to the default) passes the check.
        for tenant in (SERVED, None):
            allowed = await client.request(method, _url(route), headers=_headers(tenant))
            assert allowed.status_code not in (401, 403), allowed.text
