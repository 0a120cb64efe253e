"""services.audit.domain and services.audit.templates: the overall-grade rules, the audit's
lifecycle, templates (the EHC plan audit template among them), concerns, and where an
action can be raised. Pure: no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.audit import domain, templates
from services.audit.commands import (
    CompleteAudit,
    GradeArea,
    GradeAudit,
    ModerateAudit,
    RaiseConcern,
    ResolveConcern,
    ScheduleAudit,
)
from services.audit.domain import (
    Audit,
    AuditStatus,
    Concern,
    ConcernStatus,
    EvidenceAudit,
    OverallGradeRule,
)
from services.audit.templates import DEFAULT_TEMPLATES, Template, TemplateArea
from shared.errors import Conflict, Invalid
from shared.events import DEFAULT_SERVICE_AREAS, AuditType, Grade, LearningOrigin

G, RI, OUT, INAD = Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.OUTSTANDING, Grade.INADEQUATE
WORST, BEST_FIT = OverallGradeRule.WORST, OverallGradeRule.BEST_FIT
NOW = datetime(2022, 8, 15, 10, 40, tzinfo=UTC)
AREAS = ("voice_of_the_child", "assessment_and_analysis", "planning", "management_oversight", "recording")


def audit(**changes: Any) -> Audit:
    base = Audit(
        audit_id="a1",
        case_reference="MOS/1",
        case_ref="k1:0123456789abcdef",
        service_area="send",
        team="send-0-14",
        audit_type=AuditType.ROUTINE,
        theme=None,
        concern_id=None,
        template_id="case-file-send",
        areas=tuple(TemplateArea(a, a.replace("_", " ")) for a in AREAS),
        auditor_id="auditor-1",
        due_date=date(2022, 8, 31),
        scheduled_by="qa-manager",
        scheduled_at=NOW - timedelta(days=10),
    )
    return replace(base, **changes)


def in_progress(*grades: Grade, **changes: Any) -> Audit:
    """An audit with its first areas graded (in order)."""
    state = audit(**changes)
    state.grade(GradeAudit(grades=[j(a, g) for a, g in zip(AREAS, grades, strict=False)]), graded_by="a", now=NOW)
    return state


def completed(*grades: Grade, at: datetime = NOW) -> Audit:
    state = in_progress(*grades)
    state.complete(CompleteAudit(), WORST, completed_by="auditor-1", now=at)
    return state


def j(area: str, grade: Grade = G, rationale: str = "clear plan, reviewed") -> GradeArea:
    return GradeArea(area=area, grade=grade, rationale=rationale)


def grade(state: Audit, *judgements: GradeArea) -> AuditStatus:
    state.grade(GradeAudit.model_construct(grades=list(judgements)), graded_by="auditor-1", now=NOW)
    return state.status


# --------------------------------------------------------------------------- grading rules


def test_worst_rule_one_requires_improvement_among_goods_makes_the_audit_requires_improvement():
    assert domain.overall_grade(WORST, [G, G, RI, G, G], None) is RI


@pytest.mark.parametrize(
    ("grades", "expected"),
    [([OUT, OUT], OUT), ([OUT, G], G), ([G, INAD, RI], INAD), ([RI], RI)],
)
def test_worst_rule_is_the_limiting_judgement(grades, expected):
    assert domain.overall_grade(WORST, grades, None) is expected


def test_worst_rule_accepts_the_worst_grade_stated_and_refuses_another():
    assert domain.overall_grade(WORST, [G, RI], RI) is RI
    with pytest.raises(Invalid) as err:
        domain.overall_grade(WORST, [G, RI], G)
    assert err.value.field == "overall_grade"
    assert "requires_improvement" in err.value.reason


def test_best_fit_takes_the_auditors_grade_between_the_best_and_the_worst():
    assert domain.overall_grade(BEST_FIT, [G, G, RI, G, G], G) is G
    assert domain.overall_grade(BEST_FIT, [G, G, RI, G, G], RI) is RI
    assert domain.overall_grade(BEST_FIT, [OUT, G, INAD], RI) is RI


@pytest.mark.parametrize("stated", [OUT, INAD])
def test_best_fit_refuses_a_grade_outside_the_area_grades(stated):
    with pytest.raises(Invalid, match="between the best"):
        domain.overall_grade(BEST_FIT, [G, RI], stated)


def test_best_fit_needs_the_auditor_to_state_the_grade():
    with pytest.raises(Invalid) as err:
        domain.overall_grade(BEST_FIT, [G, RI], None)
    assert err.value.field == "overall_grade"


def test_no_area_grades_no_overall_grade():
    with pytest.raises(Invalid):
        domain.overall_grade(WORST, [], None)


# --------------------------------------------------------------------------- lifecycle


def test_grading_a_scheduled_or_in_progress_audit_moves_it_in_progress():
    assert grade(audit(), j("planning")) is AuditStatus.IN_PROGRESS
    state = in_progress(G)
    assert grade(state, j("voice_of_the_child", RI)) is AuditStatus.IN_PROGRESS
    assert state.grades["voice_of_the_child"].grade is RI  # re-graded before completion


def test_grading_records_who_graded_when_and_the_rationale_tidied():
    state = audit()
    state.grade(GradeAudit(grades=[j("planning", RI, "  plan out of date  ")]), graded_by="auditor-7", now=NOW)
    judgement = state.grades["planning"]
    assert (judgement.grade, judgement.rationale, judgement.graded_by, judgement.graded_at) == (
        RI,
        "plan out of date",
        "auditor-7",
        NOW,
    )


def test_grading_a_completed_audit_is_a_conflict():
    done = completed(G, G, G, G, G)
    with pytest.raises(Conflict, match="completed"):
        grade(done, j("planning", RI))


@pytest.mark.parametrize(
    ("judgements", "why"),
    [
        ([], "at least one"),
        ([j("timeliness")], "not in this audit's template"),
        ([j("planning"), j("planning", RI)], "twice"),
        ([j("planning", rationale="   ")], "rationale"),
    ],
)
def test_invalid_grades_are_refused(judgements, why):
    state = audit()
    with pytest.raises(Invalid, match=why):
        grade(state, *judgements)
    assert state == audit()  # nothing changed


def test_a_grading_request_names_at_least_one_area():
    with pytest.raises(ValidationError):
        GradeAudit(grades=[])


def test_completing_needs_every_area_graded():
    partly = audit()
    grade(partly, j("planning"), j("recording"))
    with pytest.raises(Conflict, match="voice_of_the_child, assessment_and_analysis, management_oversight"):
        partly.complete(CompleteAudit(), WORST, completed_by="auditor-1", now=NOW)
    with pytest.raises(Conflict, match="not graded"):
        audit().complete(CompleteAudit(), WORST, completed_by="auditor-1", now=NOW)


def test_completing_gives_the_overall_grade_by_the_rule_and_its_event():
    state = in_progress(G, G, RI, G, G)
    event = state.complete(CompleteAudit(), WORST, completed_by="auditor-1", now=NOW)
    assert event.overall_grade is RI and state.overall_grade is RI and state.current_grade is RI
    assert (state.status, state.grade_rule, state.completed_at, state.completed_by) == (
        AuditStatus.COMPLETED,
        WORST,
        NOW,
        "auditor-1",
    )
    assert [(g.area, g.grade) for g in event.area_grades] == list(zip(AREAS, [G, G, RI, G, G], strict=True))
    assert (event.audit_id, event.case_ref, event.team, event.completed_at) == ("a1", state.case_ref, "send-0-14", NOW)
    best_fit = in_progress(G, G, RI, G, G)
    assert best_fit.complete(CompleteAudit(overall_grade=G), BEST_FIT, completed_by="x", now=NOW).overall_grade is G


def test_completing_twice_is_a_conflict():
    done = completed(G, G, G, G, G)
    with pytest.raises(Conflict, match="already completed"):
        done.complete(CompleteAudit(), WORST, completed_by="auditor-1", now=NOW)


def test_a_fact_cannot_happen_in_the_future_but_may_be_entered_late():
    earlier = NOW - timedelta(days=30)
    state = in_progress(G, G, G, G, G)
    assert state.complete(CompleteAudit(completed_at=earlier), WORST, completed_by="a", now=NOW).completed_at == earlier
    assert completed(G, G, G, G, G).completed_at == NOW  # not given: now
    late = in_progress(G, G, G, G, G)
    with pytest.raises(Invalid, match="future") as err:
        late.complete(CompleteAudit(completed_at=NOW + timedelta(hours=1)), WORST, completed_by="a", now=NOW)
    assert err.value.field == "completed_at" and late.status is AuditStatus.IN_PROGRESS


def test_moderation_by_a_second_reader_changes_the_current_grade():
    done = completed(G, G, RI, G, G)
    event = done.moderate(
        ModerateAudit(overall_grade=G, reason="minor"), moderator_id="moderator-1", now=NOW + timedelta(days=3)
    )
    assert event.overall_grade_before is RI and event.overall_grade_after is G
    assert done.overall_grade is RI and done.current_grade is G
    event = done.moderate(
        ModerateAudit(overall_grade=RI, reason="on reflection"), moderator_id="moderator-2", now=NOW + timedelta(days=4)
    )
    assert event.overall_grade_before is G
    assert [(m.grade_before, m.grade_after, m.moderator_id, m.reason) for m in done.moderations] == [
        (RI, G, "moderator-1", "minor"),
        (G, RI, "moderator-2", "on reflection"),
    ]


def test_moderation_refusals():
    done = completed(G, G, G, G, G)
    change = ModerateAudit(overall_grade=RI, reason="r")
    with pytest.raises(Conflict, match="not completed"):
        in_progress(G).moderate(ModerateAudit(overall_grade=G, reason="r"), moderator_id="moderator-1", now=NOW)
    with pytest.raises(Conflict, match="second reader"):
        done.moderate(change, moderator_id="auditor-1", now=NOW)
    with pytest.raises(Invalid, match="already good"):
        done.moderate(ModerateAudit(overall_grade=G, reason="r"), moderator_id="moderator-1", now=NOW)
    with pytest.raises(Invalid, match="before the audit was completed"):
        done.moderate(
            ModerateAudit(overall_grade=RI, reason="r", moderated_at=NOW - timedelta(hours=1)),
            moderator_id="moderator-1",
            now=NOW,
        )
    assert done.current_grade is G and done.moderations == []


def test_a_moderation_gives_its_reason():
    with pytest.raises(ValidationError, match="a moderation gives its reason"):
        ModerateAudit(overall_grade=G, reason="   ")
    assert ModerateAudit(overall_grade=G, reason="  minor gap ").reason == "minor gap"


def test_an_audit_is_overdue_while_open_past_its_due_date():
    assert audit().overdue(date(2022, 9, 1))
    assert not audit().overdue(date(2022, 8, 31))
    assert not completed(G, G, G, G, G).overdue(date(2022, 9, 1))


# --------------------------------------------------------------------------- scheduling


OPEN_CONCERN = Concern(
    "c1", "send", "management_oversight", "weak oversight", ["supervision"], NOW, date(2022, 11, 30), "qa"
)


def test_a_targeted_audit_names_an_open_concern_of_its_service_area():
    domain.check_schedule(
        audit_type=AuditType.TARGETED, service_area="send", theme=None, concern_id="c1", concern=OPEN_CONCERN
    )
    with pytest.raises(Invalid, match="concern_id is required"):
        domain.check_schedule(
            audit_type=AuditType.TARGETED, service_area="send", theme=None, concern_id=None, concern=None
        )
    with pytest.raises(Invalid, match="unknown concern"):
        domain.check_schedule(
            audit_type=AuditType.TARGETED, service_area="send", theme=None, concern_id="c9", concern=None
        )
    with pytest.raises(Invalid, match="about send"):
        domain.check_schedule(
            audit_type=AuditType.TARGETED,
            service_area="fostering",
            theme=None,
            concern_id="c1",
            concern=OPEN_CONCERN,
        )
    with pytest.raises(Conflict, match="resolved"):
        domain.check_schedule(
            audit_type=AuditType.TARGETED,
            service_area="send",
            theme=None,
            concern_id="c1",
            concern=replace(OPEN_CONCERN, status=ConcernStatus.RESOLVED),
        )


def test_a_themed_audit_names_its_theme():
    with pytest.raises(Invalid, match="theme"):
        domain.check_schedule(
            audit_type=AuditType.THEMED, service_area="send", theme="  ", concern_id=None, concern=None
        )
    domain.check_schedule(
        audit_type=AuditType.THEMED, service_area="send", theme="neglect", concern_id=None, concern=None
    )


def test_a_scheduled_audit_is_graded_on_its_templates_areas_and_its_event_carries_the_pseudonym():
    cmd = ScheduleAudit(
        case_reference="  MOS/0042117 ",
        service_area="send",
        team="send-0-14",
        audit_type=AuditType.EHCP,
        theme="  ",
        auditor_id="auditor-1",
        due_date=date(2022, 9, 30),
    )
    scheduled = domain.schedule_audit(
        cmd,
        audit_id="a9",
        case_ref="k1:00000000000000ff",
        templates=DEFAULT_TEMPLATES,
        concern=None,
        scheduled_by="qa-manager",
        now=NOW,
    )
    assert (scheduled.case_reference, scheduled.theme, scheduled.template_id) == ("MOS/0042117", None, "ehcp-send")
    assert scheduled.area_keys == tuple(a.key for a in templates.EHCP_AREAS)
    assert (scheduled.status, scheduled.scheduled_at, scheduled.scheduled_by) == (
        AuditStatus.SCHEDULED,
        NOW,
        "qa-manager",
    )
    event = scheduled.scheduled_event()
    assert (event.audit_id, event.case_ref, event.audit_type, event.theme) == (
        "a9",
        "k1:00000000000000ff",
        AuditType.EHCP,
        None,
    )
    assert scheduled.subject == "case:k1:00000000000000ff"
    assert "MOS" not in event.model_dump_json()


def test_an_empty_case_reference_is_refused():
    with pytest.raises(ValidationError, match="the case reference is empty"):
        ScheduleAudit(
            case_reference="   ",
            service_area="send",
            team="t",
            audit_type=AuditType.ROUTINE,
            auditor_id="a",
            due_date=date(2022, 9, 30),
        )


# --------------------------------------------------------------------------- templates


def test_every_default_template_is_valid_and_each_service_area_has_a_default():
    for t in DEFAULT_TEMPLATES:
        assert (
            templates.validate_template(
                name=t.name,
                service_area=t.service_area,
                audit_type=t.audit_type,
                areas=t.areas,
                known_service_areas=DEFAULT_SERVICE_AREAS,
            )
            == t.areas
        )
    general = {t.service_area for t in DEFAULT_TEMPLATES if t.is_default and t.audit_type is None}
    assert general == set(DEFAULT_SERVICE_AREAS)
    assert len({t.template_id for t in DEFAULT_TEMPLATES}) == len(DEFAULT_TEMPLATES)


def test_the_ehcp_template_follows_the_ehc_plan_audit_procedure():
    ehcp = templates.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.EHCP)
    assert ehcp.audit_type is AuditType.EHCP
    keys = ehcp.area_keys
    for area in ("timeliness", "child_and_family_views", "outcomes", "provision_specified"):
        assert area in keys
    assert "voice_of_the_child" not in keys  # its own areas, not the case-file ones


def test_an_ehcp_audit_is_graded_on_ehcp_areas_and_a_routine_send_audit_on_case_file_areas():
    routine = templates.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.ROUTINE)
    assert routine.template_id == "case-file-send"
    assert "management_oversight" in routine.area_keys
    ehcp_audit = audit(areas=templates.EHCP_AREAS)
    with pytest.raises(Invalid, match="not in this audit's template"):
        grade(ehcp_audit, j("voice_of_the_child"))
    assert grade(ehcp_audit, j("timeliness", RI)) is AuditStatus.IN_PROGRESS


def test_an_ehcp_audit_needs_an_ehcp_template():
    with pytest.raises(Invalid, match="no default ehcp template for fostering"):
        templates.choose_template(DEFAULT_TEMPLATES, service_area="fostering", audit_type=AuditType.EHCP)
    with pytest.raises(Invalid, match="EHCP template"):
        templates.choose_template(
            DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.EHCP, template_id="case-file-send"
        )


def test_a_named_template_must_fit_the_audit():
    with pytest.raises(Invalid, match="is for send"):
        templates.choose_template(
            DEFAULT_TEMPLATES, service_area="fostering", audit_type=AuditType.ROUTINE, template_id="case-file-send"
        )
    with pytest.raises(Invalid, match="unknown template"):
        templates.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.ROUTINE, template_id="x")


def test_a_type_specific_default_wins_over_the_general_default():
    themed = Template(
        "themed-send", "SEND themed", "send", AuditType.THEMED, (TemplateArea("management_oversight", "MO"),), True
    )
    chosen = templates.choose_template([*DEFAULT_TEMPLATES, themed], service_area="send", audit_type=AuditType.THEMED)
    assert chosen is themed


@pytest.mark.parametrize(
    ("areas", "why"),
    [
        ([], "at least one area"),
        ([TemplateArea("Voice Of Child", "x")], "lower-case"),
        ([TemplateArea("planning", "x"), TemplateArea("planning", "y")], "twice"),
        ([TemplateArea("planning", " ")], "title"),
    ],
)
def test_template_validation(areas, why):
    with pytest.raises(Invalid, match=why):
        templates.validate_template(
            name="SEND oversight",
            service_area="send",
            audit_type=None,
            areas=areas,
            known_service_areas=DEFAULT_SERVICE_AREAS,
        )


def test_a_template_for_an_unknown_service_area_is_refused():
    with pytest.raises(Invalid, match="unknown service_area"):
        templates.validate_template(
            name="x",
            service_area="adult_social_care",
            audit_type=None,
            areas=[TemplateArea("planning", "Planning")],
            known_service_areas=DEFAULT_SERVICE_AREAS,
        )


# --------------------------------------------------------------------------- concerns


def concern_request(**changes: Any) -> RaiseConcern:
    base: dict[str, Any] = {
        "service_area": "send",
        "theme": "management_oversight",
        "description": "oversight of SEND cases is weak",
        "measures": ["monthly case supervision"],
        "review_by": date(2022, 11, 30),
    }
    return RaiseConcern(**(base | changes))


def test_a_concern_names_its_measures_and_a_review_date_not_before_it_was_raised():
    raised = domain.raise_concern(
        concern_request(measures=[" monthly case supervision ", "  "], theme=" management_oversight "),
        concern_id="c1",
        raised_by="qa",
        now=NOW,
    )
    assert raised.measures == ["monthly case supervision"] and raised.theme == "management_oversight"
    assert (raised.raised_at, raised.status, raised.raised_event().measures) == (
        NOW,
        ConcernStatus.OPEN,
        ["monthly case supervision"],
    )
    with pytest.raises(Invalid, match="measure"):
        domain.raise_concern(
            concern_request(theme="t", description="d", measures=[" "]), concern_id="c", raised_by="qa", now=NOW
        )
    with pytest.raises(Invalid, match="review_by"):
        domain.raise_concern(concern_request(review_by=date(2022, 8, 1)), concern_id="c", raised_by="qa", now=NOW)
    with pytest.raises(Invalid, match="theme"):
        domain.raise_concern(concern_request(theme="  "), concern_id="c", raised_by="qa", now=NOW)
    with pytest.raises(Invalid, match="future"):
        domain.raise_concern(
            concern_request(raised_at=NOW + timedelta(days=1)), concern_id="c", raised_by="qa", now=NOW
        )


def test_a_concern_is_resolved_with_completed_audits_linked_to_it():
    done = EvidenceAudit("a1", AuditStatus.COMPLETED, "c1", NOW + timedelta(days=60))
    later = NOW + timedelta(days=61)

    def resolve(ids: list[str], evidence: dict[str, EvidenceAudit], concern: Concern | None = None) -> Concern:
        state = replace(concern or OPEN_CONCERN)
        state.resolve(
            ResolveConcern.model_construct(evidence_audit_ids=ids, resolved_at=None),
            evidence,
            resolved_by="qa",
            now=later,
        )
        return state

    resolved = resolve(["a1", "a1"], {"a1": done})
    assert (resolved.status, resolved.evidence_audit_ids, resolved.resolved_at) == (
        ConcernStatus.RESOLVED,
        ["a1"],
        later,
    )
    with pytest.raises(Invalid, match="evidence"):
        resolve([], {})
    with pytest.raises(Invalid, match="unknown audits: a2"):
        resolve(["a1", "a2"], {"a1": done})
    with pytest.raises(Invalid, match="not linked"):
        resolve(["a1"], {"a1": replace(done, concern_id=None)})
    with pytest.raises(Conflict, match="not completed"):
        resolve(["a1"], {"a1": replace(done, status=AuditStatus.IN_PROGRESS, completed_at=None)})
    with pytest.raises(Conflict, match="already resolved"):
        resolve(["a1"], {"a1": done}, replace(OPEN_CONCERN, status=ConcernStatus.RESOLVED))
    with pytest.raises(Invalid, match="completed after resolved_at"):
        resolve(["a1"], {"a1": replace(done, completed_at=later + timedelta(hours=1))})


def test_a_concerns_review_is_overdue_while_open_past_its_review_date():
    assert OPEN_CONCERN.review_overdue(date(2022, 12, 1))
    assert not OPEN_CONCERN.review_overdue(date(2022, 11, 30))
    assert not replace(OPEN_CONCERN, status=ConcernStatus.RESOLVED).review_overdue(date(2022, 12, 1))


# --------------------------------------------------------------------------- where actions are raised


def test_an_audits_actions_belong_to_its_team_and_carry_its_case_pseudonym():
    origin = audit().action_origin()
    assert (origin.origin, origin.origin_id, origin.team, origin.service_area) == (
        LearningOrigin.AUDIT,
        "a1",
        "send-0-14",
        "send",
    )
    assert (origin.subject, origin.not_before, origin.describes) == ("case:k1:0123456789abcdef", None, "audit")


def test_a_concerns_actions_name_their_team_come_after_it_and_only_while_it_is_open():
    origin = OPEN_CONCERN.action_origin()
    assert (origin.origin, origin.origin_id, origin.team, origin.service_area) == (
        LearningOrigin.CONCERN,
        "c1",
        None,
        "send",
    )
    assert (origin.subject, origin.not_before, origin.describes) == (None, NOW, "concern")
    with pytest.raises(Conflict, match="resolved"):
        replace(OPEN_CONCERN, status=ConcernStatus.RESOLVED).action_origin()
