-- The audit strand's own tables. The raw case reference (case_reference) never leaves this
-- schema: events carry case_ref, its keyed hash (shared.pseudonym).

CREATE TABLE {schema}.templates (
    template_id   text PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    service_area  text NOT NULL,
    audit_type    text CHECK (audit_type IN ('routine', 'themed', 'targeted', 'ehcp', 'dip_sample')),
    areas         jsonb NOT NULL,          -- [{"key", "title", "guidance"}], in grading order
    is_default    boolean NOT NULL DEFAULT false,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- One default template per service area and audit type (NULL: any type but EHCP).
CREATE UNIQUE INDEX templates_one_default
    ON {schema}.templates (service_area, coalesce(audit_type, ''))
    WHERE is_default;

CREATE TABLE {schema}.concerns (
    concern_id          text PRIMARY KEY,
    service_area        text NOT NULL,
    theme               text NOT NULL,
    description         text NOT NULL,
    measures            jsonb NOT NULL,    -- [str]
    raised_at           timestamptz NOT NULL,
    review_by           date NOT NULL,
    raised_by           text NOT NULL,
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_at         timestamptz,
    resolved_by         text,
    evidence_audit_ids  jsonb
);
CREATE INDEX concerns_status ON {schema}.concerns (status, review_by);

CREATE TABLE {schema}.audits (
    audit_id        text PRIMARY KEY,
    case_reference  text NOT NULL,          -- raw: stays here
    case_ref        text NOT NULL,          -- keyed hash: what events carry
    service_area    text NOT NULL,
    team            text NOT NULL,
    audit_type      text NOT NULL CHECK (audit_type IN ('routine', 'themed', 'targeted', 'ehcp', 'dip_sample')),
    theme           text,
    concern_id      text REFERENCES {schema}.concerns,
    template_id     text NOT NULL REFERENCES {schema}.templates,
    areas           jsonb NOT NULL,         -- the template's areas when scheduled
    auditor_id      text NOT NULL,
    due_date        date NOT NULL,
    status          text NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'in_progress', 'completed')),
    grade_rule      text CHECK (grade_rule IN ('worst', 'best_fit')),
    overall_grade   text CHECK (overall_grade IN ('outstanding', 'good', 'requires_improvement', 'inadequate')),
    current_grade   text CHECK (current_grade IN ('outstanding', 'good', 'requires_improvement', 'inadequate')),
    completed_at    timestamptz,
    completed_by    text,
    scheduled_by    text NOT NULL,
    scheduled_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL AND overall_grade IS NOT NULL))
);
CREATE INDEX audits_status_due ON {schema}.audits (status, due_date);
CREATE INDEX audits_team ON {schema}.audits (team, due_date);
CREATE INDEX audits_auditor ON {schema}.audits (auditor_id, due_date);
CREATE INDEX audits_case ON {schema}.audits (case_ref);
CREATE INDEX audits_concern ON {schema}.audits (concern_id) WHERE concern_id IS NOT NULL;

CREATE TABLE {schema}.area_grades (
    audit_id   text NOT NULL REFERENCES {schema}.audits,
    area       text NOT NULL,
    grade      text NOT NULL CHECK (grade IN ('outstanding', 'good', 'requires_improvement', 'inadequate')),
    rationale  text NOT NULL,               -- free text: never put in an event
    graded_by  text NOT NULL,
    graded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (audit_id, area)
);

CREATE TABLE {schema}.moderations (
    moderation_id  bigserial PRIMARY KEY,
    audit_id       text NOT NULL REFERENCES {schema}.audits,
    grade_before   text NOT NULL,
    grade_after    text NOT NULL,
    moderator_id   text NOT NULL,
    reason         text NOT NULL,
    moderated_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderations_audit ON {schema}.moderations (audit_id, moderation_id);

CREATE TABLE {schema}.actions (
    action_id     text PRIMARY KEY,
    origin        text NOT NULL CHECK (origin IN ('audit', 'concern')),
    origin_id     text NOT NULL,
    audit_id      text REFERENCES {schema}.audits,
    concern_id    text REFERENCES {schema}.concerns,
    team          text NOT NULL,
    service_area  text NOT NULL,
    owner_id      text NOT NULL,
    summary       text NOT NULL,
    raised_at     timestamptz NOT NULL,
    raised_by     text NOT NULL,
    due_date      date NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    completed_at  timestamptz,
    completed_by  text,
    evidence      text,
    CHECK ((origin = 'audit') = (audit_id IS NOT NULL)),
    CHECK ((origin = 'concern') = (concern_id IS NOT NULL))
);
CREATE INDEX actions_origin ON {schema}.actions (origin, origin_id);
CREATE INDEX actions_status_due ON {schema}.actions (status, due_date);
