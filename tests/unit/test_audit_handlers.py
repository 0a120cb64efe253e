"""Every audit use case (services/audit/handlers.py) on the in-memory unit of work
(tests/fakes/audit.py): what it stores, the events it publishes (with their aggregate and
subject), what it refuses — and that a refusal stores and publishes nothing. Also the shared
action use cases on audit's origins. No database: milliseconds."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from services.audit import handlers
from services.audit.commands import (
    AreaToGrade,
    CompleteAudit,
    CreateTemplate,
    GradeArea,
    GradeAudit,
    ModerateAudit,
    RaiseConcern,
    ResolveConcern,
    ScheduleAudit,
)
from services.audit.domain import AuditStatus, ConcernStatus, OverallGradeRule
from services.audit.store import AuditQuery, ConcernQuery
from shared.actions import handlers as actions
from shared.actions.domain import CompleteAction, RaiseAction
from shared.actions.handlers import aggregate_of
from shared.actions.store import ActionQuery
from shared.errors import Conflict, Invalid, NotFound, RuleError
from shared.events import (
    AuditGraded,
    AuditModerated,
    AuditScheduled,
    AuditType,
    ConcernRaised,
    ConcernResolved,
    EventData,
    Grade,
    LearningOrigin,
)
from shared.pseudonym import subject_for
from shared.uow import Emitted
from tests.fakes.audit import FakeAuditUnitOfWork

E = TypeVar("E", bound=RuleError)
D = TypeVar("D", bound=EventData)
NOW = datetime(2022, 9, 30, 11, 0, tzinfo=UTC)
CASE_FILE = ("voice_of_the_child", "assessment_and_analysis", "planning", "management_oversight", "recording")
G, RI = Grade.GOOD, Grade.REQUIRES_IMPROVEMENT


@pytest.fixture
def uow() -> FakeAuditUnitOfWork:
    return FakeAuditUnitOfWork(NOW)


def types(uow: FakeAuditUnitOfWork) -> list[str]:
    return [e.data.event_type for e in uow.published]


async def refused(uow: FakeAuditUnitOfWork, call: Awaitable[Any], error: type[E], match: str) -> E:
    """`call` is refused with `error`: rolled back, nothing more stored or published."""
    published, stored = list(uow.published), _stored(uow)
    with pytest.raises(error, match=match) as caught:
        await call
    assert uow.published == published and _stored(uow) == stored
    return caught.value


def last(uow: FakeAuditUnitOfWork, kind: type[D]) -> tuple[D, Emitted]:
    """The last event published, which is a `kind`, and how it was emitted."""
    emitted = uow.published[-1]
    assert isinstance(emitted.data, kind), emitted.data
    return emitted.data, emitted


def _stored(uow: FakeAuditUnitOfWork) -> tuple[Any, ...]:
    return (
        dict(uow.templates.rows),
        dict(uow.audits.rows),
        dict(uow.concerns.rows),
        dict(uow.actions.rows),
    )


def schedule_cmd(**changes: Any) -> ScheduleAudit:
    base: dict[str, Any] = {
        "case_reference": "MOS/0042117",
        "service_area": "childrens_social_care",
        "team": "through-care",
        "audit_type": "routine",
        "auditor_id": "auditor-1",
        "due_date": date(2022, 10, 31),
    }
    return ScheduleAudit(**(base | changes))


def grades(**by_area: Grade) -> GradeAudit:
    return GradeAudit(
        grades=[GradeArea(area=a, grade=g, rationale=f"{a}: seen in the file") for a, g in by_area.items()]
    )


def all_graded(grade: Grade = G, **others: Grade) -> GradeAudit:
    return grades(**({a: grade for a in CASE_FILE} | others))


async def scheduled(uow: FakeAuditUnitOfWork, **changes: Any) -> str:
    return (await handlers.schedule_audit(uow, schedule_cmd(**changes), actor="qa-manager")).audit.audit_id


async def completed(uow: FakeAuditUnitOfWork, **changes: Any) -> str:
    audit_id = await scheduled(uow, **changes)
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    return audit_id


def concern_cmd(**changes: Any) -> RaiseConcern:
    base: dict[str, Any] = {
        "service_area": "send",
        "theme": "management_oversight",
        "description": "management oversight of SEND cases is not evident on file",
        "measures": ["new SEND oversight template", "monthly case supervision"],
        "review_by": date(2022, 12, 31),
        "raised_at": NOW - timedelta(days=30),
    }
    return RaiseConcern(**(base | changes))


async def raised_concern(uow: FakeAuditUnitOfWork) -> str:
    return (await handlers.raise_concern(uow, concern_cmd(), actor="qa-manager")).concern.concern_id


def action_cmd(**changes: Any) -> RaiseAction:
    base: dict[str, Any] = {"owner_id": "team-manager-3", "due_date": date(2022, 10, 28), "summary": "record oversight"}
    return RaiseAction(**(base | changes))


# --------------------------------------------------------------------------- templates


def template_cmd(**changes: Any) -> CreateTemplate:
    base: dict[str, Any] = {
        "name": "Youth justice themed",
        "service_area": "youth_justice",
        "audit_type": "themed",
        "areas": [
            AreaToGrade(key="risk_management", title=" Risk management "),
            AreaToGrade(key="desistance", title="Desistance"),
        ],
        "is_default": True,
    }
    return CreateTemplate(**(base | changes))


async def test_a_created_template_is_stored_tidied_and_a_default_takes_over(uow: FakeAuditUnitOfWork):
    await handlers.create_template(uow, template_cmd(name="Youth justice themed one"), actor="qa-manager")
    created = await handlers.create_template(uow, template_cmd(), actor="qa-manager")
    assert (created.name, created.created_by, created.created_at, created.audit_type) == (
        "Youth justice themed",
        "qa-manager",
        NOW,
        AuditType.THEMED,
    )
    assert [(a.key, a.title) for a in created.areas] == [
        ("risk_management", "Risk management"),
        ("desistance", "Desistance"),
    ]
    assert await handlers.get_template(uow, created.template_id) == created
    themed = await handlers.list_templates(uow, service_area="youth_justice", audit_type=AuditType.THEMED)
    assert [(t.name, t.is_default) for t in themed] == [
        ("Youth justice themed", True),
        ("Youth justice themed one", False),
    ]
    assert uow.published == []  # templates are the service's own data: no event


async def test_a_template_name_is_taken_once_and_bad_areas_are_refused(uow: FakeAuditUnitOfWork):
    await handlers.create_template(uow, template_cmd(), actor="qa-manager")
    await refused(
        uow, handlers.create_template(uow, template_cmd(is_default=False), actor="x"), Conflict, "exists already"
    )
    dup = template_cmd(name="dup", areas=[AreaToGrade(key="planning", title="P")] * 2)
    error = await refused(uow, handlers.create_template(uow, dup, actor="x"), Invalid, "twice")
    assert error.field == "areas"


async def test_templates_are_listed_and_read_and_an_unknown_one_is_not_found(uow: FakeAuditUnitOfWork):
    send = [t.template_id for t in await handlers.list_templates(uow, service_area="send")]
    assert send == ["case-file-send", "ehcp-send"]
    assert (await handlers.get_template(uow, "ehcp-send")).audit_type is AuditType.EHCP
    await refused(uow, handlers.get_template(uow, "nope"), NotFound, "no template 'nope'")


# --------------------------------------------------------------------------- audits


async def test_scheduling_stores_the_audit_on_its_template_and_publishes_audit_scheduled(uow: FakeAuditUnitOfWork):
    detail = await handlers.schedule_audit(uow, schedule_cmd(case_reference=" MOS/0042117 "), actor="qa-manager")
    audit = detail.audit
    assert detail.actions == []
    assert (audit.case_reference, audit.case_ref, audit.template_id) == (
        "MOS/0042117",
        uow.pseudonym("MOS/0042117"),
        "case-file-childrens_social_care",
    )
    assert (audit.status, audit.scheduled_by, audit.scheduled_at, audit.area_keys) == (
        AuditStatus.SCHEDULED,
        "qa-manager",
        NOW,
        CASE_FILE,
    )
    assert uow.audits.rows[audit.audit_id] == audit
    assert len(uow.published) == 1
    data, event = last(uow, AuditScheduled)
    assert (data.event_type, event.aggregate, event.subject, event.actor) == (
        "AuditScheduled",
        audit.audit_id,
        subject_for(audit.case_ref),
        "qa-manager",
    )
    assert data.case_ref == audit.case_ref and "MOS" not in data.model_dump_json()


async def test_scheduling_refusals_store_and_publish_nothing(uow: FakeAuditUnitOfWork):
    error = await refused(
        uow, handlers.schedule_audit(uow, schedule_cmd(audit_type="targeted"), actor="x"), Invalid, "concern_id"
    )
    assert error.field == "concern_id"
    await refused(
        uow, handlers.schedule_audit(uow, schedule_cmd(concern_id="nope"), actor="x"), Invalid, "unknown concern"
    )
    error = await refused(
        uow,
        handlers.schedule_audit(uow, schedule_cmd(service_area="fostering", audit_type="ehcp"), actor="x"),
        Invalid,
        "no default ehcp template",
    )
    assert error.field == "template_id"
    await refused(
        uow, handlers.schedule_audit(uow, schedule_cmd(template_id="case-file-send"), actor="x"), Invalid, "is for send"
    )
    await refused(uow, handlers.schedule_audit(uow, schedule_cmd(template_id="nope"), actor="x"), Invalid, "unknown")
    await refused(uow, handlers.schedule_audit(uow, schedule_cmd(audit_type="themed"), actor="x"), Invalid, "theme")
    assert uow.published == []


async def test_a_targeted_audit_links_to_an_open_concern_of_its_area_only(uow: FakeAuditUnitOfWork):
    concern_id = await raised_concern(uow)
    targeted = await handlers.schedule_audit(
        uow, schedule_cmd(service_area="send", audit_type="targeted", concern_id=concern_id), actor="qa-manager"
    )
    assert targeted.audit.concern_id == concern_id and targeted.audit.template_id == "case-file-send"
    assert last(uow, AuditScheduled)[0].concern_id == concern_id
    await refused(
        uow,
        handlers.schedule_audit(uow, schedule_cmd(audit_type="targeted", concern_id=concern_id), actor="x"),
        Invalid,
        "is about send",
    )
    await _resolve_with(uow, concern_id, targeted.audit.audit_id)
    await refused(
        uow,
        handlers.schedule_audit(
            uow, schedule_cmd(service_area="send", audit_type="targeted", concern_id=concern_id), actor="x"
        ),
        Conflict,
        "already resolved",
    )


async def test_grading_stores_the_grades_and_publishes_nothing(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    detail = await handlers.grade_audit(uow, audit_id, grades(planning=RI), actor="auditor-1")
    assert detail.audit.status is AuditStatus.IN_PROGRESS
    stored = uow.audits.rows[audit_id]
    assert stored == detail.audit
    assert (stored.grades["planning"].grade, stored.grades["planning"].graded_by) == (RI, "auditor-1")
    await handlers.grade_audit(uow, audit_id, grades(planning=G), actor="auditor-2")  # re-graded
    assert uow.audits.rows[audit_id].grades["planning"].graded_by == "auditor-2"
    assert types(uow) == ["AuditScheduled"]


async def test_grading_refusals(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    error = await refused(
        uow, handlers.grade_audit(uow, audit_id, grades(timeliness=G), actor="a"), Invalid, "timeliness"
    )
    assert error.field == "grades"
    await refused(uow, handlers.grade_audit(uow, "nope", grades(planning=G), actor="a"), NotFound, "no audit 'nope'")
    done = await completed(uow)
    await refused(uow, handlers.grade_audit(uow, done, grades(planning=RI), actor="a"), Conflict, "completed")


async def test_completing_publishes_audit_graded_with_the_overall_grade_by_the_rule(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow, team="safeguarding")
    await handlers.grade_audit(uow, audit_id, all_graded(recording=RI), actor="auditor-1")
    detail = await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    audit = detail.audit
    assert (audit.status, audit.overall_grade, audit.current_grade, audit.grade_rule) == (
        AuditStatus.COMPLETED,
        RI,
        RI,
        OverallGradeRule.WORST,
    )
    assert uow.audits.rows[audit_id] == audit
    data, event = last(uow, AuditGraded)
    assert (event.aggregate, event.subject) == (audit_id, audit.subject)
    assert data.overall_grade is RI and data.completed_at == NOW and data.team == "safeguarding"
    assert [(g.area, g.grade) for g in data.area_grades] == [(a, G) for a in CASE_FILE[:4]] + [("recording", RI)]
    assert "seen in the file" not in data.model_dump_json()  # rationale stays here


async def test_completing_refusals(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    await handlers.grade_audit(uow, audit_id, grades(planning=G), actor="a")
    await refused(uow, handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="a"), Conflict, "recording")
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="a")
    late = CompleteAudit(completed_at=NOW + timedelta(days=1))
    error = await refused(uow, handlers.complete_audit(uow, audit_id, late, actor="a"), Invalid, "future")
    assert error.field == "completed_at"
    stated = CompleteAudit(overall_grade=Grade.OUTSTANDING)
    error = await refused(uow, handlers.complete_audit(uow, audit_id, stated, actor="a"), Invalid, "worst area grade")
    assert error.field == "overall_grade"
    await refused(uow, handlers.complete_audit(uow, "nope", CompleteAudit(), actor="a"), NotFound, "no audit")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="a")
    await refused(
        uow, handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="a"), Conflict, "already completed"
    )
    assert types(uow) == ["AuditScheduled", "AuditGraded"]


async def test_best_fit_takes_the_grade_the_auditor_states():
    uow = FakeAuditUnitOfWork(NOW, grade_rule=OverallGradeRule.BEST_FIT)
    audit_id = await scheduled(uow)
    await handlers.grade_audit(uow, audit_id, all_graded(recording=RI), actor="a")
    await refused(uow, handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="a"), Invalid, "best_fit")
    detail = await handlers.complete_audit(uow, audit_id, CompleteAudit(overall_grade=G), actor="a")
    assert (detail.audit.overall_grade, detail.audit.grade_rule) == (G, OverallGradeRule.BEST_FIT)
    assert last(uow, AuditGraded)[0].overall_grade is G


async def test_moderating_publishes_audit_moderated_and_keeps_the_history(uow: FakeAuditUnitOfWork):
    audit_id = await completed(uow)
    body = ModerateAudit(overall_grade=RI, reason="recording gaps matter")
    detail = await handlers.moderate_audit(uow, audit_id, body, actor="moderator-7")
    assert (detail.audit.overall_grade, detail.audit.current_grade) == (G, RI)
    assert uow.audits.rows[audit_id] == detail.audit
    [moderation] = detail.audit.moderations
    assert (moderation.grade_before, moderation.grade_after, moderation.moderator_id, moderation.recorded_at) == (
        G,
        RI,
        "moderator-7",
        NOW,
    )
    data, event = last(uow, AuditModerated)
    assert (event.aggregate, event.subject) == (audit_id, detail.audit.subject)
    assert (data.overall_grade_before, data.overall_grade_after, data.reason) == (
        G,
        RI,
        "recording gaps matter",
    )


async def test_moderation_refusals(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    body = ModerateAudit(overall_grade=RI, reason="r")
    await refused(uow, handlers.moderate_audit(uow, audit_id, body, actor="m"), Conflict, "not completed")
    done = await completed(uow)
    await refused(uow, handlers.moderate_audit(uow, done, body, actor="auditor-1"), Conflict, "second reader")
    same = ModerateAudit(overall_grade=G, reason="r")
    await refused(uow, handlers.moderate_audit(uow, done, same, actor="m"), Invalid, "already good")
    early = ModerateAudit(overall_grade=RI, reason="r", moderated_at=NOW - timedelta(days=1))
    await refused(uow, handlers.moderate_audit(uow, done, early, actor="m"), Invalid, "before the audit was completed")
    await refused(uow, handlers.moderate_audit(uow, "nope", body, actor="m"), NotFound, "no audit")


async def test_an_audit_is_read_with_its_actions_and_audits_are_listed(uow: FakeAuditUnitOfWork):
    first = await scheduled(uow, team="team-a", due_date=date(2022, 9, 1))
    second = await completed(uow, team="team-a", due_date=date(2022, 10, 1), auditor_id="auditor-2")
    await scheduled(uow, team="team-b")
    action, _ = await handlers.raise_audit_action(uow, second, action_cmd(), actor="auditor-2")
    detail = await handlers.get_audit(uow, second)
    assert detail.audit == uow.audits.rows[second] and detail.actions == [action]
    assert (await handlers.get_audit(uow, first)).actions == []
    await refused(uow, handlers.get_audit(uow, "nope"), NotFound, "no audit")

    async def ids(**filters: Any) -> list[str]:
        return [a.audit_id for a in await handlers.list_audits(uow, AuditQuery(today=NOW.date(), **filters))]

    assert await ids(team="team-a") == [first, second]
    assert await ids(team="team-a", status="overdue") == [first]
    assert await ids(status="completed") == [second]
    assert await ids(auditor_id="auditor-2") == [second]
    assert await ids(team="team-a", limit=1, offset=1) == [second]


# --------------------------------------------------------------------------- concerns


async def test_raising_a_concern_stores_it_and_publishes_concern_raised(uow: FakeAuditUnitOfWork):
    detail = await handlers.raise_concern(uow, concern_cmd(theme=" management_oversight "), actor="qa-manager")
    concern = detail.concern
    assert (detail.audit_ids, detail.actions) == ([], [])
    assert (concern.theme, concern.raised_by, concern.raised_at, concern.status) == (
        "management_oversight",
        "qa-manager",
        NOW - timedelta(days=30),
        ConcernStatus.OPEN,
    )
    assert uow.concerns.rows[concern.concern_id] == concern
    assert len(uow.published) == 1
    data, event = last(uow, ConcernRaised)
    assert (event.aggregate, event.subject) == (concern.concern_id, None)
    assert data.measures == ["new SEND oversight template", "monthly case supervision"]


async def test_raising_a_concern_refusals(uow: FakeAuditUnitOfWork):
    error = await refused(
        uow, handlers.raise_concern(uow, concern_cmd(review_by=date(2022, 8, 1)), actor="x"), Invalid, "review_by"
    )
    assert error.field == "review_by"
    await refused(uow, handlers.raise_concern(uow, concern_cmd(measures=["  "]), actor="x"), Invalid, "measure")
    future = concern_cmd(raised_at=NOW + timedelta(days=1))
    await refused(uow, handlers.raise_concern(uow, future, actor="x"), Invalid, "future")


async def _resolve_with(uow: FakeAuditUnitOfWork, concern_id: str, audit_id: str) -> None:
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")
    await handlers.resolve_concern(uow, concern_id, ResolveConcern(evidence_audit_ids=[audit_id]), actor="qa-manager")


async def test_resolving_a_concern_with_its_completed_audits_publishes_concern_resolved(uow: FakeAuditUnitOfWork):
    concern_id = await raised_concern(uow)
    targeted = schedule_cmd(service_area="send", audit_type="targeted", concern_id=concern_id)
    audit_id = (await handlers.schedule_audit(uow, targeted, actor="qa-manager")).audit.audit_id
    await handlers.grade_audit(uow, audit_id, all_graded(), actor="auditor-1")
    resolve = ResolveConcern(evidence_audit_ids=[audit_id, audit_id])
    await refused(uow, handlers.resolve_concern(uow, concern_id, resolve, actor="x"), Conflict, "not completed")
    await handlers.complete_audit(uow, audit_id, CompleteAudit(), actor="auditor-1")

    detail = await handlers.resolve_concern(uow, concern_id, resolve, actor="qa-manager")
    assert (detail.concern.status, detail.concern.evidence_audit_ids, detail.audit_ids) == (
        ConcernStatus.RESOLVED,
        [audit_id],
        [audit_id],
    )
    assert uow.concerns.rows[concern_id] == detail.concern
    data, event = last(uow, ConcernResolved)
    assert event.aggregate == concern_id
    assert (data.evidence_audit_ids, data.resolved_at) == ([audit_id], NOW)
    await refused(uow, handlers.resolve_concern(uow, concern_id, resolve, actor="x"), Conflict, "already resolved")


async def test_resolving_refusals(uow: FakeAuditUnitOfWork):
    concern_id = await raised_concern(uow)
    unlinked = await completed(uow)
    await refused(
        uow,
        handlers.resolve_concern(uow, concern_id, ResolveConcern(evidence_audit_ids=[unlinked]), actor="x"),
        Invalid,
        "not linked",
    )
    await refused(
        uow,
        handlers.resolve_concern(uow, concern_id, ResolveConcern(evidence_audit_ids=["nope"]), actor="x"),
        Invalid,
        "unknown audits: nope",
    )
    await refused(
        uow,
        handlers.resolve_concern(uow, "nope", ResolveConcern(evidence_audit_ids=[unlinked]), actor="x"),
        NotFound,
        "no concern",
    )


async def test_a_concern_is_read_with_its_audits_and_actions_and_concerns_are_listed(uow: FakeAuditUnitOfWork):
    concern_id = await raised_concern(uow)
    other = (
        await handlers.raise_concern(uow, concern_cmd(service_area="fostering", review_by=date(2022, 11, 1)), actor="q")
    ).concern
    audit_id = await scheduled(uow, service_area="send", audit_type="targeted", concern_id=concern_id)
    action, _ = await handlers.raise_concern_action(uow, concern_id, action_cmd(team="send-north"), actor="qa-manager")
    detail = await handlers.get_concern(uow, concern_id)
    assert (detail.audit_ids, detail.actions) == ([audit_id], [action])
    await refused(uow, handlers.get_concern(uow, "nope"), NotFound, "no concern")

    async def ids(**filters: Any) -> list[str]:
        return [c.concern_id for c in await handlers.list_concerns(uow, ConcernQuery(**filters))]

    assert await ids() == [other.concern_id, concern_id]  # by review date
    assert await ids(service_area="send") == [concern_id]
    assert await ids(status="resolved") == []


# --------------------------------------------------------------------------- actions on audit's origins


async def test_an_action_on_an_audit_is_its_teams_and_its_events_carry_the_case_pseudonym(uow: FakeAuditUnitOfWork):
    audit_id = await completed(uow, team="send-0-14", service_area="send")
    audit = uow.audits.rows[audit_id]
    action, created = await handlers.raise_audit_action(uow, audit_id, action_cmd(action_id="act-1"), actor="auditor-1")
    assert created
    assert (action.origin, action.origin_id, action.team, action.service_area, action.raised_by) == (
        LearningOrigin.AUDIT,
        audit_id,
        "send-0-14",
        "send",
        "auditor-1",
    )
    assert uow.actions.rows["act-1"] == action
    event = uow.published[-1]
    assert (event.data.event_type, event.aggregate, event.subject) == (
        "ActionRaised",
        aggregate_of("act-1"),
        subject_for(audit.case_ref),
    )
    done = await actions.complete_action(uow, "act-1", CompleteAction(evidence="notes on file"), actor="manager-1")
    assert (done.completed_by, done.evidence, done.on_time) == ("manager-1", "notes on file", True)
    assert (uow.published[-1].data.event_type, uow.published[-1].subject) == (
        "ActionCompleted",
        subject_for(audit.case_ref),
    )


async def test_a_retried_action_creates_nothing_and_other_content_under_its_id_is_a_conflict(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    first, created = await handlers.raise_audit_action(uow, audit_id, action_cmd(action_id="act-1"), actor="a")
    again, created_again = await handlers.raise_audit_action(uow, audit_id, action_cmd(action_id="act-1"), actor="a")
    assert created and not created_again and again == first
    assert types(uow) == ["AuditScheduled", "ActionRaised"]
    other = action_cmd(action_id="act-1", summary="something else")
    await refused(uow, handlers.raise_audit_action(uow, audit_id, other, actor="a"), Conflict, "other content")


async def test_action_on_an_audit_refusals(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow, team="through-care")
    error = await refused(
        uow,
        handlers.raise_audit_action(uow, audit_id, action_cmd(team="elsewhere"), actor="a"),
        Invalid,
        "through-care",
    )
    assert error.field == "team"
    early = action_cmd(due_date=date(2022, 9, 29))
    error = await refused(uow, handlers.raise_audit_action(uow, audit_id, early, actor="a"), Invalid, "before")
    assert error.field == "due_date"
    await refused(uow, handlers.raise_audit_action(uow, "nope", action_cmd(), actor="a"), NotFound, "no audit 'nope'")


async def test_an_action_on_a_concern_names_its_team_and_only_while_the_concern_is_open(uow: FakeAuditUnitOfWork):
    concern_id = await raised_concern(uow)
    error = await refused(uow, handlers.raise_concern_action(uow, concern_id, action_cmd(), actor="a"), Invalid, "team")
    assert error.field == "team"
    before = action_cmd(team="send-north", raised_at=NOW - timedelta(days=31))
    error = await refused(
        uow, handlers.raise_concern_action(uow, concern_id, before, actor="a"), Invalid, "before the concern"
    )
    assert error.field == "raised_at"
    action, created = await handlers.raise_concern_action(uow, concern_id, action_cmd(team="send-north"), actor="q")
    assert created and (action.origin, action.team, action.service_area) == (
        LearningOrigin.CONCERN,
        "send-north",
        "send",
    )
    event = uow.published[-1]
    assert (event.data.event_type, event.subject) == ("ActionRaised", None)
    await refused(
        uow, handlers.raise_concern_action(uow, "nope", action_cmd(team="t"), actor="a"), NotFound, "no concern"
    )
    targeted = await scheduled(uow, service_area="send", audit_type="targeted", concern_id=concern_id)
    await _resolve_with(uow, concern_id, targeted)
    await refused(
        uow,
        handlers.raise_concern_action(uow, concern_id, action_cmd(team="send-north"), actor="a"),
        Conflict,
        "resolved",
    )


async def test_completing_an_audits_action_once_and_its_rules(uow: FakeAuditUnitOfWork):
    """The action rules audit used to hold itself, now the shared lifecycle's on audit's origins."""
    audit_id = await scheduled(uow)
    raised_at = NOW - timedelta(days=10)
    await handlers.raise_audit_action(uow, audit_id, action_cmd(action_id="act-1", raised_at=raised_at), actor="a")
    too_early = CompleteAction(completed_at=raised_at - timedelta(hours=1))
    error = await refused(
        uow, actions.complete_action(uow, "act-1", too_early, actor="m"), Invalid, "before the action was raised"
    )
    assert error.field == "completed_at"
    late = CompleteAction(completed_at=NOW + timedelta(days=1))
    await refused(uow, actions.complete_action(uow, "act-1", late, actor="m"), Invalid, "future")
    await refused(uow, actions.complete_action(uow, "nope", CompleteAction(), actor="m"), NotFound, "no action")

    done = await actions.complete_action(uow, "act-1", CompleteAction(evidence="notes"), actor="m")
    again = await actions.complete_action(uow, "act-1", CompleteAction(evidence="notes"), actor="m")
    assert again == done and types(uow).count("ActionCompleted") == 1  # the same completion: nothing new
    await refused(
        uow, actions.complete_action(uow, "act-1", CompleteAction(), actor="m"), Conflict, "already completed"
    )


async def test_audits_actions_are_listed_overdue_and_read(uow: FakeAuditUnitOfWork):
    audit_id = await scheduled(uow)
    raised_at = NOW - timedelta(days=20)
    for action_id, due in (("late", date(2022, 9, 29)), ("due", date(2022, 9, 30)), ("later", date(2022, 10, 5))):
        await handlers.raise_audit_action(
            uow, audit_id, action_cmd(action_id=action_id, due_date=due, raised_at=raised_at), actor="a"
        )
    await actions.complete_action(uow, "later", CompleteAction(), actor="m")

    async def ids(**filters: Any) -> list[str]:
        return [a.action_id for a in await actions.list_actions(uow, ActionQuery(today=NOW.date(), **filters))]

    assert await ids() == ["late", "due", "later"]
    assert await ids(status="overdue") == ["late"]
    assert await ids(status="open") == ["late", "due"]
    assert await ids(status="completed") == ["later"]
    assert await ids(origin_id=audit_id, limit=1, offset=1) == ["due"]
    assert (await actions.get_action(uow, "late")).overdue(NOW.date())
    assert not (await actions.get_action(uow, "due")).overdue(NOW.date())
    await refused(uow, actions.get_action(uow, "nope"), NotFound, "no action")
