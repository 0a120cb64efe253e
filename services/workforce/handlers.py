"""The workforce's use cases, one function each over a `WorkforceUnitOfWork`: load, apply the
rules (`domain`), save, and `uow.emit` what happened — all in one transaction (`async with
uow:`), so the rows and their events commit together or not at all. No SQL, no HTTP.

Every write is idempotent: the same record again is a retry (`created` False, no event).
The two CSV imports (the census return, a staff survey export) take every row or none: any
problem, with its row and column, refuses the whole file and nothing is recorded.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.workforce.commands import (
    PublishStaffSurvey,
    RecordCaseload,
    RecordJoiner,
    RecordLeaver,
    RecordStaffResponse,
    RecordVacancy,
)
from services.workforce.domain.census import census_changes, read_census, refusal
from services.workforce.domain.csv_table import CellError, ImportReport, midnight, refused_report
from services.workforce.domain.staff import Caseload, Vacancy, Worker, check_caseload
from services.workforce.domain.surveys import (
    StaffResponse,
    StaffSurvey,
    check_survey_id,
    next_version,
    read_survey_csv,
    validate_response,
)
from services.workforce.store import WorkforceUnitOfWork
from shared.actions.domain import Action, ActionOrigin, RaiseAction
from shared.actions.handlers import raise_action_on
from shared.errors import Conflict, Invalid, NotFound, RuleError
from shared.events import LearningOrigin, StaffJoined, StaffLeft
from shared.text import occurred_at


def _when(value: datetime | date | None, now: datetime, field: str) -> datetime:
    """A date is midnight London; a time needs its offset; never in the future."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = midnight(value)
    return occurred_at(value, now, field)


def _aggregate(worker_id: str) -> str:
    return f"worker:{worker_id}"


def _emit_staff(uow: WorkforceUnitOfWork, event: StaffJoined | StaffLeft, actor: str) -> None:
    time = event.joined_at if isinstance(event, StaffJoined) else event.left_at
    uow.emit(event, aggregate=_aggregate(event.worker_id), time=time, actor=actor)


# --------------------------------------------------------------------------- staff records


async def record_joiner(uow: WorkforceUnitOfWork, cmd: RecordJoiner, *, actor: str) -> tuple[Worker, bool]:
    """A joiner (publishes StaffJoined), or, for a worker in post, the record changed from
    `joined_at` (StaffJoined again: not a leaver); (worker, created). The same record again
    is a retry."""
    worker_id = uow.pseudonym(cmd.worker_ref)
    async with uow:
        joined_at = _when(cmd.joined_at, uow.now(), "joined_at")
        worker = await uow.workers.get(worker_id, for_update=True) or Worker(worker_id)
        worker, event = worker.join(cmd.post(), joined_at)
        if event is None:
            return worker, False
        await uow.workers.save(worker, kind="joined", by=actor)
        _emit_staff(uow, event, actor)
    return worker, True


async def record_leaver(
    uow: WorkforceUnitOfWork, worker_ref: str, cmd: RecordLeaver, *, actor: str
) -> tuple[Worker, bool]:
    """A leaver with the reason (publishes StaffLeft); the same leave again is a retry."""
    worker_id = uow.pseudonym(worker_ref)
    async with uow:
        left_at = _when(cmd.left_at, uow.now(), "left_at")
        worker = await uow.workers.get(worker_id, for_update=True)
        if worker is None:
            raise NotFound("no such worker")
        worker, event = worker.leave(left_at, cmd.reason)
        if event is None:
            return worker, False
        await uow.workers.save(worker, kind="left", by=actor)
        _emit_staff(uow, event, actor)
    return worker, True


async def get_worker(uow: WorkforceUnitOfWork, worker_ref: str) -> Worker:
    async with uow:
        worker = await uow.workers.get(uow.pseudonym(worker_ref))
    if worker is None:
        raise NotFound("no such worker")
    return worker


async def list_in_post(
    uow: WorkforceUnitOfWork, *, team: str | None = None, service_area: str | None = None
) -> list[Worker]:
    async with uow:
        return await uow.workers.in_post(team=team, service_area=service_area)


# --------------------------------------------------------------------------- vacancies, caseloads


