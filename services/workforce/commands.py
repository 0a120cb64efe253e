"""What the workforce strand is asked to do: the request models, named for the request. Their
validators are the input rules (a 422 naming the field). Pure: no I/O.

Actions on a team's workforce are asked with `shared.actions.domain.RaiseAction`; a census
return or a staff survey export is a CSV file, read by `domain.census` / `domain.surveys`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from services.workforce.domain import LABEL, MAX_CASES, MAX_FTE, QUESTION_ID, RECORD_ID, WORKER_REF
from services.workforce.domain.staff import Post
from services.workforce.domain.surveys import AnswerType
from shared.bounds import AwareCalendarDateTime, CalendarDate, Int32, Name, PositiveInt32, text
from shared.events import Contract, LeavingReason, ServiceArea, StaffRole

WorkerRef = Annotated[
    str,
    Field(
        pattern=WORKER_REF.pattern,
        description="the worker's reference in the HR system (a staff number; never a name): "
        "pseudonymised on arrival, only the pseudonym is kept or published",
        examples=["SW01234"],
    ),
]
Label = Annotated[str, Field(pattern=LABEL.pattern, examples=["through-care"])]
RecordId = Annotated[str, Field(pattern=RECORD_ID.pattern)]
Fte = Annotated[float, Field(gt=0, le=MAX_FTE, multiple_of=0.01, allow_inf_nan=False, examples=[1.0, 0.6])]
RawAnswer = Annotated[StrictStr, text(20)] | Annotated[StrictInt, Int32] | None


class RecordJoiner(BaseModel):
    """A worker in post from `joined_at`: a joiner, or — for a worker in post — the record
    changed from then (an agency worker converting to employed, a new team, another FTE)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_ref: WorkerRef
    team: Label
    service_area: ServiceArea
    role: StaffRole
    contract: Contract
    fte: Fte
    case_holding: bool
    joined_at: AwareCalendarDateTime | CalendarDate | None = Field(
        default=None, description="a date (midnight London) or a date and time with its offset; default: now"
    )

    def post(self) -> Post:
        return Post(self.team, self.service_area, self.role, self.contract, self.fte, self.case_holding)


class RecordLeaver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    left_at: AwareCalendarDateTime | CalendarDate | None = Field(
        default=None, description="a date (midnight London) or a date and time with its offset; default: now"
    )
    reason: LeavingReason = Field(description="why the worker left: what keeps staff, for the panel")


class RecordVacancy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    team: Label
    service_area: ServiceArea
    vacant_fte: Annotated[float, Field(ge=0, le=1000, multiple_of=0.01, allow_inf_nan=False)]
    as_of: CalendarDate


class RecordCaseload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_ref: WorkerRef
    cases: Annotated[int, Field(ge=0, le=MAX_CASES)]
    as_of: CalendarDate


class StaffQuestionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: Annotated[str, Field(pattern=QUESTION_ID.pattern, examples=["manageable_caseload"])]
    wording: Annotated[str, text(500, 1)]
    answer_type: AnswerType

    @field_validator("wording")
    @classmethod
    def _wording(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return " ".join(v.split())


class PublishStaffSurvey(BaseModel):
    """The staff health-check survey's definition; each publication that changes it is a new version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, text(200, 1)]
    questions: list[StaffQuestionDefinition] = Field(min_length=1, max_length=200)

    @field_validator("questions")
    @classmethod
    def _unique(cls, v: list[StaffQuestionDefinition]) -> list[StaffQuestionDefinition]:
        ids = [q.question_id for q in v]
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"question ids must be unique within a survey: {dup} repeat")
        return v


class RecordStaffResponse(BaseModel):
    """One staff survey response (anonymous: no worker). Skipped questions: leave them out."""

    model_config = ConfigDict(extra="forbid")

    response_id: RecordId | None = Field(default=None, description="your id for it (a retry adds nothing)")
    survey_id: Name
    survey_version: PositiveInt32 | None = Field(default=None, description="default: the latest version")
    service_area: ServiceArea
    team: Label | None = None
    received_at: AwareCalendarDateTime | CalendarDate | None = Field(default=None, description="default: now")
    answers: dict[Annotated[str, Field(pattern=QUESTION_ID.pattern)], RawAnswer] = Field(
        max_length=200, examples=[{"manageable_caseload": 4, "regular_supervision": "yes"}]
    )


CensusDate = date
