-- The notifier (services/notifier): what it knows of follow-ups and actions, the recipient
-- directory, and every notice it recorded — the sent-record that makes each (follow-up,
-- transition, address) e-mailed once.

CREATE TABLE {schema}.followups (
    tenant        text NOT NULL,
    followup_id   text NOT NULL,
    rule          text,            -- null until its FollowUpOpened arrives
    origin        text,
    origin_id     text,
    team          text,
    service_area  text,
    due_date      date,
    closed_on     date,
    PRIMARY KEY (tenant, followup_id)
);

CREATE TABLE {schema}.action_owners (
    tenant     text NOT NULL,
    action_id  text NOT NULL,
    owner_id   text NOT NULL,
    PRIMARY KEY (tenant, action_id)
);

-- staff id -> address, team -> its manager's address; no names
CREATE TABLE {schema}.recipients (
    tenant    text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('staff', 'team')),
    key       text NOT NULL,
    address   text NOT NULL,
    delivery  text CHECK (delivery IN ('immediate', 'daily')),
    PRIMARY KEY (tenant, kind, key)
);

-- address '' = nobody in particular (held, nobody)
CREATE TABLE {schema}.notices (
    tenant        text NOT NULL,
    followup_id   text NOT NULL,
    transition    text NOT NULL CHECK (transition IN ('due', 'overdue')),
    address       text NOT NULL,
    status        text NOT NULL CHECK (status IN ('sent', 'queued', 'nobody', 'held', 'closed', 'late', 'refused')),
    role          text CHECK (role IN ('owner', 'team-manager')),
    reason        text,
    channel       text,
    due_date      date NOT NULL,
    published_on  date NOT NULL,
    days_overdue  integer NOT NULL DEFAULT 0,
    digest_day    date,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, followup_id, transition, address)
);
CREATE INDEX notices_by_status ON {schema}.notices (tenant, status, recorded_at DESC);
CREATE INDEX notices_queued ON {schema}.notices (tenant, address) WHERE status = 'queued';
CREATE INDEX notices_held ON {schema}.notices (tenant, followup_id) WHERE status = 'held';

-- one digest per address per day
CREATE TABLE {schema}.digests (
    tenant   text NOT NULL,
    address  text NOT NULL,
    day      date NOT NULL,
    items    integer NOT NULL,
    sent_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, address, day)
);
