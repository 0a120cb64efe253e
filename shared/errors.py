"""The errors a strand's rules raise, one set for every strand (docs/architecture.md).

Pure Python: `domain.py` modules raise them; `shared.service.rule_error_response`, installed
by `StrandService.create_app`, maps them to HTTP once — 404 unknown id, 409 not allowed in
this state, 422 bad request with the field and the reason, in FastAPI's own
`{"detail": [{"loc", "msg", "type"}]}` shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Field = tuple[str | int, ...]


class RuleError(Exception):
    """A request the rules refuse."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(RuleError):
    """No such record (404)."""


class Conflict(RuleError):
    """Not allowed in the record's current state, or a retry with other content (409)."""


@dataclass(frozen=True)
class Problem:
    """One reason an input is refused; `field` is the path to the offending value."""

    field: Field
    reason: str

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.field)
        return f"{where}: {self.reason}" if where else self.reason


class Invalid(RuleError):
    """The request is wrong whatever the state (422), with every problem found."""

    def __init__(self, reason: str, field: str | Field | None = None, *, problems: Sequence[Problem] = ()) -> None:
        path: Field = () if field is None else (field,) if isinstance(field, str) else tuple(field)
        self.problems = list(problems) or [Problem(path, reason)]
        super().__init__(reason)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> Invalid:
        """Several problems at once (a CSV row, a form)."""
        if not problems:
            raise ValueError("Invalid.of needs at least one problem")
        if len(problems) == 1:
            return cls(problems[0].reason, problems[0].field)
        return cls("; ".join(p.describe() for p in problems), problems=problems)

    @property
    def field(self) -> str | None:
        """The first problem's top-level field (a request field), if it names one."""
        path = self.problems[0].field
        return str(path[0]) if path else None
