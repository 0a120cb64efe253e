"""Tokens from an identity provider (security issue, item 8): with a JWKS URL, a token must carry
the configured audience and issuer, its tenant comes from the configured claim (Entra ID:
`tid`), and a token that names no tenant is refused (401) rather than given QALOOP_TENANT. The
same tenant rule holds for development HS256 tokens. The JWKS is served in-process over HTTP
from a local RSA key, fetched by the same PyJWKClient production uses."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI

from shared import auth
from shared.auth import Principal, issue_token, require, verify_token
from shared.settings import Settings, get_settings

AUDIENCE = "api://qaloop-reporting"
ISSUER = "https://login.microsoftonline.com/3f0c1a52-0000-4000-8000-000000000001/v2.0"
TID = "3f0c1a52-0000-4000-8000-000000000001"
KID = "test-key-1"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """A JWKS endpoint on a free localhost port, publishing the public half of `rsa_key`."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # a fresh URL per module run: shared.auth caches one PyJWKClient per URL
        yield f"http://127.0.0.1:{server.server_address[1]}/{uuid.uuid4().hex}/keys"
    finally:
        server.shutdown()
        server.server_close()


def idp_settings(jwks_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwks_url": jwks_url,
        "jwt_audience": AUDIENCE,
        "jwt_issuer": ISSUER,
        "jwt_tenant_claim": "tid",
        "jwt_secret": "a-real-secret-from-the-vault",
        "pseudonym_key": "a-real-pseudonym-key",
        **overrides,
    }
    return Settings(**values)


def rs256(key: rsa.RSAPrivateKey, *, drop: tuple[str, ...] = (), kid: str = KID, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "jo.manager@authority.example",
        "roles": ["reporting:read"],
        "aud": AUDIENCE,
        "iss": ISSUER,
        "tid": TID,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    for name in drop:
        body.pop(name)
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def test_a_token_from_the_identity_provider_with_audience_issuer_and_tenant(rsa_key, jwks_url):
    principal = verify_token(rs256(rsa_key), idp_settings(jwks_url))
    assert principal == Principal("jo.manager@authority.example", frozenset({"reporting:read"}), TID)
    # an audience list that includes ours is fine
    assert verify_token(rs256(rsa_key, aud=["api://other", AUDIENCE]), idp_settings(jwks_url)).tenant == TID


def test_the_tenant_claim_can_be_mapped_to_the_authority(rsa_key, jwks_url):
    settings = idp_settings(jwks_url, jwt_tenant_map={TID: "E10000034"})
    assert verify_token(rs256(rsa_key), settings).tenant == "E10000034"
    with pytest.raises(jwt.InvalidTokenError, match="names no configured tenant"):
        verify_token(rs256(rsa_key, tid="another-directory"), settings)


@pytest.mark.parametrize(
    ("claims", "drop", "why"),
    [
        ({}, ("aud",), "aud"),
        ({"aud": "api://someone-else"}, (), "Audience doesn't match"),
        ({}, ("iss",), "iss"),
        ({"iss": "https://login.example.invalid/v2.0"}, (), "Invalid issuer"),
        ({}, ("tid",), "names no tenant"),
        ({"tid": ""}, (), "names no tenant"),
        ({"tid": ["E10000034"]}, (), "names no tenant"),
        # a `tenant` claim is not the configured claim: still no tenant, never QALOOP_TENANT
        ({"tenant": "E10000034"}, ("tid",), "names no tenant"),
        ({}, ("exp",), "exp"),
    ],
)
def test_a_token_without_or_with_the_wrong_audience_issuer_or_tenant_is_refused(rsa_key, jwks_url, claims, drop, why):
    with pytest.raises(jwt.InvalidTokenError, match=why):
        verify_token(rs256(rsa_key, drop=drop, **claims), idp_settings(jwks_url))


def test_a_token_signed_by_another_key_or_with_the_development_secret_is_refused(rsa_key, jwks_url):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidTokenError):
        verify_token(rs256(other), idp_settings(jwks_url))
    hs = jwt.encode(
        {"sub": "x", "roles": ["ops:admin"], "aud": AUDIENCE, "iss": ISSUER, "tid": TID, "exp": time.time() + 60},
        Settings().jwt_secret.get_secret_value(),
        algorithm="HS256",
        headers={"kid": KID},
    )
    with pytest.raises(jwt.InvalidTokenError):
        verify_token(hs, idp_settings(jwks_url))


