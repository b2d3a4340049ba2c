-- all_time: the usage report's sections for the All-time period, read from the all-time
-- rollups (schemas/duckdb/008_rollups.sql) instead of every session. Each returns the same
-- columns, with the same meanings, as its windowed twin in this folder run with no bounds; a
-- differential test (tests/rollups.rs) holds them equal. The rollups count every session
-- without an end as abandoned (its time: last event - start); the few still open now, which
-- have no duration yet, are taken off from `open_sessions()`. $1 is the primary key
-- (report_identifier) unless said otherwise.

-- name: totals
-- allTimeMetrics, the vendor's meanings: count and time of `exec` sessions, and the CI count.
-- Plus the newest operator facts. No parameters.
SELECT
    coalesce(sum(exec_sessions), 0)::BIGINT,
    coalesce(sum(exec_closed_seconds + exec_unended_seconds), 0)
        - (SELECT coalesce(sum(seconds), 0) FROM open_sessions() WHERE kind = 'exec'),
    coalesce(sum(ci_sessions), 0)::BIGINT,
    (SELECT operator_version FROM events WHERE operator_version IS NOT NULL ORDER BY timestamp DESC LIMIT 1),
    (SELECT max(timestamp) FROM events)
FROM usage_users
WHERE pk = 'username';

-- name: period_metrics
-- As period_metrics.sql: every kind's count and time, the CI count, and active users and
-- machines among `exec` sessions.
SELECT
    coalesce(sum(exec_sessions + ci_sessions) FILTER (WHERE pk = 'username'), 0)::BIGINT,
    coalesce(sum(exec_closed_seconds + ci_closed_seconds + exec_unended_seconds + ci_unended_seconds)
             FILTER (WHERE pk = 'username'), 0)
        - (SELECT coalesce(sum(seconds), 0) FROM open_sessions()),
    coalesce(sum(ci_sessions) FILTER (WHERE pk = 'username'), 0)::BIGINT,
    count(*) FILTER (WHERE pk = $1 AND exec_sessions > 0),
    count(*) FILTER (WHERE pk = 'client_id' AND exec_sessions > 0)
FROM usage_users;

-- name: ci_metrics
-- As ci_metrics.sql: open CI sessions, the peak of overlapping CI sessions (a sweep of +1 at
-- each start and -1 at each end, ends first at equal times; open ones run until now,
-- abandoned ones until their last event), the CI count and mean duration (NULL without any).
-- No parameters.
WITH ci AS (
    SELECT start_at, ended_at, last_seen_at, session_status(ended_at, last_seen_at) AS status
    FROM session_state
    WHERE kind = 'ci'
),
sweep AS (
    SELECT start_at AS t, 1 AS d FROM ci
    UNION ALL
    SELECT coalesce(ended_at, CASE WHEN status = 'open' THEN CAST(current_timestamp AS TIMESTAMP) ELSE last_seen_at END), -1
    FROM ci
),
running AS (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n FROM sweep),
timed AS (
    SELECT sum(ci_sessions) AS sessions, sum(ci_closed + ci_unended) AS timed,
        sum(ci_closed_seconds + ci_unended_seconds) AS seconds
    FROM usage_users WHERE pk = 'username'
),
open AS (SELECT count(*) AS n, coalesce(sum(seconds), 0) AS seconds FROM open_sessions() WHERE kind = 'ci')
SELECT
    (SELECT n FROM open),
    (SELECT coalesce(max(n), 0) FROM running),
    coalesce((SELECT sessions FROM timed), 0)::BIGINT,
    (SELECT (timed.seconds - open.seconds) / nullif(timed.timed - open.n, 0) FROM timed, open);

-- name: user_metrics
-- As user_metrics.sql; the window for averageDailySessions runs from the first session to now.
WITH open AS (
    SELECT report_identifier($1, client_id, client_user, client_name, client_hostname, identity) AS identifier,
        sum(seconds) AS seconds
    FROM open_sessions()
    GROUP BY 1
),
t AS (
    SELECT u.*, u.exec_sessions + u.ci_sessions AS sessions,
        u.exec_closed_seconds + u.ci_closed_seconds + u.exec_unended_seconds + u.ci_unended_seconds
            - coalesce(open.seconds, 0) AS seconds
    FROM usage_users u
    LEFT JOIN open ON open.identifier = u.identifier
    WHERE u.pk = $1
),
win AS (
    SELECT greatest(1, ceil((
        epoch(CAST(current_timestamp AS TIMESTAMP))
        - epoch(coalesce((SELECT min(first_start) FROM usage_users WHERE pk = 'username'),
                         CAST(current_timestamp AS TIMESTAMP)))
    ) / 86400)) AS days
)
SELECT
    t.identifier,
    t.client_name,
    t.client_user,
    t.client_hostname,
    t.first_start,
    t.last_seen,
    t.sessions,
    t.seconds,
    t.seconds / t.sessions,
    t.sessions / win.days,
    t.ci_sessions,
    t.sessions / t.active_days
