"""Request limits of every service's application (shared/service.py): a body over the limit is
answered 413 before authentication or body parsing, without the body being read (declared
length) or read past the limit (chunked); the CSV import has a larger limit of its own; a 422
shows only a short excerpt of the bad input. No broker or database: nothing is started."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shared.auth import Principal, issue_token, require_served
from shared.service import EXCERPT_CHARS, StrandService, excerpt
from shared.settings import Settings

MIB = 1_048_576
CHUNK = 64 * 1024
SETTINGS = Settings(max_body_bytes=MIB, max_import_bytes=4 * MIB)


class Thing(BaseModel):
    name: str = Field(max_length=50)


class Body:
    """A request body of `size` bytes, streamed in chunks; counts what the server pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.size:
            chunk = b"x" * min(CHUNK, self.size - sent)
            sent += len(chunk)
            self.pulled += len(chunk)
            yield chunk


def _demo() -> tuple[Any, list[str]]:
    called: list[str] = []
    router = APIRouter(prefix="/v1")

    @router.post("/things")
    async def post_thing(body: Thing, _: Annotated[Principal, Depends(require_served("audit:write"))]) -> dict:
        called.append("things")
        return {"name": body.name}

    @router.post("/things/{thing_id}/imports")
    async def post_import(thing_id: str, _: Annotated[Principal, Depends(require_served("audit:write"))]) -> dict:
        called.append("imports")
        return {"thing_id": thing_id}

    service = StrandService(name="limitsdemo", migrations_dir=Path("/nonexistent"), settings=SETTINGS)
    app = service.create_app([router], title="limits demo", body_limits={"/v1/things/{thing_id}/imports": 4 * MIB})
    return app, called


def _token() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, ['audit:write'])}"}


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


@pytest.mark.parametrize("headers", [{}, _token()], ids=["no token", "token"])
async def test_a_declared_body_over_the_limit_is_refused_unread_before_authentication(headers):
    app, called = _demo()
    body = Body(2 * MIB)
    async with _client(app) as client:
        response = await client.post(
            "/v1/things",
            content=body.stream(),
            headers={**headers, "Content-Length": str(body.size), "Content-Type": "application/json"},
        )
    assert response.status_code == 413, response.text
    assert "1,048,576 bytes" in response.json()["detail"]
    assert called == [] and body.pulled <= CHUNK  # the handler never ran; the body was not read


@pytest.mark.parametrize("headers", [{}, _token()], ids=["no token", "token"])
async def test_a_chunked_body_is_cut_off_at_the_limit(headers):
    app, called = _demo()
    body = Body(20 * MIB)
    async with _client(app) as client:
        response = await client.post(
            "/v1/things", content=body.stream(), headers={**headers, "Content-Type": "application/json"}
        )
    assert response.status_code == 413, response.text
    assert called == []
    assert body.pulled <= MIB + 2 * CHUNK, f"read {body.pulled:,} bytes of a body over the limit"


async def test_a_route_with_its_own_limit_takes_a_larger_body_and_no_more():
    app, called = _demo()
    async with _client(app) as client:
        ok = await client.post("/v1/things/t1/imports", content=b"x" * (2 * MIB), headers=_token())
        assert ok.status_code == 200 and called == ["imports"]
        too_large = await client.post("/v1/things/t1/imports", content=b"x" * (5 * MIB), headers=_token())
        assert too_large.status_code == 413 and called == ["imports"]
        small = await client.post("/v1/things", json={"name": "a"}, headers=_token())
        assert small.status_code == 200 and called == ["imports", "things"]


async def test_a_422_echoes_no_more_than_an_excerpt_of_the_bad_input():
    app, called = _demo()
    async with _client(app) as client:
        response = await client.post("/v1/things", json={"name": "y" * 900_000}, headers=_token())
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "name"] and error["type"] == "string_too_long"
        assert error["input"].startswith("y" * EXCERPT_CHARS) and len(error["input"]) < EXCERPT_CHARS + 40
        assert len(response.content) < 2_000
        # A body that is not the model at all (the whole body is the error's input).
        whole = await client.post("/v1/things", json=[{"k": "z" * 1000}] * 500, headers=_token())
        assert whole.status_code == 422 and len(whole.content) < 2_000
        # Nested too deep for the JSON parser: refused, never a 500 or an echo.
        deep = await client.post("/v1/things", content=b"[" * 200_000, headers=_token())
        assert deep.status_code in (400, 422) and len(deep.content) < 2_000
    assert called == []


def test_excerpt_keeps_short_values_and_cuts_long_ones():
    assert excerpt({"a": 1}) == {"a": 1} and excerpt("short") == "short" and excerpt(7) == 7
    assert len(excerpt("x" * 10_000)) < EXCERPT_CHARS + 40
    assert len(excerpt(list(range(10_000)))) < EXCERPT_CHARS + 40
    assert "bits" in excerpt(10**5000)
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    assert "too deep" in excerpt(nested)
    assert excerpt(b"\xff\xfe") == "\\xff\\xfe"


@pytest.mark.parametrize("strand", ["audit", "feedback", "complaints"])
async def test_every_strand_refuses_an_oversized_body_before_authentication(strand):
    import importlib

    build = importlib.import_module(f"services.{strand}.app").build
    _, app = build(SETTINGS)
    path = {"audit": "/v1/audits", "feedback": "/v1/compliments", "complaints": "/v1/complaints"}[strand]
    async with _client(app) as client:
        for headers in ({}, _token()):
            response = await client.post(path, content=b"{" + b" " * (2 * MIB), headers=headers)
            assert response.status_code == 413, (strand, response.text)
        unauthenticated = await client.post(path, json={})
        assert unauthenticated.status_code == 401  # under the limit, authentication decides as before


async def test_the_feedback_csv_import_has_its_own_larger_limit():
    from services.feedback.app import build

    _, app = build(SETTINGS)
    async with _client(app) as client:
        files = {"file": ("responses.csv", b"received_at\n" + b"2023-01-01\n" * (2 * MIB // 11), "text/csv")}
        over_default = await client.post("/v1/surveys/some-survey/imports", files=files)
        assert over_default.status_code == 401  # past the 1 MiB default: the import's own limit applies
        files = {"file": ("responses.csv", b"x" * (5 * MIB), "text/csv")}
        too_large = await client.post("/v1/surveys/some-survey/imports", files=files)
        assert too_large.status_code == 413
