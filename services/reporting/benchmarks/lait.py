"""Comparator files: DfE's statistical neighbours and published figures, as CSV, every row
validated before anything is kept. Pure: no I/O.

Two shapes, told apart by the header (names case-insensitive, any column order; lines
starting with ``#`` before the header are comments):

* **Statistical neighbours** — one row per authority, as DfE's children's services
  statistical neighbour benchmarking tool lists them:
  ``la_code,la_name,region_code,region_name,sn1,…,sn10`` — ONS codes (``E06000019``,
  ``E10000034``; regions ``E12000005``); ``sn1``…``sn10`` the authority's neighbours,
  closest first, up to ten (blank cells allowed). Every neighbour must be an authority of
  the file, so that its region is known.
* **Published figures** — one row per area, measure and year, the long form of a LAIT
  export: ``la_code,la_name,measure,year,value``. ``la_code`` is an authority's, a region's
  (``E12…``: the regional figure) or England's (``E92000001``); ``measure`` a code of the
  mapping table (`measures.py`: rows of other measures are counted as ignored, by measure,
  and not kept); ``year`` a financial year ``2022-23`` (or ``2022/23``); ``value`` a number
  as published (a percentage as 0-100), or one of DfE's symbols for a figure not published
  (``c`` ``x`` ``z`` ``u`` ``low`` ``:`` ``.`` ``..`` ``-`` or blank), which is skipped.

DfE's LAIT tool itself is an Excel workbook; its data sheets and exports have one row per
authority, the authority's old three-digit LA number and name, and one column per year.
This module reads the long form above (one row per figure), which a LAIT sheet becomes
with one unpivot; the shape is documented in README "Benchmarking" — it was not checked
against a live LAIT export.

A file with any bad row is refused whole (`shared.errors.Invalid`, each problem at
``(line, column)``), so nothing is imported partially.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from shared.errors import Invalid, Problem

from .domain import ENGLAND, Authority
from .measures import PERCENT, measure_of

__all__ = [
    "FIGURE_COLUMNS",
    "MAX_ROWS",
    "NEIGHBOUR_COLUMNS",
    "NOT_PUBLISHED",
    "FigureFile",
    "NeighbourFile",
    "PublishedFigure",
    "decode",
    "read_comparator_file",
]

NEIGHBOUR_COLUMNS = ("la_code", "la_name", "region_code", "region_name", *(f"sn{i}" for i in range(1, 11)))
FIGURE_COLUMNS = ("la_code", "la_name", "measure", "year", "value")
NOT_PUBLISHED = frozenset({"", "c", "x", "z", "u", "low", ":", ".", "..", "-"})
MAX_ROWS = 100_000  # data rows in one file (a LAIT export: ~150 authorities x measures x years)
MAX_PROBLEMS = 100  # problems listed in one refusal (then a count of the rest)
MAX_NAME = 100
MAX_VALUE = 1_000_000.0

_AUTHORITY_CODE = re.compile(r"^E(0[6-9]|1[01])\d{6}$")  # unitary, district, metropolitan, London, county
_REGION_CODE = re.compile(r"^E12\d{6}$")
_MEASURE = re.compile(r"^[a-z0-9_]{1,100}$")
_YEAR = re.compile(r"^(\d{4})[-/](\d{2})$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class NeighbourFile:
    authorities: tuple[Authority, ...]
    neighbours: dict[str, tuple[str, ...]]
    kind: str = "neighbours"


@dataclass(frozen=True)
class PublishedFigure:
    measure: str
    year: str  # financial year "2022-23"
    area: str  # ONS code: an authority, a region or England
    value: float  # as published


@dataclass(frozen=True)
class FigureFile:
    figures: tuple[PublishedFigure, ...]
    ignored: dict[str, int] = field(default_factory=dict)  # unmapped measure -> rows
    not_published: int = 0  # rows with a DfE symbol instead of a figure
    covered: frozenset[tuple[str, str]] = frozenset()  # (year, measure) of every mapped row
    kind: str = "figures"


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's byte-order mark), else Windows-1252; never NUL."""
    if b"\x00" in data:
        raise Invalid("the file holds NUL bytes: it is not a CSV text file", ("file",))
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("the file is neither UTF-8 nor Windows-1252 text", ("file",))


