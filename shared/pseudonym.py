"""Pseudonymised case references (ARCHITECTURE non-negotiable 3).

A raw case number never leaves a strand service: events carry a keyed hash (HMAC-SHA256
with `QALOOP_PSEUDONYM_KEY`), stable for the same case so that reporting can recognise a
re-audit of the same case, and useless without the key.

A pseudonym names the key that made it: `<key id>:<16 hex digits>`, e.g.
`k1:9f86d081884c7d65` (`QALOOP_PSEUDONYM_KEY_ID` names the current key). The key can then
be rotated: producers pseudonymise with the new key under a new id, and consumers keep
accepting the old id (`QALOOP_PSEUDONYM_ACCEPTED_KEY_IDS`) for what was written before. The
same case has a different pseudonym under each key, so rotation cuts the link between its
events before and after (a re-audit across a rotation is not recognised as one).

Reporting dead-letters a `case_ref` / `child_ref` (or a `case:` subject) that is not in
this format (`raw-identifier`): a raw case number is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re

DEFAULT_KEY_ID = "k1"
KEY_ID_PATTERN = r"[a-z][a-z0-9]{0,15}"
HASH_HEX_DIGITS = 16
PSEUDONYM_PATTERN = rf"^{KEY_ID_PATTERN}:[0-9a-f]{{{HASH_HEX_DIGITS}}}$"
CASE_SUBJECT_PREFIX = "case:"

_KEY_ID = re.compile(rf"^{KEY_ID_PATTERN}$")
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)


def check_key_id(key_id: str) -> str:
    """`key_id` if it is a valid key id (a lower-case letter, then up to 15 letters or digits)."""
    if not _KEY_ID.match(key_id):
        raise ValueError(f"pseudonym key id {key_id!r} must match {KEY_ID_PATTERN} (e.g. 'k1')")
    return key_id


def pseudonymise(raw_reference: str, key: str, key_id: str = DEFAULT_KEY_ID) -> str:
    """`<key id>:<first 16 hex digits of HMAC-SHA256(key, the upper-cased, trimmed reference)>`."""
    check_key_id(key_id)
    normalised = raw_reference.strip().upper()
    if not normalised:
        raise ValueError("an empty case reference cannot be pseudonymised")
    digest = hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()[:HASH_HEX_DIGITS]
    return f"{key_id}:{digest}"


def key_id_of(value: str) -> str | None:
    """The key id of a well-formed pseudonym, or None if `value` is not one."""
    if not isinstance(value, str) or not _PSEUDONYM.match(value):
        return None
    return value.split(":", 1)[0]


def is_pseudonym(value: str, key_ids: frozenset[str] | set[str] | None = None) -> bool:
    """Whether `value` is a pseudonym (of one of `key_ids`, when given)."""
    key_id = key_id_of(value)
    return key_id is not None and (key_ids is None or key_id in key_ids)


def subject_for(pseudonym: str) -> str:
    """The CloudEvents `subject` for a case: `case:<pseudonym>`."""
    return f"{CASE_SUBJECT_PREFIX}{pseudonym}"
