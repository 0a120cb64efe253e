"""The dashboard's period choices (issue 14, item 10): months as well as quarters and years,
each one an id the reporting API accepts (CONTRACT.md §2: `YYYY-MM`, `YYYY-YY-Qn`, `YYYY-YY`)."""

from __future__ import annotations

from datetime import date

from services.reporting.dashboard import period_choices
from shared.calendar import parse_period


def test_each_quarter_is_followed_by_its_months_newest_first_then_the_year():
    choices = period_choices(date(2022, 5, 3), date(2022, 8, 20))
    assert [c["id"] for c in choices] == [
        "2022-23-Q2",
        "2022-08",
        "2022-07",
        "2022-23-Q1",
        "2022-06",
        "2022-05",  # the first activity's month: April had none
        "2022-23",
    ]
    assert [c["kind"] for c in choices[:3]] == ["quarter", "month", "month"]
    months = {c["id"]: c["label"] for c in choices if c["kind"] == "month"}
    assert months["2022-08"] == "August 2022 (month)"


def test_every_choice_is_a_period_the_api_parses_to_the_same_kind():
    choices = period_choices(date(2020, 1, 15), date(2023, 6, 30))
    for c in choices:
        parsed = parse_period(c["id"])
        assert (parsed.label, parsed.kind) == (c["id"], c["kind"])
    # January to March 2020 belong to the financial year 2019-20
    assert [c["id"] for c in choices if c["kind"] == "month"][-3:] == ["2020-03", "2020-02", "2020-01"]
    assert sum(c["kind"] == "month" for c in choices) == 42  # January 2020 to June 2023


def test_a_month_whose_id_would_name_a_financial_year_is_not_offered():
    # "2011-12" is the financial year 2011-12 (CONTRACT.md's reading), never December 2011
    choices = period_choices(date(2011, 11, 1), date(2012, 1, 31))
    ids = [c["id"] for c in choices]
    assert "2011-11" in ids and "2012-01" in ids
    assert [c["kind"] for c in choices if c["id"] == "2011-12"] == ["year"]
