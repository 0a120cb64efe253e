"""The 2026-12 audit additions' use cases on the in-memory unit of work: the EHC plan
procedure checklist and `AuditGraded.procedure_compliant`, whether a concern's measures
worked (`ConcernResolved.outcome`, `reason`) and the concern that reworks one
(`ConcernRaised.supersedes`), and inspection findings with the actions that answer them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.audit import handlers
from services.audit.commands import (
    ChecklistAnswer,
    ChecklistItemToCheck,
    CompleteAudit,
    GradeArea,
    GradeAudit,
    RecordInspectionFinding,
    RescheduleAudit,
    ResolveConcern,
)
from services.audit.store import FindingQuery
from services.audit.templates import EHCP_AREAS, EHCP_CHECKLIST
from shared.errors import Conflict, Invalid, NotFound
from shared.events import (
    ActionRaised,
    AuditGraded,
    AuditScheduled,
    ConcernOutcome,
    ConcernRaised,
    ConcernResolved,
    Grade,
    InspectionBody,
    InspectionFindingRecorded,
    LearningOrigin,
)
from tests.fakes.audit import FakeAuditUnitOfWork
from tests.unit.test_audit_handlers import (
    NOW,
    action_cmd,
    all_graded,
    concern_cmd,
    last,
    raised_concern,
    refused,
    schedule_cmd,
    template_cmd,
    types,
)


@pytest.fixture
def uow() -> FakeAuditUnitOfWork:
    return FakeAuditUnitOfWork(NOW)


# --------------------------------------------------------------------------- EHCP procedure


async def graded_ehcp(uow: FakeAuditUnitOfWork) -> str:
    cmd = schedule_cmd(service_area="send", team="send-0-14", audit_type="ehcp")
    audit_id = (await handlers.schedule_audit(uow, cmd, actor="qa-manager")).audit.audit_id
    grades = GradeAudit(grades=[GradeArea(area=a.key, grade=Grade.GOOD, rationale="seen") for a in EHCP_AREAS])
    await handlers.grade_audit(uow, audit_id, grades, actor="auditor-1")
    return audit_id


def answers(**not_met: bool) -> list[ChecklistAnswer]:
    return [ChecklistAnswer(item=c.key, met=not_met.get(c.key, True)) for c in EHCP_CHECKLIST]


async def test_an_ehcp_audit_carries_the_templates_checklist_and_completes_compliant(uow: FakeAuditUnitOfWork):
    audit_id = await graded_ehcp(uow)
    assert uow.audits.rows[audit_id].checklist == EHCP_CHECKLIST
    detail = await handlers.complete_audit(uow, audit_id, CompleteAudit(checklist=answers()), actor="auditor-1")
    assert detail.audit.procedure_compliant is True
    assert detail.audit.checklist_answers == {c.key: True for c in EHCP_CHECKLIST}
    data, _ = last(uow, AuditGraded)
    assert data.procedure_compliant is True


async def test_one_item_not_met_makes_the_ehcp_audit_not_compliant(uow: FakeAuditUnitOfWork):
    audit_id = await graded_ehcp(uow)
    cmd = CompleteAudit(checklist=answers(draft_shared_15_days=False))
    await handlers.complete_audit(uow, audit_id, cmd, actor="auditor-1")
    assert last(uow, AuditGraded)[0].procedure_compliant is False


@pytest.mark.parametrize(
    ("checklist", "match"),
    [
        (None, "missing: decision_within_6_weeks"),
        (answers()[:-1], "missing: review_within_12_months"),
        ([*answers(), ChecklistAnswer(item="decision_within_6_weeks", met=False)], "answered twice"),
        ([*answers(), ChecklistAnswer(item="coffee_served", met=True)], "not an item"),
    ],
)
async def test_an_ehcp_audit_is_completed_with_every_checklist_item_answered_once(
    uow: FakeAuditUnitOfWork, checklist: Any, match: str
):
    audit_id = await graded_ehcp(uow)
    call = handlers.complete_audit(uow, audit_id, CompleteAudit(checklist=checklist), actor="auditor-1")
    err = await refused(uow, call, Invalid, match)
    assert err.problems[0].field[-1] == "checklist"


async def test_other_audits_have_no_checklist_and_carry_no_compliance(uow: FakeAuditUnitOfWork):
    audit_id = (await handlers.schedule_audit(uow, schedule_cmd(), actor="qa-manager")).audit.audit_id
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    call = handlers.complete_audit(uow, audit_id, CompleteAudit(checklist=answers()), actor="auditor-1")
    await refused(uow, call, Invalid, "no procedure checklist")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    data, _ = last(uow, AuditGraded)
    assert data.procedure_compliant is None
    assert "procedure_compliant" not in data.model_dump(exclude_none=True)


async def test_only_an_ehcp_template_has_a_checklist(uow: FakeAuditUnitOfWork):
    item = ChecklistItemToCheck(key="plan_reviewed", title="Plan reviewed")
    await refused(
        uow, handlers.create_template(uow, template_cmd(checklist=[item]), actor="x"), Invalid, "only an EHCP"
    )
    ehcp = template_cmd(name="EHCP (short)", service_area="send", audit_type="ehcp", checklist=[item])
    created = await handlers.create_template(uow, ehcp, actor="qa-manager")
    assert [c.key for c in created.checklist] == ["plan_reviewed"]


# --------------------------------------------------------------------------- rescheduling


async def test_rescheduling_publishes_audit_scheduled_again_with_the_new_due_date(uow: FakeAuditUnitOfWork):
    audit_id = (await handlers.schedule_audit(uow, schedule_cmd(), actor="qa-manager")).audit.audit_id
    later = date(2022, 11, 30)
    detail = await handlers.reschedule_audit(uow, audit_id, RescheduleAudit(due_date=later), actor="qa-manager")
    assert detail.audit.due_date == later == uow.audits.rows[audit_id].due_date
    data, event = last(uow, AuditScheduled)
    assert (data.due_date, event.aggregate) == (later, audit_id)
    assert types(uow) == ["AuditScheduled", "AuditScheduled"]


async def test_rescheduling_refusals(uow: FakeAuditUnitOfWork):
    audit_id = (await handlers.schedule_audit(uow, schedule_cmd(), actor="qa-manager")).audit.audit_id
    same = RescheduleAudit(due_date=uow.audits.rows[audit_id].due_date)
    await refused(uow, handlers.reschedule_audit(uow, audit_id, same, actor="x"), Invalid, "already due")
    await refused(uow, handlers.reschedule_audit(uow, "nope", same, actor="x"), NotFound, "no audit")
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    later = RescheduleAudit(due_date=date(2022, 12, 30))
    await refused(uow, handlers.reschedule_audit(uow, audit_id, later, actor="x"), Conflict, "completed")


# --------------------------------------------------------------------------- concern outcomes


async def resolvable_concern(uow: FakeAuditUnitOfWork) -> tuple[str, str]:
    concern_id = await raised_concern(uow)
    targeted = schedule_cmd(service_area="send", audit_type="targeted", concern_id=concern_id)
    audit_id = (await handlers.schedule_audit(uow, targeted, actor="qa-manager")).audit.audit_id
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    return concern_id, audit_id


async def resolved_as(uow: FakeAuditUnitOfWork, outcome: str | None, reason: str | None = None) -> str:
    concern_id, audit_id = await resolvable_concern(uow)
    cmd = ResolveConcern(evidence_audit_ids=[audit_id], outcome=outcome, reason=reason)
    await handlers.resolve_concern(uow, concern_id, cmd, actor="qa-manager")
    return concern_id


async def test_a_resolution_records_whether_the_measures_worked_and_why_not(uow: FakeAuditUnitOfWork):
    concern_id = await resolved_as(uow, "not_effective", "  Oversight still   not recorded in half the files ")
    data, _ = last(uow, ConcernResolved)
    assert (data.outcome, data.reason) == (
        ConcernOutcome.NOT_EFFECTIVE,
        "Oversight still not recorded in half the files",
    )
    stored = uow.concerns.rows[concern_id]
    assert (stored.outcome, stored.reason) == (ConcernOutcome.NOT_EFFECTIVE, data.reason)


async def test_an_effective_resolution_needs_no_reason(uow: FakeAuditUnitOfWork):
    await resolved_as(uow, "effective")
    assert last(uow, ConcernResolved)[0].outcome is ConcernOutcome.EFFECTIVE


@pytest.mark.parametrize(
    ("outcome", "reason", "match"),
    [
        ("not_effective", None, "not effective"),
        ("partly_effective", None, "partly effective"),
        (None, "why", "outcome"),
    ],
)
async def test_a_reason_is_required_unless_effective_and_explains_an_outcome(
    uow: FakeAuditUnitOfWork, outcome: Any, reason: Any, match: str
):
    concern_id, audit_id = await resolvable_concern(uow)
    cmd = ResolveConcern(evidence_audit_ids=[audit_id], outcome=outcome, reason=reason)
    err = await refused(uow, handlers.resolve_concern(uow, concern_id, cmd, actor="x"), Invalid, match)
    assert err.problems[0].field[-1] == "reason"


def test_a_reason_is_published_text():
    with pytest.raises(ValidationError, match="e-mail"):
        ResolveConcern(evidence_audit_ids=["a"], outcome="not_effective", reason="ask jo@example.org")
    with pytest.raises(ValidationError, match="at most 1000"):
        ResolveConcern(evidence_audit_ids=["a"], outcome="not_effective", reason="x" * 1001)
    with pytest.raises(ValidationError, match="outcome"):
        ResolveConcern(evidence_audit_ids=["a"], outcome="worked")


async def test_a_concern_reworks_a_resolved_one_that_did_not_work(uow: FakeAuditUnitOfWork):
    old = await resolved_as(uow, "not_effective", "no change")
    cmd = concern_cmd(supersedes=old, raised_at=NOW)
    detail = await handlers.raise_concern(uow, cmd, actor="qa-manager")
    assert detail.concern.supersedes == old
    data, _ = last(uow, ConcernRaised)
    assert data.supersedes == old


async def test_superseding_refusals(uow: FakeAuditUnitOfWork):
    call = handlers.raise_concern(uow, concern_cmd(supersedes="nope"), actor="x")
    await refused(uow, call, Invalid, "unknown concern")
    open_one = await raised_concern(uow)
    await refused(uow, handlers.raise_concern(uow, concern_cmd(supersedes=open_one), actor="x"), Conflict, "still open")
    worked = await resolved_as(uow, "effective")
    await refused(uow, handlers.raise_concern(uow, concern_cmd(supersedes=worked), actor="x"), Conflict, "effective")
    failed = await resolved_as(uow, "not_effective", "no change")
    early = concern_cmd(supersedes=failed, raised_at=NOW - timedelta(days=40))
    await refused(uow, handlers.raise_concern(uow, early, actor="x"), Invalid, "before concern")


# --------------------------------------------------------------------------- inspection findings


def finding_cmd(**changes: Any) -> RecordInspectionFinding:
    base: dict[str, Any] = {
        "body": "ofsted",
        "service_area": "childrens_social_care",
        "team": "front-door",
        "summary": "  Management oversight of strategy discussions is not consistent ",
        "recorded_at": NOW - timedelta(days=2),
    }
    return RecordInspectionFinding(**(base | changes))


async def test_recording_a_finding_stores_it_and_publishes_inspection_finding_recorded(uow: FakeAuditUnitOfWork):
    detail = await handlers.record_inspection_finding(uow, finding_cmd(), actor="qa-manager")
    finding = detail.finding
    assert uow.findings.rows[finding.finding_id] == finding
    data, event = last(uow, InspectionFindingRecorded)
    assert event.aggregate == finding.finding_id
    assert (data.body, data.team, data.summary, data.recorded_at) == (
        InspectionBody.OFSTED,
        "front-door",
        "Management oversight of strategy discussions is not consistent",
        NOW - timedelta(days=2),
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"summary": "Call 01632 960 001"}, "summary"),
        ({"summary": " "}, "summary"),
        ({"summary": "x" * 1001}, "summary"),
        ({"body": "hmrc"}, "body"),
        ({"service_area": "parks"}, "service_area"),
        ({"team": "x" * 201}, "team"),
    ],
)
def test_a_finding_request_is_checked(changes: dict[str, Any], field: str):
    with pytest.raises(ValidationError) as caught:
        finding_cmd(**changes)
    assert caught.value.errors()[0]["loc"][0] == field


async def test_a_finding_in_the_future_is_refused(uow: FakeAuditUnitOfWork):
    call = handlers.record_inspection_finding(uow, finding_cmd(recorded_at=NOW + timedelta(days=1)), actor="x")
    await refused(uow, call, Invalid, "in the future")


async def test_an_action_answers_a_finding_with_origin_inspection_and_its_team(uow: FakeAuditUnitOfWork):
    finding_id = (await handlers.record_inspection_finding(uow, finding_cmd(), actor="qa")).finding.finding_id
    action, created = await handlers.raise_finding_action(uow, finding_id, action_cmd(), actor="manager")
    assert created and (action.origin, action.origin_id, action.team) == (
        LearningOrigin.INSPECTION,
        finding_id,
        "front-door",
    )
    data, _ = last(uow, ActionRaised)
    assert (data.origin, data.origin_id) == (LearningOrigin.INSPECTION, finding_id)
    detail = await handlers.get_inspection_finding(uow, finding_id)
    assert [a.action_id for a in detail.actions] == [action.action_id]


async def test_action_on_a_finding_refusals(uow: FakeAuditUnitOfWork):
    await refused(uow, handlers.raise_finding_action(uow, "nope", action_cmd(), actor="m"), NotFound, "no inspection")
    teamless = await handlers.record_inspection_finding(uow, finding_cmd(team=None), actor="qa")
    fid = teamless.finding.finding_id
    await refused(uow, handlers.raise_finding_action(uow, fid, action_cmd(), actor="m"), Invalid, "team")
    early = action_cmd(team="front-door", raised_at=NOW - timedelta(days=3))
    await refused(uow, handlers.raise_finding_action(uow, fid, early, actor="m"), Invalid, "before the inspection")
    action, _ = await handlers.raise_finding_action(uow, fid, action_cmd(team="front-door"), actor="m")
    assert action.team == "front-door"


async def test_findings_are_listed_newest_first_and_filtered(uow: FakeAuditUnitOfWork):
    older = await handlers.record_inspection_finding(uow, finding_cmd(recorded_at=NOW - timedelta(days=9)), actor="qa")
    newer = await handlers.record_inspection_finding(uow, finding_cmd(body="cqc", team=None), actor="qa")
    listed = await handlers.list_inspection_findings(uow, FindingQuery())
    assert [f.finding_id for f in listed] == [newer.finding.finding_id, older.finding.finding_id]
    ofsted = await handlers.list_inspection_findings(uow, FindingQuery(body=InspectionBody.OFSTED))
    assert [f.finding_id for f in ofsted] == [older.finding.finding_id]
    await refused(uow, handlers.get_inspection_finding(uow, "nope"), NotFound, "no inspection finding")
    assert types(uow) == ["InspectionFindingRecorded", "InspectionFindingRecorded"]
