"""Feedback's use cases, one function each over a `FeedbackUnitOfWork`: load, apply the rules
(`domain`), save, and `uow.emit` what happened — all in one transaction (`async with uow:`),
so the rows and their events commit together or not at all. No SQL, no HTTP.

Every write is idempotent on its id: the same id with the same content again is a retry
(`created` False, no second event); the same id with other content is a Conflict. Actions
on responses and themes are the shared lifecycle (`shared.actions`): this strand only finds
the origin they are raised on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from services.feedback.commands import PublishSurvey, PublishYouSaidWeDid, RecordCompliment, RecordResponse
from services.feedback.domain.compliments import Compliment, validate_compliment
from services.feedback.domain.csv_import import CsvRow, ImportProgress, ImportReport, read_survey_csv
from services.feedback.domain.responses import SurveyResponse, validate_response
from services.feedback.domain.surveys import SurveyVersion, check_survey_id, next_survey_version
from services.feedback.domain.tallies import SurveyResults, tally_questions
from services.feedback.domain.you_said_we_did import YouSaidWeDid, theme_origin, validate_you_said_we_did
from services.feedback.store import FeedbackUnitOfWork
from shared.actions.domain import Action, ActionOrigin, RaiseAction
from shared.actions.handlers import raise_action_on
from shared.errors import Conflict, Invalid, NotFound
from shared.events import ComplimentOrigin

IMPORT_BATCH = 250  # CSV rows per transaction

# --------------------------------------------------------------------------- surveys


async def publish_survey(
    uow: FeedbackUnitOfWork, survey_id: str, cmd: PublishSurvey, *, actor: str
) -> tuple[SurveyVersion, bool]:
    """Publish a survey's definition: a new version when it changed (True), else the latest
    version unchanged (False). Old versions, and the answers given to them, stay."""
    check_survey_id(survey_id)
    async with uow:
        await uow.surveys.lock(survey_id)
        history = await uow.surveys.history(survey_id)
        new = next_survey_version(survey_id, cmd, history, now=uow.now())
        if new is None:
            return history[-1], False
        await uow.surveys.add(new, published_by=actor)
    return new, True


async def get_survey(uow: FeedbackUnitOfWork, survey_id: str, version: int | None = None) -> SurveyVersion:
    """A survey's latest version, or `version`."""
    async with uow:
        found = await uow.surveys.get(survey_id, version)
    if found is None:
        which = f" version {version}" if version is not None else ""
        raise NotFound(f"no survey {survey_id!r}{which}")
    return found


async def survey_history(uow: FeedbackUnitOfWork, survey_id: str) -> list[SurveyVersion]:
    async with uow:
        found = await uow.surveys.history(survey_id)
    if not found:
        raise NotFound(f"no survey {survey_id!r}")
    return found


async def list_surveys(uow: FeedbackUnitOfWork, service_area: str | None = None) -> list[SurveyVersion]:
    async with uow:
        return await uow.surveys.latest(service_area=service_area)


async def survey_results(
    uow: FeedbackUnitOfWork, survey_id: str, start: date | None = None, end: date | None = None
) -> SurveyResults:
    """Responses received (London date) in [start, end] and the answers per wording."""
    async with uow:
        history = await uow.surveys.history(survey_id)
        if not history:
            raise NotFound(f"no survey {survey_id!r}")
        counts = await uow.responses.answer_counts(survey_id, start, end)
    return SurveyResults(history[-1], counts.responses, tally_questions(history, counts))


# --------------------------------------------------------------------------- responses


async def record_response(uow: FeedbackUnitOfWork, cmd: RecordResponse, *, actor: str) -> tuple[SurveyResponse, bool]:
    """Record one response against its survey's latest version (or `survey_version`) and
    publish `FeedbackReceived`; (response, created). A retry answers with the response as
    recorded."""
    async with uow:
        survey = await uow.surveys.get(cmd.survey_id, cmd.survey_version)
        if survey is None:
            which = f" version {cmd.survey_version}" if cmd.survey_version is not None else ""
            field = "survey_version" if cmd.survey_version is not None else "survey_id"
            raise Invalid(f"no survey {cmd.survey_id!r}{which}", field)
        response = validate_response(
            survey,
            response_id=cmd.response_id or str(uuid.uuid4()),
            answers=cmd.answers,
            received_at=cmd.received_at or uow.now(),
            now=uow.now(),
            respondent=cmd.respondent,
            team=cmd.team,
            channel=cmd.channel,
        )
        known = (await uow.responses.fingerprints([response.response_id])).get(response.response_id)
        if known is not None:
            if known != response.fingerprint:
                raise Conflict(f"response {response.response_id!r} is already recorded with other answers")
            recorded = await uow.responses.get(response.response_id)
            assert recorded is not None
            return recorded, False
        created = await _record(uow, response, actor)
    return response, created


async def _record(uow: FeedbackUnitOfWork, response: SurveyResponse, actor: str) -> bool:
    """Store a response and emit `FeedbackReceived`; False when its id was taken meanwhile
    (by a concurrent request: nothing is emitted)."""
    if not await uow.responses.add(response, recorded_by=actor):
        return False
    uow.emit(
        response.received_event(), aggregate=f"response:{response.response_id}", time=response.received_at, actor=actor
    )
    return True


async def get_response(uow: FeedbackUnitOfWork, response_id: str) -> tuple[SurveyResponse, list[Action]]:
    """A recorded response, and the actions raised on it by due date."""
    async with uow:
        response = await uow.responses.get(response_id)
        if response is None:
            raise NotFound(f"no survey response {response_id!r}")
        actions = await uow.actions.of_origin(response_id)
    return response, sorted(actions, key=lambda a: (a.due_date, a.raised_at, a.action_id))


