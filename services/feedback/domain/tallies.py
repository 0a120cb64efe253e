"""Answers counted per question and wording: a reworded question is counted apart (its
`reported_as`), an unchanged one together across versions; small counts are suppressed for
readers without the detail. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.feedback.domain import AnswerType
from services.feedback.domain.surveys import SurveyQuestion, SurveyVersion

POSITIVE = frozenset({"yes", "4", "5"})


@dataclass(frozen=True)
class AnswerCounts:
    """Responses to a survey in a period, and its answers per `reported_as` question and
    value ("yes", "no", "1" … "5"; free text: "text")."""

    responses: int = 0
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class QuestionTally:
    """Answers to one `reported_as` question (one wording) of a survey."""

    reported_as: str
    question_id: str
    wording: str
    answer_type: AnswerType
    versions: tuple[int, ...]
    counts: Mapping[str, int]  # value -> answers ("yes", "no", "1" … "5"; free text: "text")

    @property
    def answers(self) -> int:
        return sum(self.counts.values())

    @property
    def positive(self) -> int | None:
        if self.answer_type is AnswerType.FREE_TEXT:
            return None
        return sum(n for v, n in self.counts.items() if v in POSITIVE)

    @property
    def positive_rate(self) -> float | None:
        positive = self.positive
        return None if positive is None or self.answers == 0 else positive / self.answers


@dataclass(frozen=True)
class SurveyResults:
    survey: SurveyVersion  # the latest version
    responses: int
    questions: list[QuestionTally]


def tally_questions(history: Sequence[SurveyVersion], counts: AnswerCounts) -> list[QuestionTally]:
    """One tally per `reported_as` question of any version, in the order they first appear;
    each named by its first version's question id, wording and answer type."""
    first: dict[str, SurveyQuestion] = {}
    versions: dict[str, list[int]] = {}
    for survey in sorted(history, key=lambda v: v.version):
        for q in survey.questions:
            first.setdefault(q.reported_as, q)
            versions.setdefault(q.reported_as, []).append(survey.version)
    return [
        QuestionTally(
            reported_as=reported_as,
            question_id=q.question_id,
            wording=q.wording,
            answer_type=q.answer_type,
            versions=tuple(versions[reported_as]),
            counts=dict(counts.counts.get(reported_as, {})),
        )
        for reported_as, q in first.items()
    ]


def suppressed(count: int, threshold: int) -> bool:
    """DfE convention: counts from 1 to the threshold are not published."""
    return 1 <= count <= threshold
