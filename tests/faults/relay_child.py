"""An outbox relay in a process of its own, as a strand service runs it.

    python -m tests.faults.relay_child SCHEMA BATCH_SIZE KILL_ON_BATCH MARKER_FILE

With KILL_ON_BATCH = N > 0 the process kills itself with SIGKILL right after its Nth
`Publisher.publish_many` returned (the broker confirmed the batch) and before the relay's
UPDATE marking the rows sent can commit — the window the outbox docstring admits ("a relay
that dies between the confirm and the commit re-sends that batch"). Before dying it writes
what it published to MARKER_FILE. With 0 it is a normal relay that stops on SIGTERM.
Settings (QALOOP_DATABASE_URL, QALOOP_AMQP_URL) come from the environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from shared import outbox
from shared.bus import OutgoingMessage, Publisher
from shared.settings import get_settings


def record(marker: Path, what: dict[str, object]) -> None:
    marker.write_text(json.dumps(what))  # a plain write: it survives the SIGKILL that follows


def die_after_publishing(batch: int, marker: Path) -> None:
    original = Publisher.publish_many
    calls = 0

    async def publish_many(self: Publisher, messages: Sequence[OutgoingMessage]) -> int:
        nonlocal calls
        confirmed = await original(self, messages)
        calls += 1
        if calls == batch:
            record(
                marker, {"batch": calls, "confirmed": confirmed, "ids": [m.message_id for m in messages[:confirmed]]}
            )
            os.kill(os.getpid(), signal.SIGKILL)
        return confirmed

    Publisher.publish_many = publish_many  # type: ignore[method-assign]


async def relay(schema: str, batch_size: int) -> None:
    settings = get_settings()
    relay = outbox.OutboxRelay(
        settings.database_url, settings.amqp_url, schema, batch_size=batch_size, poll_interval=0.2, max_backoff=1.0
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, relay.stop)
    await relay.run()


def main(argv: Sequence[str]) -> int:
    schema, batch_size, kill_on_batch, marker = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if kill_on_batch > 0:
        die_after_publishing(kill_on_batch, marker)
    asyncio.run(relay(schema, batch_size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
