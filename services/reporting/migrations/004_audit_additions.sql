-- Audit additions (issue 14; DOMAIN.md "Added rules (2026-12)", CONTRACT.md §4): the
-- auditor's area grades and EHCP procedure compliance on each grading, audit schedules (for
-- audits completed on time), concern outcomes and the concerns that supersede them, and
-- inspection findings. Columns are the facts' fields (services/reporting/facts.py); `d_*`
-- columns are derived per aggregate by services/reporting/readmodels.py.

ALTER TABLE {schema}.audit_graded
    ADD COLUMN area_grades          jsonb NOT NULL DEFAULT '[]',  -- [{area, grade}]: the auditor's
    ADD COLUMN procedure_compliant  boolean,                      -- ehcp audits that carry it
    ADD COLUMN d_due_date           date;  -- due date of the audit's AuditScheduled with the highest sequence
DROP INDEX {schema}.audit_graded_counted;
CREATE INDEX audit_graded_counted ON {schema}.audit_graded (tenant, completed_on)
    INCLUDE (d_grade, d_due_date, audit_type, procedure_compliant, service_area, team) WHERE d_counted;

CREATE TABLE {schema}.audit_scheduled (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    audit_id       text NOT NULL,
    due_date       date NOT NULL,
    time           timestamptz NOT NULL,
    sequence       numeric NOT NULL,  -- any integer the envelope carried
    PRIMARY KEY (tenant, key)
);
CREATE INDEX audit_scheduled_audit ON {schema}.audit_scheduled (tenant, audit_id);

ALTER TABLE {schema}.concern_raised ADD COLUMN supersedes text;
CREATE INDEX concern_raised_supersedes ON {schema}.concern_raised (tenant, supersedes) WHERE supersedes IS NOT NULL;

ALTER TABLE {schema}.concern_resolved
    ADD COLUMN outcome         text,   -- effective | partly_effective | not_effective, where carried
    ADD COLUMN d_counted       boolean NOT NULL DEFAULT false,  -- the concern's first resolution with an outcome
    ADD COLUMN d_known         boolean NOT NULL DEFAULT false,  -- the concern's ConcernRaised is known
    ADD COLUMN d_service_area  text;                            -- ... and its service area
CREATE INDEX concern_resolved_counted ON {schema}.concern_resolved (tenant, resolved_on)
    INCLUDE (outcome, d_service_area) WHERE d_counted;

CREATE TABLE {schema}.inspection_finding (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    finding_id     text NOT NULL,
    body           text NOT NULL,
    service_area   text NOT NULL,
    team           text,
    recorded_at    timestamptz NOT NULL,
    recorded_on    date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX inspection_finding_finding ON {schema}.inspection_finding (tenant, finding_id);
CREATE INDEX inspection_finding_on ON {schema}.inspection_finding (tenant, recorded_on);

-- The rows already stored lack what these columns hold (it is in the event store): the
-- read models no longer count as having applied every stored event, so the next start
-- rebuilds them (services/reporting/store.py `rebuild_owed`).
UPDATE {schema}.tenant_projection_state SET events_applied = 0 WHERE name = 'read_models';
