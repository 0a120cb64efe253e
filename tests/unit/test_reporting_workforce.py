"""The workforce's per-worker rules and the workforce-review rule (services/reporting/workforce.py)
on plain facts: which record is in post at the end of which day — a leaver on 30 September,
an agency worker converting to employed, a leave before any join, joins and leaves at one
instant, arrival order — and when a team's quarter opens a review and what closes it."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from services.reporting.facts import ActionRaisedFact
from services.reporting.workforce import (
    TeamQuarter,
    WorkforceReviewRules,
    in_post,
    staff_timeline,
    workforce_review_followups,
)
from shared.calendar import parse_period
from tests.support.workforce import joined, left

SEPT_30 = date(2022, 9, 30)


def posted(facts, day):
    joins = [x for x in facts if hasattr(x, "joined_on")]
    timeline = staff_timeline(joins, [x for x in facts if hasattr(x, "left_on")])
    return {(j.worker_id, j.contract, j.team) for j in joins if in_post(j, timeline.until[j.key], day)}, timeline


def test_a_leaver_on_30_september_is_in_post_that_morning_and_not_at_its_end():
    j, x = joined("a", date(2020, 1, 6)), left("a", SEPT_30)
    now, timeline = posted([j, x], SEPT_30)
    assert now == set()
    assert posted([j, x], SEPT_30 - timedelta(days=1))[0] == {("a", "employed", "t1")}
    assert timeline.ended == {x.key: j}


def test_an_agency_worker_converting_is_a_changed_record_not_a_leaver():
    agency = joined("c", date(2022, 4, 1), contract="agency")
    employed = joined("c", date(2022, 8, 15), contract="employed")
    timeline = staff_timeline([employed, agency], [])
    assert timeline.until == {agency.key: date(2022, 8, 15), employed.key: None}
    assert timeline.ended == {}
    assert posted([agency, employed], date(2022, 8, 14))[0] == {("c", "agency", "t1")}
    assert posted([agency, employed], date(2022, 8, 15))[0] == {("c", "employed", "t1")}


def test_a_leave_ends_the_record_in_post_the_changed_one():
    first, moved = joined("g", date(2021, 1, 4), team="x"), joined("g", date(2022, 8, 1), team="y")
    gone = left("g", date(2022, 9, 15))
    timeline = staff_timeline([first, moved], [gone])
    assert timeline.ended[gone.key] is moved


def test_a_leave_before_any_join_and_a_second_leave_end_nothing():
    early, j, x, again = (
        left("a", date(2022, 1, 3)),
        joined("a", date(2022, 2, 1)),
        left("a", date(2022, 3, 1)),
        left("a", date(2022, 4, 1)),
    )
    timeline = staff_timeline([j], [early, x, again])
    assert timeline.ended == {x.key: j}
    assert timeline.until[j.key] == date(2022, 3, 1)


def test_joined_and_left_at_one_instant_is_not_in_post_and_rejoining_is_a_new_spell():
    j = joined("a", date(2022, 5, 2), hour=9)
    x = left("a", date(2022, 5, 2), hour=9)
    back = joined("a", date(2022, 6, 1))
    now, timeline = posted([j, x, back], date(2022, 5, 2))
    assert now == set() and timeline.ended == {x.key: j}
    assert posted([j, x, back], date(2022, 6, 1))[0] == {("a", "employed", "t1")}


def test_the_timeline_does_not_depend_on_arrival_order_or_copies():
    facts = [
        joined("a", date(2021, 1, 4)),
        joined("a", date(2022, 1, 4), fte=0.5),
        left("a", date(2022, 6, 30)),
        joined("a", date(2022, 9, 1), contract="agency"),
        joined("b", date(2022, 3, 1)),
    ]
    want = staff_timeline([f for f in facts if hasattr(f, "joined_on")], [f for f in facts if hasattr(f, "left_on")])
    rng = random.Random(4)
    for _ in range(20):
        shuffled = facts + rng.sample(facts, 2)
        rng.shuffle(shuffled)
        got = staff_timeline(
            [f for f in shuffled if hasattr(f, "joined_on")], [f for f in shuffled if hasattr(f, "left_on")]
        )
        assert got == want


# --------------------------------------------------------------------------- workforce-review

Q1, Q2, Q3 = (parse_period(f"2022-23-Q{i}") for i in (1, 2, 3))


def quarter(q, turnover=None, caseload=None, team="x"):
    return TeamQuarter(team, "childrens_social_care", q, turnover, caseload)


def action(team, on, origin="workforce"):
    return ActionRaisedFact(
        key=f"/qaloop/workforce {team}-{on}",
        event_id=f"{team}-{on}",
        action_id=f"{team}-{on}",
        origin=origin,
        origin_id=f"childrens_social_care:{team}",
        team=team,
        service_area="childrens_social_care",
        raised_on=on,
        due_date=on + timedelta(days=30),
    )


RULES = WorkforceReviewRules(turnover_target=0.05, caseload_target=20.0)


@pytest.mark.parametrize(
    ("q1", "q2", "opens"),
    [
        (0.06, 0.06, True),  # two consecutive quarters over
        (0.05, 0.06, False),  # at the target is not over it
        (None, 0.09, False),  # no figure for the quarter before
        (0.06, None, False),
    ],
)
def test_turnover_over_target_two_quarters_running(q1, q2, opens):
    found = workforce_review_followups([quarter(Q1, q1), quarter(Q2, q2)], [], RULES)
    assert [f.origin_id for f in found] == (["x:2022-23-Q2"] if opens else [])


def test_caseload_over_target_opens_on_its_own_and_an_action_for_the_team_closes_it():
    actions = [
        action("x", date(2022, 9, 30)),  # before the opening
        action("y", date(2022, 10, 3)),  # another team
        action("x", date(2022, 10, 4), origin="audit"),  # not a workforce action
        action("x", date(2022, 10, 12)),
    ]
    (review,) = workforce_review_followups([quarter(Q2, caseload=20.5)], actions, RULES)
    assert (review.rule, review.team, review.opened_on, review.due_date) == (
        "workforce-review",
        "x",
        date(2022, 10, 1),
        date(2022, 12, 31),
    )
    assert (review.closed_on, review.closed_by_event_id) == (date(2022, 10, 12), "x-2022-10-12")


def test_per_team_targets_override_the_defaults():
    rules = WorkforceReviewRules(turnover_target=None, caseload_target=20.0, team_targets={"x": {"caseload": 25}})
    found = workforce_review_followups([quarter(Q3, caseload=22.0), quarter(Q3, caseload=22.0, team="y")], [], rules)
    assert [f.team for f in found] == ["y"]
