"""Where the complaints service keeps its records: a repository Protocol per record kind,
its PostgreSQL adapter (asyncpg SQL on this service's schema only), and the unit of work
the handlers see (:class:`ComplaintsUnitOfWork`) with its PostgreSQL implementation, which
binds the repositories to one transaction.

Every event a complaint's unit of work publishes is also written to that complaint's
history, in the same transaction (:func:`record_in_history`, the unit of work's `recorded`
hook): a complaint's own events are emitted with the complaint as their aggregate, an
action's under `action:<id>` with the complaint as its origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

import asyncpg

from services.complaints.domain import (
    CaseSubjects,
    ComplainantDetails,
    Complaint,
    Extension,
    ExtensionReason,
    HistoryEntry,
    Learning,
    OmbudsmanReferral,
    Point,
    PrivateDetails,
    Rules,
    Stage,
    Status,
)
from shared.actions.store import ActionRepository, PostgresActions
from shared.db import check_identifier
from shared.events import (
    ActionCompleted,
    ActionRaised,
    CloudEvent,
    Complainant,
    OmbudsmanFinding,
    Outcome,
    Procedure,
)
from shared.uow import Clock, Emitted, PostgresUnitOfWork, UnitOfWork, utc_now

if TYPE_CHECKING:
    from shared.service import StrandService

Listing = Literal["open", "overdue", "responded", "withdrawn", "all"]


@dataclass(frozen=True)
class ComplaintQuery:
    """Which complaints to list, soonest due first (then by receipt). ``status``: open,
    overdue (open and past its due date on ``as_of``), responded, withdrawn or all."""

    status: Listing
    as_of: date
    team: str | None = None
    category: str | None = None
    procedure: Procedure | None = None
    service_area: str | None = None
    limit: int = 100
    offset: int = 0

    @property
    def statuses(self) -> list[str] | None:
        """The stored statuses wanted (None: any)."""
        if self.status == "all":
            return None
        return [Status.OPEN.value] if self.status == "overdue" else [self.status]

    @property
    def due_before(self) -> date | None:
        return self.as_of if self.status == "overdue" else None

    def matches(self, complaint: Complaint) -> bool:
        """The same filter in Python (the fake's, and a reading of the SQL)."""
        wanted = {
            "team": self.team,
            "category": self.category,
            "procedure": self.procedure,
            "service_area": self.service_area,
        }
        if any(value is not None and getattr(complaint, name) != value for name, value in wanted.items()):
            return False
        if self.statuses is not None and complaint.status.value not in self.statuses:
            return False
        due = complaint.open_due_date
        return self.due_before is None or (due is not None and due < self.due_before)


# --------------------------------------------------------------------------- the Protocols


class ComplaintRepository(Protocol):
    async def add(self, complaint: Complaint, private: PrivateDetails) -> bool:
        """Store a new complaint and what stays private of it; False (nothing stored) when
        its id is taken."""

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Complaint | None: ...

    async def save(self, complaint: Complaint) -> None:
        """Store a complaint's changed state (stages, extensions, points)."""

    async def find(self, query: ComplaintQuery) -> list[Complaint]: ...

    async def private_details(self, complaint_id: str) -> PrivateDetails | None:
        """The raw case reference and the complainant's details; None: no such complaint."""


class LearningRepository(Protocol):
    async def add(self, learning: Learning) -> bool:
        """Store new learning; False (nothing stored) when its id is taken."""

    async def get(self, learning_id: str) -> Learning | None: ...

    async def of_complaint(self, complaint_id: str) -> list[Learning]:
        """A complaint's learning, in the order it was identified."""


class HistoryRepository(Protocol):
    async def add(
        self, complaint_id: str, *, kind: str, data: dict[str, Any], event_id: str | None, actor: str | None
    ) -> None:
        """Append a step to a complaint's history (stamped with the time it is recorded)."""

    async def of_complaint(self, complaint_id: str) -> list[HistoryEntry]:
        """A complaint's history, oldest first."""


class ComplaintsUnitOfWork(UnitOfWork, Protocol):
    """What the complaints handlers see: the repositories of one transaction, the rules and
    the case pseudonyms."""

    complaints: ComplaintRepository
    learning: LearningRepository
    history: HistoryRepository
    actions: ActionRepository
    rules: Rules
    subjects: CaseSubjects


async def record_in_history(uow: ComplaintsUnitOfWork, event: CloudEvent, emitted: Emitted) -> None:
    """Write a published event into the history of the complaint it concerns, with who did it."""
    complaint_id = emitted.aggregate
    if isinstance(emitted.data, ActionRaised | ActionCompleted):
        action = await uow.actions.get(emitted.data.action_id)
        assert action is not None, f"action {emitted.data.action_id!r} is emitted but not stored"
        complaint_id = action.origin_id
    await uow.history.add(complaint_id, kind=event.type, data=event.data, event_id=event.id, actor=emitted.actor)


class PostgresComplaintsUnitOfWork(PostgresUnitOfWork):
    """One transaction on the complaints schema."""

    complaints: ComplaintRepository
    learning: LearningRepository
    history: HistoryRepository
    actions: ActionRepository

    def __init__(self, service: StrandService, rules: Rules, subjects: CaseSubjects, clock: Clock = utc_now) -> None:
        super().__init__(service, clock)
        self.rules = rules
        self.subjects = subjects

    def bind(self, conn: asyncpg.Connection) -> None:
        schema = self.service.schema
        self.complaints = PostgresComplaints(conn, schema)
        self.learning = PostgresLearning(conn, schema)
        self.history = PostgresHistory(conn, schema)
        self.actions = PostgresActions(conn, schema)

    async def recorded(self, event: CloudEvent, emitted: Emitted) -> None:
        await record_in_history(self, event, emitted)


# --------------------------------------------------------------------------- complaints

STAGE_COLUMNS = (
    "complaint_id",
    "stage",
    "requested_at",
    "clock_start",
    "base_due_date",
    "maximum_date",
    "statement_agreed_at",
    "acknowledged_at",
    "closed_at",
    "outcome",
    "due_date_at_close",
    "within_timescale",
    "working_days_taken",
    "late_request",
)
OMBUDSMAN_COLUMNS = ("complaint_id", "position", "referred_at", "decided_at", "finding")


class PostgresComplaints:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.s = check_identifier(schema)

    async def add(self, complaint: Complaint, private: PrivateDetails) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.s}.complaints (complaint_id, procedure, category, team,
                    service_area, complainant, received_at, case_ref, case_subject, status,
                    current_stage, current_due_date)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (complaint_id) DO NOTHING
                RETURNING true""",
            complaint.complaint_id,
            complaint.procedure.value,
            complaint.category,
            complaint.team,
            complaint.service_area,
            complaint.complainant.value,
            complaint.received_at,
            private.case_ref,
            complaint.case_subject,
            complaint.status.value,
            complaint.stage.number,
            complaint.open_due_date,
        )
        if not inserted:
            return False
        details = private.complainant
        if details is not None:
            await self.conn.execute(
                f"INSERT INTO {self.s}.complainant_details (complaint_id, name, contact) VALUES ($1, $2, $3)",
                complaint.complaint_id,
                details.name,
                details.contact,
            )
        await self._save_stages(complaint)
        return True

    async def save(self, complaint: Complaint) -> None:
        await self.conn.execute(
            f"""UPDATE {self.s}.complaints
                SET status = $2, current_stage = $3, current_due_date = $4, updated_at = now()
                WHERE complaint_id = $1""",
            complaint.complaint_id,
            complaint.status.value,
            complaint.stage.number,
            complaint.open_due_date,
        )
        await self._save_stages(complaint)

    async def _save_stages(self, complaint: Complaint) -> None:
        cid = complaint.complaint_id
        updated = ", ".join(f"{c} = EXCLUDED.{c}" for c in STAGE_COLUMNS[3:])
        await self.conn.executemany(
            f"""INSERT INTO {self.s}.complaint_stages ({", ".join(STAGE_COLUMNS)})
                VALUES ({", ".join(f"${i}" for i in range(1, len(STAGE_COLUMNS) + 1))})
                ON CONFLICT (complaint_id, stage) DO UPDATE SET {updated}""",
            [_stage_row(cid, st) for st in complaint.stages],
        )
        # Extensions and points are only ever added.
        await self.conn.executemany(
            f"""INSERT INTO {self.s}.complaint_extensions (complaint_id, stage, position,
                    new_due_date, reason, note, extended_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT DO NOTHING""",
            [
                (cid, st.number, i, x.new_due_date, x.reason.value, x.note, x.extended_at)
                for st in complaint.stages
                for i, x in enumerate(st.extensions, start=1)
            ],
        )
        await self.conn.executemany(
            f"""INSERT INTO {self.s}.complaint_points (complaint_id, stage, position, summary, upheld)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT DO NOTHING""",
            [
                (cid, st.number, i, p.summary, p.upheld)
                for st in complaint.stages
                for i, p in enumerate(st.points, start=1)
            ],
        )
        # Panels are only ever added; an Ombudsman referral gains its decision.
        await self.conn.executemany(
            f"""INSERT INTO {self.s}.complaint_panels (complaint_id, stage, position, held_at)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING""",
            [(cid, st.number, i, at) for st in complaint.stages for i, at in enumerate(st.panels, start=1)],
        )
        await self.conn.executemany(
            f"""INSERT INTO {self.s}.complaint_ombudsman ({", ".join(OMBUDSMAN_COLUMNS)})
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (complaint_id, position) DO UPDATE
                SET decided_at = EXCLUDED.decided_at, finding = EXCLUDED.finding""",
            [
                (cid, i, r.referred_at, r.decided_at, r.finding.value if r.finding else None)
                for i, r in enumerate(complaint.ombudsman, start=1)
            ],
        )

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Complaint | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT * FROM {self.s}.complaints WHERE complaint_id = $1{lock}", complaint_id)
        return None if row is None else (await self._assemble([row]))[0]

    async def find(self, query: ComplaintQuery) -> list[Complaint]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {self.s}.complaints
                WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
                  AND ($2::date IS NULL OR current_due_date < $2::date)
                  AND ($3::text IS NULL OR team = $3)
                  AND ($4::text IS NULL OR category = $4)
                  AND ($5::text IS NULL OR procedure = $5)
                  AND ($6::text IS NULL OR service_area = $6)
                ORDER BY current_due_date NULLS LAST, received_at, complaint_id
                LIMIT $7 OFFSET $8""",
            query.statuses,
            query.due_before,
            query.team,
            query.category,
            query.procedure.value if query.procedure else None,
            query.service_area,
            query.limit,
            query.offset,
        )
        return await self._assemble(rows) if rows else []

    async def private_details(self, complaint_id: str) -> PrivateDetails | None:
        row = await self.conn.fetchrow(
            f"""SELECT c.case_ref, d.complaint_id IS NOT NULL AS has_details, d.name, d.contact
                FROM {self.s}.complaints c
                LEFT JOIN {self.s}.complainant_details d USING (complaint_id)
                WHERE c.complaint_id = $1""",
            complaint_id,
        )
        if row is None:
            return None
        details = ComplainantDetails(row["name"], row["contact"]) if row["has_details"] else None
        return PrivateDetails(case_ref=row["case_ref"], complainant=details)

    async def _assemble(self, rows: Sequence[asyncpg.Record]) -> list[Complaint]:
        ids = [r["complaint_id"] for r in rows]
        by_key: dict[tuple[str, int], Stage] = {}
        stages: dict[str, list[Stage]] = {cid: [] for cid in ids}
        for r in await self._rows_of("complaint_stages", "stage", ids):
            stage = _stage(r)
            stages[r["complaint_id"]].append(stage)
            by_key[(r["complaint_id"], r["stage"])] = stage
        for r in await self._rows_of("complaint_extensions", "stage, position", ids):
            extension = Extension(r["new_due_date"], ExtensionReason(r["reason"]), r["extended_at"], r["note"])
            by_key[(r["complaint_id"], r["stage"])].extensions.append(extension)
        for r in await self._rows_of("complaint_points", "stage, position", ids):
            by_key[(r["complaint_id"], r["stage"])].points.append(Point(upheld=r["upheld"], summary=r["summary"]))
        for r in await self._rows_of("complaint_panels", "stage, position", ids):
            by_key[(r["complaint_id"], r["stage"])].panels.append(r["held_at"])
        referrals: dict[str, list[OmbudsmanReferral]] = {cid: [] for cid in ids}
        for r in await self._rows_of("complaint_ombudsman", "position", ids):
            finding = OmbudsmanFinding(r["finding"]) if r["finding"] else None
            referrals[r["complaint_id"]].append(OmbudsmanReferral(r["referred_at"], r["decided_at"], finding))
        return [
            Complaint(
                complaint_id=r["complaint_id"],
                procedure=Procedure(r["procedure"]),
                category=r["category"],
                team=r["team"],
                service_area=r["service_area"],
                complainant=Complainant(r["complainant"]),
                received_at=r["received_at"],
                stages=stages[r["complaint_id"]],
                case_subject=r["case_subject"],
                ombudsman=referrals[r["complaint_id"]],
            )
            for r in rows
        ]

    async def _rows_of(self, table: str, order: str, ids: list[str]) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.conn.fetch(
            f"SELECT * FROM {self.s}.{table} WHERE complaint_id = ANY($1::text[]) ORDER BY complaint_id, {order}",
            ids,
        )
        return rows


