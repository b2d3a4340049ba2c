-- jira_metrics: per Jira issue key (from the branch): sessions, time, users, first/last use.
-- $4: one key, or NULL for all keys.
SELECT
    jira_key AS key,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users,
    min(started_at) AS first_used,
    max(coalesce(ended_at, last_seen_at)) AS last_used,
    count(*) FILTER (WHERE kind = 'ci') AS ci_sessions,
    count(*) FILTER (WHERE kind = 'exec') AS exec_sessions
FROM s
WHERE jira_key IS NOT NULL AND ($4::VARCHAR IS NULL OR jira_key = $4::VARCHAR)
GROUP BY jira_key
ORDER BY total_seconds DESC, key
