-- trends_buckets: the trends by interval (`interval=`): one row per interval of
-- `report_buckets` (kind 'interval', see src/analytics/buckets.rs), zeros where nothing
-- happened. Same measures as trends.sql; only sessions in [$1, $2) (UTC) count, so the first
-- and last intervals are clipped to the range. New users are exec users whose first session
-- (ever) started in the interval.
WITH b AS (
    SELECT idx, label, start_at FROM report_buckets WHERE kind = 'interval'
),
ranged AS (
    SELECT started_at, duration_seconds, kind, "user"
    FROM sessions
    WHERE started_at >= $1::TIMESTAMP AND started_at < $2::TIMESTAMP
),
tagged AS (
    SELECT b.idx, r.* FROM ranged r ASOF JOIN b ON r.started_at >= b.start_at
),
per AS (
    SELECT idx,
        count(*) FILTER (WHERE kind = 'exec') AS sessions,
        coalesce(sum(duration_seconds) FILTER (WHERE kind = 'exec'), 0) AS seconds,
        count(DISTINCT "user") FILTER (WHERE kind = 'exec') AS active_users,
        count(*) FILTER (WHERE kind = 'ci') AS ci_sessions
    FROM tagged
    GROUP BY idx
),
first_seen AS (
    SELECT min(started_at) AS first FROM sessions WHERE kind = 'exec' GROUP BY "user"
),
new_per AS (
    SELECT b.idx, count(*) AS new_users
    FROM (SELECT first FROM first_seen WHERE first >= $1::TIMESTAMP AND first < $2::TIMESTAMP) f
    ASOF JOIN b ON f.first >= b.start_at
    GROUP BY b.idx
),
before AS (
    SELECT count(*) AS n FROM first_seen WHERE first < $1::TIMESTAMP
)
SELECT
    strftime(b.label, '%Y-%m-%d') AS day,
    coalesce(per.sessions, 0) AS sessions,
    coalesce(per.seconds, 0) AS seconds,
    coalesce(per.active_users, 0) AS active_users,
    coalesce(per.ci_sessions, 0) AS ci_sessions,
    coalesce(new_per.new_users, 0) AS new_users,
    (SELECT n FROM before) + sum(coalesce(new_per.new_users, 0)) OVER (ORDER BY b.idx) AS cumulative_users
FROM b
LEFT JOIN per USING (idx)
LEFT JOIN new_per USING (idx)
ORDER BY b.idx
