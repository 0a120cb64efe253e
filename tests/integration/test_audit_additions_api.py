"""The 2026-12 audit additions over HTTP against the real PostgreSQL and RabbitMQ: an EHCP
audit completed with its procedure checklist, a concern resolved as not effective and
reworked by a concern that supersedes it, an inspection finding and the action that answers
it — what reaches the broker, and the 422s that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from services.audit.templates import EHCP_AREAS, EHCP_CHECKLIST
from shared.events import parse_event
from tests.integration.test_audit_api import CASE_FILE_AREAS, AuditApi, api  # noqa: F401 (the fixture)
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


async def post(service: AuditApi, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """(status, the response body; for an error, its `detail`)."""
    response = await service.client.post(path, json=body, headers=service.writer())
    data = response.json()
    return response.status_code, data["detail"] if response.status_code >= 400 else data


async def test_an_ehcp_audit_completes_with_its_checklist_and_publishes_procedure_compliant(api: AuditApi):  # noqa: F811
    audit = await api.schedule(service_area="send", team="send-0-14", audit_type="ehcp")
    assert [c["item"] for c in audit["checklist"]] == [c.key for c in EHCP_CHECKLIST]
    assert all(c["met"] is None for c in audit["checklist"])
    audit_id = audit["audit_id"]
    assert (await api.grade(audit_id, {a.key: "good" for a in EHCP_AREAS})).status_code == 200
    status, detail = await post(api, f"/v1/audits/{audit_id}/complete", {})
    assert status == 422 and detail[0]["loc"][-1] == "checklist" and "missing" in detail[0]["msg"]
    answers = [{"item": c.key, "met": c.key != "setting_consulted"} for c in EHCP_CHECKLIST]
    status, body = await post(api, f"/v1/audits/{audit_id}/complete", {"checklist": answers})
    assert status == 200, body
    assert body["procedure_compliant"] is False
    [graded] = [
        e for e in await api.observer.wait_for("audit_id", audit_id, ["AuditGraded"]) if e["type"] == "AuditGraded"
    ]
    assert graded["data"]["procedure_compliant"] is False
    parse_event(graded)  # valid against the catalogue


async def test_a_rescheduled_audit_publishes_its_new_schedule_in_sequence(api: AuditApi):  # noqa: F811
    audit = await api.schedule()
    audit_id = audit["audit_id"]
    status, body = await post(api, f"/v1/audits/{audit_id}/reschedule", {"due_date": "2030-03-29"})
    assert status == 200 and body["due_date"] == "2030-03-29"
    status, detail = await post(api, f"/v1/audits/{audit_id}/reschedule", {"due_date": "2030-02-30"})
    assert status == 422 and detail[0]["loc"][-1] == "due_date"

    async def both() -> list[dict[str, Any]]:
        return [e for e in api.observer.about("audit_id", audit_id) if e["type"] == "AuditScheduled"]

    schedules = await eventually(both, lambda found: len(found) == 2, what="two schedules")
    by_sequence = sorted(schedules, key=lambda e: int(e["sequence"]))
    assert [e["data"]["due_date"] for e in by_sequence] == ["2030-01-31", "2030-03-29"]


async def test_a_concern_not_effective_and_its_rework(api: AuditApi):  # noqa: F811
    status, concern = await post(
        api,
        "/v1/concerns",
        {
            "service_area": "send",
            "theme": "management_oversight",
            "description": "management oversight of SEND cases is not evident on file",
            "measures": ["monthly case supervision"],
            "review_by": "2030-03-31",
        },
    )
    concern_id = concern["concern_id"]
    audit = await api.schedule(service_area="send", team="send-0-14", audit_type="targeted", concern_id=concern_id)
    await api.grade(audit["audit_id"], {a: "good" for a in CASE_FILE_AREAS})
    await post(api, f"/v1/audits/{audit['audit_id']}/complete", {})
    resolve = {"evidence_audit_ids": [audit["audit_id"]], "outcome": "not_effective"}
    status, detail = await post(api, f"/v1/concerns/{concern_id}/resolve", resolve)
    assert status == 422 and detail[0]["loc"][-1] == "reason"
    status, detail = await post(
        api, f"/v1/concerns/{concern_id}/resolve", {**resolve, "reason": "email jo@example.org for the list"}
    )
    assert status == 422 and detail[0]["loc"][-1] == "reason"
    status, body = await post(
        api, f"/v1/concerns/{concern_id}/resolve", {**resolve, "reason": "supervision still not recorded"}
    )
    assert status == 200 and (body["outcome"], body["reason"]) == ("not_effective", "supervision still not recorded")
    status, rework = await post(
        api,
        "/v1/concerns",
        {
            "service_area": "send",
            "theme": "management_oversight",
            "description": "management oversight: second set of measures",
            "measures": ["manager's monthly file check"],
            "review_by": "2030-06-30",
            "supersedes": concern_id,
        },
    )
    assert status == 201 and rework["supersedes"] == concern_id
    events = await api.observer.wait_for("concern_id", concern_id, ["ConcernRaised", "ConcernResolved"])
    [resolved] = [e for e in events if e["type"] == "ConcernResolved"]
    assert (resolved["data"]["outcome"], resolved["data"]["reason"]) == (
        "not_effective",
        "supervision still not recorded",
    )
    [raised] = await api.observer.wait_for("concern_id", rework["concern_id"], ["ConcernRaised"])
    assert raised["data"]["supersedes"] == concern_id


async def test_an_inspection_finding_and_the_action_that_answers_it(api: AuditApi):  # noqa: F811
    finding = {
        "body": "ofsted",
        "service_area": "childrens_social_care",
        "team": "front-door",
        "summary": "Management oversight of strategy discussions is not consistent",
        "recorded_at": "2026-11-02T10:00:00Z",
    }
    status, detail = await post(api, "/v1/inspection-findings", {**finding, "summary": "Ring 01632 960001"})
    assert status == 422 and detail[0]["loc"][-1] == "summary"
    status, detail = await post(api, "/v1/inspection-findings", {**finding, "body": "hmrc"})
    assert status == 422 and detail[0]["loc"][-1] == "body"
    status, body = await post(api, "/v1/inspection-findings", finding)
    assert status == 201, body
    finding_id = body["finding_id"]
    status, action = await post(
        api,
        f"/v1/inspection-findings/{finding_id}/actions",
        {"owner_id": "front-door-manager", "due_date": "2030-01-31", "summary": "Audit strategy discussions monthly"},
    )
    assert status == 201, action
    assert (action["origin"], action["origin_id"], action["team"]) == ("inspection", finding_id, "front-door")
    response = await api.client.get(f"/v1/inspection-findings/{finding_id}", headers=api.token("reporting:read"))
    assert response.status_code == 200 and [a["action_id"] for a in response.json()["actions"]] == [action["action_id"]]
    listed = await api.client.get("/v1/inspection-findings?body=ofsted", headers=api.token("reporting:read"))
    assert finding_id in [f["finding_id"] for f in listed.json()["items"]]
    [recorded] = await api.observer.wait_for("finding_id", finding_id, ["InspectionFindingRecorded"])
    assert recorded["data"]["summary"] == finding["summary"] and recorded["data"]["body"] == "ofsted"
    raised = await api.observer.wait_for("origin_id", finding_id, ["ActionRaised"])
    assert raised[0]["data"]["origin"] == "inspection"
    missing = await api.client.get("/v1/inspection-findings/nope", headers=api.token("reporting:read"))
    assert missing.status_code == 404
    forbidden = await api.client.post("/v1/inspection-findings", json=finding, headers=api.token("reporting:read"))
    assert forbidden.status_code == 403
