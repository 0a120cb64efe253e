-- Issue 14 (DOMAIN.md "Added rules (2026-12)", CONTRACT.md §4), complaints: agreed statements,
-- stage-3 review panels, the escalation window's flag, the Ombudsman's referrals and
-- decisions, and the complaint's category on every complaint fact (the `category` filter).
-- Existing rows get their new derived columns from `qaloop reporting rebuild` (start-up
-- rebuilds when the event store holds events the read models have not applied).

ALTER TABLE {schema}.complaint_escalated ADD COLUMN late_request boolean NOT NULL DEFAULT false;
ALTER TABLE {schema}.complaint_escalated ADD COLUMN d_category text;
ALTER TABLE {schema}.complaint_closed ADD COLUMN d_category text;
CREATE INDEX complaint_escalated_late ON {schema}.complaint_escalated (tenant, escalated_on)
    INCLUDE (d_service_area, d_team, d_category) WHERE late_request;
-- The existing rows' category, from their complaint's ComplaintReceived (the first).
UPDATE {schema}.complaint_closed c SET d_category = r.category
FROM (SELECT DISTINCT ON (tenant, complaint_id) tenant, complaint_id, category
      FROM {schema}.complaint_received ORDER BY tenant, complaint_id, received_on, event_id) r
WHERE r.tenant = c.tenant AND r.complaint_id = c.complaint_id;
UPDATE {schema}.complaint_escalated c SET d_category = r.category
FROM (SELECT DISTINCT ON (tenant, complaint_id) tenant, complaint_id, category
      FROM {schema}.complaint_received ORDER BY tenant, complaint_id, received_on, event_id) r
WHERE r.tenant = c.tenant AND r.complaint_id = c.complaint_id;

CREATE TABLE {schema}.complaint_statement_agreed (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    agreed_at      timestamptz NOT NULL,
    agreed_on      date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_statement_agreed_complaint ON {schema}.complaint_statement_agreed (tenant, complaint_id);

CREATE TABLE {schema}.complaint_panel_held (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    held_at        timestamptz NOT NULL,
    held_on        date NOT NULL,
    d_known        boolean NOT NULL DEFAULT false,  -- the complaint's ComplaintReceived is known
    d_service_area text,                            -- ... and its service area, team and category
    d_team         text,
    d_category     text,
    d_within       boolean,  -- held by the 30th working day after the stage-3 request; null: request unknown
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_panel_held_on ON {schema}.complaint_panel_held (tenant, held_on)
    INCLUDE (d_within, d_service_area, d_team, d_category);
CREATE INDEX complaint_panel_held_complaint ON {schema}.complaint_panel_held (tenant, complaint_id);

CREATE TABLE {schema}.ombudsman_referral (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    referred_at    timestamptz NOT NULL,
    referred_on    date NOT NULL,
    d_known        boolean NOT NULL DEFAULT false,
    d_service_area text,
    d_team         text,
    d_category     text,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX ombudsman_referral_on ON {schema}.ombudsman_referral (tenant, referred_on)
    INCLUDE (d_service_area, d_team, d_category);
CREATE INDEX ombudsman_referral_complaint ON {schema}.ombudsman_referral (tenant, complaint_id);

CREATE TABLE {schema}.ombudsman_decision (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    decided_at     timestamptz NOT NULL,
    decided_on     date NOT NULL,
    finding        text NOT NULL,
    d_known        boolean NOT NULL DEFAULT false,
    d_service_area text,
    d_team         text,
    d_category     text,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX ombudsman_decision_on ON {schema}.ombudsman_decision (tenant, decided_on)
    INCLUDE (finding, d_service_area, d_team, d_category);
CREATE INDEX ombudsman_decision_complaint ON {schema}.ombudsman_decision (tenant, complaint_id);

-- Stage-3 closings already applied were derived under the old rule (30 working days after
-- the request): where any complaint closing is stored, the read models owe a rebuild, which
-- the service runs at start (store.rebuild_owed) and which re-derives every complaint.
UPDATE {schema}.tenant_projection_state SET events_applied = 0
WHERE name = 'read_models' AND EXISTS (SELECT 1 FROM {schema}.complaint_closed);
