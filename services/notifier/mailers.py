"""The mail adapters behind `domain.Mailer`, chosen by `QALOOP_NOTIFY_CHANNEL`:

* `smtp` — `SmtpMailer`, aiosmtplib to `QALOOP_SMTP_HOST`;
* `notify` — `NotifyMailer`, GOV.UK Notify through `notifications-python-client` (its
  `NotificationsAPIClient`, pointed at `QALOOP_NOTIFY_BASE_URL`), with one e-mail template
  whose subject is `((subject))` and whose body is `((body))`;
* `none` — `NullMailer`: nothing is sent, the notices are still recorded.

Each adapter says whether a failure is for good (`RecipientRefused`: a 5xx SMTP reply to the
recipient, a Notify 400 "not a valid e-mail address") or for now (`MailerUnavailable`:
connection refused, timeouts, 4xx SMTP replies, Notify 429 and 5xx). `Retrying` tries a
send that failed for now again with exponential back-off (tenacity) before giving up.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import tenacity

from services.notifier.domain import Mailer, MailerUnavailable, Message, RecipientRefused
from services.notifier.settings import NotifierSettings

log = logging.getLogger(__name__)


class NullMailer:
    """`QALOOP_NOTIFY_CHANNEL=none`: the notices are recorded, nothing is sent."""

    channel = "none"

    async def send(self, message: Message) -> None:
        log.info("not sending (channel none): %s", message.subject)


class SmtpMailer:
    channel = "smtp"

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    def _email(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.notify_from
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        return email

    async def send(self, message: Message) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                self._email(message),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls,
                start_tls=s.smtp_starttls or None,
                timeout=s.smtp_timeout,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused) as exc:
            refused = getattr(exc, "recipients", [exc])
            if all(getattr(r, "code", 500) >= 500 for r in refused):
                raise RecipientRefused(f"SMTP refused the recipient: {_smtp_reason(refused[0])}") from exc
            raise MailerUnavailable(f"SMTP deferred the recipient: {_smtp_reason(refused[0])}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise MailerUnavailable(f"SMTP answered {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailerUnavailable(f"SMTP server unavailable: {type(exc).__name__}: {exc}") from exc


def _smtp_reason(error: Any) -> str:
    return f"{getattr(error, 'code', '?')} {getattr(error, 'message', error)}"


class NotifyMailer:
    """GOV.UK Notify. The client is synchronous (requests): each send runs in a thread."""

    channel = "notify"

    def __init__(self, settings: NotifierSettings) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        if settings.notify_api_key is None or not settings.notify_template_id:
            raise ValueError("QALOOP_NOTIFY_CHANNEL=notify needs QALOOP_NOTIFY_API_KEY and QALOOP_NOTIFY_TEMPLATE_ID")
        self.template_id = settings.notify_template_id
        self.client = NotificationsAPIClient(
            settings.notify_api_key.get_secret_value(), base_url=settings.notify_base_url, timeout=30
        )
        self._lock = asyncio.Lock()  # the client (a requests session) is not thread-safe

    async def send(self, message: Message) -> None:
        from notifications_python_client.errors import APIError

        async with self._lock:
            try:
                await asyncio.to_thread(
                    self.client.send_email_notification,
                    email_address=message.to,
                    template_id=self.template_id,
                    personalisation={"subject": message.subject, "body": message.body},
                )
            except APIError as exc:
                if exc.status_code == 400:
                    raise RecipientRefused(f"GOV.UK Notify refused it: {exc.message}") from exc
                raise MailerUnavailable(f"GOV.UK Notify answered {exc.status_code}: {exc.message}") from exc
            except OSError as exc:
                raise MailerUnavailable(f"GOV.UK Notify unreachable: {exc}") from exc


class Retrying:
    """Another mailer, with each send that fails for now tried again (exponential back-off,
    `attempts` in all) before `MailerUnavailable` goes up to the handler."""

    def __init__(self, mailer: Mailer, *, attempts: int = 4, first_wait: float = 0.5, max_wait: float = 8.0) -> None:
        self.mailer = mailer
        self.channel = mailer.channel
        self.retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(MailerUnavailable),
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_exponential(multiplier=first_wait, max=max_wait),
            before_sleep=lambda state: log.warning(
                "sending failed (%s); attempt %d, trying again",
                state.outcome.exception() if state.outcome else None,
                state.attempt_number,
            ),
            reraise=True,
        )

    async def send(self, message: Message) -> None:
        await self.retrying(self.mailer.send, message)


def mailer_for(settings: NotifierSettings) -> Mailer:
    """The configured channel's mailer, retrying."""
    chosen: Mailer
    if settings.notify_channel == "smtp":
        chosen = SmtpMailer(settings)
    elif settings.notify_channel == "notify":
        chosen = NotifyMailer(settings)
    else:
        return NullMailer()
    return Retrying(chosen, attempts=settings.notify_send_attempts)
