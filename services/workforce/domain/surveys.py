"""The staff health-check survey (LGA standards for employers of social workers), versioned
like feedback's surveys: publishing a changed definition makes a new version; a reworded
question is reported as `<question_id>.v<version>` so that answers to two wordings are never
merged (`reported_as`, the id in `StaffSurveyResponseReceived` and in the KPI
`workforce.survey_positive_rate.<id>`). Responses are checked against the version they
answer; a CSV export is read with every problem's row and column. Pure."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.workforce.domain import LABEL, QUESTION_ID, SURVEY_ID, fingerprint
from services.workforce.domain.csv_table import CellError, midnight, parse_date, read_table
from shared.errors import Invalid, Problem
from shared.events import StaffSurveyAnswer, StaffSurveyResponseReceived, known_service_areas

AnswerValue = str | int


class AnswerType(enum.StrEnum):
    YES_NO = "yes_no"
    SCALE_1_5 = "scale_1_5"


@dataclass(frozen=True)
class StaffQuestion:
    question_id: str
    wording: str
    answer_type: AnswerType
    reported_as: str

    @property
    def meaning(self) -> tuple[str, str]:
        return (self.wording.casefold(), self.answer_type.value)


@dataclass(frozen=True)
class StaffSurvey:
    survey_id: str
    version: int
    title: str
    questions: tuple[StaffQuestion, ...]
    published_at: datetime

    def question(self, question_id: str) -> StaffQuestion | None:
        return next((q for q in self.questions if q.question_id == question_id), None)


def check_survey_id(survey_id: str) -> str:
    if not SURVEY_ID.match(survey_id):
        raise Invalid("must be a lower-case letter, then lower-case letters, digits, _ or - (at most 80)", "survey_id")
    return survey_id


def next_version(
    survey_id: str,
    title: str,
    questions: Sequence[tuple[str, str, AnswerType]],
    history: Sequence[StaffSurvey],
    *,
    now: datetime,
) -> StaffSurvey | None:
    """The version publishing (title, questions) makes, or None when it changes nothing.
    `questions` are (question_id, wording, answer type)."""
    check_survey_id(survey_id)
    ordered = sorted(history, key=lambda v: v.version)
    latest = ordered[-1] if ordered else None
    if (
        latest is not None
        and latest.title == title
        and [(q.question_id, q.wording, q.answer_type) for q in latest.questions] == list(questions)
    ):
        return None
    version = latest.version + 1 if latest else 1
    made = []
    for qid, wording, answer_type in questions:
        earlier = [old for v in ordered if (old := v.question(qid)) is not None]
        same = next((o for o in earlier if o.meaning == (wording.casefold(), answer_type.value)), None)
        reported = same.reported_as if same else (qid if not earlier else f"{qid}.v{version}")
        made.append(StaffQuestion(qid, wording, answer_type, reported))
    return StaffSurvey(survey_id, version, title, tuple(made), now)


def parse_answer(question: StaffQuestion, raw: Any) -> AnswerValue | None:
    """`yes`/`no` or 1-5 (None: skipped), else ValueError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if question.answer_type is AnswerType.YES_NO:
        value = str(raw).strip().casefold()
        if value in ("yes", "y"):
            return "yes"
        if value in ("no", "n"):
            return "no"
        raise ValueError("must be yes or no")
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or not 1 <= int(text) <= 5:
        raise ValueError("must be a whole number from 1 to 5")
    return int(text)


@dataclass(frozen=True)
class StaffResponse:
    response_id: str
    survey_id: str
    survey_version: int
    service_area: str
    team: str | None
    received_at: datetime
    answers: tuple[tuple[StaffQuestion, AnswerValue], ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            {
                "survey": [self.survey_id, self.survey_version],
                "service_area": self.service_area,
                "team": self.team,
                "received_at": self.received_at.isoformat(),
                "answers": {q.question_id: v for q, v in self.answers},
            }
        )

    def received_event(self) -> StaffSurveyResponseReceived:
        return StaffSurveyResponseReceived(
            response_id=self.response_id,
            survey_id=self.survey_id,
            team=self.team,
            service_area=self.service_area,
            received_at=self.received_at,
            answers=[StaffSurveyAnswer(question_id=q.reported_as, value=v) for q, v in self.answers],
        )


