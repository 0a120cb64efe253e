-- Issue 14 (DOMAIN.md "Added rules (2026-12)"): stage-3 review panels, the escalation
-- window's flag, and referrals to the Ombudsman with its decisions.

-- Stage 2: requested after the escalation window (accepted, flagged `late_request`).
ALTER TABLE {schema}.complaint_stages ADD COLUMN late_request boolean NOT NULL DEFAULT false;

-- Stage 3: each review panel held (the response is due after the latest); only ever added.
CREATE TABLE {schema}.complaint_panels (
    complaint_id  text NOT NULL,
    stage         integer NOT NULL CHECK (stage = 3),
    position      integer NOT NULL,
    held_at       timestamptz NOT NULL,
    PRIMARY KEY (complaint_id, stage, position),
    FOREIGN KEY (complaint_id, stage) REFERENCES {schema}.complaint_stages ON DELETE CASCADE
);

-- Referrals to the Local Government and Social Care Ombudsman, in order, each with the
-- Ombudsman's decision once made.
CREATE TABLE {schema}.complaint_ombudsman (
    complaint_id  text NOT NULL REFERENCES {schema}.complaints ON DELETE CASCADE,
    position      integer NOT NULL,
    referred_at   timestamptz NOT NULL,
    decided_at    timestamptz,
    finding       text CHECK (finding IN ('fault', 'no_fault', 'not_investigated')),
    PRIMARY KEY (complaint_id, position),
    CHECK ((decided_at IS NULL) = (finding IS NULL))
);
