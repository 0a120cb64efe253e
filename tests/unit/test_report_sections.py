"""The quarterly report's sections on plain inputs, without a database: which KPI slices the
report asks the loader for (each section names its own, in the report's order), and what
the concern and learning-loop sections say. The published KPI values come from a fixed
table through the same assembly and publication rules as reporting's KPI API."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.reporting import kpis
from services.reporting.facts import (
    AnswerFact,
    AuditGradedFact,
    ComplaintReceivedFact,
    ComplimentFact,
    ConcernRaisedFact,
    ConcernResolvedFact,
    Facts,
    FeedbackFact,
)
from services.reporting.followups import GradedAudit
from services.reporting.report.content import build_report, kpi_requests
from services.reporting.report.model import KpiRequest, Paragraph, ReportInputs, RuleTally, Table
from services.reporting.report.sections.teams import TEAM_KPIS
from shared.calendar import parse_period
from shared.events import Grade

Q2 = parse_period("2022-23-Q2")  # July to September 2022
Q1 = parse_period("2022-23-Q1")


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def published(request: KpiRequest) -> dict[str, kpis.KpiValue]:
    """Every slice and period has the same figures: counts of 40, rates of 30 out of 60,
    question q1 answered positively 12 times out of 20, 7 complaints about delay."""
    fixed = {
        k: kpis.count_value(k, 40) if kpis.definition_of(k).unit == kpis.COUNT else kpis.rate_value(k, 30, 60)
        for k in kpis.fixed_kpi_ids()
    }
    values = kpis.assemble(fixed, {"q1": (12, 20)}, {"delay": 7}, request.kpi_ids)
    return {v.kpi: v for v in kpis.apply_publication_rules(values, detail=False)}


def loaded(inputs: ReportInputs) -> ReportInputs:
    """As the loader does: ask `kpi_requests` until nothing is missing."""
    while missing := [r for r in kpi_requests(inputs) if r not in inputs.kpi_values]:
        inputs = replace(inputs, kpi_values={**inputs.kpi_values, **{r: published(r) for r in missing}})
    return inputs


def audit(
    audit_id: str, area: str, day: date, *, audit_type: str = "routine", concern: str | None = None
) -> AuditGradedFact:
    return AuditGradedFact(
        key=f"k-{audit_id}",
        event_id=audit_id,
        audit_id=audit_id,
        case_ref="k1:0000000000000000",
        service_area=area,
        team="t",
        audit_type=audit_type,
        concern_id=concern,
        completed_at=_at(day),
        completed_on=day,
        overall_grade="good",
    )


def concern(concern_id: str, raised: date, review_by: date) -> ConcernRaisedFact:
    return ConcernRaisedFact(
        f"k-{concern_id}", concern_id, concern_id, "send", "management_oversight", raised, review_by
    )


def resolved(concern_id: str, day: date) -> ConcernResolvedFact:
    return ConcernResolvedFact(f"k-{concern_id}-r", f"{concern_id}-r", concern_id, _at(day), day)


def inputs_of(facts: Facts, **changes) -> ReportInputs:
    base = ReportInputs(tenant="T1", period=Q2, today=date(2023, 1, 10), facts=facts, followups={})
    return replace(base, **changes)


def rows(report, table_id: str) -> list[tuple[str, list[str]]]:
    for section in report.sections:
        for block in section.blocks:
            if isinstance(block, Table) and block.id == table_id:
                return [(row.header, [cell.text for cell in row.cells]) for row in block.rows]
    raise AssertionError(f"no table {table_id}")


def test_the_report_asks_for_both_quarters_first_then_each_sections_slices_in_order():
    graded = audit("a1", "send", date(2022, 8, 1))
    facts = Facts(
        audits_graded=[graded],
        feedback=[
            FeedbackFact(
                "k-f1",
                "f1",
                "f1",
                "s",
                "fostering",
                "t",
                "child",
                _at(date(2022, 8, 2)),
                date(2022, 8, 2),
                (AnswerFact("q1", True, False),),
            ),
        ],
        complaints_received=[
            ComplaintReceivedFact(
                "k-c1", "c1", "c1", "statutory_children", 1, "delay", "team-a", "send", date(2022, 7, 5)
            ),
        ],
        compliments=[
            ComplimentFact("k-k1", "k1", "k1", "fostering", "t", "external", date(2022, 9, 1)),
            ComplimentFact("k-k2", "k2", "k2", "send", "t", "internal", date(2022, 9, 1)),
        ],
    )
    inputs = inputs_of(
        facts,
        audits={"a1": GradedAudit(graded, Grade.GOOD)},
        commentary_on_slices={("complaints.received", "team=team-a"): "Words."},
        teams=(("team-a", "send"),),  # the quarter's teams (`activity.breakdown_teams`)
    )
    assert kpi_requests(inputs) == [KpiRequest(Q2), KpiRequest(Q1)]

    questions, categories = ("feedback.positive_rate.q1",), ("complaints.by_category.delay",)
    fostering, team_a = kpis.Filters(service_area="fostering"), kpis.Filters(team="team-a")
    assert kpi_requests(loaded(inputs)) == [
        KpiRequest(Q2),
        KpiRequest(Q1),
        KpiRequest(Q2, team_a, ("complaints.received",)),  # commentary on a slice (KPIs section)
        # each team's slice of the per-team breakdown: a team's figure reads as its cell there
        # (the commentary's, complaints by team, measures by team)
        KpiRequest(Q2, kpis.Filters(service_area="send", team="team-a"), TEAM_KPIS),
        KpiRequest(Q2, kpis.NO_FILTERS, questions),  # questions in both quarters (feedback)
        KpiRequest(Q1, kpis.NO_FILTERS, questions),
        KpiRequest(Q2, fostering, questions),  # by the service areas that answered
        KpiRequest(Q2, kpis.Filters(service_area="send"), ("audit.completed", "audit.good_or_better_rate")),
        KpiRequest(Q2, kpis.NO_FILTERS, categories),  # categories in both quarters (complaints)
        KpiRequest(Q1, kpis.NO_FILTERS, categories),
        KpiRequest(Q2, fostering, ("compliments.external",)),  # external compliments only
        KpiRequest(Q1, fostering, ("compliments.external",)),
    ]


def test_a_report_without_a_slice_it_shows_is_refused_and_only_a_quarter_has_one():
    inputs = inputs_of(Facts(), commentary_on_slices={("complaints.received", "team=team-a"): "Words."})
    base_only = replace(inputs, kpi_values={r: published(r) for r in (KpiRequest(Q2), KpiRequest(Q1))})
    with pytest.raises(KeyError, match="kpi_requests"):
        build_report(base_only)
    with pytest.raises(ValueError, match="financial quarter"):
        build_report(replace(inputs, period=parse_period("2022-07")))
    assert build_report(loaded(inputs)).title == "Quarterly quality assurance report, 2022-23-Q2"


def test_each_concern_open_in_the_quarter_reads_its_status_and_first_targeted_audit():
    # The quarter is over (today is in January): everything is as at its end, 30 September.
    targeted = [
        audit("t2", "send", date(2022, 8, 22), audit_type="targeted", concern="fixed"),
        audit("t1", "send", date(2022, 8, 1), audit_type="targeted", concern="fixed"),
        audit("t3", "send", date(2022, 10, 4), audit_type="targeted", concern="new"),  # after the quarter
    ]
    facts = Facts(
        concerns_raised=[
            concern("before", date(2022, 4, 1), date(2022, 6, 1)),  # resolved before the quarter: not listed
            concern("fixed", date(2022, 5, 2), date(2022, 12, 1)),
            concern("late", date(2022, 7, 4), date(2022, 9, 1)),
            concern("later", date(2022, 8, 15), date(2022, 11, 15)),  # resolved after the quarter
            concern("new", date(2022, 9, 5), date(2022, 12, 5)),
            concern("future", date(2022, 10, 3), date(2023, 1, 3)),  # raised after the quarter: not listed
        ],
        concerns_resolved=[
            resolved("before", date(2022, 6, 20)),
            resolved("fixed", date(2022, 8, 30)),
            resolved("later", date(2022, 10, 20)),
        ],
        audits_graded=targeted,
    )
    counted = {a.audit_id: GradedAudit(a, Grade.GOOD) for a in targeted[:2]}  # the quarter's audits
    report = build_report(loaded(inputs_of(facts, audits=counted)))
    assert rows(report, "audit-concerns") == [
        ("Management oversight", ["SEND", "2 May 2022", "1 Dec 2022", "resolved 30 Aug 2022", "yes, first 1 Aug 2022"]),
        ("Management oversight", ["SEND", "4 Jul 2022", "1 Sep 2022", "open, past its review date", "not yet"]),
        ("Management oversight", ["SEND", "15 Aug 2022", "15 Nov 2022", "open", "not yet"]),
        ("Management oversight", ["SEND", "5 Sep 2022", "5 Dec 2022", "open", "not yet"]),
    ]
    summary = dict(rows(report, "audit-concerns-summary"))
    # 3 raised, 1 resolved and 2 targeted audits in the quarter, 3 open at its end: all
    # counts from 1 to 5, so all suppressed
    assert list(summary) == [
        "Concerns raised",
        "Concerns resolved",
        "Concerns open on 30 September 2022",
        "Targeted audits completed",
    ]
    assert all(cells == ["1\u20135"] for cells in summary.values())


def test_follow_ups_list_the_known_rules_first_then_any_other_by_name():
    tally = {
        "zeta-rule": RuleTally(opened=9),
        "re-audit": RuleTally(opened=12, closed=8, on_time=6, open=7, overdue=0, improved=6),
        "complaint-learning": RuleTally(opened=3),
    }
    report = build_report(loaded(inputs_of(Facts(), followups=tally, followup_rules=["alpha-rule"])))
    assert rows(report, "followups-by-rule") == [
        ("Learning from upheld complaints (complaint-learning)", ["1\u20135", "0", "0", "0", "0"]),
        ("Re-audit after a weak grade (re-audit)", ["12", "8", "6", "7", "0"]),
        ("Alpha rule (alpha-rule)", ["0", "0", "0", "0", "0"]),
        ("Zeta rule (zeta-rule)", ["9", "0", "0", "0", "0"]),
    ]
    learning = next(s for s in report.sections if s.id == "learning")
    reaudits = learning.blocks[-1]
    assert isinstance(reaudits, Paragraph)
    assert reaudits.text.endswith("completed in 2022-23-Q2: 8; of these, the grade improved in 6.")
    assert any(getattr(b, "id", None) == "chart-followups" for b in learning.blocks)

    empty = build_report(loaded(inputs_of(Facts())))
    learning = next(s for s in empty.sections if s.id == "learning")
    assert not any(getattr(b, "id", None) == "chart-followups" for b in learning.blocks)


def _compliment(
    i: int, day: date, team: str, *, origin: str = "external", shared: str | None = "Thank you"
) -> ComplimentFact:
    return ComplimentFact(f"k-c{i}", f"c{i}", f"c{i}", "fostering", team, origin, day, shared)


def test_the_good_practice_page_lists_the_quarters_shared_external_compliments_by_team():
    facts = Facts(
        compliments=[
            _compliment(1, date(2022, 9, 30), "fostering-east", shared="Late in the quarter"),
            _compliment(2, date(2022, 7, 1), "fostering-east", shared="First day of the quarter"),
            _compliment(3, date(2022, 8, 1), "fostering-west", shared=None),  # not agreed
            _compliment(4, date(2022, 8, 1), "fostering-north", origin="internal"),  # not external
            _compliment(5, date(2022, 6, 30), "fostering-south"),  # the quarter before
            _compliment(6, date(2022, 8, 2), "fostering-west", shared="Kind words"),
        ]
    )
    report = build_report(loaded(inputs_of(facts)))
    page = next(s for s in report.sections if s.id == "good-practice")
    assert [s.id for s in report.sections].index("good-practice") == [s.id for s in report.sections].index(
        "learning"
    ) + 1
    tables = [b for b in page.blocks if isinstance(b, Table)]
    assert [t.caption for t in tables] == [
        "Team fostering-east (Fostering): 2 compliments",
        "Team fostering-west (Fostering): 1 compliment",
    ]
    assert [(r.header, [c.text for c in r.cells]) for r in tables[0].rows] == [
        ("1 July 2022", ["First day of the quarter"]),
        ("30 September 2022", ["Late in the quarter"]),
    ]
    empty = build_report(loaded(inputs_of(Facts(compliments=[_compliment(3, date(2022, 8, 1), "x", shared=None)]))))
    blocks = next(s for s in empty.sections if s.id == "good-practice").blocks
    assert not any(isinstance(b, Table) for b in blocks)
    assert "No external compliment received in 2022-23-Q2" in blocks[-1].text  # type: ignore[union-attr]


def test_the_cover_names_the_authority_and_open_follow_ups_are_listed_by_what_they_are_about():
    from services.reporting.report.model import OpenFollowUp

    named = build_report(loaded(inputs_of(Facts(), authority="Westshire County Council (T1)")))
    assert named.authority == "Westshire County Council (T1)"
    assert build_report(loaded(inputs_of(Facts()))).authority == "authority T1"
    about = "Routine audit of case k1:0000000000000000 (t), graded inadequate on 1 Jul 2022"
    listed = [
        OpenFollowUp("re-audit", "audit", about, "t", date(2022, 7, 1), date(2022, 8, 1)),
        OpenFollowUp("action", "complaint", None, None, date(2022, 9, 1), date(2022, 9, 30)),
    ]
    report = build_report(loaded(inputs_of(Facts(), open_followups=listed, open_followups_total=30)))
    assert rows(report, "followups-open") == [
        ("Re-audit after a weak grade", [about, "t", "1 Jul 2022", "1 Aug 2022", "Overdue by 60 days"]),
        ("Actions", ["Complaint (details not yet received)", "—", "1 Sep 2022", "30 Sep 2022", "Open"]),
    ]
