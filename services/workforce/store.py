"""Where the workforce keeps its records: a repository Protocol per record kind, its
PostgreSQL adapter (asyncpg SQL on this strand's schema only), and the unit of work the
handlers see (`WorkforceUnitOfWork`) with `PostgresWorkforceUnitOfWork`, which binds the
repositories — and the shared actions — to one transaction. `tests/fakes/workforce.py` is the
in-memory twin; `tests/support/contracts_workforce.py` runs one suite against both."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Protocol

import asyncpg

from services.workforce.domain.staff import Caseload, Post, Vacancy, Worker
from services.workforce.domain.surveys import AnswerType, StaffQuestion, StaffResponse, StaffSurvey
from shared.actions.store import ActionRepository, PostgresActions
from shared.events import Contract, LeavingReason, StaffRole
from shared.pseudonym import pseudonymise
from shared.uow import PostgresUnitOfWork, UnitOfWork

LISTED = 1000  # the most records one listing returns

# --------------------------------------------------------------------------- the Protocols


class WorkerRepository(Protocol):
    async def get(self, worker_id: str, *, for_update: bool = False) -> Worker | None: ...

    async def save(self, worker: Worker, *, kind: str, by: str) -> None:
        """Store the worker's state and append the change (`joined` or `left`) to its history."""

    async def in_post(self, *, team: str | None = None, service_area: str | None = None) -> list[Worker]:
        """Workers in post (of a team / service area), by worker id; at most `LISTED`."""


class VacancyRepository(Protocol):
    async def get(self, team: str, as_of: date) -> Vacancy | None: ...

    async def save(self, vacancy: Vacancy, *, by: str) -> None: ...

    async def latest(self, *, service_area: str | None = None) -> list[Vacancy]:
        """Each team's latest record, by team."""


class CaseloadRepository(Protocol):
    async def get(self, worker_id: str, as_of: date) -> Caseload | None: ...

    async def save(self, caseload: Caseload, *, by: str) -> None: ...


class StaffSurveyRepository(Protocol):
    async def lock(self, survey_id: str) -> None: ...

    async def add(self, survey: StaffSurvey, *, by: str) -> None: ...

    async def get(self, survey_id: str, version: int | None = None) -> StaffSurvey | None:
        """One version, or the latest when `version` is None."""

    async def history(self, survey_id: str) -> list[StaffSurvey]:
        """Every version, oldest first."""


class StaffResponseRepository(Protocol):
    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]: ...

    async def add(self, response: StaffResponse, *, by: str) -> bool:
        """False (nothing stored) when its id is taken."""


class WorkforceUnitOfWork(UnitOfWork, Protocol):
    """What the workforce handlers see: one transaction over these repositories."""

    workers: WorkerRepository
    vacancies: VacancyRepository
    caseloads: CaseloadRepository
    surveys: StaffSurveyRepository
    responses: StaffResponseRepository
    actions: ActionRepository

    def pseudonym(self, worker_ref: str) -> str:
        """The worker's pseudonym (the HR reference never leaves the service)."""


class PostgresWorkforceUnitOfWork(PostgresUnitOfWork):
    workers: WorkerRepository
    vacancies: VacancyRepository
    caseloads: CaseloadRepository
    surveys: StaffSurveyRepository
    responses: StaffResponseRepository
    actions: ActionRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        schema = self.service.schema
        self.workers = PostgresWorkers(conn, schema)
        self.vacancies = PostgresVacancies(conn, schema)
        self.caseloads = PostgresCaseloads(conn, schema)
        self.surveys = PostgresStaffSurveys(conn, schema)
        self.responses = PostgresStaffResponses(conn, schema)
        self.actions = PostgresActions(conn, schema)

    def pseudonym(self, worker_ref: str) -> str:
        settings = self.service.settings
        return pseudonymise(worker_ref, settings.pseudonym_key.get_secret_value(), settings.pseudonym_key_id)


# --------------------------------------------------------------------------- workers


class PostgresWorkers:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def get(self, worker_id: str, *, for_update: bool = False) -> Worker | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT * FROM {self.schema}.workers WHERE worker_id = $1{lock}", worker_id)
        return None if row is None else _worker(row)

    async def save(self, worker: Worker, *, kind: str, by: str) -> None:
        p = worker.post
        values = (
            worker.worker_id,
            p.team if p else None,
            p.service_area if p else None,
            p.role.value if p else None,
            p.contract.value if p else None,
            p.fte if p else None,
            p.case_holding if p else None,
            worker.since,
            worker.last_at,
            worker.left_at,
            worker.leaving_reason.value if worker.leaving_reason else None,
            by,
        )
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.workers (worker_id, team, service_area, role, contract, fte,
                    case_holding, since, last_at, left_at, leaving_reason, updated_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (worker_id) DO UPDATE SET team = $2, service_area = $3, role = $4, contract = $5,
                    fte = $6, case_holding = $7, since = $8, last_at = $9, left_at = $10, leaving_reason = $11,
                    updated_by = $12""",
            *values,
        )
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.staff_history (worker_id, kind, at, team, service_area, role, contract,
                    fte, case_holding, reason, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            worker.worker_id,
            kind,
            worker.last_at,
            *values[1:7],
            values[10],
            by,
        )

    async def in_post(self, *, team: str | None = None, service_area: str | None = None) -> list[Worker]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.schema}.workers WHERE team IS NOT NULL
                  AND ($1::text IS NULL OR team = $1) AND ($2::text IS NULL OR service_area = $2)
                ORDER BY worker_id LIMIT $3""",
            team,
            service_area,
            LISTED,
        )
        return [_worker(r) for r in rows]


