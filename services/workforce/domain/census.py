"""The DfE children's social work workforce census return, one row per worker, read into
what each row says (`CensusRow`) — every cell checked, each problem with its row and column —
and what a row asks of a worker already recorded (`census_changes`). Pure.

Columns (any order; names without regard to case, spaces or hyphens; aliases in `ALIASES`):

| column | | |
| --- | --- | --- |
| `worker_id` | required | the HR reference of the worker (pseudonymised on arrival; never a name) |
| `team`, `service_area` | required | |
| `role` | required | `social_worker`, `senior`, `manager` or `other` (or `Social Worker`, `Team Manager`, …) |
| `contract` | required | `employed` (or `permanent`, `fixed_term`) or `agency` |
| `fte` | required | 0 < FTE <= 1.5 |
| `case_holding` | required | yes / no |
| `start_date` | required | in post from (ISO or dd/mm/yyyy) |
| `leaving_date`, `leaving_reason` | optional | a leaver in the census year: both, or neither |
| `cases` | optional | cases held at the census date (case-holders in post) |

Columns with names (`name`, `first_name`, `surname`, …) refuse the file: no names are kept.
Other columns (gender, ethnicity, …) are ignored and listed in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from services.workforce.domain import LABEL, MAX_CASES, MAX_FTE, WORKER_REF
from services.workforce.domain.csv_table import CellError, Table, midnight, parse_bool, parse_date, read_table
from services.workforce.domain.staff import Post, Worker
from shared.errors import Invalid, RuleError
from shared.events import Contract, LeavingReason, StaffJoined, StaffLeft, StaffRole, known_service_areas

COLUMNS = (
    "worker_id",
    "team",
    "service_area",
    "role",
    "contract",
    "fte",
    "case_holding",
    "start_date",
    "leaving_date",
    "leaving_reason",
    "cases",
)
REQUIRED = ("worker_id", "team", "service_area", "role", "contract", "fte", "case_holding", "start_date")
ALIASES = {
    "worker_unique_identifier": "worker_id",
    "worker_ref": "worker_id",
    "staff_id": "worker_id",
    "unique_identifier": "worker_id",
    "case_holder": "case_holding",
    "caseload": "cases",
    "reason_for_leaving": "leaving_reason",
    "date_left": "leaving_date",
    "date_started": "start_date",
}
NAME_COLUMNS = ("name", "first_name", "forename", "forenames", "surname", "last_name", "full_name", "family_name")
_REFUSED = {n: "names are never imported: remove this column" for n in NAME_COLUMNS}
ROLES = {
    **{r.value: r for r in StaffRole},
    "social worker": StaffRole.SOCIAL_WORKER,
    "senior practitioner": StaffRole.SENIOR,
    "senior social worker": StaffRole.SENIOR,
    "practice supervisor": StaffRole.SENIOR,
    "team manager": StaffRole.MANAGER,
    "service manager": StaffRole.MANAGER,
}
CONTRACTS = {
    "employed": Contract.EMPLOYED,
    "permanent": Contract.EMPLOYED,
    "fixed_term": Contract.EMPLOYED,
    "fixed term": Contract.EMPLOYED,
    "agency": Contract.AGENCY,
}


@dataclass(frozen=True)
class CensusRow:
    line: int
    worker_ref: str
    post: Post
    start_date: date
    leaving_date: date | None = None
    leaving_reason: LeavingReason | None = None
    cases: int | None = None


@dataclass
class CensusReading:
    rows: list[CensusRow] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    data_rows: int = 0


def read_census(data: bytes, *, as_of: date) -> CensusReading:
    """Every row of a census file checked; `as_of` is the census date (30 September)."""
    table: Table = read_table(data, known=COLUMNS.__contains__, required=REQUIRED, aliases=ALIASES, refused=_REFUSED)
    reading = CensusReading(errors=list(table.errors), ignored_columns=table.ignored_columns, data_rows=len(table.rows))
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        row = _row(line, cells, as_of, reading.errors)
        if row is None:
            continue
        if row.worker_ref in seen:
            reading.errors.append(CellError(line, "worker_id", f"the same worker as row {seen[row.worker_ref]}"))
            continue
        seen[row.worker_ref] = line
        reading.rows.append(row)
    return reading


def _cell(
    cells: dict[str, str],
    name: str,
    line: int,
    errors: list[CellError],
    parse: Callable[[str], Any],
    *,
    optional: bool = False,
) -> Any:
    raw = cells.get(name, "")
    if not raw:
        if not optional:
            errors.append(CellError(line, name, "is empty"))
        return None
    try:
        return parse(raw)
    except (ValueError, KeyError) as exc:
        errors.append(CellError(line, name, str(exc).strip("'\"")))
        return None


def _worker_ref(text: str) -> str:
    if not WORKER_REF.match(text):
        raise ValueError("must be the HR reference: letters, digits and _ . / - only, no spaces, at most 64 characters")
    return text


def _label(text: str) -> str:
    if not LABEL.match(text):
        raise ValueError("must be an identifier such as 'through-care'")
    return text


def _service_area(text: str) -> str:
    if text not in known_service_areas():
        raise ValueError(f"unknown service area {text!r}; expected one of {sorted(known_service_areas())}")
    return text


def _role(text: str) -> StaffRole:
    key = text.strip().casefold()
    if key not in ROLES:
        raise ValueError(f"unknown role {text!r}; expected one of {sorted(r.value for r in StaffRole)}")
    return ROLES[key]


def _contract(text: str) -> Contract:
    key = text.strip().casefold()
    if key not in CONTRACTS:
        raise ValueError(f"unknown contract {text!r}; expected employed or agency")
    return CONTRACTS[key]


def _fte(text: str) -> float:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not (0 < value <= Decimal(str(MAX_FTE))) or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"FTE must be more than 0 and at most {MAX_FTE}, with at most two decimals")
    return float(value)


def _cases(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_CASES:
        raise ValueError(f"must be a whole number from 0 to {MAX_CASES}")
    return int(text)


def _reason(text: str) -> LeavingReason:
    key = text.strip().casefold().replace(" ", "_").replace("-", "_").replace("&", "").replace("__", "_")
    try:
        return LeavingReason(key)
    except ValueError:
        raise ValueError(
            f"unknown leaving reason {text!r}; expected one of {[r.value for r in LeavingReason]}"
        ) from None


def _row(line: int, cells: dict[str, str], as_of: date, errors: list[CellError]) -> CensusRow | None:
    before = len(errors)
    ref = _cell(cells, "worker_id", line, errors, _worker_ref)
    team = _cell(cells, "team", line, errors, _label)
    area = _cell(cells, "service_area", line, errors, _service_area)
    role = _cell(cells, "role", line, errors, _role)
    contract = _cell(cells, "contract", line, errors, _contract)
    fte = _cell(cells, "fte", line, errors, _fte)
    holding = _cell(cells, "case_holding", line, errors, parse_bool)
    start = _cell(cells, "start_date", line, errors, parse_date)
    leaving = _cell(cells, "leaving_date", line, errors, parse_date, optional=True)
    reason = _cell(cells, "leaving_reason", line, errors, _reason, optional=True)
    cases = _cell(cells, "cases", line, errors, _cases, optional=True)
    if start is not None and start > as_of:
        errors.append(CellError(line, "start_date", f"is after the census date {as_of.isoformat()}"))
    if leaving is not None and ((start is not None and leaving < start) or leaving > as_of):
        errors.append(
            CellError(line, "leaving_date", "must be on or after the start date and on or before the census date")
        )
    if (leaving is None) != (reason is None) and "leaving_date" not in {e.column for e in errors[before:]}:
        errors.append(
            CellError(
                line,
                "leaving_reason" if reason is None else "leaving_date",
                "a leaver needs both a leaving date and a reason",
            )
        )
    if len(errors) > before:
        return None
    post = Post(team=team, service_area=area, role=role, contract=contract, fte=fte, case_holding=holding)
    return CensusRow(line, ref, post, start, leaving, reason, cases)


@dataclass(frozen=True)
class CensusChanges:
    """What one row asks of its worker: each event in order with the worker after it, and the
    worker after them all."""

    worker: Worker
    steps: tuple[tuple[Worker, StaffJoined | StaffLeft], ...]

    @property
    def events(self) -> tuple[StaffJoined | StaffLeft, ...]:
        return tuple(e for _, e in self.steps)


def census_changes(worker: Worker, row: CensusRow, as_of: date) -> CensusChanges:
    """A new worker joins on the start date (and leaves on the leaving date); a worker in post
    whose record differs changes on the census date (or leaves); a row that matches what is
    recorded changes nothing (a re-import). Invalid or Conflict when the row contradicts the
    worker's recorded history."""
    steps: list[tuple[Worker, StaffJoined | StaffLeft]] = []
    current = worker
    already_left = row.leaving_date is not None and current.post is None and current.left_at is not None
    joined: StaffJoined | None = None
    if current.post is None and not already_left:
        current, joined = current.join(row.post, midnight(row.start_date))
    elif current.post is not None and current.post != row.post and row.leaving_date is None:
        current, joined = current.join(row.post, midnight(as_of))
    if joined is not None:
        steps.append((current, joined))
    if row.leaving_date is not None and row.leaving_reason is not None:
        current, gone = current.leave(midnight(row.leaving_date), row.leaving_reason)
        if gone is not None:
            steps.append((current, gone))
    return CensusChanges(current, tuple(steps))


def refusal(row: CensusRow, exc: RuleError) -> CellError:
    """A rule's refusal of a row as a cell error (its field as the census column)."""
    field_name = exc.field if isinstance(exc, Invalid) else None
    column = {"joined_at": "start_date", "left_at": "leaving_date"}.get(field_name or "", field_name)
    return CellError(row.line, column, exc.reason)
