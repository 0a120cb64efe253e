"""The quarterly report's sections, one module each, in the order the report prints them:
`about`, `kpis`, `feedback`, `audit` (with `concerns`), `complaints` (with `compliments`),
`workforce`, `learning`, `good_practice`. Every section is a function of the `ReportQuarter` (`quarter.py`); a section
that shows KPI values of a slice (a service area, a team, a question or a category) also
names them (`<section>_slices`), so that the loader reads exactly those."""
