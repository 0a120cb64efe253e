"""The quarterly report's content, charts and HTML on plain facts (written into the read
models and loaded as the service loads them): small numbers suppressed everywhere, internal
compliments kept out of the figures, accessible markup."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest

from services.reporting import kpis, store
from services.reporting.facts import (
    AnswerFact,
    ComplaintClosedFact,
    ComplaintReceivedFact,
    ComplimentFact,
    FeedbackFact,
    YouSaidWeDidFact,
    fact_from_event,
)
from services.reporting.handlers import ReportingQueries
from services.reporting.report.api import wants_pdf
from services.reporting.report.charts import Bar, Series, bar_chart
from services.reporting.report.content import build_report
from services.reporting.report.figures import change_figure, count_figure, kpi_figure, rate_figure
from services.reporting.report.inputs import load_inputs
from services.reporting.report.labels import commentary_filters, filters_of
from services.reporting.report.model import ReportInputs
from services.reporting.report.render import render_html
from services.reporting.report.sections.quarter import published_values
from services.reporting.report.sections.workforce import IDS
from services.simulation.stream import contract_stream
from shared.calendar import default_calendar, parse_period
from shared.tenant_config.cache import FixedConfig
from shared.tenant_config.model import TenantConfig
from tests.support.readmodels import ReadModelHarness

pytestmark = pytest.mark.integration

SECTION_HEADINGS = (
    "Key performance indicators",
    "Feedback from children, young people and families",
    "Audit activity",
    "Complaints and compliments",
    "Social work workforce",
    "Closing the learning loop",
)
SMALL = re.compile(r"^[1-5]$")  # a raw count that must have been suppressed
SUPPRESSED_COUNT = "1\u20135"  # 1-5 with an en dash
EN_DASH = "\u2013"
MINUS = "\u2212"


# --------------------------------------------------------------------------- reading the HTML


@dataclass
class ReportPage:
    """The parts of the report's HTML that the tests read."""

    h2: list[str] = field(default_factory=list)
    tables: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)  # id -> (row header, cells)
    columns: dict[str, list[str]] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    paragraphs: dict[str, list[str]] = field(default_factory=dict)  # css class -> texts
    svg_titles: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        return [c for rows in self.tables.values() for _, cells in rows for c in cells]

    def row(self, table: str, header: str) -> list[str]:
        for h, cells in self.tables[table]:
            if h == header:
                return cells
        raise KeyError(f"no row {header!r} in {table}: {[h for h, _ in self.tables[table]]}")

    def column(self, table: str, name: str) -> int:
        return self.columns[table].index(name) - 1  # the first column names the row headers


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = ReportPage()
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._text: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._header: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a.get("id", "")
            self.page.tables[self._table] = []
            self.page.columns[self._table] = []
        if tag == "tr":
            self._row, self._header = [], None
        if tag in ("h2", "td", "th", "caption", "p", "title"):
            self._stack.append((tag, a))
            self._text = []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._table is not None and self._row is not None and self._header is not None:
            self.page.tables[self._table].append((self._header, self._row))
            self._row = None
        if tag == "table":
            self._table = None
        if not self._stack or self._stack[-1][0] != tag:
            return
        _, attrs = self._stack.pop()
        content = " ".join("".join(self._text).split())
        if tag == "h2":
            self.page.h2.append(content)
        elif tag == "caption" and self._table is not None:
            self.page.captions[self._table] = content
        elif tag == "th" and self._table is not None:
            if attrs.get("scope") == "col":
                self.page.columns[self._table].append(content)
            else:
                self._header = content
        elif tag == "td" and self._row is not None:
            self._row.append(content)
        elif tag == "p":
            self.page.paragraphs.setdefault(attrs.get("class", ""), []).append(content)
        elif tag == "title":
            self.page.svg_titles.append(content)


