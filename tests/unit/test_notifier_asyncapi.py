"""FastStream's AsyncAPI output for the notifier's subscribers, checked against the project's
own document (`shared.contract.asyncapi_document`): every queue it reads is one of
`shared.bus`'s with the same binding, and every message it consumes is a channel and a
message of the project's document with the same payload schema (data and envelope). The
output is also valid for the official AsyncAPI parser (STYLE.md trap 8), and names no
credentials."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from services.notifier import consumer
from services.notifier.domain import Policy
from shared.bus import CONSUMER_QUEUES
from shared.contract import asyncapi_document
from tests.fakes.notifier import RecordingMailer

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "tools" / "asyncapi-validate"
CONSUMED = {"FollowUpOpened", "FollowUpDue", "FollowUpOverdue", "FollowUpClosed", "ActionRaised"}


def notifier_document() -> dict[str, Any]:
    notifier = consumer.Notifier(lambda: None, RecordingMailer(), Policy("https://qa.example"))  # type: ignore[arg-type,return-value]
    broker = consumer.build_broker("amqp://notifier-user:s3cret-pass@mq.internal:5672/qaloop", notifier, None)  # type: ignore[arg-type]
    spec = AsyncAPI(broker, title="qaloop notifier", version="1.0.0", schema_version="3.0.0")
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def resolve(document: dict[str, Any], node: Any) -> Any:
    """`node` with every `#/components/schemas/…` reference inlined."""
    if isinstance(node, list):
        return [resolve(document, item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return resolve(document, document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    return {key: resolve(document, value) for key, value in node.items()}


def without_descriptions(node: Any) -> Any:
    if isinstance(node, list):
        return [without_descriptions(item) for item in node]
    if isinstance(node, dict):
        return {k: without_descriptions(v) for k, v in node.items() if k != "description"}
    return node


def topic_matches(pattern: str, key: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", r"[^.]+").replace(r"\#", r".*")
    return re.fullmatch(regex, key) is not None


def consumed_schemas(document: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per queue: (address, envelope schema) of every message its subscriber consumes."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for channel in document["channels"].values():
        queue = channel["bindings"]["amqp"]["queue"]["name"]
        for ref in channel["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            payload = message["payload"]
            branches = payload.get("oneOf", [payload])
            for branch in branches.values() if isinstance(branches, dict) else branches:
                out.setdefault(queue, []).append((channel["address"], resolve(document, branch)))
    return out


def test_every_queue_the_notifier_reads_is_declared_by_the_topology_with_the_same_binding() -> None:
    specs = {spec.name: spec for spec in CONSUMER_QUEUES}
    consumed = consumed_schemas(notifier_document())
    assert set(consumed) == {"reporting.followups", "notifier.actions"}
    for queue, messages in consumed.items():
        for address, _ in messages:
            assert (address,) == specs[queue].bindings


def test_every_message_it_consumes_is_in_the_project_document_with_the_same_payload() -> None:
    ours = asyncapi_document()
    envelope = without_descriptions(resolve(ours, ours["components"]["schemas"]["CloudEvent"]))
    seen = set()
    for _, messages in consumed_schemas(notifier_document()).items():
        for address, schema in messages:
            event_type = schema["properties"]["type"]["const"]
            seen.add(event_type)
            channels = [
                key
                for key, ch in ours["channels"].items()
                if event_type in ch["messages"] and topic_matches(address, key)
            ]
            assert channels, f"{event_type}: no channel of the project's document matches {address}"
            assert ours["components"]["messages"][event_type]["name"] == event_type
            data = resolve(ours, ours["components"]["schemas"][event_type])
            assert schema["properties"]["data"] == data, event_type
            for name, field in envelope["properties"].items():
                if name not in ("type", "data"):
                    assert without_descriptions(schema["properties"][name]) == field, (event_type, name)
            assert set(schema["required"]) == set(envelope["required"]), event_type
    assert seen == CONSUMED


def test_the_document_names_no_credentials_and_is_valid_for_the_official_parser(tmp_path: Path) -> None:
    document = notifier_document()
    text = json.dumps(document)
    assert "s3cret" not in text and "notifier-user" not in text and "mq.internal" not in text
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed for the official AsyncAPI parser (tools/asyncapi-validate)"
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir():  # as tests/contract does
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(VALIDATOR), "--ignore-scripts", "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    path = tmp_path / "notifier-asyncapi.json"
    path.write_text(text)
    result = subprocess.run(
        [node, str(VALIDATOR / "validate.mjs"), str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout
