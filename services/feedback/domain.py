"""Feedback domain rules: surveys and their versions, answers, CSV rows, compliments and
"you said, we did" items. Pure Python: no I/O.

Rules that the design documents leave open, decided here:

* **Question identity across versions.** A question's `question_id` is what a person and a
  survey tool call it (a CSV column). A survey version records each question's wording. The
  id that answers carry in `FeedbackReceived` (and so in the KPI
  `feedback.positive_rate.<question_id>`) is the question's `reported_as`: the plain id while
  the wording (and answer type) is the one the question was introduced with; a new version
  that rewords a question reports it as `<question_id>.v<version>`, so that answers to the old
  and the new wording are never merged. Going back to an earlier wording reuses that
  wording's `reported_as`. Changing only the safeguarding flag keeps `reported_as`.
* **Free text** is stored in this service and never put in an event.
* **Contact details** (e-mail addresses, UK telephone numbers, postcodes) are refused in any
  text that goes into an event (compliment summaries, "you said, we did" texts).
* **Actions** (`ActionRaised`, `ActionCompleted`, origin `feedback`) are raised on a survey
  response (origin_id = the response id: how a safeguarding alert is closed) or on a service
  area's theme (origin_id = `<service_area>:<theme>`). A response's action belongs to the
  response's team and service area; where the response names no team, the action must.
  Its summary and evidence travel in the events, under the same rules as other event text.
* **Response ids** from a CSV file are `<survey_id>:<the file's response id>`, or, where the
  file has none, `<survey_id>:h<hash>` of the row's validated content (plus how many identical
  rows came before it in the file), so that importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.calendar import london_date
from shared.events import (
    ActionCompleted,
    ActionRaised,
    ComplimentOrigin,
    ComplimentReceived,
    FeedbackReceived,
    LearningOrigin,
    Respondent,
    ServiceArea,
    SurveyAnswer,
    Timestamp,
    YouSaidWeDidPublished,
    known_service_areas,
)

LONDON = ZoneInfo("Europe/London")

SURVEY_ID = re.compile(r"^[a-z][a-z0-9_-]{0,79}$")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
# Ids that name a record: letters, digits and `_ . : -` only — no spaces, no `@`, so no
# names or e-mail addresses.
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
# Teams, channels and themes: free identifiers such as `through-care`.
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

RecordId = Annotated[str, Field(pattern=RECORD_ID.pattern)]
Label = Annotated[str, Field(pattern=LABEL.pattern)]

MAX_FREE_TEXT = 4000
MAX_SUMMARY = 280
MAX_YOU_SAID_WE_DID = 1000
CLOCK_SKEW = timedelta(minutes=5)  # a receipt time this far ahead of now is still accepted


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One reason an input is refused; `field` is the path to the offending value."""

    field: tuple[str | int, ...]
    reason: str

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.field)
        return f"{where}: {self.reason}" if where else self.reason


class FeedbackError(Exception):
    pass


