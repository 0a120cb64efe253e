"""The complaints KPIs of DOMAIN.md "Added rules (2026-12)" and their "Precise readings",
worked out by hand and computed by the real read models (events -> facts -> read-model rows
-> derived columns -> KPI SQL) on the run's PostgreSQL (`tests/support/readmodels.py`).

Calendar facts used below (England): Mon 29 Aug 2022 summer bank holiday; Mon 19 Sep 2022
the Queen's funeral; Fri 7 / Mon 10 Apr 2023 Good Friday and Easter Monday; Mon 1 May 2023
early May bank holiday; Mon 8 May 2023 the coronation. BST ends Sun 30 Oct 2022 and starts
Sun 26 Mar 2023.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

import pytest

from services.complaints.domain import Complaint, ExtensionReason, Point, Rules
from services.reporting.facts import fact_from_event
from services.reporting.kpis import Filters, KpiValue
from shared import events as ev
from shared.calendar import default_calendar, parse_period
from shared.complaint_timescales import AuthorityTimescales, Stage2Clock, Timescales

pytestmark = pytest.mark.integration

CAL = default_calendar()
SOURCE = "/qaloop/complaints"
ALL = Filters()
Q2, Q3 = parse_period("2022-23-Q2"), parse_period("2022-23-Q3")
TODAY = date(2024, 6, 1)
NEW_KPIS = (
    "complaints.panel_within_timescale_rate",
    "complaints.late_escalations",
    "complaints.ombudsman_referrals",
    "complaints.ombudsman_fault_rate",
)
_seq = itertools.count(1)
H: Any = None


@pytest.fixture(autouse=True, scope="module")
def _harness(readmodels: Any) -> None:
    global H
    H = readmodels


def t(day: str, time: str = "12:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}+00:00")


def fact(data: ev.EventData) -> Any:
    """The fact reporting's intake makes of this event (London dates and all)."""
    return fact_from_event(ev.new_event(data, source=SOURCE, tenant="E1", sequence=next(_seq)), data)


def received(cid: str, day: str, *, stage: int = 1, category: str = "communication", team: str = "t1") -> Any:
    return fact(
        ev.ComplaintReceived(
            complaint_id=cid,
            procedure=ev.Procedure.STATUTORY_CHILDREN,
            stage=stage,
            category=category,
            team=team,
            service_area="childrens_social_care",
            received_at=t(day),
            complainant=ev.Complainant.FOSTER_CARER,
        )
    )


def closed(cid: str, day: str, *, stage: int, due: str, taken: int, within: bool = True) -> Any:
    return fact(
        ev.ComplaintClosed(
            complaint_id=cid,
            stage=stage,
            closed_at=t(day),
            outcome=ev.Outcome.NOT_UPHELD,
            points=[ev.ComplaintPoint(upheld=False)],
            due_date=date.fromisoformat(due),
            within_timescale=within,
            working_days_taken=taken,
        )
    )


def escalated(cid: str, at: datetime | str, frm: int, to: int, late: bool | None = None) -> Any:
    when = t(at) if isinstance(at, str) else at
    return fact(
        ev.ComplaintEscalated(complaint_id=cid, from_stage=frm, to_stage=to, escalated_at=when, late_request=late)
    )


def panel(cid: str, at: datetime | str) -> Any:
    return fact(ev.ComplaintPanelHeld(complaint_id=cid, held_at=t(at) if isinstance(at, str) else at))


def referred(cid: str, day: str) -> Any:
    return fact(ev.ComplaintReferredToOmbudsman(complaint_id=cid, referred_at=t(day)))


def decided(cid: str, day: str, finding: str) -> Any:
    return fact(ev.OmbudsmanDecided(complaint_id=cid, decided_at=t(day), finding=ev.OmbudsmanFinding(finding)))


