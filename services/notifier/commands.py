"""What the notifier is asked to do: load a tenant's recipient directory. Pure: no I/O.

The directory is a CSV file with a header and one row per address, no names::

    kind,id,email,delivery
    staff,manager-1,alex.manager@council.example,
    team,through-care,through-care.managers@council.example,daily

`kind` is `staff` (`id` a staff id, as actions' `owner_id`) or `team` (`id` a team, the
address its manager's); `delivery` (optional) is `immediate` or `daily`, blank for the
notifier's default (`QALOOP_NOTIFY_DIGEST`). An import replaces the tenant's directory.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import Invalid, Problem

MAX_ROWS = 50_000
ADDRESS = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+$")
COLUMNS = ("kind", "id", "email", "delivery")


class RecipientEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["staff", "team"]
    id: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(min_length=3, max_length=254)]
    delivery: Literal["immediate", "daily"] | None = None

    @field_validator("id", "email", mode="before")
    @classmethod
    def _stripped(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("delivery", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if not ADDRESS.match(value):
            raise ValueError("not an e-mail address")
        return value


class ImportRecipients(BaseModel):
    """Replace a tenant's directory with these entries (one per kind and id)."""

    model_config = ConfigDict(frozen=True)

    entries: Annotated[list[RecipientEntry], Field(max_length=MAX_ROWS)]

    @field_validator("entries")
    @classmethod
    def _one_per_key(cls, entries: list[RecipientEntry]) -> list[RecipientEntry]:
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            if (entry.kind, entry.id) in seen:
                raise ValueError(f"{entry.kind} {entry.id!r} is listed twice")
            seen.add((entry.kind, entry.id))
        return entries

    @classmethod
    def from_csv(cls, text: str) -> ImportRecipients:
        """Read the CSV; every bad row is named (`Invalid`, one problem per row and field)."""
        reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS[:3] if c not in header]
        if missing:
            raise Invalid(f"missing column(s): {', '.join(missing)}", "header")
        reader.fieldnames = header
        entries: list[RecipientEntry] = []
        problems: list[Problem] = []
        for line, row in enumerate(reader, start=2):
            if len(entries) + len(problems) >= MAX_ROWS:
                problems.append(Problem(("rows",), f"more than {MAX_ROWS} rows"))
                break
            try:
                values = {c: row[c] for c in COLUMNS if row.get(c) is not None}
                entries.append(RecipientEntry.model_validate(values))
            except ValidationError as exc:
                problems += [Problem((f"line {line}", *map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        if problems:
            raise Invalid.of(problems)
        try:
            return cls(entries=entries)
        except ValidationError as exc:
            raise Invalid.of([Problem(("entries",), e["msg"]) for e in exc.errors()]) from None