class InvalidInput(FeedbackError):
    """Bad input, with every problem found (HTTP 422, or a rejected CSV row)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.describe() for p in self.problems))

    @classmethod
    def one(cls, field: tuple[str | int, ...], reason: str) -> InvalidInput:
        return cls([Problem(field, reason)])


class NotFound(FeedbackError):
    pass


class Conflict(FeedbackError):
    pass


# --------------------------------------------------------------------------- text rules


def normalise_text(text: str) -> str:
    """Surrounding and repeated white space removed."""
    return " ".join(text.split())


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|0)\d(?:[\s-]?\d){8,9}(?!\w)")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b", re.IGNORECASE)


def contact_details_in(text: str) -> list[str]:
    """What in `text` looks like an e-mail address, a UK telephone number or a postcode."""
    found = []
    if _EMAIL.search(text):
        found.append("an e-mail address")
    if _PHONE.search(text):
        found.append("a telephone number")
    if _POSTCODE.search(text):
        found.append("a postcode")
    return found


def _event_text(value: str, max_length: int) -> str:
    """Text that will travel in an event: non-empty, short, no contact details."""
    text = normalise_text(value)
    if not text:
        raise ValueError("must not be empty")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters (got {len(text)})")
    if found := contact_details_in(text):
        raise ValueError(
            f"looks like it contains {' and '.join(found)}: text that is published in events "
            "must not hold a child's name or anyone's contact details"
        )
    return text


def check_not_future(when: datetime, now: datetime) -> None:
    if when > now + CLOCK_SKEW:
        raise ValueError(f"{when.isoformat()} is in the future")


# --------------------------------------------------------------------------- surveys


class AnswerType(enum.StrEnum):
    YES_NO = "yes_no"
    SCALE_1_5 = "scale_1_5"
    FREE_TEXT = "free_text"


class QuestionDefinition(BaseModel):
    """A question as a survey author writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str = Field(
        description="snake_case id, e.g. `feel_safe_where_i_live`; also the CSV column name",
        examples=["feel_safe_where_i_live"],
    )
    wording: str = Field(min_length=1, max_length=500, examples=["I feel safe where I live"])
    answer_type: AnswerType
    safeguarding: bool = Field(
        default=False,
        description="a negative answer (`no`, 1 or 2) needs same-day follow-up",
    )

    @field_validator("question_id")
    @classmethod
    def _question_id(cls, v: str) -> str:
        if not QUESTION_ID.match(v):
            raise ValueError(
                "must be snake_case: a lower-case letter, then lower-case letters, digits or _ (at most 80 characters)"
            )
        return v

    @field_validator("wording")
    @classmethod
    def _wording(cls, v: str) -> str:
        v = normalise_text(v)
        if not v:
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _safeguarding_needs_an_answer_scale(self) -> QuestionDefinition:
        if self.safeguarding and self.answer_type is AnswerType.FREE_TEXT:
            raise ValueError(
                "a free-text question cannot be a safeguarding question: only yes/no and 1-5 answers can be negative"
            )
        return self

    @property
    def meaning(self) -> tuple[str, str]:
        """What must stay the same for answers to be comparable: wording and answer type."""
        return (self.wording.casefold(), self.answer_type.value)


