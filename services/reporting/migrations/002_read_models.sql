-- Read models (issue: figures cost the same in year ten as in year one).
--
-- One table per kind of fact (services/reporting/facts.py), one row per event that carries
-- it, keyed by (tenant, key) where key = "<source> <id>": a redelivered or duplicated event
-- never reaches them twice (the event store is the inbox), and rows only accumulate (set
-- union), so any arrival order gives the same rows. Columns named after the fact's fields;
-- columns prefixed `d_` are *derived*: recomputed by services/reporting/readmodels.py for
-- every aggregate (audit, complaint, action, child) that a batch touches, from all the rows
-- of that aggregate, with the same pure rules whatever the order. Queries read only the rows
-- of the period and slice asked for, through the (tenant, date) indexes, which carry the
-- columns the KPI statements aggregate (INCLUDE), so that a period is an index-only scan.
--
-- The in-memory facts table these replace is dropped; `qaloop reporting rebuild` (run
-- automatically at start when the event store holds events the read models have not seen)
-- fills them from the event store.

DROP TABLE {schema}.facts;

-- Per tenant and projection: events applied and the newest fact time, so that each
-- authority's status reads its own rows only. "event_store" counts every event stored,
-- "read_models" every event the read models have applied: start-up rebuilds when the two
-- differ (an upgrade from the facts table, or a crash inside a rebuild).
CREATE TABLE {schema}.tenant_projection_state (
    tenant           text NOT NULL,
    name             text NOT NULL,
    events_applied   bigint NOT NULL DEFAULT 0,
    last_event_time  timestamptz,
    PRIMARY KEY (tenant, name)
);
INSERT INTO {schema}.tenant_projection_state (tenant, name, events_applied, last_event_time)
SELECT tenant, 'event_store', count(*), max(time) FROM {schema}.event_store GROUP BY tenant;
DROP TABLE {schema}.projection_state;

CREATE TABLE {schema}.audit_graded (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    audit_id       text NOT NULL,
    case_ref       text NOT NULL,
    service_area   text NOT NULL,
    team           text NOT NULL,
    audit_type     text NOT NULL,
    concern_id     text,
    completed_at   timestamptz NOT NULL,
    completed_on   date NOT NULL,
    overall_grade  text NOT NULL,
    sequence       numeric NOT NULL,  -- any integer the envelope carried
    d_counted      boolean NOT NULL DEFAULT false,  -- the audit's latest grading: the one counted
    d_grade        text,                            -- overall grade after the latest moderation
    PRIMARY KEY (tenant, key)
);
CREATE INDEX audit_graded_counted ON {schema}.audit_graded (tenant, completed_on)
    INCLUDE (d_grade, service_area, team) WHERE d_counted;
CREATE INDEX audit_graded_audit ON {schema}.audit_graded (tenant, audit_id);
CREATE INDEX audit_graded_case ON {schema}.audit_graded (tenant, case_ref);
CREATE INDEX audit_graded_concern ON {schema}.audit_graded (tenant, concern_id) WHERE concern_id IS NOT NULL;

CREATE TABLE {schema}.audit_moderated (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    audit_id       text NOT NULL,
    grade_before   text NOT NULL,
    grade_after    text NOT NULL,
    moderated_at   timestamptz NOT NULL,
    moderated_on   date NOT NULL,
    sequence       numeric NOT NULL,  -- any integer the envelope carried
    PRIMARY KEY (tenant, key)
);
CREATE INDEX audit_moderated_audit ON {schema}.audit_moderated (tenant, audit_id);
CREATE INDEX audit_moderated_on ON {schema}.audit_moderated (tenant, moderated_on);

