"""The in-memory workforce repositories and unit of work (services/workforce/store.py's
twins): the same Protocols, so the handlers run on them in milliseconds. The store contract
suite (tests/support/contracts_workforce.py) runs against these and against PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from services.workforce.domain.staff import Caseload, Vacancy, Worker
from services.workforce.domain.surveys import StaffResponse, StaffSurvey
from services.workforce.store import LISTED
from shared.pseudonym import pseudonymise
from tests.fakes.actions import FakeActions
from tests.fakes.uow import NOW, FakeUnitOfWork

FAKE_PSEUDONYM_KEY = "workforce-fake-key"


@dataclass
class FakeWorkers:
    workers: dict[str, Worker] = field(default_factory=dict)
    history: list[tuple[str, str, datetime | None, str]] = field(default_factory=list)  # (id, kind, at, by)

    async def get(self, worker_id: str, *, for_update: bool = False) -> Worker | None:
        return self.workers.get(worker_id)

    async def save(self, worker: Worker, *, kind: str, by: str) -> None:
        self.workers[worker.worker_id] = worker
        self.history.append((worker.worker_id, kind, worker.last_at, by))

    async def in_post(self, *, team: str | None = None, service_area: str | None = None) -> list[Worker]:
        found = [
            w
            for w in self.workers.values()
            if w.post is not None
            and (team is None or w.post.team == team)
            and (service_area is None or w.post.service_area == service_area)
        ]
        return sorted(found, key=lambda w: w.worker_id)[:LISTED]


@dataclass
class FakeVacancies:
    records: dict[tuple[str, date], Vacancy] = field(default_factory=dict)

    async def get(self, team: str, as_of: date) -> Vacancy | None:
        return self.records.get((team, as_of))

    async def save(self, vacancy: Vacancy, *, by: str) -> None:
        self.records[(vacancy.team, vacancy.as_of)] = vacancy

    async def latest(self, *, service_area: str | None = None) -> list[Vacancy]:
        latest: dict[str, Vacancy] = {}
        for v in self.records.values():
            if v.team not in latest or v.as_of > latest[v.team].as_of:
                latest[v.team] = v
        found = [v for t, v in sorted(latest.items()) if service_area is None or v.service_area == service_area]
        return found[:LISTED]


@dataclass
class FakeCaseloads:
    records: dict[tuple[str, date], Caseload] = field(default_factory=dict)

    async def get(self, worker_id: str, as_of: date) -> Caseload | None:
        return self.records.get((worker_id, as_of))

    async def save(self, caseload: Caseload, *, by: str) -> None:
        self.records[(caseload.worker_id, caseload.as_of)] = caseload


@dataclass
class FakeStaffSurveys:
    versions: dict[str, list[StaffSurvey]] = field(default_factory=dict)

    async def lock(self, survey_id: str) -> None:
        """One unit of work at a time: nothing to serialise."""

    async def add(self, survey: StaffSurvey, *, by: str) -> None:
        history = self.versions.setdefault(survey.survey_id, [])
        if any(v.version == survey.version for v in history):
            raise AssertionError("a survey version is stored twice (a primary key violation)")
        history.append(survey)

    async def get(self, survey_id: str, version: int | None = None) -> StaffSurvey | None:
        history = await self.history(survey_id)
        if version is None:
            return history[-1] if history else None
        return next((v for v in history if v.version == version), None)

    async def history(self, survey_id: str) -> list[StaffSurvey]:
        return sorted(self.versions.get(survey_id, []), key=lambda v: v.version)


@dataclass
class FakeStaffResponses:
    responses: dict[str, StaffResponse] = field(default_factory=dict)

    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.responses[i].fingerprint for i in response_ids if i in self.responses}

    async def add(self, response: StaffResponse, *, by: str) -> bool:
        if response.response_id in self.responses:
            return False
        self.responses[response.response_id] = response
        return True


class FakeWorkforceUnitOfWork(FakeUnitOfWork):
    """services.workforce.store.WorkforceUnitOfWork, in memory."""

    repositories = ("workers", "vacancies", "caseloads", "surveys", "responses", "actions")

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.workers = FakeWorkers()
        self.vacancies = FakeVacancies()
        self.caseloads = FakeCaseloads()
        self.surveys = FakeStaffSurveys()
        self.responses = FakeStaffResponses()
        self.actions = FakeActions()

    def pseudonym(self, worker_ref: str) -> str:
        return pseudonymise(worker_ref, FAKE_PSEUDONYM_KEY)
