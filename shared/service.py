"""What every strand service's process has in common: its schema and migrations, a pool,
the outbox relay, event writing, health checks and the FastAPI application shell.

A service's `app.py` builds a `StrandService` and calls `create_app(routers)`; its
handlers write domain rows and call `service.emit(conn, data, …)` in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import access_log, metrics, outbox, tracing
from shared.auth import require, require_served
from shared.db import Migration, create_pool, load_migrations, migrate, pending_migrations
from shared.errors import Conflict, Invalid, NotFound, RuleError
from shared.events import CloudEvent, EventData, new_event, routing_key_for
from shared.settings import Settings, check_secure_start, get_settings
from shared.tenant_config import store as tenant_config
from shared.tenant_config.cache import ConfigCache
from shared.tenant_config.defaults import defaults_for

log = logging.getLogger(__name__)


def url_user(url: str) -> str | None:
    """The user a URL logs in as (None: the client's default)."""
    import urllib.parse

    user = urllib.parse.urlsplit(url).username
    return urllib.parse.unquote(user) if user else None


@dataclass
class StrandService:
    """One strand service: `name` is also its schema and its routing-key strand."""

    name: str
    migrations_dir: Path
    settings: Settings = field(default_factory=get_settings)
    pool: asyncpg.Pool | None = None
    relay: outbox.OutboxRelay | None = None
    _relay_task: asyncio.Task[None] | None = None
    # PostgreSQL settings for this service's connections (see reporting's PLANNING).
    server_settings: dict[str, str] = field(default_factory=dict)
    # False: a strand, serving one tenant (settings.tenant); True: answers for the token's
    # tenant (reporting). Decides the access log's tenant and who may query it.
    multi_tenant: bool = False
    # The service that serves /v1/config (shared.tenant_config.api) may write the
    # configuration; every other service only reads it.
    writes_config: bool = False
    config: ConfigCache = field(init=False)
    _config_task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.config = ConfigCache(functools.partial(defaults_for, self.settings))

    @property
    def schema(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        return f"/qaloop/{self.name}"

    def migrations(self) -> list[Migration]:
        return [
            outbox.outbox_migration(self.schema, version=0),
            *load_migrations(self.migrations_dir, self.schema),
            access_log.access_log_migration(self.schema),
        ]

    @property
    def database_url(self) -> str:
        """This service's own connection (its role, where it has one)."""
        return self.settings.database_url_for(self.name)

    @property
    def amqp_url(self) -> str:
        """This service's own broker connection (its user, where it has one)."""
        return self.settings.amqp_url_for(self.name)

    @property
    def migrate_url(self) -> str:
        """Where migrations (and other DDL) run: the schemas' owner, or the service's URL."""
        return self.settings.migrate_url_for(self.name)

    async def migrate(self) -> list[str]:
        from shared.db import connect, ensure_database

        await ensure_database(self.migrate_url)
        conn = await connect(self.migrate_url)
        try:
            await migrate(conn, tenant_config.SCHEMA, tenant_config.migrations())
            applied = await migrate(conn, self.schema, self.migrations())
            await self._grant(conn)
            return applied
        finally:
            await conn.close()

    async def _grant(self, conn: asyncpg.Connection) -> None:
        """Where the service has a role of its own (not the migrations' role), grant it its
        schema's tables again (shared/roles.py); a no-op with one URL."""
        from shared.roles import grant_service_role

        role = url_user(self.database_url)
        if role and role != url_user(self.migrate_url):
            await grant_service_role(conn, self.schema, role)
            await tenant_config.grant_config_role(conn, role, writer=self.writes_config)

    async def regrant(self) -> None:
        """Grant the service's role its tables after DDL outside the migrations (a rebuild)."""
        from shared.db import connect

        conn = await connect(self.migrate_url)
        try:
            await self._grant(conn)
        finally:
            await conn.close()

    async def start(self, *, relay: bool = True) -> None:
        check_secure_start(self.settings)  # development secrets: development, loopback only
        await self.migrate()
        self.pool = await create_pool(self.database_url, server_settings=self.server_settings)
        await self.config.bind(self.pool)
        self._config_task = asyncio.create_task(
            self.config.run(self.settings.config_refresh_seconds), name=f"{self.name}-config-refresh"
        )
        if relay:
            self.relay = outbox.OutboxRelay(self.database_url, self.amqp_url, self.schema)
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay")

    async def stop(self) -> None:
        if self._config_task:
            self._config_task.cancel()
            with contextlib.suppress(BaseException):
                await self._config_task
            self._config_task = None
        if self.relay and self._relay_task:
            self.relay.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay_task, 10)
        if self.pool:
            await self.pool.close()

    async def emit(
        self,
        conn: asyncpg.Connection,
        data: EventData,
        *,
        aggregate: str,
        subject: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        """Write `data` as an event to the outbox in the caller's transaction.

        `time` is when the fact happened (CONTRACT.md: not when it was sent); pass it for a
        back-dated record, otherwise it is now."""
        sequence = await outbox.next_sequence(conn, self.schema, aggregate)
        if time is None:
            time = fact_time(data)
        event_id = str(uuid.uuid4())
        with tracing.outbox_write(data.event_type, event_id) as traceparent:
            event = new_event(
                data,
                source=self.source,
                tenant=self.settings.tenant,
                subject=subject,
                sequence=sequence,
                time=time,
                traceparent=traceparent,
                event_id=event_id,
            )
            await outbox.append(conn, self.schema, [(event, routing_key_for(event.type, self.name))])
        return event

    async def readiness(self) -> dict[str, str]:
        """Broker and database reachable, migrations applied."""
        checks: dict[str, str] = {}
        try:
            pending = await asyncio.wait_for(self._pending_migrations(), 5)
            checks["database"] = "ok"
            checks["migrations"] = "ok" if not pending else f"pending: {', '.join(pending)}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}: {exc}"
        try:
            from shared.bus import connect

            connection = await asyncio.wait_for(connect(self.amqp_url), 5)
            await connection.close()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}: {exc}"
        return checks

    async def _pending_migrations(self) -> list[str]:
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                return await pending_migrations(conn, self.schema, self.migrations())
        conn = await asyncpg.connect(self.database_url, timeout=5)  # not started (yet)
        try:
            return await pending_migrations(conn, self.schema, self.migrations())
        finally:
            await conn.close()

    async def sample_metrics(self) -> None:
        """Refresh the gauges sampled at scrape time (a subclass adds its own)."""
        if self.pool is not None:
            async with self.pool.acquire() as conn:
                metrics.OUTBOX_BACKLOG.labels(self.schema).set(await outbox.backlog(conn, self.schema))

    def create_app(
        self,
        routers: Sequence[APIRouter],
        *,
        title: str,
        description: str = "",
        body_limits: Mapping[str, int] | None = None,
    ) -> FastAPI:
        """The service's application: its routers, health and metrics routes, and the request
        limits (`add_request_limits`; `body_limits`: route path template -> its own limit)."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=title, description=description, version="1.0", lifespan=lifespan)
        app.state.service = self
        add_health_routes(app, self.readiness)
        add_metrics_route(app, self)
        add_request_limits(app, self.settings.max_body_bytes, body_limits or {})
        access_log.add_access_log(app, self)  # who read or wrote what (shared/access_log.py)
        app.add_middleware(metrics.HttpMetrics, service=self.name)
        tracing.setup(self.settings, self.name)  # on only where an OTLP endpoint is configured
        tracing.instrument_app(app)
        app.add_exception_handler(RuleError, rule_error_response)
        for router in routers:
            app.include_router(router)
        return app


async def rule_error_response(_: Request, exc: Exception) -> JSONResponse:
    """A refused request as HTTP: 404 unknown record, 409 not in this state, 422 with each
    field and reason (FastAPI's own shape)."""
    assert isinstance(exc, RuleError)
    if isinstance(exc, Invalid):
        detail = [{"loc": ["body", *p.field], "msg": p.reason, "type": "value_error"} for p in exc.problems]
        return JSONResponse({"detail": detail}, status_code=422)
    code = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return JSONResponse({"detail": exc.reason}, status_code=code)


def unit_of_work(request: Request) -> Any:
    """FastAPI dependency: a new unit of work from the factory the composition root (a
    strand's `app.py`) put on `app.state.unit_of_work`."""
    return request.app.state.unit_of_work()


# The timestamp fields of event data that say when the fact happened, in catalogue order.
FACT_TIME_FIELDS = (
    "completed_at",
    "moderated_at",
    "raised_at",
    "resolved_at",
    "received_at",
    "acknowledged_at",
    "escalated_at",
    "closed_at",
    "published_at",
    "attempted_at",
    "issued_at",
)


def fact_time(data: EventData) -> datetime | None:
    """When the fact in `data` happened (CONTRACT.md: the envelope `time`), or None (now)."""
    for name in FACT_TIME_FIELDS:
        value = getattr(data, name, None)
        if isinstance(value, datetime):
            return value
    return None


# --------------------------------------------------------------------------- request limits

# How much of a bad input a 422 answer shows (a request body is never echoed whole).
EXCERPT_CHARS = 200


def add_request_limits(app: FastAPI, max_body_bytes: int, body_limits: Mapping[str, int]) -> None:
    """Bodies over the limit get 413 before anything reads them (`RequestBodyLimit`), and a
    422 shows at most a short excerpt of each bad input (`validation_error_excerpts`)."""
    app.add_middleware(RequestBodyLimit, default=max_body_bytes, routes=body_limits)
    app.add_exception_handler(RequestValidationError, validation_error_excerpts)


class RequestBodyLimit:
    """ASGI middleware: a request body larger than the limit is answered 413, before the
    route, its authentication or its body parsing sees it.

    A declared `Content-Length` over the limit is refused at once: the application is not
    called and not one byte of the body is read. A body of unknown length (chunked) is
    counted as it streams in, and reading stops with 413 at the first chunk past the limit,
    so no more than the limit (and one chunk) is ever held. `routes` gives route path
    templates (`/v1/surveys/{survey_id}/imports`) limits of their own."""

    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.routes = [(compile_path(path)[0], limit) for path, limit in (routes or {}).items()]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.routes:
            if pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body reading (which turns
                    # other errors into 400) and its handler answers 413.
                    raise HTTPException(413, detail=_too_large_detail(limit))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await _too_large(limit)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large_detail(limit: int) -> str:
    return f"the request body is larger than the limit of {limit:,} bytes"


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": _too_large_detail(limit)}, status_code=413, headers={"Connection": "close"})


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> Any:
    """`value` where its JSON is short, else at most `limit` characters of it as text (a
    deeply nested or enormous input is never walked whole)."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 64 else f"(an integer of {value.bit_length():,} bits)"
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"… ({len(value):,} characters)"
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        return f"({type(value).__name__}, too deep or too large to show)"
    if len(text) <= limit:
        return value
    return text[:limit] + f"… ({len(text):,} characters)"


async def validation_error_excerpts(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (`detail: [{loc, msg, type, input, ctx}]`) with every `input` cut to a
    short excerpt: a bad request body is never echoed back whole."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = excerpt(error["input"])
        if isinstance(error.get("msg"), str):  # a validator's message may quote the input
            error["msg"] = excerpt(error["msg"], 2 * EXCERPT_CHARS)
        if isinstance(error.get("ctx"), dict):
            error["ctx"] = {k: excerpt(v) if isinstance(v, str | bytes) else v for k, v in error["ctx"].items()}
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def add_health_routes(app: FastAPI, readiness: Callable[[], Awaitable[dict[str, str]]]) -> None:
    """`/healthz` and `/readyz` (no token) say only ok / ready or not; why not goes to the log
    (when it changes) and to `/v1/ops/readiness`, which needs an ops:admin token for the
    tenant the service is configured for."""
    last_reason: list[str | None] = [None]

    async def checked() -> tuple[bool, dict[str, str]]:
        checks = await readiness()
        failing = {k: v for k, v in checks.items() if v != "ok"}
        reason = "; ".join(f"{k}: {v}" for k, v in failing.items()) or None
        if reason != last_reason[0]:
            if reason:
                log.warning("not ready: %s", reason)
            elif last_reason[0]:
                log.info("ready again")
            last_reason[0] = reason
        return not failing, checks

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        ok, _ = await checked()
        return JSONResponse({"status": "ready" if ok else "not ready"}, status_code=200 if ok else 503)

    @app.get("/v1/ops/readiness", tags=["operations"], dependencies=[Depends(require_served("ops:admin"))])
    async def readiness_detail() -> JSONResponse:
        ok, checks = await checked()
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200)


def add_metrics_route(app: FastAPI, service: StrandService) -> None:
    """`GET /metrics`, Prometheus text format. It needs an ops:admin token like every other
    endpoint, unless `QALOOP_METRICS_PUBLIC` is set (docs/operations.md)."""
    dependencies = [] if service.settings.metrics_public else [Depends(require("ops:admin"))]

    @app.get("/metrics", tags=["operations"], dependencies=dependencies, response_class=Response)
    async def prometheus_metrics() -> Response:
        try:
            await asyncio.wait_for(service.sample_metrics(), 3)
        except Exception as exc:  # a scrape still answers; the sampled gauges keep their last value
            metrics.METRICS_SAMPLE_ERRORS.labels(service.name).inc()
            log.warning("metrics sampling failed: %s: %s", type(exc).__name__, exc)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)