class SurveyContent(BaseModel):
    """What a survey author publishes; each publication that changes it is a new version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    service_area: ServiceArea
    respondents: list[Respondent] = Field(
        min_length=1, description="respondent groups the survey is for; the first is the main one"
    )
    questions: list[QuestionDefinition] = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        v = normalise_text(v)
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("respondents")
    @classmethod
    def _respondents(cls, v: list[Respondent]) -> list[Respondent]:
        if len(set(v)) != len(v):
            raise ValueError("a respondent group is listed twice")
        return v

    @field_validator("questions")
    @classmethod
    def _questions(cls, v: list[QuestionDefinition]) -> list[QuestionDefinition]:
        ids = [q.question_id for q in v]
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"question ids must be unique within a survey: {dup} repeat")
        wordings = [q.wording.casefold() for q in v]
        if dup := sorted({w for w in wordings if wordings.count(w) > 1}):
            raise ValueError(f"two questions have the same wording: {dup}")
        return v


@dataclass(frozen=True)
class SurveyQuestion:
    """A question in one survey version."""

    question_id: str
    wording: str
    answer_type: AnswerType
    safeguarding: bool
    reported_as: str  # the question id in events and KPIs; see the module docstring

    @property
    def meaning(self) -> tuple[str, str]:
        return (self.wording.casefold(), self.answer_type.value)


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

    def same_content(self, content: SurveyContent) -> bool:
        return (
            self.title == content.title
            and self.service_area == content.service_area
            and list(self.respondents) == list(content.respondents)
            and [(q.question_id, q.wording, q.answer_type, q.safeguarding) for q in self.questions]
            == [(q.question_id, q.wording, q.answer_type, q.safeguarding) for q in content.questions]
        )


def check_survey_id(survey_id: str) -> str:
    if not SURVEY_ID.match(survey_id):
        raise InvalidInput.one(
            ("survey_id",),
            "must be a lower-case letter, then lower-case letters, digits, _ or - (at most 80 characters)",
        )
    return survey_id


def next_survey_version(
    survey_id: str,
    content: SurveyContent,
    history: Sequence[SurveyVersion],
    *,
    now: datetime,
) -> SurveyVersion | None:
    """The version that publishing `content` creates, or None when it changes nothing.

    `history` is every earlier version of the survey (any order). A survey stays in its
    service area: to survey another, publish another survey.
    """
    check_survey_id(survey_id)
    ordered = sorted(history, key=lambda v: v.version)
    latest = ordered[-1] if ordered else None
    if latest is not None:
        if latest.same_content(content):
            return None
        if latest.service_area != content.service_area:
            raise InvalidInput.one(
                ("service_area",),
                f"survey {survey_id!r} is a {latest.service_area} survey; publish a new survey "
                "for another service area",
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
        for q in content.questions
    )
    return SurveyVersion(
        survey_id=survey_id,
        version=version,
        title=content.title,
        service_area=content.service_area,
        respondents=tuple(content.respondents),
        questions=questions,
        published_at=now,
    )


def _reported_as(q: QuestionDefinition, history: Sequence[SurveyVersion], version: int) -> str:
    earlier = [old for v in history if (old := v.question(q.question_id)) is not None]
    if not earlier:
        return q.question_id
    for old in earlier:  # oldest first: the wording's first appearance names it
        if old.meaning == q.meaning:
            return old.reported_as
    return f"{q.question_id}.v{version}"


# --------------------------------------------------------------------------- answers

AnswerValue = str | int  # "yes" / "no", 1-5, or free text


@dataclass(frozen=True)
class Answer:
    question: SurveyQuestion
    value: AnswerValue

    @property
    def is_free_text(self) -> bool:
        return self.question.answer_type is AnswerType.FREE_TEXT

    @property
    def negative(self) -> bool:
        return not self.is_free_text and (self.value == "no" or (isinstance(self.value, int) and self.value <= 2))

    def to_event(self) -> SurveyAnswer | None:
        """The answer as it travels in `FeedbackReceived`; free text never does."""
        if self.is_free_text:
            return None
        return SurveyAnswer(
            question_id=self.question.reported_as,
            value=self.value,
            safeguarding=self.question.safeguarding,
        )


_YES = {"yes", "y"}
_NO = {"no", "n"}


def parse_answer(question: SurveyQuestion, raw: Any) -> AnswerValue | None:
    """The answer's value, None when skipped (empty), or ValueError with the reason."""
    if raw is None:
        return None
    if isinstance(raw, str) and not raw.strip():
        return None
    kind = question.answer_type
    if kind is AnswerType.YES_NO:
        if isinstance(raw, str) and raw.strip().lower() in _YES | _NO:
            return "yes" if raw.strip().lower() in _YES else "no"
        raise ValueError(f"expected yes or no, got {raw!r}")
    if kind is AnswerType.SCALE_1_5:
        if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 5:
            return raw
        if isinstance(raw, str) and raw.strip() in {"1", "2", "3", "4", "5"}:
            return int(raw.strip())
        raise ValueError(f"expected a whole number from 1 to 5, got {raw!r}")
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


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class SurveyResponse:
    """A validated response to one survey version. Skipped questions are absent."""

    response_id: str
    survey: SurveyVersion
    respondent: Respondent
    team: str | None
    channel: str | None
    received_at: datetime
    answers: tuple[Answer, ...]

    @property
    def service_area(self) -> str:
        return self.survey.service_area

    @property
    def safeguarding_concern(self) -> bool:
        """A safeguarding question answered negatively: needs same-day follow-up."""
        return any(a.question.safeguarding and a.negative for a in self.answers)

    def content(self) -> dict[str, Any]:
        """Everything the respondent said, in a canonical form (without the id or time)."""
        return {
            "survey_id": self.survey.survey_id,
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
        return _digest(self.content())

    def to_event(self) -> FeedbackReceived:
        return FeedbackReceived(
            response_id=self.response_id,
            survey_id=self.survey.survey_id,
            service_area=self.service_area,
            team=self.team,
            respondent=self.respondent,
            received_at=self.received_at,
            channel=self.channel,
            answers=[e for a in self.answers if (e := a.to_event()) is not None],
        )


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def build_response(
    survey: SurveyVersion,
    *,
    response_id: str,
    answers: Mapping[str, Any],
    received_at: datetime,
    now: datetime,
    respondent: Any = None,
    team: str | None = None,
    channel: str | None = None,
) -> SurveyResponse:
    """Validate a response against its survey version; InvalidInput lists every problem."""
    problems: list[Problem] = []
    if not RECORD_ID.match(response_id):
        problems.append(Problem(("response_id",), "may hold only letters, digits and _ . : - (at most 200)"))
    for name, label in (("team", team), ("channel", channel)):
        if label is not None and not LABEL.match(label):
            problems.append(Problem((name,), "may hold only letters, digits and _ . - (at most 100)"))
    who: Respondent | None = None
    try:
        who = parse_respondent(respondent, survey)
    except ValueError as exc:
        problems.append(Problem(("respondent",), str(exc)))
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=LONDON)
    try:
        check_not_future(received_at, now)
    except ValueError as exc:
        problems.append(Problem(("received_at",), str(exc)))
    parsed: list[Answer] = []
    for question_id, raw in answers.items():
        question = survey.question(question_id)
        if question is None:
            problems.append(
                Problem(
                    ("answers", question_id),
                    f"not a question of survey {survey.survey_id!r} version {survey.version}",
                )
            )
            continue
        try:
            value = parse_answer(question, raw)
        except ValueError as exc:
            problems.append(Problem(("answers", question_id), str(exc)))
            continue
        if value is not None:
            parsed.append(Answer(question, value))
    if not problems and not parsed:
        problems.append(Problem(("answers",), "no question is answered"))
    if problems:
        raise InvalidInput(problems)
    assert who is not None
    order = {q.question_id: i for i, q in enumerate(survey.questions)}
    parsed.sort(key=lambda a: order[a.question.question_id])
    return SurveyResponse(
        response_id=response_id,
        survey=survey,
        respondent=who,
        team=team,
        channel=channel,
        received_at=received_at,
        answers=tuple(parsed),
    )


