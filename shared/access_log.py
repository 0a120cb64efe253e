"""The access log: who read or changed what, kept in an append-only table in every service.

Every write (POST, PUT, PATCH, DELETE) and every read of a route marked as personal data
(`openapi_extra=PERSONAL_DATA`: complaint, audit and feedback-response detail, and the
access log itself) is recorded in `<schema>.access_log`: when, which service, the token's
subject, the tenant, method, route template, path parameters (the ids touched, plus the id a
201 created), status code, trace id and duration. Refusals (401, 403, 404, 422 …) are
recorded as well; requests that match no route are not (metrics count them as `unmatched`).

How it is recorded (`AccessLog`, an ASGI middleware that `StrandService.create_app` adds):
the application produces its response; the middleware holds that response, writes one
INSERT through the service's pool (its own short connection use, at most
`INSERT_TIMEOUT` seconds) and then sends the response. A client that has its answer can
therefore find the request in the trail.

When the INSERT fails (database away, pool exhausted, timeout) the error is logged at
ERROR level with the whole record (so the log pipeline still holds it) and
`qaloop_access_log_failures_total` counts it (alert on it). Then:
- a successful read of personal data *fails closed*: the caller gets 503 and not the
  data — nothing personal is disclosed without a record;
- a write's answer is sent as produced. By then the handler has committed the change, so a
  503 would misreport a change that happened and invite a retry that makes it twice; the
  change is still attributable (the domain rows and events carry who did it, and the error
  log carries the record). Failing writes closed would need the record written in the
  write's own transaction (a change to every handler), or a second INSERT before the
  handler runs; neither is done.
- a refusal (status 400 and above) is answered as produced: it disclosed nothing.

Append-only in the database: statement-level triggers raise on UPDATE, DELETE and
TRUNCATE, so not even the application's own role can change history through SQL.
(The table owner or a superuser can still disable a trigger. With least privilege
(shared/roles.py) the migrator owns the table and the service's role is granted SELECT and
INSERT only: `grant_service_role` revokes UPDATE, DELETE and TRUNCATE on it from that role.
Retention, if ever wanted, is then a privileged job, e.g. dropping old partitions.)

Querying: `GET /v1/ops/access-log` (role `ops:admin`, rows of the token's tenant only) on
every service, and `qaloop ops access-log` (services/cli.py), which reads the tables
directly and records that read too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.auth import Principal, authenticate, require, require_served
from shared.bounds import NO_NUL
from shared.db import Migration, check_identifier

if TYPE_CHECKING:
    from shared.service import StrandService

log = logging.getLogger(__name__)

# The route-level marker: `@router.get(…, openapi_extra=PERSONAL_DATA)`. It also shows in
# the OpenAPI document, so a reader of the API sees which reads are recorded.
PERSONAL_DATA_KEY = "x-qaloop-personal-data"
PERSONAL_DATA: dict[str, Any] = {PERSONAL_DATA_KEY: True}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})
# The shared migrations take versions the services' own files (001 …) never reach:
# the outbox is 0, the access log 999.
MIGRATION_VERSION = 999
INSERT_TIMEOUT = 2.0  # seconds for acquiring a connection and the INSERT together
# Where the principal the route authenticated is kept for the middleware.
PRINCIPAL_SCOPE_KEY = "qaloop.principal"
# Longest text kept from a request (path parameters are the caller's input).
MAX_TEXT = 200
# Largest created-resource response the middleware looks into for the new id.
MAX_CREATED_BODY = 256 * 1024

ACCESS_LOG_FAILURES = Counter(
    "qaloop_access_log_failures",
    "Requests whose access-log record could not be written (logged at ERROR with the record).",
    ["service"],
)


def access_log_migration(schema: str, version: int = MIGRATION_VERSION) -> Migration:
    s = check_identifier(schema)
    return Migration(
        version,
        "access_log",
        f"""
