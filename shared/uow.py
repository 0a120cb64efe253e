"""The unit of work: one transaction of a strand, its repositories and the events it emits.

Every strand's use cases (`handlers.py`) take a `UnitOfWork` and run inside `async with uow:`;
they read and write through the repositories it holds (`uow.audits`, `uow.actions`, …) and
call `uow.emit(event)` for what happened. Leaving the block without an error writes the
events to the outbox and commits, all in one transaction; an error rolls everything back.

`PostgresUnitOfWork` is the real one (a strand's `store.py` subclasses it to add its
repositories); the unit tests use an in-memory fake with the same Protocol
(`tests/fakes/`), and one store contract suite runs against both (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

import asyncpg

from shared.calendar import london_date
from shared.events import CloudEvent, EventData

if TYPE_CHECKING:
    from shared.service import StrandService

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Emitted:
    """An event a use case emitted, waiting for the commit."""

    data: EventData
    aggregate: str
    subject: str | None = None
    time: datetime | None = None
    actor: str | None = None


class UnitOfWork(Protocol):
    """What every strand's handlers need of a unit of work (its repositories come on top)."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def emit(
        self,
        data: EventData,
        *,
        aggregate: str,
        subject: str | None = None,
        time: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        """Publish `data` if (and only if) this unit of work commits. `aggregate` orders the
        events of one record (the CloudEvents `sequence`); `time` is when the fact happened
        (default: the event's own time field, else now)."""

    def now(self) -> datetime:
        """The service's clock (UTC)."""

    def today(self) -> date:
        """Today in London."""


class PostgresUnitOfWork:
    """A transaction on the strand's pool; events go to its outbox before the commit.

    Subclasses bind their repositories to the connection in `bind`, and may record what
    each emitted event did in `recorded` (complaints keep a history)."""

    def __init__(self, service: StrandService, clock: Clock = utc_now) -> None:
        self.service = service
        self._clock = clock
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._pending: list[Emitted] = []

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside `async with uow:`")
        return self._conn

    def bind(self, conn: asyncpg.Connection) -> None:
        """Create the repositories over `conn` (a subclass's)."""

    async def recorded(self, event: CloudEvent, emitted: Emitted) -> None:
        """After `event` is in the outbox, in the same transaction (a subclass's)."""

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work is entered once at a time")
        if self.service.pool is None:
            raise RuntimeError(f"{self.service.name} is not started: no pool")
        self._conn = await self.service.pool.acquire()
        try:
            self._tx = self._conn.transaction()
            await self._tx.start()
        except BaseException:
            await self.service.pool.release(self._conn)
            self._conn = None
            raise
        self._pending = []
        self.bind(self._conn)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self.conn, None
        assert self.service.pool is not None
        try:
            if exc_type is None:
                try:
                    await self._flush(conn)
                except BaseException:
                    await self._tx.rollback()
                    raise
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            self._pending = []
            await self.service.pool.release(conn)

    async def _flush(self, conn: asyncpg.Connection) -> None:
        for emitted in self._pending:
            event = await self.service.emit(
                conn, emitted.data, aggregate=emitted.aggregate, subject=emitted.subject, time=emitted.time
            )
            await self.recorded(event, emitted)

    def emit(
        self,
        data: EventData,
        *,
        aggregate: str,
        subject: str | None = None,
        time: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        if self._conn is None:
            raise RuntimeError("emit is called inside `async with uow:`")
        self._pending.append(Emitted(data, aggregate, subject, time, actor))

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> date:
        return london_date(self._clock())
