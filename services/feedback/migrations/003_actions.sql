-- Actions raised on survey responses (origin_id = the response: a safeguarding alert is
-- closed by completing one) or on a service area's theme (origin_id = '<area>:<theme>').
-- Published as ActionRaised / ActionCompleted with origin 'feedback'.

CREATE TABLE {schema}.actions (
    action_id     text PRIMARY KEY,
    origin_kind   text NOT NULL CHECK (origin_kind IN ('response', 'theme')),
    origin_id     text NOT NULL,
    response_id   text REFERENCES {schema}.responses (response_id),
    team          text NOT NULL,
    service_area  text NOT NULL,
    owner_id      text NOT NULL,
    summary       text NOT NULL,
    due_date      date NOT NULL,
    raised_at     timestamptz NOT NULL,
    raised_by     text NOT NULL,
    completed_at  timestamptz,
    completed_by  text,
    evidence      text,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((origin_kind = 'response') = (response_id IS NOT NULL)),
    CHECK (response_id IS NULL OR response_id = origin_id),
    CHECK ((completed_at IS NULL) = (completed_by IS NULL)),
    CHECK (completed_at IS NULL OR completed_at >= raised_at),
    CHECK (evidence IS NULL OR completed_at IS NOT NULL)
);
CREATE INDEX actions_by_origin ON {schema}.actions (origin_id, raised_at);
CREATE INDEX actions_open_by_due ON {schema}.actions (due_date) WHERE completed_at IS NULL;
