"""Where feedback keeps its records: a repository Protocol per record kind, its PostgreSQL
adapter (asyncpg SQL on this strand's schema only), and the unit of work the handlers see
(`FeedbackUnitOfWork`) with `PostgresFeedbackUnitOfWork`, which binds the repositories — and
the shared actions — to one transaction. `tests/fakes/feedback.py` is the in-memory twin;
`tests/support/contracts_feedback.py` runs one suite against both."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import asyncpg

from services.feedback.domain import AnswerType
from services.feedback.domain.compliments import Compliment
from services.feedback.domain.responses import Answer, AnswerValue, SurveyResponse
from services.feedback.domain.surveys import SurveyQuestion, SurveyVersion
from services.feedback.domain.tallies import AnswerCounts
from services.feedback.domain.you_said_we_did import YouSaidWeDid
from shared.actions.store import ActionRepository, PostgresActions
from shared.events import ComplimentOrigin, Respondent
from shared.uow import PostgresUnitOfWork, UnitOfWork

LISTED = 500  # the most compliments or "you said, we did" items one listing returns

# --------------------------------------------------------------------------- the Protocols


class SurveyRepository(Protocol):
    async def lock(self, survey_id: str) -> None:
        """Serialise publications of one survey (until the unit of work ends)."""

    async def add(self, survey: SurveyVersion, *, published_by: str) -> None: ...

    async def get(self, survey_id: str, version: int | None = None) -> SurveyVersion | None:
        """One version, or the latest when `version` is None."""

    async def history(self, survey_id: str) -> list[SurveyVersion]:
        """Every version, oldest first."""

    async def latest(self, *, service_area: str | None = None) -> list[SurveyVersion]:
        """Each survey's latest version (of one service area), by survey id."""


class ResponseRepository(Protocol):
    async def add(self, response: SurveyResponse, *, recorded_by: str) -> bool:
        """Store a new response with its answers; False (nothing stored) when its id is taken."""

    async def get(self, response_id: str) -> SurveyResponse | None: ...

    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]:
        """The fingerprints of those of `response_ids` that are recorded."""

    async def service_areas(self, response_ids: Sequence[str]) -> dict[str, str]:
        """The service areas of those of `response_ids` that are recorded."""

    async def answer_counts(self, survey_id: str, start: date | None, end: date | None) -> AnswerCounts:
        """Responses to the survey received (London date) in [start, end], and their answers
        per `reported_as` question and value."""


