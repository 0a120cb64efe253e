"""The report's first section: what it covers and how small numbers are shown."""

from __future__ import annotations

from ..figures import NO_DATA, SUPPRESSED_RATE, suppressed_count_text
from ..grading import grade_rule_text
from ..labels import long_date
from ..model import Paragraph, Section
from .quarter import ReportQuarter

__all__ = ["about_section"]


def about_section(q: ReportQuarter) -> Section:
    t = q.threshold
    as_at = f"Follow-ups open and overdue are counted as at {long_date(q.end)}, " + (
        "today, as the quarter is still under way." if q.end != q.period.end else "the quarter's end."
    )
    authority = q.inputs.authority or f"authority {q.inputs.tenant}"
    return Section(
        "about",
        "About these figures",
        [
            Paragraph(
                f"This report covers {long_date(q.period.start)} to {long_date(q.period.end)} "
                f"(financial quarter {q.period.label}) for {authority}, and compares it with "
                f"the previous quarter, {q.previous.label}. {as_at}"
            ),
            Paragraph(
                f"Small numbers are suppressed so that no child or family can be identified: a count from 1 "
                f"to {t} is shown as “{suppressed_count_text(t)}”, and a rate or average over 1 to {t} cases "
                f"is shown as “{SUPPRESSED_RATE}”. “{NO_DATA}” means there was nothing to count. Charts "
                "draw no bar for a suppressed figure. Where a row or column adds up to a total shown in the "
                "report and only one of its figures is suppressed, the next smallest is shown as "
                f"“{SUPPRESSED_RATE}” too, so that the hidden figure cannot be worked out by subtraction."
            ),
            Paragraph(
                f"Audits: the overall grade of an audit is {grade_rule_text(q.inputs.overall_grade_rule)} — this "
                f"authority's overall-grade rule (“{q.inputs.overall_grade_rule}”)."
            ),
            Paragraph(
                "Only external compliments (from children, families and others outside the service) are "
                "counted in the statistics; internal compliments are shown apart."
            ),
        ],
    )
