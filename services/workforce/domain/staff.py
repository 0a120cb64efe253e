"""A worker's record in post, and what joining, changing and leaving publish; vacancies and
caseload snapshots. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from shared.errors import Conflict, Invalid
from shared.events import (
    CaseloadRecorded,
    Contract,
    LeavingReason,
    StaffJoined,
    StaffLeft,
    StaffRole,
    VacancyRecorded,
)


@dataclass(frozen=True)
class Post:
    """What a record says about a worker's post."""

    team: str
    service_area: str
    role: StaffRole
    contract: Contract
    fte: float
    case_holding: bool


@dataclass(frozen=True)
class Worker:
    """A worker (by pseudonym) as the strand knows them: the record in post, if any, and the
    latest time anything was recorded (nothing may be dated before it)."""

    worker_id: str
    post: Post | None = None  # None: not in post (never joined, or left)
    since: datetime | None = None  # when the record in post started
    last_at: datetime | None = None
    left_at: datetime | None = None
    leaving_reason: LeavingReason | None = None

    @property
    def in_post(self) -> bool:
        return self.post is not None

    def _not_before_last(self, at: datetime, field: str) -> None:
        if self.last_at is not None and at < self.last_at:
            raise Invalid(
                f"{at.isoformat()} is before this worker's latest recorded change ({self.last_at.isoformat()}); "
                "a worker's history is recorded in order",
                field,
            )

    def join(self, post: Post, joined_at: datetime) -> tuple[Worker, StaffJoined | None]:
        """A joiner, or (in post) a changed record from `joined_at`; (worker, None) when the
        record in post is already this one (a retry)."""
        if self.post == post:
            return self, None
        self._not_before_last(joined_at, "joined_at")
        event = StaffJoined(
            worker_id=self.worker_id,
            team=post.team,
            service_area=post.service_area,
            role=post.role,
            contract=post.contract,
            fte=post.fte,
            case_holding=post.case_holding,
            joined_at=joined_at,
        )
        return replace(self, post=post, since=joined_at, last_at=joined_at, left_at=None, leaving_reason=None), event

    def leave(self, left_at: datetime, reason: LeavingReason) -> tuple[Worker, StaffLeft | None]:
        """A leaver; (worker, None) when this leave is already recorded (a retry)."""
        if self.post is None:
            if self.left_at == left_at and self.leaving_reason == reason:
                return self, None
            raise Conflict("this worker is not in post: there is nothing to leave")
        self._not_before_last(left_at, "left_at")
        event = StaffLeft(worker_id=self.worker_id, left_at=left_at, reason=reason)
        return replace(self, post=None, since=None, last_at=left_at, left_at=left_at, leaving_reason=reason), event


@dataclass(frozen=True)
class Vacancy:
    """A team's vacant FTE as of a day."""

    team: str
    service_area: str
    vacant_fte: float
    as_of: date

    def recorded_event(self) -> VacancyRecorded:
        return VacancyRecorded(
            team=self.team, service_area=self.service_area, vacant_fte=self.vacant_fte, as_of=self.as_of
        )


@dataclass(frozen=True)
class Caseload:
    """The cases a worker holds as of a day."""

    worker_id: str
    cases: int
    as_of: date

    def recorded_event(self) -> CaseloadRecorded:
        return CaseloadRecorded(worker_id=self.worker_id, cases=self.cases, as_of=self.as_of)


def check_caseload(worker: Worker | None, cases: int, as_of: date, today: date) -> None:
    """A caseload is recorded for a known worker, not in the future."""
    if worker is None:
        raise Invalid("no such worker: record the joiner first", "worker_ref")
    if as_of > today:
        raise Invalid(f"{as_of.isoformat()} is in the future", "as_of")
    if cases < 0:
        raise Invalid("must be 0 or more", "cases")
