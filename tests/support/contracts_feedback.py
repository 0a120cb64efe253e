"""The feedback store contract: one set of tests for the feedback repositories and unit of
work, run against the in-memory fake (tests/unit/test_feedback_store_fake.py) and against
PostgreSQL (tests/integration/test_feedback_store.py), so the fake the handler tests trust
cannot drift from the SQL.

A subclass gives `make_uow()` (a unit of work holding `surveys`, `responses`,
`compliments`, `you_said_we_did` and `actions`) and `published(uow)` (the types of the events
it has committed, in order). The PostgreSQL schema holds the seeded surveys as well, so the
tests look only at the records they made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.feedback.commands import PublishSurvey, PublishYouSaidWeDid, RecordCompliment
from services.feedback.domain.compliments import Compliment, validate_compliment
from services.feedback.domain.responses import SurveyResponse, validate_response
from services.feedback.domain.surveys import SurveyVersion, next_survey_version
from services.feedback.domain.you_said_we_did import YouSaidWeDid, validate_you_said_we_did
from shared.actions.domain import RaiseAction, raise_action
from shared.events import ComplimentOrigin

NOW = datetime(2022, 9, 30, 11, 0, tzinfo=UTC)
SURVEY = "contract-csc"
QUESTIONS = [
    {"question_id": "feel_safe", "wording": "I feel safe where I live", "answer_type": "yes_no", "safeguarding": True},
    {"question_id": "listened_to", "wording": "My worker listens to me", "answer_type": "scale_1_5"},
    {"question_id": "anything_else", "wording": "Anything else?", "answer_type": "free_text"},
]


def definition(**changes: Any) -> PublishSurvey:
    base: dict[str, Any] = {
        "title": "Contract survey",
        "service_area": "childrens_social_care",
        "respondents": ["child", "young_person"],
        "questions": QUESTIONS,
    }
    return PublishSurvey.model_validate(base | changes)


def survey_version(
    survey_id: str = SURVEY, history: list[SurveyVersion] | None = None, **changes: Any
) -> SurveyVersion:
    made = next_survey_version(survey_id, definition(**changes), history or [], now=NOW - timedelta(days=90))
    assert made is not None
    return made


def response(survey: SurveyVersion, response_id: str = "resp-1", **changes: Any) -> SurveyResponse:
    base: dict[str, Any] = {
        "response_id": response_id,
        "answers": {"feel_safe": "no", "listened_to": 4, "anything_else": "Line one\r\nline two"},
        "received_at": datetime(2022, 8, 1, 9, 30, tzinfo=UTC),
        "now": NOW,
        "respondent": "child",
        "team": "through-care",
        "channel": "online",
    }
    return validate_response(survey, **(base | changes))


def compliment(compliment_id: str = "comp-1", **changes: Any) -> Compliment:
    base: dict[str, Any] = {
        "origin": "external",
        "service_area": "fostering",
        "team": "fostering-east",
        "received_at": "2022-08-15T10:00:00+01:00",
        "summary": "A thank-you for support over the summer",
    }
    cmd = RecordCompliment.model_validate(base | changes)
    return validate_compliment(cmd, compliment_id=compliment_id, now=NOW)


def item(item_id: str = "ysd-1", feedback_ids: tuple[str, ...] = (), **changes: Any) -> YouSaidWeDid:
    base: dict[str, Any] = {
        "service_area": "childrens_social_care",
        "theme": "feel_safe",
        "you_said": "Some of you did not feel safe at home",
        "we_did": "Every child now has a named worker they can call",
        "feedback_ids": list(feedback_ids),
        "published_at": "2022-09-01T09:00:00Z",
    }
    cmd = PublishYouSaidWeDid.model_validate(base | changes)
    areas = dict.fromkeys(feedback_ids, cmd.service_area)
    return validate_you_said_we_did(cmd, item_id=item_id, linked_areas=areas, now=NOW)


class FeedbackStoreContract:
    """What every feedback repository and unit of work must do."""

    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def published(self, uow: Any) -> list[str]:
        raise NotImplementedError

    async def with_survey(self) -> tuple[Any, SurveyVersion]:
        uow = await self.make_uow()
        survey = survey_version()
        async with uow:
            await uow.surveys.lock(SURVEY)
            await uow.surveys.add(survey, published_by="author-1")
        return uow, survey

    # ----------------------------------------------------------------------- surveys

    async def test_survey_versions_read_back_oldest_first_and_the_latest_by_default(self) -> None:
        uow, first = await self.with_survey()
        reworded = [{**QUESTIONS[0], "wording": "I feel safe at home"}, *QUESTIONS[1:]]
        second = survey_version(history=[first], questions=reworded)
        other = survey_version("contract-send", service_area="send", respondents=["parent_carer"])
        async with uow:
            await uow.surveys.add(second, published_by="author-1")
            await uow.surveys.add(other, published_by="author-2")
        async with uow:
            assert await uow.surveys.get(SURVEY) == second
            assert await uow.surveys.get(SURVEY, 1) == first
            assert await uow.surveys.get(SURVEY, 3) is None
            assert await uow.surveys.get("contract-none") is None
            assert await uow.surveys.history(SURVEY) == [first, second]
            assert await uow.surveys.history("contract-none") == []
            mine = [s for s in await uow.surveys.latest() if s.survey_id.startswith("contract-")]
            assert mine == [second, other]
            csc = await uow.surveys.latest(service_area="childrens_social_care")
            assert second in csc and first not in csc and other not in csc
        assert [q.reported_as for q in second.questions] == ["feel_safe.v2", "listened_to", "anything_else"]

    # ----------------------------------------------------------------------- responses

    async def test_a_response_reads_back_with_its_answers_in_the_wording_it_answered(self) -> None:
        uow, survey = await self.with_survey()
        recorded = response(survey)
        no_team = response(survey, "resp-2", team=None, channel=None, answers={"listened_to": "2"}, source="csv")
        async with uow:
            assert await uow.responses.add(recorded, recorded_by="worker-1")
            assert await uow.responses.add(no_team, recorded_by="csv-import")
        async with uow:
            assert await uow.responses.get("resp-1") == recorded
            assert await uow.responses.get("resp-2") == no_team
            assert await uow.responses.get("resp-3") is None
        found = await self._get(uow, "resp-1")
        assert [(a.question.question_id, a.value) for a in found.answers] == [
            ("feel_safe", "no"),
            ("listened_to", 4),
            ("anything_else", "Line one\r\nline two"),
        ]
        assert found.safeguarding_concern and found.fingerprint == recorded.fingerprint

    async def _get(self, uow: Any, response_id: str) -> SurveyResponse:
        async with uow:
            found = await uow.responses.get(response_id)
        assert found is not None
        return found

    async def test_a_taken_response_id_stores_nothing(self) -> None:
        uow, survey = await self.with_survey()
        async with uow:
            assert await uow.responses.add(response(survey), recorded_by="worker-1")
            other = response(survey, answers={"feel_safe": "yes"})
            assert not await uow.responses.add(other, recorded_by="worker-2")
        assert (await self._get(uow, "resp-1")) == response(survey)

    async def test_fingerprints_and_service_areas_of_the_recorded_ones(self) -> None:
        uow, survey = await self.with_survey()
        first, second = response(survey), response(survey, "resp-2", answers={"feel_safe": "yes"})
        async with uow:
            await uow.responses.add(first, recorded_by="worker-1")
            await uow.responses.add(second, recorded_by="w")
        async with uow:
            prints = await uow.responses.fingerprints(["resp-1", "resp-2", "nope"])
            areas = await uow.responses.service_areas(["resp-2", "nope"])
            assert await uow.responses.fingerprints([]) == {}
        assert prints == {"resp-1": first.fingerprint, "resp-2": second.fingerprint}
        assert prints["resp-1"] != prints["resp-2"]
        assert areas == {"resp-2": "childrens_social_care"}

    async def test_answers_are_counted_per_wording_and_value_in_a_london_date_range(self) -> None:
        uow, first = await self.with_survey()
        reworded = [{**QUESTIONS[0], "wording": "I feel safe at home"}, *QUESTIONS[1:]]
        second = survey_version(history=[first], questions=reworded)
        late_july = datetime(2022, 7, 31, 23, 30, tzinfo=UTC)  # 1 August in London
        async with uow:
            await uow.surveys.add(second, published_by="author-1")
            await uow.responses.add(response(first, "a", received_at=late_july), recorded_by="w")
            await uow.responses.add(
                response(second, "b", answers={"feel_safe": "yes", "listened_to": 4}), recorded_by="w"
            )
            july = datetime(2022, 7, 31, 22, 30, tzinfo=UTC)  # 31 July in London
            await uow.responses.add(response(first, "c", answers={"listened_to": 5}, received_at=july), recorded_by="w")
        async with uow:
            august = await uow.responses.answer_counts(SURVEY, date(2022, 8, 1), date(2022, 8, 31))
            every = await uow.responses.answer_counts(SURVEY, None, None)
            until_july = await uow.responses.answer_counts(SURVEY, None, date(2022, 7, 31))
            none = await uow.responses.answer_counts("contract-none", None, None)
        assert august.responses == 2
        assert august.counts == {
            "feel_safe": {"no": 1},
            "feel_safe.v2": {"yes": 1},
            "listened_to": {"4": 2},
            "anything_else": {"text": 1},
        }
        assert every.responses == 3 and every.counts["listened_to"] == {"4": 2, "5": 1}
        assert until_july.responses == 1 and until_july.counts == {"listened_to": {"5": 1}}
        assert none.responses == 0 and not none.counts

    # ----------------------------------------------------------------------- compliments

    async def test_a_compliment_reads_back_and_a_taken_id_stores_nothing(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.compliments.add(compliment(), recorded_by="worker-1")
            assert not await uow.compliments.add(compliment(summary="Other"), recorded_by="worker-2")
            assert await uow.compliments.add(compliment("comp-2", summary=None), recorded_by="w")
        async with uow:
            assert await uow.compliments.get("comp-1") == compliment()
            assert await uow.compliments.get("comp-2") == compliment("comp-2", summary=None)
            assert await uow.compliments.get("comp-3") is None

    async def test_compliments_are_found_by_area_origin_team_and_london_dates_newest_first(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.compliments.add(compliment("a", received_at="2022-07-31T23:30:00Z"), recorded_by="w")  # 1 Aug
            await uow.compliments.add(compliment("b", received_at="2022-07-31T22:30:00Z"), recorded_by="w")  # 31 Jul
            await uow.compliments.add(compliment("c", origin="internal", team="fostering-west"), recorded_by="w")
            await uow.compliments.add(compliment("d", service_area="send"), recorded_by="w")
            await uow.compliments.add(compliment("e", received_at="2022-07-31T23:30:00Z"), recorded_by="w")
        async with uow:

            async def ids(**filters: Any) -> list[str]:
                return [c.compliment_id for c in await uow.compliments.find(**filters)]

            assert await ids() == ["c", "d", "a", "e", "b"]
            assert await ids(service_area="fostering") == ["c", "a", "e", "b"]
            assert await ids(origin=ComplimentOrigin.INTERNAL) == ["c"]
            assert await ids(team="fostering-east", start=date(2022, 8, 1)) == ["d", "a", "e"]
            assert await ids(end=date(2022, 7, 31)) == ["b"]
            assert await ids(start=date(2022, 8, 1), end=date(2022, 8, 1)) == ["a", "e"]

    # ----------------------------------------------------------------------- you said, we did

    async def test_an_item_reads_back_and_items_are_found_newest_first(self) -> None:
        uow, survey = await self.with_survey()
        linked = item("ysd-1", ("resp-1",), action_id="act-1")
        async with uow:
            await uow.responses.add(response(survey), recorded_by="w")
            assert await uow.you_said_we_did.add(linked, recorded_by="w")
            assert not await uow.you_said_we_did.add(item("ysd-1", we_did="Something else"), recorded_by="w")
            await uow.you_said_we_did.add(item("ysd-2", published_at="2022-09-02T09:00:00Z"), recorded_by="w")
            await uow.you_said_we_did.add(item("ysd-0"), recorded_by="w")
            await uow.you_said_we_did.add(item("ysd-3", service_area="send", theme="other"), recorded_by="w")
        async with uow:
            assert await uow.you_said_we_did.get("ysd-1") == linked
            assert await uow.you_said_we_did.get("nope") is None

            async def ids(**filters: Any) -> list[str]:
                return [y.item_id for y in await uow.you_said_we_did.find(**filters)]

            assert await ids() == ["ysd-2", "ysd-0", "ysd-1", "ysd-3"]
            assert await ids(service_area="send") == ["ysd-3"]
            assert await ids(theme="feel_safe", service_area="childrens_social_care") == ["ysd-2", "ysd-0", "ysd-1"]

    # ----------------------------------------------------------------------- one transaction

    async def test_actions_on_a_response_are_kept_with_it(self) -> None:
        uow, survey = await self.with_survey()
        origin = response(survey).action_origin()
        cmd = RaiseAction.model_validate(
            {"owner_id": "manager-1", "due_date": "2022-08-02", "summary": "Visit the child today"}
        )
        action = raise_action(origin, cmd, action_id="act-1", raised_by="w", now=datetime(2022, 8, 1, 10, tzinfo=UTC))
        async with uow:
            await uow.responses.add(response(survey), recorded_by="w")
            assert await uow.actions.add(action)
        async with uow:
            assert await uow.actions.of_origin("resp-1") == [action]
            assert await uow.actions.get("act-1") == action

    async def test_a_clean_exit_commits_every_repository_and_publishes_in_order(self) -> None:
        uow, survey = await self.with_survey()
        async with uow:
            await uow.responses.add(response(survey), recorded_by="w")
            uow.emit(response(survey).received_event(), aggregate="response:resp-1")
            await uow.compliments.add(compliment(), recorded_by="w")
            uow.emit(compliment().received_event(), aggregate="compliment:comp-1")
            await uow.you_said_we_did.add(item(), recorded_by="w")
            uow.emit(item().published_event(), aggregate="you-said-we-did:ysd-1")
        assert await self.published(uow) == ["FeedbackReceived", "ComplimentReceived", "YouSaidWeDidPublished"]
        async with uow:
            assert await uow.responses.get("resp-1") is not None
            assert await uow.compliments.get("comp-1") is not None
            assert await uow.you_said_we_did.get("ysd-1") is not None

    async def test_an_error_rolls_back_every_repository_and_event(self) -> None:
        uow, survey = await self.with_survey()
        second = survey_version(history=[survey], title="Renamed")
        with pytest.raises(RuntimeError, match="refused"):
            async with uow:
                await uow.surveys.add(second, published_by="author-1")
                await uow.responses.add(response(survey), recorded_by="w")
                uow.emit(response(survey).received_event(), aggregate="response:resp-1")
                await uow.compliments.add(compliment(), recorded_by="w")
                await uow.you_said_we_did.add(item(), recorded_by="w")
                raise RuntimeError("refused")
        async with uow:
            assert await uow.surveys.get(SURVEY) == survey
            assert await uow.responses.get("resp-1") is None
            assert await uow.compliments.get("comp-1") is None
            assert await uow.you_said_we_did.get("ysd-1") is None
        assert await self.published(uow) == []
