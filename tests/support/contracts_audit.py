"""The audit store contract: one set of tests, run against the in-memory fake
(tests/unit/test_audit_store_fake.py) and against PostgreSQL
(tests/integration/test_audit_store.py), so the fake the handler tests trust cannot drift
from the SQL.

A subclass gives `make_uow()` (a fresh `AuditUnitOfWork` as the service starts it: the
default templates seeded) and `published(uow)` (the types of the events it has committed,
in order).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.audit.commands import (
    ChecklistAnswer,
    CompleteAudit,
    GradeArea,
    GradeAudit,
    ModerateAudit,
    ResolveConcern,
)
from services.audit.domain import (
    Audit,
    AuditStatus,
    Concern,
    ConcernStatus,
    EvidenceAudit,
    InspectionFinding,
    OverallGradeRule,
)
from services.audit.store import AuditQuery, ConcernQuery, FindingQuery
from services.audit.templates import DEFAULT_TEMPLATES, EHCP_AREAS, EHCP_CHECKLIST, Template, TemplateArea
from shared.events import AuditType, ConcernOutcome, Grade, InspectionBody
from shared.pseudonym import PSEUDONYM_PATTERN

AT = datetime(2022, 9, 1, 9, 0, tzinfo=UTC)
SEND = next(t for t in DEFAULT_TEMPLATES if t.template_id == "case-file-send")


def audit(audit_id: str = "audit-1", **changes: Any) -> Audit:
    base: dict[str, Any] = {
        "audit_id": audit_id,
        "case_reference": "MOS/0042117",
        "case_ref": "k1:0123456789abcdef",
        "service_area": "send",
        "team": "send-0-14",
        "audit_type": AuditType.ROUTINE,
        "theme": None,
        "concern_id": None,
        "template_id": SEND.template_id,
        "areas": tuple(TemplateArea(a.key, a.title) for a in SEND.areas),
        "auditor_id": "auditor-1",
        "due_date": date(2022, 9, 30),
        "scheduled_by": "qa-manager",
        "scheduled_at": AT,
    }
    return Audit(**(base | changes))


def concern(concern_id: str = "concern-1", **changes: Any) -> Concern:
    base: dict[str, Any] = {
        "concern_id": concern_id,
        "service_area": "send",
        "theme": "management_oversight",
        "description": "oversight of SEND cases is not evident on file",
        "measures": ["monthly case supervision"],
        "raised_at": AT,
        "review_by": date(2022, 12, 1),
        "raised_by": "qa-manager",
    }
    return Concern(**(base | changes))


def template(template_id: str = "tpl-1", **changes: Any) -> Template:
    base: dict[str, Any] = {
        "template_id": template_id,
        "name": f"send oversight {template_id}",
        "service_area": "send",
        "audit_type": AuditType.THEMED,
        "areas": (TemplateArea("management_oversight", "Management oversight", "look for supervision notes"),),
        "is_default": False,
        "created_by": "qa-manager",
        "created_at": AT,
    }
    return Template(**(base | changes))


def graded(a: Audit, grade: Grade = Grade.GOOD, *, by: str = "auditor-1", at: datetime = AT) -> Audit:
    a.grade(
        GradeAudit(grades=[GradeArea(area=k, grade=grade, rationale=f"{k}: seen") for k in a.area_keys]),
        graded_by=by,
        now=at,
    )
    return a


class AuditStoreContract:
    """What the audit repositories and their unit of work must do."""

    async def make_uow(self) -> Any:
        raise NotImplementedError

    async def published(self, uow: Any) -> list[str]:
        raise NotImplementedError

    # ----------------------------------------------------------------------- templates

    async def test_the_default_templates_are_there_from_the_start(self) -> None:
        uow = await self.make_uow()
        async with uow:
            for seeded in DEFAULT_TEMPLATES:
                found = await uow.templates.get(seeded.template_id)
                assert found is not None and found.created_at is not None
                assert replace(found, created_at=None) == seeded

    async def test_an_added_template_reads_back_unchanged(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.templates.add(template())
        async with uow:
            assert await uow.templates.get("tpl-1") == template()
            assert await uow.templates.get("tpl-2") is None

    async def test_adding_a_taken_name_stores_nothing_and_keeps_the_default(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.templates.add(template("tpl-1", is_default=True))
            assert not await uow.templates.add(template("tpl-2", name="send oversight tpl-1", is_default=True))
        async with uow:
            assert await uow.templates.get("tpl-2") is None
            assert await uow.templates.get("tpl-1") == template("tpl-1", is_default=True)

    async def test_a_new_default_takes_over_from_the_old_one_of_its_area_and_type(self) -> None:
        uow = await self.make_uow()
        async with uow:
            assert await uow.templates.add(template("tpl-1", is_default=True))
            assert await uow.templates.add(template("tpl-2", is_default=True))
        async with uow:
            assert await uow.templates.get("tpl-1") == template("tpl-1", is_default=False)
            assert await uow.templates.get("tpl-2") == template("tpl-2", is_default=True)
            general = await uow.templates.get("case-file-send")  # another type's default: untouched
            assert general is not None and general.is_default

    async def test_find_filters_and_orders_templates(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.templates.add(template("tpl-b", name="b send themed"))
            await uow.templates.add(template("tpl-a", name="a send themed"))
            await uow.templates.add(template("tpl-c", name="c send themed", is_default=True))
            await uow.templates.add(template("tpl-d", name="d fostering", service_area="fostering"))
        async with uow:
            send = [t.template_id for t in await uow.templates.find(service_area="send")]
            assert send == ["case-file-send", "ehcp-send", "tpl-c", "tpl-a", "tpl-b"]
            themed = [t.template_id for t in await uow.templates.find(audit_type=AuditType.THEMED)]
            assert themed == ["tpl-d", "tpl-c", "tpl-a", "tpl-b"]
            every = await uow.templates.find()
            assert [t.service_area for t in every] == sorted(t.service_area for t in every)
            assert len(every) == len(DEFAULT_TEMPLATES) + 4

    # ----------------------------------------------------------------------- audits

    async def test_an_added_audit_reads_back_unchanged(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.audits.add(audit())
        async with uow:
            assert await uow.audits.get("audit-1") == audit()
            assert await uow.audits.get("audit-1", for_update=True) == audit()
            assert await uow.audits.get("audit-2") is None

    async def test_grading_completing_and_moderating_read_back_after_each_save(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.audits.add(audit())
        expected = audit()
        steps = [
            lambda a: graded(a, Grade.REQUIRES_IMPROVEMENT),
            lambda a: graded(a, Grade.GOOD, by="auditor-2", at=AT + timedelta(hours=1)),  # re-graded
            lambda a: a.complete(
                CompleteAudit(), OverallGradeRule.WORST, completed_by="auditor-2", now=AT + timedelta(days=1)
            ),
            lambda a: a.moderate(
                ModerateAudit(overall_grade=Grade.OUTSTANDING, reason="practice is outstanding"),
                moderator_id="moderator-1",
                now=AT + timedelta(days=2),
            ),
            lambda a: a.moderate(
                ModerateAudit(overall_grade=Grade.GOOD, reason="on a third reading, good"),
                moderator_id="moderator-2",
                now=AT + timedelta(days=3),
            ),
        ]
        for step in steps:
            async with uow:
                found = await uow.audits.get("audit-1", for_update=True)
                step(found)
                step(expected)
                await uow.audits.save(found)
            async with uow:
                assert await uow.audits.get("audit-1") == expected
        assert expected.status is AuditStatus.COMPLETED and expected.current_grade is Grade.GOOD
        assert [m.moderator_id for m in expected.moderations] == ["moderator-1", "moderator-2"]
        assert {j.graded_by for j in expected.grades.values()} == {"auditor-2"}

    async def test_find_filters_orders_by_due_date_and_pages(self) -> None:
        uow = await self.make_uow()
        today = date(2022, 10, 10)
        async with uow:
            await uow.concerns.add(concern())
            await uow.audits.add(audit("a", due_date=date(2022, 10, 1)))
            await uow.audits.add(audit("b", due_date=date(2022, 9, 20), team="other", auditor_id="auditor-2"))
            await uow.audits.add(
                audit("c", due_date=date(2022, 10, 20), audit_type=AuditType.TARGETED, concern_id="concern-1")
            )
            await uow.audits.add(graded(audit("d", due_date=date(2022, 9, 25))))
            await uow.audits.add(audit("e", due_date=date(2022, 9, 25), service_area="fostering"))
        async with uow:
            done = await uow.audits.get("d", for_update=True)
            done.complete(CompleteAudit(), OverallGradeRule.WORST, completed_by="auditor-1", now=AT)
            await uow.audits.save(done)
        async with uow:

            async def ids(**filters: Any) -> list[str]:
                return [a.audit_id for a in await uow.audits.find(AuditQuery(today=today, **filters))]

            assert await ids() == ["b", "d", "e", "a", "c"]
            assert await ids(status="open") == ["b", "e", "a", "c"]
            assert await ids(status="overdue") == ["b", "e", "a"]
            assert await ids(status="completed") == ["d"]
            assert await ids(status="scheduled") == ["b", "e", "a", "c"]
            assert await ids(status="in_progress") == []
            assert await ids(team="other") == ["b"]
            assert await ids(auditor_id="auditor-2") == ["b"]
            assert await ids(service_area="fostering") == ["e"]
            assert await ids(audit_type=AuditType.TARGETED) == ["c"]
            assert await ids(concern_id="concern-1") == ["c"]
            assert await ids(due_by=date(2022, 9, 25)) == ["b", "d", "e"]
            assert await ids(due_from=date(2022, 9, 25), due_by=date(2022, 10, 1)) == ["d", "e", "a"]
            assert await ids(limit=2, offset=1) == ["d", "e"]
            [d] = await uow.audits.find(AuditQuery(today=today, status="completed"))
            assert d == await uow.audits.get("d")  # listed whole: grades and all

    async def test_evidence_and_linked_audits(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.concerns.add(concern())
            await uow.audits.add(audit("b", concern_id="concern-1", due_date=date(2022, 9, 20)))
            await uow.audits.add(audit("a", concern_id="concern-1", due_date=date(2022, 10, 1)))
            await uow.audits.add(audit("c"))
        async with uow:
            assert await uow.audits.evidence(["c", "b", "nope"]) == [
                EvidenceAudit("b", AuditStatus.SCHEDULED, "concern-1", None),
                EvidenceAudit("c", AuditStatus.SCHEDULED, None, None),
            ]
            assert await uow.audits.linked_to("concern-1") == ["b", "a"]
            assert await uow.audits.linked_to("concern-2") == []

    # ----------------------------------------------------------------------- concerns

    async def test_an_added_concern_and_its_resolution_read_back(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.concerns.add(concern())
        async with uow:
            assert await uow.concerns.get("concern-1", for_share=True) == concern()
            assert await uow.concerns.get("concern-2") is None
        expected = concern()
        evidence = {"a": EvidenceAudit("a", AuditStatus.COMPLETED, "concern-1", AT + timedelta(days=1))}
        resolve = ResolveConcern(evidence_audit_ids=["a"])
        expected.resolve(resolve, evidence, resolved_by="qa-manager", now=AT + timedelta(days=2))
        async with uow:
            found = await uow.concerns.get("concern-1", for_update=True)
            found.resolve(resolve, evidence, resolved_by="qa-manager", now=AT + timedelta(days=2))
            await uow.concerns.save(found)
        async with uow:
            assert await uow.concerns.get("concern-1") == expected
        assert expected.status is ConcernStatus.RESOLVED and expected.evidence_audit_ids == ["a"]

    async def test_a_concern_that_did_not_work_and_the_one_superseding_it_read_back(self) -> None:
        uow = await self.make_uow()
        evidence = {"a": EvidenceAudit("a", AuditStatus.COMPLETED, "concern-1", AT + timedelta(days=1))}
        resolve = ResolveConcern(evidence_audit_ids=["a"], outcome="not_effective", reason="no change on file")
        expected = concern()
        expected.resolve(resolve, evidence, resolved_by="qa-manager", now=AT + timedelta(days=2))
        async with uow:
            await uow.concerns.add(concern())
        async with uow:
            found = await uow.concerns.get("concern-1", for_update=True)
            found.resolve(resolve, evidence, resolved_by="qa-manager", now=AT + timedelta(days=2))
            await uow.concerns.save(found)
            await uow.concerns.add(concern("concern-2", supersedes="concern-1"))
        async with uow:
            assert await uow.concerns.get("concern-1") == expected
            assert await uow.concerns.get("concern-2") == concern("concern-2", supersedes="concern-1")
        assert (expected.outcome, expected.reason) == (ConcernOutcome.NOT_EFFECTIVE, "no change on file")

    async def test_an_ehcp_audit_keeps_its_checklist_and_answers(self) -> None:
        uow = await self.make_uow()
        ehcp = audit(
            "audit-e",
            audit_type=AuditType.EHCP,
            template_id="ehcp-send",
            areas=EHCP_AREAS,
            checklist=EHCP_CHECKLIST,
        )
        async with uow:
            await uow.audits.add(ehcp)
        async with uow:
            assert await uow.audits.get("audit-e") == ehcp
            found = graded(await uow.audits.get("audit-e", for_update=True))
            answers = [ChecklistAnswer(item=c.key, met=c.key != "setting_consulted") for c in EHCP_CHECKLIST]
            found.complete(CompleteAudit(checklist=answers), OverallGradeRule.WORST, completed_by="a", now=AT)
            await uow.audits.save(found)
        async with uow:
            stored = await uow.audits.get("audit-e")
            assert stored == found and stored.procedure_compliant is False
            assert stored.checklist_answers["setting_consulted"] is False

    async def test_inspection_findings_read_back_newest_first_filtered_and_paged(self) -> None:
        uow = await self.make_uow()

        def finding(fid: str, days: int, **changes: Any) -> InspectionFinding:
            base: dict[str, Any] = {
                "finding_id": fid,
                "body": InspectionBody.OFSTED,
                "service_area": "send",
                "team": "send-0-14",
                "summary": "plans issued late",
                "recorded_at": AT + timedelta(days=days),
                "recorded_by": "qa-manager",
            }
            return InspectionFinding(**(base | changes))

        rows = [
            finding("f1", 1),
            finding("f2", 3, body=InspectionBody.CQC, team=None),
            finding("f3", 3),
            finding("f4", 2, service_area="fostering", team="fostering"),
        ]
        async with uow:
            for f in rows:
                await uow.findings.add(f)
        async with uow:
            assert await uow.findings.get("f2") == rows[1]
            assert await uow.findings.get("nope") is None

            async def ids(**filters: Any) -> list[str]:
                return [f.finding_id for f in await uow.findings.find(FindingQuery(**filters))]

            assert await ids() == ["f2", "f3", "f4", "f1"]
            assert await ids(body=InspectionBody.OFSTED) == ["f3", "f4", "f1"]
            assert await ids(service_area="send", team="send-0-14") == ["f3", "f1"]
            assert await ids(limit=2, offset=1) == ["f3", "f4"]

    async def test_find_concerns_by_status_and_service_area_ordered_by_review_date(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.concerns.add(concern("c1", review_by=date(2022, 12, 1)))
            await uow.concerns.add(concern("c2", review_by=date(2022, 11, 1), service_area="fostering"))
            await uow.concerns.add(
                concern("c3", review_by=date(2022, 10, 1), status=ConcernStatus.RESOLVED, evidence_audit_ids=["x"])
            )
        async with uow:

            async def ids(**filters: Any) -> list[str]:
                return [c.concern_id for c in await uow.concerns.find(ConcernQuery(**filters))]

            assert await ids() == ["c3", "c2", "c1"]
            assert await ids(status="open") == ["c2", "c1"]
            assert await ids(status="resolved") == ["c3"]
            assert await ids(service_area="send") == ["c3", "c1"]
            assert await ids(limit=1, offset=1) == ["c2"]

    # ----------------------------------------------------------------------- the unit of work

    async def test_the_rule_and_the_pseudonym_come_with_the_unit_of_work(self) -> None:
        uow = await self.make_uow()
        assert uow.grade_rule is OverallGradeRule.WORST  # the default setting
        first = uow.pseudonym("MOS/7000001")
        assert re.match(PSEUDONYM_PATTERN, first)
        assert uow.pseudonym(" mos/7000001 ") == first
        assert uow.pseudonym("MOS/7000002") != first
        assert "7000001" not in first

    async def test_a_clean_exit_commits_rows_and_publishes_events_in_order(self) -> None:
        uow = await self.make_uow()
        async with uow:
            await uow.concerns.add(concern())
            uow.emit(concern().raised_event(), aggregate="concern-1")
            await uow.audits.add(audit())
            uow.emit(audit().scheduled_event(), aggregate="audit-1", subject=audit().subject)
        async with uow:
            assert await uow.audits.get("audit-1") == audit()
        assert await self.published(uow) == ["ConcernRaised", "AuditScheduled"]

    async def test_an_error_rolls_back_rows_and_events(self) -> None:
        uow = await self.make_uow()
        with pytest.raises(RuntimeError, match="refused"):
            async with uow:
                await uow.concerns.add(concern())
                await uow.audits.add(audit())
                await uow.templates.add(template())
                uow.emit(audit().scheduled_event(), aggregate="audit-1")
                raise RuntimeError("refused")
        async with uow:
            assert await uow.audits.get("audit-1") is None
            assert await uow.concerns.get("concern-1") is None
            assert await uow.templates.get("tpl-1") is None
        assert await self.published(uow) == []
