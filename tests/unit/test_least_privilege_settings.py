"""Least privilege settings: per-service URLs and the migrations' URL, with the single URLs
serving when they are unset (development, the demo, the tests), and the broker permissions."""

from __future__ import annotations

import re

from shared import roles
from shared.service import StrandService, url_user
from shared.settings import Settings


def test_one_url_serves_every_service_when_no_override_is_set() -> None:
    settings = Settings(database_url="postgresql://postgres@db/qaloop", amqp_url="amqp://guest:guest@mq/")
    for service in roles.SERVICES:
        assert settings.database_url_for(service) == "postgresql://postgres@db/qaloop"
        assert settings.amqp_url_for(service) == "amqp://guest:guest@mq/"
        assert settings.migrate_url_for(service) == "postgresql://postgres@db/qaloop"


def test_a_service_uses_its_own_urls_and_migrates_as_the_migrator() -> None:
    settings = Settings(
        database_url="postgresql://postgres@db/qaloop",
        audit_database_url="postgresql://qaloop_audit:pw@db/qaloop",
        audit_amqp_url="amqp://qaloop-audit:pw@mq/",
        migrate_database_url="postgresql://qaloop_migrator:pw@db/qaloop",
    )
    service = StrandService(name="audit", migrations_dir=roles.__file__, settings=settings)  # type: ignore[arg-type]
    assert url_user(service.database_url) == "qaloop_audit"
    assert url_user(service.amqp_url) == "qaloop-audit"
    assert url_user(service.migrate_url) == "qaloop_migrator"
    assert settings.database_url_for("feedback") == "postgresql://postgres@db/qaloop"  # not audit's


def test_each_broker_user_may_publish_only_its_own_routing_keys() -> None:
    for service, strand in (
        ("audit", "audit"),
        ("feedback", "feedback"),
        ("complaints", "complaints"),
        ("workforce", "workforce"),
        ("cms", "casework"),
    ):
        p = roles.mq_permissions(service)
        assert p.configure == "^$" and p.read == "^$"
        assert re.search(p.write, "qa.events") and not re.search(p.write, "qa.events.dlx")
        allowed = re.compile(p.topic_write["qa.events"])
        assert allowed.search(f"{strand}.Anything")
        for other in {"audit", "feedback", "complaints", "casework", "reporting", "workforce"} - {strand}:
            assert not allowed.search(f"{other}.Anything"), (service, other)
    reporting = roles.mq_permissions("reporting")
    assert re.search(reporting.read, "reporting.events") and not re.search(reporting.read, "reporting.followups")
    assert re.compile(reporting.topic_write["qa.events"]).search("reporting.FollowUpDue")
    assert not re.compile(reporting.topic_write["qa.events"]).search("audit.AuditGraded")