# --------------------------------------------------------------------------- CSV import

CSV_FIELDS = ("response_id", "received_at", "respondent", "team", "channel")
CSV_ALIASES = {"submitted_at": "received_at"}
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_csv_timestamp(text: str) -> datetime:
    """ISO 8601 (`2022-08-01`, `2022-08-01T10:30:00Z`, …) or the UK `dd/mm/yyyy[ HH:MM[:SS]]`
    that spreadsheets and survey tools export; without an offset it is London time."""
    text = text.strip()
    if m := _UK_DATE.match(text):
        day, month, year, hour, minute, second = (int(g) if g else 0 for g in m.groups())
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date or time: expected e.g. 2022-08-01T10:30:00Z or 01/08/2022 10:30"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


class RowError(BaseModel):
    line: int = Field(description="line in the file (the header is line 1 in most files)")
    reason: str
    response_id: str | None = None


class ImportReport(BaseModel):
    """What a CSV import did. `rows` = imported + duplicates + rejected."""

    survey_id: str
    survey_version: int
    rows: int = Field(description="data rows in the file (blank lines not counted)")
    imported: int = Field(description="new responses recorded and published")
    duplicates: int = Field(description="rows already recorded by an earlier import: skipped")
    rejected: int = Field(description="rows refused; each has an entry in `errors`")
    errors: list[RowError] = Field(
        description="why rows (or, at the header line, columns or the whole file) were refused"
    )
    readable: bool = Field(default=True, description="false: the file could not be read at all; nothing was imported")
    safeguarding_responses: list[str] = Field(
        default_factory=list,
        description="imported responses with a negative answer to a safeguarding question: "
        "they need same-day follow-up",
    )


@dataclass(frozen=True)
class CsvRow:
    line: int
    response: SurveyResponse


