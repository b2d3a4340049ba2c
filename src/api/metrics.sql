-- metrics: the series behind /metrics, each a named query. Counts over all time read the
-- all-time rollups (schemas/duckdb/008_rollups.sql), kept by the fold; what depends on "now"
-- (open sessions, active users) reads the sessions.
-- name: sessions
SELECT kind, coalesce(target_namespace, ''), coalesce(target_type, ''), coalesce(target_name, ''),
       sum(sessions), sum(closed_seconds)
FROM usage_targets WHERE NOT is_copy_pod(target_name) GROUP BY ALL;
-- name: durations
-- Closed sessions per kind and histogram bucket (`duration_bucket`: the index of the first
-- bound at or above the duration), with their count and sum.
SELECT kind, bucket, sessions, seconds FROM usage_durations;
-- name: operator_sessions
SELECT kind, coalesce(client_hostname, ''), coalesce(client_name, ''), coalesce(client_user, ''), coalesce(client_id, ''),
       sum(sessions) FROM usage_targets GROUP BY ALL;
-- name: operator_sessions_by_kind
-- The same without the user labels (`[metrics] user_labels` off): one row per kind.
SELECT kind, '', '', '', '', sum(sessions) FROM usage_targets GROUP BY ALL;
-- name: open_sessions
SELECT kind, count(*) FROM open_sessions() GROUP BY ALL;
-- name: active_users
SELECT w, count(DISTINCT "user") FROM sessions,
  (VALUES ('1d', 1), ('7d', 7), ('30d', 30)) v(w, days)
WHERE kind = 'exec' AND coalesce(ended_at, last_seen_at) >= CAST(current_timestamp AS TIMESTAMP) - to_days(days)
GROUP BY w;
-- name: users
SELECT identifier, exec_sessions + ci_sessions, exec_closed_seconds + ci_closed_seconds
FROM usage_users WHERE pk = 'username';
-- name: ports
-- Copy Target's pods are one series under the copy-pod glob (metric_target_name).
SELECT replace(kind, 'port_', ''), coalesce(target_namespace, ''), coalesce(target_name, ''),
       CASE WHEN filtered THEN 'true' ELSE 'false' END, sum(events)
FROM usage_events WHERE kind IN ('port_steal', 'port_mirror', 'port_release') GROUP BY ALL;
-- name: copies
SELECT coalesce(target_namespace, ''), coalesce(target_name, ''), CASE WHEN scale_down THEN 'true' ELSE 'false' END, sum(events)
FROM usage_events WHERE kind = 'copy_target' GROUP BY ALL;
-- name: cli_versions
SELECT coalesce(client_cli_version, 'unknown'), count(*) FROM sessions GROUP BY ALL;
-- name: events
SELECT kind, sum(events) FROM usage_events GROUP BY ALL;
-- name: stored_by_source
SELECT source, sum(events) FROM usage_events GROUP BY ALL;
-- name: rejected_by_source
SELECT split_part(source, ':', 1), count(*) FROM rejects GROUP BY ALL;
-- name: last_event
SELECT coalesce(epoch(max(timestamp)), 0) FROM events;
-- name: jira_outbox
SELECT st.state, count(o.state) FROM (VALUES ('pending'), ('delivered'), ('skipped'), ('failed')) st(state)
LEFT JOIN jira_outbox o ON o.state = st.state GROUP BY st.state;
-- name: group_users
-- Per directory group (its people and everyone below it): engineers with an exec session in
-- the last $1 days, and those of them going cold (none in the last $2 days). Only groups of
-- the directory in force; a group nobody used still has its series, at 0.
WITH recent AS (
    SELECT person_id, max(start_at) AS last_session
    FROM session_people_since(CAST(current_timestamp AS TIMESTAMP) - to_days(CAST($1 AS INTEGER)))
    WHERE kind = 'exec' AND person_id IS NOT NULL
    GROUP BY person_id
)
SELECT g.group_type, g.name, g.group_id,
    count(r.person_id) AS active,
    count(r.person_id) FILTER (
        WHERE r.last_session < CAST(current_timestamp AS TIMESTAMP) - to_days(CAST($2 AS INTEGER))) AS going_cold
FROM directory_groups g
LEFT JOIN directory_group_people gp ON gp.group_id = g.group_id
LEFT JOIN recent r ON r.person_id = gp.person_id
WHERE g.snapshot = (SELECT snapshot FROM directory_current)
GROUP BY ALL;
