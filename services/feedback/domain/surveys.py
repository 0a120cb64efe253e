"""Surveys and their versions. Publishing a changed definition makes a new version; old
versions, and the answers given to them, stay. A reworded question is reported apart
(`reported_as`, see the package docstring). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.feedback.commands import PublishSurvey, QuestionDefinition
from services.feedback.domain import SURVEY_ID, AnswerType
from shared.errors import Invalid
from shared.events import Respondent


def meaning(wording: str, answer_type: AnswerType) -> tuple[str, str]:
    """What must stay the same for answers to be comparable: wording and answer type."""
    return (wording.casefold(), answer_type.value)


@dataclass(frozen=True)
class SurveyQuestion:
    """A question in one survey version."""

    question_id: str
    wording: str
    answer_type: AnswerType
    safeguarding: bool
    reported_as: str  # the question id in events and KPIs; see the package docstring

    @property
    def meaning(self) -> tuple[str, str]:
        return meaning(self.wording, self.answer_type)


@dataclass(frozen=True)
class SurveyVersion:
    survey_id: str
    version: int
    title: str
    service_area: str
    respondents: tuple[Respondent, ...]
    questions: tuple[SurveyQuestion, ...]
    published_at: datetime

    def question(self, question_id: str) -> SurveyQuestion | None:
        return next((q for q in self.questions if q.question_id == question_id), None)

    def same_content(self, cmd: PublishSurvey) -> bool:
        return (
            self.title == cmd.title
            and self.service_area == cmd.service_area
            and list(self.respondents) == list(cmd.respondents)
            and [(q.question_id, q.wording, q.answer_type, q.safeguarding) for q in self.questions]
            == [(q.question_id, q.wording, q.answer_type, q.safeguarding) for q in cmd.questions]
        )


def check_survey_id(survey_id: str) -> str:
    if not SURVEY_ID.match(survey_id):
        raise Invalid(
            "must be a lower-case letter, then lower-case letters, digits, _ or - (at most 80 characters)",
            "survey_id",
        )
    return survey_id


def next_survey_version(
    survey_id: str, cmd: PublishSurvey, history: Sequence[SurveyVersion], *, now: datetime
) -> SurveyVersion | None:
    """The version that publishing `cmd` creates, or None when it changes nothing.

    `history` is every earlier version of the survey (any order). A survey stays in its
    service area: to survey another, publish another survey.
    """
    check_survey_id(survey_id)
    ordered = sorted(history, key=lambda v: v.version)
    latest = ordered[-1] if ordered else None
    if latest is not None:
        if latest.same_content(cmd):
            return None
        if latest.service_area != cmd.service_area:
            raise Invalid(
                f"survey {survey_id!r} is a {latest.service_area} survey; publish a new survey "
                "for another service area",
                "service_area",
            )
    version = latest.version + 1 if latest else 1
    questions = tuple(
        SurveyQuestion(
            question_id=q.question_id,
            wording=q.wording,
            answer_type=q.answer_type,
            safeguarding=q.safeguarding,
            reported_as=_reported_as(q, ordered, version),
        )
        for q in cmd.questions
    )
    return SurveyVersion(
        survey_id=survey_id,
        version=version,
        title=cmd.title,
        service_area=cmd.service_area,
        respondents=tuple(cmd.respondents),
        questions=questions,
        published_at=now,
    )


def _reported_as(q: QuestionDefinition, history: Sequence[SurveyVersion], version: int) -> str:
    earlier = [old for v in history if (old := v.question(q.question_id)) is not None]
    if not earlier:
        return q.question_id
    for old in earlier:  # oldest first: the wording's first appearance names it
        if old.meaning == meaning(q.wording, q.answer_type):
            return old.reported_as
    return f"{q.question_id}.v{version}"
