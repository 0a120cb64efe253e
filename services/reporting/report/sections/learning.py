"""Closing the learning loop: the learning KPIs, and the follow-ups of each rule opened,
closed (on time), open and overdue, with the re-audits that improved a grade."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..charts import Series
from ..figures import Figure, text
from ..labels import long_date, short_date, words
from ..model import Block, Paragraph, Row, RuleTally, Section, Table, chart
from ..suppression import column_lines, protect
from .quarter import ReportQuarter

__all__ = ["learning_section"]

_RULES = {
    "complaint-learning": "Learning from upheld complaints",
    "re-audit": "Re-audit after a weak grade",
    "concern-targeted-audit": "Targeted audit of a concern",
    "feedback-response": "Response to poor feedback",
    "action": "Actions",
    "safeguarding-alert": "Safeguarding alerts from feedback",
    "concern-rework": "Rework of concerns whose measures did not work",
    "inspection-finding": "Actions on inspection findings",
}


def _rule_title(rule: str) -> str:
    return _RULES.get(rule, words(rule))


def _rules(q: ReportQuarter) -> list[str]:
    """The rules the tenant has follow-ups of, the known ones first, in the report's order."""
    present = set(q.inputs.followups) | set(q.inputs.followup_rules)
    return [r for r in _RULES if r in present] + sorted(present - set(_RULES))


def tally_cells(q: ReportQuarter, tallies: Sequence[RuleTally]) -> list[list[Figure]]:
    """Opened, closed, closed on time, open and overdue per rule. The rules' closed, closed on
    time, open and overdue add up to the quarter's (the learning KPIs show them, or the
    numerator and denominator of a rate they show): secondary suppression down those columns.
    No total of follow-ups opened is shown, so that column is left as it is."""
    grid = [
        [q.count(t.opened), q.count(t.closed), q.count(t.on_time), q.count(t.open), q.count(t.overdue)] for t in tallies
    ]
    return protect(grid, column_lines(len(grid), (1, 2, 3, 4)))


def _by_rule(q: ReportQuarter, rules: Sequence[str], tallies: Sequence[RuleTally]) -> Table:
    end = q.end
    cells = tally_cells(q, tallies)
    return Table(
        "followups-by-rule",
        f"Follow-ups by rule, {q.period.label}",
        [
            "Rule",
            "Opened in the quarter",
            "Closed in the quarter",
            "Closed on time",
            f"Open on {long_date(end)}",
            f"Overdue on {long_date(end)}",
        ],
        [Row(f"{_rule_title(rule)} ({rule})", cells[i]) for i, rule in enumerate(rules)],
        note="Every upheld complaint, weak audit, poor feedback result, safeguarding answer and action "
        "opens a follow-up that stays open until the evidence that closes it arrives.",
    )


def _by_rule_chart(q: ReportQuarter, rules: Sequence[str], tallies: Sequence[RuleTally]) -> Block:
    cells = tally_cells(q, tallies)
    return chart(
        chart_id="chart-followups",
        title=f"Follow-ups opened in {q.period.label} and overdue on {long_date(q.end)}, by rule",
        description="Horizontal bars: for each learning-loop rule, the follow-ups opened in the "
        "quarter and those overdue at its end.",
        categories=[_rule_title(r) for r in rules],
        series=[
            Series("Opened", [row[0].bar for row in cells]),
            Series("Overdue", [row[4].bar for row in cells]),
        ],
    )


def _status(due: date, end: date) -> str:
    days = (end - due).days
    return f"Overdue by {days} day{'' if days == 1 else 's'}" if days > 0 else "Open"


def _open_followups(q: ReportQuarter) -> Table:
    """The follow-ups still open at the quarter's end, most overdue first, each named by
    what it is about (the audit's type, team, date and case pseudonym; the complaint …)."""
    end = q.end
    listed = q.inputs.open_followups
    total = q.inputs.open_followups_total
    rows = [
        Row(
            _rule_title(f.rule),
            [
                text(f.about or f"{words(f.origin)} (details not yet received)"),
                text(f.team or "—"),
                text(short_date(f.opened_on)),
                text(short_date(f.due_date)),
                text(_status(f.due_date, end)),
            ],
        )
        for f in listed
    ]
    shown = f"the {len(listed)} most overdue of {total}" if total > len(listed) else "all of them"
    return Table(
        "followups-open",
        f"Follow-ups open on {long_date(end)}, most overdue first",
        ["Follow-up", "About", "Team", "Opened", "Due", "Status"],
        rows,
        note=f"Listed: {shown}. Cases are named by their pseudonym, never by the case number.",
    )


def learning_section(q: ReportQuarter) -> Section:
    p = q.period
    rules = _rules(q)
    tallies = [q.inputs.followups.get(rule, RuleTally()) for rule in rules]
    reaudits = q.inputs.followups.get("re-audit", RuleTally())
    blocks: list[Block] = [
        q.trend_table(
            "learning-summary",
            f"The learning loop, {p.label} and the previous quarter ({q.previous.label})",
            [
                (f"Follow-ups open at {q.at}", "learning.followups_open"),
                (f"Follow-ups overdue at {q.at}", "learning.followups_overdue"),
                ("Follow-ups closed on time", "learning.followups_closed_on_time_rate"),
                ("Actions completed on time", "learning.actions_completed_on_time_rate"),
            ],
        ),
        _by_rule(q, rules, tallies),
        *([_by_rule_chart(q, rules, tallies)] if rules else []),
        _open_followups(q),
        Paragraph(
            f"Re-audits of cases graded requires improvement or inadequate, completed in {p.label}: "
            f"{q.count(reaudits.closed).text}; of these, the grade improved in "
            f"{q.count(reaudits.improved).text}."
        ),
    ]
    return Section("learning", "Closing the learning loop", blocks)
