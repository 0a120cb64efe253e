"""Reporting's clock is chosen where the service is composed: QALOOP_AS_OF (the demo's year
end) or London's today, unless a caller passes its own; the configured authority's name."""

from __future__ import annotations

import asyncio
from datetime import date

from services.reporting.app import authority_names, build
from services.reporting.handlers import clock_for, london_today
from services.reporting.report.inputs import queries_from_settings
from shared.settings import Settings


def test_the_clock_is_the_configured_day_or_londons_today():
    assert clock_for(None) is london_today
    assert clock_for(date(2023, 3, 31))() == date(2023, 3, 31)
    as_of = Settings(as_of=date(2023, 3, 31))
    service, _ = build(settings=as_of)
    assert service.clock() == date(2023, 3, 31)
    service, _ = build(settings=Settings())
    assert service.clock is london_today
    service, _ = build(settings=as_of, clock=lambda: date(2020, 1, 1))  # a test's own clock wins
    assert service.clock() == date(2020, 1, 1)
    queries = asyncio.run(queries_from_settings(None, as_of))  # type: ignore[arg-type]  # `qaloop report` offline
    assert queries.clock() == date(2023, 3, 31)


def test_the_authority_is_named_where_a_name_is_configured():
    named = Settings(tenant="E10000034", authority_name="Westshire County Council")
    assert authority_names(named) == {"E10000034": "Westshire County Council"}
    assert authority_names(Settings(tenant="E10000034")) == {}
    queries = asyncio.run(queries_from_settings(None, named))  # type: ignore[arg-type]
    assert queries.authority("E10000034") == "Westshire County Council (E10000034)"
    assert queries.authority("E06000001") == "E06000001"  # another tenant: its code
