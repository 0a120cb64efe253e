-- The complaints service's own tables. Complainant details, the raw case reference, point
-- summaries and free-text notes live here and never leave the service.

CREATE TABLE {schema}.complaints (
    complaint_id      text PRIMARY KEY,
    procedure         text NOT NULL,
    category          text NOT NULL,
    team              text NOT NULL,
    service_area      text NOT NULL,
    complainant       text NOT NULL,
    received_at       timestamptz NOT NULL,
    case_ref          text,          -- raw case reference: stays here
    case_subject      text,          -- its pseudonymised CloudEvents subject
    status            text NOT NULL CHECK (status IN ('open', 'responded', 'withdrawn')),
    current_stage     integer NOT NULL CHECK (current_stage BETWEEN 1 AND 3),
    current_due_date  date,          -- due date of the current stage while it is open
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaints_by_status_due ON {schema}.complaints (status, current_due_date);
CREATE INDEX complaints_by_team ON {schema}.complaints (team, status);
CREATE INDEX complaints_by_category ON {schema}.complaints (category, status);

CREATE TABLE {schema}.complainant_details (
    complaint_id  text PRIMARY KEY REFERENCES {schema}.complaints ON DELETE CASCADE,
    name          text,
    contact       text
);

CREATE TABLE {schema}.complaint_stages (
    complaint_id         text NOT NULL REFERENCES {schema}.complaints ON DELETE CASCADE,
    stage                integer NOT NULL CHECK (stage BETWEEN 1 AND 3),
    requested_at         timestamptz NOT NULL,
    clock_start          date,
    base_due_date        date,
    maximum_date         date,
    statement_agreed_at  timestamptz,
    acknowledged_at      timestamptz,
    closed_at            timestamptz,
    outcome              text,
    due_date_at_close    date,
    within_timescale     boolean,
    working_days_taken   integer,
    PRIMARY KEY (complaint_id, stage)
);

CREATE TABLE {schema}.complaint_extensions (
    complaint_id  text NOT NULL,
    stage         integer NOT NULL,
    position      integer NOT NULL,
    new_due_date  date NOT NULL,
    reason        text NOT NULL,
    note          text,
    extended_at   timestamptz NOT NULL,
    PRIMARY KEY (complaint_id, stage, position),
    FOREIGN KEY (complaint_id, stage) REFERENCES {schema}.complaint_stages ON DELETE CASCADE
);

CREATE TABLE {schema}.complaint_points (
    complaint_id  text NOT NULL,
    stage         integer NOT NULL,
    position      integer NOT NULL,
    summary       text,
    upheld        boolean NOT NULL,
    PRIMARY KEY (complaint_id, stage, position),
    FOREIGN KEY (complaint_id, stage) REFERENCES {schema}.complaint_stages ON DELETE CASCADE
);

-- What happened to a complaint, in order: the data of each event it produced (which carries
-- no personal details) and local-only steps such as an agreed statement of complaint.
CREATE TABLE {schema}.complaint_history (
    id            bigserial PRIMARY KEY,
    complaint_id  text NOT NULL REFERENCES {schema}.complaints ON DELETE CASCADE,
    kind          text NOT NULL,
    event_id      text,
    data          jsonb NOT NULL,
    actor         text,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX complaint_history_by_complaint ON {schema}.complaint_history (complaint_id, id);

CREATE TABLE {schema}.learning (
    learning_id    text PRIMARY KEY,
    complaint_id   text NOT NULL REFERENCES {schema}.complaints ON DELETE CASCADE,
    team           text NOT NULL,
    service_area   text NOT NULL,
    summary        text NOT NULL,
    identified_at  timestamptz NOT NULL,
    recorded_by    text
);
CREATE INDEX learning_by_complaint ON {schema}.learning (complaint_id);

CREATE TABLE {schema}.actions (
    action_id     text PRIMARY KEY,
    complaint_id  text NOT NULL REFERENCES {schema}.complaints ON DELETE CASCADE,
    learning_id   text REFERENCES {schema}.learning,
    team          text NOT NULL,
    service_area  text NOT NULL,
    owner_id      text NOT NULL,
    raised_at     timestamptz NOT NULL,
    due_date      date NOT NULL,
    summary       text NOT NULL,
    completed_at  timestamptz,
    evidence      text
);
CREATE INDEX actions_by_complaint ON {schema}.actions (complaint_id);
