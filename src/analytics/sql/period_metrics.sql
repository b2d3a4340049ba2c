-- period_metrics: totals for the report period. Active users and machines count exec
-- sessions only (CI uses no seat).
SELECT
    count(*) AS session_count,
    coalesce(sum(duration_seconds), 0) AS session_seconds,
    count(*) FILTER (WHERE kind = 'ci') AS ci_session_count,
    count(DISTINCT identifier) FILTER (WHERE kind = 'exec') AS active_users,
    count(DISTINCT client_id) FILTER (WHERE kind = 'exec') AS unique_machines
FROM s
