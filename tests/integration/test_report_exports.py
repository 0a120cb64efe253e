"""Exports over HTTP (issue 14, item 11): a quarter of events fed through the real broker into
reporting, then the report's and the dashboard's tables downloaded as CSV and XLSX with a
reader's token; refused without a token or the role, and a token for another authority gets
that authority's (empty) tables, never this one's."""

from __future__ import annotations

import csv
import io
from collections import Counter

import openpyxl
import pytest

from services.reporting import kpis
from shared.auth import issue_token
from shared.calendar import london_date
from shared.events import CloudEvent
from shared.settings import get_settings
from tests.integration.test_report_content import SUPPRESSED_COUNT, read_report
from tests.integration.test_report_quarterly import PERIOD, Q2, TENANT, events, reporting

pytestmark = pytest.mark.integration
__all__ = ["events", "reporting"]  # the fixtures, fed once here as in test_report_quarterly
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), body[:10]
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def bearer(roles: list[str], tenant: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(get_settings(), roles, tenant=tenant)}


async def _report_downloads(client) -> None:
    reader = bearer(["reporting:read"])
    page = read_report((await client.get("/v1/reports/quarterly", params={"period": PERIOD}, headers=reader)).text)
    listed = (await client.get("/v1/reports/quarterly/tables", params={"period": PERIOD}, headers=reader)).json()
    ids = [t["id"] for t in listed["tables"]]
    assert {"complaints-by-team", "complaints-by-category", "audit-grades", "feedback-questions"} <= set(ids)

    r = await client.get(
        "/v1/reports/quarterly/tables/complaints-by-team.csv", params={"period": PERIOD}, headers=reader
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert f"qaloop-quarterly-report-{PERIOD}-complaints-by-team.csv" in r.headers["content-disposition"]
    rows = csv_rows(r.content)
    assert rows[0] == ["Team", "Received", "Responses", "Upheld", "Partially upheld", "Within timescale"]
    by_team = {row[0]: row[1:] for row in rows[1:]}
    assert by_team["tiny-team"][0] == SUPPRESSED_COUNT
    # The CSV says what the report's HTML says, cell for cell (its suppression markers included).
    assert by_team["tiny-team"] == page.row("complaints-by-team", "tiny-team")

    r = await client.get("/v1/reports/quarterly/tables.xlsx", params={"period": PERIOD}, headers=reader)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[0] == "Contents" and len(book.sheetnames) == len(ids) + 1
    sheet = book["complaints-by-category"]  # each sheet named by its table's id
    transport = [row for row in sheet.iter_rows(values_only=True) if row[0] == "Transport"]
    assert transport and transport[0][1] == SUPPRESSED_COUNT

    # Questions by their wording (carried by the answers' events), by id where none came.
    questions = {
        row[0]
        for row in csv_rows(
            (
                await client.get(
                    "/v1/reports/quarterly/tables/feedback-questions.csv", params={"period": PERIOD}, headers=reader
                )
            ).content
        )[1:]
    }
    assert "It was easy to contact my case worker (easy_to_contact_case_worker)" in questions
    assert "listened_to" in questions and "tiny_question" in questions
    assert page.row("feedback-questions", "I feel safe where I live (feel_safe_where_i_live)")

    one = await client.get("/v1/reports/quarterly/tables/audit-grades.xlsx", params={"period": PERIOD}, headers=reader)
    assert openpyxl.load_workbook(io.BytesIO(one.content)).sheetnames == ["audit-grades"]
    missing = await client.get("/v1/reports/quarterly/tables/no-such.csv", params={"period": PERIOD}, headers=reader)
    assert missing.status_code == 404
    for bad in ("/v1/reports/quarterly/tables/audit-grades.pdf", "/v1/reports/quarterly/tables/Audit_Grades.csv"):
        assert (await client.get(bad, params={"period": PERIOD}, headers=reader)).status_code == 422, bad
    r = await client.get("/v1/reports/quarterly/tables.xlsx", params={"period": "2022-23"}, headers=reader)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "period"


async def _dashboard_downloads(client) -> None:
    reader = bearer(["reporting:read"])
    params = {"period": PERIOD, "service_area": "fostering"}
    r = await client.get("/v1/dashboard/tables/complaints-by-team.csv", params=params, headers=reader)
    assert r.status_code == 200, r.text
    rows = dict((row[0], row[1]) for row in csv_rows(r.content)[1:])
    assert rows["tiny-team"] == SUPPRESSED_COUNT
    breakdowns = (await client.get("/v1/dashboard/breakdowns", params=params, headers=reader)).json()
    shown = {t["team"]: t for t in breakdowns["complaints_by_team"]}
    assert {t for t, row in rows.items() if row in (SUPPRESSED_COUNT, "suppressed")} == {
        t for t, v in shown.items() if v["suppressed"]
    }
    r = await client.get("/v1/dashboard/tables.xlsx", params=params, headers=reader)
    assert r.status_code == 200, r.text
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == [
        "Contents",
        "kpis",
        "complaints-by-category",
        "complaints-by-team",
        "audit-grades",
        "audit-areas",
        "feedback-questions",
        "workforce-health-check",
        "workforce-leavers",
        "kpis-by-team",
        "followups-by-origin",
        "followups-open",
    ]
    wording = breakdowns["question_wording"]
    assert wording["helped_me"] == "The support helped me" and "listened_to" not in wording
    r = await client.get("/v1/dashboard/tables/feedback-questions.csv", params=params, headers=reader)
    assert "The support helped me (helped_me)" in {row[0] for row in csv_rows(r.content)[1:]}
    detail = bearer(["reporting:detail"])
    r = await client.get("/v1/dashboard/tables/complaints-by-team.csv", params=params, headers=detail)
    assert dict((row[0], row[1]) for row in csv_rows(r.content)[1:])["tiny-team"] == "3"
    bad = await client.get("/v1/dashboard/tables/secrets.csv", params=params, headers=reader)
    assert bad.status_code == 422


async def _dashboard_category(client, events: list[CloudEvent]) -> None:
    """The dashboard's complaint-category choice: its breakdowns and tables are of that
    category's complaints (the per-team count as the events give it), while the category
    choices stay every category of the period."""
    detail = bearer(["reporting:detail"])
    expected: Counter[str] = Counter()
    for e in events:
        if e.type != "ComplaintReceived":
            continue
        c = e.typed_data()
        if c.category == "transport" and c.service_area == "fostering" and Q2.contains(london_date(c.received_at)):
            expected[c.team] += 1
    assert expected["tiny-team"] == 3
    params = {"period": PERIOD, "service_area": "fostering", "category": "transport"}
    body = (await client.get("/v1/dashboard/breakdowns", params=params, headers=detail)).json()
    assert body["filters"] == {"service_area": "fostering", "team": None, "category": "transport"}
    assert {t["team"]: t["value"] for t in body["complaints_by_team"]} == dict(expected)
    assert [c["category"] for c in body["complaints_by_category"]] == ["transport"]
    assert "transport" in body["categories"] and len(body["categories"]) > 1
    values = (await client.get("/v1/kpis/values", params=params, headers=detail)).json()["values"]
    received = next(v["value"] for v in values if v["kpi"] == "complaints.received")
    assert received == sum(expected.values())
    r = await client.get("/v1/dashboard/tables/complaints-by-team.csv", params=params, headers=detail)
    assert r.status_code == 200, r.text
    assert (
        'filename="qaloop-dashboard-2022-23-Q2-fostering-transport-complaints-by-team.csv"'
        in (r.headers["content-disposition"])
    )
    rows = csv_rows(r.content)
    assert dict((row[0], int(row[1])) for row in rows[1:]) == dict(expected)
    r = await client.get("/v1/dashboard/tables/kpis.csv", params=params, headers=detail)
    rows = {row[0]: row[1] for row in csv_rows(r.content)[1:]}
    assert rows["Complaints received"] == f"{received:,}"
    bad = await client.get("/v1/dashboard/breakdowns", params={**params, "category": "no such"}, headers=detail)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "category"


def _lines_hold(values: list[dict], areas: list[str]) -> list[str]:
    """Where a suppressed figure could be worked out: a line (each area's teams, then all)
    with exactly one suppressed figure beside a shown positive one."""
    problems = []
    lines = [[i for i, a in enumerate(areas) if a == area] for area in set(areas)] + [list(range(len(areas)))]
    for line in lines:
        hidden = [i for i in line if values[i]["suppressed"]]
        shown = [i for i in line if not values[i]["suppressed"] and (values[i]["denominator"] or values[i]["value"])]
        if len(hidden) == 1 and shown:
            problems.append(f"{[values[i]['team'] for i in line]}: only {values[hidden[0]]['team']} suppressed")
    return problems


async def _teams(client) -> None:
    """Every KPI that has a team, per team: for reporting:detail, each team's figure is
    `/v1/kpis/values` for that team; for a reader, the same where shown, small ones
    suppressed, and no suppressed figure alone in its service area or among all teams."""
    detail, reader = bearer(["reporting:detail"]), bearer(["reporting:read"])
    full = (await client.get("/v1/dashboard/teams", params={"period": PERIOD}, headers=detail)).json()
    teams = [(t["team"], t["service_area"]) for t in full["teams"]]
    assert ("tiny-team", "fostering") in teams and len({a for _, a in teams}) > 1
    assert [k["kpi"] for k in full["kpis"]] == [k for k in kpis.fixed_kpi_ids() if k not in kpis.TEAMLESS]
    for team, area in [*teams[:4], ("tiny-team", "fostering")]:
        params = {"period": PERIOD, "service_area": area, "team": team}
        own = {
            v["kpi"]: v for v in (await client.get("/v1/kpis/values", params=params, headers=detail)).json()["values"]
        }
        i = teams.index((team, area))
        for k in full["kpis"]:
            got = {key: k["values"][i][key] for key in ("value", "numerator", "denominator", "suppressed")}
            want = {key: own[k["kpi"]][key] for key in got}
            assert got == want, (team, k["kpi"])
    published = (await client.get("/v1/dashboard/teams", params={"period": PERIOD}, headers=reader)).json()
    assert published["teams"] == full["teams"]
    areas = [a for _, a in teams]
    secondary = 0
    for shown, whole in zip(published["kpis"], full["kpis"], strict=True):
        assert _lines_hold(shown["values"], areas) == [], shown["kpi"]
        for v, w in zip(shown["values"], whole["values"], strict=True):
            if not v["suppressed"]:
                assert v["value"] == w["value"], shown["kpi"]
            small = w["value"] if kpis.definition_of(shown["kpi"]).unit == kpis.COUNT else w["denominator"]
            secondary += v["suppressed"] and not (small and 0 < small <= 5)
    assert secondary > 0  # the rule did hide figures that were not small
    received = next(k for k in published["kpis"] if k["kpi"] == "complaints.received")
    tiny = next(v for v in received["values"] if v["team"] == "tiny-team")
    assert tiny["suppressed"] and tiny["value"] is None
    one = await client.get(
        "/v1/dashboard/teams",
        params={"period": PERIOD, "service_area": "fostering", "kpi": "audit.completed"},
        headers=reader,
    )
    assert [k["kpi"] for k in one.json()["kpis"]] == ["audit.completed"]
    assert {t["service_area"] for t in one.json()["teams"]} == {"fostering"}
    bad = await client.get(
        "/v1/dashboard/teams", params={"period": PERIOD, "kpi": "audit.concern_measures_effective_rate"}, headers=reader
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "kpi"
    r = await client.get("/v1/dashboard/tables/kpis-by-team.csv", params={"period": PERIOD}, headers=reader)
    rows = csv_rows(r.content)
    assert rows[0] == ["KPI", "Team", "Service area", "Value"]
    assert ["Complaints received", "tiny-team", "Fostering", SUPPRESSED_COUNT] in rows


async def _categories_protected(client) -> None:
    """`/v1/kpis/values` for a reader: the categories add up to complaints received, so a
    suppressed category never stands alone (transport, the small slice's 3, is suppressed)."""
    reader = bearer(["reporting:read"])
    values = (await client.get("/v1/kpis/values", params={"period": PERIOD}, headers=reader)).json()["values"]
    categories = [v for v in values if v["kpi"].startswith(kpis.BY_CATEGORY)]
    assert next(v for v in categories if v["kpi"].endswith(".transport"))["suppressed"]
    assert sum(v["suppressed"] for v in categories) >= 2
    assert next(v for v in values if v["kpi"] == "complaints.received")["value"] > 0
    # asked for alone, as a series, a category reads as it does among the others: in each
    # quarter and slice, one hidden only because another is small stays hidden
    detail = bearer(["reporting:detail"])
    secondary = 0
    teams = (
        await client.get("/v1/dashboard/teams", params={"period": PERIOD, "kpi": "complaints.received"}, headers=detail)
    ).json()["teams"]
    slices = [
        {},
        *({"service_area": a} for a in {t["service_area"] for t in teams}),
        *({"team": t["team"]} for t in teams),
    ]
    for period in ("2022-23-Q1", PERIOD, "2022-23-Q3", "2022-23"):
        for where in slices:
            params = {"period": period} | where
            shown = (await client.get("/v1/kpis/values", params=params, headers=reader)).json()["values"]
            whole = {
                v["kpi"]: v
                for v in (await client.get("/v1/kpis/values", params=params, headers=detail)).json()["values"]
            }
            for v in (v for v in shown if v["kpi"].startswith(kpis.BY_CATEGORY)):
                if not (v["suppressed"] and whole[v["kpi"]]["value"] > 5):
                    continue
                secondary += 1
                one = {"from": period, "to": period} | where
                (point,) = (await client.get(f"/v1/kpis/{v['kpi']}/series", params=one, headers=reader)).json()[
                    "series"
                ]
                assert point["suppressed"] and point["value"] is None, (params, v["kpi"])
    assert secondary > 0


def _small(kpi: str, whole: dict) -> bool:
    n = whole["value"] if kpis.definition_of(kpi).unit == kpis.COUNT else whole["denominator"]
    return bool(n) and 0 < n <= 5


async def _filtered_reads(client) -> None:
    """A team-filtered figure asked for alone (`/v1/kpis/values`, `/series`, the dashboard's
    download) reads for a reader exactly as its cell of the per-team breakdown: one the
    breakdown hides only because a neighbour is small (not small itself) reads suppressed,
    where before it was published and, with the authority's total and the other teams, gave
    the small one away. A category-filtered figure reads as its category does among the
    others. `reporting:detail` still sees every figure in full."""
    detail, reader = bearer(["reporting:detail"]), bearer(["reporting:read"])
    published = (await client.get("/v1/dashboard/teams", params={"period": PERIOD}, headers=reader)).json()
    full = (await client.get("/v1/dashboard/teams", params={"period": PERIOD}, headers=detail)).json()
    teams = [(t["team"], t["service_area"]) for t in published["teams"]]
    hidden_by: dict[tuple[str, str], list[str]] = {}
    for shown, whole in zip(published["kpis"], full["kpis"], strict=True):
        for team, v, w in zip(teams, shown["values"], whole["values"], strict=True):
            if v["suppressed"] and not _small(shown["kpi"], w):
                hidden_by.setdefault(team, []).append(shown["kpi"])
    assert hidden_by, "the fixture has figures hidden only beside small ones"
    cells = {
        (k["kpi"], t): (v, w)
        for k, whole in zip(published["kpis"], full["kpis"], strict=True)
        for t, v, w in zip(teams, k["values"], whole["values"], strict=True)
    }
    for team, area in list(hidden_by)[:3]:
        for where in ({"team": team}, {"team": team, "service_area": area}):
            params = {"period": PERIOD} | where
            mine = (await client.get("/v1/kpis/values", params=params, headers=reader)).json()["values"]
            theirs = {
                v["kpi"]: v
                for v in (await client.get("/v1/kpis/values", params=params, headers=detail)).json()["values"]
            }
            for v in (v for v in mine if (v["kpi"], (team, area)) in cells):
                cell, whole = cells[(v["kpi"], (team, area))]
                assert theirs[v["kpi"]]["value"] == whole["value"], (where, v["kpi"])  # detail: in full
                assert v["suppressed"] == cell["suppressed"], (where, v["kpi"])  # reader: as its cell
                assert v["value"] == cell["value"], (where, v["kpi"])
        kpi = hidden_by[(team, area)][0]
        one = {"from": PERIOD, "to": PERIOD, "team": team}
        (point,) = (await client.get(f"/v1/kpis/{kpi}/series", params=one, headers=reader)).json()["series"]
        assert point["suppressed"] and point["value"] is None, (team, kpi)
        (point,) = (await client.get(f"/v1/kpis/{kpi}/series", params=one, headers=detail)).json()["series"]
        assert point["value"] == cells[(kpi, (team, area))][1]["value"], (team, kpi)
        r = await client.get("/v1/dashboard/tables/kpis.csv", params={"period": PERIOD, "team": team}, headers=reader)
        rows = {row[0]: row[1] for row in csv_rows(r.content)[1:]}
        assert rows[kpis.definition_of(kpi).title] == "suppressed", (team, kpi)  # hidden, not "1-5"
    await _category_filtered(client, reader, detail)


async def _category_filtered(client, reader: dict[str, str], detail: dict[str, str]) -> None:
    """`?category=C` gives complaints received of that category: for a reader, suppressed
    where the slice's categories hide it beside a small one, in full for detail."""
    found = 0
    for period in ("2022-23-Q1", PERIOD, "2022-23-Q3", "2022-23"):
        for where in ({}, {"service_area": "fostering"}, {"service_area": "send"}):
            params = {"period": period} | where
            shown = (await client.get("/v1/kpis/values", params=params, headers=reader)).json()["values"]
            whole = {
                v["kpi"]: v
                for v in (await client.get("/v1/kpis/values", params=params, headers=detail)).json()["values"]
            }
            for v in shown:
                if not (v["kpi"].startswith(kpis.BY_CATEGORY) and v["suppressed"] and whole[v["kpi"]]["value"] > 5):
                    continue
                found += 1
                one = params | {"category": v["kpi"][len(kpis.BY_CATEGORY) :]}
                mine = (await client.get("/v1/kpis/values", params=one, headers=reader)).json()["values"]
                received = next(x for x in mine if x["kpi"] == "complaints.received")
                assert received["suppressed"] and received["value"] is None, one
                theirs = (await client.get("/v1/kpis/values", params=one, headers=detail)).json()["values"]
                full = next(x for x in theirs if x["kpi"] == "complaints.received")
                assert full["value"] == whole[v["kpi"]]["value"], one
    assert found, "a category hidden only beside a small one"


async def _report_teams(client) -> None:
    reader = bearer(["reporting:read"])
    page = read_report((await client.get("/v1/reports/quarterly", params={"period": PERIOD}, headers=reader)).text)
    assert "Measures by team" in " ".join(page.h2)
    received = page.row("teams-fostering", "Complaints received")
    assert received[page.column("teams-fostering", "tiny-team")] == SUPPRESSED_COUNT
    # the report hides what the dashboard's API hides from a reader: the same teams, the same lines
    api = (await client.get("/v1/dashboard/teams", params={"period": PERIOD}, headers=reader)).json()
    hidden_in_api = {
        (k["kpi"], t["team"])
        for k in api["kpis"]
        for t, v in zip(api["teams"], k["values"], strict=True)
        if v["suppressed"]
    }
    title_of = {kpis.definition_of(k["kpi"]).title: k["kpi"] for k in api["kpis"]}
    hidden_in_report = {
        (title_of[header], team)
        for table, rows in page.tables.items()
        if table.startswith("teams-")
        for header, cells in rows
        for team, cell in zip(page.columns[table][1:], cells, strict=True)
        if cell in (SUPPRESSED_COUNT, "suppressed")
    }
    assert hidden_in_report == hidden_in_api and hidden_in_api
    r = await client.get("/v1/reports/quarterly/tables/teams-fostering.csv", params={"period": PERIOD}, headers=reader)
    assert r.status_code == 200 and csv_rows(r.content)[0][0] == "Measure"


async def test_tables_download_as_csv_and_xlsx_for_a_reader_of_this_authority_only(reporting, events):
    _app, client = reporting
    await _report_downloads(client)
    await _dashboard_downloads(client)
    await _dashboard_category(client, events)
    await _teams(client)
    await _categories_protected(client)
    await _filtered_reads(client)
    await _report_teams(client)

    urls = [
        "/v1/reports/quarterly/tables/complaints-by-team.csv",
        "/v1/reports/quarterly/tables.xlsx",
        "/v1/dashboard/tables/complaints-by-team.csv",
        "/v1/dashboard/tables.xlsx",
    ]
    for url in urls:
        assert (await client.get(url, params={"period": PERIOD})).status_code == 401, url
        no_role = await client.get(url, params={"period": PERIOD}, headers=bearer(["audit:write"]))
        assert no_role.status_code == 403, url
    # Another authority's reader gets its own tables: none of this authority's figures.
    other = bearer(["reporting:detail"], tenant="E09000001")
    assert TENANT != "E09000001"
    r = await client.get(
        "/v1/reports/quarterly/tables/complaints-by-team.csv", params={"period": PERIOD}, headers=other
    )
    assert r.status_code == 200 and csv_rows(r.content)[1:] == []
    r = await client.get("/v1/dashboard/tables/complaints-by-team.csv", params={"period": PERIOD}, headers=other)
    assert r.status_code == 200 and csv_rows(r.content)[1:] == []
    r = await client.get("/v1/reports/quarterly/tables.xlsx", params={"period": PERIOD}, headers=other)
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert "tiny-team" not in {c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row}
