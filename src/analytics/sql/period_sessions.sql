-- period_sessions: the sessions of a report period, with the chosen user identifier.
-- A session belongs to the period it started in. Included by the report queries as CTE `s`;
-- only the columns reports use, so the view's other columns (ports, filters) are not computed.
-- $1 from (TIMESTAMP or NULL), $2 to (exclusive, or NULL),
-- $3 primary key, with the vendor's meanings: machine_id (the client id), username (the
-- Kubernetes user), client_username (the machine's user name, `client_name`), client_hostname.
-- A session without that identity falls back to `user` so it is never dropped.
s AS (
    SELECT session_id, started_at, ended_at, last_seen_at, status, duration_seconds, kind, "user",
        client_id, client_name, client_hostname, client_user,
        target_type, target_name, target_namespace, jira_key,
        coalesce(CASE $3
            WHEN 'username' THEN client_user
            WHEN 'client_username' THEN client_name
            WHEN 'client_hostname' THEN client_hostname
            ELSE client_id
        END, "user") AS identifier
    FROM sessions
    WHERE ($1::TIMESTAMP IS NULL OR started_at >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR started_at < $2::TIMESTAMP)
)
