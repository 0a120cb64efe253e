-- The event store: every applied event, append-only. Its (source, id) key is also the
-- consumer's inbox: a redelivered or duplicated event conflicts here and changes nothing.
CREATE TABLE {schema}.event_store (
    position     bigserial PRIMARY KEY,
    tenant       text NOT NULL,
    source       text NOT NULL,
    id           text NOT NULL,
    type         text NOT NULL,
    time         timestamptz NOT NULL,
    subject      text,
    sequence     text,
    envelope     jsonb NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, id)
);
CREATE INDEX event_store_tenant ON {schema}.event_store (tenant, position);

-- Facts: the parts of each event the KPI and follow-up rules use (services/reporting/facts.py),
-- one row per applied event that has a fact. `kind` names the fact class.
CREATE TABLE {schema}.facts (
    position     bigint PRIMARY KEY,
    tenant       text NOT NULL,
    kind         text NOT NULL,
    payload      jsonb NOT NULL
);
CREATE INDEX facts_tenant ON {schema}.facts (tenant, position);

-- Per projection: how many events it has applied and the newest fact time it has seen.
CREATE TABLE {schema}.projection_state (
    name             text PRIMARY KEY,
    events_applied   bigint NOT NULL DEFAULT 0,
    last_event_time  timestamptz,
    generation       integer NOT NULL DEFAULT 1
);
INSERT INTO {schema}.projection_state (name) VALUES ('event_store'), ('facts'), ('followups');

-- The learning loop's follow-ups, derived from the facts; *_published record which
-- transitions have been published (each once) through the outbox.
CREATE TABLE {schema}.followups (
    tenant              text NOT NULL,
    followup_id         text NOT NULL,
    rule                text NOT NULL,
    origin              text NOT NULL,
    origin_id           text NOT NULL,
    team                text,
    service_area        text,
    opened_on           date NOT NULL,
    due_date            date NOT NULL,
    closed_on           date,
    closed_by_event_id  text,
    improved            boolean,
    opened_published    boolean NOT NULL DEFAULT false,
    due_published       boolean NOT NULL DEFAULT false,
    overdue_published   boolean NOT NULL DEFAULT false,
    closed_published    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, followup_id)
);
CREATE INDEX followups_open ON {schema}.followups (tenant, due_date) WHERE closed_on IS NULL;

-- Managers' commentary beside a red KPI value (shown by the dashboard and the report).
CREATE TABLE {schema}.kpi_commentary (
    tenant      text NOT NULL,
    kpi         text NOT NULL,
    period      text NOT NULL,
    filters     text NOT NULL DEFAULT '',
    commentary  text NOT NULL,
    author      text NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kpi, period, filters)
);