def read_report(html: str) -> ReportPage:
    parser = _Parser()
    parser.feed(html)
    return parser.page


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("n", range(0, 9))
def test_extra_counts_follow_the_kpi_publication_rule(n):
    (published,) = kpis.apply_publication_rules([kpis.KpiValue("audit.completed", n, n, None)], detail=False)
    figure = count_figure(n, 5)
    assert figure.suppressed == published.suppressed
    assert figure.text == (SUPPRESSED_COUNT if 1 <= n <= 5 else str(n))
    assert figure.value == (None if figure.suppressed else n)
    assert kpi_figure(published, 5).text == figure.text


@pytest.mark.parametrize("denominator", range(0, 9))
def test_extra_rates_follow_the_kpi_publication_rule(denominator):
    raw = kpis.KpiValue("audit.good_or_better_rate", 1 / denominator if denominator else None, 1, denominator)
    (published,) = kpis.apply_publication_rules([raw], detail=False)
    figure = rate_figure(1, denominator, 5)
    assert figure.suppressed == published.suppressed
    assert figure.text == kpi_figure(published, 5).text
    assert figure.text in ("no data", "suppressed") or figure.text.endswith("%")


def test_change_is_only_between_two_figures_that_are_shown():
    assert change_figure(count_figure(40, 5), count_figure(3, 5), kpis.COUNT).text == EN_DASH
    assert change_figure(count_figure(40, 5), count_figure(30, 5), kpis.COUNT).text == "+10"
    assert change_figure(rate_figure(1, 10, 5), rate_figure(3, 10, 5), kpis.RATE).text == f"{MINUS}20 pts"
    assert change_figure(rate_figure(5, 10, 5), rate_figure(50, 100, 5), kpis.RATE).text == "no change"


@pytest.mark.parametrize(
    ("accept", "pdf"),
    [
        (None, False),
        ("text/html", False),
        ("application/pdf", True),
        ("text/html, application/pdf;q=0.5", False),
        ("application/pdf, */*", True),
        ("*/*", False),
        ("application/pdf;q=0", False),
    ],
)
def test_accept_header_chooses_pdf_only_when_asked(accept, pdf):
    assert wants_pdf(accept) is pdf


# --------------------------------------------------------------------------- charts


def test_chart_is_accessible_svg_and_draws_no_bar_for_a_suppressed_figure():
    svg = bar_chart(
        chart_id="c1",
        title="Complaints by <category>",
        description="bars & more",
        categories=["communication", "delay"],
        series=[
            Series("2022-23-Q2", [Bar(12, "12"), Bar(None, SUPPRESSED_COUNT)]),
            Series("2022-23-Q1", [Bar(8, "8"), Bar(9, "9")]),
        ],
    )
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{ns}title").text == "Complaints by <category>"
    assert root.find(f"{ns}desc").text == "bars & more"
    bars = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(bars) == 3  # the suppressed figure has no bar
    assert SUPPRESSED_COUNT in [t.text for t in root.iter(f"{ns}text")]


def test_chart_rejects_series_of_the_wrong_length():
    with pytest.raises(ValueError):
        bar_chart(chart_id="c", title="t", description="d", categories=["a"], series=[Series("s", [])])


# --------------------------------------------------------------------------- the report

