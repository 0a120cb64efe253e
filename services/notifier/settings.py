"""The notifier's settings: the shared `QALOOP_*` ones and its own (README "Notifications").

* `QALOOP_PUBLIC_URL` — where people open qaloop; every message links to
  `{QALOOP_PUBLIC_URL}/?followup={followup_id}`, which the dashboard opens (never a
  child's details).
* `QALOOP_NOTIFY_CHANNEL` — `smtp`, `notify` (GOV.UK Notify) or `none` (record, send nothing).
* `QALOOP_NOTIFY_DIGEST` — `immediate` (one e-mail per transition) or `daily` (one digest per
  recipient per day); a recipient's own `delivery` in the directory wins.
* SMTP: `QALOOP_SMTP_HOST`, `_PORT`, `_USERNAME`, `_PASSWORD`, `_STARTTLS`, `_TLS`,
  `QALOOP_NOTIFY_FROM`.
* GOV.UK Notify: `QALOOP_NOTIFY_API_KEY`, `QALOOP_NOTIFY_BASE_URL`, `QALOOP_NOTIFY_TEMPLATE_ID`
  (an e-mail template whose subject is `((subject))` and body `((body))`).
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, SecretStr

from shared.events import extend_service_areas
from shared.settings import Settings

Channel = Literal["smtp", "notify", "none"]
Delivery = Literal["immediate", "daily"]


class NotifierSettings(Settings):
    """The shared settings (the notifier's own URLs and port among them) and the notifier's."""

    public_url: str = "http://localhost:8000"
    notify_channel: Channel = "none"
    notify_digest: Delivery = "immediate"
    # local (Europe/London) hour from which the day's digests are sent
    notify_digest_hour: int = Field(default=7, ge=0, le=23)
    # a Due or Overdue published this many days or more after its due date is history being
    # loaded (reporting catching up), not news: recorded as `late`, not sent
    notify_late_days: int = Field(default=14, ge=1)
    notify_from: str = "qaloop@localhost"
    # how often one e-mail is tried before the message goes back to the queue
    notify_send_attempts: int = Field(default=4, ge=1, le=10)
    notify_prefetch: int = Field(default=10, ge=1, le=1000)

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout: float = 30.0

    notify_api_key: SecretStr | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_template_id: str | None = None


@functools.cache
def get_notifier_settings() -> NotifierSettings:
    settings = NotifierSettings()
    extend_service_areas(settings.extra_service_areas)
    return settings
