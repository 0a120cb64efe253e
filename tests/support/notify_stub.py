"""A local stand-in for the GOV.UK Notify HTTP API (`POST /v2/notifications/email`), for the
notifier's tests: `notifications-python-client` is pointed at it with its `base_url`.

It checks what the real service checks of a request: a `Bearer` JWT signed HS256 with the API
key's secret, whose `iss` is the key's service id and whose `iat` is within 30 seconds; a JSON
body with `email_address`, `template_id` and `personalisation`. It answers 201 with Notify's
shape and records the e-mail; an address in `refuse` gets Notify's 400 "not a valid email
address"; the next `unavailable` requests get 503.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SERVICE_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "66666666-7777-8888-9999-000000000000"
API_KEY = f"qaloop_test-{SERVICE_ID}-{SECRET}"  # Notify's format: name-<service id>-<secret>


@dataclass
class NotifyStub:
    base_url: str = ""
    emails: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    unavailable: int = 0
    bad_tokens: int = 0


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"status_code": status, "errors": [{"error": error, "message": message}]}, status_code=status)


def _token_problem(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        return "Unauthorized: authentication token must be provided"
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iat": False})
    except jwt.InvalidTokenError as exc:
        return f"Invalid token: {exc}"
    if claims.get("iss") != SERVICE_ID:
        return "Invalid token: service not found"
    if abs(time.time() - float(claims.get("iat", 0))) > 30:
        return "Error: Your system clock must be accurate to within 30 seconds"
    return None


def notify_app(stub: NotifyStub) -> FastAPI:
    app = FastAPI()

    @app.post("/v2/notifications/email")
    async def send_email(request: Request) -> JSONResponse:
        problem = _token_problem(request)
        if problem is not None:
            stub.bad_tokens += 1
            return _error(403, "AuthError", problem)
        if stub.unavailable:
            stub.unavailable -= 1
            return _error(503, "ServiceUnavailable", "try again later")
        body = await request.json()
        missing = [k for k in ("email_address", "template_id") if not body.get(k)]
        if missing:
            return _error(400, "ValidationError", f"{missing[0]} is a required property")
        if body["email_address"] in stub.refuse:
            return _error(400, "ValidationError", "email_address Not a valid email address")
        stub.emails.append(body)
        personalisation = body.get("personalisation") or {}
        return JSONResponse(
            {
                "id": str(uuid.uuid4()),
                "reference": body.get("reference"),
                "content": {
                    "subject": personalisation.get("subject", ""),
                    "body": personalisation.get("body", ""),
                    "from_email": "qaloop@notifications.service.gov.uk",
                },
                "uri": f"{stub.base_url}/v2/notifications/{uuid.uuid4()}",
                "template": {"id": body["template_id"], "version": 1, "uri": f"{stub.base_url}/v2/template"},
            },
            status_code=201,
        )

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_notify_stub() -> Iterator[NotifyStub]:
    """The stand-in, served on a free loopback port in a thread, for the `with` block."""
    port = free_port()
    stub = NotifyStub(base_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(notify_app(stub), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Notify stand-in did not start")
        time.sleep(0.02)
    try:
        yield stub
    finally:
        server.should_exit = True
        thread.join(10)
