-- Actions on complaints become the shared action lifecycle's table: exactly the shape of
-- shared/actions/store.py ACTIONS_TABLE (the same column names, types, nullability and
-- indexes as every strand's `actions`), keeping every existing row.
--
-- What the old table lacked, and how it is filled:
--   origin        'complaint': every action here was raised on a complaint.
--   origin_id     the old complaint_id, renamed.
--   raised_by     who raised it: the actor of the ActionRaised entry in the complaint's
--                 history; 'unknown' where the history names no one.
--   subject       the complaint's case pseudonym (complaints.case_subject): the CloudEvents
--                 subject its ActionRaised was published under.
--   completed_by  for a completed action, the actor of the ActionCompleted entry in the
--                 complaint's history ('unknown' where it names no one); NULL while open.
-- The old foreign keys (to the complaint and to its learning) go, as the shared table has
-- none: the complaint and its learning are checked when an action is raised.
--
-- An action's events were published in its complaint's sequence (aggregate = the complaint);
-- they are now published in its own (aggregate `action:<id>`). So that a later event of an
-- action raised before (its completion) still comes after the ones it had, its own sequence
-- starts from its complaint's last.

ALTER TABLE {schema}.actions DROP CONSTRAINT actions_complaint_id_fkey;
ALTER TABLE {schema}.actions DROP CONSTRAINT actions_learning_id_fkey;
ALTER TABLE {schema}.actions RENAME COLUMN complaint_id TO origin_id;
ALTER TABLE {schema}.actions
    ADD COLUMN origin        text NOT NULL DEFAULT 'complaint',
    ADD COLUMN raised_by     text,
    ADD COLUMN subject       text,
    ADD COLUMN completed_by  text;
ALTER TABLE {schema}.actions ALTER COLUMN origin DROP DEFAULT;

UPDATE {schema}.actions a
SET raised_by = coalesce(
        (SELECT h.actor FROM {schema}.complaint_history h
         WHERE h.complaint_id = a.origin_id AND h.kind = 'ActionRaised'
           AND h.data ->> 'action_id' = a.action_id AND h.actor IS NOT NULL
         ORDER BY h.id LIMIT 1),
        'unknown'),
    subject = (SELECT c.case_subject FROM {schema}.complaints c WHERE c.complaint_id = a.origin_id),
    completed_by = CASE WHEN a.completed_at IS NOT NULL THEN coalesce(
        (SELECT h.actor FROM {schema}.complaint_history h
         WHERE h.complaint_id = a.origin_id AND h.kind = 'ActionCompleted'
           AND h.data ->> 'action_id' = a.action_id AND h.actor IS NOT NULL
         ORDER BY h.id DESC LIMIT 1),
        'unknown') END;
ALTER TABLE {schema}.actions ALTER COLUMN raised_by SET NOT NULL;

DROP INDEX {schema}.actions_by_complaint;
CREATE INDEX actions_by_origin ON {schema}.actions (origin_id, raised_at);
CREATE INDEX actions_open_by_due ON {schema}.actions (due_date) WHERE completed_at IS NULL;

INSERT INTO {schema}.event_sequences (aggregate, last)
SELECT 'action:' || a.action_id, s.last
FROM {schema}.actions a
JOIN {schema}.event_sequences s ON s.aggregate = a.origin_id
ON CONFLICT (aggregate) DO NOTHING;
