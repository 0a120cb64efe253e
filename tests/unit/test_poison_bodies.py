"""Any body at all is classified as poison with a reason (never an exception that escapes),
and the dead-letter views (`shared.ops.DeadLetter`, its table) show any body: binary,
invalid UTF-8, deeply nested, integers too long to convert (issue #13, item 2)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from shared.bus import KIND_HEADER, REASON_HEADER
from shared.events import AuditGraded, PoisonEvent, new_event
from shared.inbox import MAX_JSON_DEPTH, decode_json, nested_deeper_than, parse_message
from shared.ops import EXCERPT_CHARS, DeadLetter, body_excerpt, dead_letters_table

VALID = new_event(
    AuditGraded(
        audit_id="a1",
        case_ref="case1",
        service_area="send",
        team="send-east",
        audit_type="routine",
        completed_at="2022-08-10T10:00:00Z",
        area_grades=[{"area": "planning", "grade": "good"}],
        overall_grade="good",
        auditor_id="qa1",
    ),
    source="/qaloop/audit",
    tenant="E10000034",
    sequence=1,
).to_json()

BAD = {
    "nested array": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "unterminated nesting": b"[" * 200_000,
    "5000-digit integer": b'{"n": ' + b"9" * 5000 + b"}",
    "5000-digit integer in data": VALID.replace(b'"data":{', b'"data":{"n":' + b"7" * 5000 + b","),
    "invalid utf-8": b'{"id": "\xff\xfe\xfa"}',
    "binary": bytes(range(256)) * 8,
    "empty": b"",
    "utf-16 garbage": b"\xff\xfe{\x00",
    "lone surrogate escape": b'{"id": "\\ud800"}',
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_a_body_that_breaks_the_parser_is_poison_with_a_reason(body: bytes):
    with pytest.raises(PoisonEvent) as caught:
        parse_message(body)
    assert caught.value.kind in {"not-json", "not-cloudevent"} and caught.value.reason


def test_depth_is_bounded_before_parsing_and_strings_do_not_count():
    assert not nested_deeper_than(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert nested_deeper_than(b"[" * (MAX_JSON_DEPTH + 1))
    assert not nested_deeper_than(b'{"text": "' + b"[{" * 1000 + b'\\" ]"}')
    with pytest.raises(PoisonEvent, match=f"deeper than {MAX_JSON_DEPTH}"):
        decode_json(b"[" * 1000 + b"]" * 1000)
    assert parse_message(VALID)[0].type == "AuditGraded"  # an ordinary event is untouched


@pytest.mark.parametrize("body", [*BAD.values(), VALID], ids=[*BAD.keys(), "valid"])
def test_the_dead_letter_views_show_any_body(body: bytes):
    letter = DeadLetter(
        id="x1", message_id="x1", body=body, headers={KIND_HEADER: "not-json", REASON_HEADER: "because"}
    )
    summary = letter.summary()
    assert summary["bytes"] == len(body) and summary["kind"] == "not-json"
    shown = json.loads(json.dumps(letter.to_dict()))  # what GET /v1/ops/dlq/{id} and `show --json` print
    event = shown["event"]
    if body == VALID:
        assert summary["event_type"] == "AuditGraded" and event["type"] == "AuditGraded"
    else:
        assert summary["event_type"] is None
        assert isinstance(event, str) and len(event) <= EXCERPT_CHARS + 40
        event.encode("utf-8")  # an HTTP answer or a terminal can carry it (no lone surrogates)
    console = Console(width=100, record=True)
    console.print(dead_letters_table("reporting.events", 1, [letter]))
    assert "x1" in console.export_text()


def test_an_excerpt_is_short_and_shows_bytes_that_are_not_utf8():
    assert body_excerpt(b"not json at all") == "not json at all"
    assert body_excerpt(b"\xff\x00ok\x1b[2J\n") == "\\xff\\x00ok\\x1b[2J\n"
    long = body_excerpt(b"x" * 100_000)
    assert long.startswith("x" * EXCERPT_CHARS) and long.endswith("(100,000 bytes)")
