-- Issue 14 (DOMAIN.md "Added rules (2026-12)"): the EHC plan procedure checklist on templates
-- and audits, whether a concern's measures worked (and the concern that reworks one), and
-- inspection findings with the actions that answer them.

-- An EHCP template's procedure checklist ([{"key", "title"}]); other templates have none.
-- The seeded EHCP template gets its checklist at start (services/audit/store.py `seed`).
ALTER TABLE {schema}.templates ADD COLUMN checklist jsonb NOT NULL DEFAULT '[]';

-- The template's checklist when the audit was scheduled, the auditor's answers at completion
-- ({"item": met}) and whether every item was met (NULL: the audit has no checklist).
ALTER TABLE {schema}.audits
    ADD COLUMN checklist            jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN checklist_answers    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN procedure_compliant  boolean;

ALTER TABLE {schema}.concerns
    ADD COLUMN supersedes  text REFERENCES {schema}.concerns,
    ADD COLUMN outcome     text CHECK (outcome IN ('effective', 'partly_effective', 'not_effective')),
    ADD COLUMN reason      text,
    ADD CONSTRAINT concerns_reason_unless_effective
        CHECK (outcome IS NULL OR outcome = 'effective' OR reason IS NOT NULL);
CREATE INDEX concerns_supersedes ON {schema}.concerns (supersedes) WHERE supersedes IS NOT NULL;

CREATE TABLE {schema}.inspection_findings (
    finding_id    text PRIMARY KEY,
    body          text NOT NULL CHECK (body IN ('ofsted', 'cqc', 'dfe', 'other')),
    service_area  text NOT NULL,
    team          text,
    summary       text NOT NULL,          -- published text (InspectionFindingRecorded)
    recorded_at   timestamptz NOT NULL,
    recorded_by   text NOT NULL
);
CREATE INDEX inspection_findings_recorded ON {schema}.inspection_findings (recorded_at, finding_id);
