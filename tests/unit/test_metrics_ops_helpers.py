"""shared.ops on plain data: queue names, vhosts, and what a dead letter says about itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from shared.bus import DEAD_AT_HEADER, EXCHANGE, KIND_HEADER, ORIGINAL_KEY_HEADER, ORIGINAL_QUEUE_HEADER, REASON_HEADER
from shared.ops import (
    REPLAYED_AT_HEADER,
    DeadLetter,
    QueueStats,
    UnknownQueue,
    dead_letters_table,
    queue_spec,
    queues_table,
    vhost_of,
)


def test_queue_names_and_vhosts():
    assert queue_spec("reporting.events").dlq == "reporting.events.dlq"
    assert queue_spec("reporting.events.dlq").name == "reporting.events"
    with pytest.raises(UnknownQueue):
        queue_spec("audit.events")
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672") == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672/qaloop_test_1") == "qaloop_test_1"
    assert vhost_of("amqp://guest:guest@localhost:5672/%2Fprod") == "/prod"


def test_a_qaloop_dead_letter_and_its_replay():
    body = json.dumps({"specversion": "1.0", "id": "e1", "type": "AuditGraded", "data": {}}).encode()
    letter = DeadLetter(
        id="e1",
        message_id="e1",
        body=body,
        headers={
            REASON_HEADER: "data.overall_grade: not a grade",
            KIND_HEADER: "invalid-data",
            ORIGINAL_KEY_HEADER: "audit.AuditGraded",
            ORIGINAL_QUEUE_HEADER: "reporting.events",
            DEAD_AT_HEADER: "2023-01-01T00:00:00+00:00",
            "traceparent": "00-abc-def-01",
        },
    )
    assert letter.summary() | {"bytes": 0} == {
        "id": "e1",
        "message_id": "e1",
        "event_type": "AuditGraded",
        "kind": "invalid-data",
        "reason": "data.overall_grade: not a grade",
        "original_routing_key": "audit.AuditGraded",
        "original_queue": "reporting.events",
        "dead_lettered_at": "2023-01-01T00:00:00+00:00",
        "bytes": 0,
    }
    out = letter.replay_message()
    assert (out.exchange, out.routing_key, out.message_id, out.body) == (EXCHANGE, "audit.AuditGraded", "e1", body)
    assert set(out.headers) == {"traceparent", REPLAYED_AT_HEADER}  # the dead-letter headers are dropped


def test_a_broker_dead_letter_uses_x_death_and_a_body_without_id_gets_a_hash_id():
    when = datetime(2023, 1, 2, tzinfo=UTC)
    letter = DeadLetter(
        id="sha256:0123",
        message_id=None,
        body=b"not json",
        headers={
            "x-death": [
                {"reason": "delivery_limit", "queue": "reporting.events", "routing-keys": [b"casework.X"], "time": when}
            ]
        },
    )
    assert letter.kind == "broker:delivery_limit"
    assert letter.original_routing_key == "casework.X"
    assert letter.dead_lettered_at == when.isoformat()
    assert letter.event() == "not json" and letter.event_type is None
    json.dumps(letter.to_dict())  # headers with bytes and datetimes are made JSON-safe
    no_key = DeadLetter(id="x", message_id="x", body=b"{}", headers={})
    with pytest.raises(ValueError, match="no original routing key"):
        no_key.replay_message()


def test_tables_render():
    console = Console(width=100, record=True)
    console.print(
        queues_table(
            [
                QueueStats("reporting.events", "management", 12, 10, 2, 1, 3.5, 3.0),
                QueueStats("reporting.events.dlq", "amqp", 4, 4, None, 0),
                QueueStats("reporting.followups", "unreachable", error="AMQPConnectionError: refused"),
            ]
        )
    )
    letter = DeadLetter(id="e1", message_id="e1", body=b"{}", headers={KIND_HEADER: "not-json", REASON_HEADER: "x"})
    console.print(dead_letters_table("reporting.events", 3, [letter]))
    text = console.export_text()
    assert "reporting.events.dlq" in text and "12" in text and "refused" in text
    assert "3 dead letter(s), showing 1" in text and "not-json" in text
