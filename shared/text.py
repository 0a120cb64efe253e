"""Rules for text that staff type and events carry (pure, no I/O).

Text that travels in an event is published to every consumer, so it is short, has no
surrounding or repeated white space, and must not look like contact details (a child's name
cannot be detected; an e-mail address, a UK telephone number or a postcode can).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from shared.errors import Invalid

# A time this far ahead of the service's clock is still accepted (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|0)\d(?:[\s-]?\d){8,9}(?!\w)")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b", re.IGNORECASE)


def normalise_text(text: str) -> str:
    """Surrounding and repeated white space removed."""
    return " ".join(text.split())


def contact_details_in(text: str) -> list[str]:
    """What in `text` looks like an e-mail address, a UK telephone number or a postcode."""
    found = []
    if _EMAIL.search(text):
        found.append("an e-mail address")
    if _PHONE.search(text):
        found.append("a telephone number")
    if _POSTCODE.search(text):
        found.append("a postcode")
    return found


def published_text(value: str, max_length: int) -> str:
    """Text that will travel in an event: non-empty, at most `max_length` characters, no
    contact details. Raises ValueError (a pydantic validator turns it into a 422)."""
    text = normalise_text(value)
    if not text:
        raise ValueError("must not be empty")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters (got {len(text)})")
    if found := contact_details_in(text):
        raise ValueError(
            f"looks like it contains {' and '.join(found)}: text that is published in events "
            "must not hold a child's name or anyone's contact details"
        )
    return text


def occurred_at(value: datetime | None, now: datetime, field: str) -> datetime:
    """When a fact happened: `now` unless the caller records an earlier time (back-entry);
    a time in the future is refused."""
    if value is None:
        return now
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("a timestamp needs a UTC offset", field)
    if value > now + CLOCK_SKEW:
        raise Invalid(f"{value.isoformat()} is in the future", field)
    return value
