"""The in-memory unit of work every strand's fake builds on (shared/uow.py's Protocol)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

from shared.calendar import london_date
from shared.events import CloudEvent, EventData, new_event
from shared.uow import Emitted

NOW = datetime(2022, 9, 30, 11, 0, tzinfo=UTC)


class FakeUnitOfWork:
    """Repositories are plain attributes listed in `repositories`; entering snapshots them,
    an error restores the snapshot (a rollback), a clean exit publishes what was emitted
    (`published`, in order) and counts a commit. As PostgresUnitOfWork, a subclass may
    record what each published event did in `recorded` (before the commit)."""

    repositories: tuple[str, ...] = ()

    def __init__(self, now: datetime = NOW) -> None:
        self.clock = now
        self.published: list[Emitted] = []
        self.commits = 0
        self.rollbacks = 0
        self._pending: list[Emitted] | None = None
        self._snapshot: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        if self._pending is not None:
            raise RuntimeError("a unit of work is entered once at a time")
        self._pending = []
        self._snapshot = {name: copy.deepcopy(getattr(self, name)) for name in self.repositories}
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pending, self._pending = self._pending or [], None
        if exc_type is None:
            try:
                for emitted in pending:
                    await self.recorded(self._cloud_event(emitted), emitted)
            except BaseException:
                self._roll_back()
                raise
            self.published.extend(pending)
            self.commits += 1
        else:
            self._roll_back()

    def _roll_back(self) -> None:
        for name, state in self._snapshot.items():
            setattr(self, name, state)
        self.rollbacks += 1

    def _cloud_event(self, emitted: Emitted) -> CloudEvent:
        return new_event(emitted.data, source="/qaloop/fake", tenant="fake", subject=emitted.subject, time=emitted.time)

    async def recorded(self, event: CloudEvent, emitted: Emitted) -> None:
        """After `event` is published, before the commit (a subclass's)."""

    def emit(
        self,
        data: EventData,
        *,
        aggregate: str,
        subject: str | None = None,
        time: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        if self._pending is None:
            raise RuntimeError("emit is called inside `async with uow:`")
        self._pending.append(Emitted(data, aggregate, subject, time, actor))

    def now(self) -> datetime:
        return self.clock

    def today(self) -> date:
        return london_date(self.clock)

    def events(self, event_type: str | None = None) -> list[EventData]:
        """The published events' data (of one type)."""
        return [e.data for e in self.published if event_type is None or e.data.event_type == event_type]
