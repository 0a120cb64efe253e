"""A family's member (here a survey question) asked for one team at a time is published to a
reader only where its cell of the per-team breakdown is: with three teams answering one
question — 10, 8 and 2 answers — the authority's rate is shown and the team of 2 is
suppressed, so the team of 8 is hidden beside it (else the authority's figure less the two
shown teams would give the small one away). `reporting:detail` sees every team in full."""

from __future__ import annotations

import pytest

from shared.auth import issue_token
from shared.events import CloudEvent, FeedbackReceived, new_event
from shared.settings import get_settings
from tests.integration.test_report_quarterly import PERIOD, TENANT, reporting  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

TEAMS = {"foster-east": 10, "foster-west": 8, "foster-tiny": 2}


@pytest.fixture(scope="module")
def events() -> list[CloudEvent]:
    out = []
    for team, n in TEAMS.items():
        for i in range(n):
            response = FeedbackReceived(
                response_id=f"{team}-{i}",
                survey_id="carers",
                service_area="fostering",
                team=team,
                respondent="foster_carer",
                received_at="2022-08-02T10:00:00Z",
                answers=[{"question_id": "felt_supported", "value": "yes" if i % 3 else "no"}],
            )
            out.append(new_event(response, source="/qaloop/feedback", tenant=TENANT))
    return out


async def test_a_question_filtered_by_team_reads_as_its_breakdown_cell(reporting):  # noqa: F811
    _app, client = reporting
    kpi = "feedback.positive_rate.felt_supported"

    async def value(roles: list[str], **where: str) -> dict:
        headers = {"Authorization": "Bearer " + issue_token(get_settings(), roles)}
        body = (await client.get("/v1/kpis/values", params={"period": PERIOD, **where}, headers=headers)).json()
        return next(v for v in body["values"] if v["kpi"] == kpi)

    reader, detail = ["reporting:read"], ["reporting:detail"]
    assert not (await value(reader))["suppressed"]  # the authority's 20 answers: shown
    assert not (await value(reader, service_area="fostering"))["suppressed"]
    assert (await value(reader, team="foster-tiny"))["suppressed"]  # 2 answers: small
    assert not (await value(reader, team="foster-east"))["suppressed"]  # the largest stays
    west = await value(reader, team="foster-west")
    assert west["suppressed"] and west["value"] is None  # hidden beside the small one
    series = (
        await client.get(
            f"/v1/kpis/{kpi}/series",
            params={"from": PERIOD, "to": PERIOD, "team": "foster-west"},
            headers={"Authorization": "Bearer " + issue_token(get_settings(), reader)},
        )
    ).json()["series"]
    assert [p["suppressed"] for p in series] == [True]
    full = await value(detail, team="foster-west")
    assert full["denominator"] == 8 and not full["suppressed"]
