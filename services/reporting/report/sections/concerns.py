"""Areas of concern and targeted audits, part of the audit section: how many concerns were
raised, resolved and open, and each concern open during the quarter with its status and
its first targeted audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.reporting.facts import ConcernRaisedFact, Facts
from services.reporting.followups import GradedAudit, counted_resolutions, unique

from ..figures import text
from ..labels import area_label, long_date, short_date, words
from ..model import Block, Paragraph, Row, Table
from .quarter import ReportQuarter

__all__ = ["concern_blocks"]


@dataclass(frozen=True)
class _Concerns:
    """Per concern id: its first raising, its first resolution date, and the completion
    date of its first targeted audit (each the earliest, ties by event id)."""

    raised: dict[str, ConcernRaisedFact]
    resolved: dict[str, date]
    targeted: dict[str, date]
    outcome: dict[str, str]  # did the measures work: the first resolution that says

    @classmethod
    def of(cls, facts: Facts) -> _Concerns:
        raised: dict[str, ConcernRaisedFact] = {}
        for c in sorted(unique(facts.concerns_raised), key=lambda c: (c.raised_on, c.event_id)):
            raised.setdefault(c.concern_id, c)
        resolved: dict[str, date] = {}
        for r in sorted(unique(facts.concerns_resolved), key=lambda r: (r.resolved_on, r.event_id)):
            resolved.setdefault(r.concern_id, r.resolved_on)
        targeted: dict[str, date] = {}
        for g in sorted(
            (a for a in unique(facts.audits_graded) if a.audit_type == "targeted" and a.concern_id),
            key=lambda a: a.completed_on,
        ):
            assert g.concern_id is not None
            targeted.setdefault(g.concern_id, g.completed_on)
        outcome = {cid: r.outcome for cid, r in counted_resolutions(facts.concerns_resolved).items() if r.outcome}
        return cls(raised, resolved, targeted, outcome)

    def resolved_by(self, concern_id: str, day: date) -> date | None:
        done = self.resolved.get(concern_id)
        return done if done is not None and done <= day else None


def _summary(q: ReportQuarter, concerns: _Concerns, audits_now: Sequence[GradedAudit]) -> Table:
    p, end = q.period, q.end
    in_quarter_raised = sum(1 for c in concerns.raised.values() if p.contains(c.raised_on))
    in_quarter_resolved = sum(1 for d in concerns.resolved.values() if p.contains(d))
    open_at_end = sum(
        1 for cid, c in concerns.raised.items() if c.raised_on <= end and concerns.resolved_by(cid, end) is None
    )
    targeted_in_quarter = sum(1 for a in audits_now if a.fact.audit_type == "targeted")
    return Table(
        "audit-concerns-summary",
        f"Areas of concern and targeted audits, {p.label}",
        ["Measure", "Number"],
        [
            Row("Concerns raised", [q.count(in_quarter_raised)]),
            Row("Concerns resolved", [q.count(in_quarter_resolved)]),
            Row(f"Concerns open on {long_date(end)}", [q.count(open_at_end)]),
            Row("Targeted audits completed", [q.count(targeted_in_quarter)]),
        ],
        note="A concern is resolved once a targeted audit shows that its new measures work.",
    )


def _concern_row(concern: ConcernRaisedFact, concerns: _Concerns, end: date) -> Row:
    done = concerns.resolved_by(concern.concern_id, end)
    if done is not None:
        outcome = concerns.outcome.get(concern.concern_id)
        status = f"resolved {short_date(done)}" + (f", {words(outcome).lower()}" if outcome else "")
    elif concern.review_by < end:
        status = "open, past its review date"
    else:
        status = "open"
    first_targeted = concerns.targeted.get(concern.concern_id)
    audit_text = (
        f"yes, first {short_date(first_targeted)}"
        if first_targeted is not None and first_targeted <= end
        else "not yet"
    )
    return Row(
        words(concern.theme),
        [
            text(area_label(concern.service_area)),
            text(short_date(concern.raised_on)),
            text(short_date(concern.review_by)),
            text(status),
            text(audit_text),
        ],
    )


def concern_blocks(q: ReportQuarter, audits_now: Sequence[GradedAudit]) -> list[Block]:
    """The summary of concerns and targeted audits, and each concern open during the quarter:
    raised by its end (or today) and not resolved before it began."""
    p, end = q.period, q.end
    concerns = _Concerns.of(q.inputs.facts)
    active = [
        c
        for cid, c in concerns.raised.items()
        if c.raised_on <= end and (cid not in concerns.resolved or concerns.resolved[cid] >= p.start)
    ]
    rows = [
        _concern_row(c, concerns, end) for c in sorted(active, key=lambda c: (c.raised_on, c.service_area, c.theme))
    ]
    if not rows:
        return [_summary(q, concerns, audits_now), Paragraph(f"No area of concern was open during {p.label}.")]
    return [
        _summary(q, concerns, audits_now),
        Table(
            "audit-concerns",
            f"Areas of concern open during {p.label}",
            ["Theme", "Service area", "Raised", "Review by", f"Status on {long_date(end)}", "Targeted audit"],
            rows,
        ),
    ]
