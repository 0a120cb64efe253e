"""Where the tenant's activity is: the read-model tables with a (tenant, date) index, and the
teams of a period (the dashboard's team choices, and the one set of teams of every per-team
breakdown of the dashboard, the quarterly report and a team-filtered figure)."""

from __future__ import annotations

from typing import Any

from services.reporting import store
from shared.calendar import Period

__all__ = ["DATED", "DERIVED", "TEAMED", "and_condition", "breakdown_teams", "team_list", "teams_in"]

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


# Rows counted in a team's figures through their complaint's, action's or ended record's
# team (`d_team`, `d_service_area`), dated in the period: (table, date column, condition).
DERIVED = (
    ("complaint_closed", "closed_on", None),
    ("complaint_escalated", "escalated_on", None),
    ("complaint_panel_held", "held_on", None),
    ("ombudsman_referral", "referred_on", None),
    ("ombudsman_decision", "decided_on", None),
    ("action_completed", "completed_on", "d_first AND d_known"),
    ("staff_left", "left_on", "d_counted"),
)
_TEAMED = "team IS NOT NULL AND team <> ''"
# Not dated in the period, yet in a team's figures for it: social workers in post at its end
# ($3, `queries.in_post`), follow-ups open in it or closed in it, and each team's latest
# vacancy recorded by its end, where it has vacant posts.
_STANDING = (
    f"""SELECT team, service_area FROM {store.SCHEMA}.staff_joined
        WHERE tenant = $1 AND role IN ('social_worker', 'senior', 'manager') AND joined_on <= $3
          AND (d_until IS NULL OR d_until > $3) AND {_TEAMED}""",
    f"""SELECT team, service_area FROM {store.SCHEMA}.followups
        WHERE tenant = $1 AND opened_on <= $3 AND (closed_on IS NULL OR closed_on >= $2) AND {_TEAMED}""",
    f"""SELECT team, service_area FROM (
            SELECT DISTINCT ON (team) team, service_area, vacant_fte FROM {store.SCHEMA}.vacancy
            WHERE tenant = $1 AND as_of <= $3
            ORDER BY team, as_of DESC, sequence DESC, time DESC, event_id DESC) v
        WHERE vacant_fte > 0 AND {_TEAMED}""",
)


def _dated(table: str, column: str, cond: str | None, team: str = "team", area: str = "service_area") -> str:
    return f"""SELECT {team} AS team, {area} AS service_area FROM {store.SCHEMA}.{table}
        WHERE tenant = $1 AND {column} BETWEEN $2 AND $3
          AND {team} IS NOT NULL AND {team} <> ''{and_condition(cond)}"""


async def teams_in(conn: Any, tenant: str, period: Period) -> list[tuple[str, str]]:
    """(team, service area) of every row a team's figures for the period count: the rows
    dated in it (their own team, or their complaint's, action's or ended record's), the social
    workers in post at its end, its open or closed follow-ups and vacant posts."""
    union = " UNION ".join(
        [
            *(_dated(table, column, cond) for table, column, cond in DATED if table in TEAMED),
            *(_dated(table, column, cond, "d_team", "d_service_area") for table, column, cond in DERIVED),
            *_STANDING,
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