async def record_vacancy(uow: WorkforceUnitOfWork, cmd: RecordVacancy, *, actor: str) -> tuple[Vacancy, bool]:
    """A team's vacant FTE as of a day (publishes VacancyRecorded); the same figure for the
    same day is a retry, another figure replaces it (and is published)."""
    vacancy = Vacancy(cmd.team, cmd.service_area, cmd.vacant_fte, cmd.as_of)
    async with uow:
        if cmd.as_of > uow.today():
            raise Invalid(f"{cmd.as_of.isoformat()} is in the future", "as_of")
        if await uow.vacancies.get(cmd.team, cmd.as_of) == vacancy:
            return vacancy, False
        await uow.vacancies.save(vacancy, by=actor)
        uow.emit(vacancy.recorded_event(), aggregate=f"vacancy:{vacancy.team}", time=midnight(cmd.as_of), actor=actor)
    return vacancy, True


async def list_vacancies(uow: WorkforceUnitOfWork, *, service_area: str | None = None) -> list[Vacancy]:
    async with uow:
        return await uow.vacancies.latest(service_area=service_area)


async def record_caseload(uow: WorkforceUnitOfWork, cmd: RecordCaseload, *, actor: str) -> tuple[Caseload, bool]:
    """A worker's cases as of a day (publishes CaseloadRecorded); the same again is a retry."""
    worker_id = uow.pseudonym(cmd.worker_ref)
    caseload = Caseload(worker_id, cmd.cases, cmd.as_of)
    async with uow:
        check_caseload(await uow.workers.get(worker_id), cmd.cases, cmd.as_of, uow.today())
        created = await _record_caseload(uow, caseload, actor)
    return caseload, created


async def _record_caseload(uow: WorkforceUnitOfWork, caseload: Caseload, actor: str) -> bool:
    if await uow.caseloads.get(caseload.worker_id, caseload.as_of) == caseload:
        return False
    await uow.caseloads.save(caseload, by=actor)
    uow.emit(
        caseload.recorded_event(), aggregate=_aggregate(caseload.worker_id), time=midnight(caseload.as_of), actor=actor
    )
    return True


# --------------------------------------------------------------------------- the census return


