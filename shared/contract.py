"""The public bus contract, generated from the code: JSON Schemas and an AsyncAPI 3 document.

CONTRACT.md §1 is the source of truth; `shared.events` implements it, and this module
describes what `shared.events` accepts so that other systems can be written without Python:

- `json_schemas()`: one JSON Schema (draft 2020-12) per event type — the CloudEvents
  envelope with `type` fixed and `data` set to that type's pydantic model schema.
- `asyncapi_document()`: an AsyncAPI 3.0.0 document — one channel per routing key, the
  producers' `send` operations and reporting's `receive` operations on `reporting.events`.
- `export(directory)`: writes both, deterministically (sorted keys, trailing newline), so a
  checked-in copy (`docs/contract/`) can be compared byte for byte in tests.

Regenerate the checked-in copy with `python -m shared.contract docs/contract`.
The broker address in the document is a placeholder: credentials never appear in it.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.bus import CONTENT_TYPE, DLX, EXCHANGE, REPORTING_QUEUE
from shared.events import EVENT_MODELS, STRANDS, CloudEvent

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
SERVER = "rabbitmq"
SERVER_HOST = "localhost:5672"  # a placeholder: deployments set QALOOP_AMQP_URL

# Strands whose services raise learning actions; ActionRaised/ActionCompleted are published
# under each of them (`audit.ActionRaised`, `feedback.ActionRaised`, `complaints.ActionRaised`).
ACTION_STRANDS = ("audit", "feedback", "complaints", "workforce")

PRODUCERS = {
    "audit": "the audit service (services/audit), through its outbox with publisher confirms",
    "feedback": "the feedback service (services/feedback), through its outbox with publisher confirms",
    "complaints": "the complaints service (services/complaints), through its outbox with publisher confirms",
    "workforce": "the workforce service (services/workforce), through its outbox with publisher confirms",
    "casework": "case-management systems (CloudEvents source /cms/<system-name>)",
    "reporting": "the reporting service (services/reporting), for follow-ups of the learning loop",
}

_ENVELOPE_NOTES = {
    "id": "Unique per event; consumers deduplicate on (source, id). Also the AMQP message_id.",
    "source": "/qaloop/<strand> for qaloop's services, /cms/<system-name> for case-management systems.",
    "time": "When the fact happened (RFC 3339, UTC or with offset), not when it was sent.",
    "subject": "The pseudonymised case reference, where the event concerns one child's case.",
    "tenant": "The local authority (ONS code).",
    "sequence": "Counts events per aggregate from 1 (a decimal string), so stale ones can be ignored.",
    "traceparent": "W3C trace context (CloudEvents distributed tracing extension).",
    "dataschema": "urn:qaloop:event:<Type>:1",
}


# --------------------------------------------------------------------------- routing


def routing_keys() -> list[tuple[str, str]]:
    """Every (strand, event type) that appears on the bus, in STRANDS then catalogue order."""
    keys: list[tuple[str, str]] = []
    for strand in STRANDS:
        for event_type, model in EVENT_MODELS.items():
            if model.strand == strand or (not model.strand and strand in ACTION_STRANDS):
                keys.append((strand, event_type))
    return keys


def schema_id(event_type: str) -> str:
    return f"urn:qaloop:event:{event_type}:1"


# --------------------------------------------------------------------------- JSON Schema


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    for name, note in _ENVELOPE_NOTES.items():
        schema["properties"][name]["description"] = note
    return schema


def _data_schema(event_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the model's schema without `$defs`, its `$defs`) — refs are `#/$defs/<Name>`."""
    schema = EVENT_MODELS[event_type].model_json_schema()
    defs = schema.pop("$defs", {})
    return schema, defs


def _summary(event_type: str) -> str:
    strands = [s for s, t in routing_keys() if t == event_type]
    keys = ", ".join(f"{s}.{event_type}" for s in strands)
    return f"{event_type}: a CloudEvents 1.0 event on exchange {EXCHANGE}, routing key {keys}."


def json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema (draft 2020-12) per event type, keyed by type."""
    schemas: dict[str, dict[str, Any]] = {}
    for event_type in EVENT_MODELS:
        schema = _envelope_schema()
        data, defs = _data_schema(event_type)
        schema["properties"]["type"] = {"const": event_type, "title": "Type", "type": "string"}
        schema["properties"]["data"] = data
        schema.update(
            {
                "$schema": JSON_SCHEMA_DIALECT,
                "$id": schema_id(event_type),
                "title": event_type,
                "description": _summary(event_type),
            }
        )
        if defs:
            schema["$defs"] = defs
        schemas[event_type] = schema
    return schemas


# --------------------------------------------------------------------------- AsyncAPI


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _rewrite_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`#/$defs/X` -> `#/components/schemas/X`, so the document is self-contained."""
    schema = copy.deepcopy(schema)
    for node in _walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
    return schema