@dataclass
class CsvReading:
    """A CSV file read against a survey version: the good rows and what was wrong."""

    rows: list[CsvRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    data_rows: int = 0
    header_line: int = 1
    readable: bool = True  # False: nothing could be read (no header, not text, …)

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors if e.line > self.header_line})


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the byte-order mark Excel writes), else Windows-1252."""
    if b"\x00" in data:
        raise ValueError("the file is not a CSV text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise ValueError("the file is neither UTF-8 nor Windows-1252 text") from None


def read_survey_csv(data: bytes, survey: SurveyVersion, *, now: datetime) -> CsvReading:
    """Validate every row of a survey tool's CSV export against `survey`.

    Format: a header row, then one row per response. Columns (any order, names matched
    without regard to case): `received_at` (required; alias `submitted_at`), optional
    `response_id`, `respondent`, `team`, `channel`, and one column per question, named by
    its `question_id` or its exact wording. An empty cell is a skipped question. A column
    that is neither is reported at the header line, and a row with a value in it is refused
    (its answer would otherwise be lost for good, since re-importing adds nothing).
    """
    reading = CsvReading()
    try:
        text = decode_csv(data)
    except ValueError as exc:
        reading.errors.append(RowError(line=1, reason=str(exc)))
        reading.readable = False
        return reading
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    columns: dict[int, str] = {}  # index -> field name or question id
    unknown: dict[int, str] = {}  # index -> header text
    seen_ids: dict[str, int] = {}
    identical: dict[str, int] = {}
    last_line = 0
    while True:
        start = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            reading.errors.append(RowError(line=reader.line_num, reason=f"cannot read the file from here: {exc}"))
            break
        last_line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if header is None:
            header, reading.header_line = record, start
            columns, unknown, problems, fatal = _map_header(header, survey)
            reading.errors.extend(RowError(line=start, reason=p) for p in [*fatal, *problems])
            if fatal:
                reading.readable = False
                return reading
            continue
        reading.data_rows += 1
        if len(record) != len(header):
            reading.errors.append(
                RowError(
                    line=start,
                    reason=f"malformed row: expected {len(header)} fields, found {len(record)}",
                )
            )
            continue
        stray = [f"{unknown[i]!r}" for i in unknown if record[i].strip()]
        if stray:
            reading.errors.append(
                RowError(
                    line=start,
                    reason=f"answers a question that is not in survey {survey.survey_id!r} "
                    f"version {survey.version}: {', '.join(stray)}",
                )
            )
            continue
        row = {name: record[i] for i, name in columns.items()}
        try:
            response = _response_from_row(row, survey, now=now, identical=identical)
        except InvalidInput as exc:
            reading.errors.append(RowError(line=start, reason="; ".join(_csv_reason(p) for p in exc.problems)))
            continue
        if (first := seen_ids.get(response.response_id)) is not None:
            reading.errors.append(
                RowError(
                    line=start,
                    reason=f"response id repeats line {first}",
                    response_id=response.response_id,
                )
            )
            continue
        seen_ids[response.response_id] = start
        reading.rows.append(CsvRow(start, response))
    if header is None:
        reading.errors.append(RowError(line=1, reason="the file is empty: expected a header row"))
        reading.readable = False
    return reading


def _map_header(
    header: list[str], survey: SurveyVersion
) -> tuple[dict[int, str], dict[int, str], list[str], list[str]]:
    """Columns -> field names / question ids; unknown columns; problems; fatal problems."""
    by_name = {q.question_id.casefold(): q.question_id for q in survey.questions}
    by_wording = {q.wording.casefold(): q.question_id for q in survey.questions}
    columns: dict[int, str] = {}
    unknown: dict[int, str] = {}
    problems: list[str] = []
    fatal: list[str] = []
    for i, cell in enumerate(header):
        text = normalise_text(cell).casefold()
        name = re.sub(r"[\s-]+", "_", text)  # "Response ID" -> response_id
        name = CSV_ALIASES.get(name, name)
        target = name if name in CSV_FIELDS else by_name.get(name) or by_wording.get(text)
        if target is None:
            unknown[i] = cell.strip() or f"column {i + 1} (no name)"
            continue
        if target in columns.values():
            fatal.append(f"two columns are {target!r}: the file is ambiguous")
        columns[i] = target
    if unknown:
        problems.append(
            f"unknown question(s) {sorted(unknown.values())}: not in survey {survey.survey_id!r} "
            f"version {survey.version} (known: {[q.question_id for q in survey.questions]}); "
            "rows that answer them are refused"
        )
    if "received_at" not in columns.values():
        fatal.append("missing column received_at (the date and time of each response)")
    if not any(c in by_name.values() for c in columns.values()):
        fatal.append(f"no column is a question of survey {survey.survey_id!r} version {survey.version}")
    return columns, unknown, problems, fatal


def _csv_reason(problem: Problem) -> str:
    if problem.field and problem.field[0] == "answers" and len(problem.field) > 1:
        return f"{problem.field[1]}: {problem.reason}"
    return problem.describe()


def _response_from_row(
    row: dict[str, str], survey: SurveyVersion, *, now: datetime, identical: dict[str, int]
) -> SurveyResponse:
    problems: list[Problem] = []
    raw_time = row.get("received_at", "").strip()
    received_at = now
    if not raw_time:
        problems.append(Problem(("received_at",), "is empty"))
    else:
        try:
            received_at = parse_csv_timestamp(raw_time)
        except ValueError as exc:
            problems.append(Problem(("received_at",), str(exc)))
    own_id = row.get("response_id", "").strip()
    team = row.get("team", "").strip() or None
    channel = row.get("channel", "").strip() or None
    answers = {k: v for k, v in row.items() if k not in CSV_FIELDS}
    try:
        response = build_response(
            survey,
            response_id=f"{survey.survey_id}:{own_id}" if own_id else f"{survey.survey_id}:pending",
            answers=answers,
            received_at=received_at,
            now=now,
            respondent=row.get("respondent"),
            team=team,
            channel=channel,
        )
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    if own_id:
        return response
    # No id in the file: one from the row's content, and from how many identical rows came
    # before it (identical rows are different people giving the same answers at the same time).
    content = {**response.content(), "received_at": response.received_at.astimezone(UTC).isoformat()}
    key = _digest(content)
    identical[key] = identical.get(key, 0) + 1
    digest = _digest({"content": key, "occurrence": identical[key]})[:24]
    return SurveyResponse(
        response_id=f"{survey.survey_id}:h{digest}",
        survey=response.survey,
        respondent=response.respondent,
        team=response.team,
        channel=response.channel,
        received_at=response.received_at,
        answers=response.answers,
    )


# --------------------------------------------------------------------------- compliments


class ComplimentContent(BaseModel):
    """A compliment as recorded by staff."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compliment_id: RecordId | None = Field(
        default=None, description="your id for it (a retry with the same id adds nothing)"
    )
    origin: ComplimentOrigin = Field(
        description="`external` (children, families, people outside the service) or `internal` (colleagues, partners)"
    )
    service_area: ServiceArea
    team: Label
    received_at: Timestamp = Field(description="date (midnight London) or date and time")
    summary: str | None = Field(
        default=None,
        description=f"at most {MAX_SUMMARY} characters; published in the event, so no child's "
        "name and no contact details",
    )

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else _event_text(v, MAX_SUMMARY)


