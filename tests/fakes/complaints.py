"""The complaints service's in-memory unit of work (services/complaints/store.py's twin):
the same repositories and Protocol, each record copied in and out as the database would."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.complaints.domain import CaseSubjects, Complaint, HistoryEntry, Learning, PrivateDetails, Rules
from services.complaints.store import (
    ComplaintQuery,
    ComplaintRepository,
    HistoryRepository,
    LearningRepository,
    record_in_history,
)
from shared.actions.store import ActionRepository
from shared.calendar import default_calendar
from shared.complaint_timescales import Timescales
from shared.events import CloudEvent
from shared.uow import Clock, Emitted
from tests.fakes.actions import FakeActions
from tests.fakes.uow import NOW, FakeUnitOfWork

SUBJECTS = CaseSubjects("a pseudonym key for the unit tests, not a secret")


@dataclass
class FakeComplaints:
    rows: dict[str, Complaint] = field(default_factory=dict)
    private: dict[str, PrivateDetails] = field(default_factory=dict)

    async def add(self, complaint: Complaint, private: PrivateDetails) -> bool:
        if complaint.complaint_id in self.rows:
            return False
        self.rows[complaint.complaint_id] = copy.deepcopy(complaint)
        self.private[complaint.complaint_id] = private
        return True

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Complaint | None:
        return copy.deepcopy(self.rows.get(complaint_id))

    async def save(self, complaint: Complaint) -> None:
        self.rows[complaint.complaint_id] = copy.deepcopy(complaint)

    async def find(self, query: ComplaintQuery) -> list[Complaint]:
        def order(c: Complaint) -> tuple[Any, ...]:
            due = c.open_due_date
            return (due is None, due, c.received_at, c.complaint_id)  # due dates first, none last

        found = sorted((c for c in self.rows.values() if query.matches(c)), key=order)
        return copy.deepcopy(found[query.offset : query.offset + query.limit])

    async def private_details(self, complaint_id: str) -> PrivateDetails | None:
        return self.private.get(complaint_id)


@dataclass
class FakeLearning:
    rows: dict[str, Learning] = field(default_factory=dict)

    async def add(self, learning: Learning) -> bool:
        if learning.learning_id in self.rows:
            return False
        self.rows[learning.learning_id] = learning
        return True

    async def get(self, learning_id: str) -> Learning | None:
        return self.rows.get(learning_id)

    async def of_complaint(self, complaint_id: str) -> list[Learning]:
        return sorted(
            (r for r in self.rows.values() if r.complaint_id == complaint_id),
            key=lambda r: (r.identified_at, r.learning_id),
        )


@dataclass
class FakeHistory:
    clock: Clock
    rows: list[tuple[str, HistoryEntry]] = field(default_factory=list)

    async def add(
        self, complaint_id: str, *, kind: str, data: dict[str, Any], event_id: str | None, actor: str | None
    ) -> None:
        self.rows.append((complaint_id, HistoryEntry(kind, event_id, copy.deepcopy(data), actor, self.clock())))

    async def of_complaint(self, complaint_id: str) -> list[HistoryEntry]:
        return [entry for cid, entry in self.rows if cid == complaint_id]


class FakeComplaintsUnitOfWork(FakeUnitOfWork):
    """services.complaints.store.ComplaintsUnitOfWork in memory: the default timescales on
    the England and Wales calendar, and a test pseudonym key."""

    repositories = ("complaints", "learning", "history", "actions")
    complaints: ComplaintRepository
    learning: LearningRepository
    history: HistoryRepository
    actions: ActionRepository

    def __init__(self, rules: Rules | None = None, now: datetime = NOW) -> None:
        super().__init__(now)
        self.rules = rules or Rules(Timescales(), default_calendar())
        self.subjects = SUBJECTS
        self.complaints = FakeComplaints()
        self.learning = FakeLearning()
        self.history = FakeHistory(lambda: self.now())  # a function: snapshots copy it as it is
        self.actions = FakeActions()

    async def recorded(self, event: CloudEvent, emitted: Emitted) -> None:
        await record_in_history(self, event, emitted)