class ComplimentRepository(Protocol):
    async def add(self, compliment: Compliment, *, recorded_by: str) -> bool:
        """Store a new compliment; False (nothing stored) when its id is taken."""

    async def get(self, compliment_id: str) -> Compliment | None: ...

    async def find(
        self,
        *,
        service_area: str | None = None,
        origin: ComplimentOrigin | None = None,
        team: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[Compliment]:
        """Received (London date) in [start, end], newest first; at most `LISTED`."""


class YouSaidWeDidRepository(Protocol):
    async def add(self, item: YouSaidWeDid, *, recorded_by: str) -> bool:
        """Store a new item; False (nothing stored) when its id is taken."""

    async def get(self, item_id: str) -> YouSaidWeDid | None: ...

    async def find(self, *, service_area: str | None = None, theme: str | None = None) -> list[YouSaidWeDid]:
        """Newest first; at most `LISTED`."""


class FeedbackUnitOfWork(UnitOfWork, Protocol):
    """What the feedback handlers see: one transaction over these repositories."""

    surveys: SurveyRepository
    responses: ResponseRepository
    compliments: ComplimentRepository
    you_said_we_did: YouSaidWeDidRepository
    actions: ActionRepository


class PostgresFeedbackUnitOfWork(PostgresUnitOfWork):
    surveys: SurveyRepository
    responses: ResponseRepository
    compliments: ComplimentRepository
    you_said_we_did: YouSaidWeDidRepository
    actions: ActionRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        schema = self.service.schema
        self.surveys = PostgresSurveys(conn, schema)
        self.responses = PostgresResponses(conn, schema)
        self.compliments = PostgresCompliments(conn, schema)
        self.you_said_we_did = PostgresYouSaidWeDid(conn, schema)
        self.actions = PostgresActions(conn, schema)


# --------------------------------------------------------------------------- surveys


class PostgresSurveys:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def lock(self, survey_id: str) -> None:
        key = f"qaloop-{self.schema}-survey:{survey_id}"
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)

    async def add(self, survey: SurveyVersion, *, published_by: str) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.schema}.surveys
                    (survey_id, version, title, service_area, respondents, published_at, published_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            survey.survey_id,
            survey.version,
            survey.title,
            survey.service_area,
            [r.value for r in survey.respondents],
            survey.published_at,
            published_by,
        )
        await self.conn.executemany(
            f"""INSERT INTO {self.schema}.survey_questions (survey_id, version, position, question_id,
                    wording, answer_type, safeguarding, reported_as)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            [
                (
                    survey.survey_id,
                    survey.version,
                    position,
                    q.question_id,
                    q.wording,
                    q.answer_type.value,
                    q.safeguarding,
                    q.reported_as,
                )
                for position, q in enumerate(survey.questions, start=1)
            ],
        )

    async def get(self, survey_id: str, version: int | None = None) -> SurveyVersion | None:
        found = await self._versions(survey_id=survey_id, version=version, latest_only=version is None)
        return found[0] if found else None

    async def history(self, survey_id: str) -> list[SurveyVersion]:
        return await self._versions(survey_id=survey_id)

    async def latest(self, *, service_area: str | None = None) -> list[SurveyVersion]:
        return await self._versions(service_area=service_area, latest_only=True)

    async def _versions(
        self,
        *,
        survey_id: str | None = None,
        version: int | None = None,
        service_area: str | None = None,
        latest_only: bool = False,
    ) -> list[SurveyVersion]:
        """Survey versions, oldest first per survey, filtered as asked."""
        rows = await self.conn.fetch(
            f"""SELECT s.* FROM {self.schema}.surveys s
                WHERE ($1::text IS NULL OR s.survey_id = $1)
                  AND ($2::int IS NULL OR s.version = $2)
                  AND ($3::text IS NULL OR s.service_area = $3)
                  AND (NOT $4 OR s.version = (SELECT max(version) FROM {self.schema}.surveys l
                                              WHERE l.survey_id = s.survey_id))
                ORDER BY s.survey_id, s.version""",
            survey_id,
            version,
            service_area,
            latest_only,
        )
        if not rows:
            return []
        questions = await self._questions([(r["survey_id"], r["version"]) for r in rows])
        return [
            SurveyVersion(
                survey_id=r["survey_id"],
                version=r["version"],
                title=r["title"],
                service_area=r["service_area"],
                respondents=tuple(Respondent(x) for x in r["respondents"]),
                questions=tuple(questions.get((r["survey_id"], r["version"]), [])),
                published_at=r["published_at"],
            )
            for r in rows
        ]

    async def _questions(self, versions: list[tuple[str, int]]) -> dict[tuple[str, int], list[SurveyQuestion]]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.schema}.survey_questions
                WHERE (survey_id, version) IN (SELECT * FROM unnest($1::text[], $2::int[]))
                ORDER BY survey_id, version, position""",
            [survey_id for survey_id, _ in versions],
            [version for _, version in versions],
        )
        by_version: dict[tuple[str, int], list[SurveyQuestion]] = {}
        for q in rows:
            by_version.setdefault((q["survey_id"], q["version"]), []).append(_question(q))
        return by_version


def _question(row: asyncpg.Record) -> SurveyQuestion:
    return SurveyQuestion(
        question_id=row["question_id"],
        wording=row["wording"],
        answer_type=AnswerType(row["answer_type"]),
        safeguarding=row["safeguarding"],
        reported_as=row["reported_as"],
    )


