"""The simulated authority: a county of about 120,000 children (Worcestershire-sized), its
teams, its staff and what a year of its children's services looks like in numbers.

Annual volumes are at scale 1 and follow published figures for a county of that size
(children in need census, SEN2, complaints annual reports); `--scale` multiplies them.
Everything here is data: the planners (`casework`, `audits`, `complaints`, `feedback`)
read it, nothing writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Teams per service area, with their relative size. Through-care and safeguarding are the
# two largest teams (the panel minutes: they attract most communication complaints).
TEAMS: dict[str, dict[str, float]] = {
    "childrens_social_care": {"through-care": 0.32, "safeguarding": 0.32, "assessment": 0.22, "family-support": 0.14},
    "send": {"send-north": 0.5, "send-south": 0.5},
    "fostering": {"fostering": 1.0},
    "early_help": {"early-help-north": 0.5, "early-help-south": 0.5},
    "youth_justice": {"youth-justice": 1.0},
}
LARGEST_TEAMS = ("through-care", "safeguarding")

# Case-management systems (CloudEvents source `/cms/<system>`): Liquidlogic for social care
# and early help, Capita One for SEND (EHC plans).
SOCIAL_CARE_SYSTEM = "liquidlogic"
SEND_SYSTEM = "capita-one"


@dataclass(frozen=True)
class AnnualVolumes:
    """A year's activity at scale 1."""

    referrals_social_care: int = 5200
    referrals_early_help: int = 1400
    ehc_plans_issued: int = 800
    contact_attempts: int = 6000
    audits: int = 480  # case-file audits (re-audits of weak cases and targeted audits come on top)
    complaints: int = 300
    survey_responses: int = 2000
    compliments: int = 360


COUNTY = AnnualVolumes()

# Relative activity per month, April first: quieter in August and December.
SEASON = (1.0, 1.05, 1.0, 1.0, 0.8, 1.05, 1.1, 1.05, 0.8, 1.05, 1.0, 1.1)

# The audit service's seeded templates (services/audit/domain.py DEFAULT_TEMPLATES): the
# simulator grades these areas, and checks before it starts that the service has them.
CASE_FILE_AREAS = (
    "voice_of_the_child",
    "assessment_and_analysis",
    "planning",
    "management_oversight",
    "recording",
)
TEMPLATE_AREAS: dict[str, tuple[str, ...]] = {
    "childrens_social_care": CASE_FILE_AREAS,
    "send": CASE_FILE_AREAS,
    "fostering": (*CASE_FILE_AREAS[:3], "carer_support_and_supervision", *CASE_FILE_AREAS[3:]),
    "early_help": CASE_FILE_AREAS,
    "youth_justice": CASE_FILE_AREAS,
}
EHCP_AREAS = (
    "timeliness",
    "child_and_family_views",
    "needs_described",
    "outcomes",
    "provision_specified",
    "health_and_social_care",
    "multi_agency_advice",
)

# The EHC plan procedure checklist of the audit service's EHCP template (services/audit/
# templates.py EHCP_CHECKLIST), with how often each item is met in the county's files:
# timeliness is where plans fall short (about half of England's plans are issued in 20 weeks).
EHCP_CHECKLIST_MET = {
    "decision_within_6_weeks": 0.93,
    "family_involved": 0.95,
    "advice_within_6_weeks": 0.82,
    "draft_shared_15_days": 0.94,
    "setting_consulted": 0.92,
    "issued_within_20_weeks": 0.78,
    "review_within_12_months": 0.9,
}

AUDITORS = tuple(f"auditor-{i:02d}" for i in range(1, 13))
MODERATORS = ("qa-moderator-1", "qa-moderator-2", "qa-moderator-3")
QA_MANAGER = "qa-manager-1"
COMPLAINTS_OFFICERS = ("complaints-officer-1", "complaints-officer-2")
PARTICIPATION_WORKERS = ("participation-worker-1", "participation-worker-2")


def team_manager(team: str) -> str:
    return f"manager-{team}"


# The simulated authority's name on the report's cover and the dashboard (QALOOP_AUTHORITY_NAME
# in `qaloop demo`): made up, as its figures are, so that no real council is named beside them.
AUTHORITY_NAME = "Westshire County Council (simulated)"
