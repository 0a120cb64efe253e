"""Feedback use cases. Each one validates with the domain, then writes its rows and its
event (`service.emit`, into the outbox) in one transaction: both commit or neither does.

Every write is idempotent on its id: the same id with the same content again is a retry
(`created` False, no second event); the same id with different content is a `Conflict`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.feedback import domain, store
from services.feedback.domain import (
    ActionCompletion,
    ActionContent,
    ActionOrigin,
    Compliment,
    ComplimentContent,
    Conflict,
    FeedbackAction,
    ImportReport,
    InvalidInput,
    NotFound,
    QuestionTally,
    RowError,
    SurveyContent,
    SurveyResponse,
    SurveyVersion,
    YouSaidWeDid,
    YouSaidWeDidContent,
)
from shared.calendar import london_date
from shared.service import StrandService

IMPORT_BATCH = 250  # CSV rows per transaction


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _pool(service: StrandService) -> asyncpg.Pool:
    if service.pool is None:
        raise RuntimeError("the feedback service is not started (await service.start())")
    return service.pool


# --------------------------------------------------------------------------- surveys


async def publish_survey(
    service: StrandService,
    survey_id: str,
    content: SurveyContent,
    *,
    published_by: str,
    now: datetime | None = None,
) -> tuple[SurveyVersion, bool]:
    """Publish a survey's definition: a new version when it changed (True), else the
    latest version unchanged (False). Old versions, and the answers given to them, stay."""
    domain.check_survey_id(survey_id)
    async with _pool(service).acquire() as conn, conn.transaction():
        await store.lock_survey(conn, survey_id)
        history = await store.survey_versions(conn, survey_id=survey_id)
        new = domain.next_survey_version(survey_id, content, history, now=_now(now))
        if new is None:
            return history[-1], False
        await store.insert_survey_version(conn, new, published_by)
        return new, True


async def get_survey(service: StrandService, survey_id: str, version: int | None = None) -> SurveyVersion:
    async with _pool(service).acquire() as conn:
        found = await store.survey_version(conn, survey_id, version)
    if found is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"no survey {survey_id!r}{which}")
    return found


async def survey_history(service: StrandService, survey_id: str) -> list[SurveyVersion]:
    async with _pool(service).acquire() as conn:
        found = await store.survey_versions(conn, survey_id=survey_id)
    if not found:
        raise NotFound(f"no survey {survey_id!r}")
    return found


async def list_surveys(service: StrandService, service_area: str | None = None) -> list[SurveyVersion]:
    async with _pool(service).acquire() as conn:
        return await store.survey_versions(conn, service_area=service_area, latest_only=True)


@dataclass(frozen=True)
class SurveyResults:
    survey: SurveyVersion  # the latest version
    responses: int
    questions: list[QuestionTally]


async def survey_results(
    service: StrandService, survey_id: str, start: date | None = None, end: date | None = None
) -> SurveyResults:
    async with _pool(service).acquire() as conn:
        survey = await store.survey_version(conn, survey_id)
        if survey is None:
            raise NotFound(f"no survey {survey_id!r}")
        responses, tallies = await store.question_tallies(conn, survey_id, start, end)
    return SurveyResults(survey, responses, tallies)


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class ResponseSubmission:
    survey_id: str
    answers: Mapping[str, Any]
    response_id: str | None = None
    survey_version: int | None = None
    respondent: str | None = None
    team: str | None = None
    channel: str | None = None
    received_at: datetime | None = None


async def record_response(
    service: StrandService,
    submission: ResponseSubmission,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> tuple[SurveyResponse, bool]:
    """Record one response and publish `FeedbackReceived`; (response, created)."""
    now = _now(now)
    async with _pool(service).acquire() as conn:
        survey = await store.survey_version(conn, submission.survey_id, submission.survey_version)
        if survey is None:
            which = f" version {submission.survey_version}" if submission.survey_version is not None else ""
            field_name = "survey_version" if submission.survey_version is not None else "survey_id"
            raise InvalidInput.one((field_name,), f"no survey {submission.survey_id!r}{which}")
        response = domain.build_response(
            survey,
            response_id=submission.response_id or str(uuid.uuid4()),
            answers=submission.answers,
            received_at=submission.received_at or now,
            now=now,
            respondent=submission.respondent,
            team=submission.team,
            channel=submission.channel,
        )
        async with conn.transaction():
            existing = await store.response_fingerprints(conn, [response.response_id])
            if response.response_id in existing:
                if existing[response.response_id] != response.fingerprint:
                    raise Conflict(f"response {response.response_id!r} is already recorded with other answers")
                return response, False
            created = await _save_response(service, conn, response, "api", recorded_by)
        return response, created


async def _save_response(
    service: StrandService,
    conn: asyncpg.Connection,
    response: SurveyResponse,
    source: str,
    recorded_by: str,
) -> bool:
    if not await store.insert_response(conn, response, source=source, recorded_by=recorded_by):
        return False  # recorded meanwhile by a concurrent request
    await service.emit(
        conn, response.to_event(), aggregate=f"response:{response.response_id}", time=response.received_at
    )
    return True


async def get_response(service: StrandService, response_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """A stored response with its answers and the actions raised on it."""
    async with _pool(service).acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        found = await store.response_detail(conn, response_id)
        if found is None:
            raise NotFound(f"no survey response {response_id!r}")
        found["actions"] = await store.actions(conn, today=london_date(_now(now)), response_id=response_id)
    return found


async def import_csv(
    service: StrandService,
    path_or_bytes: str | os.PathLike[str] | bytes,
    survey_id: str,
    *,
    version: int | None = None,
    recorded_by: str = "csv-import",
    now: datetime | None = None,
) -> ImportReport:
    """Import a survey tool's CSV export (a path or the file's bytes) against the survey's
    latest version (or `version`). Every row is validated; good rows are recorded and
    published, bad ones reported by line; rows imported before are counted as duplicates.
    Raises NotFound for an unknown survey; a file that cannot be read at all gives a report
    with `readable` False."""
    now = _now(now)
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        data = bytes(path_or_bytes)
    else:
        data = await asyncio.to_thread(Path(path_or_bytes).read_bytes)
    survey = await get_survey(service, survey_id, version)
    reading = domain.read_survey_csv(data, survey, now=now)
    outcome = _ImportOutcome(errors=list(reading.errors))
    rows = reading.rows
    for first in range(0, len(rows), IMPORT_BATCH):
        chunk = rows[first : first + IMPORT_BATCH]
        async with _pool(service).acquire() as conn, conn.transaction():
            await _import_chunk(service, conn, chunk, outcome, recorded_by)
    errors = sorted(outcome.errors, key=lambda e: e.line)
    rejected = len({e.line for e in errors if e.line > reading.header_line})
    return ImportReport(
        survey_id=survey.survey_id,
        survey_version=survey.version,
        rows=reading.data_rows,
        imported=outcome.imported,
        duplicates=outcome.duplicates,
        rejected=rejected,
        errors=errors,
        readable=reading.readable,
        safeguarding_responses=outcome.safeguarding,
    )


@dataclass
class _ImportOutcome:
    errors: list[RowError]
    imported: int = 0
    duplicates: int = 0
    safeguarding: list[str] = field(default_factory=list)


async def _import_chunk(
    service: StrandService,
    conn: asyncpg.Connection,
    chunk: Sequence[domain.CsvRow],
    outcome: _ImportOutcome,
    recorded_by: str,
) -> None:
    existing = await store.response_fingerprints(conn, [r.response.response_id for r in chunk])
    for row in chunk:
        response = row.response
        known = existing.get(response.response_id)
        if known is not None:
            if known == response.fingerprint:
                outcome.duplicates += 1
            else:
                outcome.errors.append(
                    RowError(
                        line=row.line,
                        reason="this response was imported before with other answers; "
                        "a re-import does not change a recorded response",
                        response_id=response.response_id,
                    )
                )
            continue
        if await _save_response(service, conn, response, "csv", recorded_by):
            outcome.imported += 1
            if response.safeguarding_concern:
                outcome.safeguarding.append(response.response_id)
        else:
            outcome.duplicates += 1


# --------------------------------------------------------------------------- compliments


async def record_compliment(
    service: StrandService,
    content: ComplimentContent,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> tuple[Compliment, bool]:
    """Record a compliment (internal or external: both are kept) and publish
    `ComplimentReceived`; (compliment, created)."""
    compliment = domain.build_compliment(
        content, compliment_id=content.compliment_id or str(uuid.uuid4()), now=_now(now)
    )
    async with _pool(service).acquire() as conn, conn.transaction():
        known = await store.compliment_fingerprint(conn, compliment.compliment_id)
        if known is not None:
            if known != compliment.fingerprint:
                raise Conflict(f"compliment {compliment.compliment_id!r} is already recorded")
            return compliment, False
        if not await store.insert_compliment(conn, compliment, recorded_by=recorded_by):
            return compliment, False
        await service.emit(
            conn, compliment.to_event(), aggregate=f"compliment:{compliment.compliment_id}", time=compliment.received_at
        )
        return compliment, True


async def list_compliments(
    service: StrandService,
    *,
    service_area: str | None = None,
    origin: str | None = None,
    team: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Compliment]:
    async with _pool(service).acquire() as conn:
        return await store.compliments(conn, service_area=service_area, origin=origin, team=team, start=start, end=end)


# --------------------------------------------------------------------------- you said, we did


async def publish_you_said_we_did(
    service: StrandService,
    content: YouSaidWeDidContent,
    *,
    recorded_by: str,
    now: datetime | None = None,
) -> tuple[YouSaidWeDid, bool]:
    """Publish a "you said, we did" item (`YouSaidWeDidPublished`); (item, created).
    Linked responses must exist and be about the same service area."""
    async with _pool(service).acquire() as conn, conn.transaction():
        areas = await store.response_service_areas(conn, content.feedback_ids)
        item = domain.build_you_said_we_did(
            content,
            item_id=content.item_id or str(uuid.uuid4()),
            linked_areas=areas,
            now=_now(now),
        )
        known = await store.you_said_we_did_fingerprint(conn, item.item_id)
        if known is not None:
            if known != item.fingerprint:
                raise Conflict(f"item {item.item_id!r} is already published with other content")
            stored = await store.you_said_we_did(conn, item_id=item.item_id)
            return stored[0], False
        if not await store.insert_you_said_we_did(conn, item, recorded_by=recorded_by):
            return item, False
        await service.emit(conn, item.to_event(), aggregate=f"you-said-we-did:{item.item_id}", time=item.published_at)
        return item, True


async def list_you_said_we_did(
    service: StrandService, *, service_area: str | None = None, theme: str | None = None
) -> list[YouSaidWeDid]:
    async with _pool(service).acquire() as conn:
        return await store.you_said_we_did(conn, service_area=service_area, theme=theme)


# --------------------------------------------------------------------------- actions


async def raise_action_on_response(
    service: StrandService,
    response_id: str,
    content: ActionContent,
    *,
    raised_by: str,
    now: datetime | None = None,
) -> tuple[FeedbackAction, bool]:
    """Raise an action on a survey response — for a negative answer to a safeguarding
    question, the action whose completion closes the safeguarding alert — and publish
    `ActionRaised` (origin feedback, origin_id the response); (action, created)."""
    async with _pool(service).acquire() as conn, conn.transaction():
        origin = await store.action_origin_of_response(conn, response_id)
        if origin is None:
            raise NotFound(f"no survey response {response_id!r}")
        return await _raise_action(service, conn, origin, content, raised_by, _now(now))


async def raise_action_on_theme(
    service: StrandService,
    service_area: str,
    theme: str,
    content: ActionContent,
    *,
    raised_by: str,
    now: datetime | None = None,
) -> tuple[FeedbackAction, bool]:
    """Raise an action on a service area's theme (origin_id `<service_area>:<theme>`), e.g.
    what a "you said, we did" item will report; (action, created)."""
    origin = ActionOrigin.theme(service_area, theme)
    async with _pool(service).acquire() as conn, conn.transaction():
        return await _raise_action(service, conn, origin, content, raised_by, _now(now))


async def _raise_action(
    service: StrandService,
    conn: asyncpg.Connection,
    origin: ActionOrigin,
    content: ActionContent,
    raised_by: str,
    now: datetime,
) -> tuple[FeedbackAction, bool]:
    action = domain.build_action(
        content, origin, action_id=content.action_id or str(uuid.uuid4()), raised_by=raised_by, now=now
    )
    if not await store.insert_action(conn, action):
        known = await store.action(conn, action.action_id)
        assert known is not None
        if known.fingerprint != action.fingerprint:
            raise Conflict(f"action {action.action_id!r} is already raised with other content")
        return known, False
    await service.emit(conn, action.to_event(), aggregate=f"action:{action.action_id}", time=action.raised_at)
    return action, True


async def complete_action(
    service: StrandService,
    action_id: str,
    completion: ActionCompletion,
    *,
    completed_by: str,
    now: datetime | None = None,
) -> tuple[FeedbackAction, bool]:
    """Complete an action and publish `ActionCompleted`; (action, completed now). The same
    completion sent again changes nothing; another completion is a Conflict."""
    async with _pool(service).acquire() as conn, conn.transaction():
        found = await store.action(conn, action_id, for_update=True)
        if found is None:
            raise NotFound(f"no action {action_id!r}")
        done, changed = domain.complete_action(found, completion, completed_by=completed_by, now=_now(now))
        if changed:
            await store.save_action_completion(conn, done)
            assert done.completed_at is not None
            await service.emit(conn, done.completion_event(), aggregate=f"action:{action_id}", time=done.completed_at)
        return done, changed


async def get_action(service: StrandService, action_id: str) -> FeedbackAction:
    async with _pool(service).acquire() as conn:
        found = await store.action(conn, action_id)
    if found is None:
        raise NotFound(f"no action {action_id!r}")
    return found


async def list_actions(
    service: StrandService,
    *,
    status: str | None = None,
    origin_id: str | None = None,
    team: str | None = None,
    owner_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> list[FeedbackAction]:
    async with _pool(service).acquire() as conn:
        return await store.actions(
            conn,
            today=london_date(_now(now)),
            status=status,
            origin_id=origin_id,
            team=team,
            owner_id=owner_id,
            limit=limit,
            offset=offset,
        )
