"""Per-team breakdowns and secondary suppression over KPI values (issue 14, item 10):
`kpis.protect_lines`, `kpis.protect_categories`, `kpis.team_lines`, `suppression.kpi_line`
and the dashboard's `kpis-by-team` table. A suppressed member of a breakdown must not be
recoverable by subtracting the shown ones from a shown total."""

from __future__ import annotations

from dataclasses import replace

from services.reporting import kpis
from services.reporting.dashboard.tables import DashboardData, dashboard_tables
from services.reporting.report.suppression import kpi_line
from shared.calendar import parse_period

Q2 = parse_period("2022-23-Q2")


def publish(values: list[kpis.KpiValue]) -> list[kpis.KpiValue]:
    return kpis.apply_publication_rules(values, detail=False, threshold=5)


def recoverable(published: list[kpis.KpiValue], line: list[int], total: float) -> bool:
    """Whether a suppressed member of ``line`` is the total less the shown members."""
    hidden = [i for i in line if published[i].suppressed]
    return len(hidden) == 1 and total - sum(float(published[i].value or 0) for i in line if i not in hidden) > 0


def test_one_suppressed_count_in_a_line_takes_the_next_smallest_with_it():
    raw = [kpis.count_value("complaints.received", n) for n in (3, 40, 9, 0, 12)]
    published = publish(raw)
    assert [v.suppressed for v in published] == [True, False, False, False, False]
    assert recoverable(published, [0, 1, 2, 3, 4], 64)  # what the rule is for
    protected = kpis.protect_lines(published, [[0, 1, 2, 3, 4]])
    assert [v.suppressed for v in protected] == [True, False, True, False, False]  # 9, not the zero
    assert protected[2].value is None and protected[2].numerator is None and protected[2].rag is None
    assert not recoverable(protected, [0, 1, 2, 3, 4], 64)


def test_rates_hide_the_team_on_the_fewest_cases_not_the_lowest_rate():
    kpi = "complaints.within_timescale_rate"
    raw = [kpis.rate_value(kpi, 2, 4), kpis.rate_value(kpi, 1, 20), kpis.rate_value(kpi, 9, 10)]
    protected = kpis.protect_lines(publish(raw), [[0, 1, 2]])
    assert [v.suppressed for v in protected] == [True, False, True]  # 10 cases beside 20, though 90%
    assert protected[2].denominator is None


def test_lines_with_none_or_two_suppressed_are_left_and_detail_readers_see_everything():
    two = publish([kpis.count_value("audit.completed", n) for n in (2, 3, 30)])
    assert kpis.protect_lines(two, [[0, 1, 2]]) == two
    none = publish([kpis.count_value("audit.completed", n) for n in (20, 30)])
    assert kpis.protect_lines(none, [[0, 1]]) == none
    alone = publish([kpis.count_value("audit.completed", n) for n in (2, 0)])
    assert kpis.protect_lines(alone, [[0, 1]]) == alone  # its total is itself, and suppressed


def test_a_suppression_in_one_line_spreads_to_another():
    # teams a, b (send) and c (fostering): every team adds up to the slice, each area to its own
    teams = [("a", "send"), ("b", "send"), ("c", "fostering"), ("d", "fostering")]
    assert kpis.team_lines(teams) == [[2, 3], [0, 1], [0, 1, 2, 3]]
    published = publish([kpis.count_value("compliments.external", n) for n in (4, 7, 8, 30)])
    protected = kpis.protect_lines(published, kpis.team_lines(teams))
    # a alone in send -> b hidden; fostering has none; all teams then have two hidden
    assert [v.suppressed for v in protected] == [True, True, False, False]
    published = publish([kpis.count_value("compliments.external", n) for n in (40, 7, 3, 30)])
    protected = kpis.protect_lines(published, kpis.team_lines(teams))
    assert [v.suppressed for v in protected] == [False, False, True, True]  # d: c's only neighbour in fostering


