"""Survey questions' wording, for the report and the dashboard (issue 14, item 10); `report.labels.question_label`
shows a question by them.

Reporting counts answers by question id (`feedback.positive_rate.<question_id>`); the words of
a question travel in `FeedbackReceived` with each answer (`SurveyAnswer.wording`, optional:
the feedback service sends the wording of the survey version answered). The read models do
not keep them (as with the words of "you said, we did"), so they are read from the event
store, by event: for each question answered in a period, the newest of its answers in that
period whose event carries a wording. A reworded question has a new id (`<question_id>.v2`,
the feedback service's rule), so an id has one wording. Questions whose answers carried none
(sent before the wording travelled, or by another sender) are absent: they are shown by id.

Bounded like every report statement: the period's answers through the (tenant, received_on)
index, each event looked up by its unique (source, id), newest first, stopping at the first
with a wording.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.reporting import store

__all__ = ["question_wording"]


async def question_wording(conn: Any, tenant: str, start: date, end: date) -> dict[str, str]:
    """{question id: wording} for the questions answered from ``start`` to ``end`` whose
    answers there carried a wording."""
    s = store.SCHEMA
    rows = await conn.fetch(
        f"""SELECT q.question_id, w.wording
            FROM (SELECT DISTINCT question_id FROM {s}.feedback_answer
                  WHERE tenant = $1 AND received_on BETWEEN $2 AND $3) q
            CROSS JOIN LATERAL (
                SELECT x ->> 'wording' AS wording
                FROM {s}.feedback_answer a
                JOIN {s}.event_store e
                  ON e.source = split_part(a.key, ' ', 1) AND e.id = substr(a.key, strpos(a.key, ' ') + 1)
                CROSS JOIN LATERAL jsonb_array_elements(e.envelope -> 'data' -> 'answers') x
                WHERE a.tenant = $1 AND a.received_on BETWEEN $2 AND $3 AND a.question_id = q.question_id
                  AND e.tenant = $1 AND x ->> 'question_id' = q.question_id
                  AND coalesce(x ->> 'wording', '') <> ''
                ORDER BY a.received_on DESC, a.key DESC
                LIMIT 1) w""",
        tenant,
        start,
        end,
    )
    return {r["question_id"]: r["wording"] for r in rows}
