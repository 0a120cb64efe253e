"""Settings from `QALOOP_*` environment variables (or a `.env` file): CONTRACT.md §3."""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults. They let `qaloop demo` run on a laptop; a deployment sets its own
# (deploy/ reads them from secrets) and `qaloop run` warns when they are still in use.
DEVELOPMENT_JWT_SECRET = "qaloop-development-only-jwt-secret"
DEVELOPMENT_PSEUDONYM_KEY = "qaloop-development-only-pseudonym-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QALOOP_", env_file=".env", extra="ignore")

    amqp_url: str = "amqp://guest:guest@localhost:5672/"
    database_url: str = "postgresql://postgres@localhost:5432/qaloop"
    rabbitmq_management_url: str = "http://guest:guest@localhost:15672"

    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwks_url: str | None = None  # production: RS256 tokens from the identity provider
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    pseudonym_key: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_KEY)
    tenant: str = "E10000034"
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

    # domain configuration
    overall_grade_rule: Literal["worst", "best_fit"] = "worst"
    calendar_closures: list[date] = Field(default_factory=list)  # days the authority adds
    small_number_threshold: int = 5
    targets_file: Path | None = (
        None  # JSON: {"kpi id": {"target": 0.8, "amber_tolerance": 0.05, "higher_is_better": true}}
    )

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
    log_level: str = "INFO"
    log_json: bool = True
    # /metrics needs an ops:admin token unless this is set (docs/operations.md: only where the
    # metrics port is reachable from the monitoring network alone)
    metrics_public: bool = False

    def using_development_secrets(self) -> bool:
        return (
            self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
            or self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY
        )

    def kpi_targets(self) -> dict[str, dict[str, float | bool]]:
        if self.targets_file is None:
            return {}
        loaded = json.loads(self.targets_file.read_text())
        if not isinstance(loaded, dict):
            raise ValueError(f"{self.targets_file}: expected a JSON object of KPI id -> target")
        return loaded


@functools.cache
def get_settings() -> Settings:
    settings = Settings()
    from shared.events import extend_service_areas

    extend_service_areas(settings.extra_service_areas)
    return settings
