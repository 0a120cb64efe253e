"""The simulated year's plan: pure and seeded (the same seed gives the same plan), with a
county's volumes and the mixes the panel minutes describe, and every planned request one
the strand APIs accept."""

from __future__ import annotations

import socket
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import BaseModel

from services.simulation.plan import Call, Plan, Ref, to_json
from services.simulation.year import plan_year
from shared.calendar import default_calendar, london_date, parse_period
from shared.events import Grade

YEAR = "2022-23"
Q2 = parse_period("2022-23-Q2")


@pytest.fixture(scope="module")
def county() -> Plan:
    return plan_year(YEAR, seed=7, scale=1.0)


def rate(hits: int, total: int) -> float:
    assert total > 0
    return hits / total


# --------------------------------------------------------------------------- seeded and pure


def test_the_same_seed_gives_the_same_plan(county):
    again = plan_year(YEAR, seed=7, scale=1.0)
    assert again == county
    assert again.fingerprint() == county.fingerprint()


def test_another_seed_gives_another_plan(county):
    other = plan_year(YEAR, seed=8, scale=1.0)
    assert other.fingerprint() != county.fingerprint()
    ours = {c.body.get("complaint_id") for c in county.calls_of("complaints.receive")}
    theirs = {c.body.get("complaint_id") for c in other.calls_of("complaints.receive")}
    assert not ours & theirs, "ids the simulator chooses carry the seed"


