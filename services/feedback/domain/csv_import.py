"""A survey tool's CSV export, read against one survey version: every row validated, good rows
kept, bad ones reported by line, and what an import did tallied (`ImportProgress`). Pure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from services.feedback.domain import fingerprint
from services.feedback.domain.responses import SurveyResponse, validate_response
from services.feedback.domain.surveys import SurveyVersion
from shared.calendar import LONDON
from shared.errors import Invalid, Problem
from shared.text import normalise_text

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


@dataclass(frozen=True)
class RowError:
    """Why a row (or, at the header line, a column or the whole file) was refused."""

    line: int  # in the file (the header is line 1 in most files)
    reason: str
    response_id: str | None = None


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
        return self.rows_refused(self.errors)

    def rows_refused(self, errors: list[RowError]) -> int:
        """How many data rows `errors` refuse (an error at the header line is no row's)."""
        return len({e.line for e in errors if e.line > self.header_line})

    def unreadable(self, line: int, reason: str) -> CsvReading:
        self.errors.append(RowError(line=line, reason=reason))
        self.readable = False
        return self


@dataclass(frozen=True)
class CsvHeader:
    """What each column of a file is: a response field or a question id (`columns`), or
    neither (`unknown`, by its header text)."""

    width: int
    columns: dict[int, str]
    unknown: dict[int, str]
    problems: list[str]  # reported at the header line; the file is still read
    fatal: list[str]  # the file cannot be read at all

    def refusal(self, record: list[str], survey: SurveyVersion) -> str | None:
        """Why a data row is refused before its values are read, if it is."""
        if len(record) != self.width:
            return f"malformed row: expected {self.width} fields, found {len(record)}"
        stray = [f"{self.unknown[i]!r}" for i in self.unknown if record[i].strip()]
        if stray:
            # its answer would otherwise be lost for good, since re-importing adds nothing
            return (
                f"answers a question that is not in survey {survey.survey_id!r} "
                f"version {survey.version}: {', '.join(stray)}"
            )
        return None


def read_header(header: list[str], survey: SurveyVersion) -> CsvHeader:
    """Columns by name (without regard to case): the response fields, and each question by
    its question_id or its exact wording."""
    by_name = {q.question_id.casefold(): q.question_id for q in survey.questions}
    by_wording = {q.wording.casefold(): q.question_id for q in survey.questions}
    columns: dict[int, str] = {}
    unknown: dict[int, str] = {}
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
    problems = []
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
    return CsvHeader(len(header), columns, unknown, problems, fatal)


def read_survey_csv(data: bytes, survey: SurveyVersion, *, now: datetime) -> CsvReading:
    """Validate every row of a survey tool's CSV export against `survey`.

    Format: a header row, then one row per response. Columns (any order, names matched
    without regard to case): `received_at` (required; alias `submitted_at`), optional
    `response_id`, `respondent`, `team`, `channel`, and one column per question, named by
    its `question_id` or its exact wording. An empty cell is a skipped question. A column
    that is neither is reported at the header line, and a row with a value in it is refused.
    """
    reading = CsvReading()
    try:
        text = decode_csv(data)
    except ValueError as exc:
        return reading.unreadable(1, str(exc))
    rows = _RowReader(survey, now)
    header: CsvHeader | None = None
    for line, record in _records(text, reading):
        if header is None:
            header, reading.header_line = read_header(record, survey), line
            reading.errors.extend(RowError(line=line, reason=p) for p in [*header.fatal, *header.problems])
            if header.fatal:
                reading.readable = False
                return reading
            continue
        reading.data_rows += 1
        rows.read(line, record, header, reading)
    if header is None:
        reading.unreadable(1, "the file is empty: expected a header row")
    return reading


def _records(text: str, reading: CsvReading) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record and the line it starts on. Where the file cannot be read any
    further, the reason is recorded and reading stops."""
    reader = csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    while True:
        start = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reading.errors.append(RowError(line=reader.line_num, reason=f"cannot read the file from here: {exc}"))
            return
        last_line = reader.line_num
        if any(cell.strip() for cell in record):
            yield start, record


@dataclass
class _RowReader:
    """Reads data rows into responses, remembering the ids seen so far and how many
    identical rows came before (for the ids of rows that have none)."""

    survey: SurveyVersion
    now: datetime
    seen_ids: dict[str, int] = field(default_factory=dict)
    identical: dict[str, int] = field(default_factory=dict)

    def read(self, line: int, record: list[str], header: CsvHeader, reading: CsvReading) -> None:
        if reason := header.refusal(record, self.survey):
            reading.errors.append(RowError(line=line, reason=reason))
            return
        try:
            response = self.response({name: record[i] for i, name in header.columns.items()})
        except Invalid as exc:
            reading.errors.append(RowError(line=line, reason="; ".join(_csv_reason(p) for p in exc.problems)))
            return
        if (first := self.seen_ids.get(response.response_id)) is not None:
            reason = f"response id repeats line {first}"
            reading.errors.append(RowError(line=line, reason=reason, response_id=response.response_id))
            return
        self.seen_ids[response.response_id] = line
        reading.rows.append(CsvRow(line, response))

    def response(self, row: dict[str, str]) -> SurveyResponse:
        problems: list[Problem] = []
        received_at = _received_at(row, problems, default=self.now)
        own_id = row.get("response_id", "").strip()
        survey_id = self.survey.survey_id
        response: SurveyResponse | None = None
        try:
            response = validate_response(
                self.survey,
                response_id=f"{survey_id}:{own_id}" if own_id else f"{survey_id}:pending",
                answers={k: v for k, v in row.items() if k not in CSV_FIELDS},
                received_at=received_at,
                now=self.now,
                respondent=row.get("respondent"),
                team=row.get("team", "").strip() or None,
                channel=row.get("channel", "").strip() or None,
                source="csv",
            )
        except Invalid as exc:
            problems.extend(exc.problems)
        if problems or response is None:
            raise Invalid.of(problems)
        return response if own_id else self.with_content_id(response)

    def with_content_id(self, response: SurveyResponse) -> SurveyResponse:
        """No id in the file: one from the row's content, and from how many identical rows
        came before it (identical rows are different people giving the same answers at the
        same time)."""
        content = {**response.content(), "received_at": response.received_at.astimezone(UTC).isoformat()}
        key = fingerprint(content)
        self.identical[key] = self.identical.get(key, 0) + 1
        digest = fingerprint({"content": key, "occurrence": self.identical[key]})[:24]
        return replace(response, response_id=f"{self.survey.survey_id}:h{digest}")


def _received_at(row: dict[str, str], problems: list[Problem], *, default: datetime) -> datetime:
    raw = row.get("received_at", "").strip()
    if not raw:
        problems.append(Problem(("received_at",), "is empty"))
        return default
    try:
        return parse_csv_timestamp(raw)
    except ValueError as exc:
        problems.append(Problem(("received_at",), str(exc)))
        return default


def _csv_reason(problem: Problem) -> str:
    if problem.field and problem.field[0] == "answers" and len(problem.field) > 1:
        return f"{problem.field[1]}: {problem.reason}"
    return problem.describe()


# --------------------------------------------------------------------------- what an import did


@dataclass(frozen=True)
class ImportReport:
    """What a CSV import did. `rows` = imported + duplicates + rejected."""

    survey_id: str
    survey_version: int
    rows: int  # data rows in the file (blank lines not counted)
    imported: int  # new responses recorded and published
    duplicates: int  # rows already recorded by an earlier import: skipped
    rejected: int  # rows refused; each has an entry in `errors`
    errors: tuple[RowError, ...]  # by line
    readable: bool  # False: the file could not be read at all; nothing was imported
    safeguarding_responses: tuple[str, ...]  # imported with a negative safeguarding answer


@dataclass
class ImportProgress:
    """An import under way: its reading, and what the rows recorded so far came to."""

    survey: SurveyVersion
    reading: CsvReading
    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(init=False)  # the reading's, then the recorded rows'
    safeguarding: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.errors = list(self.reading.errors)

    def recorded_before(self, row: CsvRow, recorded_fingerprint: str) -> None:
        """A row whose response is already recorded: a duplicate, or refused when its answers
        differ (a re-import does not change a recorded response)."""
        if recorded_fingerprint == row.response.fingerprint:
            self.duplicates += 1
            return
        reason = "this response was imported before with other answers; a re-import does not change a recorded response"
        self.errors.append(RowError(line=row.line, reason=reason, response_id=row.response.response_id))

    def recorded_now(self, response: SurveyResponse) -> None:
        self.imported += 1
        if response.safeguarding_concern:
            self.safeguarding.append(response.response_id)

    def report(self) -> ImportReport:
        errors = sorted(self.errors, key=lambda e: e.line)
        return ImportReport(
            survey_id=self.survey.survey_id,
            survey_version=self.survey.version,
            rows=self.reading.data_rows,
            imported=self.imported,
            duplicates=self.duplicates,
            rejected=self.reading.rows_refused(errors),
            errors=tuple(errors),
            readable=self.reading.readable,
            safeguarding_responses=tuple(self.safeguarding),
        )
