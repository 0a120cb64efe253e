"""What a follow-up is about, in the words a QA officer recognises: the audit (its type, team,
date and case pseudonym), the complaint (its category and date), the concern, the survey
response, the question, or — for an action — what the action was raised on.

`load_subjects` reads the read-model rows of the follow-ups' origins by id (the indexes on
audit_id, complaint_id, concern_id, action_id and response_id), a handful of statements for a
page of follow-ups whatever the history; `describe` is the pure wording. A follow-up whose
origin reporting has not seen (an event still on its way) is described by its rule alone.
The case pseudonym is the one the events carry (`<key id>:<16 hex digits>`), never the case
number, so it is shown wherever follow-ups are (the API, the dashboard and the report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.reporting.followups import FollowUp

__all__ = ["Subject", "describe", "load_subjects"]

AUDIT_TYPES = {
    "routine": "Routine audit",
    "themed": "Themed audit",
    "targeted": "Targeted audit",
    "ehcp": "EHCP audit",
    "dip_sample": "Dip-sample audit",
}
RESPONDENTS = {"child": "a child", "young_person": "a young person", "parent_carer": "a parent or carer"}


@dataclass(frozen=True)
class Subject:
    """What one follow-up is about: ``text`` for people, and its parts for tables."""

    text: str
    kind: str  # audit, complaint, concern, response, question, action
    date: date | None = None
    team: str | None = None
    case_ref: str | None = None  # audits: the case's pseudonym
    audit_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "date": self.date.isoformat() if self.date else None,
            "team": self.team,
            "case_ref": self.case_ref,
            "audit_type": self.audit_type,
        }


def _words(identifier: str) -> str:
    return identifier.replace("_", " ").replace("-", " ")


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _audit(row: Mapping[str, Any]) -> Subject:
    kind = AUDIT_TYPES.get(row["audit_type"], f"{_words(row['audit_type']).capitalize()} audit")
    grade = _words(row["d_grade"] or row["overall_grade"])
    return Subject(
        f"{kind} of case {row['case_ref']} ({row['team']}), graded {grade} on {_day(row['completed_on'])}",
        "audit",
        row["completed_on"],
        row["team"],
        row["case_ref"],
        row["audit_type"],
    )


def _complaint(row: Mapping[str, Any]) -> Subject:
    return Subject(
        f"Complaint about {_words(row['category'])} ({row['team']}), received {_day(row['received_on'])}",
        "complaint",
        row["received_on"],
        row["team"],
    )


def _concern(row: Mapping[str, Any]) -> Subject:
    return Subject(
        f"Concern: {_words(row['theme'])} ({_words(row['service_area'])}), raised {_day(row['raised_on'])}",
        "concern",
        row["raised_on"],
    )


def _response(row: Mapping[str, Any]) -> Subject:
    who = RESPONDENTS.get(row["respondent"], _words(row["respondent"]))
    team = f" ({row['team']})" if row["team"] else ""
    return Subject(
        f"Survey response from {who} to {_words(row['survey_id'])}{team}, received {_day(row['received_on'])}",
        "response",
        row["received_on"],
        row["team"],
    )


def _question(origin_id: str) -> Subject | None:
    area, _, rest = origin_id.partition(":")
    question, _, quarter = rest.rpartition(":")
    if not question:
        return None
    return Subject(f"Answers to “{_words(question)}” in {_words(area)}, {quarter}", "question")


Rows = Mapping[str, Mapping[str, Mapping[str, Any]]]  # kind -> id -> row


def _origin(kind: str, origin_id: str, rows: Rows) -> Subject | None:
    """The subject of an origin by its kind (the follow-up's or the action's origin)."""
    row = rows.get(kind, {}).get(origin_id)
    if kind == "question":
        return _question(origin_id)
    if row is None:
        return None
    return {"audit": _audit, "complaint": _complaint, "concern": _concern, "response": _response}[kind](row)


# What each rule's origin_id names, and (action) what an action's origin names.
RULE_ORIGINS = {
    "re-audit": "audit",
    "complaint-learning": "complaint",
    "concern-targeted-audit": "concern",
    "safeguarding-alert": "response",
    "feedback-response": "question",
    "action": "action",
}
ACTION_ORIGINS = {"audit": "audit", "complaint": "complaint", "concern": "concern", "feedback": "response"}


def describe(fu: FollowUp, rows: Rows) -> Subject | None:
    """What ``fu`` is about, from its origin's rows (None: its origin is not known)."""
    kind = RULE_ORIGINS.get(fu.rule)
    if kind is None:
        return None
    if kind != "action":
        return _origin(kind, fu.origin_id, rows)
    action = rows.get("action", {}).get(fu.origin_id)
    if action is None:
        return None
    on = _origin(ACTION_ORIGINS.get(action["origin"], ""), action["origin_id"], rows)
    what = on.text[0].lower() + on.text[1:] if on else f"{_words(action['origin'])} {action['origin_id']}"
    return Subject(
        f"Action on {what}; raised {_day(action['raised_on'])}",
        "action",
        action["raised_on"],
        action["team"],
        on.case_ref if on else None,
        on.audit_type if on else None,
    )


# kind -> (table, id column, extra condition): the read-model rows that describe an origin.
_TABLES = {
    "audit": ("audit_graded", "audit_id", "AND d_counted"),
    "complaint": ("complaint_received", "complaint_id", ""),
    "concern": ("concern_raised", "concern_id", ""),
    "response": ("feedback", "response_id", ""),
    "action": ("action_raised", "action_id", "AND d_first"),
}


async def _rows(conn: asyncpg.Connection, schema: str, tenant: str, kind: str, ids: Iterable[str]) -> dict[str, Any]:
    """{id: row} of one kind: the earliest row of each id (a duplicate describes nothing new)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table, column, condition = _TABLES[kind]
    rows = await conn.fetch(
        f"""SELECT DISTINCT ON ({column}) * FROM {schema}.{table}
            WHERE tenant = $1 AND {column} = ANY($2::text[]) {condition}
            ORDER BY {column}, event_id""",
        tenant,
        wanted,
    )
    return {r[column]: r for r in rows}


async def load_subjects(
    conn: asyncpg.Connection, schema: str, tenant: str, followups: Sequence[FollowUp]
) -> dict[str, Subject]:
    """{followup_id: Subject} for the follow-ups whose origin reporting knows."""
    wanted: dict[str, set[str]] = {kind: set() for kind in _TABLES}
    for fu in followups:
        kind = RULE_ORIGINS.get(fu.rule)
        if kind in wanted:
            wanted[kind].add(fu.origin_id)
    rows: dict[str, dict[str, Any]] = {"action": await _rows(conn, schema, tenant, "action", wanted["action"])}
    for action in rows["action"].values():
        kind = ACTION_ORIGINS.get(action["origin"])
        if kind is not None:
            wanted[kind].add(action["origin_id"])
    for kind in ("audit", "complaint", "concern", "response"):
        rows[kind] = await _rows(conn, schema, tenant, kind, wanted[kind])
    out = {}
    for fu in followups:
        subject = describe(fu, rows)
        if subject is not None:
            out[fu.followup_id] = subject
    return out
