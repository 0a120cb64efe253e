"""The shared action lifecycle's rules on plain data (shared/actions/domain.py): the team an
action belongs to, back-dating, due dates, text that travels in the events, completion and
retries. Each strand's own origins are tested with the strand (e.g. test_feedback_actions.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.actions.domain import Action, ActionOrigin, ActionStatus, CompleteAction, RaiseAction, raise_action
from shared.errors import Conflict, Invalid
from shared.events import ActionCompleted, ActionRaised, LearningOrigin

NOW = datetime(2022, 9, 30, 12, 0, tzinfo=UTC)
SINCE = datetime(2022, 8, 1, 9, 0, tzinfo=UTC)  # Monday 1 August 2022, 10:00 BST


def origin(team: str | None = "through-care", not_before: datetime | None = SINCE) -> ActionOrigin:
    return ActionOrigin(
        origin=LearningOrigin.FEEDBACK,
        origin_id="resp-1",
        service_area="childrens_social_care",
        team=team,
        not_before=not_before,
        describes="response",
    )


def request(**changes: object) -> RaiseAction:
    base: dict[str, object] = {
        "action_id": "act-1",
        "owner_id": "manager-through-care",
        "due_date": "2022-08-02",
        "summary": "Social worker to visit today and review the safety plan with the child",
        "raised_at": "2022-08-01T11:00:00+01:00",
    }
    return RaiseAction.model_validate(base | changes)


def raise_on(on: ActionOrigin | None = None, *, now: datetime = NOW, **changes: object) -> Action:
    return raise_action(on or origin(), request(**changes), action_id="act-1", raised_by="worker-1", now=now)


def problems(exc: pytest.ExceptionInfo[Invalid]) -> dict[tuple[str | int, ...], str]:
    return {p.field: p.reason for p in exc.value.problems}


def test_an_action_takes_its_origins_team_and_service_area_and_says_so_in_its_event():
    action = raise_on()
    assert (action.team, action.service_area, action.origin_id) == ("through-care", "childrens_social_care", "resp-1")
    assert action.status is ActionStatus.OPEN and action.on_time is None
    event = action.raised_event()
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


def test_the_team_is_named_only_where_the_origin_has_none_and_never_another():
    with pytest.raises(Invalid) as raised:
        raise_on(origin(team=None))
    assert "is required: a response's action names the team" in problems(raised)[("team",)]
    assert raise_on(origin(team=None), team="safeguarding").team == "safeguarding"
    assert raise_on(team="through-care").team == "through-care"
    with pytest.raises(Invalid) as raised:
        raise_on(team="assessment")
    assert "the response is about team 'through-care'" in problems(raised)[("team",)]


def test_raised_at_is_back_dated_with_an_offset_never_in_the_future_nor_before_the_origin():
    with pytest.raises(ValidationError):
        request(raised_at="2022-08-01T11:00:00")  # no offset
    with pytest.raises(Invalid) as raised:
        raise_on(raised_at=NOW + timedelta(hours=1), due_date="2022-10-03")
    assert "future" in problems(raised)[("raised_at",)]
    with pytest.raises(Invalid) as raised:
        raise_on(raised_at="2022-08-01T09:30:00+01:00")
    assert "is before the response (2022-08-01T09:00:00+00:00)" in problems(raised)[("raised_at",)]
    assert raise_on(raised_at=None, due_date="2022-10-03").raised_at == NOW
    assert raise_on(origin(not_before=None), raised_at="2022-07-01T09:00:00Z").raised_at.month == 7


def test_the_due_date_is_not_before_the_london_day_it_was_raised_and_every_problem_is_named():
    # raised 00:30 BST on 2 August (23:30 UTC on 1 August): due on 1 August would be before it
    with pytest.raises(Invalid) as raised:
        raise_on(raised_at="2022-08-01T23:30:00Z", due_date="2022-08-01")
    assert ("due_date",) in problems(raised)
    assert raise_on(due_date="2022-08-01").due_date == date(2022, 8, 1)
    with pytest.raises(Invalid) as raised:
        raise_on(origin(team=None), raised_at="2022-08-01T09:30:00+01:00", due_date="2022-07-31")
    assert set(problems(raised)) == {("team",), ("raised_at",), ("due_date",)}


def test_summary_and_evidence_are_event_text_without_contact_details():
    with pytest.raises(ValidationError):
        request(summary="Call mum on 07700 900123")
    with pytest.raises(ValidationError):
        request(summary="   ")
    with pytest.raises(ValidationError):
        request(child_name="Jayden")
    with pytest.raises(ValidationError):
        CompleteAction.model_validate({"evidence": "Sent to carer@example.org"})
    assert CompleteAction.model_validate({"evidence": "  "}).evidence is None


def test_completion_on_time_late_repeated_twice_and_before_it_was_raised():
    action = raise_on()
    completion = CompleteAction.model_validate(
        {"completed_at": "2022-08-02T09:30:00+01:00", "evidence": "Child seen; safety plan reviewed."}
    )
    done, event = action.complete(completion, completed_by="manager", now=NOW)
    assert done.status is ActionStatus.COMPLETED and done.on_time is True and done.completed_by == "manager"
    assert not done.overdue(date(2022, 8, 10)) and action.overdue(date(2022, 8, 3))
    assert isinstance(event, ActionCompleted) and event.evidence == "Child seen; safety plan reviewed."
    assert event.completed_at == done.completed_at
    again, none = done.complete(completion, completed_by="manager", now=NOW)
    assert none is None and again == done
    with pytest.raises(Conflict, match="already completed on 2022-08-02"):
        done.complete(CompleteAction(), completed_by="manager", now=NOW)
    late, _ = action.complete(
        CompleteAction.model_validate({"completed_at": "2022-08-03T09:00:00Z"}), completed_by="m", now=NOW
    )
    assert late.on_time is False
    with pytest.raises(Invalid) as raised:
        action.complete(
            CompleteAction.model_validate({"completed_at": "2022-08-01T10:59:00+01:00"}), completed_by="m", now=NOW
        )
    assert "before the action was raised" in problems(raised)[("completed_at",)]
    with pytest.raises(Invalid) as raised:
        action.complete(CompleteAction(completed_at=NOW + timedelta(hours=1)), completed_by="m", now=NOW)
    assert "future" in problems(raised)[("completed_at",)]


def test_a_retry_has_the_same_fingerprint_whatever_time_the_service_stamps():
    first = raise_on(raised_at=None, due_date="2022-10-03")
    retry = raise_on(raised_at=None, due_date="2022-10-03", now=NOW + timedelta(seconds=3))
    assert first.fingerprint == retry.fingerprint
    assert raise_on(raised_at=None, due_date="2022-10-04").fingerprint != first.fingerprint