CREATE TABLE {schema}.concern_raised (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    concern_id     text NOT NULL,
    service_area   text NOT NULL,
    theme          text NOT NULL,
    raised_on      date NOT NULL,
    review_by      date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX concern_raised_concern ON {schema}.concern_raised (tenant, concern_id);
CREATE INDEX concern_raised_on ON {schema}.concern_raised (tenant, raised_on);

CREATE TABLE {schema}.concern_resolved (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    concern_id     text NOT NULL,
    resolved_at    timestamptz NOT NULL,
    resolved_on    date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX concern_resolved_concern ON {schema}.concern_resolved (tenant, concern_id);
CREATE INDEX concern_resolved_on ON {schema}.concern_resolved (tenant, resolved_on);

CREATE TABLE {schema}.feedback (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    response_id    text NOT NULL,
    survey_id      text NOT NULL,
    service_area   text NOT NULL,
    team           text,
    respondent     text NOT NULL,
    received_at    timestamptz NOT NULL,
    received_on    date NOT NULL,
    answers        jsonb NOT NULL,   -- [{question_id, positive, safeguarding_negative}]
    PRIMARY KEY (tenant, key)
);
CREATE INDEX feedback_on ON {schema}.feedback (tenant, received_on) INCLUDE (service_area, team);
CREATE INDEX feedback_response ON {schema}.feedback (tenant, response_id);

-- One row per answer, with its response's date and slice, for the positive-rate KPIs and
-- the feedback-response rule (no join, no JSON at query time).
CREATE TABLE {schema}.feedback_answer (
    tenant         text NOT NULL,
    key            text NOT NULL,
    position       integer NOT NULL,
    question_id    text NOT NULL,
    positive       boolean,          -- null: skipped
    received_on    date NOT NULL,
    service_area   text NOT NULL,
    team           text,
    PRIMARY KEY (tenant, key, position)
);
CREATE INDEX feedback_answer_on ON {schema}.feedback_answer (tenant, received_on)
    INCLUDE (question_id, positive, service_area, team);
CREATE INDEX feedback_answer_question ON {schema}.feedback_answer (tenant, service_area, question_id, received_on);

CREATE TABLE {schema}.compliment (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    compliment_id  text NOT NULL,
    service_area   text NOT NULL,
    team           text NOT NULL,
    origin         text NOT NULL,
    received_on    date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX compliment_on ON {schema}.compliment (tenant, received_on) INCLUDE (origin, service_area, team);

CREATE TABLE {schema}.you_said_we_did (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    item_id        text NOT NULL,
    service_area   text NOT NULL,
    theme          text NOT NULL,
    published_at   timestamptz NOT NULL,
    published_on   date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX you_said_we_did_theme ON {schema}.you_said_we_did (tenant, service_area, theme);
CREATE INDEX you_said_we_did_on ON {schema}.you_said_we_did (tenant, published_on);

CREATE TABLE {schema}.complaint_received (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    procedure      text NOT NULL,
    stage          integer NOT NULL,
    category       text NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    received_on    date NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_received_on ON {schema}.complaint_received (tenant, received_on)
    INCLUDE (category, service_area, team);
CREATE INDEX complaint_received_complaint ON {schema}.complaint_received (tenant, complaint_id);

CREATE TABLE {schema}.complaint_extended (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    stage          integer NOT NULL,
    new_due_date   date NOT NULL,
    time           timestamptz NOT NULL,
    sequence       numeric NOT NULL,  -- any integer the envelope carried
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_extended_complaint ON {schema}.complaint_extended (tenant, complaint_id);

CREATE TABLE {schema}.complaint_escalated (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    complaint_id   text NOT NULL,
    from_stage     integer NOT NULL,
    to_stage       integer NOT NULL,
    escalated_at   timestamptz NOT NULL,
    escalated_on   date NOT NULL,
    d_known        boolean NOT NULL DEFAULT false,  -- the complaint's ComplaintReceived is known
    d_service_area text,                            -- ... and its service area and team
    d_team         text,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_escalated_on ON {schema}.complaint_escalated (tenant, escalated_on)
    INCLUDE (from_stage, to_stage, d_service_area, d_team);
CREATE INDEX complaint_escalated_complaint ON {schema}.complaint_escalated (tenant, complaint_id);

CREATE TABLE {schema}.complaint_closed (
    tenant             text NOT NULL,
    key                text NOT NULL,
    event_id           text NOT NULL,
    complaint_id       text NOT NULL,
    stage              integer NOT NULL,
    closed_at          timestamptz NOT NULL,
    closed_on          date NOT NULL,
    outcome            text NOT NULL,
    due_date           date NOT NULL,
    within_timescale   boolean NOT NULL,
    working_days_taken numeric NOT NULL,
    d_known            boolean NOT NULL DEFAULT false,
    d_service_area     text,
    d_team             text,
    d_due_date         date,      -- the stage's effective due date (extension, capped at the maximum)
    d_working_days     numeric,   -- working days from the stage start (or as reported)
    PRIMARY KEY (tenant, key)
);
CREATE INDEX complaint_closed_on ON {schema}.complaint_closed (tenant, closed_on)
    INCLUDE (outcome, stage, d_due_date, d_working_days, d_service_area, d_team);
CREATE INDEX complaint_closed_complaint ON {schema}.complaint_closed (tenant, complaint_id);

CREATE TABLE {schema}.action_raised (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    action_id      text NOT NULL,
    origin         text NOT NULL,
    origin_id      text NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    raised_on      date NOT NULL,
    due_date       date NOT NULL,
    d_first        boolean NOT NULL DEFAULT false,  -- the action's first ActionRaised: the one that describes it
    PRIMARY KEY (tenant, key)
);
CREATE INDEX action_raised_action ON {schema}.action_raised (tenant, action_id);
CREATE INDEX action_raised_origin ON {schema}.action_raised (tenant, origin_id) WHERE d_first;
CREATE INDEX action_raised_on ON {schema}.action_raised (tenant, raised_on);

CREATE TABLE {schema}.action_completed (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    action_id      text NOT NULL,
    completed_at   timestamptz NOT NULL,
    completed_on   date NOT NULL,
    d_first        boolean NOT NULL DEFAULT false,  -- the action's first completion
    d_known        boolean NOT NULL DEFAULT false,  -- the action's ActionRaised is known
    d_service_area text,
    d_team         text,
    d_due_date     date,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX action_completed_first ON {schema}.action_completed (tenant, completed_on)
    INCLUDE (d_due_date, d_service_area, d_team) WHERE d_first AND d_known;
CREATE INDEX action_completed_action ON {schema}.action_completed (tenant, action_id);

CREATE TABLE {schema}.referral (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    referral_id    text NOT NULL,
    child_ref      text NOT NULL,
    received_on    date NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    d_re_referral  boolean NOT NULL DEFAULT false,  -- an earlier referral of the child within 12 months
    PRIMARY KEY (tenant, key)
);
CREATE INDEX referral_on ON {schema}.referral (tenant, received_on) INCLUDE (d_re_referral, service_area, team);
CREATE INDEX referral_child ON {schema}.referral (tenant, child_ref);

CREATE TABLE {schema}.assessment (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    assessment_id  text NOT NULL,
    child_ref      text NOT NULL,
    started_on     date NOT NULL,
    completed_on   date NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    d_within       boolean NOT NULL,  -- completed by the 45th working day after the start
    PRIMARY KEY (tenant, key)
);
CREATE INDEX assessment_on ON {schema}.assessment (tenant, completed_on) INCLUDE (d_within, service_area, team);

CREATE TABLE {schema}.ehcp (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    plan_id        text NOT NULL,
    child_ref      text NOT NULL,
    requested_on   date NOT NULL,
    issued_on      date NOT NULL,
    exception      boolean NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    d_within       boolean NOT NULL,  -- issued within 140 days of the request
    PRIMARY KEY (tenant, key)
);
CREATE INDEX ehcp_on ON {schema}.ehcp (tenant, issued_on) INCLUDE (exception, d_within, service_area, team);

CREATE TABLE {schema}.contact_attempt (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    attempt_id     text NOT NULL,
    child_ref      text NOT NULL,
    attempted_on   date NOT NULL,
    reached        boolean NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX contact_attempt_on ON {schema}.contact_attempt (tenant, attempted_on)
    INCLUDE (reached, service_area, team);

-- The members of each KPI family seen per tenant (question ids, complaint categories), for
-- the catalogue: kept on write, so listing them never scans the history.
CREATE TABLE {schema}.kpi_member (
    tenant   text NOT NULL,
    family   text NOT NULL,
    member   text NOT NULL,
    PRIMARY KEY (tenant, family, member)
);

-- Follow-ups that no longer hold (a re-audit whose moderated grade became good, a quarter's
-- rate that rose back over the threshold as late answers arrived) leave `followups`, but
-- which of their transitions were published is kept here: should they hold again, nothing
-- is published twice.
CREATE TABLE {schema}.followups_retracted (
    tenant              text NOT NULL,
    followup_id         text NOT NULL,
    opened_published    boolean NOT NULL,
    due_published       boolean NOT NULL,
    overdue_published   boolean NOT NULL,
    closed_published    boolean NOT NULL,
    PRIMARY KEY (tenant, followup_id)
);

-- Follow-ups: indexes for the learning KPIs, for re-deriving one origin, and for the clock's
-- scan of pending transitions (each partial index holds only rows with something to publish).
CREATE INDEX followups_opened ON {schema}.followups (tenant, opened_on, followup_id);
DROP INDEX {schema}.followups_open;
CREATE INDEX followups_open ON {schema}.followups (tenant, opened_on)
    INCLUDE (due_date, service_area, team) WHERE closed_on IS NULL;
CREATE INDEX followups_closed ON {schema}.followups (tenant, closed_on)
    INCLUDE (opened_on, due_date, service_area, team) WHERE closed_on IS NOT NULL;
CREATE INDEX followups_origin ON {schema}.followups (tenant, rule, origin_id);
CREATE INDEX followups_to_open ON {schema}.followups (opened_on) WHERE NOT opened_published;
CREATE INDEX followups_to_close ON {schema}.followups (closed_on) WHERE closed_on IS NOT NULL AND NOT closed_published;
CREATE INDEX followups_to_chase ON {schema}.followups (due_date) WHERE closed_on IS NULL AND NOT overdue_published;
