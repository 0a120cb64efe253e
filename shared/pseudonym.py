"""Pseudonymised case references (ARCHITECTURE non-negotiable 3).

A raw case number never leaves a strand service: events carry a keyed hash (HMAC-SHA256
with `QALOOP_PSEUDONYM_KEY`), stable for the same case so that reporting can recognise a
re-audit of the same case, and useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(raw_reference: str, key: str) -> str:
    normalised = raw_reference.strip().upper()
    if not normalised:
        raise ValueError("an empty case reference cannot be pseudonymised")
    return hmac.new(key.encode(), normalised.encode(), hashlib.sha256).hexdigest()[:16]


def subject_for(pseudonym: str) -> str:
    """The CloudEvents `subject` for a case: `case:<pseudonym>`."""
    return f"case:{pseudonym}"
