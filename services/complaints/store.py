"""The complaints service's tables (asyncpg). Only this module writes SQL.

Every function takes the caller's connection, so that a use case writes its rows and its
outbox events in one transaction (see handlers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.complaints.domain import (
    Action,
    Complaint,
    Extension,
    ExtensionReason,
    Point,
    Stage,
)
from shared.db import check_identifier
from shared.events import Complainant, Outcome, Procedure


@dataclass(frozen=True)
class ComplainantDetails:
    """Who complained, as the complaints officer needs it. Never in an event."""

    name: str | None
    contact: str | None


@dataclass(frozen=True)
class HistoryEntry:
    kind: str
    event_id: str | None
    data: dict[str, Any]
    actor: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class LearningRecord:
    learning_id: str
    complaint_id: str
    team: str
    service_area: str
    summary: str
    identified_at: datetime
    recorded_by: str | None


class ComplaintStore:
    def __init__(self, schema: str) -> None:
        self.s = check_identifier(schema)

    # ---------------------------------------------------------------- complaints

    async def add_complaint(
        self,
        conn: asyncpg.Connection,
        complaint: Complaint,
        *,
        case_ref: str | None,
        details: ComplainantDetails | None,
    ) -> bool:
        """Insert a new complaint; False when its id is taken."""
        inserted = await conn.fetchval(
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
            case_ref,
            complaint.case_subject,
            complaint.status.value,
            complaint.stage.number,
            complaint.stage.due_date,
        )
        if not inserted:
            return False
        if details is not None and (details.name or details.contact):
            await conn.execute(
                f"INSERT INTO {self.s}.complainant_details (complaint_id, name, contact) VALUES ($1, $2, $3)",
                complaint.complaint_id,
                details.name,
                details.contact,
            )
        await self._save_stages(conn, complaint)
        return True

    async def save_complaint(self, conn: asyncpg.Connection, complaint: Complaint) -> None:
        """Write the aggregate's changed state (the caller holds its row lock)."""
        current = complaint.stage
        await conn.execute(
            f"""UPDATE {self.s}.complaints
                SET status = $2, current_stage = $3, current_due_date = $4, updated_at = now()
                WHERE complaint_id = $1""",
            complaint.complaint_id,
            complaint.status.value,
            current.number,
            current.due_date if not current.closed else None,
        )
        await self._save_stages(conn, complaint)

    async def _save_stages(self, conn: asyncpg.Connection, complaint: Complaint) -> None:
        cid = complaint.complaint_id
        await conn.executemany(
            f"""INSERT INTO {self.s}.complaint_stages (complaint_id, stage, requested_at,
                    clock_start, base_due_date, maximum_date, statement_agreed_at,
                    acknowledged_at, closed_at, outcome, due_date_at_close, within_timescale,
                    working_days_taken)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (complaint_id, stage) DO UPDATE SET
                    clock_start = EXCLUDED.clock_start,
                    base_due_date = EXCLUDED.base_due_date,
                    maximum_date = EXCLUDED.maximum_date,
                    statement_agreed_at = EXCLUDED.statement_agreed_at,
                    acknowledged_at = EXCLUDED.acknowledged_at,
                    closed_at = EXCLUDED.closed_at,
                    outcome = EXCLUDED.outcome,
                    due_date_at_close = EXCLUDED.due_date_at_close,
                    within_timescale = EXCLUDED.within_timescale,
                    working_days_taken = EXCLUDED.working_days_taken""",
            [
                (
                    cid,
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
                )
                for st in complaint.stages
            ],
        )
        # Extensions and points are only ever added.
        await conn.executemany(
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
        await conn.executemany(
            f"""INSERT INTO {self.s}.complaint_points
                    (complaint_id, stage, position, summary, upheld)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT DO NOTHING""",
            [
                (cid, st.number, i, p.summary, p.upheld)
                for st in complaint.stages
                for i, p in enumerate(st.points, start=1)
            ],
        )

    async def load_complaint(
        self, conn: asyncpg.Connection, complaint_id: str, *, for_update: bool = False
    ) -> Complaint | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.complaints WHERE complaint_id = $1{lock}", complaint_id)
        if row is None:
            return None
        return (await self._assemble(conn, [row]))[0]

    async def _assemble(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[Complaint]:
        ids = [r["complaint_id"] for r in rows]
        stage_rows = await conn.fetch(
            f"SELECT * FROM {self.s}.complaint_stages WHERE complaint_id = ANY($1::text[]) "
            "ORDER BY complaint_id, stage",
            ids,
        )
        extension_rows = await conn.fetch(
            f"SELECT * FROM {self.s}.complaint_extensions WHERE complaint_id = ANY($1::text[]) "
            "ORDER BY complaint_id, stage, position",
            ids,
        )
        point_rows = await conn.fetch(
            f"SELECT * FROM {self.s}.complaint_points WHERE complaint_id = ANY($1::text[]) "
            "ORDER BY complaint_id, stage, position",
            ids,
        )
        stages: dict[str, list[Stage]] = {cid: [] for cid in ids}
        by_key: dict[tuple[str, int], Stage] = {}
        for r in stage_rows:
            stage = Stage(
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
            )
            stages[r["complaint_id"]].append(stage)
            by_key[(r["complaint_id"], r["stage"])] = stage
        for r in extension_rows:
            by_key[(r["complaint_id"], r["stage"])].extensions.append(
                Extension(
                    new_due_date=r["new_due_date"],
                    reason=ExtensionReason(r["reason"]),
                    extended_at=r["extended_at"],
                    note=r["note"],
                )
            )
        for r in point_rows:
            by_key[(r["complaint_id"], r["stage"])].points.append(Point(upheld=r["upheld"], summary=r["summary"]))
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
            )
            for r in rows
        ]

    async def list_complaints(
        self,
        conn: asyncpg.Connection,
        *,
        statuses: Sequence[str] | None,
        due_before: date | None = None,
        team: str | None = None,
        category: str | None = None,
        procedure: str | None = None,
        service_area: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Complaint]:
        """Complaints in the given statuses (None = any), soonest due first.

        ``due_before``: only those whose current due date is before it (overdue)."""
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.complaints
                WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
                  AND ($2::date IS NULL OR current_due_date < $2::date)
                  AND ($3::text IS NULL OR team = $3)
                  AND ($4::text IS NULL OR category = $4)
                  AND ($5::text IS NULL OR procedure = $5)
                  AND ($6::text IS NULL OR service_area = $6)
                ORDER BY current_due_date NULLS LAST, received_at, complaint_id
                LIMIT $7 OFFSET $8""",
            list(statuses) if statuses is not None else None,
            due_before,
            team,
            category,
            procedure,
            service_area,
            limit,
            offset,
        )
        return await self._assemble(conn, rows) if rows else []

    async def private_details(
        self, conn: asyncpg.Connection, complaint_id: str
    ) -> tuple[str | None, ComplainantDetails | None]:
        """The raw case reference and the complainant's details (for complaints officers)."""
        case_ref = await conn.fetchval(
            f"SELECT case_ref FROM {self.s}.complaints WHERE complaint_id = $1", complaint_id
        )
        row = await conn.fetchrow(
            f"SELECT name, contact FROM {self.s}.complainant_details WHERE complaint_id = $1",
            complaint_id,
        )
        details = ComplainantDetails(row["name"], row["contact"]) if row else None
        return case_ref, details

    # ---------------------------------------------------------------- history

    async def add_history(
        self,
        conn: asyncpg.Connection,
        complaint_id: str,
        *,
        kind: str,
        data: dict[str, Any],
        event_id: str | None,
        actor: str | None,
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.s}.complaint_history (complaint_id, kind, event_id, data, actor)
                VALUES ($1, $2, $3, $4, $5)""",
            complaint_id,
            kind,
            event_id,
            data,
            actor,
        )

    async def history(self, conn: asyncpg.Connection, complaint_id: str) -> list[HistoryEntry]:
        rows = await conn.fetch(
            f"""SELECT kind, event_id, data, actor, recorded_at FROM {self.s}.complaint_history
                WHERE complaint_id = $1 ORDER BY id""",
            complaint_id,
        )
        return [HistoryEntry(r["kind"], r["event_id"], r["data"], r["actor"], r["recorded_at"]) for r in rows]

    # ---------------------------------------------------------------- learning

    async def add_learning(self, conn: asyncpg.Connection, learning: LearningRecord) -> bool:
        inserted = await conn.fetchval(
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

    async def learning_for(self, conn: asyncpg.Connection, complaint_id: str) -> list[LearningRecord]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.learning WHERE complaint_id = $1
                ORDER BY identified_at, learning_id""",
            complaint_id,
        )
        return [
            LearningRecord(
                r["learning_id"],
                r["complaint_id"],
                r["team"],
                r["service_area"],
                r["summary"],
                r["identified_at"],
                r["recorded_by"],
            )
            for r in rows
        ]

    async def learning_belongs_to(self, conn: asyncpg.Connection, learning_id: str, complaint_id: str) -> bool:
        return bool(
            await conn.fetchval(
                f"SELECT true FROM {self.s}.learning WHERE learning_id = $1 AND complaint_id = $2",
                learning_id,
                complaint_id,
            )
        )

    # ---------------------------------------------------------------- actions

    async def add_action(self, conn: asyncpg.Connection, action: Action) -> bool:
        inserted = await conn.fetchval(
            f"""INSERT INTO {self.s}.actions (action_id, complaint_id, learning_id, team,
                    service_area, owner_id, raised_at, due_date, summary)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (action_id) DO NOTHING
                RETURNING true""",
            action.action_id,
            action.complaint_id,
            action.learning_id,
            action.team,
            action.service_area,
            action.owner_id,
            action.raised_at,
            action.due_date,
            action.summary,
        )
        return bool(inserted)

    async def load_action(self, conn: asyncpg.Connection, action_id: str, *, for_update: bool = False) -> Action | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(f"SELECT * FROM {self.s}.actions WHERE action_id = $1{lock}", action_id)
        return _action(row) if row else None

    async def save_action(self, conn: asyncpg.Connection, action: Action) -> None:
        await conn.execute(
            f"UPDATE {self.s}.actions SET completed_at = $2, evidence = $3 WHERE action_id = $1",
            action.action_id,
            action.completed_at,
            action.evidence,
        )

    async def actions_for(self, conn: asyncpg.Connection, complaint_id: str) -> list[Action]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.s}.actions WHERE complaint_id = $1
                ORDER BY raised_at, action_id""",
            complaint_id,
        )
        return [_action(r) for r in rows]


def _action(row: asyncpg.Record) -> Action:
    return Action(
        action_id=row["action_id"],
        complaint_id=row["complaint_id"],
        team=row["team"],
        service_area=row["service_area"],
        owner_id=row["owner_id"],
        raised_at=row["raised_at"],
        due_date=row["due_date"],
        summary=row["summary"],
        learning_id=row["learning_id"],
        completed_at=row["completed_at"],
        evidence=row["evidence"],
    )
