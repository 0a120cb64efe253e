"""The audit strand's in-memory repositories and unit of work (services/audit/store.py's
twins, held to the same contract: tests/support/contracts_audit.py).

Records are copied in and out, as a database would: a handler's changes to a record it
loaded reach the store only through `save`."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from services.audit.domain import Audit, Concern, EvidenceAudit, InspectionFinding, OverallGradeRule
from services.audit.store import AuditQuery, ConcernQuery, FindingQuery
from services.audit.templates import DEFAULT_TEMPLATES, Template
from shared.events import AuditType
from shared.pseudonym import pseudonymise
from tests.fakes.actions import FakeActions
from tests.fakes.uow import NOW, FakeUnitOfWork

PSEUDONYM_KEY = "the fake audit service's pseudonym key"
R = TypeVar("R")


def _copy(record: R) -> R:
    return copy.deepcopy(record)


@dataclass
class FakeTemplates:
    rows: dict[str, Template] = field(default_factory=dict)

    async def add(self, template: Template) -> bool:
        if any(t.name == template.name for t in self.rows.values()):
            return False
        if template.is_default:
            for t in self.rows.values():
                if t.is_default and (t.service_area, t.audit_type) == (template.service_area, template.audit_type):
                    self.rows[t.template_id] = replace(t, is_default=False)
        self.rows[template.template_id] = template
        return True

    async def get(self, template_id: str) -> Template | None:
        return self.rows.get(template_id)

    async def find(self, *, service_area: str | None = None, audit_type: AuditType | None = None) -> list[Template]:
        found = [
            t
            for t in self.rows.values()
            if service_area in (None, t.service_area) and (audit_type is None or t.audit_type == audit_type)
        ]
        return sorted(
            found,
            key=lambda t: (t.service_area, t.audit_type is not None, t.audit_type or "", not t.is_default, t.name),
        )


@dataclass
class FakeAudits:
    rows: dict[str, Audit] = field(default_factory=dict)

    async def add(self, audit: Audit) -> None:
        if audit.audit_id in self.rows:
            raise KeyError(f"audit {audit.audit_id!r} is stored already")
        self.rows[audit.audit_id] = _copy(audit)

    async def get(self, audit_id: str, *, for_update: bool = False) -> Audit | None:
        return _copy(self.rows.get(audit_id))

    async def save(self, audit: Audit) -> None:
        self.rows[audit.audit_id] = _copy(audit)

    async def find(self, query: AuditQuery) -> list[Audit]:
        found = sorted((a for a in self.rows.values() if query.matches(a)), key=lambda a: (a.due_date, a.audit_id))
        return _copy(found[query.offset : query.offset + query.limit])

    async def evidence(self, audit_ids: Sequence[str]) -> list[EvidenceAudit]:
        return [
            EvidenceAudit(a.audit_id, a.status, a.concern_id, a.completed_at)
            for a in sorted(self.rows.values(), key=lambda a: a.audit_id)
            if a.audit_id in audit_ids
        ]

    async def linked_to(self, concern_id: str) -> list[str]:
        linked = sorted(
            (a for a in self.rows.values() if a.concern_id == concern_id), key=lambda a: (a.due_date, a.audit_id)
        )
        return [a.audit_id for a in linked]


@dataclass
class FakeConcerns:
    rows: dict[str, Concern] = field(default_factory=dict)

    async def add(self, concern: Concern) -> None:
        if concern.concern_id in self.rows:
            raise KeyError(f"concern {concern.concern_id!r} is stored already")
        self.rows[concern.concern_id] = _copy(concern)

    async def get(self, concern_id: str, *, for_update: bool = False, for_share: bool = False) -> Concern | None:
        return _copy(self.rows.get(concern_id))

    async def save(self, concern: Concern) -> None:
        self.rows[concern.concern_id] = _copy(concern)

    async def find(self, query: ConcernQuery) -> list[Concern]:
        found = sorted((c for c in self.rows.values() if query.matches(c)), key=lambda c: (c.review_by, c.concern_id))
        return _copy(found[query.offset : query.offset + query.limit])


@dataclass
class FakeFindings:
    rows: dict[str, InspectionFinding] = field(default_factory=dict)

    async def add(self, finding: InspectionFinding) -> None:
        if finding.finding_id in self.rows:
            raise KeyError(f"finding {finding.finding_id!r} is stored already")
        self.rows[finding.finding_id] = finding

    async def get(self, finding_id: str) -> InspectionFinding | None:
        return self.rows.get(finding_id)

    async def find(self, query: FindingQuery) -> list[InspectionFinding]:
        found = sorted((f for f in self.rows.values() if query.matches(f)), key=lambda f: f.finding_id)
        found.sort(key=lambda f: f.recorded_at, reverse=True)  # newest first, then id
        return found[query.offset : query.offset + query.limit]


class FakeAuditUnitOfWork(FakeUnitOfWork):
    """`AuditUnitOfWork` in memory, holding the seeded default templates (as the service
    does once started) unless given others."""

    repositories = ("templates", "audits", "concerns", "findings", "actions")

    def __init__(
        self,
        now: datetime = NOW,
        *,
        grade_rule: OverallGradeRule = OverallGradeRule.WORST,
        templates: Iterable[Template] = DEFAULT_TEMPLATES,
    ) -> None:
        super().__init__(now)
        self.grade_rule = grade_rule
        self.templates = FakeTemplates({t.template_id: replace(t, created_at=now) for t in templates})
        self.audits = FakeAudits()
        self.concerns = FakeConcerns()
        self.findings = FakeFindings()
        self.actions = FakeActions()

    def pseudonym(self, case_reference: str) -> str:
        return pseudonymise(case_reference, PSEUDONYM_KEY)