def run(
    facts: list[Any],
    period: Any = Q3,
    filters: Filters = ALL,
    *,
    timescales: AuthorityTimescales | None = None,
    batch_sizes: tuple[int, ...] = (),
    tenant: str | None = None,
) -> dict[str, KpiValue]:
    loaded = H.load(facts, calendar=CAL, timescales=timescales, batch_sizes=batch_sizes, tenant=tenant)
    (values,) = H.figures(loaded, [period], filters, today=TODAY)
    return {v.kpi: v for v in values}


def rate(v: KpiValue) -> tuple[Any, Any, Any]:
    return (v.value, v.numerator, v.denominator)


# --------------------------------------------------------------------------- catalogue


def test_every_slice_has_the_new_complaints_kpis_zero_or_null() -> None:
    v = run([])
    assert [rate(v[k]) for k in NEW_KPIS] == [(None, 0, 0), (0, 0, None), (0, 0, None), (None, 0, 0)]


# --------------------------------------------------------------------------- stage 3


def test_stage3_without_a_panel_is_due_50_working_days_after_the_request() -> None:
    # Received straight into stage 3 on Mon 10 Oct 2022: the 50th working day after it is
    # Mon 19 Dec. Closed on working day 49 (Fri 16 Dec) with the old 30-day due date
    # reported: on time all the same. Closed on working day 51 (Tue 20 Dec): late.
    facts = [
        received("s3a", "2022-10-10", stage=3),
        closed("s3a", "2022-12-16", stage=3, due="2022-11-21", taken=49, within=False),
        received("s3b", "2022-10-10", stage=3),
        closed("s3b", "2022-12-20", stage=3, due="2022-12-19", taken=51, within=False),
    ]
    v = run(facts)
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)
    assert rate(v["complaints.average_response_working_days"]) == (50.0, 100, 2)


def stage3_story(*panels: str) -> list[Any]:
    """Stage 1 (Mon 1 Aug 2022 -> Fri 12 Aug), stage 2 (escalated Thu 1 Sep -> Mon 3 Oct), stage
    3 requested Mon 10 Oct, panels, and the stage-3 response on Mon 19 Dec."""
    return [
        received("p", "2022-08-01"),
        closed("p", "2022-08-12", stage=1, due="2022-08-15", taken=9),
        escalated("p", "2022-09-01", 1, 2, late=False),
        closed("p", "2022-10-03", stage=2, due="2022-10-07", taken=21),
        escalated("p", "2022-10-10", 2, 3, late=False),
        *(panel("p", day) for day in panels),
        closed("p", "2022-12-19", stage=3, due="2022-12-16", taken=50, within=False),
    ]


def test_stage3_is_due_20_working_days_after_the_latest_panel_whatever_order_they_arrive() -> None:
    # Panels Fri 18 Nov and Mon 21 Nov 2022: the latest counts, so the response is due on the
    # 20th working day after Mon 21 Nov, Mon 19 Dec. The events arrive newest first, one a
    # batch (the closing before either panel, the later panel before the earlier one).
    facts = stage3_story("2022-11-18", "2022-11-21")
    december = parse_period("2022-12")
    v = run(list(reversed(facts)), december, batch_sizes=(1,))
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)
    # Working days still count from the stage-3 request (Mon 10 Oct): 50.
    assert rate(v["complaints.average_response_working_days"]) == (50.0, 50, 1)
    # With the 18 Nov panel alone, it was due Fri 16 Dec: Mon 19 Dec is late.
    only = run(stage3_story("2022-11-18"), december)
    assert rate(only["complaints.within_timescale_rate"]) == (0.0, 0, 1)


def test_stage3_extensions_do_not_apply() -> None:
    story = stage3_story()
    extension = fact(ev.ComplaintExtended(complaint_id="p", stage=3, new_due_date=date(2023, 1, 31), reason="complex"))
    # No panel: due 50 working days after Mon 10 Oct, Mon 19 Dec: on time; the extension is ignored.
    v = run([*story[:-1], extension, closed("p", "2022-12-20", stage=3, due="2023-01-31", taken=51)])
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)  # stage 2 on time, stage 3 late


# --------------------------------------------------------------------------- panel timeliness


