"""Complaint timescales: how many working days each stage of each procedure has, when the
stage-2 clock starts, the stage-3 panel's timescales and the escalation window — the one
model the complaints service (its due dates) and reporting (its on-time KPIs) both read, per
tenant, from the same setting, so that the two never disagree on a due date. Pure (no I/O).

Defaults (DOMAIN.md "Complaints" and "Added rules (2026-12)"):

* statutory children's — stage 1 due 10 / at most 20 working days, stage 2 25 / 65;
  corporate and SEND — stage 1 10 / 20, stage 2 20 / 20;
* stage 3 (every procedure) — with no panel recorded, due 50 working days after the
  stage-3 request; once a panel is recorded, 20 working days after the latest panel's
  London date (``panel_response``); no extension. The panel itself is due within 30 working
  days of the request (``panel_within``: the panel KPI);
* the stage-2 clock starts at escalation unless configured to start at the agreed
  statement of complaint;
* a stage-2 request more than 20 working days after the stage-1 response is late
  (``escalation_window``): accepted and flagged ``late_request``.

The setting (``QALOOP_COMPLAINTS_TIMESCALES``, JSON) is read by :func:`authority_timescales`:

* today's format, still read: procedure -> stage -> ``{"due", "maximum"}``, e.g.
  ``{"corporate": {"2": {"due": 15, "maximum": 30}}}``;
* sections: ``{"default": SECTION, "tenants": {"E10000034": SECTION, ...}}``, where a
  SECTION is ``{"procedures": {...as above...}, "stage2_clock": "agreed_statement",
  "panel_response": 20, "panel_within": 30, "escalation_window": 20}`` (every key
  optional); a tenant's section applies on top of the default section.

``QALOOP_COMPLAINTS_STAGE2_CLOCK`` (``escalation`` or ``agreed_statement``) is still read as
the default section's clock where the JSON names none.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.events import Procedure

FIRST_STAGE = 1
LAST_STAGE = 3
PANEL_STAGE = 3
_SECTION_KEYS = frozenset({"procedures", "stage2_clock", "panel_response", "panel_within", "escalation_window"})
_DAY_COUNTS = ("panel_response", "panel_within", "escalation_window")


class Stage2Clock(enum.StrEnum):
    """When the stage-2 clock starts: the escalation (request) date, or the date the
    statement of complaint was agreed (DOMAIN.md: configurable)."""

    ESCALATION = "escalation"
    AGREED_STATEMENT = "agreed_statement"


@dataclass(frozen=True)
class StageTimescale:
    """Working days from the stage start: ``due`` for the response, ``maximum`` with any
    extension (stage 3: ``due`` is the response with no panel recorded; no extension)."""

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
        3: StageTimescale(50, 50),
    }
    return {
        Procedure.STATUTORY_CHILDREN: {
            1: StageTimescale(10, 20),
            2: StageTimescale(25, 65),
            3: StageTimescale(50, 50),
        },
        Procedure.CORPORATE: dict(authority_own),
        Procedure.SEND: dict(authority_own),
    }


@dataclass(frozen=True)
class Timescales:
    """One authority's complaint timescales: per procedure and stage, when the stage-2 clock
    starts, the stage-3 panel's working days and the escalation window."""

    procedures: Mapping[Procedure, Mapping[int, StageTimescale]] = field(default_factory=_default_procedures)
    stage2_clock: Stage2Clock = Stage2Clock.ESCALATION
    panel_response: int = 20  # stage 3 is due this many working days after the latest panel
    panel_within: int = 30  # the panel meets within this many working days of the request
    escalation_window: int = 20  # a stage-2 request later than this after the response is late

    def __post_init__(self) -> None:
        for name in _DAY_COUNTS:
            value = getattr(self, name)
            if not 1 <= value <= 366:
                raise ValueError(f"{name} must be 1 to 366 working days, got {value}")

    def stage(self, procedure: Procedure | str | None, stage: int) -> StageTimescale:
        """The stage's timescale; an unknown (or absent) procedure reads as statutory children's."""
        try:
            known = Procedure(procedure) if procedure else Procedure.STATUTORY_CHILDREN
        except ValueError:
            known = Procedure.STATUTORY_CHILDREN
        try:
            return self.procedures[known][stage]
        except KeyError:
            raise ValueError(f"no timescale configured for {known} stage {stage}") from None

    @property
    def starts_stage2_at_statement(self) -> bool:
        return self.stage2_clock == Stage2Clock.AGREED_STATEMENT

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
        return replace(self, procedures=procedures, stage2_clock=clock)

    def with_section(self, section: Mapping[str, Any]) -> Timescales:
        """These timescales with a configuration section applied (see the module's doc)."""
        unknown = set(section) - _SECTION_KEYS
        if unknown:
            raise ValueError(
                f"unknown complaint timescale settings {sorted(unknown)}; expected {sorted(_SECTION_KEYS)}"
            )
        out = self.with_overrides(section.get("procedures") or {}, section.get("stage2_clock"))
        return replace(
            out,
            panel_response=int(section.get("panel_response", out.panel_response)),
            panel_within=int(section.get("panel_within", out.panel_within)),
            escalation_window=int(section.get("escalation_window", out.escalation_window)),
        )


@dataclass(frozen=True)
class AuthorityTimescales:
    """The timescales of every tenant a deployment serves: the default, and the tenants
    configured otherwise."""

    default: Timescales = field(default_factory=Timescales)
    tenants: Mapping[str, Timescales] = field(default_factory=dict)

    def for_tenant(self, tenant: str | None) -> Timescales:
        if tenant is None:
            return self.default
        return self.tenants.get(tenant, self.default)


def _is_sectioned(raw: Mapping[str, Any]) -> bool:
    return bool(raw) and set(raw) <= {"default", "tenants"}


def authority_timescales(
    raw: Mapping[str, Any] | None = None, stage2_clock: Stage2Clock | str | None = None
) -> AuthorityTimescales:
    """The timescales a ``QALOOP_COMPLAINTS_TIMESCALES`` value (parsed JSON) and a
    ``QALOOP_COMPLAINTS_STAGE2_CLOCK`` value configure (ValueError, saying why, when they are
    not valid)."""
    raw = raw or {}
    base = Timescales().with_overrides({}, stage2_clock or None)
    if not _is_sectioned(raw):
        if set(raw) & _SECTION_KEYS:
            return AuthorityTimescales(base.with_section(raw))
        return AuthorityTimescales(base.with_overrides(raw))
    default = base.with_section(raw.get("default") or {})
    tenants = raw.get("tenants") or {}
    if not isinstance(tenants, Mapping):
        raise ValueError("'tenants' must map each tenant (ONS code) to its settings")
    return AuthorityTimescales(default, {str(t): default.with_section(s or {}) for t, s in tenants.items()})