@dataclass(frozen=True)
class Compliment:
    compliment_id: str
    origin: ComplimentOrigin
    service_area: str
    team: str
    received_at: datetime
    summary: str | None

    @property
    def fingerprint(self) -> str:
        return _digest(
            {
                "origin": self.origin.value,
                "service_area": self.service_area,
                "team": self.team,
                "received_at": self.received_at.astimezone(UTC).isoformat(),
                "summary": self.summary,
            }
        )

    def to_event(self) -> ComplimentReceived:
        return ComplimentReceived(
            compliment_id=self.compliment_id,
            service_area=self.service_area,
            team=self.team,
            origin=self.origin,
            received_at=self.received_at,
            summary=self.summary,
        )


def build_compliment(content: ComplimentContent, *, compliment_id: str, now: datetime) -> Compliment:
    try:
        check_not_future(content.received_at, now)
    except ValueError as exc:
        raise InvalidInput.one(("received_at",), str(exc)) from None
    return Compliment(
        compliment_id=compliment_id,
        origin=content.origin,
        service_area=content.service_area,
        team=content.team,
        received_at=content.received_at,
        summary=content.summary,
    )


# --------------------------------------------------------------------------- you said, we did


class YouSaidWeDidContent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: RecordId | None = Field(default=None, description="your id for it (a retry with the same id adds nothing)")
    service_area: ServiceArea
    theme: Label = Field(
        description="what it is about: usually the question's `reported_as` id, e.g. "
        "`easy_to_contact_case_worker`, which closes that question's feedback-response follow-up"
    )
    you_said: str = Field(description="what children and families said (published)")
    we_did: str = Field(description="what the service changed (published)")
    feedback_ids: list[RecordId] = Field(default_factory=list, description="ids of the survey responses it answers")
    action_id: RecordId | None = Field(default=None, description="the action that did it")
    published_at: Timestamp | None = Field(default=None, description="default: now")

    @field_validator("you_said", "we_did")
    @classmethod
    def _text(cls, v: str) -> str:
        return _event_text(v, MAX_YOU_SAID_WE_DID)

    @field_validator("feedback_ids")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


@dataclass(frozen=True)
class YouSaidWeDid:
    item_id: str
    service_area: str
    theme: str
    you_said: str
    we_did: str
    feedback_ids: tuple[str, ...]
    action_id: str | None
    published_at: datetime

    @property
    def fingerprint(self) -> str:
        return _digest(
            {
                "service_area": self.service_area,
                "theme": self.theme,
                "you_said": self.you_said,
                "we_did": self.we_did,
                "feedback_ids": sorted(self.feedback_ids),
                "action_id": self.action_id,
            }
        )

    def to_event(self) -> YouSaidWeDidPublished:
        return YouSaidWeDidPublished(
            item_id=self.item_id,
            service_area=self.service_area,
            theme=self.theme,
            you_said=self.you_said,
            we_did=self.we_did,
            feedback_ids=list(self.feedback_ids),
            action_id=self.action_id,
            published_at=self.published_at,
        )


