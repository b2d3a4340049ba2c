-- all_time_metrics: totals over everything stored (one pass over the `sessions` view), plus the
-- newest operator facts.
WITH totals AS (
    SELECT
        count(*) AS session_count,
        coalesce(sum(duration_seconds), 0) AS session_seconds,
        count(*) FILTER (WHERE kind = 'ci') AS ci_session_count
    FROM sessions
)
SELECT
    totals.session_count,
    totals.session_seconds,
    totals.ci_session_count,
    (SELECT operator_version FROM events WHERE operator_version IS NOT NULL ORDER BY timestamp DESC LIMIT 1) AS operator_version,
    (SELECT max(timestamp) FROM events) AS last_event
FROM totals
