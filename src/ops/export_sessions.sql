-- export_sessions: sessions with the day they started (UTC); {range} is a date condition on
-- `started_at` built from validated dates.
SELECT *, CAST(started_at AS DATE) AS day FROM sessions WHERE {range} ORDER BY started_at, session_id
