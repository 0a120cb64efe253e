"""The workforce's use cases on the in-memory unit of work (tests/fakes/workforce.py): staff
records (a joiner, an agency worker converting to employed, a leaver on 30 September,
part-time FTE), vacancies, caseloads, the census import (all or nothing, with each problem's
row and column), the staff survey and a team's actions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.workforce import handlers
from services.workforce.commands import (
    PublishStaffSurvey,
    RecordCaseload,
    RecordJoiner,
    RecordLeaver,
    RecordStaffResponse,
    RecordVacancy,
)
from shared.actions.domain import RaiseAction
from shared.errors import Conflict, Invalid, NotFound
from shared.events import StaffJoined, StaffLeft
from tests.fakes.workforce import FakeWorkforceUnitOfWork

NOW = datetime(2022, 10, 3, 11, 0, tzinfo=UTC)
CENSUS_DAY = date(2022, 9, 30)


def uow() -> FakeWorkforceUnitOfWork:
    return FakeWorkforceUnitOfWork(now=NOW)


def joiner(ref: str = "SW001", **changes: object) -> RecordJoiner:
    base: dict[str, object] = {
        "worker_ref": ref,
        "team": "through-care",
        "service_area": "childrens_social_care",
        "role": "social_worker",
        "contract": "employed",
        "fte": 1.0,
        "case_holding": True,
        "joined_at": "2022-04-04",
    }
    return RecordJoiner.model_validate(base | changes)


def events(u: FakeWorkforceUnitOfWork) -> list[object]:
    return [e.data for e in u.published]


# --------------------------------------------------------------------------- staff records


async def test_a_joiner_is_published_under_a_pseudonym_never_the_hr_reference() -> None:
    u = uow()
    worker, created = await handlers.record_joiner(u, joiner(fte=0.6), actor="hr")
    assert created and worker.post is not None and worker.post.fte == 0.6
    (event,) = events(u)
    assert isinstance(event, StaffJoined)
    assert event.worker_id == u.pseudonym("SW001") and "SW001" not in event.model_dump_json()
    assert event.fte == 0.6  # part-time FTE travels as its fraction
    assert event.joined_at == datetime(2022, 4, 3, 23, 0, tzinfo=UTC)  # midnight London (BST)


async def test_the_same_joiner_again_is_a_retry() -> None:
    u = uow()
    await handlers.record_joiner(u, joiner(), actor="hr")
    _, created = await handlers.record_joiner(u, joiner(), actor="hr")
    assert not created and len(events(u)) == 1


async def test_an_agency_worker_converting_to_employed_changes_the_record_and_is_not_a_leaver() -> None:
    u = uow()
    await handlers.record_joiner(u, joiner(contract="agency"), actor="hr")
    worker, created = await handlers.record_joiner(u, joiner(contract="employed", joined_at="2022-08-15"), actor="hr")
    assert created and worker.post is not None and worker.post.contract == "employed"
    assert [type(e).__name__ for e in events(u)] == ["StaffJoined", "StaffJoined"]
    assert not any(isinstance(e, StaffLeft) for e in events(u))


async def test_a_leaver_on_30_september_with_the_reason() -> None:
    u = uow()
    await handlers.record_joiner(u, joiner(), actor="hr")
    leave = RecordLeaver.model_validate({"left_at": "2022-09-30", "reason": "workload"})
    worker, created = await handlers.record_leaver(u, "SW001", leave, actor="hr")
    assert created and not worker.in_post and worker.leaving_reason == "workload"
    event = events(u)[-1]
    assert isinstance(event, StaffLeft) and event.reason == "workload"
    # retry: nothing more; another leave: refused
    _, again = await handlers.record_leaver(u, "SW001", leave, actor="hr")
    assert not again and len(events(u)) == 2
    with pytest.raises(Conflict):
        await handlers.record_leaver(u, "SW001", RecordLeaver(reason="pay"), actor="hr")


async def test_history_is_recorded_in_order() -> None:
    u = uow()
    await handlers.record_joiner(u, joiner(joined_at="2022-06-01"), actor="hr")
    with pytest.raises(Invalid) as refused:
        await handlers.record_joiner(u, joiner(team="safeguarding", joined_at="2022-05-01"), actor="hr")
    assert refused.value.field == "joined_at"
    with pytest.raises(Invalid):
        await handlers.record_leaver(u, "SW001", RecordLeaver(left_at=date(2022, 5, 31), reason="pay"), actor="hr")
    with pytest.raises(Invalid):  # the future
        await handlers.record_joiner(u, joiner(ref="SW002", joined_at="2023-01-01"), actor="hr")
    with pytest.raises(NotFound):
        await handlers.record_leaver(u, "SW999", RecordLeaver(reason="pay"), actor="hr")


async def test_vacancies_and_caseloads() -> None:
    u = uow()
    vacancy = RecordVacancy(team="through-care", service_area="childrens_social_care", vacant_fte=1.5, as_of=CENSUS_DAY)
    assert (await handlers.record_vacancy(u, vacancy, actor="hr"))[1]
    assert not (await handlers.record_vacancy(u, vacancy, actor="hr"))[1]
    with pytest.raises(Invalid):
        await handlers.record_caseload(u, RecordCaseload(worker_ref="SW001", cases=3, as_of=CENSUS_DAY), actor="hr")
    await handlers.record_joiner(u, joiner(), actor="hr")
    _, created = await handlers.record_caseload(
        u, RecordCaseload(worker_ref="SW001", cases=18, as_of=CENSUS_DAY), actor="hr"
    )
    assert created
    assert [type(e).__name__ for e in events(u)] == ["VacancyRecorded", "StaffJoined", "CaseloadRecorded"]


# --------------------------------------------------------------------------- the census


HEADER = (
    "Worker ID,Team,Service Area,Role,Contract,FTE,Case Holding,Start Date,Leaving Date,Leaving Reason,Cases,Gender\n"
)


async def test_a_census_return_is_imported_whole() -> None:
    u = uow()
    data = (
        HEADER
        + "SW001,through-care,childrens_social_care,Social Worker,permanent,1,yes,01/04/2019,,,17,F\n"
        + "SW002,through-care,childrens_social_care,social_worker,agency,0.5,yes,2022-01-10,,,,M\n"
        + "SW003,safeguarding,childrens_social_care,Team Manager,employed,1,no,2018-05-01,30/09/2022,Workload,,F\n"
    ).encode()
    report = await handlers.import_census(u, data, as_of=CENSUS_DAY, actor="hr")
    assert report.imported and report.errors == () and report.ignored_columns == ("Gender",)
    assert [type(e).__name__ for e in events(u)] == [
        "StaffJoined",
        "CaseloadRecorded",
        "StaffJoined",
        "StaffJoined",
        "StaffLeft",
    ]
    again = await handlers.import_census(u, data, as_of=CENSUS_DAY, actor="hr")
    assert again.imported and again.changed == 0 and again.unchanged == 3 and len(events(u)) == 5


async def test_bad_census_rows_are_reported_by_row_and_column_and_nothing_is_imported() -> None:
    u = uow()
    data = (
        HEADER
        + "SW001,through-care,childrens_social_care,social_worker,employed,1,yes,2019-04-01,,,,\n"
        + "SW002,through-care,childrens_social_care,wizard,employed,2.5,maybe,2019-04-01,,,,\n"
        + "SW 3,through-care,nowhere,social_worker,employed,1,yes,2023-01-01,,,,\n"
        + "SW004,through-care,childrens_social_care,social_worker,employed,1,yes,2019-04-01,2022-06-30,,,\n"
    ).encode()
    report = await handlers.import_census(u, data, as_of=CENSUS_DAY, actor="hr")
    assert not report.imported and events(u) == [] and u.workers.workers == {}
    where = {(e.row, e.column) for e in report.errors}
    assert {
        (3, "role"),
        (3, "fte"),
        (3, "case_holding"),
        (4, "worker_id"),
        (4, "service_area"),
        (4, "start_date"),
    } <= where
    assert (5, "leaving_reason") in where
    assert all(e.row != 2 for e in report.errors)


async def test_a_census_row_against_the_recorded_history_refuses_the_file() -> None:
    u = uow()
    await handlers.record_joiner(u, joiner(joined_at="2022-09-01"), actor="hr")
    data = (
        HEADER + "SW001,through-care,childrens_social_care,social_worker,employed,1,yes,2022-09-01,2022-08-01,pay,,\n"
    ).encode()
    report = await handlers.import_census(u, data, as_of=CENSUS_DAY, actor="hr")
    assert not report.imported
    assert [(e.row, e.column) for e in report.errors] == [(2, "leaving_date")]


async def test_a_census_with_names_is_refused() -> None:
    u = uow()
    data = (
        b"worker_id,surname,team,service_area,role,contract,fte,case_holding,start_date\n"
        b"SW1,Smith,t,send,other,employed,1,no,2020-01-01\n"
    )
    report = await handlers.import_census(u, data, as_of=CENSUS_DAY, actor="hr")
    assert not report.imported and [(e.row, e.column) for e in report.errors] == [(1, "surname")]


# --------------------------------------------------------------------------- the staff survey


SURVEY = PublishStaffSurvey.model_validate(
    {
        "title": "Social worker health check",
        "questions": [
            {"question_id": "manageable_caseload", "wording": "My caseload is manageable", "answer_type": "scale_1_5"},
            {"question_id": "regular_supervision", "wording": "I get regular supervision", "answer_type": "yes_no"},
        ],
    }
)


async def test_the_staff_survey_is_versioned_and_a_reworded_question_reported_apart() -> None:
    u = uow()
    v1, created = await handlers.publish_survey(u, "health-check", SURVEY, actor="qa")
    assert created and v1.version == 1
    assert not (await handlers.publish_survey(u, "health-check", SURVEY, actor="qa"))[1]
    reworded = SURVEY.model_copy(
        update={"questions": [SURVEY.questions[0].model_copy(update={"wording": "My workload is manageable"})]}
    )
    v2, _ = await handlers.publish_survey(u, "health-check", reworded, actor="qa")
    assert [q.reported_as for q in v2.questions] == ["manageable_caseload.v2"]


async def test_a_staff_response_and_a_survey_csv_import() -> None:
    u = uow()
    await handlers.publish_survey(u, "health-check", SURVEY, actor="qa")
    body = RecordStaffResponse.model_validate(
        {
            "survey_id": "health-check",
            "service_area": "childrens_social_care",
            "team": "through-care",
            "received_at": "2022-10-02",
            "answers": {"manageable_caseload": 4, "regular_supervision": "no"},
        }
    )
    response, created = await handlers.record_response(u, body, actor="qa")
    assert created and [(q.reported_as, v) for q, v in response.answers] == [
        ("manageable_caseload", 4),
        ("regular_supervision", "no"),
    ]
    good = (
        b"received_at,service_area,team,manageable_caseload,regular_supervision\n"
        b"02/10/2022,childrens_social_care,x,5,yes\n2022-10-03,send,,2,\n"
    )
    report = await handlers.import_survey_csv(u, "health-check", good, actor="qa")
    assert report.imported and report.changed == 2
    assert (await handlers.import_survey_csv(u, "health-check", good, actor="qa")).changed == 0
    bad = b"received_at,service_area,manageable_caseload\n2022-10-02,send,9\nsoon,send,4\n"
    refused = await handlers.import_survey_csv(u, "health-check", bad, actor="qa")
    assert not refused.imported and {(e.row, e.column) for e in refused.errors} == {
        (2, "manageable_caseload"),
        (3, "received_at"),
    }
    assert len(events(u)) == 3


async def test_an_action_on_a_teams_workforce() -> None:
    u = uow()
    cmd = RaiseAction.model_validate(
        {"owner_id": "head-of-service", "due_date": "2022-12-31", "summary": "Review caseload weighting"}
    )
    action, created = await handlers.raise_action_on_team(u, "childrens_social_care", "through-care", cmd, actor="qa")
    assert created and action.origin == "workforce" and action.team == "through-care"
    assert action.origin_id == "childrens_social_care:through-care"