# --------------------------------------------------------------------------- responses


class PostgresResponses:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def add(self, response: SurveyResponse, *, recorded_by: str) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.schema}.responses (response_id, survey_id, survey_version, service_area,
                    team, respondent, channel, received_at, fingerprint, source, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (response_id) DO NOTHING
                RETURNING true""",
            response.response_id,
            response.survey_id,
            response.survey_version,
            response.service_area,
            response.team,
            response.respondent.value,
            response.channel,
            response.received_at,
            response.fingerprint,
            response.source,
            recorded_by,
        )
        if not inserted:
            return False
        await self.conn.executemany(
            f"""INSERT INTO {self.schema}.answers
                    (response_id, survey_id, survey_version, question_id, value, free_text)
                VALUES ($1, $2, $3, $4, $5, $6)""",
            [
                (
                    response.response_id,
                    response.survey_id,
                    response.survey_version,
                    a.question.question_id,
                    None if a.is_free_text else str(a.value),
                    str(a.value) if a.is_free_text else None,
                )
                for a in response.answers
            ],
        )
        return True

    async def get(self, response_id: str) -> SurveyResponse | None:
        row = await self.conn.fetchrow(f"SELECT * FROM {self.schema}.responses WHERE response_id = $1", response_id)
        if row is None:
            return None
        answers = await self.conn.fetch(
            f"""SELECT q.*, a.value, a.free_text
                FROM {self.schema}.answers a
                JOIN {self.schema}.survey_questions q
                  ON q.survey_id = a.survey_id AND q.version = a.survey_version
                 AND q.question_id = a.question_id
                WHERE a.response_id = $1
                ORDER BY q.position""",
            response_id,
        )
        return SurveyResponse(
            response_id=row["response_id"],
            survey_id=row["survey_id"],
            survey_version=row["survey_version"],
            service_area=row["service_area"],
            respondent=Respondent(row["respondent"]),
            team=row["team"],
            channel=row["channel"],
            received_at=row["received_at"],
            answers=tuple(_answer(a) for a in answers),
            source=row["source"],
        )

    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.conn.fetch(
            f"SELECT response_id, fingerprint FROM {self.schema}.responses WHERE response_id = ANY($1::text[])",
            list(response_ids),
        )
        return {r["response_id"]: r["fingerprint"] for r in rows}

    async def service_areas(self, response_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.conn.fetch(
            f"SELECT response_id, service_area FROM {self.schema}.responses WHERE response_id = ANY($1::text[])",
            list(response_ids),
        )
        return {r["response_id"]: r["service_area"] for r in rows}

    async def answer_counts(self, survey_id: str, start: date | None, end: date | None) -> AnswerCounts:
        where = """r.survey_id = $1
            AND ($2::date IS NULL OR (r.received_at AT TIME ZONE 'Europe/London')::date >= $2)
            AND ($3::date IS NULL OR (r.received_at AT TIME ZONE 'Europe/London')::date <= $3)"""
        responses = await self.conn.fetchval(
            f"SELECT count(*) FROM {self.schema}.responses r WHERE {where}", survey_id, start, end
        )
        rows = await self.conn.fetch(
            f"""SELECT q.reported_as, coalesce(a.value, 'text') AS value, count(*) AS n
                FROM {self.schema}.answers a
                JOIN {self.schema}.responses r USING (response_id)
                JOIN {self.schema}.survey_questions q
                  ON q.survey_id = a.survey_id AND q.version = a.survey_version
                 AND q.question_id = a.question_id
                WHERE {where}
                GROUP BY 1, 2""",
            survey_id,
            start,
            end,
        )
        counts: dict[str, dict[str, int]] = {}
        for c in rows:
            counts.setdefault(c["reported_as"], {})[c["value"]] = int(c["n"])
        return AnswerCounts(int(responses), counts)


def _answer(row: asyncpg.Record) -> Answer:
    question = _question(row)
    value: AnswerValue = row["value"]
    if question.answer_type is AnswerType.FREE_TEXT:
        value = row["free_text"]
    elif question.answer_type is AnswerType.SCALE_1_5:
        value = int(row["value"])
    return Answer(question, value)


# --------------------------------------------------------------------------- compliments


class PostgresCompliments:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def add(self, compliment: Compliment, *, recorded_by: str) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.schema}.compliments (compliment_id, origin, service_area, team, received_at,
                    summary, fingerprint, recorded_by, summary_shareable)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (compliment_id) DO NOTHING
                RETURNING true""",
            compliment.compliment_id,
            compliment.origin.value,
            compliment.service_area,
            compliment.team,
            compliment.received_at,
            compliment.summary,
            compliment.fingerprint,
            recorded_by,
            compliment.summary_shareable,
        )
        return bool(inserted)

    async def get(self, compliment_id: str) -> Compliment | None:
        row = await self.conn.fetchrow(
            f"SELECT * FROM {self.schema}.compliments WHERE compliment_id = $1", compliment_id
        )
        return None if row is None else _compliment(row)

    async def find(
        self,
        *,
        service_area: str | None = None,
        origin: ComplimentOrigin | None = None,
        team: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[Compliment]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.schema}.compliments
                WHERE ($1::text IS NULL OR service_area = $1)
                  AND ($2::text IS NULL OR origin = $2)
                  AND ($3::text IS NULL OR team = $3)
                  AND ($4::date IS NULL OR (received_at AT TIME ZONE 'Europe/London')::date >= $4)
                  AND ($5::date IS NULL OR (received_at AT TIME ZONE 'Europe/London')::date <= $5)
                ORDER BY received_at DESC, compliment_id
                LIMIT $6""",
            service_area,
            None if origin is None else origin.value,
            team,
            start,
            end,
            LISTED,
        )
        return [_compliment(r) for r in rows]


def _compliment(row: asyncpg.Record) -> Compliment:
    return Compliment(
        compliment_id=row["compliment_id"],
        origin=ComplimentOrigin(row["origin"]),
        service_area=row["service_area"],
        team=row["team"],
        received_at=row["received_at"],
        summary=row["summary"],
        summary_shareable=row["summary_shareable"],
    )


# --------------------------------------------------------------------------- you said, we did


class PostgresYouSaidWeDid:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    async def add(self, item: YouSaidWeDid, *, recorded_by: str) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.schema}.you_said_we_did (item_id, service_area, theme, you_said, we_did,
                    feedback_ids, action_id, published_at, fingerprint, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (item_id) DO NOTHING
                RETURNING true""",
            item.item_id,
            item.service_area,
            item.theme,
            item.you_said,
            item.we_did,
            list(item.feedback_ids),
            item.action_id,
            item.published_at,
            item.fingerprint,
            recorded_by,
        )
        return bool(inserted)

    async def get(self, item_id: str) -> YouSaidWeDid | None:
        row = await self.conn.fetchrow(f"SELECT * FROM {self.schema}.you_said_we_did WHERE item_id = $1", item_id)
        return None if row is None else _you_said_we_did(row)

    async def find(self, *, service_area: str | None = None, theme: str | None = None) -> list[YouSaidWeDid]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.schema}.you_said_we_did
                WHERE ($1::text IS NULL OR service_area = $1)
                  AND ($2::text IS NULL OR theme = $2)
                ORDER BY published_at DESC, item_id
                LIMIT $3""",
            service_area,
            theme,
            LISTED,
        )
        return [_you_said_we_did(r) for r in rows]


def _you_said_we_did(row: asyncpg.Record) -> YouSaidWeDid:
    return YouSaidWeDid(
        item_id=row["item_id"],
        service_area=row["service_area"],
        theme=row["theme"],
        you_said=row["you_said"],
        we_did=row["we_did"],
        feedback_ids=tuple(row["feedback_ids"]),
        action_id=row["action_id"],
        published_at=row["published_at"],
    )
