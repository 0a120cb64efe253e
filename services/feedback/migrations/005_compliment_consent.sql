-- "Celebrate success" (issue 14 item 12): whether the person who gave a compliment agreed
-- that its summary may be shared (ComplimentReceived.summary_shareable, CONTRACT.md §4,
-- additive). Compliments recorded before were never asked: not shareable.
ALTER TABLE {schema}.compliments ADD COLUMN summary_shareable boolean NOT NULL DEFAULT false;