Q2 = parse_period("2022-23-Q2")


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def small_slice() -> list[object]:
    """A team with three complaints in a category of its own, and a question answered twice:
    figures that must never be published as they are."""
    out: list[object] = []
    for i in range(3):
        out.append(
            ComplaintReceivedFact(
                key=f"/qaloop/complaints tiny-r{i}",
                event_id=f"tiny-r{i}",
                complaint_id=f"tiny{i}",
                procedure="statutory_children",
                stage=1,
                category="transport",
                team="tiny-team",
                service_area="fostering",
                received_on=date(2022, 8, 1),
            )
        )
        out.append(
            ComplaintClosedFact(
                key=f"/qaloop/complaints tiny-c{i}",
                event_id=f"tiny-c{i}",
                complaint_id=f"tiny{i}",
                stage=1,
                closed_at=_at(date(2022, 8, 10)),
                closed_on=date(2022, 8, 10),
                outcome="upheld",
                due_date=date(2022, 8, 15),
                within_timescale=True,
                working_days_taken=7,
            )
        )
    for i in range(2):
        out.append(
            FeedbackFact(
                key=f"/qaloop/feedback tiny-f{i}",
                event_id=f"tiny-f{i}",
                response_id=f"tiny-f{i}",
                survey_id="tiny-survey",
                service_area="fostering",
                team="tiny-team",
                respondent="child",
                received_at=_at(date(2022, 8, 2)),
                received_on=date(2022, 8, 2),
                answers=(AnswerFact("tiny_question", True, False),),
            )
        )
    for i in range(9):
        out.append(
            ComplimentFact(
                key=f"/qaloop/feedback tiny-k{i}",
                event_id=f"tiny-k{i}",
                compliment_id=f"tiny-k{i}",
                service_area="fostering",
                team="tiny-team",
                origin="internal",
                received_on=date(2022, 8, 3),
            )
        )
    out.append(
        YouSaidWeDidFact(
            key="/qaloop/feedback ysw-tiny",
            event_id="ysw-tiny",
            item_id="ysw-tiny",
            service_area="send",
            theme="easy_to_contact_case_worker",
            published_at=_at(date(2022, 9, 1)),
            published_on=date(2022, 9, 1),
        )
    )
    return [*out, *workforce_slice()]


def workforce_slice() -> list[object]:
    """A team of four, one of whom leaves in the quarter, and a team of twelve."""
    from tests.support.workforce import caseload, joined, left, survey

    four = [joined(f"tiny-w{i}", date(2021, 1, 4), team="tiny-team", area="fostering") for i in range(4)]
    twelve = [joined(f"big-w{i}", date(2021, 1, 4), team="big-team") for i in range(12)]
    return [
        *four,
        *twelve,
        left("tiny-w0", date(2022, 8, 31), "pay"),
        *(caseload(f"big-w{i}", date(2022, 9, 30), 15 + i) for i in range(12)),
        *(survey(date(2022, 8, 1 + i), {"manageable_caseload": i % 3 > 0}, team="big-team") for i in range(8)),
    ]


@pytest.fixture(scope="module")
async def inputs(servers, pool) -> ReportInputs:
    """The report's inputs as `inputs.load_inputs` reads them, from the facts written into the
    read models (a tenant of their own) through the real path, with commentary saved by a
    manager. The words of the "you said, we did" item live in the event store, which these
    facts skip: they are given here."""
    events = contract_stream(1500, seed=5)
    facts = [f for e in events if (f := fact_from_event(e, e.typed_data())) is not None] + small_slice()
    calendar = default_calendar()
    harness = ReadModelHarness(servers.database_url)
    try:
        tenant = await asyncio.to_thread(harness.load, facts, calendar=calendar)
    finally:
        harness.close()
    async with pool.acquire() as conn:
        for kpi, filters, words in (
            ("audit.good_or_better_rate", "", "A new template for management oversight from October."),
            ("feedback.positive_rate.easy_to_contact_case_worker", "service_area=send", "A communication framework."),
            ("complaints.received", "team=tiny-team", "Three about one driver."),
        ):
            await store.save_commentary(conn, tenant, kpi, Q2.label, filters, words, "a.manager")
    target = {"audit.good_or_better_rate": {"target": 0.8, "amber_tolerance": 0.1}}
    queries = ReportingQueries(
        pool,
        config=FixedConfig(TenantConfig.model_validate({"targets": target}), fixed_calendar=calendar),
        clock=lambda: date(2023, 6, 30),
    )
    loaded = await load_inputs(queries, tenant, Q2)
    return replace(
        loaded,
        you_said_we_did={"/qaloop/feedback ysw-tiny": ("It was hard to reach my case worker.", "A duty line.")},
    )


@pytest.fixture(scope="module")
def page(inputs) -> ReportPage:
    return read_report(render_html(build_report(inputs)))


def test_every_section_has_its_heading(page):
    for heading in SECTION_HEADINGS:
        assert any(h.endswith(heading) for h in page.h2), (heading, page.h2)