def test_planning_does_no_io(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("planning opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert plan_year(YEAR, seed=3, scale=0.05).requests > 0


def test_a_month_is_exactly_that_month_of_the_year(county):
    july = plan_year(YEAR, seed=7, scale=1.0, period="2022-07")
    assert july == county.within(date(2022, 7, 1), date(2022, 7, 31))
    assert july.stories and july.casework
    for call in july.calls():
        if call.kind not in ("feedback.survey", "workforce.survey"):  # setup: before anything else
            assert london_date(call.at).month == 7, call
    assert {london_date(e.at).month for e in july.casework} == {7}
    whole = {s.key for s in county.stories}
    assert {s.key for s in july.stories} <= whole


def test_a_year_still_running_stops_at_until():
    plan = plan_year(YEAR, seed=7, scale=0.1, until=date(2022, 9, 30))
    assert plan.last_day == date(2022, 9, 30)
    assert max(london_date(c.at) for c in plan.calls()) <= date(2022, 9, 30)
    assert max(london_date(e.at) for e in plan.casework) <= date(2022, 9, 30)


def test_stories_are_in_time_order_and_refs_are_captured_before_use(county):
    for story in county.stories:
        ats = [c.at for c in story.calls]
        assert ats == sorted(ats), story.key
        captured: set[str] = set()
        for call in story.calls:
            used = set(call.placeholders()) | {r.key for r in _refs(call.body)}
            assert used <= captured, (story.key, call.kind, used - captured)
            if call.capture:
                captured.add(call.capture[0])


def test_scale_scales_the_volumes(county):
    small = plan_year(YEAR, seed=7, scale=0.1)
    for kind in ("complaints.receive", "feedback.response", "feedback.compliment"):
        assert len(small.calls_of(kind)) == pytest.approx(len(county.calls_of(kind)) / 10, rel=0.05)
    assert len(small.casework) == pytest.approx(len(county.casework) / 10, rel=0.05)


# --------------------------------------------------------------------------- casework


def test_casework_volumes_and_sources(county):
    counts = Counter(e.type for e in county.casework)
    assert 6000 <= counts["ReferralReceived"] <= 7200
    assert 4000 <= counts["AssessmentCompleted"] <= 5600
    assert 700 <= counts["EhcpIssued"] <= 900
    assert 5000 <= counts["CaseworkerContactAttempted"] <= 7000
    assert {e.source for e in county.casework} == {"/cms/liquidlogic", "/cms/capita-one"}
    assert len({e.event_id for e in county.casework}) == len(county.casework)
    fy = parse_period(YEAR)
    assert all(fy.contains(london_date(e.at)) for e in county.casework)


def test_about_a_fifth_of_referrals_are_re_referrals(county):
    seen: dict[str, list[date]] = defaultdict(list)
    re_referrals = 0
    referrals = sorted(county.events_of("ReferralReceived"), key=lambda e: e.at)
    for e in referrals:
        day = london_date(e.at)
        child = e.data.child_ref
        if any(d < day <= d.replace(year=d.year + 1) for d in seen[child]):
            re_referrals += 1
        seen[child].append(day)
    assert 0.12 <= rate(re_referrals, len(referrals)) <= 0.25


def test_most_assessments_complete_within_45_working_days(county):
    calendar = default_calendar()
    within = [
        london_date(e.data.completed_at) <= calendar.add_working_days(london_date(e.data.started_at), 45)
        for e in county.events_of("AssessmentCompleted")
    ]
    assert 0.78 <= rate(sum(within), len(within)) <= 0.92


def test_most_ehc_plans_are_issued_within_20_weeks_with_some_exceptions(county):
    plans = [e.data for e in county.events_of("EhcpIssued")]
    exceptions = [p for p in plans if p.exception]
    counted = [p for p in plans if not p.exception]
    within = [(london_date(p.issued_at) - london_date(p.requested_at)).days <= 140 for p in counted]
    assert 0.03 <= rate(len(exceptions), len(plans)) <= 0.12
    assert 0.55 <= rate(sum(within), len(within)) <= 0.75


def test_send_case_workers_were_hard_to_reach_in_q2(county):
    attempts = [e.data for e in county.events_of("CaseworkerContactAttempted", Q2) if e.data.service_area == "send"]
    reached = [a.reached for a in attempts]
    assert 0.42 <= rate(sum(reached), len(reached)) <= 0.58


# --------------------------------------------------------------------------- audits


def _overall(call: Call) -> Grade:
    return max((Grade(g["grade"]) for g in call.body["grades"]), key=lambda g: g.rank)


def test_audit_grades_mostly_good_a_fair_share_requiring_improvement(county):
    grades = Counter(_overall(c) for c in county.calls_of("audit.grade"))
    total = sum(grades.values())
    assert 600 <= total <= 760
    good_or_better = grades[Grade.GOOD] + grades[Grade.OUTSTANDING]
    assert 0.45 <= rate(good_or_better, total) <= 0.62
    assert 0.30 <= rate(grades[Grade.REQUIRES_IMPROVEMENT], total) <= 0.45
    assert 0.04 <= rate(grades[Grade.INADEQUATE], total) <= 0.12
    assert 0.01 <= rate(grades[Grade.OUTSTANDING], total) <= 0.07


def test_one_weak_area_makes_the_audit_require_improvement(county):
    single_weak = [
        c
        for c in county.calls_of("audit.grade")
        if [g["grade"] for g in c.body["grades"]].count("requires_improvement") == 1
        and all(g["grade"] in ("good", "outstanding", "requires_improvement") for g in c.body["grades"])
    ]
    assert len(single_weak) > 50, "most audits that require improvement have one weak area among goods"


def test_some_audits_are_moderated_and_weak_ones_lead_to_actions_some_late(county):
    completed = len(county.calls_of("audit.complete"))
    assert 0.05 <= rate(len(county.calls_of("audit.moderate")), completed) <= 0.15
    raised = {s.key: c for s in county.stories for c in s.calls if c.kind == "audit.action.raise"}
    done = {s.key: c for s in county.stories for c in s.calls if c.kind == "audit.action.complete"}
    assert raised and 0.7 <= rate(len(done), len(raised)) <= 0.95
    late = [k for k, c in done.items() if london_date(c.body["completed_at"]) > raised[k].body["due_date"]]
    assert 0.1 <= rate(len(late), len(done)) <= 0.35


def test_weak_cases_are_re_audited(county):
    by_case = Counter(c.body["case_reference"] for c in county.calls_of("audit.schedule"))
    assert sum(1 for n in by_case.values() if n > 1) > 50


def test_the_send_management_oversight_concern_has_targeted_audits_and_is_resolved(county):
    (story,) = [s for s in county.stories if s.key.endswith("concern-send-oversight")]
    kinds = [c.kind for c in story.calls]
    assert kinds[0] == "audit.concern.raise" and kinds[-1] == "audit.concern.resolve"
    raised = story.calls[0]
    assert raised.body["service_area"] == "send" and raised.body["theme"] == "management_oversight"
    targeted = [c for c in story.calls if c.kind == "audit.schedule"]
    assert len(targeted) >= 3
    assert all(c.body["audit_type"] == "targeted" and c.body["concern_id"] == Ref("concern") for c in targeted)
    evidence = story.calls[-1].body["evidence_audit_ids"]
    assert {r.key for r in evidence} == {c.capture[0] for c in targeted if c.capture}
    assert Q2.contains(london_date(raised.at))
    assert kinds.count("audit.concern.action.raise") == 2


def test_some_concerns_measures_did_not_work_and_a_rework_supersedes_one(county):
    resolutions = [c for c in county.calls_of("audit.concern.resolve")]
    outcomes = Counter(c.body["outcome"] for c in resolutions)
    assert outcomes["not_effective"] >= 1 and outcomes["partly_effective"] >= 1 and outcomes["effective"] >= 2
    assert all(c.body.get("reason") for c in resolutions if c.body["outcome"] != "effective")
    (story,) = [s for s in county.stories if s.key.endswith("concern-csc-voice")]
    raises = [c for c in story.calls if c.kind == "audit.concern.raise"]
    assert [c.body.get("supersedes") for c in raises] == [None, Ref("concern-csc-voice")]
    failed = next(c for c in story.calls if c.kind == "audit.concern.resolve" and c.body["outcome"] == "not_effective")
    # the rework is raised after the resolution, within the 20 working days of concern-rework
    assert failed.at < raises[1].at
    assert raises[1].at.date() <= default_calendar().add_working_days(london_date(failed.at), 20)


def test_about_one_audit_in_ten_is_rescheduled_to_a_later_due_date(county):
    scheduled = {c.capture[0]: c for c in county.calls_of("audit.schedule") if c.capture}
    moved = county.calls_of("audit.reschedule")
    assert 0.05 <= rate(len(moved), len(scheduled)) <= 0.15
    for c in moved:
        (ref,) = c.placeholders()
        assert c.body["due_date"] > scheduled[ref].body["due_date"] and c.at > scheduled[ref].at


def test_ehcp_audits_answer_their_procedure_checklist_and_about_half_are_compliant(county):
    from services.audit.templates import EHCP_CHECKLIST

    ehcp = [c for c in county.calls_of("audit.complete") if "checklist" in c.body]
    assert len(ehcp) > 20
    for c in ehcp:
        assert [a["item"] for a in c.body["checklist"]] == [i.key for i in EHCP_CHECKLIST]
    assert 0.3 <= rate(sum(all(a["met"] for a in c.body["checklist"]) for c in ehcp), len(ehcp)) <= 0.7


def test_inspection_findings_are_answered_by_actions_one_late(county):
    findings = county.calls_of("audit.inspection.record")
    assert {c.body["body"] for c in findings} == {"ofsted"} and len(findings) == 2
    raised = county.calls_of("audit.inspection.action.raise")
    assert len(raised) == 2 and len(county.calls_of("audit.inspection.action.complete")) == 2
    cal = default_calendar()
    late = [
        cal.working_days_between(london_date(f.at), london_date(a.at)) > 20
        for f, a in zip(sorted(findings, key=lambda c: c.at), sorted(raised, key=lambda c: c.at), strict=True)
    ]
    assert late == [False, True]


# --------------------------------------------------------------------------- complaints


def _stage_one_outcomes(plan: Plan) -> dict[str, str]:
    """complaint id -> outcome of its first response (withdrawn ones left out)."""
    out = {}
    for story in plan.stories:
        first = next((c for c in story.calls if c.kind == "complaints.respond"), None)
        if first is None:
            continue
        upheld = [p["upheld"] for p in first.body["points"]]
        out[story.key] = "upheld" if all(upheld) else "not_upheld" if not any(upheld) else "partially_upheld"
    return out


def test_communication_complaints_cluster_in_the_two_largest_teams_and_few_are_upheld(county):
    received = county.calls_of("complaints.receive")
    assert 280 <= len(received) <= 320
    categories = Counter(c.body["category"] for c in received)
    assert categories.most_common(1)[0][0] == "communication"
    communication = [c for c in received if c.body["category"] == "communication"]
    in_largest = [c for c in communication if c.body["team"] in ("through-care", "safeguarding")]
    assert rate(len(in_largest), len(communication)) >= 0.55
    outcomes = _stage_one_outcomes(county)
    category = {c.body["complaint_id"]: c.body["category"] for c in received}

    def upheld_rate(pick) -> float:
        chosen = [o for cid, o in outcomes.items() if pick(category[cid])]
        return rate(sum(o != "not_upheld" for o in chosen), len(chosen))

    assert upheld_rate(lambda c: c == "communication") < upheld_rate(lambda c: c != "communication") - 0.1


def test_complaints_have_extensions_escalations_withdrawals_and_stage_2_answers(county):
    counts = county.counts()
    received = counts["complaints.receive"]
    assert 0.02 <= rate(counts["complaints.withdraw"], received) <= 0.1
    assert 0.08 <= rate(counts["complaints.extend"], received) <= 0.25
    assert 0.05 <= rate(counts["complaints.escalate"], received) <= 0.2
    assert counts["complaints.respond"] > received * 0.9  # stage-1 answers plus stage-2 ones
    assert counts["complaints.action.raise"] > 0 and counts["complaints.action.complete"] > 0


def test_complaints_have_a_few_panels_statements_late_requests_and_ombudsman_cases_a_year(county):
    counts = county.counts()
    escalations = county.calls_of("complaints.escalate")
    assert 2 <= counts["complaints.panel"] <= 15
    assert 10 <= counts["complaints.agree_statement"] <= counts["complaints.escalate"]
    assert 3 <= counts["complaints.ombudsman.refer"] <= 25
    assert 1 <= counts["complaints.ombudsman.decide"] <= counts["complaints.ombudsman.refer"]
    findings = {c.body["finding"] for c in county.calls_of("complaints.ombudsman.decide")}
    assert findings <= {"fault", "no_fault", "not_investigated"}
    assert escalations  # the replay below checks which of them are late; here, that some are
    story_of = {s.key: s for s in county.stories}
    late = 0
    for call in escalations:
        story = story_of[call.path.split("/")[3]]
        answered = next(c for c in story.calls if c.kind == "complaints.respond")
        if call.at > answered.at and county_calendar_late(answered.at, call.at):
            late += 1
    assert 1 <= late <= len(escalations) // 3


def county_calendar_late(answered: datetime, requested: datetime) -> bool:
    from services.complaints.domain import Rules, late_escalation
    from shared.calendar import default_calendar, london_date
    from shared.complaint_timescales import Timescales

    return late_escalation(Rules(Timescales(), default_calendar()), london_date(answered), london_date(requested))


async def test_complaint_stories_follow_the_complaints_rules(county):
    """Every planned complaint story, replayed through the complaints use cases (on the
    in-memory unit of work), is accepted step by step — a step of a kind the replay does not
    know fails the test — publishes the events the plan counts on, and ends in the state its
    last step implies; every planned completion completes an action the story raised, by its
    owner."""
    from services.complaints.domain import Status

    implied = {"respond": Status.RESPONDED, "withdraw": Status.WITHDRAWN}
    seen: Counter[str] = Counter()
    for story in county.stories:
        if not story.calls[0].kind.startswith("complaints."):
            continue
        uow = await _replay_complaint(story)
        seen.update(c.kind for c in story.calls)
        complaint = await uow.complaints.get(story.key)
        steps = [c.kind.removeprefix("complaints.") for c in story.calls]
        last = next(
            k for k in reversed(steps) if k in {"receive", "acknowledge", "extend", "respond", "escalate", "withdraw"}
        )
        assert complaint.status == implied.get(last, Status.OPEN), (story.key, steps)
        assert len(complaint.stages) == 1 + steps.count("escalate"), story.key
        assert [e.data.event_type for e in uow.published][:1] == ["ComplaintReceived"]
        assert len(uow.published) == sum(c.events for c in story.calls), (story.key, steps)
        for call in story.calls:
            if call.kind == "complaints.action.complete":
                done = await uow.actions.get(call.path.split("/")[-2])
                assert done.origin_id == story.key and done.owner_id == done.completed_by == call.actor
                assert done.learning_id in {r.learning_id for r in await uow.learning.of_complaint(story.key)}
    assert set(seen) == {f"complaints.{kind}" for kind in _COMPLAINT_STEPS}, "every kind of step is replayed"


_COMPLAINT_STEPS = (
    "receive",
    "acknowledge",
    "extend",
    "respond",
    "escalate",
    "withdraw",
    "agree_statement",
    "panel",
    "ombudsman.refer",
    "ombudsman.decide",
    "learning",
    "action.raise",
    "action.complete",
)


async def test_complaint_stories_are_accepted_where_stage_2_starts_at_the_agreed_statement(county):
    """Configured for the agreed statement, the complaints service waits for it at stage 2:
    every planned story is still accepted step by step."""
    from services.complaints.domain import Rules
    from shared.calendar import default_calendar
    from shared.complaint_timescales import Stage2Clock, Timescales

    agreed = Rules(Timescales(stage2_clock=Stage2Clock.AGREED_STATEMENT), default_calendar())
    replayed = 0
    for story in county.stories:
        if story.calls[0].kind.startswith("complaints.") and any(c.kind == "complaints.escalate" for c in story.calls):
            uow = await _replay_complaint(story, agreed)
            assert len(uow.published) == sum(c.events for c in story.calls), story.key
            replayed += 1
    assert replayed > 10


async def _replay_complaint(story, rules=None):
    """The story's calls through the complaints handlers, as the API would make them."""
    from services.complaints import commands, handlers
    from shared.actions import handlers as actions
    from shared.actions.domain import CompleteAction, RaiseAction
    from tests.fakes.complaints import FakeComplaintsUnitOfWork

    use_cases = {
        "acknowledge": (commands.AcknowledgeComplaint, handlers.acknowledge_complaint),
        "extend": (commands.ExtendComplaint, handlers.extend_complaint),
        "respond": (commands.RespondToComplaint, handlers.respond_to_complaint),
        "escalate": (commands.EscalateComplaint, handlers.escalate_complaint),
        "withdraw": (commands.WithdrawComplaint, handlers.withdraw_complaint),
        "agree_statement": (commands.AgreeStatement, handlers.agree_statement),
        "panel": (commands.HoldPanel, handlers.hold_panel),
        "ombudsman.refer": (commands.ReferToOmbudsman, handlers.refer_to_ombudsman),
        "ombudsman.decide": (commands.RecordOmbudsmanDecision, handlers.record_ombudsman_decision),
        "learning": (commands.IdentifyLearning, handlers.identify_learning),
        "action.raise": (RaiseAction, handlers.raise_action_on_complaint),
    }
    uow = FakeComplaintsUnitOfWork(rules, now=datetime.now(UTC))
    for call in story.calls:
        kind, body = call.kind.removeprefix("complaints."), to_json(call.body, {})
        if kind == "receive":
            await handlers.receive_complaint(uow, commands.ReceiveComplaint.model_validate(body), actor=call.actor)
        elif kind == "action.complete":
            action_id = call.path.removeprefix("/v1/actions/").removesuffix("/complete")
            await actions.complete_action(uow, action_id, CompleteAction.model_validate(body), actor=call.actor)
        elif kind in use_cases:
            assert call.path.startswith(f"/v1/complaints/{story.key}/"), call
            model, use_case = use_cases[kind]
            await use_case(uow, story.key, model.model_validate(body), actor=call.actor)
        else:
            pytest.fail(f"{call.kind}: a step the complaints replay does not know")
    return uow


# --------------------------------------------------------------------------- feedback


def _positive(value) -> bool:
    return value == "yes" or (isinstance(value, int) and value >= 4)


def test_send_families_found_it_easy_to_contact_their_case_worker_half_the_time_in_q2(county):
    answers = [
        c.body["answers"]["easy_to_contact_case_worker"]
        for c in county.calls_of("feedback.response", Q2)
        if c.body["survey_id"] == "send-family-experience" and "easy_to_contact_case_worker" in c.body["answers"]
    ]
    assert len(answers) > 50
    assert 0.45 <= rate(sum(map(_positive, answers)), len(answers)) <= 0.55
    q4 = parse_period("2022-23-Q4")
    later = [
        c.body["answers"]["easy_to_contact_case_worker"]
        for c in county.calls_of("feedback.response", q4)
        if c.body["survey_id"] == "send-family-experience" and "easy_to_contact_case_worker" in c.body["answers"]
    ]
    assert rate(sum(map(_positive, later)), len(later)) > 0.6, "the communication framework helped"


def test_foster_carers_answer_their_seeded_survey_every_quarter(county):
    """The foster carers' experience survey (feedback migration 006, version 1) is answered by
    foster carers in fostering teams, with its own questions only; information before a
    placement is their weakest point, improving over the year. It is seeded, never published."""
    from services.simulation.feedback import SURVEYS
    from services.simulation.plan import TEAMS

    survey = next(s for s in SURVEYS if s.survey_id == "foster-carer-experience")
    assert survey.seeded and survey.respondents == ("foster_carer",)
    asked = {q.question_id for q in survey.questions}
    published = {c.path for c in county.calls_of("feedback.survey")}
    assert "/v1/surveys/foster-carer-experience" not in published
    told = []
    for quarter in ("Q1", "Q2", "Q3", "Q4"):
        calls = [
            c
            for c in county.calls_of("feedback.response", parse_period(f"2022-23-{quarter}"))
            if c.body["survey_id"] == "foster-carer-experience"
        ]
        assert len(calls) >= 10, quarter
        assert all(c.body["respondent"] == "foster_carer" and c.body["survey_version"] == 1 for c in calls)
        assert all(c.body["team"] in TEAMS["fostering"] for c in calls)
        assert all(set(c.body["answers"]) <= asked for c in calls)
        answers = [a for c in calls if (a := c.body["answers"].get("told_about_child_before_placement")) is not None]
        told.append(rate(sum(map(_positive, answers)), len(answers)))
    assert told[0] < 0.62 and told[3] > told[0], told


def test_a_few_children_do_not_feel_safe_where_they_live(county):
    answers = [
        c.body["answers"]["feel_safe_where_i_live"]
        for c in county.calls_of("feedback.response")
        if "feel_safe_where_i_live" in c.body["answers"]
    ]
    negatives = sum(1 for a in answers if a == "no")
    assert 3 <= negatives <= 0.05 * len(answers)


def test_every_safeguarding_no_gets_an_action_raised_that_day_and_completed_mostly_on_time(county):
    """The safeguarding-alert follow-up (due the next working day after receipt) is closed by
    completing an action whose origin is the response: replayed through the feedback domain."""
    from services.feedback.commands import PublishSurvey
    from services.feedback.domain.responses import validate_response
    from services.feedback.domain.surveys import next_survey_version
    from services.simulation.feedback import SURVEYS
    from shared.actions.domain import CompleteAction, RaiseAction, raise_action

    safeguarding = {s.survey_id: {q.question_id for q in s.questions if q.safeguarding} for s in SURVEYS}
    calendar = default_calendar()
    now = datetime.now(UTC)
    versions = {
        s.survey_id: next_survey_version(s.survey_id, PublishSurvey.model_validate(s.definition()), [], now=now)
        for s in SURVEYS
    }
    alerts = on_time = 0
    for story in county.stories:
        first = story.calls[0]
        if first.kind != "feedback.response":
            continue
        b = first.body
        negative = any(b["answers"].get(q) == "no" for q in safeguarding[b["survey_id"]])
        kinds = [c.kind for c in story.calls]
        if not negative:
            assert kinds == ["feedback.response"], story.key
            continue
        if len(kinds) < 3 and london_date(first.at) >= date(2023, 3, 24):
            continue  # completed after the year ends: cut off with it
        alerts += 1
        assert kinds == ["feedback.response", "feedback.action.raise", "feedback.action.complete"], story.key
        raise_call, complete_call = story.calls[1:]
        assert raise_call.path == f"/v1/responses/{b['response_id']}/actions"
        assert london_date(raise_call.at) == london_date(b["received_at"]), "raised the same day"
        due = calendar.add_working_days(london_date(b["received_at"]), 1)
        assert raise_call.body["due_date"] == due and raise_call.body["owner_id"] == f"manager-{b['team']}"
        assert complete_call.path == f"/v1/actions/{raise_call.body['action_id']}/complete"
        survey = versions[b["survey_id"]]
        assert survey is not None
        response = validate_response(
            survey,
            response_id=b["response_id"],
            answers=b["answers"],
            received_at=b["received_at"],
            now=now,
            respondent=b["respondent"],
            team=b["team"],
        )
        action = raise_action(
            response.action_origin(),
            RaiseAction.model_validate(to_json(raise_call.body, {})),
            action_id=raise_call.body["action_id"],
            raised_by=raise_call.actor,
            now=now,
        )
        done, _ = action.complete(
            CompleteAction.model_validate(to_json(complete_call.body, {})), completed_by="m", now=now
        )
        on_time += bool(done.on_time)
    assert alerts >= 10
    assert 0.7 <= rate(on_time, alerts) < 1, "most close on time, a few late"


def test_compliments_internal_and_external_and_you_said_we_did(county):
    origins = Counter(c.body["origin"] for c in county.calls_of("feedback.compliment"))
    assert origins["external"] > origins["internal"] > 0
    items = county.calls_of("feedback.you_said_we_did")
    assert len(items) >= 5
    send_q3 = [
        c
        for c in items
        if c.body["theme"] == "easy_to_contact_case_worker" and parse_period("2022-23-Q3").contains(london_date(c.at))
    ]
    assert send_q3 and send_q3[0].body["feedback_ids"], "closes the Q2 feedback-response follow-up"
    responses = {c.body["response_id"]: c for c in county.calls_of("feedback.response")}
    for item in items:
        for fid in item.body["feedback_ids"]:
            assert responses[fid].at < item.at.replace(day=1)


def test_survey_responses_are_valid_answers_to_their_surveys(county):
    from services.feedback.commands import PublishSurvey
    from services.feedback.domain.responses import validate_response
    from services.feedback.domain.surveys import next_survey_version
    from services.simulation.feedback import SURVEYS

    now = datetime.now(UTC)
    versions = {
        s.survey_id: next_survey_version(s.survey_id, PublishSurvey.model_validate(s.definition()), [], now=now)
        for s in SURVEYS
    }
    for call in county.calls_of("feedback.response"):
        b = call.body
        version = versions[b["survey_id"]]
        assert version is not None
        validate_response(
            version,
            response_id=b["response_id"],
            answers=b["answers"],
            received_at=b["received_at"],
            now=now,
            respondent=b["respondent"],
            team=b["team"],
            channel=b["channel"],
        )


# --------------------------------------------------------------------------- the APIs accept it


def _request_models() -> dict[str, type[BaseModel]]:
    from services.audit import commands as audit
    from services.complaints import commands as complaints
    from services.feedback import commands as feedback
    from services.workforce import commands as workforce
    from shared.actions import domain as shared_actions

    return {
        "audit.schedule": audit.ScheduleAudit,
        "audit.grade": audit.GradeAudit,
        "audit.complete": audit.CompleteAudit,
        "audit.moderate": audit.ModerateAudit,
        "audit.action.raise": shared_actions.RaiseAction,
        "audit.action.complete": shared_actions.CompleteAction,
        "audit.concern.raise": audit.RaiseConcern,
        "audit.concern.resolve": audit.ResolveConcern,
        "audit.concern.action.raise": shared_actions.RaiseAction,
        "audit.concern.action.complete": shared_actions.CompleteAction,
        "audit.reschedule": audit.RescheduleAudit,
        "audit.inspection.record": audit.RecordInspectionFinding,
        "audit.inspection.action.raise": shared_actions.RaiseAction,
        "audit.inspection.action.complete": shared_actions.CompleteAction,
        "complaints.receive": complaints.ReceiveComplaint,
        "complaints.acknowledge": complaints.AcknowledgeComplaint,
        "complaints.extend": complaints.ExtendComplaint,
        "complaints.respond": complaints.RespondToComplaint,
        "complaints.escalate": complaints.EscalateComplaint,
        "complaints.withdraw": complaints.WithdrawComplaint,
        "complaints.agree_statement": complaints.AgreeStatement,
        "complaints.panel": complaints.HoldPanel,
        "complaints.ombudsman.refer": complaints.ReferToOmbudsman,
        "complaints.ombudsman.decide": complaints.RecordOmbudsmanDecision,
        "complaints.learning": complaints.IdentifyLearning,
        "complaints.action.raise": shared_actions.RaiseAction,
        "complaints.action.complete": shared_actions.CompleteAction,
        "feedback.survey": feedback.PublishSurvey,
        "feedback.response": feedback.RecordResponse,
        "feedback.compliment": feedback.RecordCompliment,
        "feedback.you_said_we_did": feedback.PublishYouSaidWeDid,
        "feedback.action.raise": shared_actions.RaiseAction,
        "feedback.action.complete": shared_actions.CompleteAction,
        "workforce.survey": workforce.PublishStaffSurvey,
        "workforce.join": workforce.RecordJoiner,
        "workforce.leave": workforce.RecordLeaver,
        "workforce.caseload": workforce.RecordCaseload,
        "workforce.vacancy": workforce.RecordVacancy,
        "workforce.survey_response": workforce.RecordStaffResponse,
    }


def test_every_planned_request_validates_against_its_api_model(county):
    models = _request_models()
    refs = _FakeRefs()
    for call in county.calls():
        model = models[call.kind]
        model.model_validate(to_json(call.body, refs))


def test_the_planned_audit_areas_are_the_audit_services_seeded_templates():
    from services.audit.templates import DEFAULT_TEMPLATES
    from services.simulation.authority import EHCP_AREAS, TEMPLATE_AREAS

    seeded = {(t.service_area, t.audit_type): t.area_keys for t in DEFAULT_TEMPLATES if t.is_default}
    for area, keys in TEMPLATE_AREAS.items():
        assert seeded[(area, None)] == keys
    ehcp = next(k for (area, kind), k in seeded.items() if area == "send" and kind is not None)
    assert ehcp == EHCP_AREAS


def test_no_timestamp_is_outside_the_year_or_in_the_future(county):
    fy = parse_period(YEAR)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    for call in county.calls():
        if call.kind != "feedback.survey":
            assert fy.contains(london_date(call.at)), call
        for value in _values(call.body):
            if isinstance(value, datetime):
                assert value.tzinfo is not None and value < tomorrow


# --------------------------------------------------------------------------- helpers


class _FakeRefs(dict):
    def __missing__(self, key: str) -> str:
        return f"id-of-{key}"


def _values(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _values(v)
    else:
        yield value


def _refs(value):
    return [v for v in _values(value) if isinstance(v, Ref)]


def test_the_workforce_is_a_countys_with_realistic_churn(county):
    """A few hundred staff in post at the start, about one in six leaving in the year with a
    reason, most replaced, a few agency workers converting, quarterly caseloads and vacancies,
    and a staff survey in November; each worker's calls in order."""
    from collections import Counter

    from services.simulation.authority import TEAMS

    stories = [s for s in county.stories if s.calls and s.calls[0].strand == "workforce"]
    starts = [
        s for s in stories if s.calls[0].kind == "workforce.join" and london_date(s.calls[0].at) == date(2022, 4, 1)
    ]
    assert 250 <= len(starts) <= 400
    kinds = Counter(c.kind for s in stories for c in s.calls)
    assert 0.08 <= kinds["workforce.leave"] / len(starts) <= 0.25
    conversions = [s for s in starts if [c.kind for c in s.calls].count("workforce.join") == 2]
    assert 4 <= len(conversions) <= 12
    for s in conversions:
        first, second = (c for c in s.calls if c.kind == "workforce.join")
        assert (first.body["contract"], second.body["contract"]) == ("agency", "employed")
    assert {c.body["reason"] for s in stories for c in s.calls if c.kind == "workforce.leave"} >= {"workload", "career"}
    assert kinds["workforce.vacancy"] == 4 * sum(len(t) for t in TEAMS.values())
    assert kinds["workforce.caseload"] > 3 * len(starts)
    assert {london_date(c.at).month for s in stories for c in s.calls if c.kind == "workforce.survey_response"} == {11}
    for s in stories:
        refs = {c.body.get("worker_ref") for c in s.calls if c.kind in ("workforce.join", "workforce.caseload")}
        assert len(refs) <= 1, s.key
        left = [c for c in s.calls if c.kind == "workforce.leave"]
        assert not left or s.calls[-1] is left[0], s.key  # nothing recorded after a leave
