"""Complaint timescales: how many working days each stage of each procedure has, when the
stage-2 clock starts, and the working-day calendar they are counted on. Pure (no I/O).

Defaults (DOMAIN.md): statutory children's — stage 1 due 10 / at most 20 working days,
stage 2 25 / 65, stage 3 30 / 30; corporate and SEND — stage 1 10 / 20, stage 2 20 / 20,
stage 3 30 / 30. The stage-2 clock starts at escalation unless configured otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.calendar import WorkingCalendar
from shared.events import Procedure

FIRST_STAGE = 1
LAST_STAGE = 3


class Stage2Clock(enum.StrEnum):
    """When the stage-2 clock starts: the escalation (request) date, or the date the
    statement of complaint was agreed (DOMAIN.md: configurable)."""

    ESCALATION = "escalation"
    AGREED_STATEMENT = "agreed_statement"


@dataclass(frozen=True)
class StageTimescale:
    """Working days from the stage start: ``due`` for the response, ``maximum`` with any
    extension."""

    due: int
    maximum: int

    def __post_init__(self) -> None:
        if not 1 <= self.due <= self.maximum:
            raise ValueError(
                f"a stage timescale needs 1 <= due <= maximum working days, got due {self.due}, maximum {self.maximum}"
            )


def _default_procedures() -> dict[Procedure, dict[int, StageTimescale]]:
    authority_own = {
        1: StageTimescale(10, 20),
        2: StageTimescale(20, 20),
        3: StageTimescale(30, 30),
    }
    return {
        Procedure.STATUTORY_CHILDREN: {
            1: StageTimescale(10, 20),
            2: StageTimescale(25, 65),
            3: StageTimescale(30, 30),
        },
        Procedure.CORPORATE: dict(authority_own),
        Procedure.SEND: dict(authority_own),
    }


@dataclass(frozen=True)
class Timescales:
    """Response timescales per procedure and stage, and when the stage-2 clock starts."""

    procedures: Mapping[Procedure, Mapping[int, StageTimescale]] = field(default_factory=_default_procedures)
    stage2_clock: Stage2Clock = Stage2Clock.ESCALATION

    def stage(self, procedure: Procedure, stage: int) -> StageTimescale:
        try:
            return self.procedures[procedure][stage]
        except KeyError:
            raise ValueError(f"no timescale configured for {procedure} stage {stage}") from None

    def with_overrides(
        self,
        overrides: Mapping[str, Mapping[Any, Mapping[str, int]]],
        stage2_clock: Stage2Clock | str | None = None,
    ) -> Timescales:
        """These timescales with some replaced: ``{"corporate": {"2": {"due": 15,
        "maximum": 30}}}``; a stage that gives only ``due`` or ``maximum`` keeps the other."""
        procedures = {p: dict(stages) for p, stages in self.procedures.items()}
        for name, stages in overrides.items():
            table = procedures.setdefault(Procedure(name), {})
            for key, values in stages.items():
                number = int(key)
                if not FIRST_STAGE <= number <= LAST_STAGE:
                    raise ValueError(f"complaint stages are 1 to 3, got {key!r} for {name}")
                unknown = set(values) - {"due", "maximum"}
                if unknown:
                    raise ValueError(f"unknown timescale fields {sorted(unknown)} for {name} {key}")
                old = table.get(number)
                due = int(values.get("due", old.due if old else 0))
                maximum = int(values.get("maximum", old.maximum if old else due))
                table[number] = StageTimescale(due, maximum)
        clock = Stage2Clock(stage2_clock) if stage2_clock is not None else self.stage2_clock
        return Timescales(procedures, clock)


@dataclass(frozen=True)
class Rules:
    """What every transition needs: the timescales and the working-day calendar."""

    timescales: Timescales
    calendar: WorkingCalendar


def working_days_left(calendar: WorkingCalendar, due_date: date, as_of: date) -> int:
    """Working days from ``as_of`` to ``due_date``: 0 on the due date, negative when past it
    (minus the working days since the due date)."""
    if due_date >= as_of:
        return calendar.working_days_between(as_of, due_date)
    return -calendar.working_days_between(due_date, as_of)
