"""The access log's choices without a database: which routes are marked as personal data,
and whose tenant a record is filed under (strands: the tenant served; reporting: the token's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from shared.access_log import PRINCIPAL_SCOPE_KEY, AccessLog, is_personal_data
from shared.auth import Principal
from shared.settings import Settings


def _personal_routes(app: Any) -> set[tuple[str, str]]:
    """What the access log sees at run time: the matched route (`scope["route"]`)."""
    return {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and is_personal_data(context.original_route)
        for method in context.original_route.methods
    }


def test_the_personal_data_reads_are_marked_and_nothing_else():
    from services.audit.app import build as audit
    from services.complaints.app import build as complaints
    from services.feedback.app import build as feedback

    trail = ("GET", "/v1/ops/access-log")
    assert _personal_routes(audit(Settings())[1]) == {("GET", "/v1/audits/{audit_id}"), trail}
    assert _personal_routes(complaints(Settings())[1]) == {("GET", "/v1/complaints/{complaint_id}"), trail}
    assert _personal_routes(feedback(Settings())[1]) == {("GET", "/v1/responses/{response_id}"), trail}


@dataclass
class FakeService:
    name: str
    multi_tenant: bool
    settings: Settings = field(default_factory=lambda: Settings(tenant="E10000034"))
    pool: None = None
    schema: str = "x"


class FakeRoute:
    path_format = "/v1/things/{thing_id}"
    openapi_extra = None


def _scope(principal: Principal | None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "route": FakeRoute(), "path_params": {"thing_id": "t1"}}
    if principal:
        scope[PRINCIPAL_SCOPE_KEY] = principal
    return scope


def test_a_record_is_filed_under_the_tenant_served_or_for_reporting_the_tokens():
    other = Principal(subject="s", roles=frozenset({"ops:admin"}), tenant="E99999999")
    created = [
        {"type": "http.response.start", "status": 201},
        {"type": "http.response.body", "body": b'{"thing_id": "t1", "other_id": "o9"}'},
    ]
    strand = AccessLog(lambda *_: None, service=FakeService("audit", multi_tenant=False))  # type: ignore[arg-type]
    record = strand.record_of(_scope(other), 403, [], 0.0)
    assert (record.tenant, record.token_tenant, record.subject, record.ids) == (
        "E10000034",
        "E99999999",
        "s",
        {"thing_id": "t1"},
    )
    reporting = AccessLog(lambda *_: None, service=FakeService("reporting", multi_tenant=True))  # type: ignore[arg-type]
    assert reporting.record_of(_scope(other), 200, [], 0.0).tenant == "E99999999"
    anonymous = reporting.record_of(_scope(None), 401, [], 0.0)
    assert (anonymous.tenant, anonymous.token_tenant, anonymous.subject) == ("E10000034", None, None)
    # a 201's created id: the answer's first `*_id` field not already a path parameter
    assert strand.record_of(_scope(None), 201, created, 0.0).ids == {"thing_id": "t1"}
    no_path = {**_scope(None), "path_params": {}}
    assert strand.record_of(no_path, 201, created, 0.0).ids == {"thing_id": "t1"}
