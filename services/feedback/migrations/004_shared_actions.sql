-- Feedback's actions become the shared action lifecycle's table (shared.actions.store:
-- ACTIONS_TABLE): the same columns and indexes in every strand. Every row is kept.
--
-- Columns the old table lacked, and how they are filled:
--   origin       'feedback' for every row: the origin every feedback action was published
--                with in ActionRaised (the old table had no column for it; it was implied).
--   learning_id  NULL: feedback records no learning (a complaint's), so no feedback action
--                answers one.
--   subject      NULL: feedback's events carry no CloudEvents subject (no case pseudonym).
-- Columns the shared table does not have, dropped:
--   origin_kind  'response' or 'theme': what origin_id names. A theme's origin_id is
--                `<service_area>:<theme>`; a response's is the response id, as in ActionRaised.
--   response_id  the response again (= origin_id for a response's action), with its foreign
--                key: responses are never deleted, and the action's origin is checked when
--                it is raised.
--   recorded_at  when the row was written; raised_at says when the action was raised.
-- The old CHECK constraints are dropped too: the shared table has none (the shared rules,
-- shared.actions.domain, hold what they held). The indexes actions_by_origin and
-- actions_open_by_due are already the shared table's, and stay.

ALTER TABLE {schema}.actions ADD COLUMN origin text;
UPDATE {schema}.actions SET origin = 'feedback';
ALTER TABLE {schema}.actions ALTER COLUMN origin SET NOT NULL;
ALTER TABLE {schema}.actions ADD COLUMN learning_id text;
ALTER TABLE {schema}.actions ADD COLUMN subject text;

-- The old table's CHECK constraints, whatever PostgreSQL named them (the foreign key goes
-- with response_id).
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = '{schema}.actions'::regclass AND contype = 'c'
    LOOP
        EXECUTE format('ALTER TABLE {schema}.actions DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;

ALTER TABLE {schema}.actions DROP COLUMN origin_kind;
ALTER TABLE {schema}.actions DROP COLUMN response_id;
ALTER TABLE {schema}.actions DROP COLUMN recorded_at;
