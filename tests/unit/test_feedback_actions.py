"""Where feedback's actions are raised, on plain data: a survey response and a service area's
theme as the origins of the shared action lifecycle (its rules: test_actions_domain.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.feedback.commands import PublishSurvey
from services.feedback.domain.responses import SurveyResponse, validate_response
from services.feedback.domain.surveys import next_survey_version
from services.feedback.domain.you_said_we_did import theme_origin
from shared.actions.domain import ActionOrigin, RaiseAction, raise_action
from shared.errors import Invalid
from shared.events import LearningOrigin

NOW = datetime(2022, 9, 30, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2022, 8, 1, 9, 0, tzinfo=UTC)  # Monday 1 August 2022, 10:00 BST


def survey_response(team: str | None = "through-care") -> SurveyResponse:
    definition = PublishSurvey.model_validate(
        {
            "title": "Children's social care",
            "service_area": "childrens_social_care",
            "respondents": ["child"],
            "questions": [
                {"question_id": "feel_safe", "wording": "I feel safe", "answer_type": "yes_no", "safeguarding": True}
            ],
        }
    )
    survey = next_survey_version("csc", definition, [], now=RECEIVED)
    assert survey is not None
    return validate_response(
        survey, response_id="resp-1", answers={"feel_safe": "no"}, received_at=RECEIVED, now=NOW, team=team
    )


def request(**changes: object) -> RaiseAction:
    base: dict[str, object] = {
        "owner_id": "manager-through-care",
        "due_date": "2022-08-02",
        "summary": "Social worker to visit today and review the safety plan with the child",
        "raised_at": "2022-08-01T11:00:00+01:00",
    }
    return RaiseAction.model_validate(base | changes)


def problems(exc: pytest.ExceptionInfo[Invalid]) -> dict[tuple[str | int, ...], str]:
    return {p.field: p.reason for p in exc.value.problems}


def test_a_responses_action_is_feedbacks_on_the_response_in_its_team_and_service_area():
    origin = survey_response().action_origin()
    assert origin == ActionOrigin(
        origin=LearningOrigin.FEEDBACK,
        origin_id="resp-1",
        service_area="childrens_social_care",
        team="through-care",
        not_before=RECEIVED,
        subject=None,
        describes="response",
    )
    action = raise_action(origin, request(), action_id="act-1", raised_by="worker-1", now=NOW)
    event = action.raised_event()
    assert (event.origin, event.origin_id, event.team, event.service_area) == (
        LearningOrigin.FEEDBACK,
        "resp-1",
        "through-care",
        "childrens_social_care",
    )


def test_a_responses_action_is_not_raised_before_the_response_was_received_nor_for_another_team():
    origin = survey_response().action_origin()
    with pytest.raises(Invalid) as raised:
        raise_action(origin, request(raised_at="2022-08-01T09:30:00+01:00"), action_id="a", raised_by="w", now=NOW)
    assert "before the response (2022-08-01T09:00:00+00:00)" in problems(raised)[("raised_at",)]
    with pytest.raises(Invalid) as raised:
        raise_action(origin, request(team="assessment"), action_id="a", raised_by="w", now=NOW)
    assert "the response is about team 'through-care'" in problems(raised)[("team",)]


def test_a_response_that_names_no_team_leaves_the_action_to_name_one():
    origin = survey_response(team=None).action_origin()
    assert origin.team is None
    with pytest.raises(Invalid) as raised:
        raise_action(origin, request(), action_id="a", raised_by="w", now=NOW)
    assert "a response's action names the team that owns it" in problems(raised)[("team",)]
    named = raise_action(origin, request(team="safeguarding"), action_id="a", raised_by="w", now=NOW)
    assert named.team == "safeguarding"


def test_a_themes_action_names_its_team_and_its_origin_is_the_area_and_theme():
    origin = theme_origin("send", "easy_to_contact_case_worker")
    assert (origin.origin, origin.origin_id, origin.service_area, origin.team, origin.not_before) == (
        LearningOrigin.FEEDBACK,
        "send:easy_to_contact_case_worker",
        "send",
        None,
        None,
    )
    with pytest.raises(Invalid) as raised:
        raise_action(origin, request(), action_id="a", raised_by="w", now=NOW)
    assert "a theme's action names the team that owns it" in problems(raised)[("team",)]
    action = raise_action(origin, request(team="send-north"), action_id="a", raised_by="w", now=NOW)
    assert (action.team, action.service_area) == ("send-north", "send")


def test_a_theme_is_of_a_known_service_area_and_a_label():
    with pytest.raises(Invalid) as raised:
        theme_origin("mars", "no spaces allowed")
    found = problems(raised)
    assert set(found) == {("service_area",), ("theme",)}
    assert "unknown service_area 'mars'" in found[("service_area",)]