def _stage_row(complaint_id: str, st: Stage) -> tuple[object, ...]:
    return (
        complaint_id,
        st.number,
        st.requested_at,
        st.clock_start,
        st.base_due_date,
        st.maximum_date,
        st.statement_agreed_at,
        st.acknowledged_at,
        st.closed_at,
        st.outcome.value if st.outcome else None,
        st.due_date_at_close,
        st.within_timescale,
        st.working_days_taken,
        st.late_request,
    )


def _stage(r: asyncpg.Record) -> Stage:
    return Stage(
        number=r["stage"],
        requested_at=r["requested_at"],
        clock_start=r["clock_start"],
        base_due_date=r["base_due_date"],
        maximum_date=r["maximum_date"],
        statement_agreed_at=r["statement_agreed_at"],
        acknowledged_at=r["acknowledged_at"],
        closed_at=r["closed_at"],
        outcome=Outcome(r["outcome"]) if r["outcome"] else None,
        due_date_at_close=r["due_date_at_close"],
        within_timescale=r["within_timescale"],
        working_days_taken=r["working_days_taken"],
        late_request=r["late_request"],
    )


# --------------------------------------------------------------------------- learning


class PostgresLearning:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.s = check_identifier(schema)

    async def add(self, learning: Learning) -> bool:
        inserted = await self.conn.fetchval(
            f"""INSERT INTO {self.s}.learning (learning_id, complaint_id, team, service_area,
                    summary, identified_at, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (learning_id) DO NOTHING
                RETURNING true""",
            learning.learning_id,
            learning.complaint_id,
            learning.team,
            learning.service_area,
            learning.summary,
            learning.identified_at,
            learning.recorded_by,
        )
        return bool(inserted)

    async def get(self, learning_id: str) -> Learning | None:
        row = await self.conn.fetchrow(f"SELECT * FROM {self.s}.learning WHERE learning_id = $1", learning_id)
        return None if row is None else _learning(row)

    async def of_complaint(self, complaint_id: str) -> list[Learning]:
        rows = await self.conn.fetch(
            f"SELECT * FROM {self.s}.learning WHERE complaint_id = $1 ORDER BY identified_at, learning_id",
            complaint_id,
        )
        return [_learning(r) for r in rows]


