"""`/v1/config`: an authority's configuration over HTTP (role `config:admin`), mounted by the
service that may write it (reporting, which answers for the token's tenant). Every route
reads and changes the token's own tenant only, and every input is bounded by the model
(422 with the field and the reason)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.auth import Principal, require
from shared.bounds import CalendarDate, Offset
from shared.tenant_config import store
from shared.tenant_config.cache import ConfigCache
from shared.tenant_config.model import (
    MAX_CLOSURES,
    MAX_TARGETS,
    REBUILDS_PROJECTIONS,
    ComplaintTimescales,
    FollowUpRules,
    GradeRule,
    KpiId,
    KpiTarget,
    Setting,
    TenantConfig,
    Threshold,
    refused,
)

ROLE = "config:admin"
router = APIRouter(prefix="/v1/config", tags=["configuration"])


# The token's tenant is the one every route reads and changes: the router is mounted by
# reporting, which answers for the token's tenant (a token reaches only its own authority).
Admin = Annotated[Principal, Depends(require(ROLE))]


class ConfigChange(BaseModel):
    """Settings to change (each whole; the others keep their values)."""

    model_config = ConfigDict(extra="forbid")
    targets: dict[KpiId, KpiTarget] | None = Field(None, max_length=MAX_TARGETS)
    small_number_threshold: Threshold | None = None
    calendar_closures: list[CalendarDate] | None = Field(None, max_length=MAX_CLOSURES)
    complaint_timescales: ComplaintTimescales | None = None
    overall_grade_rule: GradeRule | None = None
    followup_rules: FollowUpRules | None = None

    def values(self) -> dict[Setting, Any]:
        given = self.model_dump(mode="json", exclude_unset=True)
        return {Setting(k): v for k, v in given.items() if v is not None}


class ChangeView(BaseModel):
    change_id: int
    setting: str
    old_value: Any
    new_value: Any
    reset: bool
    rebuilds_projections: bool
    changed_by: str
    changed_at: datetime

    @classmethod
    def of(cls, c: store.Change) -> ChangeView:
        return cls(
            change_id=c.change_id,
            setting=c.setting,
            old_value=c.old_value,
            new_value=c.new_value,
            reset=c.reset,
            rebuilds_projections=c.rebuilds,
            changed_by=c.changed_by,
            changed_at=c.changed_at,
        )


class ConfigView(BaseModel):
    tenant: str
    settings: TenantConfig
    changed: list[Setting]  # the settings set for this tenant (the others are its defaults)


class ConfigChanged(ConfigView):
    changes: list[ChangeView]
    # True when a change moves figures already projected (closures, timescales, follow-up
    # rules): reporting rebuilds its read models under the new settings.
    rebuilds_projections: bool


def _cache(request: Request) -> ConfigCache:
    cache: ConfigCache = request.app.state.service.config
    return cache


async def _view(request: Request, tenant: str) -> ConfigView:
    cache = _cache(request)
    await cache.refresh()
    async with request.app.state.service.pool.acquire() as conn:
        stored = (await store.stored_settings(conn, tenant)).get(tenant, {})
    return ConfigView(tenant=tenant, settings=cache.for_tenant(tenant), changed=sorted(stored))


@router.get("", summary="The authority's configuration in force")
async def show_config(request: Request, principal: Admin) -> ConfigView:
    return await _view(request, principal.tenant)


async def _change(request: Request, principal: Principal, values: dict[Setting, Any], *, reset: bool) -> ConfigChanged:
    cache = _cache(request)
    try:
        async with request.app.state.service.pool.acquire() as conn:
            _, changes = await store.change_settings(
                conn, principal.tenant, cache.defaults(principal.tenant), values, principal.subject, reset=reset
            )
    except ValidationError as exc:
        raise refused(exc) from None
    view = await _view(request, principal.tenant)
    return ConfigChanged(
        **view.model_dump(),
        changes=[ChangeView.of(c) for c in changes],
        rebuilds_projections=any(Setting(c.setting) in REBUILDS_PROJECTIONS for c in changes),
    )


@router.patch("", summary="Change some settings; each change is recorded with who made it")
async def change_config(request: Request, principal: Admin, change: ConfigChange) -> ConfigChanged:
    return await _change(request, principal, change.values(), reset=False)


@router.delete("/{setting}", summary="Return a setting to its default")
async def reset_setting(request: Request, principal: Admin, setting: Setting) -> ConfigChanged:
    return await _change(request, principal, {setting: None}, reset=True)


@router.get("/history", summary="Who changed what and when, newest first")
async def config_history(
    request: Request,
    principal: Admin,
    setting: Setting | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[ChangeView]:
    async with request.app.state.service.pool.acquire() as conn:
        changes = await store.history(conn, principal.tenant, setting, limit=limit, offset=offset)
    return [ChangeView.of(c) for c in changes]
