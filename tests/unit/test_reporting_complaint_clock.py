"""Reporting's complaint clock on plain facts (`kpis.ComplaintView`), the pure rules the read
models' derived columns come from: stage 3 after the latest panel, panel timeliness, stage 2
from the first agreed statement where the tenant's timescales say so. Dates counted by hand
(England: 19 Sep 2022 the Queen's funeral; 1 and 8 May 2023 bank holidays)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reporting.facts import (
    ComplaintClosedFact,
    ComplaintEscalatedFact,
    ComplaintPanelHeldFact,
    ComplaintReceivedFact,
    ComplaintStatementAgreedFact,
    Facts,
)
from services.reporting.kpis import ComplaintView, Filters
from shared.calendar import default_calendar
from shared.complaint_timescales import Stage2Clock, Timescales

CAL = default_calendar()
AGREED = Timescales(stage2_clock=Stage2Clock.AGREED_STATEMENT)


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 12, tzinfo=UTC)


def received(cid: str, on: date, stage: int = 1, category: str = "communication") -> ComplaintReceivedFact:
    return ComplaintReceivedFact(f"k-r-{cid}", f"r-{cid}", cid, "statutory_children", stage, category, "t1", "send", on)


def escalated(cid: str, on: date, to_stage: int) -> ComplaintEscalatedFact:
    return ComplaintEscalatedFact(f"k-e-{cid}-{on}", f"e-{cid}-{on}", cid, to_stage - 1, to_stage, _at(on), on)


def panel(cid: str, on: date) -> ComplaintPanelHeldFact:
    return ComplaintPanelHeldFact(f"k-p-{cid}-{on}", f"p-{cid}-{on}", cid, _at(on), on)


def statement(cid: str, on: date) -> ComplaintStatementAgreedFact:
    return ComplaintStatementAgreedFact(f"k-s-{cid}-{on}", f"s-{cid}-{on}", cid, _at(on), on)


def closing(cid: str, stage: int, on: date, due: date, taken: int = 0) -> ComplaintClosedFact:
    return ComplaintClosedFact(
        f"k-c-{cid}-{stage}", f"c-{cid}-{stage}", cid, stage, _at(on), on, "upheld", due, True, taken
    )


def test_stage3_due_date_from_the_latest_panel_else_50_working_days_after_the_request() -> None:
    c = closing("a", 3, date(2022, 12, 19), due=date(2022, 11, 21))
    no_panel = ComplaintView(Facts.of([received("a", date(2022, 10, 10), stage=3), c]), CAL, Timescales())
    assert no_panel.due_date(c) == date(2022, 12, 19)  # 50th working day after Mon 10 Oct 2022
    facts = Facts.of(
        [received("a", date(2022, 10, 10), stage=3), panel("a", date(2022, 11, 21)), panel("a", date(2022, 11, 18)), c]
    )
    view = ComplaintView(facts, CAL, Timescales())
    assert view.due_date(c) == date(2022, 12, 19)  # 20th working day after the latest, Mon 21 Nov
    assert view.working_days(c) == 50  # from the request, whatever the panels
    unknown = closing("ghost", 3, date(2022, 12, 19), due=date(2022, 12, 1), taken=7)
    assert ComplaintView(Facts.of([unknown]), CAL, Timescales()).due_date(unknown) == date(2022, 12, 1)


def test_panel_timeliness_at_the_30th_working_day_across_the_may_2023_bank_holidays() -> None:
    # Received straight into stage 3 on Mon 3 Apr 2023: its 30th working day is Fri 19 May.
    facts = Facts.of([received("b", date(2023, 4, 3), stage=3)])
    view = ComplaintView(facts, CAL, Timescales())
    assert view.panel_within(panel("b", date(2023, 5, 19))) is True
    assert view.panel_within(panel("b", date(2023, 5, 22))) is False
    assert view.panel_within(panel("b", date(2023, 3, 31))) is True  # before the request: within
    assert view.panel_within(panel("nobody", date(2023, 5, 1))) is None  # request unknown


def test_the_request_of_stage3_is_the_earliest_escalation_to_it() -> None:
    facts = Facts.of(
        [received("c", date(2022, 8, 1)), escalated("c", date(2022, 10, 12), 3), escalated("c", date(2022, 10, 10), 3)]
    )
    assert ComplaintView(facts, CAL, Timescales()).requested_on("c", 3) == date(2022, 10, 10)


def test_stage2_starts_at_the_first_agreed_statement_only_where_configured() -> None:
    c = closing("d", 2, date(2022, 10, 14), due=date(2022, 10, 7))
    facts = Facts.of(
        [
            received("d", date(2022, 8, 1)),
            escalated("d", date(2022, 9, 1), 2),
            statement("d", date(2022, 9, 15)),
            statement("d", date(2022, 9, 8)),
            c,
        ]
    )
    agreed = ComplaintView(facts, CAL, AGREED)
    assert agreed.stage_start(c) == date(2022, 9, 8)
    assert agreed.due_date(c) == date(2022, 10, 14)  # 25th working day after Thu 8 Sep 2022
    assert agreed.working_days(c) == 25
    escalation = ComplaintView(facts, CAL, Timescales())
    assert escalation.stage_start(c) == date(2022, 9, 1)
    assert escalation.due_date(c) == date(2022, 10, 7)  # the reported one, within the maximum
    assert escalation.working_days(c) == 30


def test_the_category_is_part_of_a_complaints_slice() -> None:
    view = ComplaintView(Facts.of([received("e", date(2022, 8, 1), category="delay")]), CAL, Timescales())
    assert view.in_slice("e", Filters(category="delay"))
    assert not view.in_slice("e", Filters(category="communication"))
    assert not view.in_slice("unknown", Filters(category="delay"))
    assert view.in_slice("unknown", Filters())