def _learning(r: asyncpg.Record) -> Learning:
    return Learning(
        learning_id=r["learning_id"],
        complaint_id=r["complaint_id"],
        team=r["team"],
        service_area=r["service_area"],
        summary=r["summary"],
        identified_at=r["identified_at"],
        recorded_by=r["recorded_by"],
    )


# --------------------------------------------------------------------------- history


class PostgresHistory:
    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self.conn = conn
        self.s = check_identifier(schema)

    async def add(
        self, complaint_id: str, *, kind: str, data: dict[str, Any], event_id: str | None, actor: str | None
    ) -> None:
        await self.conn.execute(
            f"""INSERT INTO {self.s}.complaint_history (complaint_id, kind, event_id, data, actor)
                VALUES ($1, $2, $3, $4, $5)""",
            complaint_id,
            kind,
            event_id,
            data,
            actor,
        )

    async def of_complaint(self, complaint_id: str) -> list[HistoryEntry]:
        rows = await self.conn.fetch(
            f"""SELECT kind, event_id, data, actor, recorded_at FROM {self.s}.complaint_history
                WHERE complaint_id = $1 ORDER BY id""",
            complaint_id,
        )
        return [HistoryEntry(r["kind"], r["event_id"], r["data"], r["actor"], r["recorded_at"]) for r in rows]