def test_categories_are_protected_as_complaints_received_is_shown():
    raw = [
        kpis.count_value("complaints.received", 52),
        kpis.count_value(kpis.BY_CATEGORY + "delay", 2),
        kpis.count_value(kpis.BY_CATEGORY + "staff", 30),
        kpis.count_value(kpis.BY_CATEGORY + "cost", 20),
    ]
    protected = kpis.protect_categories(publish(raw))
    assert [v.suppressed for v in protected] == [False, True, False, True]
    assert protected[0].value == 52


def test_kpi_line_figures_say_suppressed_for_the_secondary_and_the_range_for_the_small_one():
    published = publish([kpis.count_value("complaints.received", n) for n in (3, 40, 9)])
    figures = kpi_line(published, [("a", "send"), ("b", "send"), ("c", "send")], 5)
    assert [f.text for f in figures] == ["1\u20135", "40", "suppressed"]
    assert figures[2].value is None


def test_every_fixed_kpi_but_the_concerns_has_a_team():
    assert set(kpis.fixed_kpi_ids()) - set(kpis.team_kpi_ids()) == {"audit.concern_measures_effective_rate"}


def test_the_dashboards_kpis_by_team_table():
    teams = [("a-team", "send"), ("b-team", "send")]
    line = publish([kpis.count_value("complaints.received", 3), kpis.count_value("complaints.received", 8)])
    good = "audit.good_or_better_rate"
    rate = publish([kpis.rate_value(good, 6, 8), kpis.rate_value(good, 1, 9)])
    data = DashboardData(
        period=Q2,
        filters=kpis.Filters(service_area="send"),
        today=Q2.end,
        threshold=5,
        values=[],
        teams=teams,
        team_values={"complaints.received": line, good: rate},
    )
    (table,) = dashboard_tables(data, only="kpis-by-team")
    assert table.columns == ["KPI", "Team", "Service area", "Value"]
    assert [(r.header, [c.text for c in r.cells]) for r in table.rows] == [
        ("Complaints received", ["a-team", "SEND", "1\u20135"]),
        ("Complaints received", ["b-team", "SEND", "suppressed"]),
        ("Audits good or better", ["a-team", "SEND", "75%"]),
        ("Audits good or better", ["b-team", "SEND", "11%"]),
    ]