def panel_facts() -> list[Any]:
    # Complaint a (team t1, communication): stage 3 requested Mon 10 Oct 2022; the 30th
    # working day after it is Mon 21 Nov. Panels 21 Nov (within) and, reconvened, 1 Dec (not).
    # Complaint b (team t2, delay): received straight into stage 3 on Mon 10 Oct; panel Tue
    # 22 Nov, the 31st working day (not). Complaint c: its stage-3 request is unknown (no
    # escalation to stage 3), and "ghost" is unknown altogether: in neither part.
    return [
        received("a", "2022-08-01"),
        escalated("a", "2022-10-10", 2, 3),
        panel("a", "2022-11-21"),
        panel("a", "2022-12-01"),
        received("b", "2022-10-10", stage=3, category="delay", team="t2"),
        panel("b", "2022-11-22"),
        received("c", "2022-08-01"),
        panel("c", "2022-11-01"),
        panel("ghost", "2022-11-01"),
    ]


def test_panel_within_timescale_rate_counts_every_panel_with_a_known_request() -> None:
    facts = panel_facts()
    assert rate(run(facts)["complaints.panel_within_timescale_rate"]) == (1 / 3, 1, 3)
    assert rate(run(facts, filters=Filters(team="t1"))["complaints.panel_within_timescale_rate"]) == (0.5, 1, 2)
    by_category = run(facts, filters=Filters(category="delay"))
    assert rate(by_category["complaints.panel_within_timescale_rate"]) == (0.0, 0, 1)
    november = run(facts, parse_period("2022-11"))
    assert rate(november["complaints.panel_within_timescale_rate"]) == (0.5, 1, 2)
    assert rate(run(facts, Q2)["complaints.panel_within_timescale_rate"]) == (None, 0, 0)


def test_panel_timeliness_takes_the_london_date_across_bst_and_the_may_2023_bank_holidays() -> None:
    # Received straight into stage 3 on Mon 3 Apr 2023. Working days after it: 4-6 Apr (1-3),
    # Good Friday and Easter Monday, 11-14 Apr (4-7), 17-21 (8-12), 24-28 (13-17), 1 May
    # holiday, 2-5 May (18-21), 8 May coronation holiday, 9-12 May (22-25), 15-19 May (26-30):
    # the 30th is Fri 19 May 2023. 22:30 UTC on 19 May is 23:30 BST that day (within); 23:30
    # UTC is 00:30 BST on Sat 20 May (not).
    facts = [
        received("bst", "2023-04-03", stage=3),
        panel("bst", t("2023-05-19", "22:30:00")),
        panel("bst", t("2023-05-19", "23:30:00")),
    ]
    assert rate(run(facts, parse_period("2023-05"))["complaints.panel_within_timescale_rate"]) == (0.5, 1, 2)


# --------------------------------------------------------------------------- escalation window


def test_late_escalations_count_the_flagged_ones_by_their_london_date_in_the_complaints_slice() -> None:
    facts = [
        received("l1", "2022-07-01"),
        escalated("l1", "2022-09-20", 1, 2, late=True),
        received("l2", "2022-07-01", category="delay", team="t2"),
        escalated("l2", t("2022-09-30", "23:30:00"), 1, 2, late=True),  # 00:30 BST on Sat 1 Oct: Q3
        received("l3", "2022-07-01"),
        escalated("l3", "2022-09-01", 1, 2, late=False),
        received("l4", "2022-07-01"),
        escalated("l4", "2022-09-02", 1, 2),  # no flag: not late
        escalated("ghost", "2022-09-05", 1, 2, late=True),  # unknown complaint: unfiltered only
    ]
    assert run(facts, Q2)["complaints.late_escalations"].value == 2
    assert run(facts, Q3)["complaints.late_escalations"].value == 1
    assert run(facts, Q2, Filters(team="t1"))["complaints.late_escalations"].value == 1
    assert run(facts, Q3, Filters(category="delay"))["complaints.late_escalations"].value == 1
    assert run(facts, Q2, Filters(category="delay"))["complaints.late_escalations"].value == 0
    # the escalation rate is unchanged by the flag: 1 -> 2 escalations / stage-1 closings
    assert rate(run(facts, Q2)["complaints.escalation_rate"]) == (None, 4, 0)


