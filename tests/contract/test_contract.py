"""The bus contract: the event models against CONTRACT.md, the exported JSON Schemas and the
AsyncAPI document (checked in under docs/contract/, validated with the official parser)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from shared.contract import asyncapi_document, export, json_schemas, routing_keys
from shared.events import EVENT_MODELS, PoisonEvent, model_for, parse_event
from tests.support.samples import sample_data, sample_event, sample_model, sample_types

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
CONTRACT_DIR = REPO / "docs" / "contract"
VALIDATOR_DIR = REPO / "tools" / "asyncapi-validate"
REGENERATE = ".venv/bin/qaloop contract export docs/contract"  # = python -m shared.contract

# CONTRACT.md §1 "Event catalogue", copied by hand on purpose: a model that drifts from the
# published contract must fail here. A trailing `?` marks an optional field.
CONTRACT_EVENTS: dict[str, str] = {
    "AuditScheduled": "audit_id case_ref service_area team audit_type theme? concern_id? auditor_id due_date",
    "AuditGraded": "audit_id case_ref service_area team audit_type concern_id? completed_at "
    "area_grades overall_grade auditor_id procedure_compliant?",
    "AuditModerated": "audit_id overall_grade_before overall_grade_after moderator_id moderated_at reason?",
    "ConcernRaised": "concern_id service_area theme description measures raised_at review_by supersedes?",
    "ConcernResolved": "concern_id resolved_at evidence_audit_ids outcome? reason?",
    # §4 Additions (2026-12)
    "InspectionFindingRecorded": "finding_id body service_area team? summary recorded_at",
    "FeedbackReceived": "response_id survey_id service_area team? respondent received_at channel? answers",
    # summary_shareable? (issue 14 item 12, "celebrate success"): not in CONTRACT.md; added under
    # §4's rule that additions are additive and optional (consumers ignore fields they do not know)
    "ComplimentReceived": "compliment_id service_area team origin received_at summary? summary_shareable?",
    "YouSaidWeDidPublished": "item_id service_area theme you_said we_did feedback_ids action_id? published_at",
    "ComplaintReceived": "complaint_id procedure stage category team service_area received_at complainant",
    "ComplaintAcknowledged": "complaint_id acknowledged_at",
    "ComplaintExtended": "complaint_id stage new_due_date reason",
    "ComplaintEscalated": "complaint_id from_stage to_stage escalated_at late_request?",
    "ComplaintClosed": "complaint_id stage closed_at outcome points due_date within_timescale working_days_taken",
    "LearningIdentified": "learning_id origin origin_id team service_area summary",
    # CONTRACT.md §4 "Additions (2026-12)"
    "ComplaintStatementAgreed": "complaint_id agreed_at",
    "ComplaintPanelHeld": "complaint_id held_at",
    "ComplaintReferredToOmbudsman": "complaint_id referred_at",
    "OmbudsmanDecided": "complaint_id decided_at finding",
    "ActionRaised": "action_id origin origin_id team service_area owner_id raised_at due_date summary",
    "ActionCompleted": "action_id completed_at evidence?",
    "ReferralReceived": "referral_id child_ref received_at team service_area",
    "AssessmentCompleted": "assessment_id child_ref referral_id? started_at completed_at team service_area",
    "EhcpIssued": "plan_id child_ref requested_at issued_at exception team service_area",
    "CaseworkerContactAttempted": "attempt_id child_ref team service_area attempted_at reached",
    "FollowUpOpened": "followup_id rule origin origin_id team service_area due_date",
    "FollowUpDue": "followup_id due_date",
    "FollowUpOverdue": "followup_id due_date days_overdue",
    "FollowUpClosed": "followup_id closed_at closed_by_event_id on_time",
    # CONTRACT.md §4 "Additions (2026-12)"
    "StaffJoined": "worker_id team service_area role contract fte case_holding joined_at",
    "StaffLeft": "worker_id left_at reason",
    "VacancyRecorded": "team service_area vacant_fte as_of",
    "CaseloadRecorded": "worker_id cases as_of",
    "StaffSurveyResponseReceived": "response_id survey_id team? service_area received_at answers",
}

# Fields CONTRACT.md lists as required that the models accept without (known leniencies):
# `stage (1)` defaults to 1; a follow-up rule may concern no single team or service area.
LENIENT_FIELDS = {
    ("ComplaintReceived", "stage"),
    ("FollowUpOpened", "team"),
    ("FollowUpOpened", "service_area"),
}

EVENT_TYPES = list(CONTRACT_EVENTS)


def contract_fields(event_type: str) -> tuple[set[str], set[str]]:
    """(required, optional) field names of `event_type` in CONTRACT.md."""
    words = CONTRACT_EVENTS[event_type].split()
    return {w for w in words if not w.endswith("?")}, {w[:-1] for w in words if w.endswith("?")}


# --------------------------------------------------------------------------- models


def test_every_contract_event_type_has_a_model() -> None:
    missing = sorted(set(CONTRACT_EVENTS) - set(EVENT_MODELS))
    undocumented = sorted(set(EVENT_MODELS) - set(CONTRACT_EVENTS))
    assert not missing, f"event types in CONTRACT.md without a model in shared.events: {missing}"
    assert not undocumented, f"models not in CONTRACT.md (add them there first): {undocumented}"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_model_fields_match_the_contract(event_type: str) -> None:
    required, optional = contract_fields(event_type)
    fields = model_for(event_type).model_fields
    assert set(fields) == required | optional, f"{event_type}: fields differ from CONTRACT.md"
    for name in optional:
        assert not fields[name].is_required(), f"{event_type}.{name} is optional in CONTRACT.md"
    for name in required:
        if (event_type, name) not in LENIENT_FIELDS:
            assert fields[name].is_required(), f"{event_type}.{name} is required in CONTRACT.md"


def test_there_is_a_sample_for_every_event_type() -> None:
    assert sorted(sample_types()) == sorted(EVENT_MODELS)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_round_trips_through_json(event_type: str) -> None:
    event = sample_event(event_type)
    body = event.to_json()

    envelope, data = parse_event(body)

    assert envelope == event
    assert type(data) is model_for(event_type)
    assert data == sample_model(event_type)
    assert envelope.to_json() == body
    assert envelope.dataschema == f"urn:qaloop:event:{event_type}:1"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_missing_field_is_named_in_the_error(event_type: str) -> None:
    required = [n for n, f in model_for(event_type).model_fields.items() if f.is_required()]
    assert required
    for name in required:
        body = json.loads(sample_event(event_type).to_json())
        del body["data"][name]
        with pytest.raises(PoisonEvent) as caught:
            parse_event(json.dumps(body))
        assert caught.value.kind == "invalid-data"
        assert f"data.{name}" in caught.value.reason, caught.value.reason


@pytest.mark.parametrize(
    ("event_type", "path", "value", "named"),
    [
        ("AuditGraded", ("area_grades", 1, "grade"), "excellent", "data.area_grades.1.grade"),
        ("ComplaintClosed", ("outcome",), "maybe", "data.outcome"),
        ("FeedbackReceived", ("answers", 0, "value"), 9, "data.answers.0.value"),
        ("ReferralReceived", ("service_area",), "astrology", "data.service_area"),
        ("FollowUpOverdue", ("days_overdue",), -1, "data.days_overdue"),
        ("ComplaintAcknowledged", ("acknowledged_at",), "last tuesday", "data.acknowledged_at"),
    ],
)
def test_malformed_field_is_named_in_the_error(
    event_type: str, path: tuple[str | int, ...], value: Any, named: str
) -> None:
    body = json.loads(sample_event(event_type).to_json())
    node = body["data"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value

    with pytest.raises(PoisonEvent) as caught:
        parse_event(json.dumps(body))

    assert named in caught.value.reason, caught.value.reason


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_unknown_extra_fields_are_tolerated(event_type: str) -> None:
    body = json.loads(sample_event(event_type).to_json())
    body["partitionkey"] = "E10000034"  # a CloudEvents extension attribute qaloop does not know
    body["data"]["added_in_a_later_version"] = {"nested": [1, 2, 3]}

    envelope, data = parse_event(json.dumps(body))

    assert data.model_extra == {"added_in_a_later_version": {"nested": [1, 2, 3]}}
    assert envelope.model_extra == {"partitionkey": "E10000034"}


def test_unknown_fields_inside_nested_items_are_tolerated() -> None:
    body = json.loads(sample_event("AuditGraded").to_json())
    body["data"]["area_grades"][0]["comment"] = "strong chronology"
    _, data = parse_event(json.dumps(body))
    assert data.model_dump()["area_grades"][0]["comment"] == "strong chronology"


# --------------------------------------------------------------------------- exported files


def test_checked_in_contract_is_up_to_date(tmp_path: Path) -> None:
    written = export(tmp_path)
    expected = {p.relative_to(tmp_path).as_posix() for p in written}
    present = {p.relative_to(CONTRACT_DIR).as_posix() for p in CONTRACT_DIR.rglob("*") if p.is_file()}
    hint = f"docs/contract/ is out of date with shared.events: regenerate it with `{REGENERATE}`"

    assert sorted(expected - present) == [], f"{hint} (missing files)"
    assert sorted(present - expected) == [], f"{hint} (stale files: delete them)"
    stale = sorted(name for name in expected if (tmp_path / name).read_bytes() != (CONTRACT_DIR / name).read_bytes())
    assert stale == [], f"{hint} (differs: {stale})"


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in export(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in export(tmp_path / "b")}
    assert first == second
    assert all(text.endswith(b"\n") for text in first.values())


def checked_in_schema(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONTRACT_DIR / "schemas" / f"{event_type}.json").read_text())
    return loaded


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_exported_json_schema_is_a_valid_schema(event_type: str) -> None:
    schema = checked_in_schema(event_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:qaloop:event:{event_type}:1"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema == json_schemas()[event_type]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_sample_event_validates_against_its_schema(event_type: str) -> None:
    validator = Draft202012Validator(checked_in_schema(event_type), format_checker=Draft202012Validator.FORMAT_CHECKER)
    body = json.loads(sample_event(event_type).to_json())
    validator.validate(body)

    body["data"]["unknown_extra"] = True  # tolerated by the schema as by the model
    validator.validate(body)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_rejects_what_the_model_rejects(event_type: str) -> None:
    validator = Draft202012Validator(checked_in_schema(event_type))
    body = json.loads(sample_event(event_type).to_json())
    required = next(n for n, f in model_for(event_type).model_fields.items() if f.is_required())
    del body["data"][required]
    with pytest.raises(SchemaError):
        validator.validate(body)

    other = json.loads(sample_event(event_type).to_json())
    other["type"] = "SomethingElse"
    with pytest.raises(SchemaError):
        validator.validate(other)


# --------------------------------------------------------------------------- AsyncAPI


def test_asyncapi_document_describes_the_bus() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "qaloop events"
    assert doc["info"]["version"] == "1.0.0"
    server = doc["servers"]["rabbitmq"]
    assert server["protocol"] == "amqp"
    assert "@" not in server["host"]

    expected = {f"{strand}.{event_type}" for strand, event_type in routing_keys()}
    assert set(doc["channels"]) == expected
    for strand in ("audit", "feedback", "complaints", "workforce"):
        assert {f"{strand}.ActionRaised", f"{strand}.ActionCompleted"} <= expected
    for event_type, model in EVENT_MODELS.items():
        if model.strand:
            assert f"{model.strand}.{event_type}" in expected
    for key, channel in doc["channels"].items():
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"] == {
            "name": "qa.events",
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }
        assert channel["address"] == key

    sends = {k for k, op in doc["operations"].items() if op["action"] == "send"}
    receives = {k for k, op in doc["operations"].items() if op["action"] == "receive"}
    assert sends == {f"send.{key}" for key in expected}
    assert receives == {f"receive.{key}" for key in expected if not key.startswith("reporting.")}
    for key in receives:
        assert doc["operations"][key]["x-qaloop-queue"]["name"] == "reporting.events"

    for message in doc["components"]["messages"].values():
        assert message["contentType"] == "application/cloudevents+json"
    text = json.dumps(doc)
    assert "$defs" not in text, "pydantic $defs must be hoisted into components/schemas"
    assert "guest" not in text


def test_every_sample_routes_to_a_documented_channel() -> None:
    channels = set(asyncapi_document()["channels"])
    for event_type in EVENT_TYPES:
        assert sample_event(event_type).routing_key() in channels


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:  # fail, never skip: CI must run the official validator
        pytest.fail(f"`{tool}` is not installed: the AsyncAPI check needs Node.js 20+ and npm")
    return path


def test_asyncapi_document_is_valid_for_the_official_parser() -> None:
    node, npm = _require("node"), _require("npm")
    if not (VALIDATOR_DIR / "node_modules" / "@asyncapi" / "parser").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(VALIDATOR_DIR), "--ignore-scripts", "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"

    documents = [CONTRACT_DIR / "asyncapi.json"]
    if (CONTRACT_DIR / "asyncapi.yaml").exists():
        documents.append(CONTRACT_DIR / "asyncapi.yaml")
    result = subprocess.run(
        [node, str(VALIDATOR_DIR / "validate.mjs"), *map(str, documents)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )

    assert result.returncode == 0, f"@asyncapi/parser rejects the document:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.count("valid AsyncAPI 3.0.0") == len(documents), result.stdout


def test_sample_data_is_a_fresh_copy() -> None:
    first = sample_data("AuditGraded")
    first["area_grades"].clear()
    assert sample_data("AuditGraded")["area_grades"]
