"""Simulated staff answering the learning loop (`services.simulation.loop`), without services:
when each follow-up is answered (on time, late, not by the clock's day), and what staff send
for it through which strand's API."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from services.simulation.loop import Answer, calls_for, decide, stories_for
from services.simulation.plan import SimulatedYear
from services.simulation.targets import DEMO_TARGETS, targets_json
from shared.calendar import LONDON, WorkingCalendar, london_date

TODAY = date(2023, 3, 31)
YEAR = SimulatedYear("2022-23", 1, 1.0, WorkingCalendar())


def followup(
    rule: str, origin: str, origin_id: str, opened: date, due: date, team: str | None = "through-care"
) -> dict[str, Any]:
    return {
        "followup_id": f"{rule}:{origin_id}",
        "rule": rule,
        "origin": origin,
        "origin_id": origin_id,
        "team": team,
        "service_area": "childrens_social_care",
        "opened_on": opened.isoformat(),
        "due_date": due.isoformat(),
    }


def test_answers_are_mostly_on_time_some_late_a_few_not_and_never_after_the_clock():
    opened, due = date(2022, 6, 1), date(2022, 7, 1)
    answers = [decide(followup("action", "audit", f"a{i}", opened, due), 1, TODAY) for i in range(2000)]
    outcomes = Counter(a.outcome for a in answers)
    assert outcomes["on time"] > 0.7 * 2000 and 0.12 * 2000 < outcomes["late"] < 0.22 * 2000
    assert 0.04 * 2000 < outcomes["not yet"] < 0.12 * 2000
    for a in answers:
        if a.outcome == "on time":
            assert opened <= a.day <= due  # type: ignore[operator]
        elif a.outcome == "late":
            assert due < a.day <= due + timedelta(days=35)  # type: ignore[operator]
    # the same seed decides the same way; the clock's day is the last one staff can act on
    again = decide(followup("action", "audit", "a7", opened, due), 1, TODAY)
    assert again == decide(followup("action", "audit", "a7", opened, due), 1, TODAY)
    late_opened = [
        decide(followup("action", "audit", f"b{i}", TODAY, TODAY + timedelta(days=30)), 1, TODAY) for i in range(200)
    ]
    assert all(a.day is None or a.day == TODAY for a in late_opened)
    assert any(a.day == TODAY for a in late_opened) and any(a.day is None for a in late_opened)


def test_a_follow_up_due_the_day_it_opens_is_answered_that_day_or_late():
    day = date(2022, 11, 7)
    for i in range(200):
        a = decide(followup("safeguarding-alert", "feedback", f"r{i}", day, day), 3, TODAY)
        assert a.day is None or a.day >= day
        assert (a.outcome == "on time") == (a.day == day)


def _answer(
    rule: str, origin: str, origin_id: str, *, team: str | None = "through-care", on: date | None = None
) -> Answer:
    opened, due = date(2022, 9, 1), date(2022, 9, 29)
    return Answer(followup(rule, origin, origin_id, opened, due, team), on or date(2022, 9, 20))


def test_each_rule_is_answered_through_the_strand_that_holds_it():
    done = calls_for(_answer("action", "complaint", "act-1"), YEAR, {})
    assert [(c.strand, c.method, c.path) for c in done] == [("complaints", "POST", "/v1/actions/act-1/complete")]
    assert london_date(done[0].at) == date(2022, 9, 20)
    assert [c.strand for c in calls_for(_answer("action", "concern", "act-2"), YEAR, {})] == ["audit"]
    assert calls_for(_answer("action", "inspection", "act-3"), YEAR, {}) == []  # no strand holds it here

    learning = calls_for(_answer("complaint-learning", "complaint", "c1"), YEAR, {})
    assert [(c.strand, c.path) for c in learning] == [
        ("complaints", "/v1/complaints/c1/actions"),
        ("complaints", "/v1/actions/{loop-action:complaint-learning:c1}/complete"),
    ]
    raised, completed = learning
    assert raised.body["due_date"] == "2022-09-29" and raised.capture == (
        "loop-action:complaint-learning:c1",
        "action_id",
    )
    assert date(2022, 9, 1) <= london_date(raised.at) <= london_date(completed.at) == date(2022, 9, 20)
    assert completed.at > raised.at

    alert = calls_for(_answer("safeguarding-alert", "feedback", "resp-1", team=None), YEAR, {})
    assert alert[0].path == "/v1/responses/resp-1/actions" and alert[0].body["team"]  # the response named no team
    said = calls_for(_answer("feedback-response", "feedback", "send:easy_to_contact_case_worker:2022-23-Q1"), YEAR, {})
    assert [c.path for c in said] == ["/v1/you-said-we-did"]
    assert (said[0].body["service_area"], said[0].body["theme"]) == ("send", "easy_to_contact_case_worker")
    assert calls_for(_answer("concern-targeted-audit", "concern", "k1"), YEAR, {}) == []  # left to the plan
    assert calls_for(Answer(followup("action", "audit", "a", date(2022, 9, 1), date(2022, 9, 2)), None), YEAR, {}) == []


def test_an_action_done_the_day_it_was_raised_is_completed_after_working_hours():
    (call,) = calls_for(_answer("action", "audit", "act-9", on=date(2022, 9, 1)), YEAR, {})
    assert call.at.astimezone(LONDON).hour >= 19


def test_a_weak_audit_is_audited_again_for_the_same_case_when_the_audit_service_shows_it():
    answer = _answer("re-audit", "audit", "audit-1")
    assert calls_for(answer, YEAR, {}) == []  # the audit could not be read
    seen = {
        "audit-1": {"case_reference": "WCF-1-00007", "service_area": "send", "team": "send-north", "audit_type": "ehcp"}
    }
    schedule, grade, complete = calls_for(answer, YEAR, seen)
    assert schedule.path == "/v1/audits" and schedule.body["case_reference"] == "WCF-1-00007"
    assert (schedule.body["team"], schedule.body["audit_type"]) == ("send-north", "ehcp")
    assert grade.path.endswith("/grades") and complete.path.endswith("/complete")
    assert london_date(complete.at) == date(2022, 9, 20)
    assert {c.kind for c in (schedule, grade, complete)} == {
        "audit.loop.schedule",
        "audit.loop.grade",
        "audit.loop.complete",
    }
    stories = stories_for([answer, Answer(answer.followup, None)], YEAR, seen)
    assert [s.key for s in stories] == ["loop:re-audit:audit-1"]


def test_the_demo_targets_say_where_they_come_from_and_have_the_settings_shape():
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "services" / "simulation" / "targets.py"
    text = source.read_text()
    for kpi in DEMO_TARGETS:
        lines = text[: text.index(f'"{kpi}"')].splitlines()[:-1]
        while not lines[-1].strip().startswith("#"):  # entries that share the comment above them
            lines.pop()
        comment = []
        while lines[-1].strip().startswith("#"):
            comment.append(lines.pop())
        said = " ".join(comment)
        assert "England" in said or "Illustrative demo target" in said, kpi
    for spec in targets_json().values():
        assert set(spec) == {"target", "amber_tolerance", "higher_is_better"}


def test_answers_depend_on_what_the_follow_up_is_not_on_the_ids_the_services_chose():
    about = {"text": "Routine audit of case k1:0000000000000001 (t), graded inadequate on 1 Jul 2022"}
    dates = (date(2022, 7, 1), date(2022, 8, 1))
    one = followup("re-audit", "audit", "3f1c-chosen-this-run", *dates) | {"subject": about}
    other = followup("re-audit", "audit", "9a2e-chosen-next-run", *dates) | {"subject": about}
    seen = {"case_reference": "WCF-1", "service_area": "send", "team": "t", "audit_type": "routine"}
    answered = 0
    for seed in range(1, 20):
        a, b = decide(one, seed, TODAY), decide(other, seed, TODAY)
        assert a.day == b.day
        if a.day is not None:
            answered += 1
            calls_a = calls_for(a, replace(YEAR, seed=seed), {one["origin_id"]: seen})
            calls_b = calls_for(b, replace(YEAR, seed=seed), {other["origin_id"]: seen})
            assert calls_a and [(c.at, c.body) for c in calls_a] == [(c.at, c.body) for c in calls_b]
    assert answered > 10
