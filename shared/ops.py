"""Operations: queue inspection, dead letters (list, show, replay, purge) and outbox backlog.

Used by `qaloop ops …` (services/cli.py) and by reporting's `/v1/ops` endpoints.

Queues. Figures come from RabbitMQ's management HTTP API where it answers (depth, ready,
unacked, consumers, publish and deliver rates; the API samples every few seconds), and
otherwise from an AMQP passive declare (ready messages and consumers only, exact).

Dead letters are never lost by looking at them:
- list and show take messages with basic.get *without* ack, keep every one of them unacked
  while browsing (so the broker does not hand the same one back) and then return them all
  with basic.nack requeue=true. If this process dies halfway, the broker returns the
  unacked messages itself when the channel closes. nack (not reject) is used because
  RabbitMQ 4.3+ counts a reject, and not a nack, against a quorum queue's delivery limit.
- replay publishes each chosen message to `qa.events` under its original routing key
  (header `x-qaloop-original-routing-key`, else the broker's `x-death`) with publisher
  confirms and `mandatory`, and acks it off the dead-letter queue only after the confirm.
  A crash between the two leaves it in the DLQ; replaying it again is harmless because
  consumers deduplicate on the CloudEvents (source, id). It handles at most the messages
  that were in the DLQ when it started, so a message that is still poison and comes back
  during the replay is not replayed in a loop.
- purge deletes what is in the DLQ (the CLI asks first).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import httpx
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from rich import box
from rich.table import Table
from rich.text import Text

from shared.bus import (
    CONSUMER_QUEUES,
    DEAD_AT_HEADER,
    EXCHANGE,
    KIND_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_QUEUE_HEADER,
    REASON_HEADER,
    REPORTING_QUEUE,
    OutgoingMessage,
    Publisher,
    QueueSpec,
    amqp_urls,
    connect,
)
from shared.db import check_identifier
from shared.inbox import decode_json

REPLAYED_AT_HEADER = "x-qaloop-replayed-at"
REPLAY_RUN_HEADER = "x-qaloop-replay-run"  # which replay sent it: a copy that comes back is not replayed again
# Headers that describe the dead-lettering, dropped when a message is replayed.
_DEAD_LETTER_HEADERS = {
    REASON_HEADER,
    KIND_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_QUEUE_HEADER,
    DEAD_AT_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
}
# Schemas whose outbox `ops lag` counts (the services that publish through an outbox).
OUTBOX_SCHEMAS = ("audit", "feedback", "complaints", "workforce", "reporting")


class UnknownQueue(ValueError):
    pass


def queue_spec(name: str) -> QueueSpec:
    """The consuming queue named `name` (its `.dlq` name is accepted too)."""
    base = name.removesuffix(".dlq")
    for spec in CONSUMER_QUEUES:
        if spec.name == base:
            return spec
    raise UnknownQueue(f"unknown queue {name!r}; one of {[s.name for s in CONSUMER_QUEUES]}")


def vhost_of(amqp_url: str) -> str:
    """The virtual host of an AMQP URL (`/` when the URL names none); of a cluster's list of
    URLs, the first one's (every node of a cluster serves the same virtual hosts)."""
    path = urllib.parse.urlsplit(amqp_urls(amqp_url)[0]).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class QueueStats:
    name: str
    source: str  # "management", "amqp", "missing" (no such queue) or "unreachable"
    messages: int | None = None  # ready + unacked where known (amqp: ready only)
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    publish_rate: float | None = None  # messages/s into the queue
    deliver_rate: float | None = None  # messages/s handed to consumers
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "messages": self.messages,
            "ready": self.ready,
            "unacked": self.unacked,
            "consumers": self.consumers,
            "publish_rate": self.publish_rate,
            "deliver_rate": self.deliver_rate,
            "error": self.error,
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# How much of a body that is not readable JSON `DeadLetter.event` shows.
EXCERPT_CHARS = 1000


# Control characters (a terminal would act on them) are shown as escapes, as bytes that are
# not UTF-8 are; newline and tab are kept.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\n\t"}


