"""Benchmarking rules (services/reporting/benchmarks/domain.py): ranks with ties and
direction, neighbours' mean with missing neighbours, the authority's value (live, else
published), and what one tenant sees of another (suppressed like a published table)."""

from __future__ import annotations

import pytest

from services.reporting import kpis
from services.reporting.benchmarks import domain
from services.reporting.benchmarks.domain import ENGLAND, Authority, Comparators, Standing, rank_among
from services.reporting.benchmarks.measures import MEASURES, measure_of

ME = "E10000034"
WM, EM = "E12000005", "E12000004"
ASSESS = measure_of("assessments_within_45_days_pct")  # higher is better, percent
REREF = measure_of("re_referrals_within_12_months_pct")  # lower is better
CASELOAD = measure_of("sw_average_caseload")  # number, lower is better
assert ASSESS and REREF and CASELOAD


def _a(code: str, region: str = WM) -> Authority:
    return Authority(code, f"LA {code}", region, "West Midlands" if region == WM else "East Midlands")


def _comparators(figures: dict[str, float], neighbours: tuple[str, ...] = (), measure: str = ASSESS.measure):
    codes = {c for c in figures if domain.is_authority(c)} | set(neighbours) | {ME}
    authorities = {c: _a(c, EM if c.endswith("9") else WM) for c in codes}
    return Comparators(authorities, {ME: neighbours}, {measure: figures})


@pytest.mark.parametrize(
    ("value", "others", "higher", "expected"),
    [
        (80.0, [70.0, 60.0], True, Standing(1, 3)),
        (80.0, [90.0, 85.0, 70.0], True, Standing(3, 4)),
        (80.0, [90.0, 85.0, 70.0], False, Standing(2, 4)),  # lower is better: only 70 is better
        (80.0, [80.0, 90.0], True, Standing(2, 3)),  # a tie shares the better rank: 90 is 1st, both 80s 2nd
        (80.0, [80.0, 80.0], False, Standing(1, 3)),  # all tied: all first
        (80.0, [], True, Standing(1, 1)),  # alone
        (None, [70.0, 60.0], True, Standing(None, 2)),  # no value: no rank
    ],
)
def test_rank_is_a_competition_rank_honouring_direction(value, others, higher, expected):
    assert rank_among(value, others, higher) == expected


def test_ties_in_a_group_share_the_better_rank_and_the_next_rank_is_skipped():
    # 90, 80, 80, 70: ranks 1, 2, 2, 4
    assert [
        rank_among(v, [x for j, x in enumerate([90, 80, 80, 70]) if j != i], True).rank
        for i, v in enumerate([90.0, 80.0, 80.0, 70.0])
    ] == [1, 2, 2, 4]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (112, "112th"),
        (101, "101st"),
    ],
)
def test_ordinals(n, text):
    assert domain.ordinal(n) == text


def test_neighbours_mean_skips_neighbours_without_a_figure_and_counts_them():
    neighbours = ("E10900001", "E10900002", "E10900003", "E10900004")
    figures = {ME: 80.0, "E10900001": 70.0, "E10900002": 90.0}  # 03 suppressed, 04 never published
    b = domain.benchmark(ASSESS, _comparators(figures, neighbours), ME)
    assert b.neighbours_mean == pytest.approx(0.80)
    assert (b.neighbours_counted, b.neighbours_listed) == (2, 4)
    assert b.neighbours == Standing(2, 3)  # 0.9 better; 0.8 ranks second of three


def test_no_neighbour_figures_gives_no_mean_and_rank_first_of_one():
    b = domain.benchmark(ASSESS, _comparators({ME: 80.0}, ("E10900001",)), ME)
    assert b.neighbours_mean is None
    assert b.neighbours == Standing(1, 1)
    assert (b.neighbours_counted, b.neighbours_listed) == (0, 1)


def test_an_authority_unknown_to_the_neighbour_file_is_ranked_nationally_only():
    c = Comparators({}, {}, {ASSESS.measure: {ME: 80.0, "E10900001": 90.0, ENGLAND: 85.0}})
    b = domain.benchmark(ASSESS, c, ME)
    assert b.region is None and b.region_value is None
    assert b.nationally == Standing(2, 2)
    assert b.england_value == pytest.approx(0.85)
    assert b.summary() == "1st of 1 among its neighbours, 2nd of 2 nationally"


def test_region_and_england_figures_are_the_published_rows_and_ranks_use_authorities_only():
    figures = {ME: 80.0, "E10900001": 90.0, "E10900009": 95.0, WM: 77.7, EM: 99.0, ENGLAND: 81.2}
    b = domain.benchmark(ASSESS, _comparators(figures), ME)
    assert b.region_value == pytest.approx(0.777)  # its region's published figure, not a mean
    assert b.england_value == pytest.approx(0.812)
    assert b.in_region == Standing(2, 2)  # E10900009 is in the East Midlands
    assert b.nationally == Standing(3, 3)  # region and England rows are not authorities


