-- Feedback: surveys (versioned), responses with their answers, compliments and
-- "you said, we did" items. Free text stays in these tables; events never carry it.

CREATE TABLE {schema}.surveys (
    survey_id     text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    title         text NOT NULL,
    service_area  text NOT NULL,
    respondents   text[] NOT NULL,
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
    answer_type   text NOT NULL CHECK (answer_type IN ('yes_no', 'scale_1_5', 'free_text')),
    safeguarding  boolean NOT NULL DEFAULT false,
    reported_as   text NOT NULL,
    PRIMARY KEY (survey_id, version, question_id),
    UNIQUE (survey_id, version, position),
    FOREIGN KEY (survey_id, version) REFERENCES {schema}.surveys (survey_id, version)
);

CREATE TABLE {schema}.responses (
    response_id     text PRIMARY KEY,
    survey_id       text NOT NULL,
    survey_version  integer NOT NULL,
    service_area    text NOT NULL,
    team            text,
    respondent      text NOT NULL,
    channel         text,
    received_at     timestamptz NOT NULL,
    fingerprint     text NOT NULL,
    source          text NOT NULL CHECK (source IN ('api', 'csv')),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (survey_id, survey_version) REFERENCES {schema}.surveys (survey_id, version)
);
CREATE INDEX responses_by_survey ON {schema}.responses (survey_id, received_at);

-- One row per answered question (skipped questions have none). `value` is yes/no or 1-5;
-- `free_text` holds a free-text answer, which never leaves this service.
CREATE TABLE {schema}.answers (
    response_id     text NOT NULL REFERENCES {schema}.responses (response_id),
    survey_id       text NOT NULL,
    survey_version  integer NOT NULL,
    question_id     text NOT NULL,
    value           text CHECK (value IN ('yes', 'no', '1', '2', '3', '4', '5')),
    free_text       text,
    PRIMARY KEY (response_id, question_id),
    CHECK ((value IS NULL) <> (free_text IS NULL)),
    FOREIGN KEY (survey_id, survey_version, question_id)
        REFERENCES {schema}.survey_questions (survey_id, version, question_id)
);

CREATE TABLE {schema}.compliments (
    compliment_id  text PRIMARY KEY,
    origin         text NOT NULL CHECK (origin IN ('external', 'internal')),
    service_area   text NOT NULL,
    team           text NOT NULL,
    received_at    timestamptz NOT NULL,
    summary        text,
    fingerprint    text NOT NULL,
    recorded_by    text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compliments_by_area ON {schema}.compliments (service_area, received_at);

CREATE TABLE {schema}.you_said_we_did (
    item_id       text PRIMARY KEY,
    service_area  text NOT NULL,
    theme         text NOT NULL,
    you_said      text NOT NULL,
    we_did        text NOT NULL,
    feedback_ids  text[] NOT NULL,
    action_id     text,
    published_at  timestamptz NOT NULL,
    fingerprint   text NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX you_said_we_did_by_area ON {schema}.you_said_we_did (service_area, published_at);
