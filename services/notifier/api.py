"""The notifier's HTTP routes (port 8005): the recipient directory and what operations staff
need to see — notices of follow-ups with nobody to tell, held, refused. Each answers for the
token's tenant (`Principal.tenant`), like reporting: the notifier serves every tenant on the
bus, and one tenant's admin sees and changes only that tenant's rows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.notifier import handlers
from services.notifier.commands import ImportRecipients
from services.notifier.domain import Notice, Outcome, Transition
from shared.auth import Principal, require
from shared.errors import Invalid
from shared.service import unit_of_work

router = APIRouter(prefix="/v1", tags=["notifier"])

Admin = Annotated[Principal, Depends(require("notifier:admin"))]
Operator = Annotated[Principal, Depends(require("notifier:admin", "ops:admin"))]
UoW = Annotated[Any, Depends(unit_of_work)]


class DirectoryLoaded(BaseModel):
    tenant: str
    entries: int


class NoticeView(BaseModel):
    followup_id: str
    transition: Transition
    address: str
    status: Outcome
    role: str | None
    reason: str | None
    channel: str | None
    due_date: date
    days_overdue: int
    digest_day: date | None

    @classmethod
    def of(cls, notice: Notice) -> NoticeView:
        return cls.model_validate(notice, from_attributes=True)


@router.put(
    "/recipients",
    summary="Replace the tenant's recipient directory (CSV: kind,id,email[,delivery])",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_recipients(request: Request, principal: Admin, uow: UoW) -> DirectoryLoaded:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the CSV is not UTF-8 text", "body") from None
    count = await handlers.import_recipients(uow, principal.tenant, ImportRecipients.from_csv(text))
    return DirectoryLoaded(tenant=principal.tenant, entries=count)


@router.get("/notices", summary="Notices recorded, newest first (status: nobody, held, refused, …)")
async def list_notices(
    principal: Operator,
    uow: UoW,
    status: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[NoticeView]:
    notices = await handlers.list_notices(uow, principal.tenant, status, limit)
    return [NoticeView.of(n) for n in notices]
