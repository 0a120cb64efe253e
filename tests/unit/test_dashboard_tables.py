"""The dashboard's tables (`dashboard/tables.py`): each panel as a `Table`, figures formatted
and suppressed as in the report, secondary suppression in the breakdowns with a total, and
what a reader with reporting:detail sees."""

from __future__ import annotations

from datetime import date

from services.reporting import kpis
from services.reporting.dashboard.tables import DASHBOARD_TABLES, DashboardData, dashboard_tables
from services.reporting.followups import FollowUp
from services.reporting.report.labels import question_label
from shared.calendar import parse_period

Q2 = parse_period("2022-23-Q2")


def data(*, detail: bool = False) -> DashboardData:
    fixed = {
        k: kpis.count_value(k, 40) if kpis.definition_of(k).unit == kpis.COUNT else kpis.rate_value(k, 30, 60)
        for k in kpis.fixed_kpi_ids()
    }
    raw = kpis.assemble(
        fixed,
        {"q1": (12, 20), "q2": (1, 3)},
        {"delay": 2, "staff": 30, "cost": 8},
        areas={"planning": (9, 10), "recording": (4, 10), "voice": (1, 2)},
    )
    values = kpis.apply_publication_rules(raw, detail=detail)
    teams = [("a-team", "send"), ("b-team", "send"), ("c-team", "send")]
    by_team = kpis.apply_publication_rules(
        [kpis.count_value("complaints.received", n) for n in (4, 9, 27)], detail=detail
    )
    followups = [
        FollowUp("f1", "re-audit", "audit", "a1", "a-team", "send", date(2022, 7, 1), date(2022, 8, 1)),
        FollowUp("f2", "action", "complaint", "c1", None, None, date(2022, 9, 1), date(2022, 12, 1)),
    ]
    return DashboardData(
        period=Q2,
        filters=kpis.NO_FILTERS,
        today=date(2022, 9, 30),
        threshold=5,
        values=values,
        teams=teams,
        team_values={"complaints.received": by_team},
        followups=followups,
        commentary={"audit.completed": "=cmd|' /C calc'!A0"},
        wording={"q1": "Did your social worker listen to you?"},
    )


def table_rows(d: DashboardData, table_id: str) -> list[tuple[str, list[str]]]:
    (table,) = dashboard_tables(d, only=table_id)
    return [(row.header, [c.text for c in row.cells]) for row in table.rows]


def test_every_panel_has_its_table_in_the_pages_order():
    assert [t.id for t in dashboard_tables(data())] == list(DASHBOARD_TABLES)


def test_breakdowns_with_a_total_hide_the_next_smallest_for_a_reader_and_nothing_for_detail():
    assert table_rows(data(), "complaints-by-category") == [
        ("Cost", ["suppressed"]),
        ("Delay", ["1\u20135"]),
        ("Staff", ["30"]),
    ]
    assert table_rows(data(), "complaints-by-team") == [
        ("a-team", ["1\u20135"]),
        ("b-team", ["suppressed"]),
        ("c-team", ["27"]),
    ]
    assert table_rows(data(detail=True), "complaints-by-team") == [
        ("a-team", ["4"]),
        ("b-team", ["9"]),
        ("c-team", ["27"]),
    ]


