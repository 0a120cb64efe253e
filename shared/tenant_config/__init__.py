"""Per-authority configuration (issue 14 item 9): each tenant's KPI targets and RAG
tolerances, small-number threshold, calendar closures, complaint timescales, overall-grade
rule and follow-up rule settings, held in PostgreSQL (schema `tenant_config`, owned by this
component) and changed through `/v1/config` (role `config:admin`, served by reporting) and
`qaloop config`, with the history of who changed what and when.

* `model`: the settings and their bounds (pure);
* `defaults`: each tenant's defaults, from the environment (the bootstrap);
* `store`: the SQL, its migrations and its grants;
* `cache`: what every service reads (refreshed copy in memory);
* `api`: the HTTP routes.

Why a shared component and not a service's tables: the complaints service and reporting must
never disagree on a due date, and audit and reporting on the overall-grade rule; each reads
the one configuration, read-only, and none reads another service's tables
(docs/architecture.md "Per-authority configuration").
"""
