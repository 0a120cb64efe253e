"""Settings from `QALOOP_*` environment variables (or a `.env` file): CONTRACT.md §3."""

from __future__ import annotations

import functools
import ipaddress
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.complaint_timescales import AuthorityTimescales, authority_timescales

# Development defaults. They let `qaloop demo` run on a laptop; a deployment sets its own
# (deploy/ reads them from secrets). A service refuses to start with either of them unless
# QALOOP_ENV=development and it listens on a loopback address only (`check_secure_start`).
DEVELOPMENT_JWT_SECRET = "qaloop-development-only-jwt-secret"
DEVELOPMENT_PSEUDONYM_KEY = "qaloop-development-only-pseudonym-key"
DEVELOPMENT = "development"


class InsecureSettings(RuntimeError):
    """The settings must not serve requests: development secrets outside development or on a
    non-loopback address, or an identity provider without an audience and an issuer."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QALOOP_", env_file=".env", extra="ignore")

    # One URL, or a cluster's nodes as URLs separated by commas, tried in order on every
    # (re)connect (shared.bus.connect); the same holds for each QALOOP_<SERVICE>_AMQP_URL.
    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    # One server, or a primary and its standbys for failover (shared.db): e.g.
    # postgresql://pg1:5432,pg2:5432/qaloop?target_session_attrs=read-write — every
    # (re)connect finds the primary of the moment. The same holds for each
    # QALOOP_<SERVICE>_DATABASE_URL and QALOOP_MIGRATE_DATABASE_URL.
    database_url: str = "postgresql://postgres@localhost:5432/qaloop"
    rabbitmq_management_url: str = "http://guest:guest@localhost:15672"
    # Least privilege (README "Security", docs/operations.md "Roles and users"): optional
    # per-service URLs, each with the service's own PostgreSQL role and RabbitMQ user, and the
    # migrations' URL (the role that owns the schemas). Unset, the single URLs above serve.
    audit_database_url: str | None = None
    feedback_database_url: str | None = None
    complaints_database_url: str | None = None
    reporting_database_url: str | None = None
    notifier_database_url: str | None = None
    workforce_database_url: str | None = None
    audit_amqp_url: str | None = None
    feedback_amqp_url: str | None = None
    complaints_amqp_url: str | None = None
    reporting_amqp_url: str | None = None
    notifier_amqp_url: str | None = None
    workforce_amqp_url: str | None = None
    migrate_database_url: str | None = None
    # Reporting's reads (KPIs, follow-ups, the dashboard and the quarterly report) from a
    # streaming read replica; unset, they go to reporting's database. Writes never go there.
    # `/v1/projections/status` shows how far the replica is behind.
    database_read_url: str | None = None

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwks_url: str | None = None  # production: RS256 tokens from the identity provider
    jwt_audience: str | None = None  # required with jwks_url: tokens must carry this `aud`
    jwt_issuer: str | None = None  # required with jwks_url: tokens must carry this `iss`
    # The claim that names the token's tenant (Entra ID: `tid`). A token without it is refused.
    jwt_tenant_claim: str = "tenant"
    # Optional (JSON): the claim's value -> the tenant (ONS code), e.g. an Entra ID `tid` GUID
    # -> "E10000034". Set, a value it does not list is refused; unset, the value is the tenant.
    jwt_tenant_map: dict[str, str] = Field(default_factory=dict)
    pseudonym_key: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_KEY)
    tenant: str = "E10000034"
    # `development` lets a service start with the development secrets (on a loopback address
    # only) and enables /dev-login; anything else (the default) is production.
    env: str = "production"
    extra_service_areas: list[str] = Field(default_factory=list)

    # ----------------------------------------------------------------- bus trust (begin)
    # Security issue items 5 and 6: who may publish what to reporting, and the pseudonym
    # format. Checked per message by `shared.trust.IntakeChecks` (README "Bus trust").
    #
    # QALOOP_PSEUDONYM_KEY_ID: the id of QALOOP_PSEUDONYM_KEY, written into every pseudonym
    # (`k1:<hex>`). QALOOP_PSEUDONYM_ACCEPTED_KEY_IDS: older key ids still accepted when
    # reading (after a rotation); the current id is always accepted.
    pseudonym_key_id: str = "k1"
    pseudonym_accepted_key_ids: list[str] = Field(default_factory=list)
    # QALOOP_BUS_SOURCES (JSON): CloudEvents `source` (exact, or a prefix ending in `*`) ->
    # {"events": [strand names and/or event types], "tenants": [...] | null, "user": "..." | null}.
    # Unset: shared.trust.DEFAULT_BUS_SOURCES. A source matching no entry is untrusted.
    bus_sources: dict[str, dict[str, Any]] | None = None
    # QALOOP_BUS_TENANTS (JSON list): tenants accepted from a source whose entry names none;
    # empty = any tenant.
    bus_tenants: list[str] = Field(default_factory=list)

    @field_validator(
        "database_url",
        "audit_database_url",
        "feedback_database_url",
        "complaints_database_url",
        "reporting_database_url",
        "notifier_database_url",
        "workforce_database_url",
        "migrate_database_url",
    )
    @classmethod
    def _valid_database_url(cls, value: str | None) -> str | None:
        """One server, or a primary and its standbys with `target_session_attrs=read-write`
        (`shared.db.check_database_url`)."""
        from shared.db import check_database_url

        return None if value is None else check_database_url(value)

    @field_validator("database_read_url")
    @classmethod
    def _valid_read_url(cls, value: str | None) -> str | None:
        from shared.db import check_database_url

        return None if value is None else check_database_url(value, writes=False)

    @field_validator("pseudonym_key_id")
    @classmethod
    def _valid_key_id(cls, value: str) -> str:
        from shared.pseudonym import check_key_id

        return check_key_id(value)

    @field_validator("pseudonym_accepted_key_ids")
    @classmethod
    def _valid_key_ids(cls, value: list[str]) -> list[str]:
        from shared.pseudonym import check_key_id

        return [check_key_id(v) for v in value]

    # ----------------------------------------------------------------- bus trust (end)

    # bus
    delivery_limit: int = 20  # quorum queue x-delivery-limit: a message that crashes us this often is dead-lettered
    prefetch: int = 2000
    batch_max: int = 1000
    max_message_bytes: int = 1_048_576

    # Per-authority configuration (shared/tenant_config, README "Configuration"): these are
    # each tenant's defaults, the bootstrap; an authority changes its own through /v1/config
    # or `qaloop config set`, stored in the database. Each service reads the stored settings
    # again every QALOOP_CONFIG_REFRESH_SECONDS.
    config_refresh_seconds: float = Field(default=5.0, gt=0, le=3600)
    overall_grade_rule: Literal["worst", "best_fit"] = "worst"
    calendar_closures: list[date] = Field(default_factory=list)  # days the authority adds
    small_number_threshold: int = 5
    # Complaint timescales (shared.complaint_timescales): each tenant's default (its stored
    # setting, where it has one, is read by the complaints service and reporting alike). QALOOP_COMPLAINTS_TIMESCALES
    # (JSON: today's procedure -> stage -> {due, maximum}, or {"default": {...}, "tenants":
    # {"<ONS code>": {...}}}) and QALOOP_COMPLAINTS_STAGE2_CLOCK (escalation | agreed_statement).
    complaints_timescales: dict[str, Any] = Field(default_factory=dict)
    complaints_stage2_clock: str | None = None
    targets_file: Path | None = (
        None  # JSON: {"kpi id": {"target": 0.8, "amber_tolerance": 0.05, "higher_is_better": true}}
    )
    # The authority's name as people say it ("Westshire County Council"), for the report's
    # cover and the dashboard; unset, they name the authority by its code (QALOOP_TENANT).
    authority_name: str | None = Field(default=None, max_length=200)
    # The day reporting takes as today (its dashboard, report, KPIs "as of" and follow-up
    # transitions): a fixed date, where a whole deployment looks at a past year (`qaloop
    # demo` sets it to the end of its simulated year). Unset: today in London.
    as_of: date | None = None

    # HTTP: request bodies larger than this are answered 413 before anything reads them;
    # the CSV import of survey responses has its own, larger limit
    max_body_bytes: int = 1_048_576
    max_import_bytes: int = 20 * 1_048_576

    # processes
    host: str = "127.0.0.1"
    reporting_port: int = 8000
    audit_port: int = 8001
    feedback_port: int = 8002
    complaints_port: int = 8003
    notifier_port: int = 8005
    workforce_port: int = 8004
    log_level: str = "INFO"
    log_json: bool = True
    # /metrics needs an ops:admin token unless this is set (docs/operations.md: only where the
    # metrics port is reachable from the monitoring network alone)
    metrics_public: bool = False
    # OpenTelemetry traces (shared/tracing.py): the OTLP/HTTP collector's base URL
    # (`http://collector:4318`; spans go to its /v1/traces). Empty: the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT decides; neither set: no tracing at all.
    otlp_endpoint: str = ""

    def database_url_for(self, service: str) -> str:
        """The service's own database URL (`QALOOP_<SERVICE>_DATABASE_URL`), else the shared one."""
        value = getattr(self, f"{service}_database_url", None)
        return value if isinstance(value, str) and value else self.database_url

    def amqp_url_for(self, service: str) -> str:
        """The service's own broker URL (`QALOOP_<SERVICE>_AMQP_URL`), else the shared one."""
        value = getattr(self, f"{service}_amqp_url", None)
        return value if isinstance(value, str) and value else self.amqp_url

    def migrate_url_for(self, service: str) -> str:
        """Where the service's migrations run: `QALOOP_MIGRATE_DATABASE_URL` (the role that owns
        the schemas), else the service's own database URL (single-role development)."""
        return self.migrate_database_url or self.database_url_for(service)

    def using_development_secrets(self) -> bool:
        return (
            self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
            or self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY
        )

    @property
    def is_development(self) -> bool:
        return self.env.strip().lower() == DEVELOPMENT

    def development_secrets_in_use(self) -> list[str]:
        """The development values still in use: the JWT secret (only where it verifies tokens,
        i.e. without an identity provider) and the pseudonym key."""
        out = []
        if self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET and not self.jwks_url:
            out.append("QALOOP_JWT_SECRET")
        if self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY:
            out.append("QALOOP_PSEUDONYM_KEY")
        return out

    def complaint_timescales(self) -> AuthorityTimescales:
        """Every tenant's complaint timescales (ValueError when the setting is not valid)."""
        return authority_timescales(self.complaints_timescales, self.complaints_stage2_clock)

    def kpi_targets(self) -> dict[str, dict[str, float | bool]]:
        if self.targets_file is None:
            return {}
        loaded = json.loads(self.targets_file.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.targets_file}: expected a JSON object of KPI id -> target")
        return loaded


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal (127.0.0.0/8, ::1); `0.0.0.0`, `::` and any other
    name or address are not."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_settings(settings: Settings, host: str | None = None) -> list[str]:
    """Why a service with these settings, listening on `host` (default `settings.host`), must
    not start; empty when it may."""
    host = settings.host if host is None else host
    problems = []
    development = settings.development_secrets_in_use()
    if development:
        names = " and ".join(development)
        if not settings.is_development:
            problems.append(
                f"{names} still have the development value; set real ones, or set "
                "QALOOP_ENV=development on a developer's machine"
            )
        elif not is_loopback(host):
            problems.append(
                f"{names} still have the development value, which is never allowed on a "
                f"non-loopback address (QALOOP_HOST={host}); set real ones"
            )
    if settings.jwks_url and not (settings.jwt_audience and settings.jwt_issuer):
        problems.append(
            "QALOOP_JWKS_URL is set: QALOOP_JWT_AUDIENCE and QALOOP_JWT_ISSUER must be set too "
            "(the identity provider's tokens are checked against both)"
        )
    return problems


def check_secure_start(settings: Settings, host: str | None = None) -> None:
    """Raise `InsecureSettings` where `insecure_settings` finds a reason not to start."""
    problems = insecure_settings(settings, host)
    if problems:
        raise InsecureSettings("refusing to start: " + "; ".join(problems))


@functools.cache
def get_settings() -> Settings:
    settings = Settings()
    from shared.events import extend_service_areas

    extend_service_areas(settings.extra_service_areas)
    return settings
