"""Follow-up rules (DOMAIN.md "Closing the learning loop", "Precise readings"), by hand.

Calendar facts used: Mon 19 Sep 2022 (Queen's funeral), Mon 26 / Tue 27 Dec 2022 and Mon
2 Jan 2023 are bank holidays in England.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from services.reporting.facts import (
    ActionCompletedFact,
    ActionRaisedFact,
    AnswerFact,
    AuditGradedFact,
    AuditModeratedFact,
    ComplaintClosedFact,
    ComplaintReceivedFact,
    ConcernRaisedFact,
    ConcernResolvedFact,
    Facts,
    FeedbackFact,
    YouSaidWeDidFact,
    fact_from_event,
)
from services.reporting.followups import FollowUp, FollowUpRules, derive
from shared import events as ev
from shared.calendar import default_calendar

CAL = default_calendar()
_ids = itertools.count(1)


def _id() -> str:
    return f"e{next(_ids):05d}"


def at(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def by_id(facts: Facts, rule: str | None = None, **kw) -> dict[str, FollowUp]:
    return {f.followup_id: f for f in derive(facts, calendar=CAL, **kw) if rule in (None, f.rule)}


# --------------------------------------------------------------------------- factories


def audit(audit_id, on, grade, *, case="k1", seq=1, team="t1", area="send"):
    eid = _id()
    return AuditGradedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        audit_id=audit_id,
        case_ref=case,
        service_area=area,
        team=team,
        audit_type="routine",
        concern_id=None,
        completed_at=at(on),
        completed_on=on,
        overall_grade=grade,
        sequence=seq,
    )


def moderation(audit_id, on, after, *, seq=2):
    eid = _id()
    return AuditModeratedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        audit_id=audit_id,
        grade_before="good",
        grade_after=after,
        moderated_at=at(on),
        moderated_on=on,
        sequence=seq,
    )


def received(cid, on, *, team="t1", area="childrens_social_care"):
    eid = _id()
    return ComplaintReceivedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        procedure="statutory_children",
        stage=1,
        category="communication",
        team=team,
        service_area=area,
        received_on=on,
    )


def closed(cid, on, outcome, *, stage=1, hour=12):
    eid = _id()
    return ComplaintClosedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        complaint_id=cid,
        stage=stage,
        closed_at=at(on, hour),
        closed_on=on,
        outcome=outcome,
        due_date=on,
        within_timescale=True,
        working_days_taken=1,
    )


def action(action_id, origin_id, *, origin="complaint", raised=date(2022, 7, 1),
           due=date(2022, 8, 1), team="t1", area="send"):  # fmt: skip
    eid = _id()
    return ActionRaisedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        action_id=action_id,
        origin=origin,
        origin_id=origin_id,
        team=team,
        service_area=area,
        raised_on=raised,
        due_date=due,
    )


def completion(action_id, on, *, hour=12, event_id=None):
    eid = event_id or _id()
    return ActionCompletedFact(
        key=f"/qaloop/complaints {eid}",
        event_id=eid,
        action_id=action_id,
        completed_at=at(on, hour),
        completed_on=on,
    )


def concern(cid, raised, review_by, area="fostering"):
    eid = _id()
    return ConcernRaisedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        concern_id=cid,
        service_area=area,
        theme="planning",
        raised_on=raised,
        review_by=review_by,
    )


def resolution(cid, on, *, event_id=None):
    eid = event_id or _id()
    return ConcernResolvedFact(
        key=f"/qaloop/audit {eid}",
        event_id=eid,
        concern_id=cid,
        resolved_at=at(on),
        resolved_on=on,
    )


def response(on, answers, *, area="send", team="t1", response_id=None):
    eid = _id()
    return FeedbackFact(
        key=f"/qaloop/feedback {eid}",
        event_id=eid,
        response_id=response_id or eid,
        survey_id="s1",
        service_area=area,
        team=team,
        respondent="child",
        received_at=at(on),
        received_on=on,
        answers=tuple(answers),
    )


def yswd(on, area, theme):
    eid = _id()
    return YouSaidWeDidFact(
        key=f"/qaloop/feedback {eid}",
        event_id=eid,
        item_id=eid,
        service_area=area,
        theme=theme,
        published_at=at(on),
        published_on=on,
    )


# --------------------------------------------------------------------------- FollowUp


def test_followup_status_and_on_time():
    f = FollowUp("x", "action", "audit", "a", "t", "send", date(2022, 9, 1), date(2022, 9, 10))
    assert f.on_time is None
    assert f.status(date(2022, 8, 31)) == "not_yet_open"
    assert f.status(date(2022, 9, 1)) == "open"
    assert f.status(date(2022, 9, 10)) == "open"
    assert f.status(date(2022, 9, 11)) == "overdue"
    late = FollowUp(
        "x", "action", "audit", "a", "t", "send", date(2022, 9, 1), date(2022, 9, 10),
        date(2022, 9, 12), "ev",
    )  # fmt: skip
    assert late.on_time is False
    assert late.status(date(2022, 9, 11)) == "overdue"
    assert late.status(date(2022, 9, 12)) == "closed"
    on_time = FollowUp(
        "x", "action", "audit", "a", "t", "send", date(2022, 9, 1), date(2022, 9, 10),
        date(2022, 9, 10), "ev",
    )  # fmt: skip
    assert on_time.on_time is True


# --------------------------------------------------------------------------- complaint-learning


def test_complaint_learning_from_first_upheld_closing_closed_by_action_on_or_after():
    # First upheld/partially upheld closing Fri 16 Dec 2022; 20th working day after it:
    # 19-23 Dec (1-5), 26/27 Dec holidays, 28-30 Dec (6-8), 2 Jan holiday, 3-6 Jan (9-12),
    # 9-13 Jan (13-17), 16-18 Jan (18-20) -> Wed 18 Jan 2023.
    facts = Facts.of(
        [
            received("c1", date(2022, 11, 1), team="t9", area="fostering"),
            closed("c1", date(2022, 11, 20), "not_upheld"),
            closed("c1", date(2022, 12, 16), "partially_upheld", stage=2),
            closed("c1", date(2023, 3, 1), "upheld", stage=3),  # not a second follow-up
            action("x", "c1"),
            completion("x", date(2022, 12, 15)),  # before the closing: not evidence
            completion("x", date(2023, 1, 20)),
            action("y", "c1"),
            ycomp := completion("y", date(2023, 1, 19)),
            action("z", "other"),
            completion("z", date(2022, 12, 20)),  # another origin
        ]
    )
    fu = by_id(facts, "complaint-learning")
    assert list(fu) == ["complaint-learning:c1"]
    f = fu["complaint-learning:c1"]
    assert (f.origin, f.origin_id, f.team, f.service_area) == ("complaint", "c1", "t9", "fostering")
    assert f.opened_on == date(2022, 12, 16)
    assert f.due_date == date(2023, 1, 18)
    assert f.closed_on == date(2023, 1, 19)
    assert f.closed_by_event_id == ycomp.event_id
    assert f.on_time is False


def test_complaint_learning_same_day_action_closes_and_unknown_complaint_has_no_team():
    facts = Facts.of(
        [
            closed("c2", date(2022, 9, 16), "upheld"),
            action("a", "c2"),
            completion("a", date(2022, 9, 16), hour=8),
            closed("c3", date(2022, 9, 16), "not_upheld"),
            closed("c4", date(2022, 9, 16), "withdrawn"),
        ]
    )
    fu = by_id(facts, "complaint-learning")
    assert list(fu) == ["complaint-learning:c2"]
    f = fu["complaint-learning:c2"]
    assert (f.team, f.service_area) == (None, None)
    # Fri 16 Sep 2022 + 20 working days: 19 Sep holiday; 20-23 Sep (1-4), 26-30 (5-9),
    # 3-7 Oct (10-14), 10-14 Oct (15-19), Mon 17 Oct (20).
    assert f.due_date == date(2022, 10, 17)
    assert f.closed_on == date(2022, 9, 16)
    assert f.on_time is True


# --------------------------------------------------------------------------- re-audit


def test_re_audit_due_dates_next_audit_and_improvement():
    a1 = audit("a1", date(2022, 7, 5), "requires_improvement")
    a2 = audit("a2", date(2022, 9, 1), "inadequate")
    a3 = audit("a3", date(2022, 11, 1), "good")
    other_case = audit("a4", date(2022, 8, 1), "good", case="k2")
    fu = by_id(Facts.of([a3, other_case, a2, a1]), "re-audit")
    assert set(fu) == {"re-audit:a1", "re-audit:a2"}
    f1, f2 = fu["re-audit:a1"], fu["re-audit:a2"]
    assert (f1.origin, f1.origin_id, f1.team, f1.service_area) == ("audit", "a1", "t1", "send")
    assert (f1.opened_on, f1.due_date) == (date(2022, 7, 5), date(2022, 10, 5))  # 3 months
    assert (f1.closed_on, f1.closed_by_event_id, f1.improved) == (
        date(2022, 9, 1),
        a2.event_id,
        False,  # inadequate is worse than requires improvement
    )
    assert (f2.opened_on, f2.due_date) == (date(2022, 9, 1), date(2022, 10, 1))  # 1 month
    assert (f2.closed_on, f2.closed_by_event_id, f2.improved) == (
        date(2022, 11, 1),
        a3.event_id,
        True,
    )
    assert f2.on_time is False


def test_re_audit_month_end_clamp_and_open_without_a_next_audit():
    fu = by_id(Facts.of([audit("a1", date(2022, 11, 30), "requires_improvement")]), "re-audit")
    f = fu["re-audit:a1"]
    assert f.due_date == date(2023, 2, 28)
    assert (f.closed_on, f.closed_by_event_id, f.improved) == (None, None, None)


def test_re_audit_uses_the_latest_moderated_grade():
    facts = Facts.of(
        [
            audit("up", date(2022, 7, 1), "requires_improvement", case="k1"),
            moderation("up", date(2022, 7, 10), "good"),  # no longer needs a re-audit
            audit("down", date(2022, 7, 1), "good", case="k2"),
            moderation("down", date(2022, 7, 10), "requires_improvement"),
            moderation("down", date(2022, 7, 20), "inadequate", seq=3),  # latest
            audit("next", date(2022, 9, 1), "inadequate", case="k2"),
            moderation("next", date(2022, 9, 5), "requires_improvement"),
        ]
    )
    fu = by_id(facts, "re-audit")
    assert set(fu) == {"re-audit:down", "re-audit:next"}
    f = fu["re-audit:down"]
    assert (f.opened_on, f.due_date) == (date(2022, 7, 1), date(2022, 8, 1))
    assert f.closed_on == date(2022, 9, 1)
    assert f.improved is True  # inadequate -> requires improvement (moderated)
    assert fu["re-audit:next"].due_date == date(2022, 12, 1)


def test_re_audit_london_dates_and_regrading():
    fact = fact_from_event(
        *_event(
            ev.AuditGraded(
                audit_id="a1",
                case_ref="k1",
                service_area="send",
                team="t1",
                audit_type="routine",
                completed_at="2022-06-30T23:30:00Z",
                area_grades=[{"area": "voice", "grade": "inadequate"}],
                overall_grade="inadequate",
                auditor_id="u",
            ),
            "/qaloop/audit",
        )
    )
    f = by_id(Facts.of([fact]), "re-audit")["re-audit:a1"]
    assert (f.opened_on, f.due_date) == (date(2022, 7, 1), date(2022, 8, 1))
    # The same audit graded again (higher sequence) replaces the first grading.
    regraded = audit("a1", date(2022, 7, 3), "good", seq=4)
    assert by_id(Facts.of([fact, regraded]), "re-audit") == {}


def _event(data: ev.EventData, source: str, seq: int = 1):
    envelope = ev.new_event(data, source=source, tenant="E1", sequence=seq)
    return envelope, data


# --------------------------------------------------------------------------- concerns


def test_concern_targeted_audit_closed_by_first_resolution():
    facts = Facts.of(
        [
            concern("k1", date(2022, 7, 1), date(2022, 10, 1)),
            resolution("k1", date(2022, 10, 3), event_id="r-late"),
            resolution("k1", date(2022, 9, 30), event_id="r-first"),
            concern("k2", date(2022, 8, 1), date(2022, 9, 1)),
        ]
    )
    fu = by_id(facts, "concern-targeted-audit")
    f = fu["concern-targeted-audit:k1"]
    assert (f.origin, f.origin_id, f.team, f.service_area) == ("concern", "k1", None, "fostering")
    assert (f.opened_on, f.due_date) == (date(2022, 7, 1), date(2022, 10, 1))
    assert (f.closed_on, f.closed_by_event_id, f.on_time) == (date(2022, 9, 30), "r-first", True)
    g = fu["concern-targeted-audit:k2"]
    assert g.closed_on is None
    assert g.status(date(2022, 9, 2)) == "overdue"


# --------------------------------------------------------------------------- feedback-response


def _answers(n_pos: int, n_neg: int, n_skip: int = 0, q: str = "easy_contact"):
    return (
        [AnswerFact(q, True, False)] * n_pos
        + [AnswerFact(q, False, False)] * n_neg
        + [AnswerFact(q, None, False)] * n_skip
    )


def test_feedback_response_below_60_percent_with_at_least_5_answers():
    rows = [
        # send, Q2 2022-23: 2 positive of 5 = 40% -> follow-up.
        *[response(date(2022, 8, 1), [a]) for a in _answers(2, 3)],
        # fostering, Q2: 3 of 5 = 60% -> none (not below).
        *[response(date(2022, 8, 1), [a], area="fostering") for a in _answers(3, 2)],
        # early_help, Q2: 0 of 4 answered (+3 skipped) -> too few answers.
        *[response(date(2022, 8, 1), [a], area="early_help") for a in _answers(0, 4, 3)],
        # send, Q4 2022-23: 0 of 5.
        *[response(date(2023, 2, 1), [a], team=None) for a in _answers(0, 5)],
        yswd(date(2022, 9, 30), "send", "easy_contact"),  # before opening
        yswd(date(2022, 10, 5), "fostering", "easy_contact"),  # other area
        yswd(date(2022, 10, 7), "send", "other_question"),  # other theme
        closing := yswd(date(2022, 10, 10), "send", "easy_contact"),
        yswd(date(2022, 10, 11), "send", "easy_contact"),
    ]
    fu = by_id(Facts.of(rows), "feedback-response")
    assert set(fu) == {
        "feedback-response:send:easy_contact:2022-23-Q2",
        "feedback-response:send:easy_contact:2022-23-Q4",
    }
    f = fu["feedback-response:send:easy_contact:2022-23-Q2"]
    assert (f.origin, f.origin_id, f.team, f.service_area) == (
        "feedback",
        "send:easy_contact:2022-23-Q2",
        None,
        "send",
    )
    assert (f.opened_on, f.due_date) == (date(2022, 10, 1), date(2022, 12, 31))
    assert (f.closed_on, f.closed_by_event_id) == (date(2022, 10, 10), closing.event_id)
    g = fu["feedback-response:send:easy_contact:2022-23-Q4"]
    assert (g.opened_on, g.due_date, g.closed_on) == (date(2023, 4, 1), date(2023, 6, 30), None)


def test_feedback_response_quarter_uses_london_date():
    # 2022-06-30T23:30Z is 1 July (Q2). Four answers in Q1 and the fifth in Q2: no quarter
    # reaches 5 answers.
    rows = [response(date(2022, 6, 20), [a]) for a in _answers(0, 4)]
    e, d = _event(
        ev.FeedbackReceived(
            response_id="late",
            survey_id="s",
            service_area="send",
            respondent="child",
            received_at="2022-06-30T23:30:00Z",
            answers=[{"question_id": "easy_contact", "value": "no"}],
        ),
        "/qaloop/feedback",
    )
    rows.append(fact_from_event(e, d))
    assert by_id(Facts.of(rows), "feedback-response") == {}
    rows.append(response(date(2022, 6, 29), _answers(0, 1)))
    assert set(by_id(Facts.of(rows), "feedback-response")) == {"feedback-response:send:easy_contact:2022-23-Q1"}


def test_feedback_response_threshold_is_configuration():
    rows = [response(date(2022, 8, 1), [a]) for a in _answers(3, 0)]
    assert by_id(Facts.of(rows), "feedback-response") == {}
    rules = FollowUpRules(feedback_positive_threshold=1.01, feedback_min_answers=3)
    assert len(by_id(Facts.of(rows), "feedback-response", rules=rules)) == 1


# --------------------------------------------------------------------------- action


def test_action_followup():
    facts = Facts.of(
        [
            action("a1", "aud1", origin="audit", raised=date(2022, 7, 1), due=date(2022, 7, 29)),
            completion("a1", date(2022, 8, 2), event_id="second"),
            completion("a1", date(2022, 7, 29), hour=20, event_id="first"),
            action("a2", "c9", raised=date(2022, 7, 4), due=date(2022, 8, 1), team="t2"),
        ]
    )
    fu = by_id(facts, "action")
    f = fu["action:a1"]
    assert (f.origin, f.origin_id, f.team, f.service_area) == ("audit", "a1", "t1", "send")
    assert (f.opened_on, f.due_date) == (date(2022, 7, 1), date(2022, 7, 29))
    assert (f.closed_on, f.closed_by_event_id, f.on_time) == (date(2022, 7, 29), "first", True)
    g = fu["action:a2"]
    assert (g.origin, g.team, g.closed_on) == ("complaint", "t2", None)


# --------------------------------------------------------------------------- safeguarding


def test_safeguarding_alert_due_next_working_day():
    # Received Fri 16 Sep 2022; Mon 19 Sep is a bank holiday -> due Tue 20 Sep.
    facts = Facts.of(
        [
            response(
                date(2022, 9, 16),
                [AnswerFact("safe", False, True), AnswerFact("q", True, False)],
                response_id="r1",
                team=None,
            ),
            response(date(2022, 9, 16), [AnswerFact("safe", False, False)], response_id="r2"),
            action("act", "r1", origin="feedback"),
            completion("act", date(2022, 9, 15)),  # before receipt: not evidence
            done := completion("act", date(2022, 9, 20)),
        ]
    )
    fu = by_id(facts, "safeguarding-alert")
    assert list(fu) == ["safeguarding-alert:r1"]
    f = fu["safeguarding-alert:r1"]
    assert (f.origin, f.origin_id, f.team, f.service_area) == ("feedback", "r1", None, "send")
    assert (f.opened_on, f.due_date) == (date(2022, 9, 16), date(2022, 9, 20))
    assert (f.closed_on, f.closed_by_event_id, f.on_time) == (
        date(2022, 9, 20),
        done.event_id,
        True,
    )


def test_safeguarding_negative_from_events():
    def fb(rid, value, safeguarding):
        e, d = _event(
            ev.FeedbackReceived(
                response_id=rid,
                survey_id="s",
                service_area="send",
                respondent="child",
                received_at="2022-09-01T09:00:00Z",
                answers=[{"question_id": "safe", "value": value, "safeguarding": safeguarding}],
            ),
            "/qaloop/feedback",
        )
        return fact_from_event(e, d)

    facts = Facts.of(
        [
            fb("no", "no", True),
            fb("two", 2, True),
            fb("three", 3, True),  # neutral
            fb("yes", "yes", True),
            fb("plain_no", "no", False),  # not a safeguarding question
        ]
    )
    assert set(by_id(facts, "safeguarding-alert")) == {
        "safeguarding-alert:no",
        "safeguarding-alert:two",
    }


# --------------------------------------------------------------------------- determinism


def test_derive_ignores_order_and_duplicates():
    rows = [
        received("c1", date(2022, 9, 1)),
        closed("c1", date(2022, 9, 16), "upheld"),
        action("a", "c1"),
        completion("a", date(2022, 9, 20)),
        audit("a1", date(2022, 7, 5), "requires_improvement"),
        audit("a2", date(2022, 9, 1), "good"),
        concern("k1", date(2022, 7, 1), date(2022, 10, 1)),
    ]
    expected = derive(Facts.of(rows), calendar=CAL)
    assert derive(Facts.of(list(reversed(rows)) + rows[:3]), calendar=CAL) == expected
    assert len({f.followup_id for f in expected}) == len(expected)
