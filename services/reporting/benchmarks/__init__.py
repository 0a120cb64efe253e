"""Benchmarking across authorities (DOMAIN.md; CONTRACT.md §4; issue 15 items 6-8).

* `measures.py` — the checked-in table mapping published measures to qaloop KPI ids;
* `domain.py` — the pure rules: ranks (1 = best, ties share), neighbours' mean, the
  authority's value (live, else published), what one tenant sees of another (suppressed);
* `lait.py` — the comparator files (statistical neighbours; published figures in the long
  form of DfE's LAIT export), every row validated, refused whole (pure);
* `store.py` — the SQL (migration 007); `handlers.py` — the use cases;
* `api.py` — `GET /v1/benchmarks`, `POST /v1/benchmarks/import`, the live-comparison
  opt-in, and the dashboard's benchmarking view (`static/`);
* `command.py` — `qaloop benchmarks import FILE` and `qaloop benchmarks live-comparison`.

The quarterly report's benchmarking page is `report/sections/benchmarking.py`.
"""
