-- usage_sessions: session rows as the vendor's cloud usage API lists them, oldest first,
-- keyset-paginated on (started_at, session_id).
-- $1/$2 cursor: started_at in µs and session id of the previous page's last row (or NULL),
-- $3 rows to fetch, $4 from, $5 to (exclusive; both optional).
SELECT
    epoch_us(started_at) AS t,
    session_id, started_at, ended_at, duration_seconds, kind, cluster,
    client_id, client_user, client_name, client_hostname,
    target_namespace, target_type, target_name, target_container
FROM sessions
WHERE ($1::BIGINT IS NULL OR epoch_us(started_at) > $1::BIGINT
       OR (epoch_us(started_at) = $1::BIGINT AND session_id > $2::VARCHAR))
  AND ($4::TIMESTAMP IS NULL OR started_at >= $4::TIMESTAMP)
  AND ($5::TIMESTAMP IS NULL OR started_at < $5::TIMESTAMP)
ORDER BY started_at, session_id
LIMIT $3
