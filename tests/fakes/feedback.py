"""The in-memory feedback repositories and unit of work (services/feedback/store.py's twins):
the same Protocols, so the handlers run on them in milliseconds. The store contract suite
(tests/support/contracts_feedback.py) runs against these and against PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.feedback.domain.compliments import Compliment
from services.feedback.domain.responses import SurveyResponse
from services.feedback.domain.surveys import SurveyVersion
from services.feedback.domain.tallies import AnswerCounts
from services.feedback.domain.you_said_we_did import YouSaidWeDid
from services.feedback.store import LISTED
from shared.calendar import london_date
from shared.events import ComplimentOrigin
from tests.fakes.actions import FakeActions
from tests.fakes.uow import NOW, FakeUnitOfWork


def _within(when: datetime, start: date | None, end: date | None) -> bool:
    """Received (London date) in [start, end], as the SQL reads it."""
    day = london_date(when)
    return (start is None or day >= start) and (end is None or day <= end)


def _newest_first(records: list[Any], when: str, ident: str) -> list[Any]:
    """Sorted as `ORDER BY <when> DESC, <ident>`, and at most `LISTED` of them."""
    records.sort(key=lambda r: getattr(r, ident))
    records.sort(key=lambda r: getattr(r, when), reverse=True)  # stable: ids stay ascending
    return records[:LISTED]


@dataclass
class FakeSurveys:
    versions: dict[str, list[SurveyVersion]] = field(default_factory=dict)
    published_by: dict[tuple[str, int], str] = field(default_factory=dict)

    async def lock(self, survey_id: str) -> None:
        """One unit of work at a time: nothing to serialise."""

    async def add(self, survey: SurveyVersion, *, published_by: str) -> None:
        key = (survey.survey_id, survey.version)
        if key in self.published_by:
            raise AssertionError(f"survey {key} is stored twice (a primary key violation)")
        self.versions.setdefault(survey.survey_id, []).append(survey)
        self.published_by[key] = published_by

    async def get(self, survey_id: str, version: int | None = None) -> SurveyVersion | None:
        history = await self.history(survey_id)
        if version is None:
            return history[-1] if history else None
        return next((v for v in history if v.version == version), None)

    async def history(self, survey_id: str) -> list[SurveyVersion]:
        return sorted(self.versions.get(survey_id, []), key=lambda v: v.version)

    async def latest(self, *, service_area: str | None = None) -> list[SurveyVersion]:
        latest = [max(versions, key=lambda v: v.version) for _, versions in sorted(self.versions.items())]
        return [v for v in latest if service_area is None or v.service_area == service_area]


@dataclass
class FakeResponses:
    rows: dict[str, SurveyResponse] = field(default_factory=dict)
    recorded_by: dict[str, str] = field(default_factory=dict)

    async def add(self, response: SurveyResponse, *, recorded_by: str) -> bool:
        if response.response_id in self.rows:
            return False
        self.rows[response.response_id] = response
        self.recorded_by[response.response_id] = recorded_by
        return True

    async def get(self, response_id: str) -> SurveyResponse | None:
        return self.rows.get(response_id)

    async def fingerprints(self, response_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.rows[i].fingerprint for i in response_ids if i in self.rows}

    async def service_areas(self, response_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.rows[i].service_area for i in response_ids if i in self.rows}

    async def answer_counts(self, survey_id: str, start: date | None, end: date | None) -> AnswerCounts:
        found = [r for r in self.rows.values() if r.survey_id == survey_id and _within(r.received_at, start, end)]
        counts: dict[str, dict[str, int]] = {}
        for response in found:
            for a in response.answers:
                value = "text" if a.is_free_text else str(a.value)
                by_value = counts.setdefault(a.question.reported_as, {})
                by_value[value] = by_value.get(value, 0) + 1
        return AnswerCounts(len(found), counts)


@dataclass
class FakeCompliments:
    rows: dict[str, Compliment] = field(default_factory=dict)

    async def add(self, compliment: Compliment, *, recorded_by: str) -> bool:
        if compliment.compliment_id in self.rows:
            return False
        self.rows[compliment.compliment_id] = compliment
        return True

    async def get(self, compliment_id: str) -> Compliment | None:
        return self.rows.get(compliment_id)

    async def find(
        self,
        *,
        service_area: str | None = None,
        origin: ComplimentOrigin | None = None,
        team: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[Compliment]:
        wanted = {"service_area": service_area, "origin": origin, "team": team}
        found = [
            c
            for c in self.rows.values()
            if all(v is None or getattr(c, k) == v for k, v in wanted.items()) and _within(c.received_at, start, end)
        ]
        return _newest_first(found, "received_at", "compliment_id")


@dataclass
class FakeYouSaidWeDid:
    rows: dict[str, YouSaidWeDid] = field(default_factory=dict)

    async def add(self, item: YouSaidWeDid, *, recorded_by: str) -> bool:
        if item.item_id in self.rows:
            return False
        self.rows[item.item_id] = item
        return True

    async def get(self, item_id: str) -> YouSaidWeDid | None:
        return self.rows.get(item_id)

    async def find(self, *, service_area: str | None = None, theme: str | None = None) -> list[YouSaidWeDid]:
        found = [
            y
            for y in self.rows.values()
            if (service_area is None or y.service_area == service_area) and (theme is None or y.theme == theme)
        ]
        return _newest_first(found, "published_at", "item_id")


class FakeFeedbackUnitOfWork(FakeUnitOfWork):
    """services.feedback.store.FeedbackUnitOfWork, in memory."""

    repositories = ("surveys", "responses", "compliments", "you_said_we_did", "actions")

    def __init__(self, now: datetime = NOW) -> None:
        super().__init__(now)
        self.surveys = FakeSurveys()
        self.responses = FakeResponses()
        self.compliments = FakeCompliments()
        self.you_said_we_did = FakeYouSaidWeDid()
        self.actions = FakeActions()
