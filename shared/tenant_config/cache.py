"""What a service reads its tenants' configuration through: a copy in memory of the stored
settings over each tenant's defaults, refreshed from `tenant_config` every few seconds
(`QALOOP_CONFIG_REFRESH_SECONDS`) and at once after a change made by this process. A
refresh costs one indexed read while nothing changed. Reads are synchronous and never touch
the database, so a KPI query or a complaint's due date costs no more than before."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from shared.calendar import WorkingCalendar
from shared.complaint_timescales import AuthorityTimescales, Timescales
from shared.tenant_config import store
from shared.tenant_config.model import FollowUpRules, TenantConfig

log = logging.getLogger(__name__)


@dataclass
class ConfigCache:
    """Each tenant's effective configuration. `defaults(tenant)` gives a tenant's defaults
    (`defaults.defaults_for`); before `bind`, every tenant reads its defaults."""

    defaults: Callable[[str], TenantConfig]
    pool: asyncpg.Pool | None = None
    latest_change: int = 0  # the newest change this copy has read
    latest_rebuild_change: int = 0  # ... among those that rebuild projections
    _stored: dict[str, store.Stored] = field(default_factory=dict)
    _configs: dict[str, TenantConfig] = field(default_factory=dict)
    _calendars: dict[str, WorkingCalendar] = field(default_factory=dict)
    _defaults: dict[str, TenantConfig] = field(default_factory=dict)  # the environment's: fixed

    async def bind(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        await self.refresh()

    async def refresh(self) -> bool:
        """Read the stored settings again when a change was made since the last read; True
        when one was."""
        if self.pool is None:
            return False
        async with self.pool.acquire() as conn:
            latest, rebuild = await store.latest_changes(conn)
            if latest == self.latest_change:
                return False
            stored = await store.stored_settings(conn)
        self._stored, self._configs, self._calendars = stored, {}, {}
        self.latest_change, self.latest_rebuild_change = latest, rebuild
        return True

    async def run(self, interval: float) -> None:
        """Refresh every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the configuration failed; the last copy holds, will try again")

    def for_tenant(self, tenant: str) -> TenantConfig:
        config = self._configs.get(tenant)
        if config is None:
            defaults = self._defaults.get(tenant)
            if defaults is None:
                defaults = self._defaults[tenant] = self.defaults(tenant)
            config = store.effective(defaults, self._stored.get(tenant, {}))
            self._configs[tenant] = config
        return config

    def calendar(self, tenant: str) -> WorkingCalendar:
        """The tenant's working-day calendar (its closures), built once per change."""
        calendar = self._calendars.get(tenant)
        if calendar is None:
            calendar = self._calendars[tenant] = self.for_tenant(tenant).calendar()
        return calendar

    def timescales(self, tenant: str) -> Timescales:
        return self.for_tenant(tenant).timescales()

    def followup_rules(self, tenant: str) -> FollowUpRules:
        return self.for_tenant(tenant).followup_rules


class TenantConfigs(Protocol):
    """Each tenant's configuration, read synchronously: `ConfigCache` in a service,
    `FixedConfig` in tests and benchmarks."""

    def for_tenant(self, tenant: str) -> TenantConfig: ...

    def calendar(self, tenant: str) -> WorkingCalendar: ...

    def timescales(self, tenant: str) -> Timescales: ...

    def followup_rules(self, tenant: str) -> FollowUpRules: ...


@dataclass
class FixedConfig:
    """The same configuration for every tenant, from code: tests and benchmarks that write
    read models or ask for figures without a database of settings. `calendar` and
    `timescales` (several tenants' timescales at once) stand in for the config's own."""

    config: TenantConfig = field(default_factory=TenantConfig)
    fixed_calendar: WorkingCalendar | None = None
    fixed_timescales: AuthorityTimescales | None = None

    def __post_init__(self) -> None:
        if self.fixed_calendar is None:
            self.fixed_calendar = self.config.calendar()

    def for_tenant(self, tenant: str) -> TenantConfig:
        return self.config

    def calendar(self, tenant: str) -> WorkingCalendar:
        assert self.fixed_calendar is not None
        return self.fixed_calendar

    def timescales(self, tenant: str) -> Timescales:
        if self.fixed_timescales is not None:
            return self.fixed_timescales.for_tenant(tenant)
        return self.config.timescales()

    def followup_rules(self, tenant: str) -> FollowUpRules:
        return self.config.followup_rules