def test_lower_is_better_measure_ranks_the_lowest_first():
    figures = {ME: 12.0, "E10900001": 20.0, "E10900002": 15.0}
    b = domain.benchmark(REREF, _comparators(figures, ("E10900001", "E10900002"), REREF.measure), ME)
    assert b.higher_is_better is False
    assert b.neighbours == Standing(1, 3)
    assert b.summary().startswith("1st of 3 among its neighbours, 1st of 3 in the region")


def test_a_configured_target_sets_the_direction():
    assert domain.direction(REREF, {}) is False
    assert domain.direction(REREF, {REREF.kpi: kpis.Target(0.2, higher_is_better=True)}) is True
    assert domain.direction(ASSESS, {ASSESS.kpi: kpis.Target(0.8, higher_is_better=False)}) is False


def test_the_live_value_is_used_where_qaloop_has_one():
    figures = {ME: 60.0, "E10900001": 70.0}
    live = kpis.rate_value(ASSESS.kpi, 9, 10)
    b = domain.benchmark(ASSESS, _comparators(figures, ("E10900001",)), ME, live=live)
    assert (b.value, b.source, b.published_value) == (pytest.approx(0.9), "qaloop", pytest.approx(0.6))
    assert b.neighbours == Standing(1, 2)  # its own published figure is not a comparator


@pytest.mark.parametrize(
    "live",
    [
        kpis.rate_value(ASSESS.kpi, 0, 0),  # qaloop has none this year
        kpis.KpiValue(ASSESS.kpi, None, None, None, suppressed=True),  # small number: never ranked
        None,
    ],
)
def test_the_published_figure_is_used_where_qaloop_has_none(live):
    b = domain.benchmark(ASSESS, _comparators({ME: 60.0, "E10900001": 70.0}), ME, live=live)
    assert (b.value, b.source) == (pytest.approx(0.6), "published")


def test_no_value_at_all_has_no_rank():
    b = domain.benchmark(ASSESS, _comparators({"E10900001": 70.0}, ("E10900001",)), ME)
    assert (b.value, b.source) == (None, None)
    assert b.neighbours == Standing(None, 1)
    assert "not ranked among its neighbours" in b.summary()


def test_a_number_measure_is_compared_as_published():
    b = domain.benchmark(CASELOAD, _comparators({ME: 17.5, ENGLAND: 16.0}, measure=CASELOAD.measure), ME)
    assert b.value == 17.5 and b.england_value == 16.0


def test_benchmarks_lists_mapped_measures_with_figures_in_table_order():
    c = Comparators({}, {}, {REREF.measure: {ME: 10.0}, ASSESS.measure: {ME: 80.0}, "unmapped": {ME: 1.0}})
    assert [b.measure.kpi for b in domain.benchmarks(c, ME, live={}, targets={})] == [ASSESS.kpi, REREF.kpi]


def test_peers_are_seen_as_a_published_table_whatever_the_readers_role():
    peers = {
        "E10000035": kpis.rate_value(ASSESS.kpi, 3, 4),  # 4 cases: suppressed
        "E10000036": kpis.rate_value(ASSESS.kpi, 30, 40),
        "E10000037": kpis.rate_value(ASSESS.kpi, 0, 0),
    }
    seen = domain.peers_seen(peers, threshold=5)
    assert [(p.authority, p.value, p.suppressed) for p in seen] == [
        ("E10000035", None, True),
        ("E10000036", 0.75, False),
        ("E10000037", None, False),
    ]


def test_live_rank_counts_only_the_peers_values_shown_and_only_for_a_live_value():
    peers = domain.peers_seen(
        {"E10000035": kpis.rate_value(ASSESS.kpi, 3, 4), "E10000036": kpis.rate_value(ASSESS.kpi, 35, 40)}, 5
    )
    live = kpis.rate_value(ASSESS.kpi, 8, 10)
    b = domain.benchmark(ASSESS, _comparators({}), ME, live=live, peers=peers)
    assert b.live_standing == Standing(2, 2)  # 0.875 better; the suppressed one is not ranked
    published_only = domain.benchmark(ASSESS, _comparators({ME: 50.0}), ME, peers=peers)
    assert published_only.live_standing is None


def test_the_mapping_table_names_known_or_contracted_kpis_once():
    contracted = {
        "send.ehcp_within_20_weeks_incl_exceptions_rate",
        "workforce.turnover_rate",
        "workforce.vacancy_rate",
        "workforce.agency_rate",
        "workforce.average_caseload",
    }
    assert len({m.measure for m in MEASURES}) == len(MEASURES)
    assert len({m.kpi for m in MEASURES}) == len(MEASURES)
    for m in MEASURES:
        assert kpis.is_known_kpi(m.kpi) or m.kpi in contracted, m.kpi