class _Refused(Exception):
    """Raised inside the unit of work to roll an import back; carries the refusals."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__("refused")
        self.errors = errors


async def import_census(uow: WorkforceUnitOfWork, data: bytes, *, as_of: date, actor: str) -> ImportReport:
    """Import a census return (one row per worker) as at `as_of`: every row is checked — the
    file alone, then against each worker's recorded history — and, with no problem, every
    row's joins, changes, leaves and caseloads are recorded and published in one
    transaction. Any problem refuses the file: nothing is recorded."""
    reading = read_census(data, as_of=as_of)
    if reading.errors:
        return refused_report(reading.data_rows, reading.errors, reading.ignored_columns)
    if as_of > uow.today():
        raise Invalid(f"{as_of.isoformat()} is in the future", "as_of")
    changed = events = 0
    try:
        async with uow:
            errors: list[CellError] = []
            for row in reading.rows:
                worker_id = uow.pseudonym(row.worker_ref)
                worker = await uow.workers.get(worker_id, for_update=True) or Worker(worker_id)
                try:
                    changes = census_changes(worker, row, as_of)
                except RuleError as exc:
                    errors.append(refusal(row, exc))
                    continue
                for after, event in changes.steps:
                    kind = "joined" if isinstance(event, StaffJoined) else "left"
                    await uow.workers.save(after, kind=kind, by=actor)
                    _emit_staff(uow, event, actor)
                wrote = bool(changes.events)
                if row.cases is not None and changes.worker.in_post and row.post.case_holding:
                    wrote = await _record_caseload(uow, Caseload(worker_id, row.cases, as_of), actor) or wrote
                changed += wrote
                events += len(changes.events)
            if errors:
                raise _Refused(errors)
    except _Refused as refused:
        return refused_report(reading.data_rows, refused.errors, reading.ignored_columns)
    rows = len(reading.rows)
    return ImportReport(rows, True, changed, rows - changed, events, (), tuple(reading.ignored_columns))


# --------------------------------------------------------------------------- the staff survey


async def publish_survey(
    uow: WorkforceUnitOfWork, survey_id: str, cmd: PublishStaffSurvey, *, actor: str
) -> tuple[StaffSurvey, bool]:
    """A new version when the definition changed (True), else the latest unchanged (False)."""
    check_survey_id(survey_id)
    questions = [(q.question_id, q.wording, q.answer_type) for q in cmd.questions]
    async with uow:
        await uow.surveys.lock(survey_id)
        history = await uow.surveys.history(survey_id)
        new = next_version(survey_id, cmd.title, questions, history, now=uow.now())
        if new is None:
            return history[-1], False
        await uow.surveys.add(new, by=actor)
    return new, True


async def get_survey(uow: WorkforceUnitOfWork, survey_id: str, version: int | None = None) -> StaffSurvey:
    async with uow:
        found = await uow.surveys.get(survey_id, version)
    if found is None:
        raise NotFound(f"no staff survey {survey_id!r}" + (f" version {version}" if version else ""))
    return found


async def survey_history(uow: WorkforceUnitOfWork, survey_id: str) -> list[StaffSurvey]:
    async with uow:
        found = await uow.surveys.history(survey_id)
    if not found:
        raise NotFound(f"no staff survey {survey_id!r}")
    return found


async def record_response(
    uow: WorkforceUnitOfWork, cmd: RecordStaffResponse, *, actor: str
) -> tuple[StaffResponse, bool]:
    """One response (publishes StaffSurveyResponseReceived); a retry with the same id and
    answers adds nothing, other answers under the same id are a Conflict."""
    async with uow:
        survey = await uow.surveys.get(cmd.survey_id, cmd.survey_version)
        if survey is None:
            field = "survey_version" if cmd.survey_version is not None else "survey_id"
            raise Invalid(f"no staff survey {cmd.survey_id!r}", field)
        response = validate_response(
            survey,
            response_id=cmd.response_id or str(uuid.uuid4()),
            answers=cmd.answers,
            service_area=cmd.service_area,
            team=cmd.team,
            received_at=_when(cmd.received_at, uow.now(), "received_at"),
            now=uow.now(),
        )
        known = (await uow.responses.fingerprints([response.response_id])).get(response.response_id)
        if known is not None:
            if known != response.fingerprint:
                raise Conflict(f"response {response.response_id!r} is already recorded with other answers")
            return response, False
        created = await _record_response(uow, response, actor)
    return response, created


async def _record_response(uow: WorkforceUnitOfWork, response: StaffResponse, actor: str) -> bool:
    if not await uow.responses.add(response, by=actor):
        return False
    aggregate = f"staff-response:{response.response_id}"
    uow.emit(response.received_event(), aggregate=aggregate, time=response.received_at, actor=actor)
    return True


async def import_survey_csv(
    uow: WorkforceUnitOfWork, survey_id: str, data: bytes, *, version: int | None = None, actor: str
) -> ImportReport:
    """A survey tool's export against the survey's latest version (or `version`): every row
    checked; with no problem, the new responses recorded and published in one transaction
    (responses imported before are unchanged); any problem refuses the file."""
    survey = await get_survey(uow, survey_id, version)
    reading = read_survey_csv(data, survey, now=uow.now())
    if reading.errors:
        return refused_report(reading.data_rows, reading.errors, reading.ignored_columns)
    changed = 0
    try:
        async with uow:
            known = await uow.responses.fingerprints([r.response_id for _, r in reading.responses])
            errors = [
                CellError(line, "response_id", "imported before with other answers; a re-import changes nothing")
                for line, r in reading.responses
                if known.get(r.response_id, r.fingerprint) != r.fingerprint
            ]
            if errors:
                raise _Refused(errors)
            for _, response in reading.responses:
                if response.response_id not in known:
                    changed += await _record_response(uow, response, actor)
    except _Refused as refused:
        return refused_report(reading.data_rows, refused.errors, reading.ignored_columns)
    rows = len(reading.responses)
    return ImportReport(rows, True, changed, rows - changed, changed, (), tuple(reading.ignored_columns))


# --------------------------------------------------------------------------- actions


async def raise_action_on_team(
    uow: WorkforceUnitOfWork, service_area: str, team: str, cmd: RaiseAction, *, actor: str
) -> tuple[Action, bool]:
    """Raise an action on a team's workforce (origin `workforce`, origin_id
    `<service_area>:<team>`) — what closes the team's workforce-review follow-up; publishes
    ActionRaised; (action, created)."""
    if cmd.team is not None and cmd.team != team:
        raise Invalid("an action on a team's workforce belongs to that team", "team")
    if cmd.learning_id is not None:
        raise Invalid("the workforce records no learning", "learning_id")
    origin = ActionOrigin(
        origin=LearningOrigin.WORKFORCE,
        origin_id=f"{service_area}:{team}",
        service_area=service_area,
        team=team,
        describes="team",
    )

    async def the_team(_: WorkforceUnitOfWork) -> ActionOrigin:
        return origin

    return await raise_action_on(uow, the_team, cmd, actor=actor)
