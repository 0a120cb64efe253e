"""The notifier end to end on the real RabbitMQ and PostgreSQL, sending to a local SMTP server
(aiosmtpd, in-process) or to the local GOV.UK Notify stand-in (tests/support/notify_stub.py):
a follow-up opened, then due, then overdue sends exactly the right messages once each; a
redelivery sends nothing more; a bad message and a refused address dead-letter with the reason.

Each test runs in a vhost and database of its own (its queues start empty)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as email_policy
from typing import Any

import aio_pika
import httpx
import pytest
from aiosmtpd.controller import Controller

from services.notifier.app import NotifierService, build
from services.notifier.settings import NotifierSettings
from shared.auth import issue_token
from shared.bus import (
    FOLLOWUPS_QUEUE,
    KIND_HEADER,
    ORIGINAL_KEY_HEADER,
    REASON_HEADER,
    OutgoingMessage,
    Publisher,
    connect,
)
from shared.calendar import LONDON
from shared.events import (
    ActionRaised,
    EventData,
    FollowUpDue,
    FollowUpOpened,
    FollowUpOverdue,
    LearningOrigin,
    new_event,
)
from tests.support import servers as srv
from tests.support.notify_stub import API_KEY, free_port, running_notify_stub
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

T = "E10000034"
OWNER, MANAGER, REFUSED = "owner@council.example", "tc@council.example", "gone@council.example"
DIRECTORY = f"kind,id,email\nstaff,staff-1,{OWNER}\nteam,through-care,{MANAGER}\nteam,closed-team,{REFUSED}\n"
TODAY = datetime.now(UTC).astimezone(LONDON).date()


@dataclass
class Mailbox:
    """aiosmtpd's handler: every message it accepted; RCPT TO a refused address gets 550."""

    received: list[tuple[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=lambda: {REFUSED})

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for to in envelope.rcpt_tos:
            self.received.append((to, message_from_bytes(envelope.content, policy=email_policy)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Any]:
        return [m for to, m in self.received if to == address]


@pytest.fixture
def mailbox() -> Any:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


async def started(servers: srv.Servers, suffix: str, **settings: Any) -> AsyncIterator[tuple[NotifierService, Any]]:
    async with srv.module_servers(servers, suffix) as (amqp_url, database_url):
        service, app = build(
            NotifierSettings(
                database_url=database_url,
                amqp_url=amqp_url,
                public_url="https://qa.council.example",
                notify_send_attempts=2,
                **settings,
            ),
            send_digests=False,
        )
        await service.start()
        try:
            yield service, app
        finally:
            await service.stop()


@pytest.fixture
async def smtp_notifier(servers: srv.Servers, mailbox: Any) -> AsyncIterator[tuple[NotifierService, Any, Mailbox]]:
    box, port = mailbox
    async for service, app in started(
        servers, "notifier_smtp", notify_channel="smtp", smtp_host="127.0.0.1", smtp_port=port
    ):
        yield service, app, box


async def load_directory(service: NotifierService, app: Any) -> None:
    token = issue_token(service.settings, ["notifier:admin"], subject="ops-1", tenant=T)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        headers = {"authorization": f"Bearer {token}", "content-type": "text/csv"}
        refused = await client.put(
            "/v1/recipients", content=DIRECTORY, headers={**headers, "authorization": "Bearer x"}
        )
        assert refused.status_code == 401
        answer = await client.put("/v1/recipients", content=DIRECTORY, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"tenant": T, "entries": 3}


class Bus:
    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.sent: dict[str, OutgoingMessage] = {}

    async def publish(self, data: EventData, *, strand: str = "reporting", when: date = TODAY) -> OutgoingMessage:
        at = datetime(when.year, when.month, when.day, 9, tzinfo=LONDON)
        event = new_event(data, source=f"/qaloop/{strand}", tenant=T, time=at)
        message = OutgoingMessage(f"{strand}.{data.event_type}", event.to_json(), event.id)
        await self.send(message)
        return message

    async def send(self, message: OutgoingMessage) -> None:
        connection = await connect(self.amqp_url)
        try:
            await Publisher(connection).publish(message)
        finally:
            await connection.close()


def opened(followup_id: str, team: str, due: date) -> FollowUpOpened:
    return FollowUpOpened(
        followup_id=followup_id,
        rule="action",
        origin="complaint",
        origin_id=followup_id.split(":", 1)[1],
        team=team,
        service_area="fostering",
        due_date=due,
    )


def raised(action_id: str) -> ActionRaised:
    return ActionRaised(
        action_id=action_id,
        origin=LearningOrigin.COMPLAINT,
        origin_id="complaint-1",
        team="through-care",
        service_area="fostering",
        owner_id="staff-1",
        raised_at=datetime.now(UTC) - timedelta(days=20),
        due_date=TODAY - timedelta(days=1),
        summary="Rewrite the letter templates",
    )


async def known(service: NotifierService, followup_id: str) -> bool:
    async with service.unit_of_work() as uow:
        return await uow.followups.get(T, followup_id) is not None


async def dead_letters(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        dlq = await channel.get_queue(f"{queue}.dlq", ensure=False)
        letters = []
        while (letter := await dlq.get(fail=False, no_ack=False)) is not None:
            letters.append(letter)
        for letter in letters:
            await letter.nack(requeue=True)
        return letters
    finally:
        await connection.close()


async def test_opened_due_overdue_are_told_once_each_and_redelivery_sends_nothing_more(smtp_notifier: Any) -> None:
    service, app, box = smtp_notifier
    await load_directory(service, app)
    bus = Bus(service.amqp_url)
    due_date = TODAY - timedelta(days=1)
    await bus.publish(raised("act-1"), strand="audit")
    await bus.publish(opened("action:act-1", "through-care", due_date), when=due_date - timedelta(days=20))
    await eventually(lambda: known(service, "action:act-1"), bool, what="the follow-up is known")
    assert box.received == []  # opening a follow-up is not chased

    due = await bus.publish(FollowUpDue(followup_id="action:act-1", due_date=due_date), when=due_date)
    await eventually(lambda: _count(box), lambda n: n == 2, what="the due e-mails")
    overdue = await bus.publish(FollowUpOverdue(followup_id="action:act-1", due_date=due_date, days_overdue=1))
    await eventually(lambda: _count(box), lambda n: n == 4, what="the overdue e-mails")

    for address in (OWNER, MANAGER):
        subjects = [m["Subject"] for m in box.to(address)]
        assert subjects[0].startswith(f"Follow-up due on {due_date.day} ") and "(through-care)" in subjects[0]
        assert subjects[1].startswith("Follow-up 1 day overdue (through-care)")
        for message in box.to(address):
            body = message.get_content()
            assert "https://qa.council.example/?followup=action%3Aact-1" in body
            assert "Rewrite the letter templates" not in body and "complaint-1" not in body
            assert message["From"] == service.settings.notify_from

    # the same messages again (a redelivery, a replay), then a sentinel behind them
    await bus.send(due)
    await bus.send(overdue)
    await bus.publish(opened("action:sentinel", "through-care", TODAY))
    await eventually(lambda: known(service, "action:sentinel"), bool, what="the sentinel handled")
    assert await _count(box) == 4
    assert await dead_letters(service.amqp_url, FOLLOWUPS_QUEUE) == []


async def test_a_bad_message_and_a_refused_address_dead_letter_with_the_reason(smtp_notifier: Any) -> None:
    service, app, box = smtp_notifier
    await load_directory(service, app)
    bus = Bus(service.amqp_url)
    await bus.send(OutgoingMessage("reporting.FollowUpDue", b"{not json", str(uuid.uuid4())))
    letters = await eventually(
        lambda: dead_letters(service.amqp_url, FOLLOWUPS_QUEUE),
        lambda d: len(d) == 1,
        what="the bad message",
        interval=0.3,
    )
    headers = letters[0].headers or {}
    assert headers[KIND_HEADER] == "not-json" and "body is not JSON" in str(headers[REASON_HEADER])
    assert headers[ORIGINAL_KEY_HEADER] == "reporting.FollowUpDue"

    # the closed-team manager's mailbox is refused for good (550): dead-lettered, nothing retried
    await bus.publish(opened("action:act-2", "closed-team", TODAY))
    await bus.publish(FollowUpDue(followup_id="action:act-2", due_date=TODAY))
    letters = await eventually(
        lambda: dead_letters(service.amqp_url, FOLLOWUPS_QUEUE), lambda d: len(d) == 2, what="the refusal", interval=0.3
    )
    refusal = next(letter for letter in letters if (letter.headers or {})[KIND_HEADER] == "recipient-refused")
    assert "gone@council.example" in str(refusal.headers[REASON_HEADER]) and "550" in str(
        refusal.headers[REASON_HEADER]
    )
    assert json.loads(refusal.body)["type"] == "FollowUpDue"
    async with service.unit_of_work() as uow:
        (notice,) = await uow.notices.find(T, None, 10)
    assert (notice.address, notice.status) == (REFUSED, "refused")
    assert box.received == []


async def test_gov_uk_notify_gets_each_transition_once_with_a_valid_token(servers: srv.Servers) -> None:
    with running_notify_stub() as stub:
        settings = {
            "notify_channel": "notify",
            "notify_api_key": API_KEY,
            "notify_base_url": stub.base_url,
            "notify_template_id": "f0e1d2c3-b4a5-4697-8877-665544332211",
        }
        async for service, app in started(servers, "notifier_notify", **settings):
            await load_directory(service, app)
            bus = Bus(service.amqp_url)
            stub.unavailable = 1  # the first send fails for now: tenacity tries it again
            await bus.publish(raised("act-1"), strand="audit")
            await bus.publish(opened("action:act-1", "through-care", TODAY))
            due = await bus.publish(FollowUpDue(followup_id="action:act-1", due_date=TODAY))
            await eventually(lambda: _stub_count(stub), lambda n: n == 2, what="the Notify e-mails")
            await bus.send(due)
            await bus.publish(opened("action:sentinel", "through-care", TODAY))
            await eventually(functools.partial(known, service, "action:sentinel"), bool, what="the sentinel handled")
    assert sorted(e["email_address"] for e in stub.emails) == sorted([OWNER, MANAGER])
    assert stub.bad_tokens == 0
    for email in stub.emails:
        assert email["template_id"] == settings["notify_template_id"]
        assert email["personalisation"]["subject"].startswith("Follow-up due today (through-care)")
        assert "/?followup=action%3Aact-1" in email["personalisation"]["body"]


async def _count(box: Mailbox) -> int:
    return len(box.received)


async def _stub_count(stub: Any) -> int:
    return len(stub.emails)
