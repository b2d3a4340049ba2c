-- period_sessions: the sessions of a report period, with the chosen user identifier.
-- A session belongs to the period it started in. Included by the report queries as CTE `s`;
-- only the columns reports use, so the view's other columns (ports, filters) are not computed.
-- $1 from (TIMESTAMP or NULL), $2 to (exclusive, or NULL), $3 primary key (report_identifier).
s AS (
    SELECT session_id, started_at, ended_at, last_seen_at, status, duration_seconds, kind, "user",
        client_id, client_name, client_hostname, client_user,
        target_type, target_name, target_namespace, jira_key,
        report_identifier($3, client_id, client_user, client_name, client_hostname, "user") AS identifier
    FROM sessions
    WHERE ($1::TIMESTAMP IS NULL OR started_at >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR started_at < $2::TIMESTAMP)
)