def test_the_workforce_section_suppresses_a_team_of_four(page, inputs):
    assert all(c == "suppressed" for c in page.row("workforce-by-team", "tiny-team"))
    # big-team's figures are published (stable; (15 + ... + 26) / 12 cases per FTE) ...
    big = published_values(inputs, Q2, kpis.Filters(team="big-team"), IDS)
    assert big["workforce.stability_rate"].value == 1.0 and big["workforce.average_caseload"].value == 20.5
    # ... but it is the only other team with social workers: with the authority's figures it
    # would give tiny-team's away, so it reads "suppressed" beside it, here and in "Measures by team"
    assert page.row("workforce-by-team", "big-team") == ["suppressed"] * 5
    stability = page.row("teams-childrens-social-care", "Social worker stability")
    assert stability[page.column("teams-childrens-social-care", "big-team")] == "suppressed"
    assert page.row("workforce-leaving-reasons", "Pay") == [SUPPRESSED_COUNT, "0"]
    assert page.row("workforce-health-check", "manageable_caseload")[0] == "62%"  # 5 of 8


def test_no_table_cell_is_a_raw_small_number(page):
    small = [c for c in page.cells() if SMALL.match(c)]
    assert small == []


def test_the_small_slice_is_suppressed_wherever_it_appears(page):
    received = page.column("complaints-by-team", "Received")
    assert page.row("complaints-by-team", "tiny-team")[received] == SUPPRESSED_COUNT
    assert page.row("complaints-by-category", "Transport")[0] == SUPPRESSED_COUNT
    assert page.row("complaints-by-category", "Transport")[2] == "suppressed"
    transport = page.column("complaints-team-category", "Transport")
    assert page.row("complaints-team-category", "tiny-team")[transport] == SUPPRESSED_COUNT
    assert page.row("feedback-questions", "tiny_question")[0] == "suppressed"


def test_internal_compliments_are_apart_and_not_in_the_figures(inputs, page):
    in_q2 = [c for c in inputs.facts.compliments if Q2.contains(c.received_on)]
    external = sum(1 for c in in_q2 if c.origin == "external")
    internal = sum(1 for c in in_q2 if c.origin == "internal")
    assert internal > 5 and external > 5
    assert page.row("compliments", "All service areas")[0] == f"{external:,}"
    for table, rows in page.tables.items():
        if table.startswith("kpis-"):
            assert "Internal compliments" not in [h for h, _ in rows]
    (apart,) = page.paragraphs["not-in-statistics"]
    assert f"not in statistics: {internal:,} in 2022-23-Q2" in apart


def test_commentary_rag_and_you_said_we_did_are_shown(page):
    row = page.row("kpis-audit", "Audits good or better")
    assert row[-1] == "A new template for management oversight from October."
    assert row[-2] in ("Red", "Amber", "Green")
    said = ["SEND", "easy_to_contact_case_worker", "It was hard to reach my case worker.", "A duty line."]
    assert ("1 Sep 2022", said) in page.tables["you-said-we-did"]


def test_tables_have_captions_and_charts_have_titles(page):
    assert set(page.captions) == set(page.tables)
    assert all(page.captions.values())
    assert len(page.svg_titles) >= 5


def test_only_a_quarter_has_a_quarterly_report(inputs):
    with pytest.raises(ValueError, match="financial quarter"):
        build_report(ReportInputs(**{**vars(inputs), "period": parse_period("2022-23")}))


def test_commentary_on_a_slice_is_shown_with_the_slice_and_its_published_value(page):
    rows = dict((h, cells) for h, cells in page.tables["kpis-other-commentary"])
    send = rows["Positive answers: easy_to_contact_case_worker"]
    assert send[0] == "SEND" and send[1].endswith("%") and send[2] == "A communication framework."
    assert rows["Complaints received"] == ["team tiny-team", SUPPRESSED_COUNT, "Three about one driver."]


@pytest.mark.parametrize(("area", "team"), [(None, None), ("send", None), (None, "through-care"), ("send", "a.b")])
def test_commentary_filters_round_trip(area, team):
    key = commentary_filters(area, team)
    assert (key == "") == (area is None and team is None)
    assert filters_of(key) == kpis.Filters(service_area=area, team=team)