def _add_schema(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are both named {name!r}: rename one model")
    schemas[name] = schema


def _ref(*parts: str) -> dict[str, str]:
    # JSON Pointer escaping (RFC 6901); routing keys only need it in theory.
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


def _envelope_name(event_type: str) -> str:
    return f"{event_type}Event"


def _envelope_of(event_type: str) -> dict[str, Any]:
    """The schema of one event type's envelope: the CloudEvent with its type and data."""
    return {
        "title": _envelope_name(event_type),
        "description": _summary(event_type),
        "allOf": [
            _ref("components", "schemas", "CloudEvent"),
            {
                "type": "object",
                "properties": {
                    "type": {"const": event_type, "type": "string"},
                    "dataschema": {"type": "string", "examples": [schema_id(event_type)]},
                    "data": _ref("components", "schemas", event_type),
                },
            },
        ],
    }


def _message(event_type: str) -> dict[str, Any]:
    return {
        "name": event_type,
        "title": event_type,
        "summary": _summary(event_type),
        "contentType": CONTENT_TYPE,
        "payload": _ref("components", "schemas", _envelope_name(event_type)),
        "correlationId": {
            "description": "The CloudEvents id, also sent as the AMQP message_id.",
            "location": "$message.payload#/id",
        },
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _components() -> dict[str, Any]:
    """Every event type's data schema (with the schemas it refers to), envelope and message."""
    schemas: dict[str, Any] = {"CloudEvent": _envelope_schema()}
    messages: dict[str, Any] = {}
    for event_type in EVENT_MODELS:
        data, defs = _data_schema(event_type)
        for name, definition in defs.items():
            _add_schema(schemas, name, _rewrite_refs(definition))
        _add_schema(schemas, event_type, _rewrite_refs(data))
        _add_schema(schemas, _envelope_name(event_type), _envelope_of(event_type))
        messages[event_type] = _message(event_type)
    return {"schemas": schemas, "messages": messages}


def _channel(strand: str, event_type: str) -> dict[str, Any]:
    key = f"{strand}.{event_type}"
    return {
        "address": key,
        "title": key,
        "description": f"{event_type} events published by {PRODUCERS[strand]}.",
        "servers": [_ref("servers", SERVER)],
        "messages": {event_type: _ref("components", "messages", event_type)},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": EXCHANGE,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _send(strand: str, key: str, message_ref: dict[str, str]) -> dict[str, Any]:
    return {
        "action": "send",
        "title": f"Publish {key}",
        "summary": f"Published by {PRODUCERS[strand]}: persistent, mandatory, confirmed.",
        "channel": _ref("channels", key),
        "messages": [message_ref],
        "tags": [{"name": strand}],
        "bindings": {
            "amqp": {
                "deliveryMode": 2,
                "mandatory": True,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _receive(key: str, message_ref: dict[str, str]) -> dict[str, Any]:
    return {
        "action": "receive",
        "title": f"Consume {key}",
        "summary": (
            f"The reporting service consumes {key} from the quorum queue "
            f"{REPORTING_QUEUE}, acking only after its transaction commits; "
            f"poison messages go to {DLX} and {REPORTING_QUEUE}.dlq."
        ),
        "channel": _ref("channels", key),
        "messages": [message_ref],
        "tags": [{"name": "reporting"}],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        "x-qaloop-queue": {
            "name": REPORTING_QUEUE,
            "type": "quorum",
            "durable": True,
            "deadLetterExchange": DLX,
            "deadLetterQueue": f"{REPORTING_QUEUE}.dlq",
        },
    }


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    """A channel per routing key; its producers' send operation and, but for reporting's
    own events, reporting's receive operation."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for strand, event_type in routing_keys():
        key = f"{strand}.{event_type}"
        channels[key] = _channel(strand, event_type)
        message_ref = _ref("channels", key, "messages", event_type)
        operations[f"send.{key}"] = _send(strand, key, message_ref)
        if strand != "reporting":  # reporting.events is bound to every strand but its own
            operations[f"receive.{key}"] = _receive(key, message_ref)
    return channels, operations


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of qaloop's bus, generated from `shared.events`."""
    components = _components()
    channels, operations = _channels_and_operations()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:qaloop:events",
        "info": {
            "title": "qaloop events",
            "version": "1.0.0",
            "description": (
                "Events of qaloop, the quality-assurance platform for children's services: "
                "CloudEvents 1.0 in structured mode on the RabbitMQ topic exchange "
                f"{EXCHANGE}, routing key <strand>.<EventType>. Generated from shared.events; "
                "CONTRACT.md is the source of truth."
            ),
            "license": {"name": "MIT"},
            "tags": [{"name": strand, "description": f"Published by {PRODUCERS[strand]}."} for strand in STRANDS],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            SERVER: {
                "host": SERVER_HOST,
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "title": "RabbitMQ",
                "description": (
                    "A placeholder address: each deployment sets QALOOP_AMQP_URL "
                    "(credentials are never part of this document)."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": components,
    }


# --------------------------------------------------------------------------- export


def render_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path) -> list[Path]:
    """Write `schemas/<Type>.json`, `asyncapi.json` (and `asyncapi.yaml` with PyYAML)."""
    directory = Path(directory)
    (directory / "schemas").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)

    for event_type, schema in sorted(json_schemas().items()):
        write(directory / "schemas" / f"{event_type}.json", render_json(schema))
    document = asyncapi_document()
    write(directory / "asyncapi.json", render_json(document))
    try:
        import yaml
    except ImportError:  # PyYAML is a dev dependency; the JSON says the same
        return written
    write(
        directory / "asyncapi.yaml",
        yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100),
    )
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m shared.contract DIRECTORY", file=sys.stderr)
        return 2
    for path in export(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
