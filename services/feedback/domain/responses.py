"""Survey responses: answers validated against the survey version they answer, what a
safeguarding answer means, and what `FeedbackReceived` carries (never free text). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from services.feedback.domain import LABEL, MAX_FREE_TEXT, RECORD_ID, AnswerType, fingerprint
from services.feedback.domain.surveys import SurveyQuestion, SurveyVersion
from shared.actions.domain import ActionOrigin
from shared.calendar import LONDON
from shared.errors import Invalid, Problem
from shared.events import FeedbackReceived, LearningOrigin, Respondent, SurveyAnswer
from shared.text import contact_details_in, occurred_at

AnswerValue = str | int  # "yes" / "no", 1-5, or free text
Source = Literal["api", "csv"]

_YES = {"yes", "y"}
_NO = {"no", "n"}


@dataclass(frozen=True)
class Answer:
    question: SurveyQuestion  # as worded in the version answered
    value: AnswerValue

    @property
    def is_free_text(self) -> bool:
        return self.question.answer_type is AnswerType.FREE_TEXT

    @property
    def negative(self) -> bool:
        return not self.is_free_text and (self.value == "no" or (isinstance(self.value, int) and self.value <= 2))

    def published(self) -> SurveyAnswer | None:
        """The answer as it travels in `FeedbackReceived`; free text never does."""
        if self.is_free_text:
            return None
        wording = self.question.wording
        return SurveyAnswer(
            question_id=self.question.reported_as,
            value=self.value,
            safeguarding=self.question.safeguarding,
            # The wording travels so that reports show it (issue 14), unless it holds contact details.
            wording=wording if wording.strip() and not contact_details_in(wording) else None,
        )


def parse_answer(question: SurveyQuestion, raw: Any) -> AnswerValue | None:
    """The answer's value, None when skipped (empty), or ValueError with the reason."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if question.answer_type is AnswerType.YES_NO:
        return _yes_no(raw)
    if question.answer_type is AnswerType.SCALE_1_5:
        return _scale_1_5(raw)
    return _free_text(raw)


def _yes_no(raw: Any) -> str:
    if isinstance(raw, str) and raw.strip().lower() in _YES | _NO:
        return "yes" if raw.strip().lower() in _YES else "no"
    raise ValueError(f"expected yes or no, got {raw!r}")