async def import_csv(
    uow: FeedbackUnitOfWork, survey_id: str, data: bytes, *, version: int | None = None, actor: str
) -> ImportReport:
    """Import a survey tool's CSV export against the survey's latest version (or `version`).
    Every row is validated; good rows are recorded and published (`IMPORT_BATCH` to a
    transaction), bad ones reported by line; rows imported before count as duplicates.
    NotFound for an unknown survey; a file that cannot be read at all gives a report with
    `readable` False."""
    survey = await get_survey(uow, survey_id, version)
    progress = ImportProgress(survey, read_survey_csv(data, survey, now=uow.now()))
    rows = progress.reading.rows
    for first in range(0, len(rows), IMPORT_BATCH):
        async with uow:
            await _import_batch(uow, rows[first : first + IMPORT_BATCH], progress, actor)
    return progress.report()


async def _import_batch(uow: FeedbackUnitOfWork, batch: Sequence[CsvRow], progress: ImportProgress, actor: str) -> None:
    recorded = await uow.responses.fingerprints([row.response.response_id for row in batch])
    for row in batch:
        if row.response.response_id in recorded:
            progress.recorded_before(row, recorded[row.response.response_id])
        elif await _record(uow, row.response, actor):
            progress.recorded_now(row.response)
        else:  # recorded meanwhile by a concurrent import of the same row: a duplicate
            progress.recorded_before(row, row.response.fingerprint)


# --------------------------------------------------------------------------- compliments


async def record_compliment(uow: FeedbackUnitOfWork, cmd: RecordCompliment, *, actor: str) -> tuple[Compliment, bool]:
    """Record a compliment (internal or external: both are kept) and publish
    `ComplimentReceived`; (compliment, created)."""
    async with uow:
        compliment = validate_compliment(cmd, compliment_id=cmd.compliment_id or str(uuid.uuid4()), now=uow.now())
        known = await uow.compliments.get(compliment.compliment_id)
        if known is not None:
            if known.fingerprint != compliment.fingerprint:
                raise Conflict(f"compliment {compliment.compliment_id!r} is already recorded")
            return known, False
        if not await uow.compliments.add(compliment, recorded_by=actor):
            return compliment, False
        uow.emit(
            compliment.received_event(),
            aggregate=f"compliment:{compliment.compliment_id}",
            time=compliment.received_at,
            actor=actor,
        )
    return compliment, True


async def list_compliments(
    uow: FeedbackUnitOfWork,
    *,
    service_area: str | None = None,
    origin: ComplimentOrigin | None = None,
    team: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[Compliment]:
    async with uow:
        return await uow.compliments.find(service_area=service_area, origin=origin, team=team, start=start, end=end)


# --------------------------------------------------------------------------- you said, we did


async def publish_you_said_we_did(
    uow: FeedbackUnitOfWork, cmd: PublishYouSaidWeDid, *, actor: str
) -> tuple[YouSaidWeDid, bool]:
    """Publish a "you said, we did" item (`YouSaidWeDidPublished`); (item, created).
    Linked responses must exist and be about the same service area."""
    async with uow:
        areas = await uow.responses.service_areas(cmd.feedback_ids)
        item_id = cmd.item_id or str(uuid.uuid4())
        item = validate_you_said_we_did(cmd, item_id=item_id, linked_areas=areas, now=uow.now())
        known = await uow.you_said_we_did.get(item.item_id)
        if known is not None:
            if known.fingerprint != item.fingerprint:
                raise Conflict(f"item {item.item_id!r} is already published with other content")
            return known, False
        if not await uow.you_said_we_did.add(item, recorded_by=actor):
            return item, False
        aggregate = f"you-said-we-did:{item.item_id}"
        uow.emit(item.published_event(), aggregate=aggregate, time=item.published_at, actor=actor)
    return item, True


async def list_you_said_we_did(
    uow: FeedbackUnitOfWork, *, service_area: str | None = None, theme: str | None = None
) -> list[YouSaidWeDid]:
    async with uow:
        return await uow.you_said_we_did.find(service_area=service_area, theme=theme)


# --------------------------------------------------------------------------- actions


async def raise_action_on_response(
    uow: FeedbackUnitOfWork, response_id: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """Raise an action on a survey response — for a negative answer to a safeguarding
    question, the action whose completion closes the safeguarding alert — and publish
    `ActionRaised` (origin feedback, origin_id the response); (action, created). It belongs
    to the response's team and service area; an unknown response is NotFound."""
    _answers_no_learning(cmd)

    async def the_response(uow: FeedbackUnitOfWork) -> ActionOrigin:
        response = await uow.responses.get(response_id)
        if response is None:
            raise NotFound(f"no survey response {response_id!r}")
        return response.action_origin()

    return await raise_action_on(uow, the_response, cmd, actor=actor)


async def raise_action_on_theme(
    uow: FeedbackUnitOfWork, service_area: str, theme: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """Raise an action on a service area's theme (origin_id `<service_area>:<theme>`), e.g.
    what a "you said, we did" item will report; (action, created). It names its team."""
    _answers_no_learning(cmd)
    origin = theme_origin(service_area, theme)

    async def the_theme(_: FeedbackUnitOfWork) -> ActionOrigin:
        return origin

    return await raise_action_on(uow, the_theme, cmd, actor=actor)


def _answers_no_learning(cmd: RaiseAction) -> None:
    if cmd.learning_id is not None:
        raise Invalid("feedback records no learning: an action on a response or a theme answers none", "learning_id")
