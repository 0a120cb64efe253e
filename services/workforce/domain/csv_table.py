"""A CSV file read into rows by column name, every problem with its row (the file's line,
the header being line 1) and column, for imports that take all the rows or none. Pure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.calendar import LONDON
from shared.text import normalise_text

_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class CellError:
    """Why a row (or the file: row 1 is the header) is refused, and in which column."""

    row: int
    column: str | None
    reason: str

    def describe(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class Table:
    """The rows of a CSV file by column name (names normalised: lower case, `_` for spaces and
    hyphens, aliases resolved); the problems found so far."""

    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def column_name(cell: str, aliases: Mapping[str, str]) -> str:
    name = re.sub(r"[\s-]+", "_", normalise_text(cell).casefold())
    return aliases.get(name, name)


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's byte-order mark), else Windows-1252."""
    if b"\x00" in data:
        raise ValueError("the file is not a CSV text file (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise ValueError("the file is neither UTF-8 nor Windows-1252 text") from None


def read_table(
    data: bytes,
    *,
    known: Callable[[str], bool],
    required: tuple[str, ...],
    aliases: Mapping[str, str],
    refused: Mapping[str, str] | None = None,
    max_rows: int = 20_000,
) -> Table:
    """Read `data` (a header row, then one row per record). A column `known` rejects is
    ignored (and listed); one in `refused` (name -> why) refuses the file; a `required` one
    that is missing refuses it too."""
    table = Table()
    try:
        text = decode(data)
    except ValueError as exc:
        table.errors.append(CellError(1, None, str(exc)))
        return table
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, r) for r in reader]
    except csv.Error as exc:
        table.errors.append(CellError(reader.line_num, None, f"cannot read the file from here: {exc}"))
        return table
    records = [(line, r) for line, r in records if any(c.strip() for c in r)]
    if not records:
        table.errors.append(CellError(1, None, "the file is empty: expected a header row"))
        return table
    header_line, header = records[0]
    names = [column_name(c, aliases) for c in header]
    _check_header(table, header_line, header, names, known, required, refused or {})
    if len(records) - 1 > max_rows:
        table.errors.append(CellError(header_line, None, f"more than {max_rows:,} rows: split the file"))
    if table.errors:
        return table
    for line, record in records[1:]:
        if len(record) != len(names):
            table.errors.append(CellError(line, None, f"expected {len(names)} fields, found {len(record)}"))
            continue
        table.rows.append((line, {n: v.strip() for n, v in zip(names, record, strict=True) if known(n)}))
    return table


def _check_header(
    table: Table,
    line: int,
    header: list[str],
    names: list[str],
    known: Callable[[str], bool],
    required: tuple[str, ...],
    refused: Mapping[str, str],
) -> None:
    for cell, name in zip(header, names, strict=True):
        if name in refused:
            table.errors.append(CellError(line, cell.strip(), refused[name]))
        elif not known(name):
            table.ignored_columns.append(cell.strip() or "(no name)")
    for name in sorted({n for n in names if known(n) and names.count(n) > 1}):
        table.errors.append(CellError(line, name, "two columns have this name: the file is ambiguous"))
    for name in required:
        if name not in names:
            table.errors.append(CellError(line, name, "missing column"))


def parse_date(text: str) -> date:
    """ISO 8601 (`2022-09-30`, or a date and time: its London date) or UK `dd/mm/yyyy`."""
    text = text.strip()
    if m := _UK_DATE.match(text):
        day, month, year = (int(g) for g in m.groups())
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date: expected e.g. 2022-09-30 or 30/09/2022") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)).astimezone(LONDON).date()


def parse_bool(text: str) -> bool:
    value = text.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text!r} is not yes or no")


def midnight(day: date) -> datetime:
    """The start of a London day: what a date-only record is stamped with."""
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


@dataclass(frozen=True)
class ImportReport:
    """What an all-or-nothing import did: with any error, nothing (`imported` False)."""

    rows: int  # data rows in the file (blank lines not counted)
    imported: bool
    changed: int  # rows that recorded something new (0 when refused)
    unchanged: int  # rows already recorded as they are (a re-import)
    events: int  # events published
    errors: tuple[CellError, ...]  # by row, then column
    ignored_columns: tuple[str, ...]


def refused_report(rows: int, errors: list[CellError], ignored: list[str]) -> ImportReport:
    ordered = tuple(sorted(errors, key=lambda e: (e.row, e.column or "")))
    return ImportReport(rows, False, 0, 0, 0, ordered, tuple(ignored))
