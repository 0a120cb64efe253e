"""What the complaints service is asked to do: one request model each, validated before any
rule runs (a malformed or misspelt field is a 422 naming it). Pure: no I/O.

A time left out is the service's clock at the moment the request is handled (the unit of
work's ``now``); a time given back-dates the fact. Actions on a complaint are raised and
completed with the shared requests (``shared.actions.domain.RaiseAction`` / ``CompleteAction``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.complaints.domain import ExtensionReason
from shared.bounds import InCalendar, NoNul, text
from shared.events import Complainant, Day, Identifier, OmbudsmanFinding, Procedure, ServiceArea, Timestamp

Text = Annotated[str, text(4000, 1)]
ShortText = Annotated[str, text(500, 1)]
# What a request may carry (shared.bounds): identifiers without NUL, times and days the
# working-day calendar covers.
Id = Annotated[Identifier, NoNul]
At = Annotated[Timestamp, InCalendar]
OnDay = Annotated[Day, InCalendar]
NOW_WHEN_ABSENT = "the service's clock when absent"


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # a misspelt field is a 422, not ignored


class ReceiveComplaint(Command):
    complaint_id: Id | None = Field(None, description="generated when absent")
    procedure: Procedure
    stage: int = Field(1, ge=1, le=3, description="1, or straight into a later stage")
    category: Id
    team: Id
    service_area: ServiceArea
    complainant: Complainant
    received_at: At | None = Field(None, description=NOW_WHEN_ABSENT)
    case_ref: ShortText | None = Field(None, description="the case it concerns; stays here (events carry a pseudonym)")
    complainant_name: ShortText | None = Field(None, description="stays in this service")
    complainant_contact: ShortText | None = Field(None, description="stays in this service")


class AcknowledgeComplaint(Command):
    acknowledged_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class ExtendComplaint(Command):
    new_due_date: OnDay | None = Field(None, description="the new due date, a working day")
    extend_by_working_days: int | None = Field(
        None, ge=1, le=65, description="or: this many working days after the current due date"
    )
    reason: ExtensionReason
    note: Text | None = Field(None, description="the officer's words; stay in this service")
    extended_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class AgreeStatement(Command):
    agreed_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class HoldPanel(Command):
    held_at: At | None = Field(None, description="when the stage-3 review panel met; " + NOW_WHEN_ABSENT)


class ReferToOmbudsman(Command):
    referred_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class RecordOmbudsmanDecision(Command):
    finding: OmbudsmanFinding
    decided_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class ResponsePoint(Command):
    summary: Text | None = Field(None, description="stays in this service, never in events")
    upheld: bool


class RespondToComplaint(Command):
    closed_at: At | None = Field(None, description=NOW_WHEN_ABSENT)
    points: list[ResponsePoint] = Field(min_length=1, max_length=100)


class EscalateComplaint(Command):
    escalated_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class WithdrawComplaint(Command):
    withdrawn_at: At | None = Field(None, description=NOW_WHEN_ABSENT)


class IdentifyLearning(Command):
    learning_id: Id | None = None
    summary: Text
    team: Id | None = Field(None, description="the complaint's team when absent")
    service_area: ServiceArea | None = None
    identified_at: At | None = Field(None, description=NOW_WHEN_ABSENT)
