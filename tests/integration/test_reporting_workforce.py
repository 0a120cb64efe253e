"""Workforce KPIs (DOMAIN.md "Workforce" and its precise reading) through the real read
models and KPI SQL (`tests/support/readmodels.py`), at their edges, and against the plain
Python oracle (`tests/support/workforce.py`) on random staff histories."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from services.reporting.kpis import Filters, apply_publication_rules
from shared.calendar import default_calendar, parse_period
from tests.support.workforce import caseload, joined, left, oracle, survey, vacancy

pytestmark = pytest.mark.integration
CAL = default_calendar()
Q1 = parse_period("2022-23-Q1")
Q2 = parse_period("2022-23-Q2")
Q3 = parse_period("2022-23-Q3")
TODAY = date(2024, 6, 1)
H: Any = None
WORKFORCE = [
    "workforce.turnover_rate",
    "workforce.vacancy_rate",
    "workforce.agency_rate",
    "workforce.average_caseload",
    "workforce.stability_rate",
]


@pytest.fixture(autouse=True, scope="module")
def _harness(readmodels):
    global H
    H = readmodels


def figures(facts, period=Q2, filters=Filters(), batch_sizes=()) -> dict[str, tuple]:
    tenant = H.load(facts, calendar=CAL, batch_sizes=batch_sizes)
    (values,) = H.figures(tenant, [period], filters, today=TODAY)
    return {v.kpi: (v.value, v.numerator, v.denominator) for v in values if v.kpi.startswith("workforce.")}


def test_a_leaver_on_30_september_leaves_in_q2_and_is_not_in_post_at_its_end():
    facts = [joined("a", date(2021, 1, 4)), joined("b", date(2021, 1, 4)), left("a", date(2022, 9, 30))]
    got = figures(facts)
    # start (end of 30 June): a and b, 2 FTE; end (end of 30 September): b only, 1 FTE
    assert got["workforce.turnover_rate"] == (1 / 1.5, 1.0, 1.5)
    assert got["workforce.stability_rate"] == (1.0, 1, 1)
    q3 = figures(facts, Q3)
    assert q3["workforce.turnover_rate"] == (0.0, 0.0, 1.0)  # not a leaver in Q3, not in post at its start


def test_part_time_fte_counts_as_its_fraction():
    facts = [
        joined("a", date(2021, 1, 4), fte=0.5),
        joined("b", date(2021, 1, 4), fte=0.8),
        left("a", date(2022, 8, 1), "pay"),
    ]
    got = figures(facts)
    assert got["workforce.turnover_rate"] == pytest.approx((0.5 / ((1.3 + 0.8) / 2), 0.5, 1.05))


def test_an_agency_worker_converting_to_employed_is_not_a_leaver():
    facts = [
        joined("c", date(2022, 4, 1), contract="agency"),
        joined("e", date(2021, 4, 1)),
        joined("c", date(2022, 8, 15), contract="employed"),  # a second StaffJoined: the record changes
    ]
    q1, q2 = figures(facts, Q1), figures(facts, Q2)
    assert q1["workforce.agency_rate"] == (0.5, 1.0, 2.0)
    assert q2["workforce.agency_rate"] == (0.0, 0.0, 2.0)
    assert q2["workforce.turnover_rate"] == (0.0, 0.0, 1.5)  # employed: 1 at the start, 2 at the end
    # stability: c was agency 12 months before (not in post at all, in fact); e was employed
    assert q2["workforce.stability_rate"] == (0.5, 1, 2)


def test_stability_looks_back_12_calendar_months_any_team():
    facts = [
        joined("d", date(2021, 9, 30), team="x"),  # in post at the end of 30 Sep 2021
        joined("d", date(2022, 3, 1), team="y"),  # moved team: still the same worker
        joined("e", date(2021, 10, 1), team="y"),  # joined the day after
        joined("f", date(2021, 6, 1), team="y", contract="agency"),
        joined("f", date(2022, 1, 1), team="y", contract="employed"),
    ]
    got = figures(facts, Q2, Filters(team="y"))
    assert got["workforce.stability_rate"] == (1 / 3, 1, 3)


def test_filters_take_the_team_of_the_record_in_post_and_a_leaver_its_ended_record():
    facts = [
        joined("g", date(2021, 1, 4), team="x"),
        joined("h", date(2021, 1, 4), team="x"),
        joined("g", date(2022, 8, 1), team="y", area="fostering"),
        left("g", date(2022, 9, 15), "management"),
    ]
    x = figures(facts, Q2, Filters(team="x"))
    y = figures(facts, Q2, Filters(team="y"))
    fostering = figures(facts, Q2, Filters(service_area="fostering"))
    assert x["workforce.turnover_rate"] == (0.0, 0.0, 1.5)  # g in x at the start, h at both ends
    assert y["workforce.turnover_rate"] == (None, 1.0, 0.0)  # g left from y; y had no one at either end
    assert fostering["workforce.turnover_rate"] == (None, 1.0, 0.0)


def test_average_caseload_uses_each_case_holders_latest_snapshot_and_zero_without_one():
    facts = [
        joined("a", date(2022, 1, 1), fte=1.0),
        joined("b", date(2022, 1, 1), fte=0.5),
        joined("c", date(2022, 1, 1), case_holding=False),
        joined("m", date(2022, 1, 1), role="other"),
        caseload("a", date(2022, 6, 30), 20),
        caseload("a", date(2022, 9, 30), 18),
        caseload("a", date(2022, 10, 1), 99),  # after the end
        caseload("c", date(2022, 9, 1), 5),  # not case-holding
        caseload("m", date(2022, 9, 1), 7),  # not a social worker
    ]
    assert figures(facts)["workforce.average_caseload"] == (12.0, 18.0, 1.5)


def test_vacancy_rate_takes_each_teams_latest_record_on_or_before_the_end():
    facts = [
        joined("a", date(2022, 1, 1), team="x"),
        joined("b", date(2022, 1, 1), team="x", contract="agency"),
        vacancy("x", date(2022, 4, 1), 3.0),
        vacancy("x", date(2022, 9, 30), 1.0),
        vacancy("x", date(2022, 10, 1), 5.0),
        vacancy("z", date(2022, 7, 1), 2.0, area="send"),
    ]
    got = figures(facts)
    assert got["workforce.vacancy_rate"] == (3.0 / 4.0, 3.0, 4.0)
    assert figures(facts, Q2, Filters(service_area="send"))["workforce.vacancy_rate"] == (1.0, 2.0, 2.0)
    assert got["workforce.agency_rate"] == (0.5, 1.0, 2.0)


def test_other_roles_are_in_no_workforce_kpi():
    facts = [joined("o", date(2022, 1, 1), role="other"), left("o", date(2022, 8, 1))]
    got = figures(facts)
    assert got["workforce.turnover_rate"] == (None, 0.0, 0.0)
    assert got["workforce.stability_rate"] == (None, 0, 0)


def test_a_leave_before_any_join_ends_nothing_and_order_of_arrival_does_not_matter():
    facts = [
        left("a", date(2022, 5, 1)),
        joined("a", date(2022, 6, 1)),
        joined("b", date(2022, 1, 1)),
        left("a", date(2022, 8, 1)),
    ]
    in_order = figures(facts)
    assert in_order["workforce.turnover_rate"] == (1.0 / 1.5, 1.0, 1.5)
    assert figures(list(reversed(facts)), batch_sizes=[1]) == in_order


def test_staff_survey_positive_rate_and_team_filter_drop_out():
    facts = [
        survey(date(2022, 8, 1), {"manageable_caseload": True, "supervision": None}),
        survey(date(2022, 8, 2), {"manageable_caseload": False}, team=None),
        survey(date(2022, 8, 3), {"manageable_caseload": True}),
    ]
    tenant = H.load(facts, calendar=CAL)
    ((v,),) = H.figures(
        tenant, [Q2], Filters(), today=TODAY, kpi_ids=["workforce.survey_positive_rate.manageable_caseload"]
    )
    assert (v.value, v.numerator, v.denominator) == (2 / 3, 2, 3)
    ((t,),) = H.figures(tenant, [Q2], Filters(team="t1"), today=TODAY, kpi_ids=[v.kpi])
    assert (t.value, t.numerator, t.denominator) == (1.0, 2, 2)
    (values,) = H.figures(tenant, [Q2], Filters(), today=TODAY)
    assert "workforce.survey_positive_rate.manageable_caseload" in {x.kpi for x in values}
    assert "workforce.survey_positive_rate.supervision" not in {x.kpi for x in values}  # skipped only


def test_a_team_of_four_is_suppressed_in_published_figures():
    facts = [joined(w, date(2021, 1, 4), team="small") for w in "abcd"] + [left("a", date(2022, 8, 1))]
    tenant = H.load(facts, calendar=CAL)
    (values,) = H.figures(tenant, [Q2], Filters(team="small"), today=TODAY)
    published = {v.kpi: v for v in apply_publication_rules(values, detail=False)}
    for kpi in ("workforce.turnover_rate", "workforce.stability_rate", "workforce.agency_rate"):
        assert published[kpi].suppressed and published[kpi].value is None, kpi
    half = [joined("p", date(2021, 1, 4), fte=0.5, team="tiny")]
    (values,) = H.figures(H.load(half, calendar=CAL), [Q2], Filters(team="tiny"), today=TODAY)
    published = {v.kpi: v for v in apply_publication_rules(values, detail=False)}
    assert published["workforce.agency_rate"].suppressed  # 0.5 FTE is one person


def _history(rng: random.Random) -> list:
    teams = [("x", "childrens_social_care"), ("y", "childrens_social_care"), ("z", "send")]
    facts: list = []
    for w in range(40):
        worker = f"w{w}"
        day = date(2020, 1, 1) + timedelta(days=rng.randrange(1200))
        for _ in range(rng.randrange(1, 5)):
            team, area = rng.choice(teams)
            facts.append(
                joined(
                    worker,
                    day,
                    team=team,
                    area=area,
                    role=rng.choice(["social_worker", "senior", "manager", "other"]),
                    contract=rng.choice(["employed", "employed", "agency"]),
                    fte=rng.choice([1.0, 1.0, 0.8, 0.5, 0.6]),
                    case_holding=rng.random() < 0.8,
                    hour=rng.randrange(24),
                )
            )
            if rng.random() < 0.4:
                day += timedelta(days=rng.randrange(0, 200))
                facts.append(left(worker, day, hour=rng.randrange(24)))
            if rng.random() < 0.7:
                facts.append(caseload(worker, day + timedelta(days=rng.randrange(0, 120)), rng.randrange(0, 30)))
            day += timedelta(days=rng.randrange(0, 200))
    for team, area in teams:
        for _ in range(3):
            facts.append(
                vacancy(
                    team, date(2021, 1, 1) + timedelta(days=rng.randrange(900)), rng.choice([0.0, 1.0, 2.5]), area=area
                )
            )
    rng.shuffle(facts)
    return facts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_agrees_with_the_oracle_on_random_histories(seed):
    rng = random.Random(seed)
    facts = _history(rng)
    tenant = H.load(facts, calendar=CAL, batch_sizes=[7, 3, 11])
    periods = [parse_period(p) for p in ("2021-22-Q3", "2022-23", "2022-07", "2022-23-Q4", "2023-02")]
    for filters in (Filters(), Filters(team="x"), Filters(service_area="send"), Filters("childrens_social_care", "y")):
        got = H.figures(tenant, periods, filters, today=TODAY, kpi_ids=WORKFORCE)
        for period, values in zip(periods, got, strict=True):
            want = oracle(facts, period, filters.service_area, filters.team)
            for v in values:
                assert (v.value, v.numerator, v.denominator) == pytest.approx(want[v.kpi]), (
                    period.label,
                    filters,
                    v.kpi,
                )


# --------------------------------------------------------------------------- workforce-review


def _action(team: str, on: date) -> Any:
    from services.reporting.facts import ActionRaisedFact

    eid = f"act-{team}-{on.isoformat()}"
    return ActionRaisedFact(
        key=f"/qaloop/workforce {eid}",
        event_id=eid,
        action_id=eid,
        origin="workforce",
        origin_id=f"childrens_social_care:{team}",
        team=team,
        service_area="childrens_social_care",
        raised_on=on,
        due_date=on + timedelta(days=60),
    )


def _reviews(tenant: str) -> dict[str, Any]:
    return {f.origin_id: f for f in H.followups(tenant) if f.rule == "workforce-review"}


def test_turnover_over_target_two_quarters_running_opens_a_workforce_review_closed_by_a_team_action():
    # team x: 10 employed social workers; one leaves in Q1 and one in Q2 (turnover ~10% > 5%)
    staff = [joined(f"x{i}", date(2021, 1, 4), team="x", case_holding=False) for i in range(10)]
    leaves = [left("x0", date(2022, 5, 2)), left("x1", date(2022, 8, 1))]
    snapshot = [caseload("x9", date(2022, 12, 31), 0)]  # a later fact reaches Q3
    tenant = H.load([*staff, *leaves, *snapshot], calendar=CAL, batch_sizes=[3])
    reviews = _reviews(tenant)
    assert list(reviews) == ["x:2022-23-Q2"]  # Q1 alone is one quarter: not yet
    review = reviews["x:2022-23-Q2"]
    assert (review.team, review.service_area) == ("x", "childrens_social_care")
    assert (review.opened_on, review.due_date, review.closed_on) == (date(2022, 10, 1), date(2022, 12, 31), None)
    actions = [_action("x", date(2022, 9, 15)), _action("y", date(2022, 10, 5)), _action("x", date(2022, 10, 20))]
    tenant2 = H.load([*staff, *leaves, *snapshot, *actions], calendar=CAL)
    closed = _reviews(tenant2)["x:2022-23-Q2"]
    assert closed.closed_on == date(2022, 10, 20)  # the first action for x on or after the opening


def test_average_caseload_over_target_opens_a_workforce_review_per_quarter():
    facts = [
        joined("a", date(2022, 1, 4), team="busy"),
        joined("b", date(2022, 1, 4), team="busy", fte=0.5),
        caseload("a", date(2022, 6, 30), 25),
        caseload("b", date(2022, 6, 30), 10),  # 35 cases / 1.5 FTE = 23.3 > 20
        caseload("a", date(2022, 9, 30), 15),  # 25 / 1.5 = 16.7
    ]
    tenant = H.load(facts, calendar=CAL, batch_sizes=[1])
    reviews = _reviews(tenant)
    assert "busy:2022-23-Q1" in reviews and "busy:2022-23-Q2" not in reviews
    assert reviews["busy:2022-23-Q1"].due_date == date(2022, 9, 30)


def test_a_later_batch_with_the_teams_action_closes_an_earlier_quarters_review():
    staff = [joined(f"x{i}", date(2021, 1, 4), team="x", case_holding=False) for i in range(10)]
    leaves = [left("x0", date(2022, 5, 2)), left("x1", date(2022, 8, 1))]
    late_action = _action("x", date(2023, 1, 20))  # two quarters after the Q2 review opened
    tenant = H.load([*staff, *leaves, late_action], calendar=CAL, batch_sizes=[len(staff) + 2, 1])
    review = _reviews(tenant)["x:2022-23-Q2"]
    assert (review.closed_on, review.closed_by_event_id) == (date(2023, 1, 20), late_action.event_id)


def test_the_breakdowns_teams_are_every_team_the_periods_figures_count():
    """One set of teams for every per-team breakdown (the dashboard's and the report's): a team
    whose social workers joined long before the quarter is there (its workforce figures are),
    and one whose social worker left in it (its turnover is), but not after it; a team with
    vacant posts at its end (its vacancy rate); not a team with only other staff."""
    facts = [
        joined("a", date(2019, 5, 1), team="steady", area="fostering"),  # in post, nothing else in Q2
        joined("b", date(2022, 8, 1), team="new", area="send"),  # joined in Q2: a row dated in it
        joined("c", date(2020, 1, 6), team="gone", area="send"),
        left("c", date(2022, 9, 1)),  # left in Q2: a leaver of Q2, in post at no later end
        joined("d", date(2020, 1, 6), team="office", area="send", role="other"),
        vacancy("vacant", date(2022, 3, 1), 1.0, area="send"),  # vacant posts, no one in post
        vacancy("filled", date(2022, 3, 1), 1.0, area="send"),
        vacancy("filled", date(2022, 8, 1), 0.0, area="send"),  # none vacant from Q2
    ]
    tenant = H.load(facts, calendar=CAL)
    vacant = ("vacant", "send")
    assert H.teams(tenant, Q1) == [("steady", "fostering"), ("filled", "send"), ("gone", "send"), vacant]
    assert H.teams(tenant, Q2) == [("steady", "fostering"), ("gone", "send"), ("new", "send"), vacant]
    assert H.teams(tenant, Q3) == [("steady", "fostering"), ("new", "send"), vacant]
