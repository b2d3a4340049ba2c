-- user_metrics: one row per user identifier. averageDailySessions = sessions per day on which
-- the user had at least one session.
SELECT
    identifier,
    any_value(client_name) AS display_name,
    any_value(client_user) AS client_user,
    any_value(client_hostname) AS hostname,
    min(started_at) AS first_active,
    max(coalesce(ended_at, last_seen_at)) AS last_seen,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    coalesce(avg(duration_seconds), 0) AS avg_seconds,
    count(*) / count(DISTINCT CAST(started_at AS DATE)) AS avg_daily_sessions,
    count(*) FILTER (WHERE kind = 'ci') AS ci_sessions
FROM s
GROUP BY identifier
ORDER BY total_seconds DESC, sessions DESC, identifier
