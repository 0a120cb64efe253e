"""shared.bus with a cluster's list of nodes: how the setting is split, and that `connect`
takes the first node that accepts — in order, on to a survivor — and says what every node
answered when none does."""

from __future__ import annotations

from typing import Any

import pytest

from shared import bus
from shared.ops import vhost_of

A = "amqp://qa:pw@rmq-0:5672/qaloop"
B = "amqp://qa:pw@rmq-1:5672/qaloop"
C = "amqps://qa:pw@rmq-2:5671/qaloop"


def test_one_url_is_one_node():
    assert bus.amqp_urls(A) == [A]
    assert bus.amqp_urls(f"  {A}\n") == [A]


def test_several_urls_separated_by_commas_in_order():
    assert bus.amqp_urls(f"{A},{B},{C}") == [A, B, C]
    assert bus.amqp_urls(f"{A}, {B} ,\n{C},") == [A, B, C]


def test_a_comma_inside_a_password_does_not_split():
    odd = "amqp://qa:p,w%2Cx@rmq-0:5672/qaloop"
    assert bus.amqp_urls(f"{odd},{B}") == [odd, B]


def test_an_empty_setting_is_refused():
    with pytest.raises(ValueError, match="no AMQP URL"):
        bus.amqp_urls(" , ")


def test_the_vhost_of_a_cluster_is_its_first_url_s():
    assert vhost_of(f"{A},{B}") == "qaloop"


class FakeBroker:
    """aio_pika.connect for a set of nodes that are down (refuse at once)."""

    def __init__(self, down: set[str]) -> None:
        self.down = down
        self.tried: list[str] = []

    async def __call__(self, url: str, **kwargs: Any) -> str:
        self.tried.append(url)
        assert kwargs["timeout"] > 0, "every node gets a bounded time to answer"
        if url in self.down:
            raise ConnectionRefusedError(111, f"Connect call failed {url.rpartition('@')[2]}")
        return f"connection to {url}"


async def test_connect_takes_the_first_node_that_accepts(monkeypatch):
    broker = FakeBroker(down=set())
    monkeypatch.setattr(bus.aio_pika, "connect", broker)
    assert await bus.connect(f"{A},{B},{C}") == f"connection to {A}"
    assert broker.tried == [A]


async def test_connect_moves_on_to_a_survivor(monkeypatch):
    broker = FakeBroker(down={A, B})
    monkeypatch.setattr(bus.aio_pika, "connect", broker)
    assert await bus.connect(f"{A},{B},{C}") == f"connection to {C}"
    assert broker.tried == [A, B, C]


async def test_when_no_node_accepts_the_last_error_names_every_node(monkeypatch):
    broker = FakeBroker(down={A, B, C})
    monkeypatch.setattr(bus.aio_pika, "connect", broker)
    with pytest.raises(ConnectionRefusedError) as raised:
        await bus.connect(f"{A},{B},{C}")
    note = " ".join(getattr(raised.value, "__notes__", []))
    assert "rmq-0:5672/qaloop" in note and "rmq-1:5672/qaloop" in note and "rmq-2:5671/qaloop" in note
    assert "pw" not in note, "no credentials in the message"
    assert broker.tried == [A, B, C]


async def test_one_node_down_raises_its_own_error_unchanged(monkeypatch):
    broker = FakeBroker(down={A})
    monkeypatch.setattr(bus.aio_pika, "connect", broker)
    with pytest.raises(ConnectionRefusedError) as raised:
        await bus.connect(A)
    assert not getattr(raised.value, "__notes__", [])