def test_complaints_by_team_of_a_service_area_hide_what_the_whole_breakdown_hides():
    """The table shows the area's teams, protected along every team of the period: a-team
    (3) is alone in SEND, so the authority's line takes d-team (9) with it, and fostering's
    line then f-team (12): fostering's view must show neither (the authority's total less the
    other teams would give a-team; fostering's total less c-team, d-team). Teams with no
    complaints are left out; the KPI table by team shows the same cells."""
    from dataclasses import replace

    teams = [("c-team", "fostering"), ("d-team", "fostering"), ("e-team", "fostering"), ("f-team", "fostering")]
    teams.append(("a-team", "send"))
    received = kpis.apply_publication_rules(
        [kpis.count_value("complaints.received", n) for n in (40, 9, 0, 12, 3)], detail=False
    )
    d = replace(
        data(),
        filters=kpis.Filters(service_area="fostering"),
        teams=teams,
        team_values={"complaints.received": received},
    )
    shown = [("c-team", ["40"]), ("d-team", ["suppressed"]), ("f-team", ["suppressed"])]
    assert table_rows(d, "complaints-by-team") == shown
    by_kpi = [(cells[0], cells[2]) for _, cells in table_rows(d, "kpis-by-team")]
    assert by_kpi == [("c-team", "40"), ("d-team", "suppressed"), ("e-team", "0"), ("f-team", "suppressed")]
    whole = replace(d, filters=kpis.NO_FILTERS)
    assert table_rows(whole, "complaints-by-team") == [*table_rows(d, "complaints-by-team"), ("a-team", ["1\u20135"])]


def test_questions_by_wording_where_known_and_small_rates_suppressed():
    assert table_rows(data(), "feedback-questions") == [
        ("Did your social worker listen to you? (q1)", ["60%", "12", "20"]),
        ("q2", ["suppressed", "suppressed", "suppressed"]),
    ]
    assert question_label("q9", {}) == "q9"


def test_kpis_grades_and_followups():
    kpi_rows = dict(table_rows(data(), "kpis"))
    assert kpi_rows["Audits completed"] == ["40", "\u2013", "=cmd|' /C calc'!A0"]
    assert not any(h.startswith(("Positive answers:", "Complaints:")) for h in kpi_rows)
    assert table_rows(data(), "audit-grades")[0] == ("Outstanding or good", ["50%", "30"])
    assert table_rows(data(), "followups-by-origin") == [("Audit", ["1", "1"]), ("Complaint", ["1", "0"])]
    assert table_rows(data(), "followups-open") == [
        ("Re audit", ["Overdue by 60 days", "Audit a1", "a-team", "SEND", "2022-07-01", "2022-08-01"]),
        ("Action", ["Open", "Complaint c1", "\u2013", "\u2013", "2022-09-01", "2022-12-01"]),
    ]


def test_audit_areas_lowest_first_small_ones_suppressed_and_not_among_the_kpis():
    assert table_rows(data(), "audit-areas") == [
        ("Recording", ["40%", "4", "10"]),
        ("Planning", ["90%", "9", "10"]),
        ("Voice", ["suppressed", "suppressed", "suppressed"]),
    ]
    assert not [h for h, _ in table_rows(data(), "kpis") if h.startswith("Audits good or better:")]


def test_the_workforce_panels_tables_leavers_under_the_count_rule_and_the_health_check():
    from dataclasses import replace

    raw = kpis.assemble({v.kpi: v for v in data(detail=True).values}, {}, {}, staff_positive={"caseload_ok": (6, 8)})
    staff = replace(
        data(),
        values=kpis.apply_publication_rules(raw, detail=False),
        leavers={"workload": 7, "pay": 2, "retired": 0},
    )
    assert table_rows(staff, "workforce-leavers") == [("Pay", ["1\u20135"]), ("Retired", ["0"]), ("Workload", ["7"])]
    assert table_rows(staff, "workforce-health-check") == [("caseload_ok", ["75%", "6", "8"])]
    assert not any(h.startswith("Staff survey") for h, _ in table_rows(staff, "kpis"))
    caseload = dict(table_rows(staff, "kpis"))["Average caseload (cases per FTE)"]
    assert caseload[0] == "0.5 cases"  # 30 / 60 here: a number of cases, not a percentage


def test_a_complaint_category_is_named_in_the_tables_captions():
    from dataclasses import replace

    d = replace(data(), filters=kpis.Filters(service_area="send", category="staff_attitude"))
    (by_team,) = dashboard_tables(d, only="complaints-by-team")
    (kpi_table,) = dashboard_tables(d, only="kpis")
    assert by_team.caption == "Complaints received by team, SEND, complaints about staff attitude, 2022-23-Q2"
    assert kpi_table.caption.startswith("Key performance indicators, SEND, complaints about staff attitude, ")
