"""Feedback HTTP API, under `/v1`: the views (response models) and the routes that turn a
request into a handler call. Writing needs the role `feedback:write`; reading needs
`feedback:write` or `reporting:read`. Readers without `feedback:write` see no free text, and
readers with neither `feedback:write` nor `reporting:detail` see small counts suppressed.
The action routes (list, read, complete) are the shared ones (`shared.actions.api`), mounted
by app.py; the routes here raise actions on this strand's origins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.feedback import handlers
from services.feedback.commands import PublishSurvey, PublishYouSaidWeDid, RecordCompliment, RecordResponse
from services.feedback.domain import LABEL, SURVEY_ID, AnswerType
from services.feedback.domain.compliments import Compliment
from services.feedback.domain.csv_import import ImportReport
from services.feedback.domain.responses import Answer, SurveyResponse
from services.feedback.domain.surveys import SurveyVersion
from services.feedback.domain.tallies import QuestionTally, SurveyResults, suppressed
from services.feedback.domain.you_said_we_did import YouSaidWeDid
from services.feedback.store import FeedbackUnitOfWork
from shared.access_log import PERSONAL_DATA
from shared.actions.api import ActionView, raised
from shared.actions.domain import RaiseAction
from shared.auth import Principal, require_served
from shared.bounds import INT32_MAX, Name
from shared.calendar import london_date, parse_period
from shared.events import ComplimentOrigin, Respondent, known_service_areas
from shared.service import unit_of_work
from shared.settings import Settings
from shared.uow import utc_now

WRITE = "feedback:write"
Writer = Annotated[Principal, Depends(require_served(WRITE))]
Reader = Annotated[Principal, Depends(require_served(WRITE, "reporting:read"))]
UoW = Annotated[FeedbackUnitOfWork, Depends(unit_of_work)]
SurveyIdPath = Annotated[str, Path(pattern=SURVEY_ID.pattern, examples=["send-family-experience"])]
ThemePath = Annotated[str, Path(pattern=LABEL.pattern, examples=["easy_to_contact_case_worker"])]
Version = Annotated[int | None, Query(ge=1, le=INT32_MAX)]
PeriodQuery = Annotated[Name | None, Query(examples=["2022-23-Q2"])]
# The CSV import's route: its request body may be as large as `settings.max_import_bytes`
# (app.py gives the route that limit; every other route has `settings.max_body_bytes`).
IMPORTS_PATH = "/v1/surveys/{survey_id}/imports"

router = APIRouter(prefix="/v1")


def service_settings(request: Request) -> Settings:
    """FastAPI dependency: the settings the service was built with."""
    settings: Settings = request.app.state.service.settings
    return settings


Configured = Annotated[Settings, Depends(service_settings)]


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


def _answered(response: Response, created: bool) -> None:
    """201 for a new record; 200 for a retry that added nothing."""
    if not created:
        response.status_code = status.HTTP_200_OK


# --------------------------------------------------------------------------- surveys


class QuestionView(BaseModel):
    question_id: str
    wording: str
    answer_type: AnswerType
    safeguarding: bool
    reported_as: str = Field(
        description="the question id its answers carry in FeedbackReceived and in the KPI "
        "feedback.positive_rate.<id>: the plain id until a new version rewords the question"
    )


class SurveyView(BaseModel):
    survey_id: str
    version: int
    title: str
    service_area: str
    respondents: list[Respondent]
    published_at: datetime
    questions: list[QuestionView]

    @classmethod
    def of(cls, s: SurveyVersion) -> SurveyView:
        return cls(
            survey_id=s.survey_id,
            version=s.version,
            title=s.title,
            service_area=s.service_area,
            respondents=list(s.respondents),
            published_at=s.published_at,
            questions=[
                QuestionView(
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
    response_model=SurveyView,
    tags=["surveys"],
    summary="Publish a survey definition: a new version if it changed (201), else 200",
)
async def publish_survey(
    survey_id: SurveyIdPath, body: PublishSurvey, principal: Writer, uow: UoW, response: Response
) -> SurveyView:
    survey, created = await handlers.publish_survey(uow, survey_id, body, actor=principal.subject)
    _answered(response, created)
    return SurveyView.of(survey)


@router.get("/surveys", response_model=list[SurveyView], tags=["surveys"])
async def list_surveys(_: Reader, uow: UoW, service_area: Name | None = None) -> list[SurveyView]:
    surveys = await handlers.list_surveys(uow, _check_service_area(service_area))
    return [SurveyView.of(s) for s in surveys]


@router.get("/surveys/{survey_id}", response_model=SurveyView, tags=["surveys"])
async def get_survey(survey_id: Name, _: Reader, uow: UoW, version: Version = None) -> SurveyView:
    return SurveyView.of(await handlers.get_survey(uow, survey_id, version))


@router.get("/surveys/{survey_id}/versions", response_model=list[SurveyView], tags=["surveys"])
async def survey_history(survey_id: Name, _: Reader, uow: UoW) -> list[SurveyView]:
    return [SurveyView.of(s) for s in await handlers.survey_history(uow, survey_id)]


class QuestionResultView(BaseModel):
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

    @classmethod
    def of(cls, t: QuestionTally, *, hide: bool) -> QuestionResultView:
        return cls(
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


class SurveyResultsView(BaseModel):
    survey_id: str
    latest_version: int
    period: str | None
    responses: int | None
    suppressed: bool
    questions: list[QuestionResultView] = Field(
        description="one entry per wording: answers to a reworded question are counted apart"
    )

    @classmethod
    def of(cls, results: SurveyResults, period: str | None, *, threshold: int | None) -> SurveyResultsView:
        """`threshold`: counts from 1 to it are suppressed; None: the reader sees them all."""

        def hidden(count: int) -> bool:
            return threshold is not None and suppressed(count, threshold)

        return cls(
            survey_id=results.survey.survey_id,
            latest_version=results.survey.version,
            period=period,
            responses=None if hidden(results.responses) else results.responses,
            suppressed=hidden(results.responses),
            questions=[QuestionResultView.of(t, hide=hidden(t.answers)) for t in results.questions],
        )


@router.get(
    "/surveys/{survey_id}/results",
    response_model=SurveyResultsView,
    tags=["surveys"],
    summary="Answers per question and wording (free text counted, never shown)",
)
async def survey_results(
    request: Request,
    survey_id: Name,
    principal: Reader,
    uow: UoW,
    settings: Configured,
    period: PeriodQuery = None,
) -> SurveyResultsView:
    start, end = _period(period)
    results = await handlers.survey_results(uow, survey_id, start, end)
    # the served authority's threshold (shared/tenant_config), as reporting's
    config = request.app.state.service.config.for_tenant(settings.tenant)
    threshold = None if _sees_detail(principal) else config.small_number_threshold
    return SurveyResultsView.of(results, period, threshold=threshold)


# --------------------------------------------------------------------------- responses


class ResponseReceipt(BaseModel):
    response_id: str
    survey_id: str
    survey_version: int
    received_at: datetime
    answered: int = Field(description="questions answered (skipped ones are not recorded)")
    safeguarding_alert: bool = Field(description="a safeguarding question was answered negatively: same-day follow-up")
    created: bool = Field(description="false: this was a retry of a recorded response")

    @classmethod
    def of(cls, r: SurveyResponse, created: bool) -> ResponseReceipt:
        return cls(
            response_id=r.response_id,
            survey_id=r.survey_id,
            survey_version=r.survey_version,
            received_at=r.received_at,
            answered=len(r.answers),
            safeguarding_alert=r.safeguarding_concern,
            created=created,
        )


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=ResponseReceipt,
    tags=["responses"],
    summary="Record one survey response (publishes FeedbackReceived)",
)
async def record_response(body: RecordResponse, principal: Writer, uow: UoW, response: Response) -> ResponseReceipt:
    recorded, created = await handlers.record_response(uow, body, actor=principal.subject)
    _answered(response, created)
    return ResponseReceipt.of(recorded, created)


class AnswerView(BaseModel):
    question_id: str
    reported_as: str
    wording: str = Field(description="the wording of the version this response answered")
    answer_type: AnswerType
    safeguarding: bool
    value: str | int | None = Field(description="yes/no, 1-5, or the free text")
    withheld: bool = Field(default=False, description="free text is shown only to holders of feedback:write")

    @classmethod
    def of(cls, a: Answer, *, may_read_text: bool) -> AnswerView:
        withheld = a.is_free_text and not may_read_text
        return cls(
            question_id=a.question.question_id,
            reported_as=a.question.reported_as,
            wording=a.question.wording,
            answer_type=a.question.answer_type,
            safeguarding=a.question.safeguarding,
            value=None if withheld else a.value,
            withheld=withheld,
        )


class ResponseView(BaseModel):
    response_id: str
    survey_id: str
    survey_version: int
    service_area: str
    team: str | None
    respondent: Respondent
    channel: str | None
    received_at: datetime
    source: str
    answers: list[AnswerView]
    actions: list[ActionView] = Field(description="actions raised on this response, by due date")


@router.get("/responses/{response_id}", response_model=ResponseView, tags=["responses"], openapi_extra=PERSONAL_DATA)
async def get_response(response_id: Name, principal: Reader, uow: UoW) -> ResponseView:
    found, actions = await handlers.get_response(uow, response_id)
    today = london_date(utc_now())
    return ResponseView(
        response_id=found.response_id,
        survey_id=found.survey_id,
        survey_version=found.survey_version,
        service_area=found.service_area,
        team=found.team,
        respondent=found.respondent,
        channel=found.channel,
        received_at=found.received_at,
        source=found.source,
        answers=[AnswerView.of(a, may_read_text=principal.has(WRITE)) for a in found.answers],
        actions=[ActionView.of(a, today) for a in actions],
    )


class RowErrorView(BaseModel):
    line: int = Field(description="line in the file (the header is line 1 in most files)")
    reason: str
    response_id: str | None = None


class ImportReportView(BaseModel):
    """What a CSV import did. `rows` = imported + duplicates + rejected."""

    survey_id: str
    survey_version: int
    rows: int = Field(description="data rows in the file (blank lines not counted)")
    imported: int = Field(description="new responses recorded and published")
    duplicates: int = Field(description="rows already recorded by an earlier import: skipped")
    rejected: int = Field(description="rows refused; each has an entry in `errors`")
    errors: list[RowErrorView] = Field(
        description="why rows (or, at the header line, columns or the whole file) were refused"
    )
    readable: bool = Field(default=True, description="false: the file could not be read at all; nothing was imported")
    safeguarding_responses: list[str] = Field(
        default_factory=list,
        description="imported responses with a negative answer to a safeguarding question: "
        "they need same-day follow-up",
    )

    @classmethod
    def of(cls, r: ImportReport) -> ImportReportView:
        return cls(
            survey_id=r.survey_id,
            survey_version=r.survey_version,
            rows=r.rows,
            imported=r.imported,
            duplicates=r.duplicates,
            rejected=r.rejected,
            errors=[RowErrorView(line=e.line, reason=e.reason, response_id=e.response_id) for e in r.errors],
            readable=r.readable,
            safeguarding_responses=list(r.safeguarding_responses),
        )


@router.post(
    IMPORTS_PATH.removeprefix(router.prefix),
    response_model=ImportReportView,
    tags=["responses"],
    summary="Import responses from a survey tool's CSV export (multipart field `file`)",
    description="Header row, then one row per response. Columns: `received_at` (required; "
    "alias `submitted_at`; ISO 8601 or dd/mm/yyyy [HH:MM], London time without an offset), "
    "optional `response_id`, `respondent`, `team`, `channel`, and one column per question "
    "named by its question_id or its wording. Good rows are kept, bad rows reported by line; "
    "importing the same file again adds nothing. 422 when the file cannot be read at all.",
)
async def import_csv(
    survey_id: Name,
    principal: Writer,
    uow: UoW,
    settings: Configured,
    file: Annotated[UploadFile, File(description="the CSV file")],
    version: Version = None,
) -> Any:
    limit = settings.max_import_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        too_large = f"the file is larger than {limit:,} bytes; split it"
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=too_large)
    imported = await handlers.import_csv(uow, survey_id, data, version=version, actor=principal.subject)
    report = ImportReportView.of(imported)
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


class ComplimentView(BaseModel):
    compliment_id: str
    origin: ComplimentOrigin
    service_area: str
    team: str
    received_at: datetime
    summary: str | None
    summary_shareable: bool = False

    @classmethod
    def of(cls, c: Compliment) -> ComplimentView:
        return cls.model_validate(c, from_attributes=True)


@router.post(
    "/compliments",
    status_code=status.HTTP_201_CREATED,
    response_model=ComplimentView,
    tags=["compliments"],
    summary="Record a compliment, internal or external (publishes ComplimentReceived)",
)
async def record_compliment(body: RecordCompliment, principal: Writer, uow: UoW, response: Response) -> ComplimentView:
    compliment, created = await handlers.record_compliment(uow, body, actor=principal.subject)
    _answered(response, created)
    return ComplimentView.of(compliment)


@router.get("/compliments", response_model=list[ComplimentView], tags=["compliments"])
async def list_compliments(
    _: Reader,
    uow: UoW,
    service_area: Name | None = None,
    origin: ComplimentOrigin | None = None,
    team: Name | None = None,
    period: PeriodQuery = None,
) -> list[ComplimentView]:
    start, end = _period(period)
    area = _check_service_area(service_area)
    found = await handlers.list_compliments(uow, service_area=area, origin=origin, team=team, start=start, end=end)
    return [ComplimentView.of(c) for c in found]


# --------------------------------------------------------------------------- you said, we did


class YouSaidWeDidView(BaseModel):
    item_id: str
    service_area: str
    theme: str
    you_said: str
    we_did: str
    feedback_ids: list[str]
    action_id: str | None
    published_at: datetime

    @classmethod
    def of(cls, y: YouSaidWeDid) -> YouSaidWeDidView:
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
    response_model=YouSaidWeDidView,
    tags=["you said, we did"],
    summary='Publish a "you said, we did" item (publishes YouSaidWeDidPublished)',
)
async def publish_you_said_we_did(
    body: PublishYouSaidWeDid, principal: Writer, uow: UoW, response: Response
) -> YouSaidWeDidView:
    item, created = await handlers.publish_you_said_we_did(uow, body, actor=principal.subject)
    _answered(response, created)
    return YouSaidWeDidView.of(item)


@router.get(
    "/you-said-we-did",
    response_model=list[YouSaidWeDidView],
    tags=["you said, we did"],
    summary='The public "you said, we did" list, newest first',
)
async def list_you_said_we_did(
    _: Reader, uow: UoW, service_area: Name | None = None, theme: Name | None = None
) -> list[YouSaidWeDidView]:
    found = await handlers.list_you_said_we_did(uow, service_area=_check_service_area(service_area), theme=theme)
    return [YouSaidWeDidView.of(y) for y in found]


# --------------------------------------------------------------------------- actions on responses and themes


@router.post(
    "/responses/{response_id}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on a survey response (publishes ActionRaised, origin feedback)",
    description="The action's origin_id is the response id: completing the action closes the "
    "safeguarding alert that a negative answer to a safeguarding question opens. The action "
    "belongs to the response's team and service area; `team` is required only when the "
    "response names no team; `learning_id` is not taken (feedback records no learning). "
    "A retry with the same `action_id` and content answers 200 and publishes nothing; the same "
    "id with other content is a 409; an unknown response a 404.",
)
async def raise_action_on_response(
    response_id: Name, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    action, created = await handlers.raise_action_on_response(uow, response_id, body, actor=principal.subject)
    return raised(action, created, response)


@router.post(
    "/themes/{service_area}/{theme}/actions",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionView,
    tags=["actions"],
    summary="Raise an action on a service area's theme (publishes ActionRaised, origin feedback)",
    description="The action's origin_id is `<service_area>:<theme>`, the theme usually a "
    'question\'s `reported_as` id, as in "you said, we did" items (which can then name the '
    "action). `team` is required; `learning_id` is not taken. A retry with the same "
    "`action_id` and content answers 200 and publishes nothing; the same id with other "
    "content is a 409.",
)
async def raise_action_on_theme(
    service_area: Name, theme: ThemePath, body: RaiseAction, principal: Writer, uow: UoW, response: Response
) -> ActionView:
    _check_service_area(service_area, "path")
    action, created = await handlers.raise_action_on_theme(uow, service_area, theme, body, actor=principal.subject)
    return raised(action, created, response)
