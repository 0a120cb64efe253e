"""The simulator (`qaloop simulate`, and the year `qaloop demo` shows): a county's children's
services for one financial year, as a case-management system publishing casework events
and as staff using the strand APIs.

* `authority` — the simulated county: teams, staff, annual volumes.
* `plan` — what a plan is (calls, stories, casework events); `year.plan_year` builds one from
  a seed with the planners `casework`, `audits`, `complaints` and `feedback`. Pure: no I/O.
* `runner` — sends a plan (injected HTTP clients and bus sink); `command` — the CLI around it.
* `stream` — a ready-made stream of contract events (benchmarks, tests, `demo --raw`).
"""
