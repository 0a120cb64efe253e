"""Insecure defaults refuse, they do not merely warn (security issue, item 7): with the
development JWT secret or pseudonym key a service starts only with QALOOP_ENV=development and
only on a loopback address, and /dev-login exists only then. No broker or database: the
refusal comes before either is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from shared.settings import (
    DEVELOPMENT_JWT_SECRET,
    DEVELOPMENT_PSEUDONYM_KEY,
    InsecureSettings,
    Settings,
    check_secure_start,
    get_settings,
    insecure_settings,
    is_loopback,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = {"jwt_secret": "a-real-secret-from-the-vault", "pseudonym_key": "a-real-pseudonym-key"}
# Where nothing listens: a service that got as far as its database would fail differently.
NOWHERE = {"database_url": "postgresql://postgres@127.0.0.1:1/qaloop", "amqp_url": "amqp://guest:guest@127.0.0.1:1/"}


def test_loopback_addresses():
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "192.168.1.10", "reporting", "example.org", ""):
        assert not is_loopback(host), host


@pytest.mark.parametrize(
    "secrets",
    [
        {},  # both development values
        {"jwt_secret": REAL["jwt_secret"]},  # the development pseudonym key alone
        {"pseudonym_key": REAL["pseudonym_key"]},  # the development JWT secret alone
    ],
)
def test_development_secrets_refuse_outside_development_and_on_a_non_loopback_address(secrets):
    for env in ("production", "staging", ""):
        with pytest.raises(InsecureSettings, match="QALOOP_ENV=development"):
            check_secure_start(Settings(env=env, host="127.0.0.1", **secrets))
    # development on loopback: allowed
    check_secure_start(Settings(env="development", host="127.0.0.1", **secrets))
    check_secure_start(Settings(env="Development", host="localhost", **secrets))
    # development, but listening beyond this machine: never
    for host in ("0.0.0.0", "::", "10.0.0.5"):
        with pytest.raises(InsecureSettings, match="non-loopback"):
            check_secure_start(Settings(env="development", host=host, **secrets))
        # the address actually bound counts, not only QALOOP_HOST
        assert insecure_settings(Settings(env="development", host="127.0.0.1", **secrets), host)


def test_real_secrets_start_anywhere_and_the_development_jwt_secret_is_moot_with_an_identity_provider():
    check_secure_start(Settings(env="production", host="0.0.0.0", **REAL))
    check_secure_start(
        Settings(
            env="production",
            host="0.0.0.0",
            jwt_secret=DEVELOPMENT_JWT_SECRET,  # unused: tokens are verified against the JWKS
            pseudonym_key=REAL["pseudonym_key"],
            jwks_url="https://idp.example.invalid/jwks",
            jwt_audience="api://qaloop",
            jwt_issuer="https://idp.example.invalid/",
        )
    )
    with pytest.raises(InsecureSettings, match="QALOOP_PSEUDONYM_KEY"):
        check_secure_start(
            Settings(
                env="production",
                jwt_secret=REAL["jwt_secret"],
                pseudonym_key=DEVELOPMENT_PSEUDONYM_KEY,
                jwks_url="https://idp.example.invalid/jwks",
                jwt_audience="api://qaloop",
                jwt_issuer="https://idp.example.invalid/",
            )
        )


@pytest.mark.parametrize("missing", ["jwt_audience", "jwt_issuer"])
def test_an_identity_provider_without_audience_or_issuer_refuses(missing):
    settings = {
        "jwks_url": "https://idp.example.invalid/jwks",
        "jwt_audience": "api://qaloop",
        "jwt_issuer": "https://idp.example.invalid/",
    }
    del settings[missing]
    with pytest.raises(InsecureSettings, match="QALOOP_JWT_AUDIENCE and QALOOP_JWT_ISSUER"):
        check_secure_start(Settings(env="production", **REAL, **settings))


async def test_a_service_with_the_development_secrets_refuses_to_start_outside_development():
    from services.audit.app import build

    service, app = build(Settings(env="production", **NOWHERE))
    with pytest.raises(InsecureSettings, match="refusing to start"):
        await service.start(relay=False)
    assert service.pool is None  # refused before it touched the database
    with pytest.raises(InsecureSettings):  # the same through the application's lifespan (uvicorn)
        async with app.router.lifespan_context(app):
            pass


async def test_a_service_with_the_development_secrets_refuses_to_start_on_0_0_0_0_even_in_development():
    from services.reporting.app import build

    service, _ = build(settings=Settings(env="development", host="0.0.0.0", **NOWHERE))
    with pytest.raises(InsecureSettings, match="non-loopback"):
        await service.start(relay=False)
    assert service.pool is None


def _run(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QALOOP_")}
    environment.update(NOWHERE_ENV, **env)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "run", service],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


NOWHERE_ENV = {f"QALOOP_{k.upper()}": v for k, v in NOWHERE.items()}


@pytest.mark.parametrize("service", ["audit", "reporting", "all"])
def test_qaloop_run_refuses_the_development_secrets_without_qaloop_env_development(service):
    result = _run(service)
    assert result.returncode == 2, result.stderr
    assert "refusing to start" in result.stderr and "QALOOP_ENV=development" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_qaloop_run_refuses_the_development_secrets_on_0_0_0_0_in_development():
    result = _run("audit", QALOOP_ENV="development", QALOOP_HOST="0.0.0.0")
    assert result.returncode == 2, result.stderr
    assert "refusing to start" in result.stderr and "non-loopback address (QALOOP_HOST=0.0.0.0)" in result.stderr


def test_qaloop_token_always_names_a_tenant(capsys, monkeypatch):
    from services import cli

    monkeypatch.setenv("QALOOP_TENANT", "E10000099")
    get_settings.cache_clear()
    try:
        assert cli.main(["token", "--role", "reporting:read"]) == 0
        claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
        assert claims["tenant"] == "E10000099"
        assert cli.main(["token", "--role", "reporting:read", "--tenant", "E10000001"]) == 0
        claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
        assert claims["tenant"] == "E10000001"
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------- /dev-login


def _dashboard() -> FastAPI:
    from services.reporting.dashboard import router

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.mark.parametrize(
    ("env", "found"),
    [
        ({"QALOOP_ENV": "development"}, True),
        ({"QALOOP_ENV": "development", "QALOOP_HOST": "localhost"}, True),
        ({}, False),  # QALOOP_ENV unset: production
        ({"QALOOP_ENV": "production"}, False),
        ({"QALOOP_ENV": "staging"}, False),
        ({"QALOOP_ENV": "development", "QALOOP_HOST": "0.0.0.0"}, False),
        ({"QALOOP_ENV": "development", "QALOOP_JWT_SECRET": "a-real-secret-from-the-vault"}, False),
    ],
)
async def test_dev_login_exists_only_in_development(monkeypatch, env, found):
    for key in ("QALOOP_ENV", "QALOOP_HOST", "QALOOP_JWT_SECRET", "QALOOP_JWKS_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_dashboard()), base_url="http://t") as client:
            r = await client.get("/dev-login")
            assert r.status_code == (200 if found else 404), r.text
            page = (await client.get("/")).text
            assert f'data-dev-login="{str(found).lower()}"' in page
    finally:
        get_settings.cache_clear()
