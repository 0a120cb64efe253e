"""Structured JSON logs carrying the service's name, the event id and the trace id (W3C
`traceparent`)."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

event_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("event_id", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


def new_traceparent() -> str:
    """A fresh W3C traceparent: version 00, random trace and span ids, sampled."""
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def current_traceparent() -> str:
    """The traceparent to put on an event written now: the current trace, or a new one."""
    trace = trace_id_var.get()
    if trace:
        return f"00-{trace}-{os.urandom(8).hex()}-01"
    return new_traceparent()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the service (when named),
    the current event and trace ids, a record's `fields` extra and any exception."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (event_id := event_id_var.get()) is not None:
            entry["event_id"] = event_id
        if (trace_id := trace_id_var.get()) is not None:
            entry["trace_id"] = trace_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if self.service is not None:
            entry["service"] = self.service
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO", json_lines: bool = True, service: str | None = None) -> None:
    """Log to stderr, as JSON lines that name `service` (or as plain text) at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