def _worker(row: asyncpg.Record) -> Worker:
    post = None
    if row["team"] is not None:
        post = Post(
            team=row["team"],
            service_area=row["service_area"],
            role=StaffRole(row["role"]),
            contract=Contract(row["contract"]),
            fte=float(row["fte"]),
            case_holding=row["case_holding"],
        )
    reason = row["leaving_reason"]
    return Worker(
        worker_id=row["worker_id"],
        post=post,
        since=row["since"],
        last_at=row["last_at"],
        left_at=row["left_at"],
        leaving_reason=LeavingReason(reason) if reason else None,
    )


# --------------------------------------------------------------------------- vacancies and caseloads


class PostgresVacancies:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def get(self, team: str, as_of: date) -> Vacancy | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.schema}.vacancies WHERE team = $1 AND as_of = $2", team, as_of
        )
        return None if row is None else _vacancy(row)

    async def save(self, vacancy: Vacancy, *, by: str) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.vacancies (team, as_of, service_area, vacant_fte, recorded_by)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (team, as_of) DO UPDATE SET service_area = $3, vacant_fte = $4, recorded_by = $5,
                    recorded_at = now()""",
            vacancy.team,
            vacancy.as_of,
            vacancy.service_area,
            vacancy.vacant_fte,
            by,
        )

    async def latest(self, *, service_area: str | None = None) -> list[Vacancy]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM (SELECT DISTINCT ON (team) * FROM {self.schema}.vacancies ORDER BY team, as_of DESC) v
                WHERE $1::text IS NULL OR service_area = $1 ORDER BY team LIMIT $2""",
            service_area,
            LISTED,
        )
        return [_vacancy(r) for r in rows]


def _vacancy(row: asyncpg.Record) -> Vacancy:
    return Vacancy(row["team"], row["service_area"], float(row["vacant_fte"]), row["as_of"])


class PostgresCaseloads:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def get(self, worker_id: str, as_of: date) -> Caseload | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.schema}.caseloads WHERE worker_id = $1 AND as_of = $2", worker_id, as_of
        )
        return None if row is None else Caseload(row["worker_id"], row["cases"], row["as_of"])

    async def save(self, caseload: Caseload, *, by: str) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.caseloads (worker_id, as_of, cases, recorded_by) VALUES ($1, $2, $3, $4)
                ON CONFLICT (worker_id, as_of) DO UPDATE SET cases = $3, recorded_by = $4, recorded_at = now()""",
            caseload.worker_id,
            caseload.as_of,
            caseload.cases,
            by,
        )


# --------------------------------------------------------------------------- the staff survey


class PostgresStaffSurveys:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def lock(self, survey_id: str) -> None:
        key = f"qaloop-{self.schema}-survey:{survey_id}"
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)

    async def add(self, survey: StaffSurvey, *, by: str) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.surveys (survey_id, version, title, published_at, published_by)
                VALUES ($1, $2, $3, $4, $5)""",
            survey.survey_id,
            survey.version,
            survey.title,
            survey.published_at,
            by,
        )
        await self.conn.executemany(
            f"""INSERT INTO {self.schema}.survey_questions (survey_id, version, position, question_id, wording,
                    answer_type, reported_as) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [
                (survey.survey_id, survey.version, i, q.question_id, q.wording, q.answer_type.value, q.reported_as)
                for i, q in enumerate(survey.questions, 1)
            ],
        )

    async def get(self, survey_id: str, version: int | None = None) -> StaffSurvey | None:
        found = await self.history(survey_id)
        if version is not None:
            found = [s for s in found if s.version == version]
        return found[-1] if found else None

    async def history(self, survey_id: str) -> list[StaffSurvey]:
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.schema}.surveys WHERE survey_id = $1 ORDER BY version", survey_id
        )
        questions = await self.conn.fetch(
            f"SELECT * FROM {self.schema}.survey_questions WHERE survey_id = $1 ORDER BY version, position", survey_id
        )
        by_version: dict[int, list[StaffQuestion]] = {}
        for q in questions:
            by_version.setdefault(q["version"], []).append(
                StaffQuestion(q["question_id"], q["wording"], AnswerType(q["answer_type"]), q["reported_as"])
            )
        return [
            StaffSurvey(
                r["survey_id"], r["version"], r["title"], tuple(by_version.get(r["version"], [])), r["published_at"]
            )
            for r in rows
        ]


class PostgresStaffResponses:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.conn.fetch(
            f"SELECT response_id, fingerprint FROM {self.schema}.survey_responses WHERE response_id = ANY($1::text[])",
            list(response_ids),
        )
        return {r["response_id"]: r["fingerprint"] for r in rows}

    async def add(self, response: StaffResponse, *, by: str) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.schema}.survey_responses (response_id, survey_id, survey_version, service_area,
                    team, received_at, answers, fingerprint, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
                ON CONFLICT (response_id) DO NOTHING RETURNING true""",
            response.response_id,
            response.survey_id,
            response.survey_version,
            response.service_area,
            response.team,
            response.received_at,
            json.dumps({q.question_id: v for q, v in response.answers}),
            response.fingerprint,
            by,
        )
        return bool(inserted)