def build_you_said_we_did(
    content: YouSaidWeDidContent,
    *,
    item_id: str,
    linked_areas: Mapping[str, str],
    now: datetime,
) -> YouSaidWeDid:
    """`linked_areas`: the service area of each linked response that exists."""
    problems = []
    for i, fid in enumerate(content.feedback_ids):
        area = linked_areas.get(fid)
        if area is None:
            problems.append(Problem(("feedback_ids", i), f"no survey response {fid!r}"))
        elif area != content.service_area:
            problems.append(
                Problem(
                    ("feedback_ids", i),
                    f"response {fid!r} is about {area}, not {content.service_area}",
                )
            )
    published_at = content.published_at or now
    try:
        check_not_future(published_at, now)
    except ValueError as exc:
        problems.append(Problem(("published_at",), str(exc)))
    if problems:
        raise InvalidInput(problems)
    return YouSaidWeDid(
        item_id=item_id,
        service_area=content.service_area,
        theme=content.theme,
        you_said=content.you_said,
        we_did=content.we_did,
        feedback_ids=tuple(content.feedback_ids),
        action_id=content.action_id,
        published_at=published_at,
    )


# --------------------------------------------------------------------------- actions

MAX_EVIDENCE = 1000


class ActionOriginKind(enum.StrEnum):
    RESPONSE = "response"  # origin_id is the survey response's id
    THEME = "theme"  # origin_id is `<service_area>:<theme>`


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class ActionContent(BaseModel):
    """An action raised on a survey response (or on a service area's theme), as staff
    record it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: RecordId | None = Field(
        default=None, description="your id for it (a retry with the same id adds nothing)"
    )
    owner_id: RecordId = Field(
        description="who will see it done, e.g. the team manager", examples=["manager-through-care"]
    )
    due_date: date = Field(description="for a safeguarding answer: the next working day after receipt")
    summary: str = Field(
        description=f"what will be done; at most {MAX_SUMMARY} characters, published in ActionRaised, "
        "so no child's name and no contact details"
    )
    team: Label | None = Field(
        default=None,
        description="the team that owns it: a response's action belongs to the response's team, and "
        "must name one when the response has none; a theme's action always names one",
    )
    raised_at: AwareDatetime | None = Field(
        default=None, description="default: now; to back-date, a date and time with its offset"
    )

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return _event_text(v, MAX_SUMMARY)


class ActionCompletion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    completed_at: AwareDatetime | None = Field(
        default=None, description="default: now; to back-date, a date and time with its offset"
    )
    evidence: str | None = Field(
        default=None,
        description=f"what shows it was done; at most {MAX_EVIDENCE} characters, published in "
        "ActionCompleted, so no child's name and no contact details",
    )

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else _event_text(v, MAX_EVIDENCE)


@dataclass(frozen=True)
class ActionOrigin:
    """What an action is raised on: where its team and service area come from, and the
    earliest it can be raised."""

    kind: ActionOriginKind
    origin_id: str
    service_area: str
    team: str | None
    not_before: datetime | None = None  # a response's receipt

    @classmethod
    def response(cls, response_id: str, *, service_area: str, team: str | None, received_at: datetime) -> ActionOrigin:
        return cls(ActionOriginKind.RESPONSE, response_id, service_area, team, received_at)

    @classmethod
    def theme(cls, service_area: str, theme: str) -> ActionOrigin:
        """A service area's theme: usually a question's `reported_as` id, as in "you said, we
        did" items. Its actions have no team of their own: the caller names one."""
        problems = []
        if service_area not in known_service_areas():
            problems.append(
                Problem(
                    ("service_area",),
                    f"unknown service_area {service_area!r}; expected one of {sorted(known_service_areas())}",
                )
            )
        if not LABEL.match(theme):
            problems.append(Problem(("theme",), "may hold only letters, digits and _ . - (at most 100)"))
        if problems:
            raise InvalidInput(problems)
        return cls(ActionOriginKind.THEME, f"{service_area}:{theme}", service_area, None)


