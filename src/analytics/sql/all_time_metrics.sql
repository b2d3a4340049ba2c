-- all_time_metrics: totals over everything stored, plus the newest operator facts.
SELECT
    (SELECT count(*) FROM sessions) AS session_count,
    (SELECT coalesce(sum(duration_seconds), 0) FROM sessions) AS session_seconds,
    (SELECT count(*) FROM sessions WHERE kind = 'ci') AS ci_session_count,
    (SELECT operator_version FROM events WHERE operator_version IS NOT NULL ORDER BY timestamp DESC LIMIT 1) AS operator_version,
    (SELECT max(timestamp) FROM events) AS last_event
