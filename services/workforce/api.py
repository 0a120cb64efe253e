"""Workforce HTTP API, under `/v1`: the views (response models) and the routes that turn a
request into a handler call. Writing needs the role `workforce:write`; reading needs
`workforce:write` or `reporting:read`. Worker references are pseudonymised on arrival: no
response carries the HR reference or a name. The action routes (list, read, complete) are the
shared ones (`shared.actions.api`), mounted by app.py; the route here raises actions on a
team's workforce."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.workforce import handlers
from services.workforce.commands import (
    PublishStaffSurvey,
    RecordCaseload,
    RecordJoiner,
    RecordLeaver,
    RecordStaffResponse,
    RecordVacancy,
)
from services.workforce.domain import LABEL, SURVEY_ID, WORKER_REF
from services.workforce.domain.csv_table import ImportReport
from services.workforce.domain.staff import Caseload, Vacancy, Worker
from services.workforce.domain.surveys import AnswerType, StaffResponse, StaffSurvey
from services.workforce.store import WorkforceUnitOfWork
from shared.actions.api import ActionView, raised
from shared.actions.domain import RaiseAction
from shared.auth import Principal, require_served
from shared.bounds import INT32_MAX, CalendarDate, Name
from shared.events import Contract, LeavingReason, ServiceArea, StaffRole, known_service_areas
from shared.service import unit_of_work
from shared.settings import Settings

WRITE = "workforce:write"
Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(WRITE, "reporting:read"))]
UoW = Annotated[WorkforceUnitOfWork, Depends(unit_of_work)]
WorkerRefPath = Annotated[str, Path(pattern=WORKER_REF.pattern, examples=["SW01234"])]
TeamPath = Annotated[str, Path(pattern=LABEL.pattern, examples=["through-care"])]
SurveyIdPath = Annotated[str, Path(pattern=SURVEY_ID.pattern, examples=["health-check"])]
Version = Annotated[int | None, Query(ge=1, le=INT32_MAX)]
# The CSV imports' routes: their bodies may be as large as `settings.max_import_bytes`.
CENSUS_PATH = "/v1/census/imports"
SURVEY_IMPORTS_PATH = "/v1/staff-surveys/{survey_id}/imports"

router = APIRouter(prefix="/v1")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.service.settings
    return settings


Configured = Annotated[Settings, Depends(_settings)]


def _answered(response: Response, created: bool) -> None:
    """201 for a new record; 200 for a retry that added nothing."""
    if not created:
        response.status_code = status.HTTP_200_OK


def _check_service_area(value: str | None, where: str = "query") -> str | None:
    if value is not None and value not in known_service_areas():
        detail = [{"loc": [where, "service_area"], "msg": f"unknown service_area {value!r}", "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
    return value


# --------------------------------------------------------------------------- staff records


class WorkerView(BaseModel):
    worker_id: str = Field(description="the pseudonym (never the HR reference)")
    in_post: bool
    team: str | None
    service_area: str | None
    role: StaffRole | None
    contract: Contract | None
    fte: float | None
    case_holding: bool | None
    since: datetime | None = Field(description="when the record in post started")
    left_at: datetime | None
    leaving_reason: LeavingReason | None

    @classmethod
    def of(cls, w: Worker) -> WorkerView:
        p = w.post
        return cls(
            worker_id=w.worker_id,
            in_post=p is not None,
            team=p.team if p else None,
            service_area=p.service_area if p else None,
            role=p.role if p else None,
            contract=p.contract if p else None,
            fte=p.fte if p else None,
            case_holding=p.case_holding if p else None,
            since=w.since,
            left_at=w.left_at,
            leaving_reason=w.leaving_reason,
        )


@router.post(
    "/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkerView,
    tags=["staff"],
    summary="A joiner, or a changed record for a worker in post (publishes StaffJoined)",
    description="A second joiner for a worker in post changes the record from `joined_at` (an agency "
    "worker converting to employed, another team or FTE): it is not a leaver. The same record again "
    "answers 200 and publishes nothing. Nothing may be dated before the worker's latest change (422).",
)
async def record_joiner(body: RecordJoiner, principal: Writer, uow: UoW, response: Response) -> WorkerView:
    worker, created = await handlers.record_joiner(uow, body, actor=principal.subject)
    _answered(response, created)
    return WorkerView.of(worker)


@router.post(
    "/staff/{worker_ref}/leave",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkerView,
    tags=["staff"],
    summary="A leaver, with the reason (publishes StaffLeft)",
)
async def record_leaver(
    worker_ref: WorkerRefPath, body: RecordLeaver, principal: Writer, uow: UoW, response: Response
) -> WorkerView:
    worker, created = await handlers.record_leaver(uow, worker_ref, body, actor=principal.subject)
    _answered(response, created)
    return WorkerView.of(worker)


@router.get("/staff/{worker_ref}", response_model=WorkerView, tags=["staff"])
async def get_worker(worker_ref: WorkerRefPath, _: Reader, uow: UoW) -> WorkerView:
    return WorkerView.of(await handlers.get_worker(uow, worker_ref))


@router.get("/staff", response_model=list[WorkerView], tags=["staff"], summary="Workers in post, by pseudonym")
async def list_in_post(
    _: Reader, uow: UoW, team: Name | None = None, service_area: Name | None = None
) -> list[WorkerView]:
    _check_service_area(service_area)
    return [WorkerView.of(w) for w in await handlers.list_in_post(uow, team=team, service_area=service_area)]


# --------------------------------------------------------------------------- vacancies and caseloads


class VacancyView(BaseModel):
    team: str
    service_area: str
    vacant_fte: float
    as_of: date

    @classmethod
    def of(cls, v: Vacancy) -> VacancyView:
        return cls(team=v.team, service_area=v.service_area, vacant_fte=v.vacant_fte, as_of=v.as_of)


@router.post(
    "/vacancies",
    status_code=status.HTTP_201_CREATED,
    response_model=VacancyView,
    tags=["vacancies"],
    summary="A team's vacant FTE as of a day (publishes VacancyRecorded)",
)
async def record_vacancy(body: RecordVacancy, principal: Writer, uow: UoW, response: Response) -> VacancyView:
    vacancy, created = await handlers.record_vacancy(uow, body, actor=principal.subject)
    _answered(response, created)
    return VacancyView.of(vacancy)


@router.get("/vacancies", response_model=list[VacancyView], tags=["vacancies"], summary="Each team's latest")
async def list_vacancies(_: Reader, uow: UoW, service_area: Name | None = None) -> list[VacancyView]:
    _check_service_area(service_area)
    return [VacancyView.of(v) for v in await handlers.list_vacancies(uow, service_area=service_area)]


class CaseloadView(BaseModel):
    worker_id: str
    cases: int
    as_of: date

    @classmethod
    def of(cls, c: Caseload) -> CaseloadView:
        return cls(worker_id=c.worker_id, cases=c.cases, as_of=c.as_of)


@router.post(
    "/caseloads",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseloadView,
    tags=["caseloads"],
    summary="A worker's caseload snapshot (publishes CaseloadRecorded)",
)
async def record_caseload(body: RecordCaseload, principal: Writer, uow: UoW, response: Response) -> CaseloadView:
    caseload, created = await handlers.record_caseload(uow, body, actor=principal.subject)
    _answered(response, created)
    return CaseloadView.of(caseload)


# --------------------------------------------------------------------------- imports


class CellErrorView(BaseModel):
    row: int = Field(description="the file's line (the header is row 1)")
    column: str | None
    reason: str


class ImportReportView(BaseModel):
    """What an all-or-nothing import did: with any error, nothing was imported."""

    rows: int
    imported: bool
    changed: int = Field(description="rows that recorded something new")
    unchanged: int = Field(description="rows recorded as they are before (a re-import)")
    events: int
    errors: list[CellErrorView]
    ignored_columns: list[str] = Field(description="columns that are not read (and not kept)")

    @classmethod
    def of(cls, r: ImportReport) -> ImportReportView:
        return cls(
            rows=r.rows,
            imported=r.imported,
            changed=r.changed,
            unchanged=r.unchanged,
            events=r.events,
            errors=[CellErrorView(row=e.row, column=e.column, reason=e.reason) for e in r.errors],
            ignored_columns=list(r.ignored_columns),
        )


async def _file(file: UploadFile, settings: Settings) -> bytes:
    limit = settings.max_import_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"the file is larger than {limit:,} bytes")
    return data


def _reported(report: ImportReport) -> Any:
    """200 with the report; a refused file is a 422 naming each row and column."""
    view = ImportReportView.of(report)
    if report.imported:
        return view
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": [
                {"loc": ["body", "file", e.row, e.column or ""], "msg": e.reason, "type": "value_error"}
                for e in report.errors
            ],
            "report": view.model_dump(mode="json"),
        },
    )


@router.post(
    CENSUS_PATH.removeprefix(router.prefix),
    response_model=ImportReportView,
    tags=["staff"],
    summary="Import a children's social work workforce census return (CSV, multipart field `file`)",
    description="One row per worker: worker_id, team, service_area, role, contract, fte, case_holding, "
    "start_date, and optionally leaving_date with leaving_reason, and cases (at the census date). Every "
    "row is checked; any problem refuses the whole file (422 with each row and column) and nothing is "
    "imported. Re-importing the same file changes nothing. A column of names refuses the file.",
)
async def import_census(
    principal: Writer,
    uow: UoW,
    settings: Configured,
    file: Annotated[UploadFile, File(description="the census CSV")],
    as_of: Annotated[CalendarDate, Query(description="the census date, e.g. 2022-09-30")],
) -> Any:
    data = await _file(file, settings)
    return _reported(await handlers.import_census(uow, data, as_of=as_of, actor=principal.subject))


# --------------------------------------------------------------------------- the staff survey


class StaffQuestionView(BaseModel):
    question_id: str
    wording: str
    answer_type: AnswerType
    reported_as: str = Field(description="the id in events and in workforce.survey_positive_rate.<id>")


class StaffSurveyView(BaseModel):
    survey_id: str
    version: int
    title: str
    published_at: datetime
    questions: list[StaffQuestionView]

    @classmethod
    def of(cls, s: StaffSurvey) -> StaffSurveyView:
        return cls(
            survey_id=s.survey_id,
            version=s.version,
            title=s.title,
            published_at=s.published_at,
            questions=[StaffQuestionView(**vars(q)) for q in s.questions],
        )


@router.put(
    "/staff-surveys/{survey_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffSurveyView,
    tags=["staff survey"],
    summary="Publish the staff health-check survey: a new version if it changed (201), else 200",
)
async def publish_survey(
    survey_id: SurveyIdPath, body: PublishStaffSurvey, principal: Writer, uow: UoW, response: Response
) -> StaffSurveyView:
    survey, created = await handlers.publish_survey(uow, survey_id, body, actor=principal.subject)
    _answered(response, created)
    return StaffSurveyView.of(survey)


@router.get("/staff-surveys/{survey_id}", response_model=StaffSurveyView, tags=["staff survey"])
async def get_survey(survey_id: SurveyIdPath, _: Reader, uow: UoW, version: Version = None) -> StaffSurveyView:
    return StaffSurveyView.of(await handlers.get_survey(uow, survey_id, version))


@router.get("/staff-surveys/{survey_id}/versions", response_model=list[StaffSurveyView], tags=["staff survey"])
async def survey_history(survey_id: SurveyIdPath, _: Reader, uow: UoW) -> list[StaffSurveyView]:
    return [StaffSurveyView.of(s) for s in await handlers.survey_history(uow, survey_id)]


class StaffResponseReceipt(BaseModel):
    response_id: str
    survey_id: str
    survey_version: int
    service_area: str
    team: str | None
    received_at: datetime

    @classmethod
    def of(cls, r: StaffResponse) -> StaffResponseReceipt:
        return cls(
            response_id=r.response_id,
            survey_id=r.survey_id,
            survey_version=r.survey_version,
            service_area=r.service_area,
            team=r.team,
            received_at=r.received_at,
        )


@router.post(
    "/staff-survey-responses",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffResponseReceipt,
    tags=["staff survey"],
    summary="One staff survey response (publishes StaffSurveyResponseReceived)",
)
async def record_response(
    body: RecordStaffResponse, principal: Writer, uow: UoW, response: Response
) -> StaffResponseReceipt:
    recorded, created = await handlers.record_response(uow, body, actor=principal.subject)
    _answered(response, created)
    return StaffResponseReceipt.of(recorded)


@router.post(
    SURVEY_IMPORTS_PATH.removeprefix(router.prefix),
    response_model=ImportReportView,
    tags=["staff survey"],
    summary="Import staff survey responses from a CSV export (multipart field `file`)",
    description="Columns: received_at and service_area (required), optional response_id and team, one "
    "column per question id. Any problem refuses the whole file (422 with each row and column).",
)
async def import_survey_csv(
    survey_id: SurveyIdPath,
    principal: Writer,
    uow: UoW,
    settings: Configured,
    file: Annotated[UploadFile, File(description="the CSV file")],
    version: Version = None,
) -> Any:
    data = await _file(file, settings)
    return _reported(await handlers.import_survey_csv(uow, survey_id, data, version=version, actor=principal.subject))


# --------------------------------------------------------------------------- actions


@router.post(
    "/teams/{service_area}/{team}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on a team's workforce (publishes ActionRaised, origin workforce)",
    description="What closes the team's workforce-review follow-up in reporting. The action belongs to the "
    "team; `learning_id` is not taken. A retry with the same `action_id` and content answers 200.",
)
async def raise_action_on_team(
    service_area: ServiceArea, team: TeamPath, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_action_on_team(uow, service_area, team, body, actor=principal.subject)
    return raised(action, created, response)
