-- period_sessions: the sessions of a report period, with the chosen user identifier.
-- A session belongs to the period it started in. Included by the report queries as CTE `s`;
-- only the columns reports use, so the view's other columns (ports, filters) are not computed.
-- $1 from (TIMESTAMP or NULL), $2 to (exclusive, or NULL),
-- $3 primary key: machine_id | username | client_username | client_hostname.
s AS (
    SELECT session_id, started_at, ended_at, last_seen_at, status, duration_seconds, kind, "user",
        client_id, client_name, client_hostname, client_user,
        target_type, target_name, target_namespace, jira_key,
        coalesce(CASE $3
            WHEN 'machine_id' THEN client_id
            WHEN 'username' THEN client_name
            WHEN 'client_hostname' THEN client_hostname
            ELSE client_user
        END, "user") AS identifier
    FROM sessions
    WHERE ($1::TIMESTAMP IS NULL OR started_at >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR started_at < $2::TIMESTAMP)
)