@pytest.mark.parametrize("missing", ["jwt_audience", "jwt_issuer"])
def test_with_a_jwks_url_but_no_audience_or_issuer_configured_every_token_is_refused(rsa_key, jwks_url, missing):
    with pytest.raises(jwt.InvalidTokenError, match="QALOOP_JWT_AUDIENCE / QALOOP_JWT_ISSUER"):
        verify_token(rs256(rsa_key), idp_settings(jwks_url, **{missing: None}))


def test_development_tokens_name_a_tenant_and_one_without_is_refused():
    settings = Settings()
    assert verify_token(issue_token(settings, ["reporting:read"]), settings).tenant == settings.tenant
    assert verify_token(issue_token(settings, ["reporting:read"], tenant="E1"), settings).tenant == "E1"
    bare = jwt.encode(
        {"sub": "x", "roles": ["reporting:read"], "exp": int(time.time()) + 60},
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    with pytest.raises(jwt.InvalidTokenError, match="names no tenant"):
        verify_token(bare, settings)
    # `qaloop token` writes the configured claim, mapped where a map is set
    mapped = Settings(jwt_tenant_claim="tid", jwt_tenant_map={TID: settings.tenant})
    token = issue_token(mapped, ["reporting:read"])
    assert jwt.decode(token, options={"verify_signature": False})["tid"] == TID
    assert verify_token(token, mapped).tenant == settings.tenant


def test_development_tokens_are_checked_against_a_configured_audience_and_issuer():
    settings = Settings(jwt_audience=AUDIENCE, jwt_issuer=ISSUER)
    assert verify_token(issue_token(settings, ["reporting:read"]), settings).tenant == settings.tenant
    with pytest.raises(jwt.InvalidTokenError):
        verify_token(issue_token(Settings(), ["reporting:read"]), settings)


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def idp_environment(monkeypatch, jwks_url) -> Iterator[None]:
    for key, value in {
        "QALOOP_JWKS_URL": jwks_url,
        "QALOOP_JWT_AUDIENCE": AUDIENCE,
        "QALOOP_JWT_ISSUER": ISSUER,
        "QALOOP_JWT_TENANT_CLAIM": "tid",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_over_http_the_identity_providers_tokens_answer_200_or_401(rsa_key, idp_environment):
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(principal: Annotated[Principal, Depends(require("reporting:read"))]) -> dict[str, str]:
        return {"tenant": principal.tenant, "subject": principal.subject}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

        async def get(token: str) -> httpx.Response:
            return await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})

        r = await get(rs256(rsa_key))
        assert r.status_code == 200 and r.json()["tenant"] == TID
        for token in (
            rs256(rsa_key, drop=("aud",)),
            rs256(rsa_key, aud="api://someone-else"),
            rs256(rsa_key, drop=("iss",)),
            rs256(rsa_key, iss="https://evil.example/"),
            rs256(rsa_key, drop=("tid",)),
            rs256(rsa_key, drop=("tid",), tenant="E10000034"),
            issue_token(get_settings(), ["reporting:read"]),  # HS256, development secret
        ):
            r = await get(token)
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"].startswith("Bearer")
        r = await get(rs256(rsa_key, roles=["feedback:write"]))
        assert r.status_code == 403


def test_the_jwks_client_is_the_cached_production_one(jwks_url):
    assert auth.jwks_client(jwks_url) is auth.jwks_client(jwks_url)


async def test_an_unreachable_identity_provider_is_503_not_a_crash(rsa_key, idp_environment, monkeypatch):
    monkeypatch.setenv("QALOOP_JWKS_URL", f"http://127.0.0.1:1/{uuid.uuid4().hex}/keys")  # nothing listens
    get_settings.cache_clear()
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(principal: Annotated[Principal, Depends(require("reporting:read"))]) -> dict[str, str]:
        return {"tenant": principal.tenant}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/whoami", headers={"Authorization": f"Bearer {rs256(rsa_key)}"})
    assert r.status_code == 503, r.text
