"""services.audit.domain: the overall-grade rules, the audit state machine, templates
(the EHC plan audit template among them), concerns and actions. Pure: no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.audit import domain
from services.audit.domain import (
    DEFAULT_TEMPLATES,
    AreaJudgement,
    AuditState,
    AuditStatus,
    ConcernState,
    ConcernStatus,
    Conflict,
    EvidenceAudit,
    Invalid,
    OverallGradeRule,
    Template,
    TemplateArea,
)
from shared.events import DEFAULT_SERVICE_AREAS, AuditType, Grade

G, RI, OUT, INAD = Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.OUTSTANDING, Grade.INADEQUATE
WORST, BEST_FIT = OverallGradeRule.WORST, OverallGradeRule.BEST_FIT
NOW = datetime(2022, 8, 15, 10, 40, tzinfo=UTC)
AREAS = ("voice_of_the_child", "assessment_and_analysis", "planning", "management_oversight", "recording")


def audit(**changes: object) -> AuditState:
    base = AuditState(audit_id="a1", status=AuditStatus.SCHEDULED, auditor_id="auditor-1", areas=AREAS)
    return replace(base, **changes)  # type: ignore[arg-type]


def graded(*grades: Grade) -> dict[str, Grade]:
    return dict(zip(AREAS, grades, strict=True))


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


# --------------------------------------------------------------------------- state machine


def j(area: str, grade: Grade = G, rationale: str = "clear plan, reviewed") -> AreaJudgement:
    return AreaJudgement(area, grade, rationale)


def test_grading_a_scheduled_or_in_progress_audit_moves_it_in_progress():
    assert domain.record_grades(audit(), [j("planning")]) is AuditStatus.IN_PROGRESS
    state = audit(status=AuditStatus.IN_PROGRESS, grades={"planning": G})
    assert domain.record_grades(state, [j("planning", RI)]) is AuditStatus.IN_PROGRESS


def test_grading_a_completed_audit_is_a_conflict():
    done = audit(status=AuditStatus.COMPLETED, grades=graded(G, G, G, G, G), current_grade=G)
    with pytest.raises(Conflict, match="completed"):
        domain.record_grades(done, [j("planning", RI)])


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
    with pytest.raises(Invalid, match=why):
        domain.record_grades(audit(), judgements)


def test_completing_needs_every_area_graded():
    partly = audit(status=AuditStatus.IN_PROGRESS, grades={"planning": G, "recording": G})
    with pytest.raises(Conflict, match="voice_of_the_child, assessment_and_analysis, management_oversight"):
        domain.complete(partly, WORST, None, NOW)
    with pytest.raises(Conflict, match="not graded"):
        domain.complete(audit(), WORST, None, NOW)


def test_completing_gives_the_overall_grade_by_the_rule():
    state = audit(status=AuditStatus.IN_PROGRESS, grades=graded(G, G, RI, G, G))
    assert domain.complete(state, WORST, None, NOW) is RI
    assert domain.complete(state, BEST_FIT, G, NOW) is G


def test_completing_twice_is_a_conflict():
    done = audit(status=AuditStatus.COMPLETED, grades=graded(G, G, G, G, G), current_grade=G)
    with pytest.raises(Conflict, match="already completed"):
        domain.complete(done, WORST, None, NOW)


def test_moderation_by_a_second_reader_changes_the_current_grade():
    done = audit(
        status=AuditStatus.COMPLETED,
        grades=graded(G, G, RI, G, G),
        overall_grade=RI,
        current_grade=RI,
        completed_at=NOW,
    )
    assert domain.moderate(done, G, "moderator-1", NOW + timedelta(days=3)) is RI
    moderated_twice = replace(done, current_grade=G)
    assert domain.moderate(moderated_twice, RI, "moderator-2", NOW + timedelta(days=4)) is G


def test_moderation_refusals():
    done = audit(status=AuditStatus.COMPLETED, grades=graded(G, G, G, G, G), current_grade=G, completed_at=NOW)
    with pytest.raises(Conflict, match="not completed"):
        domain.moderate(audit(status=AuditStatus.IN_PROGRESS), G, "moderator-1", NOW)
    with pytest.raises(Conflict, match="second reader"):
        domain.moderate(done, RI, "auditor-1", NOW)
    with pytest.raises(Invalid, match="already good"):
        domain.moderate(done, G, "moderator-1", NOW)
    with pytest.raises(Invalid, match="before the audit was completed"):
        domain.moderate(done, RI, "moderator-1", NOW - timedelta(hours=1))


def test_a_fact_cannot_happen_in_the_future_but_may_be_entered_late():
    assert domain.occurred_at(None, NOW, "completed_at") == NOW
    earlier = NOW - timedelta(days=30)
    assert domain.occurred_at(earlier, NOW, "completed_at") == earlier
    with pytest.raises(Invalid, match="future"):
        domain.occurred_at(NOW + timedelta(hours=1), NOW, "completed_at")


# --------------------------------------------------------------------------- scheduling


OPEN_CONCERN = ConcernState("c1", "send", ConcernStatus.OPEN, NOW)


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


# --------------------------------------------------------------------------- templates


def test_every_default_template_is_valid_and_each_service_area_has_a_default():
    for t in DEFAULT_TEMPLATES:
        assert (
            domain.validate_template(
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
    ehcp = domain.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.EHCP)
    assert ehcp.audit_type is AuditType.EHCP
    keys = ehcp.area_keys
    for area in ("timeliness", "child_and_family_views", "outcomes", "provision_specified"):
        assert area in keys
    assert "voice_of_the_child" not in keys  # its own areas, not the case-file ones


def test_an_ehcp_audit_is_graded_on_ehcp_areas_and_a_routine_send_audit_on_case_file_areas():
    routine = domain.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.ROUTINE)
    assert routine.template_id == "case-file-send"
    assert "management_oversight" in routine.area_keys
    ehcp_audit = audit(areas=tuple(a.key for a in domain.EHCP_AREAS))
    with pytest.raises(Invalid, match="not in this audit's template"):
        domain.record_grades(ehcp_audit, [j("voice_of_the_child")])
    assert domain.record_grades(ehcp_audit, [j("timeliness", RI)]) is AuditStatus.IN_PROGRESS


def test_an_ehcp_audit_needs_an_ehcp_template():
    with pytest.raises(Invalid, match="no default ehcp template for fostering"):
        domain.choose_template(DEFAULT_TEMPLATES, service_area="fostering", audit_type=AuditType.EHCP)
    with pytest.raises(Invalid, match="EHCP template"):
        domain.choose_template(
            DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.EHCP, template_id="case-file-send"
        )


def test_a_named_template_must_fit_the_audit():
    with pytest.raises(Invalid, match="is for send"):
        domain.choose_template(
            DEFAULT_TEMPLATES, service_area="fostering", audit_type=AuditType.ROUTINE, template_id="case-file-send"
        )
    with pytest.raises(Invalid, match="unknown template"):
        domain.choose_template(DEFAULT_TEMPLATES, service_area="send", audit_type=AuditType.ROUTINE, template_id="x")


def test_a_type_specific_default_wins_over_the_general_default():
    themed = Template(
        "themed-send", "SEND themed", "send", AuditType.THEMED, (TemplateArea("management_oversight", "MO"),), True
    )
    chosen = domain.choose_template([*DEFAULT_TEMPLATES, themed], service_area="send", audit_type=AuditType.THEMED)
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
        domain.validate_template(
            name="SEND oversight",
            service_area="send",
            audit_type=None,
            areas=areas,
            known_service_areas=DEFAULT_SERVICE_AREAS,
        )


def test_a_template_for_an_unknown_service_area_is_refused():
    with pytest.raises(Invalid, match="unknown service_area"):
        domain.validate_template(
            name="x",
            service_area="adult_social_care",
            audit_type=None,
            areas=[TemplateArea("planning", "Planning")],
            known_service_areas=DEFAULT_SERVICE_AREAS,
        )


# --------------------------------------------------------------------------- concerns and actions


def test_a_concern_names_its_measures_and_a_review_date_not_before_it_was_raised():
    assert domain.check_concern(
        theme="management_oversight",
        description="oversight of SEND cases is weak",
        measures=[" monthly case supervision ", ""],
        raised_at=NOW,
        review_by=date(2022, 11, 30),
    ) == ["monthly case supervision"]
    with pytest.raises(Invalid, match="measure"):
        domain.check_concern(theme="t", description="d", measures=[" "], raised_at=NOW, review_by=date(2022, 11, 30))
    with pytest.raises(Invalid, match="review_by"):
        domain.check_concern(theme="t", description="d", measures=["m"], raised_at=NOW, review_by=date(2022, 8, 1))


def test_a_concern_is_resolved_with_completed_audits_linked_to_it():
    done = EvidenceAudit("a1", AuditStatus.COMPLETED, "c1", NOW + timedelta(days=60))
    later = NOW + timedelta(days=61)
    assert domain.check_resolution(OPEN_CONCERN, ["a1", "a1"], {"a1": done}, later) == ["a1"]
    with pytest.raises(Invalid, match="evidence"):
        domain.check_resolution(OPEN_CONCERN, [], {}, later)
    with pytest.raises(Invalid, match="unknown audits: a2"):
        domain.check_resolution(OPEN_CONCERN, ["a1", "a2"], {"a1": done}, later)
    with pytest.raises(Invalid, match="not linked"):
        domain.check_resolution(OPEN_CONCERN, ["a1"], {"a1": replace(done, concern_id=None)}, later)
    with pytest.raises(Conflict, match="not completed"):
        domain.check_resolution(
            OPEN_CONCERN, ["a1"], {"a1": replace(done, status=AuditStatus.IN_PROGRESS, completed_at=None)}, later
        )
    with pytest.raises(Conflict, match="already resolved"):
        domain.check_resolution(replace(OPEN_CONCERN, status=ConcernStatus.RESOLVED), ["a1"], {"a1": done}, later)


def test_actions():
    domain.check_action(summary="supervise monthly", raised_at=NOW, due_date=date(2022, 8, 15))
    with pytest.raises(Invalid, match="due_date"):
        domain.check_action(summary="x", raised_at=NOW, due_date=date(2022, 8, 14))
    with pytest.raises(Conflict, match="already completed"):
        domain.complete_action("x1", domain.ActionStatus.COMPLETED, NOW, NOW)
    with pytest.raises(Invalid, match="before the action was raised"):
        domain.complete_action("x1", domain.ActionStatus.OPEN, NOW, NOW - timedelta(days=1))
    assert domain.is_overdue(date(2022, 8, 14), False, date(2022, 8, 15))
    assert not domain.is_overdue(date(2022, 8, 15), False, date(2022, 8, 15))
    assert not domain.is_overdue(date(2022, 8, 1), True, date(2022, 8, 15))
