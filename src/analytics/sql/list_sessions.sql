-- list_sessions: one page of sessions, newest first, keyset-paginated on (started_at, session_id).
-- $1 from, $2 to (exclusive), $3 user, $4 target name, $5 kind, $6 trace id,
-- $7/$8 cursor (started_at in µs and session id of the previous page's last row), $9 limit.
SELECT
    epoch_us(started_at) AS t,
    session_id, started_at, ended_at, duration_seconds, status, kind, "user",
    client_id, client_name, client_hostname, target_type, target_name, target_namespace,
    branch, jira_key, trace_id,
    array_to_string(list_sort(list_distinct(list_concat(ports_stolen, ports_mirrored))), ',') AS ports,
    client_user
FROM sessions
WHERE ($1::TIMESTAMP IS NULL OR started_at >= $1::TIMESTAMP)
  AND ($2::TIMESTAMP IS NULL OR started_at < $2::TIMESTAMP)
  AND ($3::VARCHAR IS NULL OR $3::VARCHAR IN ("user", client_name, client_hostname, client_id))
  AND ($4::VARCHAR IS NULL OR target_name = $4::VARCHAR)
  AND ($5::VARCHAR IS NULL OR kind = $5::VARCHAR)
  AND ($6::VARCHAR IS NULL OR lower(trace_id) = lower($6::VARCHAR))
  AND ($7::BIGINT IS NULL OR epoch_us(started_at) < $7::BIGINT
       OR (epoch_us(started_at) = $7::BIGINT AND session_id < $8::VARCHAR))
ORDER BY started_at DESC, session_id DESC
LIMIT $9
