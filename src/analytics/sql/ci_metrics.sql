-- ci_metrics: CI sessions of the period; the average duration is NULL when there are none. Max concurrency is the peak number of overlapping CI
-- sessions: a sweep over +1 at each start and -1 at each end (ends sort first at equal times,
-- so back-to-back sessions don't overlap). Open sessions run until now, abandoned ones until
-- their last event.
, ci AS (SELECT * FROM s WHERE kind = 'ci'),
sweep AS (
    SELECT started_at AS t, 1 AS d FROM ci
    UNION ALL
    SELECT coalesce(ended_at, CASE WHEN status = 'open' THEN CAST(current_timestamp AS TIMESTAMP) ELSE last_seen_at END), -1 FROM ci
),
running AS (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n FROM sweep)
SELECT
    (SELECT count(*) FROM session_state WHERE kind = 'ci' AND session_status(ended_at, last_seen_at) = 'open') AS current_running,
    (SELECT coalesce(max(n), 0) FROM running) AS max_concurrent,
    (SELECT count(*) FROM ci) AS total,
    (SELECT avg(duration_seconds) FROM ci) AS avg_duration  -- NULL when there are none
