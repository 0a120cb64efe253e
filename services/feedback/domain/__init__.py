"""Feedback's records and rules, one module per concept — pure Python, no I/O:

* `surveys` — surveys and their versions, and how a reworded question is reported;
* `responses` — a response validated against the survey version it answers;
* `csv_import` — a survey tool's CSV export read against a survey version, row by row;
* `compliments` — compliments, internal and external;
* `you_said_we_did` — "you said, we did" items and the themes they report on;
* `tallies` — answers counted per question and wording, and small counts suppressed.

This module holds what they share: the shapes of ids, the answer types, how long published
text may be, and the fingerprint a retry must repeat.

Rules that the design documents leave open, decided here:

* **Question identity across versions.** A question's `question_id` is what a person and a
  survey tool call it (a CSV column). A survey version records each question's wording. The
  id that answers carry in `FeedbackReceived` (and so in the KPI
  `feedback.positive_rate.<question_id>`) is the question's `reported_as`: the plain id while
  the wording (and answer type) is the one the question was introduced with; a new version
  that rewords a question reports it as `<question_id>.v<version>`, so that answers to the old
  and the new wording are never merged. Going back to an earlier wording reuses that
  wording's `reported_as`. Changing only the safeguarding flag keeps `reported_as`.
* **Free text** is stored in this service and never put in an event.
* **Contact details** (e-mail addresses, UK telephone numbers, postcodes) are refused in any
  text that goes into an event (compliment summaries, "you said, we did" texts; action
  summaries and evidence by `shared.actions`).
* **Actions** (`ActionRaised`, `ActionCompleted`, origin `feedback`; the lifecycle is
  `shared.actions`) are raised on a survey response (origin_id = the response id: how a
  safeguarding alert is closed) or on a service area's theme (origin_id =
  `<service_area>:<theme>`). A response's action belongs to the response's team and service
  area; where the response names no team, and on a theme, the action names one.
* **Response ids** from a CSV file are `<survey_id>:<the file's response id>`, or, where the
  file has none, `<survey_id>:h<hash>` of the row's validated content (plus how many identical
  rows came before it in the file), so that importing the same file twice adds nothing.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from typing import Any

SURVEY_ID = re.compile(r"^[a-z][a-z0-9_-]{0,79}$")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
# Ids that name a record: letters, digits and `_ . : -` only — no spaces, no `@`, so no
# names or e-mail addresses.
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
# Teams, channels and themes: free identifiers such as `through-care`.
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

MAX_FREE_TEXT = 4000
MAX_SUMMARY = 280
MAX_YOU_SAID_WE_DID = 1000


class AnswerType(enum.StrEnum):
    YES_NO = "yes_no"
    SCALE_1_5 = "scale_1_5"
    FREE_TEXT = "free_text"


def fingerprint(content: Any) -> str:
    """What a retry must repeat, as a digest: the same id with the same fingerprint is a
    retry (nothing added), with another one a conflict."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