def test_the_reports_teams_section_a_table_per_service_area_with_secondary_suppression():
    from dataclasses import replace
    from datetime import date

    from services.reporting.facts import Facts
    from services.reporting.report.content import build_report, kpi_requests
    from services.reporting.report.model import KpiRequest, ReportInputs, Table
    from services.reporting.report.sections.teams import TEAM_KPIS

    teams = (("a-team", "send"), ("b-team", "send"), ("c-team", "fostering"))
    received = {"a-team": 3, "b-team": 8, "c-team": 30}

    def tally(n: int) -> dict[str, kpis.KpiValue]:
        raw = [
            kpis.count_value(k, n) if kpis.definition_of(k).unit == kpis.COUNT else kpis.rate_value(k, 0, 0)
            for k in kpis.fixed_kpi_ids()
        ]
        return {v.kpi: v for v in publish(raw)}

    inputs = ReportInputs(tenant="T1", period=Q2, today=date(2023, 1, 10), facts=Facts(), followups={}, teams=teams)
    commented = {("complaints.received", f"team={t}"): "Words." for t in ("b-team", "c-team")}
    inputs = replace(inputs, commentary_on_slices=commented)
    values: dict[KpiRequest, dict[str, kpis.KpiValue]] = {}
    while missing := [r for r in kpi_requests(inputs) if r not in values]:
        for r in missing:
            n = received[r.filters.team] if r.filters.team else 41
            values[r] = {k: v for k, v in tally(n).items() if r.kpi_ids is None or k in r.kpi_ids}
        inputs = replace(inputs, kpi_values=values)
    asked = {r for r in values if r.kpi_ids == TEAM_KPIS}
    assert {(r.filters.service_area, r.filters.team) for r in asked} == {(a, t) for t, a in teams}
    report = build_report(inputs)
    (section,) = [s for s in report.sections if s.id == "teams"]
    tables = {b.id: b for b in section.blocks if isinstance(b, Table)}
    assert list(tables) == ["teams-send", "teams-fostering"]  # the report's order of areas
    assert tables["teams-send"].columns == ["Measure", "a-team", "b-team"]
    row = next(r for r in tables["teams-send"].rows if r.header == "Complaints received")
    assert [c.text for c in row.cells] == ["1\u20135", "suppressed"]
    row = next(r for r in tables["teams-fostering"].rows if r.header == "Complaints received")
    assert [c.text for c in row.cells] == ["30"]
    titles = [r.header for r in tables["teams-send"].rows]
    assert len(titles) == len(kpis.team_kpi_ids()) and "Concerns whose measures worked" not in titles
    # every other by-team figure reads as its cell here: complaints by team, and a manager's
    # commentary on a team's figure (b-team's 8, asked for alone, is published by itself)
    assert publish([kpis.count_value("complaints.received", 8)])[0].value == 8
    blocks = {b.id: b for s in report.sections for b in s.blocks if isinstance(b, Table)}
    by_team = [(r.header, r.cells[0].text) for r in blocks["complaints-by-team"].rows]
    assert by_team == [("a-team", "1\u20135"), ("b-team", "suppressed"), ("c-team", "30")]
    commentary = [(r.cells[0].text, r.cells[1].text) for r in blocks["kpis-other-commentary"].rows]
    assert commentary == [("team b-team", "suppressed"), ("team c-team", "30")]


# --------------------------------------------------------------------------- filtered figures
# A team- or category-filtered figure is published to a reader only where its cell of the
# protected breakdown it belongs to is (`kpis.publish_filtered`): asked for alone, a slice
# must not show what its breakdown hides because a neighbour is small.


def received(*ns: int) -> list[kpis.KpiValue]:
    return publish([kpis.count_value("complaints.received", n) for n in ns])


SEND3 = [("a", "send"), ("b", "send"), ("c", "send")]


def filtered(team_values: list[kpis.KpiValue], teams: list[tuple[str, str]], team: str, n: int) -> kpis.KpiValue:
    """The reader's complaints.received of ``team``'s slice (``n`` before publication)."""
    breakdown = kpis.team_breakdown(teams, {"complaints.received": team_values})
    (value,) = kpis.publish_filtered(received(n), breakdown, team)
    return value


def test_a_team_hidden_beside_a_small_one_reads_suppressed_when_asked_for_alone():
    line = received(3, 9, 40)
    assert [v.suppressed for v in kpis.protect_teams(line, SEND3)] == [True, True, False]
    hidden = filtered(line, SEND3, "b", 9)
    assert hidden.suppressed and hidden.value is None and hidden.numerator is None
    shown = filtered(line, SEND3, "c", 40)
    assert not shown.suppressed and shown.value == 40
    # without the rule, the 9 asked for alone and the total 52 would give a's 3
    assert received(9)[0].value == 9


def test_exactly_at_the_threshold_is_small_and_one_over_it_is_not():
    at = received(5, 6, 30)  # 5 is suppressed, so the 6 beside it is hidden too
    assert [v.suppressed for v in at] == [True, False, False]
    assert filtered(at, SEND3, "b", 6).suppressed
    assert filtered(at, SEND3, "c", 30).value == 30
    over = received(6, 6, 30)  # nothing small: every team's figure stands
    assert [filtered(over, SEND3, t, n).value for t, n in (("a", 6), ("b", 6), ("c", 30))] == [6, 6, 30]