@dataclass
class _Rows:
    """The data rows of a file with the header's line, each row with its line number."""

    header: list[str]
    header_line: int
    rows: list[tuple[int, dict[str, str]]]


def _split(text: str) -> _Rows:
    lines = text.splitlines()
    skip = 0
    while skip < len(lines) and (not lines[skip].strip() or lines[skip].lstrip().startswith("#")):
        skip += 1
    reader = csv.reader(io.StringIO("\n".join(lines[skip:])))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise Invalid("the file has no header row", ("file",)) from None
    except csv.Error as exc:
        raise Invalid(f"the header row is not CSV: {exc}", (skip + 1, "header")) from None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = skip + reader.line_num
            if len(rows) >= MAX_ROWS:
                raise Invalid(f"more than {MAX_ROWS:,} data rows: split the file", (line, "file"))
            if len(cells) > len(header):
                raise Invalid(f"{len(cells)} cells but the header names {len(header)} columns", (line, "row"))
            rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=False)}))
    except csv.Error as exc:
        raise Invalid(f"not CSV: {exc}", (skip + reader.line_num, "row")) from None
    return _Rows(header, skip + 1, rows)


def _check_header(rows: _Rows, expected: Sequence[str], optional: Sequence[str] = ()) -> None:
    problems = [Problem((rows.header_line, c), "required column missing") for c in expected if c not in rows.header]
    for column, n in Counter(rows.header).items():
        if column not in expected and column not in optional:
            problems.append(Problem((rows.header_line, column or "(blank)"), "unknown column"))
        elif n > 1:
            problems.append(Problem((rows.header_line, column), "column named twice"))
    _refuse(problems)


def _refuse(problems: list[Problem]) -> None:
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(Problem(("file",), f"and {len(problems) - MAX_PROBLEMS} more problems"))
    raise Invalid.of(shown)


def _name(value: str) -> str | None:
    if not value:
        return "required"
    if len(value) > MAX_NAME:
        return f"at most {MAX_NAME} characters"
    if any(ord(ch) < 32 for ch in value):
        return "control characters are not allowed"
    return None


# --------------------------------------------------------------------------- neighbours


def _neighbour_row(line: int, row: dict[str, str]) -> Iterator[Problem]:
    if not _AUTHORITY_CODE.match(row.get("la_code", "")):
        yield Problem((line, "la_code"), "an authority's ONS code such as E10000034")
    if not _REGION_CODE.match(row.get("region_code", "")):
        yield Problem((line, "region_code"), "a region's ONS code such as E12000005")
    for column in ("la_name", "region_name"):
        if reason := _name(row.get(column, "")):
            yield Problem((line, column), reason)
    seen: set[str] = set()
    for column in NEIGHBOUR_COLUMNS[4:]:
        code = row.get(column, "")
        if not code:
            continue
        if not _AUTHORITY_CODE.match(code):
            yield Problem((line, column), "blank, or an authority's ONS code")
        elif code == row.get("la_code"):
            yield Problem((line, column), "an authority is not its own neighbour")
        elif code in seen:
            yield Problem((line, column), f"{code} is listed twice")
        seen.add(code)


def _read_neighbours(rows: _Rows) -> NeighbourFile:
    _check_header(rows, NEIGHBOUR_COLUMNS[:5], NEIGHBOUR_COLUMNS[5:])
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for line, row in rows.rows:
        problems.extend(_neighbour_row(line, row))
        code = row.get("la_code", "")
        if code in first:
            problems.append(Problem((line, "la_code"), f"{code} is already listed at line {first[code]}"))
        first.setdefault(code, line)
    for line, row in rows.rows:
        for column in NEIGHBOUR_COLUMNS[4:]:
            code = row.get(column, "")
            if _AUTHORITY_CODE.match(code) and code not in first:
                problems.append(Problem((line, column), f"{code} has no row of its own in this file"))
    if not rows.rows:
        problems.append(Problem(("file",), "no data rows"))
    _refuse(problems)
    authorities = tuple(Authority(r["la_code"], r["la_name"], r["region_code"], r["region_name"]) for _, r in rows.rows)
    neighbours = {r["la_code"]: tuple(r[c] for c in NEIGHBOUR_COLUMNS[4:] if r.get(c)) for _, r in rows.rows}
    return NeighbourFile(authorities, neighbours)


