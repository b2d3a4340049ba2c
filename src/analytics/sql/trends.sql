-- trends: one row per day from $1 to $2 (dates, inclusive), zeros on days without activity
-- (the caller drops empty days unless dense series were asked for). Sessions, their time and
-- active users count `exec` sessions, CI sessions are counted apart, as the vendor's fields
-- mean. New users are exec users whose first session (ever) started that day.
WITH days AS (
    SELECT CAST(d AS DATE) AS day FROM generate_series($1::DATE, $2::DATE, INTERVAL 1 DAY) t(d)
),
daily AS (
    SELECT CAST(started_at AS DATE) AS day,
        count(*) FILTER (WHERE kind = 'exec') AS sessions,
        coalesce(sum(duration_seconds) FILTER (WHERE kind = 'exec'), 0) AS seconds,
        count(DISTINCT "user") FILTER (WHERE kind = 'exec') AS active_users,
        count(*) FILTER (WHERE kind = 'ci') AS ci_sessions
    FROM sessions
    WHERE started_at >= $1::DATE AND started_at < $2::DATE + INTERVAL 1 DAY
    GROUP BY 1
),
first_days AS (
    SELECT min(CAST(started_at AS DATE)) AS day FROM sessions WHERE kind = 'exec' GROUP BY "user"
),
adoption AS (
    SELECT day, count(*) AS new_users FROM first_days GROUP BY day
),
before AS (
    SELECT count(*) AS n FROM first_days WHERE day < $1::DATE
)
SELECT
    strftime(days.day, '%Y-%m-%d') AS day,
    coalesce(daily.sessions, 0) AS sessions,
    coalesce(daily.seconds, 0) AS seconds,
    coalesce(daily.active_users, 0) AS active_users,
    coalesce(daily.ci_sessions, 0) AS ci_sessions,
    coalesce(adoption.new_users, 0) AS new_users,
    (SELECT n FROM before) + sum(coalesce(adoption.new_users, 0)) OVER (ORDER BY days.day) AS cumulative_users
FROM days
LEFT JOIN daily USING (day)
LEFT JOIN adoption USING (day)
ORDER BY days.day