def body_excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of a message body as text, bytes that are not UTF-8 and
    control characters shown as `\\xNN` escapes, and how long the whole body is when it is cut."""
    text = body[: limit * 4].decode("utf-8", "backslashreplace").translate(_CONTROLS)
    if len(text) <= limit and len(body) <= limit * 4:
        return text
    return text[:limit] + f"… ({len(body):,} bytes)"


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the message id (the CloudEvents id), or `sha256:…` of the body where it has none
    message_id: str | None
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> DeadLetter:
        body = bytes(message.body)
        message_id = message.message_id or None
        return cls(
            id=message_id or "sha256:" + hashlib.sha256(body).hexdigest()[:16],
            message_id=message_id,
            body=body,
            headers=dict(message.headers or {}),
        )

    def _death(self) -> dict[str, Any]:
        deaths = self.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
            return deaths[0]
        return {}

    @property
    def kind(self) -> str | None:
        kind = _text(self.headers.get(KIND_HEADER))
        if kind is None and self._death():  # dead-lettered by the broker (delivery limit, …)
            return f"broker:{_text(self._death().get('reason'))}"
        return kind

    @property
    def reason(self) -> str | None:
        reason = _text(self.headers.get(REASON_HEADER))
        if reason is None and self._death():
            death = self._death()
            return f"{_text(death.get('reason'))} in {_text(death.get('queue'))} (x-death)"
        return reason

    @property
    def original_routing_key(self) -> str | None:
        key = _text(self.headers.get(ORIGINAL_KEY_HEADER))
        if key:
            return key
        keys = self._death().get("routing-keys")
        if isinstance(keys, list) and keys:
            return _text(keys[0])
        return None

    @property
    def original_queue(self) -> str | None:
        return _text(self.headers.get(ORIGINAL_QUEUE_HEADER)) or _text(self._death().get("queue"))

    @property
    def dead_lettered_at(self) -> str | None:
        at = self.headers.get(DEAD_AT_HEADER)
        died = self._death().get("time")
        if at is None and isinstance(died, datetime):
            return died.isoformat()
        return _text(at)

    def event(self) -> Any:
        """The body as JSON where it can be read as JSON (`shared.inbox.decode_json`: nested
        no deeper than an event could be, numbers Python converts), else a short excerpt of
        it as text. Any body at all can be shown: binary, invalid UTF-8, deeply nested, or
        JSON whose strings hold lone surrogates (`"\\ud800"`), which UTF-8 cannot carry."""
        try:
            event = decode_json(self.body)
            json.dumps(event, ensure_ascii=False).encode("utf-8")
            return event
        except Exception:
            return body_excerpt(self.body)

    @property
    def event_type(self) -> str | None:
        event = self.event()
        kind = event.get("type") if isinstance(event, dict) else None
        return kind if isinstance(kind, str) else None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "message_id": self.message_id,
            "event_type": self.event_type,
            "kind": self.kind,
            "reason": self.reason,
            "original_routing_key": self.original_routing_key,
            "original_queue": self.original_queue,
            "dead_lettered_at": self.dead_lettered_at,
            "bytes": len(self.body),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "headers": _jsonable(self.headers), "event": self.event()}

    def replay_message(self, run: str = "") -> OutgoingMessage:
        key = self.original_routing_key
        if not key:
            raise ValueError("no original routing key")
        headers = {k: v for k, v in self.headers.items() if k not in _DEAD_LETTER_HEADERS}
        headers[REPLAYED_AT_HEADER] = datetime.now(UTC).isoformat()
        if run:
            headers[REPLAY_RUN_HEADER] = run
        return OutgoingMessage(
            routing_key=key, body=self.body, message_id=self.message_id or "", headers=headers, exchange=EXCHANGE
        )


@dataclass
class ReplayResult:
    replayed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> why it stays in the DLQ
    not_found: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"replayed": self.replayed, "skipped": self.skipped, "not_found": self.not_found}


@dataclass(frozen=True)
class OutboxBacklog:
    schema: str
    unsent: int | None  # None: this database has no such outbox
    oldest_unsent_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "unsent": self.unsent, "oldest_unsent_seconds": self.oldest_unsent_seconds}


# --------------------------------------------------------------------------- the broker


class Operations:
    """What operations staff do with the broker; one instance per command or request."""

    def __init__(self, amqp_url: str, management_url: str | None = None, *, timeout: float = 5.0) -> None:
        self.amqp_url = amqp_url
        self.management_url = management_url
        self.vhost = vhost_of(amqp_url)
        self.timeout = timeout

    # ---- queues

    async def queues(self, specs: Sequence[QueueSpec] = CONSUMER_QUEUES) -> list[QueueStats]:
        """Every consuming queue and its dead-letter queue, in that order."""
        names = [n for spec in specs for n in (spec.name, spec.dlq)]
        found = await self._management_stats(names)
        need_amqp = [n for n in names if n not in found or None in (found[n].messages, found[n].consumers)]
        if need_amqp:
            fallback = await self._amqp_stats(need_amqp)
            for name in need_amqp:
                if name in found:  # management answered without figures yet: keep its rates
                    found[name] = _merge(found[name], fallback[name])
                else:
                    found[name] = fallback[name]
        return [found[n] for n in names]

    async def depth(self, name: str) -> int | None:
        """Ready messages in a queue, exact (passive declare)."""
        return (await self._amqp_stats([name]))[name].ready

    async def _management_stats(self, names: Sequence[str]) -> dict[str, QueueStats]:
        if not self.management_url:
            return {}
        parts = urllib.parse.urlsplit(self.management_url)
        base = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        auth = (urllib.parse.unquote(parts.username or "guest"), urllib.parse.unquote(parts.password or "guest"))
        vhost = urllib.parse.quote(self.vhost, safe="")
        out: dict[str, QueueStats] = {}
        try:
            async with httpx.AsyncClient(base_url=base.rstrip("/"), auth=auth, timeout=self.timeout) as client:
                responses = await asyncio.gather(
                    *(client.get(f"/api/queues/{vhost}/{urllib.parse.quote(n, safe='')}") for n in names)
                )
        except (httpx.HTTPError, OSError):
            return {}
        for name, response in zip(names, responses, strict=True):
            if response.status_code != 200:
                continue  # 404 (no such queue, or another vhost), 401: let AMQP say
            info = response.json()
            stats = info.get("message_stats") or {}
            out[name] = QueueStats(
                name=name,
                source="management",
                messages=info.get("messages"),
                ready=info.get("messages_ready"),
                unacked=info.get("messages_unacknowledged"),
                consumers=info.get("consumers"),
                publish_rate=(stats.get("publish_details") or {}).get("rate"),
                deliver_rate=(stats.get("deliver_get_details") or {}).get("rate"),
            )
        return out

    async def _amqp_stats(self, names: Sequence[str]) -> dict[str, QueueStats]:
        try:
            connection = await asyncio.wait_for(connect(self.amqp_url), self.timeout)
        except Exception as exc:
            return {n: QueueStats(name=n, source="unreachable", error=f"{type(exc).__name__}: {exc}") for n in names}
        out: dict[str, QueueStats] = {}
        try:
            for name in names:
                channel = await connection.channel()
                try:
                    queue = await channel.declare_queue(name, passive=True)
                    result = queue.declaration_result
                    out[name] = QueueStats(
                        name=name,
                        source="amqp",
                        messages=result.message_count,
                        ready=result.message_count,
                        consumers=result.consumer_count,
                    )
                except aio_pika.exceptions.ChannelNotFoundEntity:
                    out[name] = QueueStats(name=name, source="missing", error="no such queue")
                finally:
                    with contextlib.suppress(Exception):
                        await channel.close()
        finally:
            await connection.close()
        return out

    # ---- dead letters

    async def _open(self, queue: str) -> tuple[AbstractConnection, AbstractChannel, aio_pika.abc.AbstractQueue]:
        spec = queue_spec(queue)
        connection = await asyncio.wait_for(connect(self.amqp_url), self.timeout)
        try:
            channel = await connection.channel()
            dlq = await channel.declare_queue(spec.dlq, passive=True)
        except BaseException:
            await connection.close()
            raise
        return connection, channel, dlq

    async def _take(self, dlq: aio_pika.abc.AbstractQueue, limit: int) -> list[AbstractIncomingMessage]:
        """Up to `limit` messages, each left unacked (so none is handed to us twice)."""
        held: list[AbstractIncomingMessage] = []
        while len(held) < limit:
            message = await dlq.get(no_ack=False, fail=False, timeout=self.timeout)
            if message is None:
                break
            held.append(message)
        return held

    async def _give_back(self, dlq: aio_pika.abc.AbstractQueue, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Requeue what we hold, and wait (briefly) until the queue shows them again: a quorum
        queue applies returns asynchronously, and the next command must see them."""
        if not messages:
            return
        ready_before = await _ready(dlq)
        for message in messages:
            with contextlib.suppress(aio_pika.exceptions.MessageProcessError):
                await message.nack(requeue=True)
        deadline = time.monotonic() + self.timeout
        while await _ready(dlq) < ready_before + len(messages) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def dlq_list(self, queue: str = REPORTING_QUEUE, *, limit: int = 100) -> tuple[int, list[DeadLetter]]:
        """(messages in the DLQ, the first `limit` of them); nothing is removed."""
        connection, _channel, dlq = await self._open(queue)
        try:
            held = await self._take(dlq, limit)
            try:
                depth = len(held) + int(held[-1].message_count or 0) if held else await _ready(dlq)
                return depth, [DeadLetter.of(m) for m in held]
            finally:
                await self._give_back(dlq, held)
        finally:
            await connection.close()

    async def dlq_show(self, queue: str, dead_letter_id: str) -> DeadLetter | None:
        connection, _channel, dlq = await self._open(queue)
        held: list[AbstractIncomingMessage] = []
        try:
            while message := await dlq.get(no_ack=False, fail=False, timeout=self.timeout):
                held.append(message)
                letter = DeadLetter.of(message)
                if letter.id == dead_letter_id:
                    return letter
            return None
        finally:
            try:
                await self._give_back(dlq, held)
            finally:
                await connection.close()

    async def dlq_replay(self, queue: str, ids: Sequence[str] | None = None, *, chunk: int = 200) -> ReplayResult:
        """Replay the dead letters with these ids (all of them when `ids` is None)."""
        wanted = None if ids is None else set(ids)
        run = uuid.uuid4().hex
        result = ReplayResult()
        connection, _channel, dlq = await self._open(queue)
        publisher = Publisher(connection, confirm_timeout=30.0)
        kept: list[AbstractIncomingMessage] = []
        try:
            while wanted is None or wanted - set(result.replayed):
                taken = await self._take(dlq, chunk)
                if not taken:
                    break
                sending: list[tuple[AbstractIncomingMessage, DeadLetter, OutgoingMessage]] = []
                for message in taken:
                    letter = DeadLetter.of(message)
                    if _text(letter.headers.get(REPLAY_RUN_HEADER)) == run:
                        kept.append(message)  # replayed by this run and dead-lettered again: still poison
                        continue
                    if wanted is not None and (letter.id not in wanted or letter.id in result.replayed):
                        kept.append(message)
                        continue
                    try:
                        sending.append((message, letter, letter.replay_message(run)))
                    except ValueError as exc:
                        result.skipped[letter.id] = str(exc)
                        kept.append(message)
                confirmed = 0
                error: BaseException | None = None
                if sending:
                    try:
                        confirmed = await publisher.publish_many([out for _, _, out in sending])
                    except Exception as exc:  # unroutable, broker error: nothing confirmed
                        error = exc
                for message, letter, _ in sending[:confirmed]:
                    await message.ack()  # only after the broker confirmed the replay
                    result.replayed.append(letter.id)
                for message, letter, _ in sending[confirmed:]:
                    result.skipped[letter.id] = f"not confirmed by the broker: {error or 'publish interrupted'}"
                    kept.append(message)
                if confirmed < len(sending):
                    break
        finally:
            try:
                await self._give_back(dlq, kept)
            finally:
                with contextlib.suppress(Exception):
                    await publisher.close()
                await connection.close()
        if wanted is not None:
            seen = set(result.replayed) | set(result.skipped)
            result.not_found = sorted(wanted - seen)
        return result

    async def dlq_purge(self, queue: str) -> int:
        """Delete every message in the DLQ; returns how many."""
        connection, _channel, dlq = await self._open(queue)
        try:
            purged = await dlq.purge()
            return int(purged.message_count or 0) if purged is not None else 0
        finally:
            await connection.close()


