-- Audit's actions in the shape every strand shares (shared.actions.store.ACTIONS_TABLE):
-- the same columns, types, nullability and indexes, every existing row kept.
--
-- Columns the old table lacked, and how they are filled:
--   subject      the CloudEvents subject of the action's events. For an action on an audit,
--                the audit's case pseudonym, 'case:' || audits.case_ref
--                (shared.pseudonym.subject_for), which is what the old service put on that
--                action's ActionRaised and ActionCompleted; NULL for an action on a concern
--                (its events had no subject).
--   learning_id  NULL: the audit strand records no learnings (that is complaints').
-- Columns the shared table does not have, dropped once their content is kept elsewhere:
--   status       'completed' exactly when completed_at is set (checked below, before it goes);
--   audit_id, concern_id
--                the origin's id, which origin_id already holds (checked below); their
--                foreign keys and the CHECKs pairing them with origin go with them.
-- The CHECK on origin goes too (the shared table has none; origin is a LearningOrigin).
--
-- The events of an action are now sequenced per aggregate 'action:<id>'
-- (shared.actions.handlers.aggregate_of), where the old service used the bare action id: the
-- sequence counters of existing actions are renamed so that their next event continues them.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM {schema}.actions
               WHERE (status = 'completed') <> (completed_at IS NOT NULL)
                  OR origin_id IS DISTINCT FROM coalesce(audit_id, concern_id)) THEN
        RAISE EXCEPTION 'audit.actions has rows whose status or origin columns disagree: fix them first';
    END IF;
END $$;

ALTER TABLE {schema}.actions
    ADD COLUMN learning_id text,
    ADD COLUMN subject text;

UPDATE {schema}.actions AS a
SET subject = 'case:' || au.case_ref
FROM {schema}.audits AS au
WHERE a.origin = 'audit' AND au.audit_id = a.origin_id;

DROP INDEX {schema}.actions_origin;
DROP INDEX {schema}.actions_status_due;
ALTER TABLE {schema}.actions
    DROP CONSTRAINT actions_origin_check,
    DROP COLUMN status,
    DROP COLUMN audit_id,
    DROP COLUMN concern_id;
CREATE INDEX actions_by_origin ON {schema}.actions (origin_id, raised_at);
CREATE INDEX actions_open_by_due ON {schema}.actions (due_date) WHERE completed_at IS NULL;

UPDATE {schema}.event_sequences AS s
SET aggregate = 'action:' || s.aggregate
WHERE s.aggregate IN (SELECT action_id FROM {schema}.actions);
