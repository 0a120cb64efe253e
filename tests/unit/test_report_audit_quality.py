"""The quarterly report's audit quality blocks on plain inputs: timeliness, the EHCP
procedure and concern effectiveness beside the previous quarter, and each audit area's
good-or-better rate lowest first — which areas drive "requires improvement"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.reporting import kpis
from services.reporting.facts import AreaGradeFact, Facts
from services.reporting.report.content import build_report, kpi_requests
from services.reporting.report.model import KpiRequest, Paragraph, ReportInputs
from tests.unit.test_report_sections import audit, concern, inputs_of, resolved, rows

AREAS = {"planning": (2, 10), "recording": (9, 10), "voice_of_the_child": (1, 3)}


def published(request: KpiRequest) -> dict[str, kpis.KpiValue]:
    """Counts of 40 and rates of 30 out of 60, except: audits on schedule 45 of 50 this
    quarter (44 of 55 before); the area rates of `AREAS` (the same in both quarters)."""
    fixed = {
        k: kpis.count_value(k, 40) if kpis.definition_of(k).unit == kpis.COUNT else kpis.rate_value(k, 30, 60)
        for k in kpis.fixed_kpi_ids()
    }
    on_time = (45, 50) if request.period.label == "2022-23-Q2" else (44, 55)
    fixed["audit.completed_on_time_rate"] = kpis.rate_value("audit.completed_on_time_rate", *on_time)
    values = kpis.assemble(fixed, {}, {}, request.kpi_ids, areas=AREAS)
    return {v.kpi: v for v in kpis.apply_publication_rules(values, detail=False)}


def loaded(inputs: ReportInputs) -> ReportInputs:
    while missing := [r for r in kpi_requests(inputs) if r not in inputs.kpi_values]:
        inputs = replace(inputs, kpi_values={**inputs.kpi_values, **{r: published(r) for r in missing}})
    return inputs


def test_audit_quality_and_the_areas_lowest_first():
    weak = replace(
        audit("a1", "send", date(2022, 8, 1)),
        area_grades=(AreaGradeFact("planning", "requires_improvement"), AreaGradeFact("recording", "good")),
    )
    weaker = replace(
        audit("a2", "send", date(2022, 8, 2)),
        area_grades=(AreaGradeFact("planning", "inadequate"), AreaGradeFact("recording", "requires_improvement")),
    )
    report = build_report(loaded(inputs_of(Facts(audits_graded=[weak, weaker]))))

    assert rows(report, "audit-quality") == [
        ("Audits completed on schedule", ["90%", "80%", "+10 pts"]),
        ("EHCP audits that followed the procedure", ["50%", "50%", "no change"]),
        ("Concerns whose measures worked", ["50%", "50%", "no change"]),
    ]
    areas = rows(report, "audit-areas")
    assert [header for header, _ in areas] == ["Planning", "Recording", "Voice of the child"]
    assert areas[0][1][:2] == ["20%", "20%"]
    assert areas[2][1][0] == "suppressed"  # 3 audits graded the area: too few to show
    below_good = [cells[3] for _, cells in areas]
    assert below_good[2] == "0" and below_good[0] != "2"  # 2 is a small number: suppressed too
    paragraphs = [b.text for s in report.sections for b in s.blocks if isinstance(b, Paragraph)]
    assert any(p.startswith("Planning was graded good or better least often") for p in paragraphs)


def test_a_resolved_concern_says_whether_its_measures_worked():
    facts = Facts(
        concerns_raised=[
            concern("worked", date(2022, 5, 2), date(2022, 12, 1)),
            concern("failed", date(2022, 5, 3), date(2022, 12, 1)),
        ],
        concerns_resolved=[
            replace(resolved("worked", date(2022, 8, 30)), outcome="effective"),
            replace(resolved("failed", date(2022, 9, 1)), outcome="not_effective"),
        ],
    )
    statuses = [cells[3] for _, cells in rows(build_report(loaded(inputs_of(facts))), "audit-concerns")]
    assert statuses == ["resolved 30 Aug 2022, effective", "resolved 1 Sep 2022, not effective"]