async def _ready(queue: aio_pika.abc.AbstractQueue) -> int:
    """Ready messages in the queue now (a passive declare on the queue's channel)."""
    result = await queue.channel.declare_queue(queue.name, passive=True)
    return int(result.declaration_result.message_count or 0)


def _merge(management: QueueStats, amqp: QueueStats) -> QueueStats:
    """Management's figures, with what it has not sampled yet taken from AMQP."""
    return QueueStats(
        name=management.name,
        source="management+amqp",
        messages=management.messages if management.messages is not None else amqp.messages,
        ready=management.ready if management.ready is not None else amqp.ready,
        unacked=management.unacked,
        consumers=management.consumers if management.consumers is not None else amqp.consumers,
        publish_rate=management.publish_rate,
        deliver_rate=management.deliver_rate,
        error=amqp.error,
    )


# --------------------------------------------------------------------------- the database


async def outbox_backlogs(conn: asyncpg.Connection, schemas: Sequence[str] = OUTBOX_SCHEMAS) -> list[OutboxBacklog]:
    """Unsent outbox rows per schema, and how old the oldest is. A schema that has no outbox
    in this database (a strand deployed with its own database) is reported as unknown."""
    out = []
    for schema in schemas:
        s = check_identifier(schema)
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{s}.outbox"):
            out.append(OutboxBacklog(schema, None))
            continue
        row = await conn.fetchrow(
            f"""SELECT (SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL) AS unsent,
                       extract(epoch FROM clock_timestamp() - (
                           SELECT created_at FROM {s}.outbox WHERE sent_at IS NULL ORDER BY position LIMIT 1
                       ))::float8 AS oldest"""
        )
        out.append(OutboxBacklog(schema, int(row["unsent"]), row["oldest"]))
    return out


