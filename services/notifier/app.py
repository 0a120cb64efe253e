"""Wiring of the notifier (HTTP port 8005): settings → StrandService (schema, pool, health,
metrics, limits, error mapping) → the FastStream broker with the notifier's subscribers →
the daily digest timer → `app.state.unit_of_work` → the /v1 router.

`service` and `app` are built at import time without touching the network; the app's
lifespan (or `await service.start()`) migrates, connects and starts consuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream.rabbit import RabbitBroker

from services.notifier import api, handlers
from services.notifier.consumer import BusDeadLetters, Notifier, build_broker
from services.notifier.domain import Mailer, Policy
from services.notifier.mailers import mailer_for
from services.notifier.settings import NotifierSettings, get_notifier_settings
from services.notifier.store import PostgresNotifierUnitOfWork
from shared.bus import amqp_urls, connect, ensure_topology, reachable_node
from shared.calendar import LONDON
from shared.service import StrandService
from shared.trust import DEFAULT_BUS_SOURCES, IntakeChecks

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
REPORTING_SOURCE = "/qaloop/reporting"


def policy_of(settings: NotifierSettings) -> Policy:
    return Policy(settings.public_url, settings.notify_digest, settings.notify_late_days)


def trust_of(settings: NotifierSettings) -> IntakeChecks:
    """Who may publish what the notifier reads: the strands their ActionRaised (as for
    reporting, `QALOOP_BUS_SOURCES`), reporting its follow-ups."""
    sources = dict(DEFAULT_BUS_SOURCES if settings.bus_sources is None else settings.bus_sources)
    sources.setdefault(REPORTING_SOURCE, {"events": ["reporting"]})
    return IntakeChecks(
        sources,
        tenants=settings.bus_tenants,
        key_ids=[settings.pseudonym_key_id, *settings.pseudonym_accepted_key_ids],
    )


@dataclass
class NotifierService(StrandService):
    """A StrandService (no outbox relay: the notifier publishes nothing) plus its subscribers
    and the digest timer."""

    name: str = "notifier"
    migrations_dir: Path = MIGRATIONS
    settings: NotifierSettings = field(default_factory=get_notifier_settings)
    multi_tenant: bool = True  # every tenant on the bus; routes answer for the token's tenant
    mailer: Mailer | None = None
    consume: bool = True
    send_digests: bool = True  # the daily digest timer (the CLI's one-off runs go without)
    digest_interval: float = 60.0
    # FastStream's broker reconnects to its one node only: with a cluster's nodes in the AMQP
    # setting, a broker that has been disconnected for `node_lost_after` s (checked every
    # `node_check_interval` s) is rebuilt on the first node that accepts (`follow_the_cluster`).
    node_check_interval: float = 1.0
    node_lost_after: float = 5.0
    broker: RabbitBroker | None = None
    dead_letters: BusDeadLetters | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mailer is None:
            self.mailer = mailer_for(self.settings)

    @property
    def policy(self) -> Policy:
        return policy_of(self.settings)

    def unit_of_work(self) -> PostgresNotifierUnitOfWork:
        return PostgresNotifierUnitOfWork(self)

    def notifier(self) -> Notifier:
        assert self.mailer is not None
        return Notifier(
            unit_of_work=self.unit_of_work,
            mailer=self.mailer,
            policy=self.policy,
            checks=trust_of(self.settings),
            max_message_bytes=self.settings.max_message_bytes,
        )

    async def start(self, *, relay: bool = False) -> None:
        await super().start(relay=False)
        if self.consume:
            connection = await connect(self.amqp_url)  # declare (or, least privilege, check) the topology
            try:
                await ensure_topology(connection, delivery_limit=self.settings.delivery_limit)
            finally:
                await connection.close()
            self.dead_letters = BusDeadLetters(self.amqp_url)
            await self.start_subscribers()
            if len(amqp_urls(self.amqp_url)) > 1:
                self._tasks.append(asyncio.create_task(self.follow_the_cluster(), name="notifier-cluster"))
        if self.send_digests:
            self._tasks.append(asyncio.create_task(self._digests(), name="notifier-digests"))

    async def start_subscribers(self) -> None:
        """The subscribers on the first node of the AMQP setting that accepts now."""
        assert self.dead_letters is not None
        node = await reachable_node(self.amqp_url)
        self.broker = build_broker(node, self.notifier(), self.dead_letters, prefetch=self.settings.notify_prefetch)
        await self.broker.start()

    async def follow_the_cluster(self) -> None:
        """Move the subscribers to a surviving node once theirs has been gone for
        `node_lost_after` s; until one accepts, try again at every check. Messages the old
        connection held unacknowledged come back, as after any reconnect."""
        lost_since: float | None = None
        while True:
            await asyncio.sleep(self.node_check_interval)
            if self.broker is not None and await self.broker.ping(timeout=1):
                lost_since = None
                continue
            now = time.monotonic()
            lost_since = now if lost_since is None else lost_since
            if now - lost_since < self.node_lost_after:
                continue
            old, self.broker = self.broker, None
            if old is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.stop(), 5)
            try:
                await self.start_subscribers()
            except Exception as exc:
                log.warning("notifier: no broker node accepts the subscribers: %s; trying again", exc)
                continue
            log.warning("notifier: its broker node was lost; the subscribers moved to another node")
            lost_since = None

    async def _digests(self) -> None:
        """From `QALOOP_NOTIFY_DIGEST_HOUR` (London) each day, send the day's digests (once per
        address per day, whichever replica gets there first)."""
        assert self.mailer is not None
        while True:
            now = datetime.now(UTC).astimezone(LONDON)
            if now.hour >= self.settings.notify_digest_hour:
                try:
                    await handlers.send_digests(self.unit_of_work(), now.date(), mailer=self.mailer, policy=self.policy)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("sending the daily digests failed; will try again")
            await asyncio.sleep(self.digest_interval)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        if self.dead_letters is not None:
            await self.dead_letters.close()
        await super().stop()

    async def readiness(self) -> dict[str, str]:
        """Broker, database and migrations (StrandService), and the subscribers connected."""
        checks = await super().readiness()
        if self.consume:
            connected = self.broker is not None and await self.broker.ping(timeout=2)
            checks["consumer"] = "ok" if connected else "not consuming"
        return checks

    def build_app(self) -> FastAPI:
        app = self.create_app(
            [api.router],
            title="qaloop notifier",
            description="E-mails the people who must act on a follow-up that is due or overdue "
            "(the action's owner, the team's manager), once each; its recipient directory and notices.",
            body_limits={"/v1/recipients": self.settings.max_import_bytes},
        )
        app.state.unit_of_work = self.unit_of_work
        return app


def build(settings: NotifierSettings | None = None, **kwargs: Any) -> tuple[NotifierService, FastAPI]:
    """A fresh service and its FastAPI app (nothing connects until `start`)."""
    service = NotifierService(settings=settings or get_notifier_settings(), **kwargs)
    return service, service.build_app()


service, app = build()
