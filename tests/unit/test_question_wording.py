"""Questions by their wording (issue 14, item 10): the feedback service sends each answer's
wording in `FeedbackReceived` (never one holding contact details, never free text), and the
report and dashboard label a question by its wording with its id, or by its id alone."""

from __future__ import annotations

from services.feedback.domain import AnswerType
from services.feedback.domain.responses import Answer
from services.feedback.domain.surveys import SurveyQuestion
from services.reporting.report.labels import question_label
from shared.events import FeedbackReceived


def question(
    wording: str, answer_type: AnswerType = AnswerType.YES_NO, reported_as: str = "listened"
) -> SurveyQuestion:
    return SurveyQuestion("listened", wording, answer_type, False, reported_as)


def test_an_answer_carries_its_questions_wording_as_worded_in_the_version_answered():
    published = Answer(question("My worker listens to me", reported_as="listened.v2"), "yes").published()
    assert published is not None
    assert (published.question_id, published.wording) == ("listened.v2", "My worker listens to me")
    event = FeedbackReceived.model_validate(
        {
            "response_id": "r1",
            "survey_id": "s1",
            "service_area": "send",
            "respondent": "child",
            "received_at": "2022-08-01T10:00:00Z",
            "answers": [published.model_dump(exclude_none=True)],
        }
    )
    assert event.answers[0].wording == "My worker listens to me"


def test_wording_with_contact_details_stays_home_and_free_text_never_travels():
    published = Answer(question("Did you ring 0161 496 0000 or write to help@example.org?"), "yes").published()
    assert published is not None and published.wording is None
    assert Answer(question("Anything else?", AnswerType.FREE_TEXT), "all good").published() is None


def test_a_question_is_labelled_by_its_wording_with_its_id_or_by_its_id_alone():
    wording = {"listened": "My worker listens to me"}
    assert question_label("listened", wording) == "My worker listens to me (listened)"
    assert question_label("listened.v2", wording) == "listened.v2"
