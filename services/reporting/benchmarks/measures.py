"""The checked-in table that maps published comparator measures to qaloop KPI ids.

A comparator file (DfE's LAIT export shape, `lait.py`) names each figure's measure by the
code in the first column here; only measures listed here are imported (the import reports
the rows of any other measure as ignored, by measure). Each row says:

* ``measure`` — the measure's code in the comparator file;
* ``kpi`` — the qaloop KPI it is compared with (CONTRACT.md §2 and §4 ids);
* ``scale`` — ``percent`` (published as 0-100; stored and compared as a fraction 0-1, like
  the KPI's rate) or ``number`` (compared as published, e.g. an average caseload);
* ``higher_is_better`` — the measure's polarity, used for ranking (1 = best) unless the
  authority's target for the KPI (its configured `targets`) says otherwise;
* ``title`` — the published measure's name, as the comparison shows it.

Pure: no I/O. Add a row to benchmark another measure; a KPI id this build does not compute
yet (a CONTRACT.md §4 id whose strand is not deployed) is compared on published figures
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["MEASURES", "NUMBER", "PERCENT", "Measure", "measure_of"]

Scale = Literal["percent", "number"]
PERCENT: Final = "percent"
NUMBER: Final = "number"


@dataclass(frozen=True)
class Measure:
    measure: str
    kpi: str
    scale: Scale
    higher_is_better: bool
    title: str

    def from_published(self, value: float) -> float:
        """A published figure on the KPI's scale (a percentage becomes a fraction)."""
        return round(value / 100, 10) if self.scale == PERCENT else value  # 21.9 -> 0.219, not 0.21899…


MEASURES: tuple[Measure, ...] = (
    Measure(
        "assessments_within_45_days_pct",
        "casework.assessment_within_45_days_rate",
        PERCENT,
        True,
        "Assessments completed within 45 working days (%)",
    ),
    Measure(
        "re_referrals_within_12_months_pct",
        "casework.re_referral_rate",
        PERCENT,
        False,
        "Referrals that were re-referrals within 12 months (%)",
    ),
    Measure(
        "ehcp_within_20_weeks_excl_exceptions_pct",
        "send.ehcp_within_20_weeks_rate",
        PERCENT,
        True,
        "EHC plans issued within 20 weeks, excluding exceptions (%)",
    ),
    Measure(
        "ehcp_within_20_weeks_incl_exceptions_pct",
        "send.ehcp_within_20_weeks_incl_exceptions_rate",
        PERCENT,
        True,
        "EHC plans issued within 20 weeks, including exceptions (%)",
    ),
    Measure("sw_turnover_rate_pct", "workforce.turnover_rate", PERCENT, False, "Social worker turnover rate, FTE (%)"),
    Measure("sw_vacancy_rate_pct", "workforce.vacancy_rate", PERCENT, False, "Social worker vacancy rate, FTE (%)"),
    Measure("sw_agency_rate_pct", "workforce.agency_rate", PERCENT, False, "Agency social worker rate, FTE (%)"),
    Measure(
        "sw_average_caseload",
        "workforce.average_caseload",
        NUMBER,
        False,
        "Average caseload of case-holding social workers (cases)",
    ),
)

_BY_CODE = {m.measure: m for m in MEASURES}


def measure_of(code: str) -> Measure | None:
    """The mapped measure with this code, or None when the table does not list it."""
    return _BY_CODE.get(code)