def _scale_1_5(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 5:
        return raw
    if isinstance(raw, str) and raw.strip() in {"1", "2", "3", "4", "5"}:
        return int(raw.strip())
    raise ValueError(f"expected a whole number from 1 to 5, got {raw!r}")


def _free_text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {raw!r}")
    text = raw.strip()
    if len(text) > MAX_FREE_TEXT:
        raise ValueError(f"must be at most {MAX_FREE_TEXT} characters (got {len(text)})")
    return text


def parse_respondent(raw: Any, survey: SurveyVersion) -> Respondent:
    """The respondent group: given (`Parent/carer` reads as `parent_carer`), or the survey's
    only group; it must be one the survey is for."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if len(survey.respondents) == 1:
            return survey.respondents[0]
        raise ValueError("is required: this survey is for " + " or ".join(r.value for r in survey.respondents))
    text = re.sub(r"[\s/-]+", "_", str(raw).strip().lower())
    try:
        respondent = Respondent(text)
    except ValueError:
        raise ValueError(f"unknown respondent group {raw!r}; expected one of {[r.value for r in Respondent]}") from None
    if respondent not in survey.respondents:
        raise ValueError(
            f"survey {survey.survey_id!r} is for {[r.value for r in survey.respondents]}, not {respondent.value}"
        )
    return respondent


@dataclass(frozen=True)
class SurveyResponse:
    """A validated response to one survey version. Skipped questions are absent; answers are
    in the survey's order."""

    response_id: str
    survey_id: str
    survey_version: int
    service_area: str
    respondent: Respondent
    team: str | None
    channel: str | None
    received_at: datetime
    answers: tuple[Answer, ...]
    source: Source = "api"  # how it was recorded: one at a time, or from a CSV export

    @property
    def safeguarding_concern(self) -> bool:
        """A safeguarding question answered negatively: needs same-day follow-up."""
        return any(a.question.safeguarding and a.negative for a in self.answers)

    def content(self) -> dict[str, Any]:
        """Everything the respondent said, in a canonical form (without the id or time)."""
        return {
            "survey_id": self.survey_id,
            "respondent": self.respondent.value,
            "team": self.team,
            "channel": self.channel,
            "answers": {a.question.question_id: a.value for a in self.answers},
        }

    @property
    def fingerprint(self) -> str:
        """Same fingerprint = the same answers: a replayed id with the same answers is a
        retry, with other answers a conflict. (The time is left out: a retry that let the
        service stamp it arrives later.)"""
        return fingerprint(self.content())

    def received_event(self) -> FeedbackReceived:
        return FeedbackReceived(
            response_id=self.response_id,
            survey_id=self.survey_id,
            service_area=self.service_area,
            team=self.team,
            respondent=self.respondent,
            received_at=self.received_at,
            channel=self.channel,
            answers=[e for a in self.answers if (e := a.published()) is not None],
        )

    def action_origin(self) -> ActionOrigin:
        """What an action on this response inherits: its team (where it names one) and
        service area; it cannot be raised before the response was received."""
        return ActionOrigin(
            origin=LearningOrigin.FEEDBACK,
            origin_id=self.response_id,
            service_area=self.service_area,
            team=self.team,
            not_before=self.received_at,
            describes="response",
        )


def validate_response(
    survey: SurveyVersion,
    *,
    response_id: str,
    answers: Mapping[str, Any],
    received_at: datetime,
    now: datetime,
    respondent: Any = None,
    team: str | None = None,
    channel: str | None = None,
    source: Source = "api",
) -> SurveyResponse:
    """Validate a response against its survey version; Invalid lists every problem. A time
    without an offset is London time."""
    problems = _label_problems(response_id, team, channel)
    who: Respondent | None = None
    try:
        who = parse_respondent(respondent, survey)
    except ValueError as exc:
        problems.append(Problem(("respondent",), str(exc)))
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=LONDON)
    try:
        occurred_at(received_at, now, "received_at")
    except Invalid as exc:
        problems.extend(exc.problems)
    parsed = _parse_answers(survey, answers, problems)
    if not problems and not parsed:
        problems.append(Problem(("answers",), "no question is answered"))
    if problems:
        raise Invalid.of(problems)
    assert who is not None
    return SurveyResponse(
        response_id=response_id,
        survey_id=survey.survey_id,
        survey_version=survey.version,
        service_area=survey.service_area,
        respondent=who,
        team=team,
        channel=channel,
        received_at=received_at,
        answers=parsed,
        source=source,
    )


def _label_problems(response_id: str, team: str | None, channel: str | None) -> list[Problem]:
    problems = []
    if not RECORD_ID.match(response_id):
        problems.append(Problem(("response_id",), "may hold only letters, digits and _ . : - (at most 200)"))
    for name, label in (("team", team), ("channel", channel)):
        if label is not None and not LABEL.match(label):
            problems.append(Problem((name,), "may hold only letters, digits and _ . - (at most 100)"))
    return problems


def _parse_answers(survey: SurveyVersion, answers: Mapping[str, Any], problems: list[Problem]) -> tuple[Answer, ...]:
    """The answered questions in the survey's order; each bad answer adds a problem."""
    parsed: list[Answer] = []
    for question_id, raw in answers.items():
        question = survey.question(question_id)
        if question is None:
            reason = f"not a question of survey {survey.survey_id!r} version {survey.version}"
            problems.append(Problem(("answers", question_id), reason))
            continue
        try:
            value = parse_answer(question, raw)
        except ValueError as exc:
            problems.append(Problem(("answers", question_id), str(exc)))
            continue
        if value is not None:
            parsed.append(Answer(question, value))
    order = {q.question_id: i for i, q in enumerate(survey.questions)}
    return tuple(sorted(parsed, key=lambda a: order[a.question.question_id]))