# --------------------------------------------------------------------------- figures


def _year(text: str) -> str | None:
    m = _YEAR.match(text)
    if not m:
        return None
    first, second = int(m.group(1)), int(m.group(2))
    if not 2000 <= first <= 2098 or second != (first + 1) % 100:
        return None
    return f"{first}-{second:02d}"


def _value(measure: str, text: str) -> tuple[float | None, str | None]:
    """(value, None), (None, None) for a figure not published, or (None, reason)."""
    if text.lower() in NOT_PUBLISHED:
        return None, None
    if not _NUMBER.match(text):
        return None, "a number, or a DfE symbol for a figure not published (c, x, z, u, low, :, ., .., -)"
    value = float(text)
    mapped = measure_of(measure)
    if mapped is not None and mapped.scale == PERCENT and not 0 <= value <= 100:
        return None, "a percentage from 0 to 100"
    if not 0 <= value <= MAX_VALUE:
        return None, f"a number from 0 to {MAX_VALUE:,.0f}"
    return value, None


def _figure_row(line: int, row: dict[str, str]) -> tuple[PublishedFigure | None, list[Problem]]:
    problems = []
    area = row.get("la_code", "")
    if not (_AUTHORITY_CODE.match(area) or _REGION_CODE.match(area) or area == ENGLAND):
        problems.append(Problem((line, "la_code"), f"an authority's, a region's (E12…) or England's ({ENGLAND}) code"))
    if reason := _name(row.get("la_name", "")):
        problems.append(Problem((line, "la_name"), reason))
    measure = row.get("measure", "")
    if not _MEASURE.match(measure):
        problems.append(Problem((line, "measure"), "a measure code: lower-case letters, digits and _"))
    year = _year(row.get("year", ""))
    if year is None:
        problems.append(Problem((line, "year"), "a financial year such as 2022-23"))
    value, reason = _value(measure, row.get("value", ""))
    if reason:
        problems.append(Problem((line, "value"), reason))
    if problems or value is None or year is None:
        return None, problems
    return PublishedFigure(measure, year, area, value), []


def _read_figures(rows: _Rows) -> FigureFile:
    _check_header(rows, FIGURE_COLUMNS)
    problems: list[Problem] = []
    kept: list[PublishedFigure] = []
    ignored: Counter[str] = Counter()
    not_published = 0
    covered: set[tuple[str, str]] = set()
    first: dict[tuple[str, str, str], int] = {}
    for line, row in rows.rows:
        figure, found = _figure_row(line, row)
        if found:
            problems.extend(found)
            continue
        key = (row["measure"], _year(row["year"]) or "", row["la_code"])
        if key in first:
            problems.append(
                Problem((line, "la_code"), f"a second figure for this area, measure and year (line {first[key]})")
            )
            continue
        first[key] = line
        if measure_of(key[0]) is None:
            ignored[key[0]] += 1
            continue
        covered.add((key[1], key[0]))
        if figure is None:
            not_published += 1
        else:
            kept.append(figure)
    if not rows.rows:
        problems.append(Problem(("file",), "no data rows"))
    _refuse(problems)
    return FigureFile(tuple(kept), dict(sorted(ignored.items())), not_published, frozenset(covered))


def read_comparator_file(data: bytes) -> NeighbourFile | FigureFile:
    """A comparator file, whole, or `Invalid` with every problem at (line, column)."""
    rows = _split(decode(data))
    if "sn1" in rows.header:
        return _read_neighbours(rows)
    if "measure" in rows.header:
        return _read_figures(rows)
    raise Invalid(
        "not a comparator file: the header is either statistical neighbours ("
        + ",".join(NEIGHBOUR_COLUMNS[:5])
        + ",…,sn10) or published figures ("
        + ",".join(FIGURE_COLUMNS)
        + ")",
        (rows.header_line, "header"),
    )
