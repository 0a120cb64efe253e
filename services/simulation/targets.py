"""The targets `qaloop demo` ships (QALOOP_TARGETS_FILE), so that its tiles, report and
summary show red, amber and green.

Each target says where its number comes from. Where England publishes a national figure for
the same measure, the target is that figure, rounded, and the comment names the publication
(DfE, explore-education-statistics.service.gov.uk); check the latest release before using one
as a real benchmark. Every other target is an **illustrative demo target**: a plausible local
ambition, not a published figure. A real authority sets its own (`PATCH /v1/config`, `qaloop config set targets`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# kpi id -> (target, amber tolerance, higher is better)
DEMO_TARGETS: dict[str, tuple[float, float, bool]] = {
    # England: DfE "Children in need" (reporting years 2022 and 2023), assessments completed
    # within 45 working days: in the low-to-mid 80s per cent nationally. Rounded to 83%.
    "casework.assessment_within_45_days_rate": (0.83, 0.03, True),
    # England: DfE "Children in need: a focus on re-referrals" (year ending 31 March 2024):
    # 139,080 of 621,880 referrals (22%) were re-referrals within 12 months. Lower is better.
    "casework.re_referral_rate": (0.22, 0.02, False),
    # England: DfE "Education, health and care plans" (June 2023): 49.2% of new EHC plans in
    # calendar year 2022 were issued within 20 weeks, excluding exceptions. Rounded to 50%.
    "send.ehcp_within_20_weeks_rate": (0.50, 0.05, True),
    # Illustrative demo target: complaints answered within the statutory timescale (no
    # national figure is published for children's statutory complaints).
    "complaints.within_timescale_rate": (0.90, 0.10, True),
    # Illustrative demo target: stage-1 complaints escalated to stage 2. Lower is better.
    "complaints.escalation_rate": (0.10, 0.05, False),
    # Illustrative demo target: the authority's audit ambition (no national audit figures).
    "audit.good_or_better_rate": (0.70, 0.10, True),
    # Illustrative demo target: audits graded requires improvement. Lower is better.
    "audit.requires_improvement_rate": (0.25, 0.05, False),
    # Illustrative demo target: DOMAIN.md opens a follow-up below 60% positive, so 60% is the
    # floor and 70% the ambition.
    "feedback.positive_rate.easy_to_contact_case_worker": (0.70, 0.10, True),
    # Illustrative demo target: children and families reached when their case worker calls.
    "casework.contact_success_rate": (0.75, 0.10, True),
    # Illustrative demo targets: the learning loop's own ambition.
    "learning.actions_completed_on_time_rate": (0.85, 0.10, True),
    "learning.followups_closed_on_time_rate": (0.80, 0.10, True),
}


def targets_json() -> dict[str, dict[str, Any]]:
    """The targets in QALOOP_TARGETS_FILE's shape."""
    return {
        kpi: {"target": target, "amber_tolerance": tolerance, "higher_is_better": higher}
        for kpi, (target, tolerance, higher) in DEMO_TARGETS.items()
    }


def write_targets(path: Path) -> Path:
    path.write_text(json.dumps(targets_json(), indent=2) + "\n")
    return path