FROM t CROSS JOIN win
ORDER BY t.seconds DESC, t.sessions DESC, t.identifier;

-- name: target_metrics
-- As target_metrics.sql: `exec` sessions per target, copy-target pods left out, top 50.
WITH t AS (
    SELECT target_namespace, target_type, coalesce(target_name, target_type, 'unknown') AS target,
        report_identifier($1, client_id, client_user, client_name, client_hostname, identity) AS identifier,
        sessions, closed_seconds + unended_seconds AS seconds
    FROM usage_targets
    WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
    UNION ALL
    SELECT target_namespace, target_type, coalesce(target_name, target_type, 'unknown'), NULL, 0, -seconds
    FROM open_sessions()
    WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
)
SELECT
    target_namespace AS namespace,
    target_type,
    target,
    sum(sessions)::BIGINT AS sessions,
    coalesce(sum(seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users
FROM t
GROUP BY target_namespace, target_type, target
ORDER BY sessions DESC, target, namespace, target_type
LIMIT 50;

-- name: user_target_metrics
-- As user_target_metrics.sql: `exec` sessions per identifier × target, top 200.
WITH t AS (
    SELECT report_identifier($1, client_id, client_user, client_name, client_hostname, identity) AS identifier,
        client_name, target_namespace, target_type,
        coalesce(target_name, target_type, 'unknown') AS target,
        sessions, closed_seconds + unended_seconds AS seconds
    FROM usage_targets
    WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
    UNION ALL
    SELECT report_identifier($1, client_id, client_user, client_name, client_hostname, identity),
        client_name, target_namespace, target_type,
        coalesce(target_name, target_type, 'unknown'), 0, -seconds
    FROM open_sessions()
    WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
)
SELECT
    identifier,
    min(client_name) AS display_name,
    target_namespace AS namespace,
    target_type,
    target,
    sum(sessions)::BIGINT AS sessions,
    coalesce(sum(seconds), 0) AS total_seconds
FROM t
GROUP BY identifier, target_namespace, target_type, target
ORDER BY sessions DESC, identifier, target, namespace, target_type
LIMIT 200;

-- name: namespace_metrics
-- As namespace_metrics.sql: sessions of every kind per target namespace.
WITH t AS (
    SELECT coalesce(target_namespace, '(none)') AS namespace,
        report_identifier($1, client_id, client_user, client_name, client_hostname, identity) AS identifier,
        sessions, closed_seconds + unended_seconds AS seconds
    FROM usage_targets
    UNION ALL
    SELECT coalesce(target_namespace, '(none)'), NULL, 0, -seconds FROM open_sessions()
)
SELECT namespace, sum(sessions)::BIGINT AS sessions, coalesce(sum(seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users
FROM t
GROUP BY namespace
ORDER BY sessions DESC, namespace;

-- name: jira_metrics
-- As jira_metrics.sql, users being people (identity), from the per-key rollup. $1: NULL (all
-- keys; one key reads its sessions instead, see reports::jira).
WITH open AS (
    SELECT jira_key, sum(seconds) AS seconds FROM open_sessions() WHERE jira_key IS NOT NULL GROUP BY 1
)
SELECT
    k.jira_key AS key,
    k.sessions,
    k.closed_seconds + k.unended_seconds - coalesce(open.seconds, 0) AS total_seconds,
    k.users,
    k.first_start,
    k.last_seen,
    k.ci_sessions,
    k.exec_sessions
FROM usage_jira_keys k
LEFT JOIN open ON open.jira_key = k.jira_key
WHERE $1::VARCHAR IS NULL OR k.jira_key = $1::VARCHAR
ORDER BY total_seconds DESC, key;
