"""The notifier on a RabbitMQ cluster: FastStream's broker reconnects to its one node only,
so the service moves its subscribers to a surviving node once theirs has been gone a while
(`NotifierService.follow_the_cluster`), on fakes of the broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.notifier import app as notifier_app
from services.notifier.app import NotifierService
from services.notifier.settings import NotifierSettings

A = "amqp://n:pw@rmq-0:5672/qaloop"
B = "amqp://n:pw@rmq-1:5672/qaloop"


class FakeBroker:
    def __init__(self, url: str, nodes: dict[str, bool]) -> None:
        self.url, self.nodes = url, nodes
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def ping(self, timeout: float) -> bool:
        return self.nodes[self.url]


@pytest.fixture
def cluster(monkeypatch) -> dict[str, Any]:
    """Nodes A and B, both up; `built` lists every broker the service builds."""
    state: dict[str, Any] = {"nodes": {A: True, B: True}, "built": []}

    async def reachable_node(url: str, **_: Any) -> str:
        for node in url.split(","):
            if state["nodes"][node]:
                return node
        raise ConnectionRefusedError("no node up")

    def build_broker(url: str, *_: Any, **__: Any) -> FakeBroker:
        broker = FakeBroker(url, state["nodes"])
        state["built"].append(broker)
        return broker

    monkeypatch.setattr(notifier_app, "reachable_node", reachable_node)
    monkeypatch.setattr(notifier_app, "build_broker", build_broker)
    return state


def service() -> NotifierService:
    settings = NotifierSettings(amqp_url=f"{A},{B}", public_url="https://qa.council.example")
    notifier = NotifierService(settings=settings, send_digests=False, node_check_interval=0.01, node_lost_after=0.05)
    notifier.dead_letters = object()  # type: ignore[assignment]  # never used by the fakes
    return notifier


async def test_the_subscribers_start_on_the_first_node_that_accepts(cluster):
    cluster["nodes"][A] = False
    notifier = service()
    await notifier.start_subscribers()
    assert [b.url for b in cluster["built"]] == [B]
    assert cluster["built"][0].started


async def test_a_lost_node_is_left_for_a_survivor_after_a_while(cluster):
    notifier = service()
    await notifier.start_subscribers()
    follow = asyncio.create_task(notifier.follow_the_cluster())
    try:
        await asyncio.sleep(0.1)
        assert len(cluster["built"]) == 1, "while its node is up the broker stays"
        cluster["nodes"][A] = False
        await asyncio.sleep(0.3)
        first, *rest = cluster["built"]
        assert first.stopped
        assert [b.url for b in rest] == [B] and rest[0].started
        assert notifier.broker is rest[0]
    finally:
        follow.cancel()


async def test_while_no_node_accepts_it_keeps_trying(cluster):
    notifier = service()
    await notifier.start_subscribers()
    cluster["nodes"][A] = False
    cluster["nodes"][B] = False
    follow = asyncio.create_task(notifier.follow_the_cluster())
    try:
        await asyncio.sleep(0.2)
        assert notifier.broker is None and len(cluster["built"]) == 1
        cluster["nodes"][B] = True
        await asyncio.sleep(0.2)
        assert notifier.broker is not None and notifier.broker.url == B  # type: ignore[attr-defined]
    finally:
        follow.cancel()
