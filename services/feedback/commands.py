"""What the feedback strand is asked to do: the request models, named for the request. Their
validators are the input rules (a 422 naming the field). Pure: no I/O.

Actions on responses and themes are asked with `shared.actions.domain.RaiseAction` and
`CompleteAction`; a CSV import is a file, read by `domain.csv_import`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.feedback.domain import LABEL, MAX_SUMMARY, MAX_YOU_SAID_WE_DID, QUESTION_ID, RECORD_ID, AnswerType
from shared.bounds import InCalendar, Int32, Name, PositiveInt32, text
from shared.events import ComplimentOrigin, Respondent, ServiceArea, Timestamp
from shared.text import normalise_text, published_text

RecordId = Annotated[str, Field(pattern=RECORD_ID.pattern)]
Label = Annotated[str, Field(pattern=LABEL.pattern)]
# An answer as sent: `yes`/`no`, 1-5, free text, or null/"" for a skipped question.
RawAnswer = Annotated[StrictStr, text()] | Annotated[StrictInt, Int32] | None


def _not_blank(value: str) -> str:
    value = normalise_text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


class QuestionDefinition(BaseModel):
    """A question as a survey author writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str = Field(
        description="snake_case id, e.g. `feel_safe_where_i_live`; also the CSV column name",
        examples=["feel_safe_where_i_live"],
    )
    wording: str = Field(min_length=1, max_length=500, examples=["I feel safe where I live"])
    answer_type: AnswerType
    safeguarding: bool = Field(
        default=False,
        description="a negative answer (`no`, 1 or 2) needs same-day follow-up",
    )

    @field_validator("question_id")
    @classmethod
    def _question_id(cls, v: str) -> str:
        if not QUESTION_ID.match(v):
            raise ValueError(
                "must be snake_case: a lower-case letter, then lower-case letters, digits or _ (at most 80 characters)"
            )
        return v

    @field_validator("wording")
    @classmethod
    def _wording(cls, v: str) -> str:
        return _not_blank(v)

    @model_validator(mode="after")
    def _safeguarding_needs_an_answer_scale(self) -> QuestionDefinition:
        if self.safeguarding and self.answer_type is AnswerType.FREE_TEXT:
            raise ValueError(
                "a free-text question cannot be a safeguarding question: only yes/no and 1-5 answers can be negative"
            )
        return self


class PublishSurvey(BaseModel):
    """A survey's definition; each publication that changes it is a new version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    service_area: ServiceArea
    respondents: list[Respondent] = Field(
        min_length=1, description="respondent groups the survey is for; the first is the main one"
    )
    questions: list[QuestionDefinition] = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return _not_blank(v)

    @field_validator("respondents")
    @classmethod
    def _respondents(cls, v: list[Respondent]) -> list[Respondent]:
        if len(set(v)) != len(v):
            raise ValueError("a respondent group is listed twice")
        return v

    @field_validator("questions")
    @classmethod
    def _questions(cls, v: list[QuestionDefinition]) -> list[QuestionDefinition]:
        ids = [q.question_id for q in v]
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"question ids must be unique within a survey: {dup} repeat")
        wordings = [q.wording.casefold() for q in v]
        if dup := sorted({w for w in wordings if wordings.count(w) > 1}):
            raise ValueError(f"two questions have the same wording: {dup}")
        return v


class RecordResponse(BaseModel):
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
    answers: dict[Name, RawAnswer] = Field(
        description="question_id -> `yes`/`no`, 1-5, or text for a free-text question",
        examples=[{"feel_safe_where_i_live": "yes", "worker_listens_to_me": 4}],
    )


class RecordCompliment(BaseModel):
    """A compliment as recorded by staff."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    compliment_id: RecordId | None = Field(
        default=None, description="your id for it (a retry with the same id adds nothing)"
    )
    origin: ComplimentOrigin = Field(
        description="`external` (children, families, people outside the service) or `internal` (colleagues, partners)"
    )
    service_area: ServiceArea
    team: Label
    received_at: Timestamp = Field(description="date (midnight London) or date and time")
    summary: str | None = Field(
        default=None,
        description=f"at most {MAX_SUMMARY} characters; published in the event, so no child's "
        "name and no contact details",
    )

    summary_shareable: bool = Field(
        default=False,
        description="true when the person who gave the compliment agreed that its summary may be shared "
        "(the quarterly report's good-practice page); needs a summary",
    )

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() else published_text(v, MAX_SUMMARY)

    @field_validator("summary_shareable")
    @classmethod
    def _shareable_needs_summary(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("summary") is None:
            raise ValueError("there is no summary to share")
        return v


class PublishYouSaidWeDid(BaseModel):
    """A "you said, we did" item: what children and families said, and what changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: RecordId | None = Field(default=None, description="your id for it (a retry with the same id adds nothing)")
    service_area: ServiceArea
    theme: Label = Field(
        description="what it is about: usually the question's `reported_as` id, e.g. "
        "`easy_to_contact_case_worker`, which closes that question's feedback-response follow-up"
    )
    you_said: str = Field(description="what children and families said (published)")
    we_did: str = Field(description="what the service changed (published)")
    feedback_ids: list[RecordId] = Field(default_factory=list, description="ids of the survey responses it answers")
    action_id: RecordId | None = Field(default=None, description="the action that did it")
    published_at: Timestamp | None = Field(default=None, description="default: now")

    @field_validator("you_said", "we_did")
    @classmethod
    def _text(cls, v: str) -> str:
        return published_text(v, MAX_YOU_SAID_WE_DID)

    @field_validator("feedback_ids")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))
