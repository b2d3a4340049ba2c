-- user_metrics: one row per identity under the chosen primary key, every kind of session.
-- averageDailySessions is the vendor's: sessions divided by the days in the report window,
-- whole days, at least one (the window runs from `from`, or the first session when reporting
-- began, to `to`, or now). averageSessionsPerActiveDay is ours: sessions per day on which the
-- identity had at least one. Missing durations count as 0 in the mean. The display fields are
-- the smallest of the identifier's values, as the all-time rollup keeps them.
, win AS (
    SELECT greatest(1, ceil((
        epoch(coalesce($2::TIMESTAMP, CAST(current_timestamp AS TIMESTAMP)))
        - epoch(coalesce($1::TIMESTAMP, (SELECT min(started_at) FROM s), CAST(current_timestamp AS TIMESTAMP)))
    ) / 86400)) AS days
)
SELECT
    identifier,
    min(client_name) AS display_name,
    min(client_user) AS client_user,
    min(client_hostname) AS hostname,
    min(started_at) AS first_active,
    max(coalesce(ended_at, last_seen_at)) AS last_seen,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    avg(coalesce(duration_seconds, 0)) AS avg_seconds,
    count(*) / any_value(win.days) AS avg_daily_sessions,
    count(*) FILTER (WHERE kind = 'ci') AS ci_sessions,
    count(*) / count(DISTINCT CAST(started_at AS DATE)) AS sessions_per_active_day
FROM s, win
GROUP BY identifier
ORDER BY total_seconds DESC, sessions DESC, identifier