@dataclass(frozen=True)
class FeedbackAction:
    """Something to be done because of what a child or family said, followed until done."""

    action_id: str
    origin_kind: ActionOriginKind
    origin_id: str
    team: str
    service_area: str
    owner_id: str
    summary: str
    due_date: date
    raised_at: datetime
    raised_by: str
    completed_at: datetime | None = None
    completed_by: str | None = None
    evidence: str | None = None

    @property
    def status(self) -> ActionStatus:
        return ActionStatus.OPEN if self.completed_at is None else ActionStatus.COMPLETED

    def overdue(self, today: date) -> bool:
        """Open past its due date (London dates)."""
        return self.completed_at is None and self.due_date < today

    @property
    def on_time(self) -> bool | None:
        """Completed on or before its due date; None while open."""
        return None if self.completed_at is None else london_date(self.completed_at) <= self.due_date

    @property
    def fingerprint(self) -> str:
        """What a retry must repeat. The time is left out, as for responses: a retry that let
        the service stamp it arrives later."""
        return _digest(
            {
                "origin_id": self.origin_id,
                "team": self.team,
                "owner_id": self.owner_id,
                "summary": self.summary,
                "due_date": self.due_date.isoformat(),
            }
        )

    def to_event(self) -> ActionRaised:
        return ActionRaised(
            action_id=self.action_id,
            origin=LearningOrigin.FEEDBACK,
            origin_id=self.origin_id,
            team=self.team,
            service_area=self.service_area,
            owner_id=self.owner_id,
            raised_at=self.raised_at,
            due_date=self.due_date,
            summary=self.summary,
        )

    def completion_event(self) -> ActionCompleted:
        assert self.completed_at is not None, "not completed"
        return ActionCompleted(action_id=self.action_id, completed_at=self.completed_at, evidence=self.evidence)


def build_action(
    content: ActionContent, origin: ActionOrigin, *, action_id: str, raised_by: str, now: datetime
) -> FeedbackAction:
    """Validate an action on `origin`; InvalidInput lists every problem."""
    problems = []
    team = content.team
    if origin.team is None and team is None:
        what = "the response names no team" if origin.kind is ActionOriginKind.RESPONSE else "a theme has no team"
        problems.append(Problem(("team",), f"is required: {what}; say which team owns the action"))
    elif origin.team is not None:
        if team is not None and team != origin.team:
            problems.append(
                Problem(("team",), f"the response is about team {origin.team!r}: its actions belong to that team")
            )
        team = origin.team
    raised_at = content.raised_at or now
    try:
        check_not_future(raised_at, now)
    except ValueError as exc:
        problems.append(Problem(("raised_at",), str(exc)))
    if origin.not_before is not None and raised_at < origin.not_before:
        problems.append(
            Problem(
                ("raised_at",),
                f"{raised_at.isoformat()} is before the response was received ({origin.not_before.isoformat()})",
            )
        )
    raised_on = london_date(raised_at)
    if content.due_date < raised_on:
        problems.append(
            Problem(
                ("due_date",),
                f"{content.due_date.isoformat()} is before the action was raised ({raised_on.isoformat()})",
            )
        )
    if problems:
        raise InvalidInput(problems)
    assert team is not None
    return FeedbackAction(
        action_id=action_id,
        origin_kind=origin.kind,
        origin_id=origin.origin_id,
        team=team,
        service_area=origin.service_area,
        owner_id=content.owner_id,
        summary=content.summary,
        due_date=content.due_date,
        raised_at=raised_at,
        raised_by=raised_by,
    )


def complete_action(
    action: FeedbackAction, completion: ActionCompletion, *, completed_by: str, now: datetime
) -> tuple[FeedbackAction, bool]:
    """The action completed (True), or unchanged when this is a retry of its completion
    (the same `completed_at` and evidence: False). Completing it again otherwise is a
    Conflict; a completion before it was raised, or in the future, is InvalidInput."""
    completed_at = completion.completed_at or now
    if action.completed_at is not None:
        if completed_at == action.completed_at and completion.evidence == action.evidence:
            return action, False
        raise Conflict(
            f"action {action.action_id!r} was already completed on {london_date(action.completed_at).isoformat()}"
        )
    try:
        check_not_future(completed_at, now)
    except ValueError as exc:
        raise InvalidInput.one(("completed_at",), str(exc)) from None
    if completed_at < action.raised_at:
        raise InvalidInput.one(
            ("completed_at",),
            f"{completed_at.isoformat()} is before the action was raised ({action.raised_at.isoformat()})",
        )
    done = replace(action, completed_at=completed_at, completed_by=completed_by, evidence=completion.evidence)
    return done, True


# --------------------------------------------------------------------------- results


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
        return sum(n for v, n in self.counts.items() if v in {"yes", "4", "5"})

    @property
    def positive_rate(self) -> float | None:
        positive = self.positive
        return None if positive is None or self.answers == 0 else positive / self.answers


def suppressed(count: int, threshold: int) -> bool:
    """DfE convention: counts from 1 to the threshold are not published."""
    return 1 <= count <= threshold
