"""shared.logging: every JSON log line names the service that wrote it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from shared import logging as qlog


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level put back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_every_json_line_carries_the_service(root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    qlog.configure("INFO", json_lines=True, service="reporting")
    logging.getLogger("shared.inbox").warning("consumer of %s lost the broker", "reporting.events")
    logging.getLogger("services.reporting.app").info("table maintenance", extra={"fields": {"tables": 2}})
    token = qlog.event_id_var.set("e-1")
    try:
        logging.getLogger("anything.else").error("failed")
    finally:
        qlog.event_id_var.reset(token)
    logging.getLogger("quiet").debug("below the level: not written")

    first, second, third = lines(capsys.readouterr().err)
    assert first["service"] == second["service"] == third["service"] == "reporting"
    assert first["msg"] == "consumer of reporting.events lost the broker"
    assert (first["level"], first["logger"]) == ("warning", "shared.inbox")
    assert (second["msg"], second["tables"]) == ("table maintenance", 2)
    assert (third["level"], third["event_id"]) == ("error", "e-1")


def test_a_record_cannot_rename_the_service(root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    qlog.configure("INFO", json_lines=True, service="audit")
    logging.getLogger("x").info("hello", extra={"fields": {"service": "complaints"}})
    (line,) = lines(capsys.readouterr().err)
    assert line["service"] == "audit"


def test_without_a_service_name_no_service_field(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    qlog.configure("INFO", json_lines=True)
    logging.getLogger("x").info("hello")
    (line,) = lines(capsys.readouterr().err)
    assert line["msg"] == "hello" and "service" not in line
