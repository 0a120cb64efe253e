-- Workforce read models (issue 15; DOMAIN.md "Workforce"): one table per kind of workforce
-- fact (services/reporting/facts.py), keyed by (tenant, key) like the others.
--
-- A worker's records are its StaffJoined rows: `d_until` is the day the record stops being
-- in post (the next StaffJoined of the worker in post, which changes the record, or the
-- StaffLeft that ends the spell; NULL while in post), kept by readmodels.py for every worker
-- a batch touches (services/reporting/workforce.py `staff_timeline`). A record is in post at
-- the end of day D when joined_on <= D AND (d_until IS NULL OR d_until > D). A StaffLeft that
-- ended a spell has `d_counted` and the ended record's team, service area, role, contract and
-- FTE (the leaver's slice and FTE); one that ended nothing has d_counted false.

CREATE TABLE {schema}.staff_joined (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    worker_id      text NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    role           text NOT NULL,
    contract       text NOT NULL,
    fte            numeric NOT NULL,
    case_holding   boolean NOT NULL,
    joined_at      timestamptz NOT NULL,
    joined_on      date NOT NULL,
    sequence       numeric NOT NULL,
    d_until        date,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX staff_joined_on ON {schema}.staff_joined (tenant, joined_on)
    INCLUDE (d_until, role, contract, fte, case_holding, service_area, team, worker_id);
CREATE INDEX staff_joined_worker ON {schema}.staff_joined (tenant, worker_id);

CREATE TABLE {schema}.staff_left (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    worker_id      text NOT NULL,
    left_at        timestamptz NOT NULL,
    left_on        date NOT NULL,
    reason         text NOT NULL,
    sequence       numeric NOT NULL,
    d_counted      boolean NOT NULL DEFAULT false,  -- it ended a spell (the worker was in post)
    d_team         text,                            -- ... the ended record's slice, role,
    d_service_area text,                            --     contract and FTE
    d_role         text,
    d_contract     text,
    d_fte          numeric,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX staff_left_on ON {schema}.staff_left (tenant, left_on)
    INCLUDE (d_role, d_contract, d_fte, d_service_area, d_team, reason) WHERE d_counted;
CREATE INDEX staff_left_worker ON {schema}.staff_left (tenant, worker_id);

CREATE TABLE {schema}.vacancy (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    team           text NOT NULL,
    service_area   text NOT NULL,
    vacant_fte     numeric NOT NULL,
    as_of          date NOT NULL,
    time           timestamptz NOT NULL,
    sequence       numeric NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX vacancy_team ON {schema}.vacancy (tenant, team, as_of);

CREATE TABLE {schema}.caseload (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    worker_id      text NOT NULL,
    cases          numeric NOT NULL,
    as_of          date NOT NULL,
    time           timestamptz NOT NULL,
    sequence       numeric NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX caseload_worker ON {schema}.caseload (tenant, worker_id, as_of);

CREATE TABLE {schema}.staff_survey (
    tenant         text NOT NULL,
    key            text NOT NULL,
    event_id       text NOT NULL,
    response_id    text NOT NULL,
    survey_id      text NOT NULL,
    service_area   text NOT NULL,
    team           text,
    received_at    timestamptz NOT NULL,
    received_on    date NOT NULL,
    answers        jsonb NOT NULL,   -- [{question_id, positive, safeguarding_negative}]
    PRIMARY KEY (tenant, key)
);
CREATE INDEX staff_survey_on ON {schema}.staff_survey (tenant, received_on) INCLUDE (service_area, team);

-- One row per answer of the staff health-check survey, as feedback_answer is for feedback.
CREATE TABLE {schema}.staff_survey_answer (
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
CREATE INDEX staff_survey_answer_on ON {schema}.staff_survey_answer (tenant, received_on)
    INCLUDE (question_id, positive, service_area, team);