def test_one_team_alone_is_its_own_total_and_hides_nothing():
    teams = [("only", "send")]
    assert filtered(received(40), teams, "only", 40).value == 40
    assert filtered(received(4), teams, "only", 4).suppressed  # small: suppressed as it stands


def test_all_teams_small_are_all_suppressed_and_zero_stands():
    line = received(2, 4, 0)
    assert [v.suppressed for v in kpis.protect_teams(line, SEND3)] == [True, True, False]
    assert filtered(line, SEND3, "a", 2).suppressed and filtered(line, SEND3, "b", 4).suppressed
    zero = filtered(line, SEND3, "c", 0)
    assert not zero.suppressed and zero.value == 0  # identifies no one, as in the breakdown


def test_a_service_areas_teams_are_a_line_and_so_are_all_teams():
    teams = [("a", "fostering"), ("b", "fostering"), ("c", "send"), ("d", "send"), ("e", "send")]
    line = received(3, 30, 40, 9, 12)  # a alone in fostering takes b; send needs nothing
    assert [filtered(line, teams, t, n).suppressed for t, n in zip("abcde", (3, 30, 40, 9, 12), strict=True)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    alone = [("a", "fostering"), ("c", "send"), ("d", "send"), ("e", "send")]
    line = received(3, 40, 9, 12)  # a alone in its area: the line of all teams takes d, then send's e
    assert [filtered(line, alone, t, n).suppressed for t, n in (("c", 40), ("d", 9), ("e", 12))] == [
        False,
        True,
        True,
    ]


def test_a_team_outside_the_breakdown_has_no_published_cell():
    line = received(3, 9, 40)
    assert filtered(line, SEND3, "elsewhere", 7).suppressed
    assert filtered(line, SEND3, "elsewhere", 0).value == 0


def test_rates_read_their_cell_too_and_other_kpis_stand():
    kpi = "complaints.within_timescale_rate"
    line = publish([kpis.rate_value(kpi, 1, 3), kpis.rate_value(kpi, 5, 10), kpis.rate_value(kpi, 30, 40)])
    breakdown = kpis.team_breakdown(SEND3, {kpi: line})
    own = publish([kpis.rate_value(kpi, 5, 10), kpis.count_value("feedback.responses", 8)])
    rate, other = kpis.publish_filtered(own, breakdown, "b")
    assert rate.suppressed and rate.denominator is None
    assert other.value == 8  # not of this breakdown: stands as it is


def test_a_category_filter_reads_its_cell_of_the_categories():
    categories = ["cost", "delay", "staff"]
    line = received(8, 2, 30)  # delay is small, so cost (8) goes with it
    breakdown = kpis.category_breakdown(categories, {"complaints.received": line})
    assert [c.suppressed for c in breakdown.cells("cost").values()] == [True]
    (cost,) = kpis.publish_filtered(received(8), breakdown, "cost")
    (staff,) = kpis.publish_filtered(received(30), breakdown, "staff")
    assert cost.suppressed and staff.value == 30
    # and it is the cell the unfiltered slice's categories show
    raw = [kpis.count_value("complaints.received", 40)] + [
        kpis.count_value(kpis.BY_CATEGORY + c, n) for c, n in zip(categories, (8, 2, 30), strict=True)
    ]
    assert [v.suppressed for v in kpis.protect_categories(publish(raw))] == [False, True, True, False]


def test_a_hidden_total_takes_a_category_with_it_so_the_shown_ones_do_not_add_up_to_it():
    raw = publish(
        [
            kpis.count_value("complaints.received", 19),
            kpis.count_value(kpis.BY_CATEGORY + "cost", 12),
            kpis.count_value(kpis.BY_CATEGORY + "staff", 7),
        ]
    )
    hidden_total = [replace(raw[0], value=None, numerator=None, suppressed=True), *raw[1:]]
    protected = kpis.protect_categories(hidden_total)
    assert [v.suppressed for v in protected] == [True, False, True]  # 7 hidden: 12 alone is not 19