# --------------------------------------------------------------------------- tables


def _num(value: int | float | None, fmt: str = "{:,}") -> str:
    return "-" if value is None else fmt.format(value)


def queues_table(stats: Sequence[QueueStats]) -> Table:
    table = Table(title="qaloop queues", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("queue", no_wrap=True)
    for column in ("messages", "unacked", "consumers", "in/s", "out/s"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("via", no_wrap=True)
    for s in stats:
        dlq = s.name.endswith(".dlq")
        depth = _num(s.messages)
        if dlq and s.messages:
            depth = f"[bold red]{depth}[/]"
        elif not dlq and s.consumers == 0:
            depth = f"[yellow]{depth}[/]"
        table.add_row(
            s.name,
            depth,
            _num(s.unacked),
            _num(s.consumers),
            _num(s.publish_rate, "{:,.1f}"),
            _num(s.deliver_rate, "{:,.1f}"),
            _SOURCE_SHORT.get(s.source, s.source),
        )
    errors = sorted({f"{s.source}: {s.error}" for s in stats if s.error})
    if errors:
        table.caption = "; ".join(errors)
    return table


_SOURCE_SHORT = {"management": "mgmt", "management+amqp": "mgmt+amqp", "unreachable": "down"}


def dead_letters_table(queue: str, depth: int, letters: Sequence[DeadLetter]) -> Table:
    """One row per dead letter: its id, event type, routing key and time; why it is here.
    Laid out in three columns so that it reads in an 80-column terminal."""
    shown = f", showing {len(letters)}" if len(letters) < depth else ""
    table = Table(title=f"{queue_spec(queue).dlq}: {depth} dead letter(s){shown}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("dead letter", no_wrap=True)
    table.add_column("why", overflow="fold")
    for n, d in enumerate(letters, 1):
        reason = d.reason or "-"
        if len(reason) > 300:
            reason = reason[:299] + "…"
        table.add_row(
            str(n),
            Text.assemble(
                (d.id, "bold"),
                f"\n{d.event_type or '(no event type)'} via {d.original_routing_key or '(no routing key)'}",
                f"\n{d.dead_lettered_at or ''}",
            ),
            Text.assemble((d.kind or "(no kind)", "red"), "\n", reason),
        )
    return table


def outbox_table(backlogs: Sequence[OutboxBacklog]) -> Table:
    table = Table(title="outbox backlog (committed, not yet confirmed by the broker)", box=box.SIMPLE_HEAD)
    table.add_column("schema")
    table.add_column("unsent", justify="right")
    table.add_column("oldest unsent", justify="right")
    for b in backlogs:
        table.add_row(
            b.schema,
            "not in this database" if b.unsent is None else f"{b.unsent:,}",
            _num(b.oldest_unsent_seconds, "{:,.1f} s"),
        )
    return table
