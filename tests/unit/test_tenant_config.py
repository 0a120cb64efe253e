"""Per-authority configuration, pure: each setting's bounds (refused with the field and the
reason), the environment as each tenant's defaults, a stored value that no longer passes
falling back to its default, and the copy every service reads (without a database: the
defaults)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.reporting.followups import DEFAULT_RULES, FollowUpRules, rules_of
from services.reporting.workforce import WorkforceReviewRules
from shared.complaint_timescales import Stage2Clock, StageTimescale, Timescales
from shared.errors import Invalid
from shared.events import Procedure
from shared.settings import Settings
from shared.tenant_config import store
from shared.tenant_config.api import ConfigChange
from shared.tenant_config.cache import ConfigCache
from shared.tenant_config.defaults import defaults_for
from shared.tenant_config.model import (
    REBUILDS_PROJECTIONS,
    WORKFORCE_REVIEW,
    ComplaintTimescales,
    Setting,
    TenantConfig,
    refused,
)
from shared.tenant_config.model import (
    FollowUpRules as FollowUpRuleSettings,
)

T = "E10000034"


def fields_of(exc: ValidationError) -> list[str]:
    return [p.describe().split(":")[0] for p in refused(exc).problems]


def test_the_defaults_are_domain_md_s():
    config = TenantConfig()
    assert config.small_number_threshold == 5 and config.overall_grade_rule == "worst"
    assert config.targets == {} and config.calendar_closures == []
    assert config.timescales() == Timescales()
    assert rules_of(config.followup_rules) == DEFAULT_RULES


def test_the_follow_up_settings_are_exactly_the_rules_parameters():
    """One list of parameters: the configuration's model and reporting's pure rules agree."""
    rule_fields = set(FollowUpRuleSettings.model_fields) - WORKFORCE_REVIEW
    assert rule_fields == {f.name for f in dataclasses.fields(FollowUpRules)}
    changed = FollowUpRuleSettings(complaint_learning_working_days=10, reaudit_months=6)
    assert rules_of(changed) == FollowUpRules(complaint_learning_working_days=10, reaudit_months=6)


def test_the_workforce_review_thresholds_are_configured_too():
    assert WorkforceReviewRules.of(FollowUpRuleSettings()) == WorkforceReviewRules()
    settings = TenantConfig().with_setting(
        Setting.FOLLOWUP_RULES,
        {"workforce_turnover_target": None, "workforce_team_targets": {"north": {"caseload": 25}}},
    )
    rules = WorkforceReviewRules.of(settings.followup_rules)
    assert rules.turnover("north") is None and rules.caseload("north") == 25 and rules.caseload("south") == 20.0


@pytest.mark.parametrize(
    ("setting", "value", "field"),
    [
        (Setting.SMALL_NUMBER_THRESHOLD, 101, "small_number_threshold"),
        (Setting.SMALL_NUMBER_THRESHOLD, -1, "small_number_threshold"),
        (Setting.SMALL_NUMBER_THRESHOLD, "five", "small_number_threshold"),
        (Setting.OVERALL_GRADE_RULE, "average", "overall_grade_rule"),
        (Setting.CALENDAR_CLOSURES, ["2022-13-01"], "calendar_closures.0"),
        (Setting.CALENDAR_CLOSURES, ["1800-01-01"], "calendar_closures.0"),
        (Setting.CALENDAR_CLOSURES, ["2023-01-03"] * 401, "calendar_closures"),
        (Setting.TARGETS, {"audit.good_or_better_rate": {"target": "nan"}}, "targets.audit.good_or_better_rate.target"),
        (
            Setting.TARGETS,
            {"audit.good_or_better_rate": {"target": 0.8, "amber": 1}},
            "targets.audit.good_or_better_rate.amber",
        ),
        (Setting.TARGETS, {"no spaces": {"target": 1}}, "targets.no spaces.[key]"),
        (Setting.TARGETS, {"x": {"target": 0.8, "amber_tolerance": -0.1}}, "targets.x.amber_tolerance"),
        (Setting.FOLLOWUP_RULES, {"reaudit_months": 0}, "followup_rules.reaudit_months"),
        (Setting.FOLLOWUP_RULES, {"feedback_positive_threshold": 1.5}, "followup_rules.feedback_positive_threshold"),
        (Setting.FOLLOWUP_RULES, {"safeguarding_working_days": 261}, "followup_rules.safeguarding_working_days"),
        (Setting.FOLLOWUP_RULES, {"unknown_rule_days": 3}, "followup_rules.unknown_rule_days"),
        (Setting.FOLLOWUP_RULES, {"workforce_turnover_target": 2}, "followup_rules.workforce_turnover_target"),
        (
            Setting.FOLLOWUP_RULES,
            {"workforce_team_targets": {"t": {"caseload": -1}}},
            "followup_rules.workforce_team_targets.t.caseload",
        ),
        (Setting.COMPLAINT_TIMESCALES, {"panel_within": 0}, "complaint_timescales.panel_within"),
        (Setting.COMPLAINT_TIMESCALES, {"stage2_clock": "whenever"}, "complaint_timescales.stage2_clock"),
        (
            Setting.COMPLAINT_TIMESCALES,
            {"procedures": {"corporate": {"4": {"due": 5}}}},
            "complaint_timescales.procedures.corporate.4.[key]",
        ),
        (
            Setting.COMPLAINT_TIMESCALES,
            {"procedures": {"nope": {"1": {"due": 5}}}},
            "complaint_timescales.procedures.nope.[key]",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(setting, value, field):
    with pytest.raises(ValidationError) as caught:
        TenantConfig().with_setting(setting, value)
    assert field in fields_of(caught.value), fields_of(caught.value)


def test_a_stage_due_after_its_maximum_is_refused_with_the_reason():
    section = {"procedures": {"corporate": {"2": {"due": 30, "maximum": 25}}}}
    with pytest.raises(ValidationError) as caught:
        TenantConfig().with_setting(Setting.COMPLAINT_TIMESCALES, section)
    (problem,) = refused(caught.value).problems
    assert problem.field == ("complaint_timescales",) and "due <= maximum" in problem.reason


def test_refused_is_the_422_every_api_answers():
    with pytest.raises(ValidationError) as caught:
        TenantConfig().with_settings({Setting.SMALL_NUMBER_THRESHOLD: 500, Setting.OVERALL_GRADE_RULE: "x"})
    invalid = refused(caught.value)
    assert isinstance(invalid, Invalid)
    assert {p.field[0] for p in invalid.problems} == {"small_number_threshold", "overall_grade_rule"}


def test_good_values_are_kept_and_closures_are_a_sorted_set():
    config = TenantConfig().with_settings(
        {
            Setting.CALENDAR_CLOSURES: ["2023-01-03", "2022-12-28", "2023-01-03"],
            Setting.COMPLAINT_TIMESCALES: {
                "stage2_clock": "agreed_statement",
                "procedures": {"corporate": {"1": {"due": 15}}},
            },
            Setting.TARGETS: {"audit.good_or_better_rate": {"target": 0.8, "amber_tolerance": 0.05}},
        }
    )
    assert config.calendar_closures == [date(2022, 12, 28), date(2023, 1, 3)]
    assert not config.calendar().is_working_day(date(2022, 12, 28))  # a Wednesday, closed
    timescales = config.timescales()
    assert timescales.stage2_clock is Stage2Clock.AGREED_STATEMENT
    assert timescales.stage(Procedure.CORPORATE, 1) == StageTimescale(15, 20)  # the maximum kept
    assert timescales.stage(Procedure.CORPORATE, 2) == Timescales().stage(Procedure.CORPORATE, 2)
    assert config.value(Setting.TARGETS) == {
        "audit.good_or_better_rate": {"target": 0.8, "amber_tolerance": 0.05, "higher_is_better": True}
    }


def test_a_full_section_gives_the_timescales_back():
    timescales = Timescales().with_section({"stage2_clock": "agreed_statement", "panel_response": 15})
    assert ComplaintTimescales.of(timescales).timescales() == timescales


def test_the_environment_is_each_tenant_s_default(tmp_path: Path):
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({"complaints.within_timescale_rate": {"target": 0.9, "amber_tolerance": 0.1}}))
    settings = Settings(
        small_number_threshold=10,
        overall_grade_rule="best_fit",
        calendar_closures=[date(2022, 12, 28)],
        targets_file=targets,
        complaints_timescales={
            "default": {"panel_within": 25},
            "tenants": {"E06000001": {"stage2_clock": "agreed_statement"}},
        },
    )
    ours, theirs = defaults_for(settings, T), defaults_for(settings, "E06000001")
    assert (ours.small_number_threshold, ours.overall_grade_rule) == (10, "best_fit")
    assert ours.calendar_closures == [date(2022, 12, 28)]
    assert ours.targets["complaints.within_timescale_rate"].target == 0.9
    assert ours.timescales().panel_within == 25 and not ours.timescales().starts_stage2_at_statement
    assert theirs.timescales().panel_within == 25 and theirs.timescales().starts_stage2_at_statement


def test_a_stored_value_this_release_refuses_leaves_its_default():
    defaults = TenantConfig()
    stored = {Setting.SMALL_NUMBER_THRESHOLD: 1000, Setting.OVERALL_GRADE_RULE: "best_fit"}
    config = store.effective(defaults, stored)
    assert (config.small_number_threshold, config.overall_grade_rule) == (5, "best_fit")


def test_only_closures_timescales_and_follow_up_rules_rebuild_projections():
    assert REBUILDS_PROJECTIONS == {Setting.CALENDAR_CLOSURES, Setting.COMPLAINT_TIMESCALES, Setting.FOLLOWUP_RULES}


def test_a_change_request_carries_only_what_it_names():
    change = ConfigChange.model_validate({"small_number_threshold": 3})
    assert change.values() == {Setting.SMALL_NUMBER_THRESHOLD: 3}
    with pytest.raises(ValidationError):
        ConfigChange.model_validate({"small_number_treshold": 3})  # a misspelt setting is refused


async def test_before_it_reads_the_database_a_service_sees_its_defaults():
    cache = ConfigCache(lambda tenant: TenantConfig(small_number_threshold=7 if tenant == T else 5))
    assert await cache.refresh() is False  # no pool: nothing to read
    assert cache.for_tenant(T).small_number_threshold == 7
    assert cache.for_tenant("E06000001").small_number_threshold == 5
    assert cache.calendar(T) is cache.calendar(T)  # built once per change
