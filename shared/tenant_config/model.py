"""One authority's configuration (pure: no I/O): KPI targets and RAG tolerances, the
small-number threshold, calendar closures, complaint timescales, the overall-grade rule and
the follow-up rules' settings, each a *setting* with bounds, validated the same way whether it
arrives over HTTP, from `qaloop config set` or from the environment's bootstrap defaults.

A tenant's effective configuration is its defaults (`defaults_for`: the deployment's
environment, DOMAIN.md's defaults where that says nothing) with the settings stored for it
in the database applied on top, one whole setting at a time (`with_setting`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from shared.bounds import CalendarDate
from shared.calendar import WorkingCalendar
from shared.complaint_timescales import Stage2Clock, Timescales
from shared.errors import Invalid, Problem
from shared.events import Procedure


class Setting(enum.StrEnum):
    """The settings an authority may change (`PATCH /v1/config`, `qaloop config set`)."""

    TARGETS = "targets"
    SMALL_NUMBER_THRESHOLD = "small_number_threshold"
    CALENDAR_CLOSURES = "calendar_closures"
    COMPLAINT_TIMESCALES = "complaint_timescales"
    OVERALL_GRADE_RULE = "overall_grade_rule"
    FOLLOWUP_RULES = "followup_rules"


# Settings that change figures already projected (due dates, working days taken, follow-ups):
# a change to one of them makes reporting rebuild its read models (docs/architecture.md
# "Per-authority configuration"). The others only change how a figure is read (RAG,
# suppression) or described (the report's grade-rule note), so the next read shows them.
REBUILDS_PROJECTIONS = frozenset({Setting.CALENDAR_CLOSURES, Setting.COMPLAINT_TIMESCALES, Setting.FOLLOWUP_RULES})

_FROZEN = ConfigDict(extra="forbid", frozen=True)
KpiId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:\-]+$")]
WorkingDays = Annotated[int, Field(ge=1, le=260)]  # at most a year of working days
Months = Annotated[int, Field(ge=1, le=24)]
MAX_TARGETS = 500
MAX_CLOSURES = 400
Threshold = Annotated[int, Field(ge=0, le=100)]
GradeRule = Literal["worst", "best_fit"]


class KpiTarget(BaseModel):
    """A KPI's target: green when met, amber within `amber_tolerance` of it (DOMAIN.md)."""

    model_config = _FROZEN
    target: float = Field(ge=-1e9, le=1e9, allow_inf_nan=False)
    amber_tolerance: float = Field(0.0, ge=0, le=1e9, allow_inf_nan=False)
    higher_is_better: bool = True


class TeamTargets(BaseModel):
    """One team's own `workforce-review` thresholds (either may be left to the default)."""

    model_config = _FROZEN
    turnover: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    caseload: float | None = Field(None, ge=0, le=1000, allow_inf_nan=False)


TeamName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


class FollowUpRules(BaseModel):
    """The follow-up rules' settings (DOMAIN.md "Closing the learning loop" defaults, and the
    `workforce-review` thresholds: README *Workforce*; null turns that half of it off)."""

    model_config = _FROZEN
    complaint_learning_working_days: WorkingDays = 20
    reaudit_months: Months = 3
    reaudit_inadequate_months: Months = 1
    feedback_positive_threshold: float = Field(0.60, ge=0, le=1, allow_inf_nan=False)  # opened below this
    feedback_min_answers: int = Field(5, ge=1, le=100_000)  # ... with at least this many answers
    safeguarding_working_days: WorkingDays = 1
    concern_rework_working_days: WorkingDays = 20
    inspection_finding_working_days: WorkingDays = 20
    workforce_turnover_target: float | None = Field(0.05, ge=0, le=1, allow_inf_nan=False)
    workforce_caseload_target: float | None = Field(20.0, ge=0, le=1000, allow_inf_nan=False)
    workforce_team_targets: dict[TeamName, TeamTargets] = Field(default_factory=dict, max_length=1000)


# The follow-up settings of the `workforce-review` rule (reporting's WorkforceReviewRules); the
# others are the parameters of reporting's FollowUpRules.
WORKFORCE_REVIEW = frozenset({"workforce_turnover_target", "workforce_caseload_target", "workforce_team_targets"})


class StageDays(BaseModel):
    """A stage's working days: `due` for the response, `maximum` with an extension."""

    model_config = _FROZEN
    due: int | None = Field(None, ge=1, le=366)
    maximum: int | None = Field(None, ge=1, le=366)


class ComplaintTimescales(BaseModel):
    """A section of `shared.complaint_timescales` (what differs from DOMAIN.md's defaults)."""

    model_config = _FROZEN
    procedures: dict[Procedure, dict[Literal["1", "2", "3"], StageDays]] = Field(default_factory=dict)
    stage2_clock: Stage2Clock | None = None
    panel_response: int | None = Field(None, ge=1, le=366)
    panel_within: int | None = Field(None, ge=1, le=366)
    escalation_window: int | None = Field(None, ge=1, le=366)

    @model_validator(mode="after")
    def _consistent(self) -> ComplaintTimescales:
        self.timescales()  # ValueError (due > maximum …) says why
        return self

    def section(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def timescales(self) -> Timescales:
        return Timescales().with_section(self.section())

    @classmethod
    def of(cls, timescales: Timescales) -> ComplaintTimescales:
        """The section that gives `timescales` in full."""
        procedures = {
            p: {str(n): StageDays(due=s.due, maximum=s.maximum) for n, s in stages.items()}
            for p, stages in timescales.procedures.items()
        }
        return cls.model_validate(
            {
                "procedures": procedures,
                "stage2_clock": timescales.stage2_clock,
                "panel_response": timescales.panel_response,
                "panel_within": timescales.panel_within,
                "escalation_window": timescales.escalation_window,
            }
        )


class TenantConfig(BaseModel):
    """One authority's configuration, every setting bounded."""

    model_config = _FROZEN
    targets: dict[KpiId, KpiTarget] = Field(default_factory=dict, max_length=MAX_TARGETS)
    small_number_threshold: Threshold = 5
    calendar_closures: list[CalendarDate] = Field(default_factory=list, max_length=MAX_CLOSURES)
    complaint_timescales: ComplaintTimescales = Field(default_factory=ComplaintTimescales)
    overall_grade_rule: GradeRule = "worst"
    followup_rules: FollowUpRules = Field(default_factory=FollowUpRules)

    @field_validator("calendar_closures")
    @classmethod
    def _sorted_once(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    def timescales(self) -> Timescales:
        return self.complaint_timescales.timescales()

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(closures=self.calendar_closures)

    def value(self, setting: Setting) -> Any:
        """A setting's value as JSON (what is stored and shown)."""
        return self.model_dump(mode="json")[setting.value]

    def with_setting(self, setting: Setting, value: Any) -> TenantConfig:
        """This configuration with one setting replaced (pydantic's ValidationError, naming the
        field and the reason, when the value is not valid)."""
        return TenantConfig.model_validate({**self.model_dump(mode="json"), setting.value: value})

    def with_settings(self, values: Mapping[Setting, Any]) -> TenantConfig:
        return TenantConfig.model_validate({**self.model_dump(mode="json"), **{s.value: v for s, v in values.items()}})


def refused(exc: ValidationError) -> Invalid:
    """A ValidationError as the 422 every API answers (each field and its reason)."""
    return Invalid.of([Problem(tuple(e["loc"]), e["msg"]) for e in exc.errors()])
