"""Feedback HTTP API, under `/v1`. Writing needs the role `feedback:write`; reading needs
`feedback:write` or `reporting:read`. Readers without `feedback:write` see no free text, and
readers with neither `feedback:write` nor `reporting:detail` see small counts suppressed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from services.feedback import handlers
from services.feedback.domain import (
    LABEL,
    SURVEY_ID,
    ActionCompletion,
    ActionContent,
    ActionOriginKind,
    ActionStatus,
    AnswerType,
    Compliment,
    ComplimentContent,
    Conflict,
    FeedbackAction,
    ImportReport,
    InvalidInput,
    NotFound,
    RecordId,
    SurveyContent,
    SurveyVersion,
    YouSaidWeDid,
    YouSaidWeDidContent,
    suppressed,
)
from shared.access_log import PERSONAL_DATA
from shared.auth import Principal, require_served
from shared.bounds import INT32_MAX, InCalendar, Int32, Name, Offset, PositiveInt32, text
from shared.calendar import london_date, parse_period
from shared.events import ComplimentOrigin, LearningOrigin, Respondent, Timestamp, known_service_areas
from shared.service import StrandService

WRITE = "feedback:write"
Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(WRITE, "reporting:read"))]
SurveyIdPath = Annotated[str, Path(pattern=SURVEY_ID.pattern, examples=["send-family-experience"])]
# The CSV import's route: its request body may be as large as `settings.max_import_bytes`
# (app.py gives the route that limit; every other route has `settings.max_body_bytes`).
IMPORTS_PATH = "/v1/surveys/{survey_id}/imports"

router = APIRouter(prefix="/v1")


def _service(request: Request) -> StrandService:
    service: StrandService = request.app.state.service
    return service


def _unprocessable(loc: list[str | int], msg: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": msg, "type": "value_error"}],
    )


def _check_service_area(value: str | None, where: str = "query") -> str | None:
    if value is not None and value not in known_service_areas():
        raise _unprocessable(
            [where, "service_area"],
            f"unknown service_area {value!r}; expected one of {sorted(known_service_areas())}",
        )
    return value


def _period(value: str | None) -> tuple[date | None, date | None]:
    if value is None:
        return None, None
    try:
        period = parse_period(value)
    except ValueError as exc:
        raise _unprocessable(["query", "period"], str(exc)) from None
    return period.start, period.end


def _sees_detail(principal: Principal) -> bool:
    return principal.has(WRITE) or principal.has("reporting:detail")


# --------------------------------------------------------------------------- surveys


class QuestionOut(BaseModel):
    question_id: str
    wording: str
    answer_type: AnswerType
    safeguarding: bool
    reported_as: str = Field(
        description="the question id its answers carry in FeedbackReceived and in the KPI "
        "feedback.positive_rate.<id>: the plain id until a new version rewords the question"
    )


class SurveyOut(BaseModel):
    survey_id: str
    version: int
    title: str
    service_area: str
    respondents: list[Respondent]
    published_at: datetime
    questions: list[QuestionOut]

    @classmethod
    def of(cls, s: SurveyVersion) -> SurveyOut:
        return cls(
            survey_id=s.survey_id,
            version=s.version,
            title=s.title,
            service_area=s.service_area,
            respondents=list(s.respondents),
            published_at=s.published_at,
            questions=[
                QuestionOut(
                    question_id=q.question_id,
                    wording=q.wording,
                    answer_type=q.answer_type,
                    safeguarding=q.safeguarding,
                    reported_as=q.reported_as,
                )
                for q in s.questions
            ],
        )


@router.put(
    "/surveys/{survey_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=SurveyOut,
    tags=["surveys"],
    summary="Publish a survey definition: a new version if it changed (201), else 200",
)
async def put_survey(
    survey_id: SurveyIdPath,
    body: SurveyContent,
    principal: Writer,
    request: Request,
    response: Response,
) -> SurveyOut:
    survey, created = await handlers.publish_survey(_service(request), survey_id, body, published_by=principal.subject)
    if not created:
        response.status_code = status.HTTP_200_OK
    return SurveyOut.of(survey)


@router.get("/surveys", response_model=list[SurveyOut], tags=["surveys"])
async def get_surveys(_: Reader, request: Request, service_area: Name | None = None) -> list[SurveyOut]:
    surveys = await handlers.list_surveys(_service(request), _check_service_area(service_area))
    return [SurveyOut.of(s) for s in surveys]


@router.get("/surveys/{survey_id}", response_model=SurveyOut, tags=["surveys"])
async def get_survey(
    survey_id: Name,
    _: Reader,
    request: Request,
    version: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
) -> SurveyOut:
    return SurveyOut.of(await handlers.get_survey(_service(request), survey_id, version))


@router.get("/surveys/{survey_id}/versions", response_model=list[SurveyOut], tags=["surveys"])
async def get_survey_versions(survey_id: Name, _: Reader, request: Request) -> list[SurveyOut]:
    return [SurveyOut.of(s) for s in await handlers.survey_history(_service(request), survey_id)]


class QuestionResult(BaseModel):
    reported_as: str
    question_id: str
    wording: str
    answer_type: AnswerType
    versions: list[int]
    answers: int | None
    positive: int | None
    positive_rate: float | None
    counts: dict[str, int] | None
    suppressed: bool


class SurveyResultsOut(BaseModel):
    survey_id: str
    latest_version: int
    period: str | None
    responses: int | None
    suppressed: bool
    questions: list[QuestionResult] = Field(
        description="one entry per wording: answers to a reworded question are counted apart"
    )


@router.get(
    "/surveys/{survey_id}/results",
    response_model=SurveyResultsOut,
    tags=["surveys"],
    summary="Answers per question and wording (free text counted, never shown)",
)
async def get_survey_results(
    survey_id: Name,
    principal: Reader,
    request: Request,
    period: Annotated[Name | None, Query(examples=["2022-23-Q2"])] = None,
) -> SurveyResultsOut:
    start, end = _period(period)
    results = await handlers.survey_results(_service(request), survey_id, start, end)
    threshold = _service(request).settings.small_number_threshold
    detail = _sees_detail(principal)
    questions = []
    for t in results.questions:
        hide = not detail and suppressed(t.answers, threshold)
        questions.append(
            QuestionResult(
                reported_as=t.reported_as,
                question_id=t.question_id,
                wording=t.wording,
                answer_type=t.answer_type,
                versions=list(t.versions),
                answers=None if hide else t.answers,
                positive=None if hide else t.positive,
                positive_rate=None if hide else t.positive_rate,
                counts=None if hide else dict(t.counts),
                suppressed=hide,
            )
        )
    hide_total = not detail and suppressed(results.responses, threshold)
    return SurveyResultsOut(
        survey_id=results.survey.survey_id,
        latest_version=results.survey.version,
        period=period,
        responses=None if hide_total else results.responses,
        suppressed=hide_total,
        questions=questions,
    )


# --------------------------------------------------------------------------- responses


class ResponseIn(BaseModel):
    """One survey response. Skipped questions: leave them out, or send null or ""."""

    model_config = ConfigDict(extra="forbid")

    response_id: RecordId | None = Field(
        default=None, description="your id for it (a retry with the same id adds nothing)"
    )
    survey_id: Name
    survey_version: PositiveInt32 | None = Field(default=None, description="default: the latest version")
    respondent: Name | None = Field(
        default=None,
        description="respondent group; may be left out when the survey is for one group only",
    )
    team: Name | None = None
    channel: Name | None = Field(default=None, examples=["online", "paper", "visit"])
    received_at: Annotated[Timestamp, InCalendar] | None = Field(default=None, description="default: now")
    answers: dict[Name, Annotated[StrictStr, text()] | Annotated[StrictInt, Int32] | None] = Field(
        description="question_id -> `yes`/`no`, 1-5, or text for a free-text question",
        examples=[{"feel_safe_where_i_live": "yes", "worker_listens_to_me": 4}],
    )


class ResponseReceipt(BaseModel):
    response_id: str
    survey_id: str
    survey_version: int
    received_at: datetime
    answered: int = Field(description="questions answered (skipped ones are not recorded)")
    safeguarding_alert: bool = Field(description="a safeguarding question was answered negatively: same-day follow-up")
    created: bool = Field(description="false: this was a retry of a recorded response")


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseReceipt,
    tags=["responses"],
    summary="Record one survey response (publishes FeedbackReceived)",
)
async def post_response(body: ResponseIn, principal: Writer, request: Request, response: Response) -> ResponseReceipt:
    recorded, created = await handlers.record_response(
        _service(request),
        handlers.ResponseSubmission(
            survey_id=body.survey_id,
            answers=body.answers,
            response_id=body.response_id,
            survey_version=body.survey_version,
            respondent=body.respondent,
            team=body.team,
            channel=body.channel,
            received_at=body.received_at,
        ),
        recorded_by=principal.subject,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ResponseReceipt(
        response_id=recorded.response_id,
        survey_id=recorded.survey.survey_id,
        survey_version=recorded.survey.version,
        received_at=recorded.received_at,
        answered=len(recorded.answers),
        safeguarding_alert=recorded.safeguarding_concern,
        created=created,
    )


class AnswerOut(BaseModel):
    question_id: str
    reported_as: str
    wording: str = Field(description="the wording of the version this response answered")
    answer_type: AnswerType
    safeguarding: bool
    value: str | int | None = Field(description="yes/no, 1-5, or the free text")
    withheld: bool = Field(default=False, description="free text is shown only to holders of feedback:write")


class ActionOut(BaseModel):
    action_id: str
    origin: LearningOrigin = Field(description="always `feedback`")
    origin_kind: ActionOriginKind = Field(description="`response`: raised on a survey response; `theme`: on a theme")
    origin_id: str = Field(description="the response id, or `<service_area>:<theme>`")
    team: str
    service_area: str
    owner_id: str
    summary: str
    due_date: date
    raised_at: datetime
    raised_by: str
    status: ActionStatus
    overdue: bool = Field(description="open with its due date passed (London dates)")
    completed_at: datetime | None
    completed_by: str | None
    on_time: bool | None = Field(description="completed on or before its due date; null while open")
    evidence: str | None

    @classmethod
    def of(cls, a: FeedbackAction, today: date) -> ActionOut:
        return cls(
            action_id=a.action_id,
            origin=LearningOrigin.FEEDBACK,
            origin_kind=a.origin_kind,
            origin_id=a.origin_id,
            team=a.team,
            service_area=a.service_area,
            owner_id=a.owner_id,
            summary=a.summary,
            due_date=a.due_date,
            raised_at=a.raised_at,
            raised_by=a.raised_by,
            status=a.status,
            overdue=a.overdue(today),
            completed_at=a.completed_at,
            completed_by=a.completed_by,
            on_time=a.on_time,
            evidence=a.evidence,
        )


def _today() -> date:
    return london_date(datetime.now(UTC))


class ResponseOut(BaseModel):
    response_id: str
    survey_id: str
    survey_version: int
    service_area: str
    team: str | None
    respondent: Respondent
    channel: str | None
    received_at: datetime
    source: str
    answers: list[AnswerOut]
    actions: list[ActionOut] = Field(description="actions raised on this response, by due date")


@router.get("/responses/{response_id}", response_model=ResponseOut, tags=["responses"], openapi_extra=PERSONAL_DATA)
async def get_response(response_id: Name, principal: Reader, request: Request) -> ResponseOut:
    found = await handlers.get_response(_service(request), response_id)
    may_read_text = principal.has(WRITE)
    answers = []
    for a in found["answers"]:
        free = a["answer_type"] == AnswerType.FREE_TEXT.value
        value: str | int | None
        if free:
            value = a["free_text"] if may_read_text else None
        else:
            value = int(a["value"]) if a["value"].isdigit() else a["value"]
        answers.append(
            AnswerOut(
                question_id=a["question_id"],
                reported_as=a["reported_as"],
                wording=a["wording"],
                answer_type=a["answer_type"],
                safeguarding=a["safeguarding"],
                value=value,
                withheld=free and not may_read_text,
            )
        )
    return ResponseOut(
        response_id=found["response_id"],
        survey_id=found["survey_id"],
        survey_version=found["survey_version"],
        service_area=found["service_area"],
        team=found["team"],
        respondent=found["respondent"],
        channel=found["channel"],
        received_at=found["received_at"],
        source=found["source"],
        answers=answers,
        actions=[ActionOut.of(a, _today()) for a in found["actions"]],
    )


@router.post(
    IMPORTS_PATH.removeprefix(router.prefix),
    response_model=ImportReport,
    tags=["responses"],
    summary="Import responses from a survey tool's CSV export (multipart field `file`)",
    description="Header row, then one row per response. Columns: `received_at` (required; "
    "alias `submitted_at`; ISO 8601 or dd/mm/yyyy [HH:MM], London time without an offset), "
    "optional `response_id`, `respondent`, `team`, `channel`, and one column per question "
    "named by its question_id or its wording. Good rows are kept, bad rows reported by line; "
    "importing the same file again adds nothing. 422 when the file cannot be read at all.",
)
async def post_import(
    survey_id: Name,
    principal: Writer,
    request: Request,
    file: Annotated[UploadFile, File(description="the CSV file")],
    version: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
) -> Any:
    limit = _service(request).settings.max_import_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"the file is larger than {limit:,} bytes; split it",
        )
    report = await handlers.import_csv(
        _service(request), data, survey_id, version=version, recorded_by=principal.subject
    )
    if not report.readable:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={
                "detail": [
                    {"loc": ["body", "file"], "msg": f"line {e.line}: {e.reason}", "type": "value_error"}
                    for e in report.errors
                ],
                "report": report.model_dump(mode="json"),
            },
        )
    return report


# --------------------------------------------------------------------------- compliments


class ComplimentOut(BaseModel):
    compliment_id: str
    origin: ComplimentOrigin
    service_area: str
    team: str
    received_at: datetime
    summary: str | None

    @classmethod
    def of(cls, c: Compliment) -> ComplimentOut:
        return cls(
            compliment_id=c.compliment_id,
            origin=c.origin,
            service_area=c.service_area,
            team=c.team,
            received_at=c.received_at,
            summary=c.summary,
        )


@router.post(
    "/compliments",
    status_code=status.HTTP_201_CREATED,
    response_model=ComplimentOut,
    tags=["compliments"],
    summary="Record a compliment, internal or external (publishes ComplimentReceived)",
)
async def post_compliment(
    body: ComplimentContent, principal: Writer, request: Request, response: Response
) -> ComplimentOut:
    compliment, created = await handlers.record_compliment(_service(request), body, recorded_by=principal.subject)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ComplimentOut.of(compliment)


@router.get("/compliments", response_model=list[ComplimentOut], tags=["compliments"])
async def get_compliments(
    _: Reader,
    request: Request,
    service_area: Name | None = None,
    origin: ComplimentOrigin | None = None,
    team: Name | None = None,
    period: Annotated[Name | None, Query(examples=["2022-23-Q2"])] = None,
) -> list[ComplimentOut]:
    start, end = _period(period)
    found = await handlers.list_compliments(
        _service(request),
        service_area=_check_service_area(service_area),
        origin=origin.value if origin else None,
        team=team,
        start=start,
        end=end,
    )
    return [ComplimentOut.of(c) for c in found]


# --------------------------------------------------------------------------- you said, we did


class YouSaidWeDidOut(BaseModel):
    item_id: str
    service_area: str
    theme: str
    you_said: str
    we_did: str
    feedback_ids: list[str]
    action_id: str | None
    published_at: datetime

    @classmethod
    def of(cls, y: YouSaidWeDid) -> YouSaidWeDidOut:
        return cls(
            item_id=y.item_id,
            service_area=y.service_area,
            theme=y.theme,
            you_said=y.you_said,
            we_did=y.we_did,
            feedback_ids=list(y.feedback_ids),
            action_id=y.action_id,
            published_at=y.published_at,
        )


@router.post(
    "/you-said-we-did",
    status_code=status.HTTP_201_CREATED,
    response_model=YouSaidWeDidOut,
    tags=["you said, we did"],
    summary='Publish a "you said, we did" item (publishes YouSaidWeDidPublished)',
)
async def post_you_said_we_did(
    body: YouSaidWeDidContent, principal: Writer, request: Request, response: Response
) -> YouSaidWeDidOut:
    item, created = await handlers.publish_you_said_we_did(_service(request), body, recorded_by=principal.subject)
    if not created:
        response.status_code = status.HTTP_200_OK
    return YouSaidWeDidOut.of(item)


@router.get(
    "/you-said-we-did",
    response_model=list[YouSaidWeDidOut],
    tags=["you said, we did"],
    summary='The public "you said, we did" list, newest first',
)
async def get_you_said_we_did(
    _: Reader,
    request: Request,
    service_area: Name | None = None,
    theme: Name | None = None,
) -> list[YouSaidWeDidOut]:
    found = await handlers.list_you_said_we_did(
        _service(request), service_area=_check_service_area(service_area), theme=theme
    )
    return [YouSaidWeDidOut.of(y) for y in found]


# --------------------------------------------------------------------------- actions

ThemePath = Annotated[str, Path(pattern=LABEL.pattern, examples=["easy_to_contact_case_worker"])]


@router.post(
    "/responses/{response_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionOut,
    tags=["actions"],
    summary="Raise an action on a survey response (publishes ActionRaised, origin feedback)",
    description="origin_id is the response: completing the action closes the safeguarding alert "
    "that a negative answer to a safeguarding question opens. The action belongs to the "
    "response's team and service area; `team` is required only when the response names no team. "
    "A retry with the same `action_id` and content answers 200 and publishes nothing.",
)
async def post_response_action(
    response_id: Name, body: ActionContent, principal: Writer, request: Request, response: Response
) -> ActionOut:
    action, created = await handlers.raise_action_on_response(
        _service(request), response_id, body, raised_by=principal.subject
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ActionOut.of(action, _today())


@router.post(
    "/themes/{service_area}/{theme}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionOut,
    tags=["actions"],
    summary="Raise an action on a service area's theme (publishes ActionRaised, origin feedback)",
    description="origin_id is `<service_area>:<theme>`, the theme usually a question's "
    '`reported_as` id, as in "you said, we did" items (which can then name the action). '
    "`team` is required.",
)
async def post_theme_action(
    service_area: Name, theme: ThemePath, body: ActionContent, principal: Writer, request: Request, response: Response
) -> ActionOut:
    _check_service_area(service_area, "path")
    action, created = await handlers.raise_action_on_theme(
        _service(request), service_area, theme, body, raised_by=principal.subject
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ActionOut.of(action, _today())


@router.post(
    "/actions/{action_id}/complete",
    response_model=ActionOut,
    tags=["actions"],
    summary="Complete an action (publishes ActionCompleted)",
    description="409 when it is already completed (the same completion sent again answers 200 "
    "and publishes nothing); 422 when completed_at is before it was raised or in the future.",
)
async def post_action_completion(
    action_id: Name, body: ActionCompletion, principal: Writer, request: Request
) -> ActionOut:
    action, _ = await handlers.complete_action(_service(request), action_id, body, completed_by=principal.subject)
    return ActionOut.of(action, _today())


@router.get("/actions", response_model=list[ActionOut], tags=["actions"], summary="Actions, by due date")
async def get_actions(
    _: Reader,
    request: Request,
    status_: Annotated[Literal["open", "completed", "overdue"] | None, Query(alias="status")] = None,
    origin_id: Name | None = None,
    team: Name | None = None,
    owner_id: Name | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[ActionOut]:
    now = datetime.now(UTC)
    found = await handlers.list_actions(
        _service(request),
        status=status_,
        origin_id=origin_id,
        team=team,
        owner_id=owner_id,
        limit=limit,
        offset=offset,
        now=now,
    )
    return [ActionOut.of(a, london_date(now)) for a in found]


@router.get("/actions/{action_id}", response_model=ActionOut, tags=["actions"])
async def get_action(action_id: Name, _: Reader, request: Request) -> ActionOut:
    return ActionOut.of(await handlers.get_action(_service(request), action_id), _today())


# --------------------------------------------------------------------------- errors


def add_error_handlers(app: FastAPI) -> None:
    """Domain errors as HTTP: InvalidInput 422 (with each field), NotFound 404, Conflict 409."""

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={
                "detail": [{"loc": ["body", *p.field], "msg": p.reason, "type": "value_error"} for p in exc.problems]
            },
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)})
