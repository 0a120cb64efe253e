"""The workforce's records and rules, one module per concept — pure Python, no I/O:

* `staff` — a worker's record in post (joiners, changes, leavers), vacancies, caseloads;
* `csv_table` — a CSV file read into rows by column name, each problem with its row and column;
* `census` — the DfE children's social work workforce census return (one row per worker);
* `surveys` — the staff health-check survey (LGA standards), versioned, and its responses.

Rules the design documents leave open, decided here (README "Readings of DOMAIN.md"):

* **Worker ids** come from the HR system (a staff number, `worker_ref`) and never leave the
  service: events and tables carry the keyed pseudonym (`shared.pseudonym`, as case
  references). No name is taken: a census file with a name column is refused.
* **A worker's history is linear**: a join, change or leave may not be dated before the
  worker's latest recorded one (a correction is a later change). A second join for a worker
  in post changes the record from its date (an agency worker converting to employed); it is
  not a leaver. A join identical to the record in post, or a leave repeating the recorded
  one, is a retry: nothing is published.
* **FTE** is 0 < fte <= 1.5 (two decimals), as in the census; a caseload is a count 0-1000.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# A worker's reference in the HR system: letters, digits and `_ . / -`, no spaces (no names).
WORKER_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$")
# Teams: free identifiers such as `through-care`; record ids.
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
SURVEY_ID = re.compile(r"^[a-z][a-z0-9_-]{0,79}$")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
MAX_FTE = 1.5
MAX_CASES = 1000


def fingerprint(content: Any) -> str:
    """What a retry must repeat, as a digest."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
