"""docker-compose.yml, checked without a Docker engine: against the Compose Specification's
JSON Schema (vendored in tests/data, see its README) and for the promises the file makes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator, FormatChecker

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_SCHEMA = REPO / "tests" / "data" / "compose-spec.json"

APP_SERVICES = {
    "audit": 8001,
    "feedback": 8002,
    "complaints": 8003,
    "reporting": 8000,
    "notifier": 8005,
    "workforce": 8004,
}
INFRASTRUCTURE = ("rabbitmq", "postgres")
SETUP = "setup"  # one-shot: roles, topology and broker users (shared/roles.py)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASS$|KEY$|TOKEN")
REQUIRED_FROM_ENV = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")  # ${NAME:?message}
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def compose_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("duration")
    def is_duration(value: object) -> bool:
        return not isinstance(value, str) or DURATION.match(value) is not None

    return checker


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    Draft201909Validator.check_schema(schema)
    validator = Draft201909Validator(schema, format_checker=compose_checker())

    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))

    assert not errors, "\n".join(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)


def test_the_schema_check_is_not_vacuous(compose: dict[str, Any]) -> None:
    validator = Draft201909Validator(json.loads(COMPOSE_SCHEMA.read_text()), format_checker=compose_checker())
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["audit"]["depends_on"]["rabbitmq"]["condition"] = "service_ready"
    broken["services"]["audit"]["healthcheck"]["interval"] = "ten seconds"
    broken["services"]["audit"]["restart_policy"] = "always"
    assert len(list(validator.iter_errors(broken))) >= 3


def test_one_image_for_the_four_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(APP_SERVICES) | set(INFRASTRUCTURE) | {SETUP}
    images = {services[name]["image"] for name in (*APP_SERVICES, SETUP)}
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in (*APP_SERVICES, SETUP)}
    assert len(images) == 1 and len(builds) == 1
    assert services["audit"]["build"]["context"] == "."
    assert (REPO / services["audit"]["build"].get("dockerfile", "Dockerfile")).is_file()
    for name, port in APP_SERVICES.items():
        assert services[name]["command"] == ["run", name]
        assert f"{port}:{port}" in services[name]["ports"]
        assert services[name]["environment"]["QALOOP_HOST"] == "0.0.0.0"


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name, port in APP_SERVICES.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe and "urllib" in probe  # slim has no curl


def test_infrastructure_keeps_its_data_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, path in (("rabbitmq", "/var/lib/rabbitmq"), ("postgres", "/var/lib/postgresql/data")):
        mounts = dict(v.split(":", 1) for v in compose["services"][name]["volumes"])
        sources = {source for source, target in mounts.items() if target == path}
        assert sources and sources <= declared, f"{name} must keep {path} in a named volume"
    assert compose["services"]["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert compose["services"]["postgres"]["image"] == "postgres:15"


def test_app_services_wait_for_healthy_broker_and_database(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        depends_on = compose["services"][name]["depends_on"]
        for dependency in INFRASTRUCTURE:
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)


def test_each_service_connects_as_its_own_role_and_user(compose: dict[str, Any]) -> None:
    """Least privilege: the setup creates the roles and users as the admins; each service
    connects as its own PostgreSQL role and RabbitMQ user, migrates as the migrator, and gets
    neither the admins' credentials nor another service's."""
    services = compose["services"]
    setup = services[SETUP]
    assert setup["entrypoint"] == ["python", "-m", "shared.roles"]
    for dependency in INFRASTRUCTURE:
        assert setup["depends_on"][dependency]["condition"] == "service_healthy"
    setup_env = setup["environment"]
    assert setup_env["QALOOP_SETUP_DATABASE_URL"].startswith("postgresql://qaloop:")
    assert setup_env["QALOOP_SETUP_AMQP_URL"].startswith("amqp://qaloop:")
    for name in APP_SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["depends_on"][SETUP]["condition"] == "service_completed_successfully"
        assert env["QALOOP_DATABASE_URL"].startswith(f"postgresql://qaloop_{name}:"), name
        assert env["QALOOP_AMQP_URL"].startswith(f"amqp://qaloop-{name}:"), name
        assert env["QALOOP_MIGRATE_DATABASE_URL"].startswith("postgresql://qaloop_migrator:"), name
        assert f"QALOOP_PG_PASSWORD_{name.upper()}" in env["QALOOP_DATABASE_URL"]
        assert f"QALOOP_MQ_PASSWORD_{name.upper()}" in env["QALOOP_AMQP_URL"]
        everything = " ".join(str(v) for v in env.values())
        assert "QALOOP_POSTGRES_PASSWORD" not in everything and "QALOOP_RABBITMQ_PASSWORD" not in everything
        for other in set(APP_SERVICES) - {name}:
            assert f"PASSWORD_{other.upper()}" not in everything, (name, other)


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert REQUIRED_FROM_ENV.match(value), f"{name}: {key} must be ${{{key}:?…}}"
            if "://" in value and "@" in value:  # credentials in a URL: the password from env
                userinfo = value.split("://", 1)[1].split("@", 1)[0]
                password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
                assert REQUIRED_FROM_ENV.match(password), f"{name}: {key} has a literal password"
    text = COMPOSE_FILE.read_text()
    assert "guest" not in text
    for required in ("QALOOP_JWT_SECRET", "QALOOP_PSEUDONYM_KEY"):
        assert f"${{{required}:?" in text


def test_dockerfile_builds_the_one_image() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    # The base image pinned by digest; production dependencies only, from the hashed lock.
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert froms and all(re.fullmatch(r"python:3\.11-slim\S*@sha256:[0-9a-f]{64}", f) for f in froms), froms
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert any("-r /tmp/requirements.prod.lock" in line and "--require-hashes" in line for line in installs)
    assert not any(re.search(r"requirements\.lock\b", line) for line in installs), "the dev lock stays out"
    assert "--no-deps" in dockerfile
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.MULTILINE), "run as a non-root user"
    assert 'ENTRYPOINT ["qaloop"]' in dockerfile
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in ignored and "!shared/" in ignored and "!services/" in ignored


def _pins(text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.MULTILINE)}


def test_production_lock_is_hashed_runtime_only_and_matches_the_dev_lock() -> None:
    """requirements.prod.lock (what the image installs) pins every package with hashes, holds
    no development tool, and pins each package at the version of requirements.lock (the venv's),
    so that the tests run against what production installs."""
    prod_text = (REPO / "requirements.prod.lock").read_text()
    prod, dev = _pins(prod_text), _pins((REPO / "requirements.lock").read_text())
    entries = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", prod_text.split("\n", 2)[2])
    assert len(entries) == len(prod) and prod
    for entry in entries:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"no hash: {entry.splitlines()[0]}"
    for tool in ("pytest", "schemathesis", "pip-audit", "mypy", "ruff", "hypothesis", "playwright"):
        assert tool not in prod, f"{tool} is a development tool"
    for name in ("fastapi", "asyncpg", "aio-pika", "pydantic", "uvicorn", "weasyprint", "pyjwt"):
        assert name in prod
    assert {n: v for n, v in prod.items() if dev.get(n) != v} == {}
