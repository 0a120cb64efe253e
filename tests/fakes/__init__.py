"""In-memory twins of the strands' stores: the unit tier runs every handler on them, and the
store contract suites (tests/integration/test_*_store_contract.py) run against both a fake
and PostgreSQL so the twins cannot drift."""
