"""Database URL settings (shared.db.check_database_url): one server, or a primary and its
standbys that asyncpg searches for the writable one (issue 16 item 2)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.db import check_database_url, database_hosts
from shared.settings import Settings

FAILOVER = "postgresql://app:s3cret@pg1:5432,pg2:5433/qaloop?target_session_attrs=read-write"


def test_a_primary_and_its_standby_in_one_url() -> None:
    assert check_database_url(FAILOVER) == FAILOVER
    assert database_hosts(FAILOVER) == ["pg1:5432", "pg2:5433"]
    assert database_hosts("postgresql://postgres@localhost:5432/qaloop") == ["localhost:5432"]
    assert database_hosts("postgresql:///qaloop") == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://pg1:5432,pg2:5432/qaloop", "target_session_attrs=read-write"),
        ("postgresql://pg1:5432,pg2:5432/qaloop?target_session_attrs=any", "target_session_attrs=read-write"),
        ("postgresql://pg1:5432,pg2:5432/qaloop?target_session_attrs=standby", "target_session_attrs=read-write"),
        ("postgresql://pg1/qaloop?target_session_attrs=writable", "not one of"),
        ("postgresql://pg1:54x2/qaloop", "not a number"),
        ("mysql://pg1/qaloop", "not a PostgreSQL URL"),
    ],
)
def test_a_url_that_could_write_to_a_standby_or_that_asyncpg_refuses_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_database_url(url)


def test_the_settings_check_every_database_url() -> None:
    assert Settings(database_url=FAILOVER).database_url == FAILOVER
    assert Settings(database_url="postgresql://pg1/q?target_session_attrs=primary")
    for field in ("database_url", "reporting_database_url", "migrate_database_url"):
        with pytest.raises(ValidationError, match="target_session_attrs=read-write"):
            Settings(**{field: "postgresql://pg1:5432,pg2:5432/qaloop"})


def test_reads_may_go_to_any_of_several_standbys() -> None:
    url = "postgresql://pg2:5432,pg3:5432/qaloop?target_session_attrs=prefer-standby"
    assert Settings(database_read_url=url).database_read_url == url
    with pytest.raises(ValidationError, match="not one of"):
        Settings(database_read_url="postgresql://pg2/qaloop?target_session_attrs=replica")
