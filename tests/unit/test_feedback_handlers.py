"""Every feedback use case on the in-memory unit of work (tests/fakes/feedback.py): what it
stores, what it publishes (with aggregate, time and actor), that a retry adds and publishes
nothing, and that a refusal writes and publishes nothing. Milliseconds, no database; the
same repositories run on PostgreSQL in tests/integration/test_feedback_store.py.

The fake's clock is 30 September 2022, 12:00 BST (tests/fakes/uow.py)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.feedback import handlers
from services.feedback.commands import PublishSurvey, PublishYouSaidWeDid, RecordCompliment, RecordResponse
from services.feedback.domain.surveys import SurveyVersion
from shared.actions import handlers as actions
from shared.actions.domain import CompleteAction, RaiseAction
from shared.errors import Conflict, Invalid, NotFound, RuleError
from shared.events import (
    ActionCompleted,
    ActionRaised,
    ComplimentOrigin,
    ComplimentReceived,
    FeedbackReceived,
    LearningOrigin,
    YouSaidWeDidPublished,
)
from tests.fakes.feedback import FakeFeedbackUnitOfWork
from tests.fakes.uow import NOW

WORKER = "worker-1"
CSC = "csc"
DATA = Path(__file__).parent.parent / "data" / "feedback"
QUESTIONS: list[dict[str, Any]] = [
    {
        "question_id": "feel_safe_where_i_live",
        "wording": "I feel safe where I live",
        "answer_type": "yes_no",
        "safeguarding": True,
    },
    {"question_id": "worker_listens_to_me", "wording": "My social worker listens to me", "answer_type": "scale_1_5"},
    {"question_id": "know_how_to_complain", "wording": "I know how to complain", "answer_type": "yes_no"},
    {"question_id": "anything_else", "wording": "Anything else?", "answer_type": "free_text"},
]


def definition(**changes: Any) -> PublishSurvey:
    base: dict[str, Any] = {
        "title": "Children's social care",
        "service_area": "childrens_social_care",
        "respondents": ["child", "young_person"],
        "questions": QUESTIONS,
    }
    return PublishSurvey.model_validate(base | changes)


def reworded(question_id: str, wording: str) -> PublishSurvey:
    return definition(
        questions=[{**q, "wording": wording} if q["question_id"] == question_id else q for q in QUESTIONS]
    )


def answers(**changes: Any) -> RecordResponse:
    base: dict[str, Any] = {
        "response_id": "resp-1",
        "survey_id": CSC,
        "respondent": "child",
        "team": "through-care",
        "channel": "online",
        "received_at": "2022-08-01T10:00:00+01:00",
        "answers": {"feel_safe_where_i_live": "no", "worker_listens_to_me": 4, "anything_else": "Jayden hits me"},
    }
    return RecordResponse.model_validate(base | changes)


async def with_survey(**changes: Any) -> tuple[FakeFeedbackUnitOfWork, SurveyVersion]:
    uow = FakeFeedbackUnitOfWork()
    survey, created = await handlers.publish_survey(uow, CSC, definition(**changes), actor="author-1")
    assert created
    return uow, survey


async def with_response(**changes: Any) -> FakeFeedbackUnitOfWork:
    uow, _ = await with_survey()
    await handlers.record_response(uow, answers(**changes), actor=WORKER)
    return uow


def stored(uow: FakeFeedbackUnitOfWork) -> tuple[Any, ...]:
    """Everything the unit of work holds, to show a refusal changed nothing."""
    return copy.deepcopy((uow.surveys, uow.responses, uow.compliments, uow.you_said_we_did, uow.actions, uow.published))


async def refused(uow: FakeFeedbackUnitOfWork, use_case: Any, error: type[RuleError] = Invalid) -> RuleError:
    """Run a use case that must be refused with `error`: it stores and publishes nothing."""
    before = stored(uow)
    with pytest.raises(error) as caught:
        await use_case
    assert stored(uow) == before
    return caught.value


def fields(exc: RuleError) -> dict[tuple[str | int, ...], str]:
    assert isinstance(exc, Invalid)
    return {p.field: p.reason for p in exc.problems}


# --------------------------------------------------------------------------- surveys


async def test_publishing_a_survey_makes_a_version_only_when_it_changes_and_publishes_no_event():
    uow, first = await with_survey()
    assert (first.survey_id, first.version, first.published_at) == (CSC, 1, NOW)
    assert uow.surveys.published_by == {(CSC, 1): "author-1"}

    same, created = await handlers.publish_survey(uow, CSC, definition(), actor="author-2")
    assert not created and same == first

    second, created = await handlers.publish_survey(
        uow, CSC, reworded("worker_listens_to_me", "My worker really listens"), actor="author-2"
    )
    assert created and second.version == 2
    assert [q.reported_as for q in second.questions] == [
        "feel_safe_where_i_live",
        "worker_listens_to_me.v2",
        "know_how_to_complain",
        "anything_else",
    ]
    assert await handlers.survey_history(uow, CSC) == [first, second]
    assert uow.published == []


async def test_a_survey_with_a_bad_id_or_moved_to_another_service_area_is_refused():
    uow, _ = await with_survey()
    bad = await refused(uow, handlers.publish_survey(uow, "Not An Id", definition(), actor="a"))
    assert set(fields(bad)) == {("survey_id",)}
    moved = await refused(uow, handlers.publish_survey(uow, CSC, definition(service_area="send"), actor="a"))
    assert "is a childrens_social_care survey" in fields(moved)[("service_area",)]


async def test_surveys_are_read_latest_by_version_and_by_service_area():
    uow, first = await with_survey()
    second, _ = await handlers.publish_survey(uow, CSC, definition(title="Renamed"), actor="a")
    send, _ = await handlers.publish_survey(
        uow, "send", definition(service_area="send", respondents=["parent_carer"]), actor="a"
    )
    assert await handlers.get_survey(uow, CSC) == second
    assert await handlers.get_survey(uow, CSC, 1) == first
    assert await handlers.list_surveys(uow) == [second, send]
    assert await handlers.list_surveys(uow, "send") == [send]
    with pytest.raises(NotFound, match="no survey 'csc' version 3"):
        await handlers.get_survey(uow, CSC, 3)
    with pytest.raises(NotFound, match="no survey 'nope'"):
        await handlers.get_survey(uow, "nope")
    with pytest.raises(NotFound, match="no survey 'nope'"):
        await handlers.survey_history(uow, "nope")


async def test_results_count_answers_per_wording_in_a_period():
    uow, _ = await with_survey()
    await handlers.record_response(uow, answers(), actor=WORKER)
    await handlers.publish_survey(uow, CSC, reworded("worker_listens_to_me", "My worker listens"), actor="a")
    await handlers.record_response(
        uow,
        answers(response_id="resp-2", received_at="2022-09-01T10:00:00+01:00", answers={"worker_listens_to_me": 5}),
        actor=WORKER,
    )

    results = await handlers.survey_results(uow, CSC)
    assert (results.survey.version, results.responses) == (2, 2)
    tallies = {t.reported_as: t for t in results.questions}
    assert list(tallies) == [
        "feel_safe_where_i_live",
        "worker_listens_to_me",
        "know_how_to_complain",
        "anything_else",
        "worker_listens_to_me.v2",
    ]
    assert dict(tallies["worker_listens_to_me"].counts) == {"4": 1}
    assert dict(tallies["worker_listens_to_me.v2"].counts) == {"5": 1}
    assert tallies["feel_safe_where_i_live"].versions == (1, 2)
    assert (tallies["feel_safe_where_i_live"].positive, tallies["feel_safe_where_i_live"].positive_rate) == (0, 0.0)
    assert (tallies["anything_else"].answers, tallies["anything_else"].positive) == (1, None)

    august = await handlers.survey_results(uow, CSC, date(2022, 8, 1), date(2022, 8, 31))
    assert august.responses == 1
    assert dict(next(t for t in august.questions if t.reported_as == "worker_listens_to_me.v2").counts) == {}
    with pytest.raises(NotFound):
        await handlers.survey_results(uow, "nope")


# --------------------------------------------------------------------------- responses


async def test_a_response_is_recorded_and_published_without_its_free_text():
    uow, _ = await with_survey()
    response, created = await handlers.record_response(uow, answers(), actor=WORKER)
    assert created and response.safeguarding_concern and len(response.answers) == 3
    assert await uow.responses.get("resp-1") == response
    assert uow.responses.recorded_by == {"resp-1": WORKER}
    [emitted] = uow.published
    assert (emitted.aggregate, emitted.time, emitted.actor) == ("response:resp-1", response.received_at, WORKER)
    event = emitted.data
    assert isinstance(event, FeedbackReceived)
    assert (event.response_id, event.survey_id, event.service_area, event.team) == (
        "resp-1",
        CSC,
        "childrens_social_care",
        "through-care",
    )
    assert [(a.question_id, a.value, a.safeguarding) for a in event.answers] == [
        ("feel_safe_where_i_live", "no", True),
        ("worker_listens_to_me", 4, False),
    ]
    assert "Jayden" not in event.model_dump_json()


async def test_a_response_without_an_id_or_a_time_gets_a_new_id_and_now():
    uow, _ = await with_survey()
    response, created = await handlers.record_response(uow, answers(response_id=None, received_at=None), actor=WORKER)
    assert created and response.received_at == NOW and len(response.response_id) == 36
    again, created = await handlers.record_response(uow, answers(response_id=None, received_at=None), actor=WORKER)
    assert created and again.response_id != response.response_id


async def test_a_retried_response_adds_nothing_and_other_answers_under_its_id_conflict():
    uow = await with_response(received_at=None)
    first = await uow.responses.get("resp-1")
    uow.clock = NOW + timedelta(seconds=5)  # the retry lets the service stamp it later
    again, created = await handlers.record_response(uow, answers(received_at=None), actor="worker-2")
    assert not created and again == first and again.received_at == NOW
    assert len(uow.published) == 1 and uow.responses.recorded_by["resp-1"] == WORKER
    other = answers(answers={"feel_safe_where_i_live": "yes"})
    await refused(uow, handlers.record_response(uow, other, actor=WORKER), Conflict)


async def test_a_response_to_an_unknown_survey_or_version_is_refused_naming_the_field():
    uow, _ = await with_survey()
    unknown = await refused(uow, handlers.record_response(uow, answers(survey_id="nope"), actor=WORKER))
    assert fields(unknown) == {("survey_id",): "no survey 'nope'"}
    version = await refused(uow, handlers.record_response(uow, answers(survey_version=2), actor=WORKER))
    assert fields(version) == {("survey_version",): "no survey 'csc' version 2"}


async def test_a_response_with_bad_answers_is_refused_with_every_problem():
    uow, _ = await with_survey()
    bad = answers(
        respondent="parent_carer",
        received_at="2022-10-01T12:00:00+01:00",
        answers={"feel_safe_where_i_live": "maybe", "favourite_colour": "blue"},
    )
    problems = fields(await refused(uow, handlers.record_response(uow, bad, actor=WORKER)))
    assert set(problems) == {
        ("respondent",),
        ("received_at",),
        ("answers", "feel_safe_where_i_live"),
        ("answers", "favourite_colour"),
    }
    assert "in the future" in problems[("received_at",)]
    nothing = await refused(uow, handlers.record_response(uow, answers(answers={"anything_else": ""}), actor=WORKER))
    assert fields(nothing) == {("answers",): "no question is answered"}


async def test_a_response_is_read_with_its_actions_by_due_date():
    uow = await with_response()
    for action_id, due in (("later", "2022-08-05"), ("sooner", "2022-08-02")):
        cmd = RaiseAction.model_validate(
            {
                "action_id": action_id,
                "owner_id": "m",
                "due_date": due,
                "summary": "Visit",
                "raised_at": "2022-08-01T11:00:00+01:00",
            }
        )
        await handlers.raise_action_on_response(uow, "resp-1", cmd, actor=WORKER)
    response, raised = await handlers.get_response(uow, "resp-1")
    assert response.response_id == "resp-1" and [a.action_id for a in raised] == ["sooner", "later"]
    with pytest.raises(NotFound, match="no survey response 'nope'"):
        await handlers.get_response(uow, "nope")


# --------------------------------------------------------------------------- CSV import


async def test_a_csv_export_keeps_good_rows_reports_bad_ones_and_publishes_each_new_response():
    uow, _ = await with_survey()
    data = (DATA / "csc-export.csv").read_bytes()
    report = await handlers.import_csv(uow, CSC, data, actor="csv-import")
    assert (report.survey_id, report.survey_version) == (CSC, 1)
    assert (report.rows, report.imported, report.duplicates, report.rejected) == (7, 4, 0, 3)
    assert [e.line for e in report.errors] == [1, 4, 5, 6]
    assert report.readable and report.safeguarding_responses == (f"{CSC}:SM-1002",)
    ids = [f"{CSC}:SM-100{n}" for n in (1, 2, 6, 7)]
    assert [e.data.response_id for e in uow.published] == ids  # type: ignore[attr-defined]
    assert {e.actor for e in uow.published} == {"csv-import"}
    assert all(uow.responses.rows[i].source == "csv" for i in ids)

    again = await handlers.import_csv(uow, CSC, data, actor="csv-import")
    assert (again.imported, again.duplicates, again.rejected) == (0, 4, 3) and len(uow.published) == 4


async def test_a_reimported_row_with_other_answers_is_refused_and_changes_nothing():
    uow, _ = await with_survey()
    header = "response_id,received_at,respondent,feel_safe_where_i_live\n"
    await handlers.import_csv(uow, CSC, (header + "a1,2022-08-01,child,yes\n").encode(), actor="csv-import")
    before = uow.responses.rows[f"{CSC}:a1"]
    report = await handlers.import_csv(uow, CSC, (header + "a1,2022-08-01,child,no\n").encode(), actor="csv-import")
    assert (report.imported, report.duplicates, report.rejected) == (0, 0, 1)
    [error] = report.errors
    assert (error.line, error.response_id) == (2, f"{CSC}:a1") and "with other answers" in error.reason
    assert uow.responses.rows[f"{CSC}:a1"] == before and len(uow.published) == 1


async def test_an_import_commits_in_batches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(handlers, "IMPORT_BATCH", 2)
    uow, _ = await with_survey()
    rows = "".join(f"r{n},2022-08-0{n},child,yes\n" for n in range(1, 6))
    commits = uow.commits
    report = await handlers.import_csv(
        uow, CSC, ("response_id,received_at,respondent,feel_safe_where_i_live\n" + rows).encode(), actor="i"
    )
    assert report.imported == 5 and len(uow.published) == 5
    assert uow.commits - commits == 1 + 3  # reading the survey, then batches of 2, 2 and 1


async def test_an_unreadable_file_imports_nothing_and_an_unknown_survey_is_not_found():
    uow, _ = await with_survey()
    report = await handlers.import_csv(uow, CSC, b"", actor="csv-import")
    assert not report.readable and report.imported == 0 and report.rows == 0
    assert [e.reason for e in report.errors] == ["the file is empty: expected a header row"]
    assert uow.published == []
    await refused(uow, handlers.import_csv(uow, "nope", b"received_at\n", actor="i"), NotFound)
    await refused(uow, handlers.import_csv(uow, CSC, b"received_at\n", version=2, actor="i"), NotFound)


# --------------------------------------------------------------------------- compliments


def compliment(**changes: Any) -> RecordCompliment:
    base: dict[str, Any] = {
        "compliment_id": "comp-1",
        "origin": "external",
        "service_area": "fostering",
        "team": "fostering-east",
        "received_at": "2022-08-15",
        "summary": "A thank-you for support over the summer",
    }
    return RecordCompliment.model_validate(base | changes)


async def test_a_compliment_is_recorded_and_published_once():
    uow = FakeFeedbackUnitOfWork()
    recorded, created = await handlers.record_compliment(uow, compliment(), actor=WORKER)
    assert created and recorded.received_at.isoformat() == "2022-08-15T00:00:00+01:00"
    [emitted] = uow.published
    assert (emitted.aggregate, emitted.time, emitted.actor) == ("compliment:comp-1", recorded.received_at, WORKER)
    assert isinstance(emitted.data, ComplimentReceived) and emitted.data.origin is ComplimentOrigin.EXTERNAL

    again, created = await handlers.record_compliment(uow, compliment(), actor=WORKER)
    assert not created and again == recorded and len(uow.published) == 1
    await refused(uow, handlers.record_compliment(uow, compliment(summary="Another"), actor=WORKER), Conflict)
    future = await refused(
        uow, handlers.record_compliment(uow, compliment(compliment_id="c2", received_at="2022-10-02"), actor=WORKER)
    )
    assert "in the future" in fields(future)[("received_at",)]
    fresh, created = await handlers.record_compliment(uow, compliment(compliment_id=None), actor=WORKER)
    assert created and len(fresh.compliment_id) == 36


async def test_a_compliment_shared_with_its_givers_agreement_says_so_and_needs_a_summary():
    uow = FakeFeedbackUnitOfWork()
    shared, _ = await handlers.record_compliment(uow, compliment(summary_shareable=True), actor=WORKER)
    [emitted] = uow.published
    assert shared.summary_shareable and isinstance(emitted.data, ComplimentReceived)
    assert emitted.data.summary_shareable is True
    # not agreed: the event says false; a compliment recorded before keeps its fingerprint
    plain, _ = await handlers.record_compliment(uow, compliment(compliment_id="comp-2"), actor=WORKER)
    assert uow.published[-1].data.summary_shareable is False  # type: ignore[attr-defined]
    assert plain.fingerprint != shared.fingerprint
    from services.feedback.domain.compliments import Compliment

    before = Compliment(
        plain.compliment_id, plain.origin, plain.service_area, plain.team, plain.received_at, plain.summary
    )
    assert before.fingerprint == plain.fingerprint
    # the same id again with the agreement added is another compliment: a conflict
    await refused(
        uow,
        handlers.record_compliment(uow, compliment(compliment_id="comp-2", summary_shareable=True), actor=WORKER),
        Conflict,
    )
    with pytest.raises(ValueError, match="no summary to share"):
        compliment(summary=None, summary_shareable=True)
    with pytest.raises(ValueError, match="no summary to share"):
        compliment(summary="   ", summary_shareable=True)


async def test_compliments_are_listed_by_area_origin_team_and_period():
    uow = FakeFeedbackUnitOfWork()
    await handlers.record_compliment(uow, compliment(), actor=WORKER)
    await handlers.record_compliment(uow, compliment(compliment_id="comp-2", origin="internal"), actor=WORKER)
    await handlers.record_compliment(
        uow, compliment(compliment_id="comp-3", service_area="send", received_at="2022-07-01"), actor=WORKER
    )

    async def ids(**filters: Any) -> list[str]:
        return [c.compliment_id for c in await handlers.list_compliments(uow, **filters)]

    assert await ids() == ["comp-1", "comp-2", "comp-3"]
    assert await ids(service_area="send") == ["comp-3"]
    assert await ids(origin=ComplimentOrigin.INTERNAL) == ["comp-2"]
    assert await ids(team="fostering-east", start=date(2022, 7, 1), end=date(2022, 7, 31)) == ["comp-3"]


# --------------------------------------------------------------------------- you said, we did


def item(**changes: Any) -> PublishYouSaidWeDid:
    base: dict[str, Any] = {
        "item_id": "ysd-1",
        "service_area": "childrens_social_care",
        "theme": "feel_safe_where_i_live",
        "you_said": "Some of you did not feel safe where you live",
        "we_did": "Every child now has a named worker to call",
        "feedback_ids": ["resp-1"],
        "action_id": "act-1",
        "published_at": "2022-09-01T09:00:00Z",
    }
    return PublishYouSaidWeDid.model_validate(base | changes)


async def test_a_you_said_we_did_item_is_published_once_with_its_responses():
    uow = await with_response()
    published, created = await handlers.publish_you_said_we_did(uow, item(), actor=WORKER)
    assert created and published.feedback_ids == ("resp-1",)
    emitted = uow.published[-1]
    assert (emitted.aggregate, emitted.time, emitted.actor) == ("you-said-we-did:ysd-1", published.published_at, WORKER)
    assert isinstance(emitted.data, YouSaidWeDidPublished) and emitted.data.action_id == "act-1"

    again, created = await handlers.publish_you_said_we_did(uow, item(), actor=WORKER)
    assert not created and again == published and len(uow.published) == 2
    await refused(uow, handlers.publish_you_said_we_did(uow, item(we_did="Something else"), actor=WORKER), Conflict)
    assert [y.item_id for y in await handlers.list_you_said_we_did(uow, service_area="childrens_social_care")] == [
        "ysd-1"
    ]
    assert await handlers.list_you_said_we_did(uow, theme="other") == []
    fresh, created = await handlers.publish_you_said_we_did(uow, item(item_id=None, published_at=None), actor=WORKER)
    assert created and fresh.published_at == NOW and len(fresh.item_id) == 36


async def test_a_you_said_we_did_item_answers_only_responses_about_its_service_area():
    uow = await with_response()
    unknown = await refused(
        uow, handlers.publish_you_said_we_did(uow, item(feedback_ids=["resp-1", "nope"]), actor=WORKER)
    )
    assert fields(unknown) == {("feedback_ids", 1): "no survey response 'nope'"}
    elsewhere = await refused(uow, handlers.publish_you_said_we_did(uow, item(service_area="send"), actor=WORKER))
    assert "is about childrens_social_care, not send" in fields(elsewhere)[("feedback_ids", 0)]
    future = await refused(
        uow, handlers.publish_you_said_we_did(uow, item(published_at="2022-10-01T12:00:00Z"), actor=WORKER)
    )
    assert "in the future" in fields(future)[("published_at",)]


# --------------------------------------------------------------------------- actions


def action(**changes: Any) -> RaiseAction:
    base: dict[str, Any] = {
        "action_id": "act-1",
        "owner_id": "manager-through-care",
        "due_date": "2022-08-02",
        "summary": "Social worker to visit today and review the safety plan",
        "raised_at": "2022-08-01T11:30:00+01:00",
    }
    return RaiseAction.model_validate(base | changes)


async def test_an_action_on_a_response_is_raised_in_its_team_and_published_once():
    uow = await with_response()
    raised, created = await handlers.raise_action_on_response(uow, "resp-1", action(), actor=WORKER)
    assert created
    assert (raised.origin, raised.origin_id, raised.team, raised.service_area, raised.raised_by) == (
        LearningOrigin.FEEDBACK,
        "resp-1",
        "through-care",
        "childrens_social_care",
        WORKER,
    )
    emitted = uow.published[-1]
    assert (emitted.aggregate, emitted.time, emitted.subject, emitted.actor) == (
        "action:act-1",
        raised.raised_at,
        None,
        WORKER,
    )
    assert isinstance(emitted.data, ActionRaised) and emitted.data.origin is LearningOrigin.FEEDBACK

    again, created = await handlers.raise_action_on_response(uow, "resp-1", action(), actor="worker-2")
    assert not created and again == raised and len(uow.published) == 2
    other = action(due_date="2022-08-03")
    await refused(uow, handlers.raise_action_on_response(uow, "resp-1", other, actor=WORKER), Conflict)

    done = await actions.complete_action(uow, "act-1", CompleteAction(evidence="Child seen alone"), actor="manager-1")
    assert done.on_time is False and isinstance(uow.published[-1].data, ActionCompleted)  # completed on 30 Sep


async def test_an_action_on_a_response_is_refused_for_an_unknown_response_and_by_the_rules():
    uow = await with_response()
    await refused(uow, handlers.raise_action_on_response(uow, "nope", action(), actor=WORKER), NotFound)
    early = await refused(
        uow,
        handlers.raise_action_on_response(uow, "resp-1", action(raised_at="2022-08-01T09:30:00+01:00"), actor=WORKER),
    )
    assert "is before the response (2022-08-01T10:00:00+01:00)" in fields(early)[("raised_at",)]
    team = await refused(uow, handlers.raise_action_on_response(uow, "resp-1", action(team="assessment"), actor=WORKER))
    assert "through-care" in fields(team)[("team",)]
    learning = await refused(
        uow, handlers.raise_action_on_response(uow, "resp-1", action(learning_id="learning-1"), actor=WORKER)
    )
    assert "feedback records no learning" in fields(learning)[("learning_id",)]


async def test_a_response_that_names_no_team_needs_an_action_that_names_one():
    uow = await with_response(team=None)
    missing = await refused(uow, handlers.raise_action_on_response(uow, "resp-1", action(), actor=WORKER))
    assert "a response's action names the team that owns it" in fields(missing)[("team",)]
    raised, created = await handlers.raise_action_on_response(uow, "resp-1", action(team="safeguarding"), actor=WORKER)
    assert created and raised.team == "safeguarding"


async def test_an_action_on_a_theme_names_its_team_and_its_origin_is_the_area_and_theme():
    uow = FakeFeedbackUnitOfWork()
    theme = ("send", "easy_to_contact_case_worker")
    missing = await refused(uow, handlers.raise_action_on_theme(uow, *theme, action(), actor=WORKER))
    assert "a theme's action names the team that owns it" in fields(missing)[("team",)]
    bad = await refused(uow, handlers.raise_action_on_theme(uow, "mars", "not a theme", action(team="t"), actor=WORKER))
    assert set(fields(bad)) == {("service_area",), ("theme",)}
    learning = await refused(
        uow, handlers.raise_action_on_theme(uow, *theme, action(team="t", learning_id="l-1"), actor=WORKER)
    )
    assert set(fields(learning)) == {("learning_id",)}

    raised, created = await handlers.raise_action_on_theme(uow, *theme, action(team="send-north"), actor=WORKER)
    assert created and (raised.origin_id, raised.team, raised.service_area) == (
        "send:easy_to_contact_case_worker",
        "send-north",
        "send",
    )
    assert [type(e.data) for e in uow.published] == [ActionRaised]
    again, created = await handlers.raise_action_on_theme(uow, *theme, action(team="send-north"), actor=WORKER)
    assert not created and again == raised and len(uow.published) == 1


async def test_the_clock_is_the_unit_of_works():
    later = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    uow = FakeFeedbackUnitOfWork(now=later)
    survey, _ = await handlers.publish_survey(uow, CSC, definition(), actor="a")
    assert survey.published_at == later
