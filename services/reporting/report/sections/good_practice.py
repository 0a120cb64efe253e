"""Celebrating success: the quarter's external compliments whose givers agreed to share what
they said (`ComplimentReceived.summary_shareable`), by team — the panel's good-practice page.

Only external compliments (from children, families and others outside the service), as in
the statistics; only those with the giver's agreement, whose summary reporting keeps
(`ComplimentFact.shared_summary`). The words are the giver's, as recorded: no figure is
derived from them, so small-number suppression does not apply.
"""

from __future__ import annotations

from collections import defaultdict

from services.reporting.facts import ComplimentFact
from services.reporting.followups import unique

from ..figures import text
from ..labels import area_label, long_date
from ..model import Block, Paragraph, Row, Section, Table
from .quarter import ReportQuarter

__all__ = ["good_practice_section"]


def _shared(q: ReportQuarter) -> dict[tuple[str, str], list[ComplimentFact]]:
    """The quarter's shareable external compliments by (service area, team), oldest first."""
    out: dict[tuple[str, str], list[ComplimentFact]] = defaultdict(list)
    for c in sorted(unique(q.inputs.facts.compliments), key=lambda c: (c.received_on, c.compliment_id)):
        if c.origin == "external" and c.shared_summary and q.period.contains(c.received_on):
            out[(c.service_area, c.team)].append(c)
    return dict(out)


def good_practice_section(q: ReportQuarter) -> Section:
    shared = _shared(q)
    blocks: list[Block] = [
        Paragraph(
            f"What children, young people and families said about the teams in {q.period.label}, where they "
            "agreed that their words may be shared. Each team's compliments, oldest first."
        )
    ]
    for (area, team), compliments in sorted(shared.items(), key=lambda kv: (area_label(kv[0][0]), kv[0][1])):
        n = len(compliments)
        blocks.append(
            Table(
                f"good-practice-{team}",
                f"Team {team} ({area_label(area)}): {n} compliment{'' if n == 1 else 's'}",
                ["Received", "What they said"],
                [Row(long_date(c.received_on), [text(c.shared_summary or "")]) for c in compliments],
            )
        )
    if not shared:
        blocks.append(
            Paragraph(
                f"No external compliment received in {q.period.label} came with its giver's agreement to share it."
            )
        )
    return Section("good-practice", "Celebrating success: good practice by team", blocks)
