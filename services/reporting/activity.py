"""Where the tenant's activity is: the read-model tables with a (tenant, date) index, and the
teams of a period (the dashboard's team choices, and the one set of teams of every per-team
breakdown of the dashboard, the quarterly report and a team-filtered figure)."""

from __future__ import annotations

from typing import Any

from services.reporting import store
from shared.calendar import Period

__all__ = ["DATED", "TEAMED", "and_condition", "breakdown_teams", "team_list", "teams_in"]

# The read-model tables with a (tenant, date) index: (table, date column, the index's
# condition). The dates of activity the dashboard's period choices are made from.
DATED = (
    ("audit_graded", "completed_on", "d_counted"),
    ("audit_moderated", "moderated_on", None),
    ("concern_raised", "raised_on", None),
    ("concern_resolved", "resolved_on", None),
    ("feedback", "received_on", None),
    ("compliment", "received_on", None),
    ("you_said_we_did", "published_on", None),
    ("complaint_received", "received_on", None),
    ("complaint_escalated", "escalated_on", None),
    ("complaint_closed", "closed_on", None),
    ("action_raised", "raised_on", None),
    ("action_completed", "completed_on", "d_first AND d_known"),
    ("referral", "received_on", None),
    ("assessment", "completed_on", None),
    ("ehcp", "issued_on", None),
    ("contact_attempt", "attempted_on", None),
    ("staff_joined", "joined_on", None),
    ("staff_survey", "received_on", None),
)
# Tables whose rows carry a team and a service area, with their (tenant, date) index.
TEAMED: tuple[str, ...] = (
    *("audit_graded", "feedback", "compliment", "complaint_received", "action_raised"),
    *("referral", "assessment", "ehcp", "contact_attempt", "staff_joined", "staff_survey"),
)


def and_condition(condition: str | None) -> str:
    return f" AND {condition}" if condition else ""


# Social workers in post at the end of the period ($3): the workforce KPIs' records
# (`queries.in_post`), whatever date they joined on.
_IN_POST = f"""SELECT team, service_area FROM {store.SCHEMA}.staff_joined
            WHERE tenant = $1 AND role IN ('social_worker', 'senior', 'manager') AND joined_on <= $3
              AND (d_until IS NULL OR d_until > $3) AND team IS NOT NULL AND team <> ''"""


async def teams_in(conn: Any, tenant: str, period: Period) -> list[tuple[str, str]]:
    """(team, service area) of the period's rows, and of the social workers in post at its
    end (a team's workforce figures are there whether or not it recorded anything else)."""
    union = " UNION ".join(
        [
            *(
                f"""SELECT team, service_area FROM {store.SCHEMA}.{table}
            WHERE tenant = $1 AND {column} BETWEEN $2 AND $3
              AND team IS NOT NULL AND team <> ''{and_condition(cond)}"""
                for table, column, cond in DATED
                if table in TEAMED
            ),
            _IN_POST,
        ]
    )
    rows = await conn.fetch(union, tenant, period.start, period.end)
    return [(r["team"], r["service_area"]) for r in rows if r["service_area"]]


def team_list(found: list[tuple[str, str]], service_area: str | None) -> list[tuple[str, str]]:
    """The teams of a breakdown: of the service area where one is given, each once (a team
    seen in two service areas under its first, by area), by service area and name."""
    out: dict[str, str] = {}
    for team, area in sorted(found, key=lambda ta: (ta[1], ta[0])):
        if team and area and service_area in (None, area):
            out.setdefault(team, area)
    return sorted(out.items(), key=lambda ta: (ta[1], ta[0]))


async def breakdown_teams(conn: Any, tenant: str, period: Period) -> list[tuple[str, str]]:
    """The teams of every per-team breakdown of the period (`teams_in`, each once under its
    first service area, by service area and name): the dashboard's and the report's alike."""
    return team_list(await teams_in(conn, tenant, period), None)
