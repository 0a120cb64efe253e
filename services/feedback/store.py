"""SQL for the feedback schema (asyncpg). Every function runs on the caller's connection,
inside the caller's transaction where there is one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.feedback.domain import (
    ActionOrigin,
    ActionOriginKind,
    AnswerType,
    Compliment,
    FeedbackAction,
    QuestionTally,
    SurveyQuestion,
    SurveyResponse,
    SurveyVersion,
    YouSaidWeDid,
)
from shared.events import ComplimentOrigin, Respondent

S = "feedback"


# --------------------------------------------------------------------------- surveys


async def lock_survey(conn: asyncpg.Connection, survey_id: str) -> None:
    """Serialise publications of one survey (until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"qaloop-feedback-survey:{survey_id}")


async def insert_survey_version(conn: asyncpg.Connection, survey: SurveyVersion, published_by: str) -> None:
    await conn.execute(
        f"""INSERT INTO {S}.surveys
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
    await conn.executemany(
        f"""INSERT INTO {S}.survey_questions (survey_id, version, position, question_id, wording,
                answer_type, safeguarding, reported_as)
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


async def survey_versions(
    conn: asyncpg.Connection,
    *,
    survey_id: str | None = None,
    version: int | None = None,
    latest_only: bool = False,
    service_area: str | None = None,
) -> list[SurveyVersion]:
    """Survey versions, oldest first per survey, filtered as asked."""
    rows = await conn.fetch(
        f"""SELECT s.* FROM {S}.surveys s
            WHERE ($1::text IS NULL OR s.survey_id = $1)
              AND ($2::int IS NULL OR s.version = $2)
              AND ($3::text IS NULL OR s.service_area = $3)
              AND (NOT $4 OR s.version = (SELECT max(version) FROM {S}.surveys l
                                          WHERE l.survey_id = s.survey_id))
            ORDER BY s.survey_id, s.version""",
        survey_id,
        version,
        service_area,
        latest_only,
    )
    if not rows:
        return []
    questions = await conn.fetch(
        f"""SELECT * FROM {S}.survey_questions
            WHERE (survey_id, version) IN (SELECT * FROM unnest($1::text[], $2::int[]))
            ORDER BY survey_id, version, position""",
        [r["survey_id"] for r in rows],
        [r["version"] for r in rows],
    )
    by_version: dict[tuple[str, int], list[SurveyQuestion]] = {}
    for q in questions:
        by_version.setdefault((q["survey_id"], q["version"]), []).append(
            SurveyQuestion(
                question_id=q["question_id"],
                wording=q["wording"],
                answer_type=AnswerType(q["answer_type"]),
                safeguarding=q["safeguarding"],
                reported_as=q["reported_as"],
            )
        )
    return [
        SurveyVersion(
            survey_id=r["survey_id"],
            version=r["version"],
            title=r["title"],
            service_area=r["service_area"],
            respondents=tuple(Respondent(x) for x in r["respondents"]),
            questions=tuple(by_version.get((r["survey_id"], r["version"]), [])),
            published_at=r["published_at"],
        )
        for r in rows
    ]


async def survey_version(conn: asyncpg.Connection, survey_id: str, version: int | None = None) -> SurveyVersion | None:
    """One version, or the latest when `version` is None."""
    found = await survey_versions(conn, survey_id=survey_id, version=version, latest_only=version is None)
    return found[0] if found else None


async def question_tallies(
    conn: asyncpg.Connection, survey_id: str, start: date | None, end: date | None
) -> tuple[int, list[QuestionTally]]:
    """Responses to the survey received (London date) in [start, end], and answers per
    `reported_as` question: old and new wordings apart, unchanged wordings together."""
    where = """r.survey_id = $1
        AND ($2::date IS NULL OR (r.received_at AT TIME ZONE 'Europe/London')::date >= $2)
        AND ($3::date IS NULL OR (r.received_at AT TIME ZONE 'Europe/London')::date <= $3)"""
    responses = await conn.fetchval(f"SELECT count(*) FROM {S}.responses r WHERE {where}", survey_id, start, end)
    counts = await conn.fetch(
        f"""SELECT q.reported_as, coalesce(a.value, 'text') AS value, count(*) AS n
            FROM {S}.answers a
            JOIN {S}.responses r USING (response_id)
            JOIN {S}.survey_questions q
              ON q.survey_id = a.survey_id AND q.version = a.survey_version
             AND q.question_id = a.question_id
            WHERE {where}
            GROUP BY 1, 2""",
        survey_id,
        start,
        end,
    )
    questions = await conn.fetch(
        f"""SELECT reported_as,
                   (array_agg(question_id ORDER BY version))[1] AS question_id,
                   (array_agg(wording ORDER BY version))[1] AS wording,
                   (array_agg(answer_type ORDER BY version))[1] AS answer_type,
                   array_agg(version ORDER BY version) AS versions,
                   min(version * 1000 + position) AS first_seen
            FROM {S}.survey_questions WHERE survey_id = $1
            GROUP BY reported_as
            ORDER BY first_seen""",
        survey_id,
    )
    by_key: dict[str, dict[str, int]] = {}
    for c in counts:
        by_key.setdefault(c["reported_as"], {})[c["value"]] = int(c["n"])
    tallies = [
        QuestionTally(
            reported_as=q["reported_as"],
            question_id=q["question_id"],
            wording=q["wording"],
            answer_type=AnswerType(q["answer_type"]),
            versions=tuple(q["versions"]),
            counts=by_key.get(q["reported_as"], {}),
        )
        for q in questions
    ]
    return int(responses), tallies


# --------------------------------------------------------------------------- responses


async def response_fingerprints(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        f"SELECT response_id, fingerprint FROM {S}.responses WHERE response_id = ANY($1::text[])",
        list(ids),
    )
    return {r["response_id"]: r["fingerprint"] for r in rows}


async def insert_response(
    conn: asyncpg.Connection,
    response: SurveyResponse,
    *,
    source: str,
    recorded_by: str,
) -> bool:
    """False when the response id is already taken (nothing written)."""
    inserted = await conn.fetchval(
        f"""INSERT INTO {S}.responses (response_id, survey_id, survey_version, service_area, team,
                respondent, channel, received_at, fingerprint, source, recorded_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (response_id) DO NOTHING
            RETURNING true""",
        response.response_id,
        response.survey.survey_id,
        response.survey.version,
        response.service_area,
        response.team,
        response.respondent.value,
        response.channel,
        response.received_at,
        response.fingerprint,
        source,
        recorded_by,
    )
    if not inserted:
        return False
    await conn.executemany(
        f"""INSERT INTO {S}.answers
                (response_id, survey_id, survey_version, question_id, value, free_text)
            VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (
                response.response_id,
                response.survey.survey_id,
                response.survey.version,
                a.question.question_id,
                None if a.is_free_text else str(a.value),
                a.value if a.is_free_text else None,
            )
            for a in response.answers
        ],
    )
    return True


async def response_detail(conn: asyncpg.Connection, response_id: str) -> dict[str, Any] | None:
    """A stored response with each answer's wording in the version it answered."""
    row = await conn.fetchrow(f"SELECT * FROM {S}.responses WHERE response_id = $1", response_id)
    if row is None:
        return None
    answers = await conn.fetch(
        f"""SELECT a.question_id, q.reported_as, q.wording, q.answer_type, q.safeguarding,
                   a.value, a.free_text
            FROM {S}.answers a
            JOIN {S}.survey_questions q
              ON q.survey_id = a.survey_id AND q.version = a.survey_version
             AND q.question_id = a.question_id
            WHERE a.response_id = $1
            ORDER BY q.position""",
        response_id,
    )
    return {**dict(row), "answers": [dict(a) for a in answers]}


async def response_service_areas(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        f"SELECT response_id, service_area FROM {S}.responses WHERE response_id = ANY($1::text[])",
        list(ids),
    )
    return {r["response_id"]: r["service_area"] for r in rows}


# --------------------------------------------------------------------------- compliments


async def compliment_fingerprint(conn: asyncpg.Connection, compliment_id: str) -> str | None:
    value = await conn.fetchval(f"SELECT fingerprint FROM {S}.compliments WHERE compliment_id = $1", compliment_id)
    return str(value) if value is not None else None


async def insert_compliment(conn: asyncpg.Connection, compliment: Compliment, *, recorded_by: str) -> bool:
    inserted = await conn.fetchval(
        f"""INSERT INTO {S}.compliments (compliment_id, origin, service_area, team, received_at,
                summary, fingerprint, recorded_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
    )
    return bool(inserted)


async def compliments(
    conn: asyncpg.Connection,
    *,
    compliment_id: str | None = None,
    service_area: str | None = None,
    origin: str | None = None,
    team: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 500,
) -> list[Compliment]:
    rows = await conn.fetch(
        f"""SELECT * FROM {S}.compliments
            WHERE ($1::text IS NULL OR compliment_id = $1)
              AND ($2::text IS NULL OR service_area = $2)
              AND ($3::text IS NULL OR origin = $3)
              AND ($4::text IS NULL OR team = $4)
              AND ($5::date IS NULL OR (received_at AT TIME ZONE 'Europe/London')::date >= $5)
              AND ($6::date IS NULL OR (received_at AT TIME ZONE 'Europe/London')::date <= $6)
            ORDER BY received_at DESC, compliment_id
            LIMIT $7""",
        compliment_id,
        service_area,
        origin,
        team,
        start,
        end,
        limit,
    )
    return [
        Compliment(
            compliment_id=r["compliment_id"],
            origin=ComplimentOrigin(r["origin"]),
            service_area=r["service_area"],
            team=r["team"],
            received_at=r["received_at"],
            summary=r["summary"],
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- you said, we did


async def you_said_we_did_fingerprint(conn: asyncpg.Connection, item_id: str) -> str | None:
    value = await conn.fetchval(f"SELECT fingerprint FROM {S}.you_said_we_did WHERE item_id = $1", item_id)
    return str(value) if value is not None else None


async def insert_you_said_we_did(conn: asyncpg.Connection, item: YouSaidWeDid, *, recorded_by: str) -> bool:
    inserted = await conn.fetchval(
        f"""INSERT INTO {S}.you_said_we_did (item_id, service_area, theme, you_said, we_did,
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


async def you_said_we_did(
    conn: asyncpg.Connection,
    *,
    item_id: str | None = None,
    service_area: str | None = None,
    theme: str | None = None,
    limit: int = 500,
) -> list[YouSaidWeDid]:
    rows = await conn.fetch(
        f"""SELECT * FROM {S}.you_said_we_did
            WHERE ($1::text IS NULL OR item_id = $1)
              AND ($2::text IS NULL OR service_area = $2)
              AND ($3::text IS NULL OR theme = $3)
            ORDER BY published_at DESC, item_id
            LIMIT $4""",
        item_id,
        service_area,
        theme,
        limit,
    )
    return [
        YouSaidWeDid(
            item_id=r["item_id"],
            service_area=r["service_area"],
            theme=r["theme"],
            you_said=r["you_said"],
            we_did=r["we_did"],
            feedback_ids=tuple(r["feedback_ids"]),
            action_id=r["action_id"],
            published_at=r["published_at"],
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- actions


async def action_origin_of_response(conn: asyncpg.Connection, response_id: str) -> ActionOrigin | None:
    """The response an action is raised on (its row share-locked until the transaction ends)."""
    row = await conn.fetchrow(
        f"""SELECT service_area, team, received_at FROM {S}.responses
            WHERE response_id = $1 FOR SHARE""",
        response_id,
    )
    if row is None:
        return None
    return ActionOrigin.response(
        response_id, service_area=row["service_area"], team=row["team"], received_at=row["received_at"]
    )


async def insert_action(conn: asyncpg.Connection, action: FeedbackAction) -> bool:
    """False when the action id is already taken (nothing written)."""
    inserted = await conn.fetchval(
        f"""INSERT INTO {S}.actions (action_id, origin_kind, origin_id, response_id, team,
                service_area, owner_id, summary, due_date, raised_at, raised_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (action_id) DO NOTHING
            RETURNING true""",
        action.action_id,
        action.origin_kind.value,
        action.origin_id,
        action.origin_id if action.origin_kind is ActionOriginKind.RESPONSE else None,
        action.team,
        action.service_area,
        action.owner_id,
        action.summary,
        action.due_date,
        action.raised_at,
        action.raised_by,
    )
    return bool(inserted)


async def action(conn: asyncpg.Connection, action_id: str, *, for_update: bool = False) -> FeedbackAction | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM {S}.actions WHERE action_id = $1{lock}", action_id)
    return _action(row) if row is not None else None


async def save_action_completion(conn: asyncpg.Connection, action: FeedbackAction) -> None:
    await conn.execute(
        f"""UPDATE {S}.actions SET completed_at = $2, completed_by = $3, evidence = $4
            WHERE action_id = $1""",
        action.action_id,
        action.completed_at,
        action.completed_by,
        action.evidence,
    )


async def actions(
    conn: asyncpg.Connection,
    *,
    today: date,
    status: str | None = None,
    origin_id: str | None = None,
    response_id: str | None = None,
    team: str | None = None,
    owner_id: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[FeedbackAction]:
    """Actions filtered as asked, by due date. `status`: open, completed, or overdue (open
    with a due date before `today`)."""
    rows = await conn.fetch(
        f"""SELECT * FROM {S}.actions
            WHERE (CASE $1::text
                     WHEN 'open' THEN completed_at IS NULL
                     WHEN 'overdue' THEN completed_at IS NULL AND due_date < $2
                     WHEN 'completed' THEN completed_at IS NOT NULL
                     ELSE true END)
              AND ($3::text IS NULL OR origin_id = $3)
              AND ($4::text IS NULL OR response_id = $4)
              AND ($5::text IS NULL OR team = $5)
              AND ($6::text IS NULL OR owner_id = $6)
            ORDER BY due_date, raised_at, action_id
            LIMIT $7 OFFSET $8""",
        status,
        today,
        origin_id,
        response_id,
        team,
        owner_id,
        limit,
        offset,
    )
    return [_action(r) for r in rows]


def _action(row: asyncpg.Record) -> FeedbackAction:
    return FeedbackAction(
        action_id=row["action_id"],
        origin_kind=ActionOriginKind(row["origin_kind"]),
        origin_id=row["origin_id"],
        team=row["team"],
        service_area=row["service_area"],
        owner_id=row["owner_id"],
        summary=row["summary"],
        due_date=row["due_date"],
        raised_at=row["raised_at"],
        raised_by=row["raised_by"],
        completed_at=row["completed_at"],
        completed_by=row["completed_by"],
        evidence=row["evidence"],
    )
