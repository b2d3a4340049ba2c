-- export_events: events with the day they happened (UTC); {range} is a date condition on
-- `timestamp` built from validated dates.
SELECT *, CAST(timestamp AS DATE) AS day FROM events WHERE {range} ORDER BY timestamp, id
