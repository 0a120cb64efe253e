"""Every protected route of every installed service (audit, feedback, complaints, reporting,
notifier, …) against every kind of bad token: none, signed with the wrong key, expired, `alg: none`, a valid one
without the route's role, and one for another tenant. Each is refused (401 for the first
four, 403 for the last two) and the route's function never runs.

The routes are walked from each application (those whose dependencies include
`shared.auth.authenticate`), not listed by hand; the needed roles are read from the route's
role check (`require` / `require_served`), so "wrong role" is a token holding every role
that does not grant one of them. No broker or database: nothing is started.

Reporting and the notifier serve many tenants (`multi_tenant`): they answer for the token's tenant (`Principal.tenant`)
rather than refusing other tenants. Its "other tenant" column therefore checks that a valid
token for another tenant reaches the route only as that tenant — the function runs with
`principal.tenant` being the token's tenant, never the configured default, so it can query
no other tenant's rows (the queries filter by that tenant: tests/integration covers the
figures per tenant) — or that the route is a platform route with no principal at all
(operations and metrics, which hold no tenant's data).
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import RouteContext, iter_route_contexts

from services.installed import installed_services
from shared.auth import ROLES, Principal, authenticate, effective_roles, issue_token
from shared.settings import get_settings

OTHER = "E99999999"
# Routes of the platform, not of a tenant (no tenant's data): Prometheus metrics.
PLATFORM_ROUTES = {"/metrics"}
COLUMNS = ("no token", "wrong key", "expired", "alg none", "wrong role", "other tenant")


def _apps() -> Iterator[tuple[str, FastAPI]]:
    """Every installed service's application (services/installed.py), so that a new service
    is in the matrix without being listed here."""
    for name in installed_services():
        yield name, importlib.import_module(f"services.{name}.app").build()[1]


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _routes(app: FastAPI) -> list[RouteContext]:
    return [r for r in iter_route_contexts(app.routes) if isinstance(getattr(r, "dependant", None), Dependant)]


def _needed_roles(route: RouteContext) -> tuple[str, ...] | None:
    """The roles of the route's role check (`require(...)` / `require_served(...)`), any of which admits."""
    for call in _calls(route.dependant):
        if getattr(call, "__qualname__", "") in ("require.<locals>.dependency", "require_served.<locals>.dependency"):
            return tuple(inspect.getclosurevars(call).nonlocals["any_of"])
    return None


APPS = dict(_apps())
PROTECTED = [
    (name, route, method)
    for name, app in APPS.items()
    for route in _routes(app)
    if authenticate in list(_calls(route.dependant))
    for method in sorted(route.methods or ())
]
CASES = [
    pytest.param(name, route, method, column, id=f"{name} {method} {route.path} [{column}]")
    for name, route, method in PROTECTED
    for column in COLUMNS
]


def _claims(roles: tuple[str, ...] | list[str], tenant: str | None = None) -> dict[str, Any]:
    """The claims of a valid development token (issuer, audience and tenant claim as configured)."""
    token = issue_token(get_settings(), roles, subject="matrix", tenant=tenant)
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _sign(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, get_settings().jwt_secret.get_secret_value(), algorithm="HS256")


def _token(column: str, route: RouteContext) -> tuple[str | None, int]:
    """The bearer token of a column and the status it must get."""
    if column == "no token":
        return None, 401
    if column == "wrong key":
        return jwt.encode(_claims(ROLES), "another key, not this service's " + "x" * 32, algorithm="HS256"), 401
    if column == "expired":
        now = int(time.time())
        return _sign({**_claims(ROLES), "iat": now - 7200, "exp": now - 3600}), 401
    if column == "alg none":
        return jwt.encode(_claims(ROLES), None, algorithm="none"), 401
    if column == "wrong role":
        needed = _needed_roles(route)
        assert needed, f"{route.path} authenticates but checks no role"
        wrong = [r for r in ROLES if not effective_roles([r]) & set(needed)]
        return issue_token(get_settings(), wrong, subject="matrix"), 403
    assert column == "other tenant"
    return issue_token(get_settings(), ROLES, subject="matrix", tenant=OTHER), 403


def _url(route: RouteContext) -> str:
    return route.path_format.format(**{name: "x1" for name in route.param_convertors})


def test_the_walk_finds_every_services_protected_routes():
    for name, app in APPS.items():
        walked = {(route.path, method) for n, route, method in PROTECTED if n == name}
        # the walker finds routes at all (the notifier has the fewest: recipients, notices, ops)
        assert len([p for p, _ in walked if p.startswith("/v1/")]) >= 3, name
        documented = {
            (path, method.upper())
            for path, item in app.openapi()["paths"].items()
            for method, operation in item.items()
            if operation.get("security") or path.startswith("/v1/")
        }
        assert documented <= walked, f"{name}: documented /v1 operations without authentication: {documented - walked}"


@pytest.mark.parametrize(("name", "route", "method", "column"), CASES)
async def test_a_bad_token_is_refused_and_the_route_never_runs(
    name: str, route: RouteContext, method: str, column: str, monkeypatch: pytest.MonkeyPatch
):
    ran: list[dict[str, Any]] = []
    original = route.dependant.call
    assert original is not None

    if inspect.iscoroutinefunction(original):

        async def spy(**kwargs: Any) -> Response:
            ran.append(kwargs)
            return Response(status_code=299)
    else:

        def spy(**kwargs: Any) -> Response:  # type: ignore[misc]
            ran.append(kwargs)
            return Response(status_code=299)

    monkeypatch.setattr(route.dependant, "call", spy)
    authenticated: list[Principal] = []

    def recording_authenticate(request: Request) -> Principal:
        authenticated.append(authenticate(request))
        return authenticated[-1]

    monkeypatch.setitem(APPS[name].dependency_overrides, authenticate, recording_authenticate)
    token, expected = _token(column, route)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    multi_tenant = APPS[name].state.service.multi_tenant  # reporting, notifier: every tenant on the bus
    transport = httpx.ASGITransport(app=APPS[name])
    async with httpx.AsyncClient(transport=transport, base_url="http://matrix") as client:
        response = await client.request(method, _url(route), headers=headers)

    if column == "other tenant" and route.path in PLATFORM_ROUTES:
        # Platform routes hold no tenant's data: any tenant's ops:admin passes.
        assert response.status_code not in (401, 403), response.text
        return
    if column == "other tenant" and multi_tenant and response.status_code not in (401, 403):
        # Reporting and the notifier answer for the token's tenant: the request is the other tenant's from
        # authentication on, and where the route ran (it may also be a 422 for the parameters
        # the bare request lacks) it ran as the other tenant, or is a platform route that takes
        # no principal (operations: queues, dead letters, lag).
        assert [p.tenant for p in authenticated] == [OTHER]
        for kwargs in ran:
            principals = [v for v in kwargs.values() if isinstance(v, Principal)]
            assert {p.tenant for p in principals} == {OTHER} or route.path.startswith("/v1/ops/"), route.path
        return
    assert response.status_code == expected, f"{column}: {response.status_code} {response.text}"
    if expected == 401:
        assert response.headers.get("www-authenticate", "").startswith("Bearer")
    assert ran == [], f"{column}: the route ran"
