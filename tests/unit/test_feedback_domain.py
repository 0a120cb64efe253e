"""Feedback domain rules on plain data: survey versions, answers, CSV rows, texts in events,
tallies per wording."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.feedback.commands import PublishSurvey, PublishYouSaidWeDid, RecordCompliment
from services.feedback.domain import AnswerType
from services.feedback.domain.csv_import import CsvReading, read_survey_csv
from services.feedback.domain.responses import validate_response
from services.feedback.domain.surveys import SurveyVersion, next_survey_version
from shared.errors import Invalid
from shared.events import Respondent
from shared.text import contact_details_in

NOW = datetime(2022, 9, 30, 12, 0, tzinfo=UTC)


def content(**changes: object) -> PublishSurvey:
    base: dict[str, object] = {
        "title": "Children's social care",
        "service_area": "childrens_social_care",
        "respondents": ["child", "young_person"],
        "questions": [
            {
                "question_id": "feel_safe_where_i_live",
                "wording": "I feel safe where I live",
                "answer_type": "yes_no",
                "safeguarding": True,
            },
            {
                "question_id": "worker_listens_to_me",
                "wording": "My social worker listens to me",
                "answer_type": "scale_1_5",
            },
            {
                "question_id": "anything_else",
                "wording": "Anything else?",
                "answer_type": "free_text",
            },
        ],
    }
    base.update(changes)
    return PublishSurvey.model_validate(base)


def reworded(question_id: str, wording: str, base: PublishSurvey | None = None) -> PublishSurvey:
    raw = (base or content()).model_dump()
    for q in raw["questions"]:
        if q["question_id"] == question_id:
            q["wording"] = wording
    return PublishSurvey.model_validate(raw)


def v1() -> SurveyVersion:
    survey = next_survey_version("csc", content(), [], now=NOW)
    assert survey is not None
    return survey


# --------------------------------------------------------------------------- versions


def test_a_reworded_question_is_reported_apart_and_old_versions_keep_their_wording():
    first = v1()
    second = next_survey_version(
        "csc", reworded("worker_listens_to_me", "My worker really listens to me"), [first], now=NOW
    )
    assert second is not None and second.version == 2
    old_q, new_q = first.question("worker_listens_to_me"), second.question("worker_listens_to_me")
    assert old_q is not None and new_q is not None
    assert (old_q.wording, old_q.reported_as) == (
        "My social worker listens to me",
        "worker_listens_to_me",
    )
    assert (new_q.wording, new_q.reported_as) == (
        "My worker really listens to me",
        "worker_listens_to_me.v2",
    )
    unchanged = second.question("feel_safe_where_i_live")
    assert unchanged is not None and unchanged.reported_as == "feel_safe_where_i_live"

    # An answer to each version carries its own wording's id into the event.
    def answer(survey: SurveyVersion) -> list[str]:
        response = validate_response(
            survey,
            response_id="r",
            answers={"worker_listens_to_me": 2},
            received_at=NOW,
            now=NOW,
            respondent="child",
        )
        return [a.question_id for a in response.received_event().answers]

    assert answer(first) == ["worker_listens_to_me"]
    assert answer(second) == ["worker_listens_to_me.v2"]


def test_publishing_the_same_content_again_makes_no_version():
    first = v1()
    assert next_survey_version("csc", content(), [first], now=NOW) is None
    # white space in wording does not count as a change
    spaced = reworded("worker_listens_to_me", "  My social  worker listens to me ")
    assert next_survey_version("csc", spaced, [first], now=NOW) is None


def test_going_back_to_an_old_wording_reuses_its_id_and_the_flag_alone_keeps_it():
    first = v1()
    second = next_survey_version("csc", reworded("worker_listens_to_me", "New"), [first], now=NOW)
    assert second is not None
    third = next_survey_version("csc", content(), [first, second], now=NOW)
    assert third is not None and third.version == 3
    q3 = third.question("worker_listens_to_me")
    assert q3 is not None and q3.reported_as == "worker_listens_to_me"

    flagged = content().model_copy(
        update={
            "questions": [
                q.model_copy(update={"safeguarding": True}) if q.question_id == "worker_listens_to_me" else q
                for q in content().questions
            ]
        }
    )
    fourth = next_survey_version("csc", flagged, [first, second, third], now=NOW)
    assert fourth is not None
    q4 = fourth.question("worker_listens_to_me")
    assert q4 is not None and q4.safeguarding and q4.reported_as == "worker_listens_to_me"


def test_a_changed_answer_type_is_a_new_question_and_the_service_area_is_fixed():
    first = v1()
    changed = content().model_copy(
        update={
            "questions": [
                q.model_copy(update={"answer_type": AnswerType.YES_NO})
                if q.question_id == "worker_listens_to_me"
                else q
                for q in content().questions
            ]
        }
    )
    second = next_survey_version("csc", changed, [first], now=NOW)
    assert second is not None
    q = second.question("worker_listens_to_me")
    assert q is not None and q.reported_as == "worker_listens_to_me.v2"
    with pytest.raises(Invalid, match="is a childrens_social_care survey"):
        next_survey_version("csc", content(service_area="send"), [first], now=NOW)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"questions": []}, "at least 1"),
        ({"respondents": ["child", "child"]}, "listed twice"),
        ({"service_area": "nowhere"}, "unknown service_area"),
        (
            {
                "questions": [
                    {"question_id": "a", "wording": "One", "answer_type": "yes_no"},
                    {"question_id": "a", "wording": "Two", "answer_type": "yes_no"},
                ]
            },
            "unique",
        ),
        (
            {"questions": [{"question_id": "Bad Id", "wording": "x", "answer_type": "yes_no"}]},
            "snake_case",
        ),
        (
            {"questions": [{"question_id": "t", "wording": "x", "answer_type": "free_text", "safeguarding": True}]},
            "free-text question cannot be a safeguarding",
        ),
    ],
)
def test_survey_definitions_are_checked(change: dict[str, object], message: str):
    with pytest.raises(ValidationError, match=message):
        content(**change)


# --------------------------------------------------------------------------- answers


def test_a_response_marks_safeguarding_answers_and_leaves_out_skipped_ones_and_free_text():
    response = validate_response(
        v1(),
        response_id="resp-1",
        answers={
            "feel_safe_where_i_live": "No",
            "worker_listens_to_me": "",
            "anything_else": "Sam at number 4 shouts at me",
        },
        received_at=NOW,
        now=NOW,
        respondent="Young person",
        team="through-care",
    )
    assert response.safeguarding_concern
    event = response.received_event()
    assert event.respondent is Respondent.YOUNG_PERSON
    assert [(a.question_id, a.value, a.safeguarding) for a in event.answers] == [("feel_safe_where_i_live", "no", True)]
    assert "Sam" not in event.model_dump_json()
    assert len(response.answers) == 2  # the free text is kept in the service


@pytest.mark.parametrize(
    ("answers", "where", "message"),
    [
        ({"feel_safe_where_i_live": "maybe"}, ("answers", "feel_safe_where_i_live"), "yes or no"),
        ({"worker_listens_to_me": 6}, ("answers", "worker_listens_to_me"), "1 to 5"),
        ({"worker_listens_to_me": "4.0"}, ("answers", "worker_listens_to_me"), "1 to 5"),
        ({"worker_listens_to_me": True}, ("answers", "worker_listens_to_me"), "1 to 5"),
        ({"favourite_colour": "blue"}, ("answers", "favourite_colour"), "not a question"),
        ({"feel_safe_where_i_live": None}, ("answers",), "no question is answered"),
    ],
)
def test_bad_answers_name_the_question(answers: dict, where: tuple, message: str):
    with pytest.raises(Invalid) as caught:
        validate_response(v1(), response_id="r", answers=answers, received_at=NOW, now=NOW, respondent="child")
    assert [p.field for p in caught.value.problems] == [where]
    assert message in caught.value.problems[0].reason


def test_respondent_team_and_time_are_checked_together():
    with pytest.raises(Invalid) as caught:
        validate_response(
            v1(),
            response_id="Jane Smith",
            answers={"feel_safe_where_i_live": "yes"},
            received_at=datetime(2030, 1, 1, tzinfo=UTC),
            now=NOW,
            respondent="parent_carer",
            team="jane@example.org",
        )
    fields = {p.field[0] for p in caught.value.problems}
    assert fields == {"response_id", "team", "respondent", "received_at"}
    with pytest.raises(Invalid, match="is required: this survey is for child or young_person"):
        validate_response(v1(), response_id="r", answers={"feel_safe_where_i_live": "yes"}, received_at=NOW, now=NOW)


# --------------------------------------------------------------------------- texts in events


@pytest.mark.parametrize(
    "text",
    [
        "Thanks to Jo, call her on 07700 900123",
        "write to jo.bloggs@example.org",
        "they live at 10 High Street, SW1A 1AA",
        "ring +44 20 7946 0958",
    ],
)
def test_contact_details_are_refused_in_published_text(text: str):
    with pytest.raises(ValidationError, match="contact details"):
        RecordCompliment.model_validate(
            {
                "origin": "external",
                "service_area": "fostering",
                "team": "fostering-east",
                "received_at": "2022-08-01",
                "summary": text,
            }
        )
    with pytest.raises(ValidationError, match="contact details"):
        PublishYouSaidWeDid.model_validate({"service_area": "send", "theme": "t", "you_said": text, "we_did": "x"})


def test_ordinary_text_passes_and_a_bare_date_is_midnight_in_london():
    c = RecordCompliment.model_validate(
        {
            "origin": "external",
            "service_area": "fostering",
            "team": "fostering-east",
            "received_at": "2022-08-01",
            "summary": "A foster carer thanked the team for 24 hours of support in 2022",
        }
    )
    assert c.received_at.isoformat() == "2022-08-01T00:00:00+01:00"
    assert contact_details_in("Review on 12/08/2022 with 3 carers, rated 5 out of 5") == []


# --------------------------------------------------------------------------- CSV


def read(text: str, survey: SurveyVersion | None = None) -> CsvReading:
    return read_survey_csv(text.encode(), survey or v1(), now=NOW)


def test_csv_rows_are_validated_one_by_one_and_reported_by_line():
    reading = read(
        "\ufeffResponse ID,Submitted at,Respondent,feel_safe_where_i_live,"
        "My social worker listens to me,anything_else,favourite_colour\n"  # line 1
        "a1,01/08/2022 10:15,Child,Yes,4,,\n"  # 2 good
        'a2,2022-08-02T11:00:00+01:00,young person,no,,"it\'s\nfine",\n'  # 3-4 good
        "a3,2022-08-03\n"  # 5 malformed
        "\n"  # 6 blank
        "a4,31/02/2022,child,perhaps,9,,\n"  # 7 bad date and values
        "a5,2022-08-05,child,yes,3,,blue\n"  # 8 answers an unknown question
        "a1,2022-08-06,child,yes,3,,\n"  # 9 repeats a1
        "a6,2022-08-06,child,,,,\n"  # 10 nothing answered
    )
    assert reading.readable
    assert [r.line for r in reading.rows] == [2, 3]
    assert [r.response.response_id for r in reading.rows] == ["csc:a1", "csc:a2"]
    assert reading.data_rows == 7 and reading.rejected == 5
    errors = {e.line: e.reason for e in reading.errors}
    assert "favourite_colour" in errors[1] and "unknown question" in errors[1]
    assert errors[5] == "malformed row: expected 7 fields, found 2"
    assert "31/02/2022" in errors[7] and "feel_safe_where_i_live: expected yes or no" in errors[7]
    assert "worker_listens_to_me: expected a whole number from 1 to 5" in errors[7]
    assert "favourite_colour" in errors[8]
    assert errors[9] == "response id repeats line 2"
    assert "no question is answered" in errors[10]
    first = reading.rows[0].response
    assert first.received_at.isoformat() == "2022-08-01T10:15:00+01:00"
    assert [(a.question.question_id, a.value) for a in first.answers] == [
        ("feel_safe_where_i_live", "yes"),
        ("worker_listens_to_me", 4),
    ]


def test_csv_without_ids_gets_stable_ids_and_identical_rows_stay_apart():
    text = (
        "received_at,respondent,feel_safe_where_i_live\n"
        "2022-08-01,child,yes\n"
        "2022-08-01,child,yes\n"
        "2022-08-02,child,no\n"
    )
    once, again = read(text), read(text)
    ids = [r.response.response_id for r in once.rows]
    assert ids == [r.response.response_id for r in again.rows]
    assert len(set(ids)) == 3 and all(i.startswith("csc:h") for i in ids)
    # a later export with one more row keeps the earlier rows' ids
    longer = read(text + "2022-08-03,young_person,yes\n")
    assert [r.response.response_id for r in longer.rows][:3] == ids


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01binary", "not a CSV"),
        (b"respondent,feel_safe_where_i_live\nchild,yes\n", "missing column received_at"),
        (b"received_at,colour\n2022-08-01,blue\n", "no column is a question"),
        (b"received_at,feel_safe_where_i_live,I feel safe where I live\n", "two columns"),
    ],
)
def test_an_unreadable_file_is_refused_whole(data: bytes, message: str):
    reading = read_survey_csv(data, v1(), now=NOW)
    assert not reading.readable and not reading.rows
    assert any(message in e.reason for e in reading.errors)


def test_windows_1252_exports_are_read():
    data = "received_at,respondent,anything_else\n2022-08-01,child,caf\xe9 was nice\n".encode("cp1252")
    reading = read_survey_csv(data, v1(), now=NOW)
    assert [a.value for a in reading.rows[0].response.answers] == ["caf\xe9 was nice"]
