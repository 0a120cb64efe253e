"""Actions raised on survey responses and themes, on plain data: team and service area from
the response, back-dating, due dates, completion, retries and what goes into the events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.feedback.domain import (
    ActionCompletion,
    ActionContent,
    ActionOrigin,
    ActionOriginKind,
    ActionStatus,
    Conflict,
    FeedbackAction,
    InvalidInput,
    build_action,
    complete_action,
)
from shared.events import ActionCompleted, ActionRaised, LearningOrigin

NOW = datetime(2022, 9, 30, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2022, 8, 1, 9, 0, tzinfo=UTC)  # Monday 1 August 2022, 10:00 BST


def response(team: str | None = "through-care") -> ActionOrigin:
    return ActionOrigin.response("resp-1", service_area="childrens_social_care", team=team, received_at=RECEIVED)


def content(**changes: object) -> ActionContent:
    base: dict[str, object] = {
        "action_id": "act-1",
        "owner_id": "manager-through-care",
        "due_date": "2022-08-02",
        "summary": "Social worker to visit today and review the safety plan with the child",
        "raised_at": "2022-08-01T11:00:00+01:00",
    }
    return ActionContent.model_validate(base | changes)


def raise_on(origin: ActionOrigin | None = None, *, now: datetime = NOW, **changes: object) -> FeedbackAction:
    return build_action(content(**changes), origin or response(), action_id="act-1", raised_by="worker-1", now=now)


def problems(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[tuple[str | int, ...], str]:
    return {p.field: p.reason for p in exc.value.problems}


def test_an_action_on_a_response_takes_its_team_and_service_area_and_is_published_as_feedback():
    action = build_action(content(), response(), action_id="act-1", raised_by="worker-1", now=NOW)
    assert (action.team, action.service_area, action.origin_id) == ("through-care", "childrens_social_care", "resp-1")
    assert action.status is ActionStatus.OPEN and action.on_time is None
    event = action.to_event()
    assert isinstance(event, ActionRaised)
    assert event.origin is LearningOrigin.FEEDBACK and event.origin_id == "resp-1"
    assert event.due_date == date(2022, 8, 2) and event.raised_at == action.raised_at
    assert event.summary == "Social worker to visit today and review the safety plan with the child"
    assert set(event.model_dump()) == {
        "action_id",
        "origin",
        "origin_id",
        "team",
        "service_area",
        "owner_id",
        "raised_at",
        "due_date",
        "summary",
    }


def test_the_team_is_required_only_when_the_response_names_none():
    with pytest.raises(InvalidInput) as raised:
        build_action(content(), response(team=None), action_id="a", raised_by="w", now=NOW)
    assert "response names no team" in problems(raised)[("team",)]
    action = build_action(content(team="safeguarding"), response(team=None), action_id="a", raised_by="w", now=NOW)
    assert action.team == "safeguarding"
    same = build_action(content(team="through-care"), response(), action_id="a", raised_by="w", now=NOW)
    assert same.team == "through-care"
    with pytest.raises(InvalidInput) as raised:
        build_action(content(team="assessment"), response(), action_id="a", raised_by="w", now=NOW)
    assert "through-care" in problems(raised)[("team",)]


def test_raised_at_is_back_dated_with_an_offset_never_in_the_future_nor_before_the_response():
    with pytest.raises(ValidationError):
        content(raised_at="2022-08-01T11:00:00")  # no offset
    with pytest.raises(InvalidInput) as raised:
        raise_on(raised_at=NOW + timedelta(hours=1), due_date="2022-10-03")
    assert "future" in problems(raised)[("raised_at",)]
    with pytest.raises(InvalidInput) as raised:
        raise_on(raised_at="2022-08-01T09:30:00+01:00")
    assert "before the response was received" in problems(raised)[("raised_at",)]
    defaulted = raise_on(raised_at=None, due_date="2022-10-03")
    assert defaulted.raised_at == NOW


def test_the_due_date_is_not_before_the_london_day_it_was_raised():
    # raised 00:30 BST on 2 August (23:30 UTC on 1 August): due on 1 August would be before it
    with pytest.raises(InvalidInput) as raised:
        raise_on(raised_at="2022-08-01T23:30:00Z", due_date="2022-08-01")
    assert ("due_date",) in problems(raised)
    same_day = build_action(content(due_date="2022-08-01"), response(), action_id="a", raised_by="w", now=NOW)
    assert same_day.due_date == date(2022, 8, 1)


def test_summary_and_evidence_are_event_text_without_contact_details():
    with pytest.raises(ValidationError):
        content(summary="Call mum on 07700 900123")
    with pytest.raises(ValidationError):
        content(summary="   ")
    with pytest.raises(ValidationError):
        ActionCompletion.model_validate({"evidence": "Sent to carer@example.org"})
    assert ActionCompletion.model_validate({"evidence": "  "}).evidence is None
    with pytest.raises(ValidationError):
        content(child_name="Jayden")


def test_completion_on_time_late_twice_and_before_it_was_raised():
    action = build_action(content(), response(), action_id="act-1", raised_by="w", now=NOW)
    completion = ActionCompletion.model_validate(
        {"completed_at": "2022-08-02T09:30:00+01:00", "evidence": "Child seen; safety plan reviewed."}
    )
    done, changed = complete_action(action, completion, completed_by="manager", now=NOW)
    assert changed and done.status is ActionStatus.COMPLETED and done.on_time is True
    assert not done.overdue(date(2022, 8, 10)) and action.overdue(date(2022, 8, 3))
    event = done.completion_event()
    assert isinstance(event, ActionCompleted) and event.evidence == "Child seen; safety plan reviewed."
    again, changed = complete_action(done, completion, completed_by="manager", now=NOW)
    assert not changed and again == done
    with pytest.raises(Conflict):
        complete_action(done, ActionCompletion(), completed_by="manager", now=NOW)
    late, _ = complete_action(
        action, ActionCompletion.model_validate({"completed_at": "2022-08-03T09:00:00Z"}), completed_by="m", now=NOW
    )
    assert late.on_time is False
    with pytest.raises(InvalidInput) as raised:
        early = ActionCompletion.model_validate({"completed_at": "2022-08-01T10:59:00+01:00"})
        complete_action(action, early, completed_by="m", now=NOW)
    assert "before the action was raised" in problems(raised)[("completed_at",)]
    with pytest.raises(InvalidInput):
        complete_action(action, ActionCompletion(completed_at=NOW + timedelta(hours=1)), completed_by="m", now=NOW)


def test_a_retry_has_the_same_fingerprint_whatever_time_the_service_stamps():
    first = raise_on(raised_at=None, due_date="2022-10-03")
    retry = raise_on(raised_at=None, due_date="2022-10-03", now=NOW + timedelta(seconds=3))
    assert first.fingerprint == retry.fingerprint
    other = raise_on(raised_at=None, due_date="2022-10-04")
    assert other.fingerprint != first.fingerprint


def test_a_theme_action_names_its_team_and_its_origin_is_the_area_and_theme():
    origin = ActionOrigin.theme("send", "easy_to_contact_case_worker")
    assert origin.kind is ActionOriginKind.THEME and origin.origin_id == "send:easy_to_contact_case_worker"
    with pytest.raises(InvalidInput) as raised:
        build_action(content(), origin, action_id="a", raised_by="w", now=NOW)
    assert "theme has no team" in problems(raised)[("team",)]
    action = build_action(content(team="send-north"), origin, action_id="a", raised_by="w", now=NOW)
    assert (action.team, action.service_area) == ("send-north", "send")
    with pytest.raises(InvalidInput) as raised:
        ActionOrigin.theme("mars", "no spaces allowed")
    assert set(problems(raised)) == {("service_area",), ("theme",)}
