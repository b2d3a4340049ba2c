-- all_time_metrics: totals over everything stored, whatever the report period, with the
-- vendor's meanings: session count and time over `exec` sessions only, and the CI count over
-- machine sessions. Plus the newest operator facts.
WITH totals AS (
    SELECT
        count(*) FILTER (WHERE kind = 'exec') AS session_count,
        coalesce(sum(duration_seconds) FILTER (WHERE kind = 'exec'), 0) AS session_seconds,
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
