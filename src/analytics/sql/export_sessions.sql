-- export_sessions: every session of the range for `sessions.csv` in the export ZIP, oldest
-- first. $1 from, $2 to (exclusive); NULL is unbounded.
SELECT session_id, started_at, ended_at, duration_seconds, status, kind, "user",
    client_id, client_name, client_hostname, client_user,
    target_namespace, target_type, target_name, branch, jira_key
FROM sessions
WHERE ($1::TIMESTAMP IS NULL OR started_at >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR started_at < $2::TIMESTAMP)
ORDER BY started_at, session_id
