"""How the report states the overall-grade rule the authority has configured (issue 14,
item 10): the authority's `overall_grade_rule` (shared/tenant_config), the setting the audit
service grades by (`services.audit.domain.OverallGradeRule`), read by reporting from the same
configuration.
Pure: no I/O."""

from __future__ import annotations

__all__ = ["GRADE_RULES", "grade_rule_note", "grade_rule_text"]

# The rules the audit service knows (shared.tenant_config TenantConfig.overall_grade_rule), in words.
GRADE_RULES = {
    "worst": (
        "the worst area grade (a limiting judgement): one area that requires improvement makes the audit "
        "require improvement"
    ),
    "best_fit": (
        "the auditor's best-fit judgement, which lies between the best and the worst area grade: one area "
        "that requires improvement need not make the audit require improvement"
    ),
}


def grade_rule_text(rule: str) -> str:
    """The rule in words (an unknown rule by its name)."""
    return GRADE_RULES.get(rule, f"set by the authority's rule “{rule}”")


def grade_rule_note(rule: str) -> str:
    """The note under the audits-by-grade table: the rule this authority grades by."""
    return f"The overall grade is {grade_rule_text(rule)} (this authority's overall-grade rule, “{rule}”)."