# --------------------------------------------------------------------------- ombudsman


def test_ombudsman_referrals_and_fault_rate_by_their_own_dates_and_the_complaints_slice() -> None:
    facts = [
        received("o1", "2022-07-01"),
        referred("o1", "2022-09-20"),
        decided("o1", "2022-11-10", "fault"),
        received("o2", "2022-07-01", category="delay", team="t2"),
        referred("o2", "2022-08-01"),
        decided("o2", "2022-10-05", "no_fault"),
        received("o3", "2022-07-01"),
        referred("o3", "2022-10-01"),
        decided("o3", "2022-12-01", "not_investigated"),
        referred("ghost", "2022-09-01"),
        decided("ghost", "2022-12-02", "fault"),
    ]
    q2, q3 = run(facts, Q2), run(facts, Q3)
    assert (q2["complaints.ombudsman_referrals"].value, q3["complaints.ombudsman_referrals"].value) == (3, 1)
    assert rate(q2["complaints.ombudsman_fault_rate"]) == (None, 0, 0)
    assert rate(q3["complaints.ombudsman_fault_rate"]) == (2 / 3, 2, 3)  # not_investigated in neither part
    t1 = run(facts, Q3, Filters(team="t1"))
    assert rate(t1["complaints.ombudsman_fault_rate"]) == (1.0, 1, 1)
    delay = run(facts, Q3, Filters(category="delay"))
    assert rate(delay["complaints.ombudsman_fault_rate"]) == (0.0, 0, 1)
    assert run(facts, Q2, Filters(category="delay"))["complaints.ombudsman_referrals"].value == 1


# --------------------------------------------------------------------------- category filter


def test_the_category_filter_applies_to_complaints_kpis_only() -> None:
    compliment = fact(
        ev.ComplimentReceived(
            compliment_id="k1",
            service_area="childrens_social_care",
            team="t1",
            origin=ev.ComplimentOrigin.EXTERNAL,
            received_at=t("2022-07-05"),
        )
    )
    facts = [
        received("x", "2022-07-04"),
        closed("x", "2022-07-08", stage=1, due="2022-07-18", taken=4),
        received("y", "2022-07-04", category="delay"),
        compliment,
    ]
    everything, delay = run(facts, Q2), run(facts, Q2, Filters(category="delay"))
    assert (everything["complaints.received"].value, delay["complaints.received"].value) == (2, 1)
    assert (everything["complaints.closed"].value, delay["complaints.closed"].value) == (1, 0)
    assert delay["complaints.by_category.delay"].value == 1
    assert "complaints.by_category.communication" not in delay
    assert delay["compliments.external"].value == everything["compliments.external"].value == 1


# --------------------------------------------------------------------------- agreed statement


AGREED = Timescales(stage2_clock=Stage2Clock.AGREED_STATEMENT)


def statement_events(rules: Rules) -> list[ev.EventData]:
    """A statutory complaint through the complaints service's own rules: stage 1 answered Fri 12
    Aug 2022, escalated Thu 1 Sep, statement agreed Thu 8 Sep, extended to the 65th working
    day after the statement (Fri 9 Dec: 19 Sep a bank holiday), answered that day."""
    c = Complaint.receive(
        rules,
        complaint_id="agreed",
        procedure=ev.Procedure.STATUTORY_CHILDREN,
        category="communication",
        team="t1",
        service_area="childrens_social_care",
        complainant=ev.Complainant.PARENT_CARER,
        received_at=t("2022-08-01"),
    )
    events: list[ev.EventData] = [c.received_event()]
    events.append(c.respond(rules, closed_at=t("2022-08-12"), points=[Point(False)]))
    events.append(c.escalate(rules, escalated_at=t("2022-09-01")))
    events.append(c.agree_statement(rules, agreed_at=t("2022-09-08")))
    due = date(2022, 12, 9)
    events.append(c.extend(rules, new_due_date=due, reason=ExtensionReason.COMPLEX, extended_at=t("2022-10-03")))
    events.append(c.respond(rules, closed_at=t("2022-12-09"), points=[Point(True)]))
    return events


