"""The complaint timescales both the complaints service and reporting read (one setting, per
tenant): today's format still read, sections with per-tenant overrides, and refusals."""

from __future__ import annotations

import pytest

from shared.complaint_timescales import (
    AuthorityTimescales,
    Stage2Clock,
    StageTimescale,
    Timescales,
    authority_timescales,
)
from shared.events import Procedure
from shared.settings import Settings


def test_the_defaults_follow_domain_md() -> None:
    t = Timescales()
    assert t.stage(Procedure.STATUTORY_CHILDREN, 1) == StageTimescale(10, 20)
    assert t.stage(Procedure.STATUTORY_CHILDREN, 2) == StageTimescale(25, 65)
    assert t.stage(Procedure.CORPORATE, 2) == StageTimescale(20, 20)
    # stage 3: 50 working days after the request with no panel, no extension
    assert t.stage(Procedure.SEND, 3) == StageTimescale(50, 50)
    assert (t.panel_response, t.panel_within, t.escalation_window) == (20, 30, 20)
    assert t.stage2_clock == Stage2Clock.ESCALATION
    assert t.stage(None, 2) == StageTimescale(25, 65)  # an unknown procedure reads as statutory


def test_todays_format_and_the_stage2_clock_setting_are_still_read() -> None:
    config = authority_timescales({"corporate": {"2": {"due": 15, "maximum": 30}}}, "agreed_statement")
    t = config.for_tenant("E10000034")
    assert t.stage(Procedure.CORPORATE, 2) == StageTimescale(15, 30)
    assert t.stage2_clock == Stage2Clock.AGREED_STATEMENT
    assert config.tenants == {}


def test_a_tenant_section_applies_on_top_of_the_default_section() -> None:
    config = authority_timescales(
        {
            "default": {"procedures": {"send": {"1": {"due": 15}}}, "escalation_window": 25},
            "tenants": {"E06000001": {"stage2_clock": "agreed_statement", "panel_response": 15}},
        }
    )
    other, own = config.for_tenant("E10000034"), config.for_tenant("E06000001")
    assert other.stage(Procedure.SEND, 1) == StageTimescale(15, 20) == own.stage(Procedure.SEND, 1)
    assert (other.stage2_clock, own.stage2_clock) == (Stage2Clock.ESCALATION, Stage2Clock.AGREED_STATEMENT)
    assert (other.panel_response, own.panel_response) == (20, 15)
    assert own.escalation_window == 25
    assert config.for_tenant(None) == config.default


@pytest.mark.parametrize(
    "raw",
    [
        {"corporate": {"1": {"due": 30, "maximum": 20}}},
        {"corporate": {"4": {"due": 10}}},
        {"default": {"stage2_clock": "whenever"}},
        {"default": {"panel_response": 0}},
        {"tenants": {"E06000001": {"unknown": 1}}},
        {"tenants": ["E06000001"]},
    ],
)
def test_invalid_settings_are_refused_saying_why(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        authority_timescales(raw)


def test_the_setting_is_read_from_the_environment_by_both_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "QALOOP_COMPLAINTS_TIMESCALES", '{"tenants": {"E10000034": {"stage2_clock": "agreed_statement"}}}'
    )
    monkeypatch.setenv("QALOOP_COMPLAINTS_STAGE2_CLOCK", "escalation")
    config = Settings().complaint_timescales()
    assert isinstance(config, AuthorityTimescales)
    assert config.for_tenant("E10000034").starts_stage2_at_statement
    assert not config.for_tenant("E09000001").starts_stage2_at_statement
