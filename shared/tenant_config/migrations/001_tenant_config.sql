-- Per-authority configuration (shared/tenant_config): the settings each tenant changed, and
-- every change with who made it and when. Owned by the migrator; reporting's role (which
-- serves /v1/config) may write, every other service's role may only read (shared/roles.py).
CREATE TABLE IF NOT EXISTS {schema}.settings (
    tenant     text        NOT NULL,
    setting    text        NOT NULL,
    value      jsonb       NOT NULL,
    change_id  bigint      NOT NULL,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, setting)
);

-- Append-only: a change is never edited (no UPDATE or DELETE is granted to any service).
CREATE TABLE IF NOT EXISTS {schema}.history (
    change_id  bigserial   PRIMARY KEY,
    tenant     text        NOT NULL,
    setting    text        NOT NULL,
    old_value  jsonb       NOT NULL,
    new_value  jsonb       NOT NULL,
    reset      boolean     NOT NULL DEFAULT false,  -- back to the default
    rebuilds   boolean     NOT NULL,                -- changes figures already projected
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS history_tenant ON {schema}.history (tenant, change_id DESC);
