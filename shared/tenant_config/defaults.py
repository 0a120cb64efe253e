"""Each tenant's defaults: the deployment's environment (`QALOOP_*`, read once at start) is the
bootstrap for every authority it serves until the authority changes a setting in the
database (README "Configuration"). DOMAIN.md's defaults fill what the environment leaves out."""

from __future__ import annotations

from shared.settings import Settings
from shared.tenant_config.model import ComplaintTimescales, TenantConfig


def defaults_for(settings: Settings, tenant: str) -> TenantConfig:
    """The tenant's configuration before any change: QALOOP_TARGETS_FILE,
    QALOOP_SMALL_NUMBER_THRESHOLD, QALOOP_CALENDAR_CLOSURES, QALOOP_COMPLAINTS_TIMESCALES (its
    default section, and the tenant's section where it has one), QALOOP_OVERALL_GRADE_RULE.
    ValueError (saying which) when the environment is not valid."""
    timescales = settings.complaint_timescales().for_tenant(tenant)
    return TenantConfig.model_validate(
        {
            "targets": settings.kpi_targets(),
            "small_number_threshold": settings.small_number_threshold,
            "calendar_closures": settings.calendar_closures,
            "complaint_timescales": ComplaintTimescales.of(timescales),
            "overall_grade_rule": settings.overall_grade_rule,
        }
    )