def validate_response(
    survey: StaffSurvey,
    *,
    response_id: str,
    answers: Mapping[str, Any],
    service_area: str,
    team: str | None,
    received_at: datetime,
    now: datetime,
) -> StaffResponse:
    """A response to `survey`: every answered question known and valid; at least one answer."""
    problems: list[Problem] = []
    if service_area not in known_service_areas():
        problems.append(Problem(("service_area",), f"unknown service area {service_area!r}"))
    if team is not None and not LABEL.match(team):
        problems.append(Problem(("team",), "must be an identifier such as 'through-care'"))
    if received_at > now:
        problems.append(Problem(("received_at",), f"{received_at.isoformat()} is in the future"))
    given: list[tuple[StaffQuestion, AnswerValue]] = []
    for qid, raw in answers.items():
        question = survey.question(qid)
        if question is None:
            problems.append(Problem(("answers", qid), f"not a question of {survey.survey_id} v{survey.version}"))
            continue
        try:
            value = parse_answer(question, raw)
        except ValueError as exc:
            problems.append(Problem(("answers", qid), str(exc)))
            continue
        if value is not None:
            given.append((question, value))
    if not given and not problems:
        problems.append(Problem(("answers",), "no question is answered"))
    if problems:
        raise Invalid.of(problems)
    order = {q.question_id: i for i, q in enumerate(survey.questions)}
    given.sort(key=lambda qa: order[qa[0].question_id])
    return StaffResponse(response_id, survey.survey_id, survey.version, service_area, team, received_at, tuple(given))


# --------------------------------------------------------------------------- CSV


@dataclass
class SurveyReading:
    responses: list[tuple[int, StaffResponse]] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    data_rows: int = 0


_FIELDS = ("response_id", "received_at", "team", "service_area")


def read_survey_csv(data: bytes, survey: StaffSurvey, *, now: datetime) -> SurveyReading:
    """A survey tool's export: `received_at` (a date), `service_area` (required), optional
    `response_id` and `team`, and one column per question id. A row without a response id
    gets `<survey>:h<digest of its content and how many identical rows came before>`, so a
    re-import adds nothing."""
    questions = {q.question_id for q in survey.questions}
    table = read_table(
        data,
        known=lambda n: n in _FIELDS or n in questions,
        required=("received_at", "service_area"),
        aliases={"submitted_at": "received_at"},
    )
    reading = SurveyReading(errors=list(table.errors), ignored_columns=table.ignored_columns, data_rows=len(table.rows))
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        response = _row(line, cells, survey, now, reading.errors, seen)
        if response is not None:
            reading.responses.append((line, response))
    return reading


def _row(
    line: int, cells: dict[str, str], survey: StaffSurvey, now: datetime, errors: list[CellError], seen: dict[str, int]
) -> StaffResponse | None:
    try:
        day: date = parse_date(cells.get("received_at", ""))
    except ValueError as exc:
        errors.append(CellError(line, "received_at", str(exc)))
        return None
    own = cells.get("response_id", "")
    try:
        response = validate_response(
            survey,
            response_id=f"{survey.survey_id}:{own}" if own else f"{survey.survey_id}:pending",
            answers={k: v for k, v in cells.items() if k not in _FIELDS},
            service_area=cells.get("service_area", ""),
            team=cells.get("team") or None,
            received_at=midnight(day),
            now=now,
        )
    except Invalid as exc:
        for p in exc.problems:
            column = str(p.field[-1]) if p.field else None
            errors.append(CellError(line, column, p.reason))
        return None
    if not own:
        key = response.fingerprint
        seen[key] = seen.get(key, 0) + 1
        rid = f"{survey.survey_id}:h{fingerprint({'content': key, 'n': seen[key]})[:24]}"
        response = StaffResponse(rid, *(getattr(response, f) for f in _AFTER_ID))
    elif response.response_id in seen:
        errors.append(CellError(line, "response_id", f"repeats row {seen[response.response_id]}"))
        return None
    else:
        seen[response.response_id] = line
    return response


_AFTER_ID = ("survey_id", "survey_version", "service_area", "team", "received_at", "answers")


def check_question_id(question_id: str) -> str:
    if not QUESTION_ID.match(question_id):
        raise Invalid("must be snake_case (a lower-case letter, then lower-case letters, digits or _)", "questions")
    return question_id
