-- metrics: the series behind /metrics, each a named query over the derived views.
-- name: sessions
SELECT kind, coalesce(target_namespace, ''), coalesce(target_type, ''), coalesce(target_name, ''),
       count(*), coalesce(sum(duration_seconds) FILTER (WHERE status = 'closed'), 0)
FROM sessions WHERE NOT is_copy_pod(target_name) GROUP BY ALL;
-- name: durations
-- Closed sessions counted into the duration histogram's buckets here, not one by one in Rust
-- (a million rows cost most of a scrape): per kind and bucket (the number of upper bounds in
-- $1 below the duration, so the first bucket whose bound is at or above it), count and sum.
SELECT kind, length(list_filter(CAST($1 AS DOUBLE[]), lambda le: le < duration_seconds)),
       count(*), sum(duration_seconds)
FROM sessions WHERE status = 'closed' AND duration_seconds IS NOT NULL GROUP BY ALL;
-- name: operator_sessions
SELECT kind, coalesce(client_hostname, ''), coalesce(client_name, ''), coalesce(client_user, ''), coalesce(client_id, ''),
       count(*) FROM sessions GROUP BY ALL;
-- name: operator_sessions_by_kind
-- The same without the user labels (`[metrics] user_labels` off): one row per kind.
SELECT kind, '', '', '', '', count(*) FROM sessions GROUP BY ALL;
-- name: open_sessions
SELECT kind, count(*) FROM sessions WHERE status = 'open' GROUP BY ALL;
-- name: active_users
SELECT w, count(DISTINCT "user") FROM sessions,
  (VALUES ('1d', 1), ('7d', 7), ('30d', 30)) v(w, days)
WHERE kind = 'exec' AND coalesce(ended_at, last_seen_at) >= CAST(current_timestamp AS TIMESTAMP) - to_days(days)
GROUP BY w;
-- name: users
SELECT "user", count(*), coalesce(sum(duration_seconds) FILTER (WHERE status = 'closed'), 0) FROM sessions GROUP BY ALL;
-- name: ports
SELECT replace(kind, 'port_', ''), coalesce(target_namespace, ''), coalesce(target_name, ''),
       CASE WHEN http_filter IS NULL THEN 'false' ELSE 'true' END, count(*)
FROM events WHERE kind IN ('port_steal', 'port_mirror', 'port_release') GROUP BY ALL;
-- name: copies
SELECT coalesce(target_namespace, ''), coalesce(target_name, ''), CASE WHEN scale_down THEN 'true' ELSE 'false' END, count(*)
FROM events WHERE kind = 'copy_target' GROUP BY ALL;
-- name: cli_versions
SELECT coalesce(client_cli_version, 'unknown'), count(*) FROM sessions GROUP BY ALL;
-- name: events
SELECT kind, count(*) FROM events GROUP BY ALL;
-- name: stored_by_source
SELECT split_part(source, ':', 1), count(*) FROM events GROUP BY ALL;
-- name: rejected_by_source
SELECT split_part(source, ':', 1), count(*) FROM rejects GROUP BY ALL;
-- name: last_event
SELECT coalesce(epoch(max(timestamp)), 0) FROM events;
-- name: jira_outbox
SELECT st.state, count(o.state) FROM (VALUES ('pending'), ('delivered'), ('skipped'), ('failed')) st(state)
LEFT JOIN jira_outbox o ON o.state = st.state GROUP BY st.state;
