"""The words and dates the report prints: service areas, slices, identifiers and dates.

Also the `filters` key of a commentary row, which names the slice a manager's commentary is
about (`commentary_filters`, `filters_of`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from services.reporting import kpis

__all__ = [
    "area_label",
    "commentary_filters",
    "filters_of",
    "long_date",
    "question_label",
    "short_date",
    "slice_label",
    "sorted_areas",
    "words",
]

_AREA_LABELS = {
    "childrens_social_care": "Children's social care",
    "send": "SEND",
    "fostering": "Fostering",
    "early_help": "Early help",
    "youth_justice": "Youth justice",
}
_AREA_ORDER = tuple(_AREA_LABELS)


def words(identifier: str) -> str:
    """An identifier as words: `requires_improvement` reads "Requires improvement"."""
    spaced = identifier.replace("_", " ").replace("-", " ").strip()
    return spaced[:1].upper() + spaced[1:]


def area_label(area: str | None) -> str:
    if area is None:
        return "All service areas"
    return _AREA_LABELS.get(area, words(area))


def sorted_areas(areas: Iterable[str]) -> list[str]:
    """Service areas without repeats, in the report's order (unknown ones last, by name)."""
    order = {a: i for i, a in enumerate(_AREA_ORDER)}
    return sorted(set(areas), key=lambda a: (order.get(a, len(order)), a))


def commentary_filters(service_area: str | None, team: str | None) -> str:
    """The `filters` key of a commentary row (reporting.kpi_commentary): '' for the whole
    authority, else 'service_area=…' and/or 'team=…' joined by '&', in that order."""
    parts = [f"service_area={service_area}" if service_area else "", f"team={team}" if team else ""]
    return "&".join(part for part in parts if part)


def filters_of(key: str) -> kpis.Filters:
    """The slice a commentary `filters` key names (the inverse of `commentary_filters`)."""
    pairs = dict(part.partition("=")[::2] for part in key.split("&") if part)
    return kpis.Filters(service_area=pairs.get("service_area") or None, team=pairs.get("team") or None)


def slice_label(filters: kpis.Filters) -> str:
    parts = [area_label(filters.service_area)] if filters.service_area else []
    if filters.team:
        parts.append(f"team {filters.team}")
    label = ", ".join(parts) or "All service areas"
    return f"{label}, complaints about {words(filters.category).lower()}" if filters.category else label


def long_date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def short_date(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def question_label(question_id: str, wording: Mapping[str, str]) -> str:
    """A survey question by its wording, with its id after it; by its id alone where no
    wording is known (`services/reporting/wording.py`)."""
    said = wording.get(question_id)
    return f"{said} ({question_id})" if said else question_id
