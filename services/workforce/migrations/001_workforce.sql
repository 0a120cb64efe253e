-- Workforce (issue 15): staff records by worker pseudonym (never a name or the HR
-- reference), their history, vacancies per team, caseload snapshots, the staff health-check
-- survey (versioned) and its responses, and the actions raised on a team's workforce.

CREATE TABLE {schema}.workers (
    worker_id       text PRIMARY KEY,          -- the pseudonym (shared.pseudonym)
    team            text,                      -- the record in post (NULL: not in post)
    service_area    text,
    role            text,
    contract        text,
    fte             numeric,
    case_holding    boolean,
    since           timestamptz,
    last_at         timestamptz NOT NULL,      -- nothing may be dated before it
    left_at         timestamptz,
    leaving_reason  text,
    updated_by      text NOT NULL,
    CHECK ((team IS NULL) = (role IS NULL))
);
CREATE INDEX workers_team ON {schema}.workers (team) WHERE team IS NOT NULL;

-- Every join, change and leave, in order (what was published, and by whom).
CREATE TABLE {schema}.staff_history (
    position        bigserial PRIMARY KEY,
    worker_id       text NOT NULL REFERENCES {schema}.workers (worker_id),
    kind            text NOT NULL CHECK (kind IN ('joined', 'left')),
    at              timestamptz NOT NULL,
    team            text,
    service_area    text,
    role            text,
    contract        text,
    fte             numeric,
    case_holding    boolean,
    reason          text,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_history_worker ON {schema}.staff_history (worker_id, position);

CREATE TABLE {schema}.vacancies (
    team            text NOT NULL,
    as_of           date NOT NULL,
    service_area    text NOT NULL,
    vacant_fte      numeric NOT NULL CHECK (vacant_fte >= 0),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team, as_of)
);

CREATE TABLE {schema}.caseloads (
    worker_id       text NOT NULL REFERENCES {schema}.workers (worker_id),
    as_of           date NOT NULL,
    cases           integer NOT NULL CHECK (cases >= 0),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, as_of)
);

CREATE TABLE {schema}.surveys (
    survey_id     text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    title         text NOT NULL,
    published_at  timestamptz NOT NULL,
    published_by  text NOT NULL,
    PRIMARY KEY (survey_id, version)
);

CREATE TABLE {schema}.survey_questions (
    survey_id     text NOT NULL,
    version       integer NOT NULL,
    position      integer NOT NULL,
    question_id   text NOT NULL,
    wording       text NOT NULL,
    answer_type   text NOT NULL CHECK (answer_type IN ('yes_no', 'scale_1_5')),
    reported_as   text NOT NULL,
    PRIMARY KEY (survey_id, version, question_id),
    FOREIGN KEY (survey_id, version) REFERENCES {schema}.surveys (survey_id, version)
);

CREATE TABLE {schema}.survey_responses (
    response_id     text PRIMARY KEY,
    survey_id       text NOT NULL,
    survey_version  integer NOT NULL,
    service_area    text NOT NULL,
    team            text,
    received_at     timestamptz NOT NULL,
    answers         jsonb NOT NULL,           -- {question_id: value}
    fingerprint     text NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (survey_id, survey_version) REFERENCES {schema}.surveys (survey_id, version)
);

-- The actions raised on a team's workforce, in the shape every strand shares
-- (shared.actions.store.ACTIONS_TABLE).
CREATE TABLE {schema}.actions (
    action_id     text PRIMARY KEY,
    origin        text NOT NULL,
    origin_id     text NOT NULL,
    team          text NOT NULL,
    service_area  text NOT NULL,
    owner_id      text NOT NULL,
    summary       text NOT NULL,
    due_date      date NOT NULL,
    raised_at     timestamptz NOT NULL,
    raised_by     text NOT NULL,
    learning_id   text,
    subject       text,
    completed_at  timestamptz,
    completed_by  text,
    evidence      text
);
CREATE INDEX actions_by_origin ON {schema}.actions (origin_id, raised_at);
CREATE INDEX actions_open_by_due ON {schema}.actions (due_date) WHERE completed_at IS NULL;
