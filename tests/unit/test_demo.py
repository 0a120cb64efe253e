"""`qaloop demo`'s own configuration of its services: the clock at the simulated year's end,
the simulated authority's name and the demo's targets, each unless the caller set it; and the
summary's RAG cells."""

from __future__ import annotations

import json
from datetime import date

from services.demo import demo_clock, demo_environment, summary_cell
from services.simulation.authority import AUTHORITY_NAME
from services.simulation.targets import DEMO_TARGETS


def test_the_demo_stands_at_the_end_of_its_year_with_its_name_and_targets(tmp_path, monkeypatch):
    for name in ("QALOOP_AS_OF", "QALOOP_AUTHORITY_NAME", "QALOOP_TARGETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert demo_clock("2022-23") == date(2023, 3, 31)
    assert demo_clock("2099-00") < date(2099, 1, 1)  # a year still to come: today
    env = demo_environment(date(2023, 3, 31), tmp_path)
    assert env["QALOOP_AS_OF"] == "2023-03-31" and env["QALOOP_AUTHORITY_NAME"] == AUTHORITY_NAME
    assert set(json.loads((tmp_path / "demo-targets.json").read_text())) == set(DEMO_TARGETS)
    assert env["QALOOP_TARGETS_FILE"] == str(tmp_path / "demo-targets.json")

    monkeypatch.setenv("QALOOP_AS_OF", "2023-01-15")
    monkeypatch.setenv("QALOOP_AUTHORITY_NAME", "Eastshire")
    monkeypatch.setenv("QALOOP_TARGETS_FILE", "/etc/qaloop/targets.json")
    env = demo_environment(date(2023, 3, 31), tmp_path / "unused")
    assert env["QALOOP_AS_OF"] == "2023-01-15" and env["QALOOP_AUTHORITY_NAME"] == "Eastshire"
    assert "QALOOP_TARGETS_FILE" not in env  # the caller's, from the environment


def test_summary_cells_carry_their_rag():
    assert summary_cell("audit.good_or_better_rate", {"value": 0.47, "rag": "red"}) == "[bold red]47% R[/]"
    assert summary_cell("complaints.received", {"value": 76, "rag": None}) == "76"
    assert summary_cell("complaints.received", None) == "—"
    assert summary_cell("casework.re_referral_rate", {"value": 0.19, "rag": "green"}) == "[bold green]19% G[/]"