def test_configured_for_the_agreed_statement_the_complaints_service_and_reporting_agree() -> None:
    events = statement_events(Rules(AGREED, CAL))
    answer = events[-1]
    assert isinstance(answer, ev.ComplaintClosed)
    assert (answer.within_timescale, answer.working_days_taken) == (True, 65)  # the complaints service
    tenant = "E06000099"
    config = AuthorityTimescales(default=Timescales(), tenants={tenant: AGREED})
    v = run([fact(e) for e in events], parse_period("2022-12"), timescales=config, tenant=tenant)
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)
    assert rate(v["complaints.average_response_working_days"]) == (65.0, 65, 1)
    # Under the default (escalation) clock the same events are 70 working days from the
    # escalation, past its 65-day maximum (Fri 2 Dec): late. The statement does not move it.
    other = run([fact(e) for e in events], parse_period("2022-12"), timescales=config)
    assert rate(other["complaints.within_timescale_rate"]) == (0.0, 0, 1)
    assert rate(other["complaints.average_response_working_days"]) == (70.0, 70, 1)


def test_the_first_agreed_statement_is_day_0_whatever_the_order() -> None:
    events = statement_events(Rules(AGREED, CAL))
    later = ev.ComplaintStatementAgreed(complaint_id="agreed", agreed_at=t("2022-09-15"))
    facts = [fact(e) for e in [*events, later]]
    v = run(list(reversed(facts)), parse_period("2022-12"), timescales=AuthorityTimescales(AGREED), batch_sizes=(1,))
    assert rate(v["complaints.average_response_working_days"]) == (65.0, 65, 1)
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)


def test_a_panel_dated_before_its_stage3_request_counts_as_within_and_sets_the_due_date() -> None:
    # The letter of the rule: on or before request + 30 working days (so within), and the
    # response due 20 working days after the latest panel's date (Fri 7 Oct 2022 -> Fri 4 Nov).
    facts = [
        received("early", "2022-08-01"),
        escalated("early", "2022-10-10", 2, 3),
        panel("early", "2022-10-07"),
        closed("early", "2022-11-04", stage=3, due="2022-12-19", taken=19),
    ]
    v = run(facts)
    assert rate(v["complaints.panel_within_timescale_rate"]) == (1.0, 1, 1)
    assert rate(v["complaints.within_timescale_rate"]) == (1.0, 1, 1)
    late = run([*facts[:3], closed("early", "2022-11-07", stage=3, due="2022-12-19", taken=20)])
    assert rate(late["complaints.within_timescale_rate"]) == (0.0, 0, 1)


def test_counted_from_the_agreed_statement_the_due_date_is_its_25th_working_day_not_the_reported_one() -> None:
    # Escalated Thu 1 Sep 2022 (the producer's due date, counted from it: Fri 7 Oct), statement
    # agreed Thu 8 Sep: due on its 25th working day, Fri 14 Oct (19 Sep a bank holiday).
    def story(cid: str, answered: str, taken: int) -> list[Any]:
        return [
            received(cid, "2022-08-01"),
            escalated(cid, "2022-09-01", 1, 2),
            fact(ev.ComplaintStatementAgreed(complaint_id=cid, agreed_at=t("2022-09-08"))),
            closed(cid, answered, stage=2, due="2022-10-07", taken=taken, within=False),
        ]

    facts = story("on-time", "2022-10-14", 25) + story("late", "2022-10-17", 26)
    v = run(facts, parse_period("2022-10"), timescales=AuthorityTimescales(AGREED))
    assert rate(v["complaints.within_timescale_rate"]) == (0.5, 1, 2)
    assert rate(v["complaints.average_response_working_days"]) == (25.5, 51, 2)
    # Where stage 2 starts at the escalation, the statement changes nothing: both late.
    assert rate(run(facts, parse_period("2022-10"))["complaints.within_timescale_rate"]) == (0.0, 0, 2)
