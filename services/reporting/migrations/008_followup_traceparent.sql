-- OpenTelemetry (shared/tracing.py): the trace in which intake opened a follow-up (the W3C
-- traceparent of its "follow-ups opened" span), so that the FollowUpOpened the clock
-- publishes later carries on that trace. Null when tracing is off, and for follow-ups opened
-- before this column or by a rebuild.
ALTER TABLE {schema}.followups ADD COLUMN traceparent text;
