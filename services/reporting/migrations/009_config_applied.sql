-- The newest per-authority configuration change (shared/tenant_config history) that moves
-- projected figures — calendar closures, complaint timescales, follow-up rules — which the
-- read models were rebuilt under. Reporting rebuilds when a newer one exists
-- (ReportingService.rebuild_for_config). Not a read model: a rebuild keeps it.
CREATE TABLE IF NOT EXISTS {schema}.config_applied (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    change_id bigint  NOT NULL
);
INSERT INTO {schema}.config_applied (change_id) VALUES (0) ON CONFLICT DO NOTHING;
