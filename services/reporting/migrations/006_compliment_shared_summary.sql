-- "Celebrate success" (issue 14 item 12): the summary of an external or internal compliment
-- whose giver agreed to share it (ComplimentReceived.summary_shareable), for the quarterly
-- report's good-practice page; null when not agreed (the summary is then never kept here).
-- No event before this migration carries the agreement, so existing rows stay null.
ALTER TABLE {schema}.compliment ADD COLUMN shared_summary text;