CREATE TABLE {s}.access_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    service       text NOT NULL,
    tenant        text NOT NULL,  -- whose data: the tenant served (strands) or the token's (reporting)
    token_tenant  text,           -- the token's tenant claim, as verified (null: no valid token)
    subject       text,           -- the token's `sub` (null: no valid token, 401)
    method        text NOT NULL,
    route         text NOT NULL,  -- the route template, /v1/complaints/{{complaint_id}}
    ids           jsonb NOT NULL DEFAULT '{{}}',  -- path parameters, and the id a 201 created
    status        smallint NOT NULL,
    personal_data boolean NOT NULL,
    trace_id      text,
    duration_ms   real
);
CREATE INDEX access_log_tenant_at ON {s}.access_log (tenant, at);
CREATE INDEX access_log_tenant_subject_at ON {s}.access_log (tenant, subject, at);
-- Append-only: no UPDATE, DELETE or TRUNCATE, whoever asks (the application's role too).
-- When services get roles of their own: REVOKE UPDATE, DELETE, TRUNCATE from the app role.
CREATE FUNCTION {s}.access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.access_log is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {s}.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.access_log_append_only();
""",
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class AccessRecord:
    service: str
    tenant: str
    token_tenant: str | None
    subject: str | None
    method: str
    route: str
    ids: dict[str, str]
    status: int
    personal_data: bool
    trace_id: str | None
    duration_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "tenant": self.tenant,
            "token_tenant": self.token_tenant,
            "subject": self.subject,
            "method": self.method,
            "route": self.route,
            "ids": self.ids,
            "status": self.status,
            "personal_data": self.personal_data,
            "trace_id": self.trace_id,
            "duration_ms": self.duration_ms,
        }


async def append(conn: asyncpg.Connection, schema: str, record: AccessRecord) -> None:
    s = check_identifier(schema)
    await conn.execute(
        f"""INSERT INTO {s}.access_log (service, tenant, token_tenant, subject, method, route, ids,
                                        status, personal_data, trace_id, duration_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9, $10, $11)""",
        record.service,
        record.tenant,
        record.token_tenant,
        record.subject,
        record.method,
        record.route,
        json.dumps(record.ids),
        record.status,
        record.personal_data,
        record.trace_id,
        record.duration_ms,
    )


@dataclass(frozen=True)
class AccessQuery:
    tenant: str
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    route: str | None = None
    limit: int = 100


async def query(conn: asyncpg.Connection, schema: str, q: AccessQuery) -> list[dict[str, Any]]:
    """The tenant's entries, newest first. `since` inclusive, `until` exclusive; `route` is
    the route template exactly (`/v1/complaints/{complaint_id}`)."""
    s = check_identifier(schema)
    rows = await conn.fetch(
        f"""SELECT id, at, service, tenant, token_tenant, subject, method, route, ids::text AS ids,
                   status, personal_data, trace_id, duration_ms
            FROM {s}.access_log
            WHERE tenant = $1
              AND ($2::timestamptz IS NULL OR at >= $2)
              AND ($3::timestamptz IS NULL OR at < $3)
              AND ($4::text IS NULL OR subject = $4)
              AND ($5::text IS NULL OR route = $5)
            ORDER BY at DESC, id DESC
            LIMIT $6""",
        q.tenant,
        q.since,
        q.until,
        q.subject,
        q.route,
        q.limit,
    )
    return [{**dict(r), "at": r["at"].isoformat(), "ids": json.loads(r["ids"])} for r in rows]


async def has_access_log(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{check_identifier(schema)}.access_log"))


# --------------------------------------------------------------------------- recording


def _recording_authenticate(request: Request) -> Principal:
    """`shared.auth.authenticate`, and the principal kept in the request's scope for the
    access log (installed as a dependency override: every `require…` depends on it)."""
    principal = authenticate(request)
    request.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


def is_personal_data(route: Any) -> bool:
    extra = getattr(route, "openapi_extra", None) or {}
    return bool(extra.get(PERSONAL_DATA_KEY))


def _records(scope: Scope) -> bool:
    route = scope.get("route")
    if getattr(route, "path_format", None) is None:
        return False  # matched no route
    method = scope.get("method", "GET")
    return method in WRITE_METHODS or (method in READ_METHODS and is_personal_data(route))


def _clip(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _created_id(messages: Sequence[Message]) -> tuple[str, str] | None:
    """The id a 201 answer created: its JSON object's first top-level `*_id` string field
    (every create answer of the strands leads with its own id: `audit_id`, `complaint_id` …)."""
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    if not body.startswith(b"{") or len(body) > MAX_CREATED_BODY:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    for key, value in data.items():
        if key.endswith("_id") and isinstance(value, str):
            return key, _clip(value)
    return None


class AccessLog:
    """ASGI middleware: records what `_records` selects into the service's access log (see
    the module's docstring for when a failed record fails the request)."""

    def __init__(self, app: ASGIApp, *, service: StrandService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        held: list[Message] = []
        status_code: int | None = None
        recording: bool | None = None  # decided when the response starts (routing is done)

        async def hold(message: Message) -> None:
            nonlocal status_code, recording
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                recording = _records(scope)
            if recording:
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            if recording is None and _records(scope):  # unhandled: the server answers 500
                await self._record(scope, 500, held, started)
            raise
        if recording is None:
            recording = _records(scope)
        if not recording:
            return
        status_code = status_code or 500
        written = await self._record(scope, status_code, held, started)
        if not written and status_code < 400 and scope.get("method") in READ_METHODS:
            held = [
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")],
                },
                {
                    "type": "http.response.body",
                    "body": json.dumps(
                        {"detail": "this read cannot be recorded in the access log now; try again later"}
                    ).encode(),
                },
            ]
        for message in held:
            await send(message)

    def record_of(self, scope: Scope, status_code: int, held: Sequence[Message], started: float) -> AccessRecord:
        route = scope.get("route")
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if not isinstance(principal, Principal):
            principal = None
        served = self.service.settings.tenant
        if self.service.multi_tenant and principal is not None:
            tenant = principal.tenant
        else:
            tenant = served
        ids = {_clip(k): _clip(v) for k, v in (scope.get("path_params") or {}).items()}
        if status_code == 201 and (created := _created_id(held)) is not None:
            ids.setdefault(*created)
        return AccessRecord(
            service=self.service.name,
            tenant=tenant,
            token_tenant=principal.tenant if principal else None,
            subject=principal.subject if principal else None,
            method=scope.get("method", "GET"),
            route=getattr(route, "path_format", "unmatched"),
            ids=ids,
            status=status_code,
            personal_data=is_personal_data(route),
            trace_id=tracing.current_trace_id(),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def _record(self, scope: Scope, status_code: int, held: Sequence[Message], started: float) -> bool:
        record = self.record_of(scope, status_code, held, started)
        try:
            pool = self.service.pool
            if pool is None:
                raise RuntimeError("the service has not started (no pool)")
            async with asyncio.timeout(INSERT_TIMEOUT):
                async with pool.acquire() as conn:
                    await append(conn, self.service.schema, record)
            return True
        except Exception as exc:
            ACCESS_LOG_FAILURES.labels(self.service.name).inc()
            log.error(
                "access log: could not record %s %s (%s): %s: %s",
                record.method,
                record.route,
                record.status,
                type(exc).__name__,
                exc,
                extra={"fields": {"access_record": record.to_dict()}},
            )
            return False


# --------------------------------------------------------------------------- HTTP


def access_log_router(service: StrandService) -> APIRouter:
    """`GET /v1/ops/access-log`: role ops:admin; the token's tenant's rows only. A strand
    service answers only its own tenant's tokens (`require_served`, like its other routes)."""
    admin = require("ops:admin") if service.multi_tenant else require_served("ops:admin")
    router = APIRouter(prefix="/v1/ops", tags=["operations"])

    @router.get("/access-log", openapi_extra=PERSONAL_DATA)
    async def access_log(
        since: Annotated[datetime | None, Query(description="from this time (inclusive), ISO 8601")] = None,
        until: Annotated[datetime | None, Query(description="before this time (exclusive), ISO 8601")] = None,
        subject: Annotated[
            str | None, Query(max_length=MAX_TEXT, pattern=NO_NUL, description="a token subject")
        ] = None,
        route: Annotated[
            str | None,
            Query(
                max_length=MAX_TEXT, pattern=NO_NUL, description="a route template, e.g. /v1/complaints/{complaint_id}"
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        # not Annotated[…]: `admin` is local, and this module's annotations are strings
        principal: Principal = Depends(admin),
    ) -> dict[str, Any]:
        """Who read personal data and who wrote what in this service, newest first."""
        if service.pool is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the service has not started")
        q = AccessQuery(tenant=principal.tenant, since=since, until=until, subject=subject, route=route, limit=limit)
        async with service.pool.acquire() as conn:
            entries = await query(conn, service.schema, q)
        return {"service": service.name, "tenant": principal.tenant, "entries": entries}

    return router


def add_access_log(app: FastAPI, service: StrandService) -> None:
    """Record writes and personal-data reads (`AccessLog`) and serve the query route. Add it
    after the request limits, so that their 413 is what gets recorded."""
    app.dependency_overrides[authenticate] = _recording_authenticate
    app.add_middleware(AccessLog, service=service)
    app.include_router(access_log_router(service))
