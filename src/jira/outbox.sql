-- outbox: the delivery task's queries over `jira_outbox`, one named query each.
-- name: due
-- Pending webhook pushes whose next attempt is due at $1, oldest first, at most $2 (the REST
-- sink's `rest.*` rows are its own).
SELECT idempotency_key, session_id, reason, attempts
FROM jira_outbox
WHERE state = 'pending' AND next_attempt_at <= $1 AND NOT starts_with(reason, 'rest.')
ORDER BY seq
LIMIT $2;
-- name: session
-- What a push says about its session ($1).
SELECT jira_key, "user", kind, status, started_at, ended_at, duration_seconds, branch
FROM sessions
WHERE session_id = $1;
-- name: delivered
-- $1 idempotency key, $2 Jira key, $3 now.
UPDATE jira_outbox
SET state = 'delivered', jira_key = $2, attempts = attempts + 1, last_attempt_at = $3,
    delivered_at = $3, last_error = NULL
WHERE idempotency_key = $1;
-- name: retry
-- $1 idempotency key, $2 Jira key, $3 now, $4 next attempt, $5 error, $6 give up (state failed).
UPDATE jira_outbox
SET state = CASE WHEN $6 THEN 'failed' ELSE 'pending' END, jira_key = $2,
    attempts = attempts + 1, last_attempt_at = $3, next_attempt_at = $4, last_error = $5
WHERE idempotency_key = $1;
-- name: skipped
-- $1 idempotency key, $2 now: the session has no Jira key.
UPDATE jira_outbox
SET state = 'skipped', last_attempt_at = $2, last_error = 'no Jira key (no key in the branch, no override, no rule)'
WHERE idempotency_key = $1;
-- name: sinks
-- Whether the webhook and the REST sink were on at the last sync of the settings.
SELECT max(value) FILTER (WHERE key = 'jira_webhook'), max(value) FILTER (WHERE key = 'jira_rest')
FROM settings;
-- name: counts
-- Pushes per state; every state listed, zero included.
SELECT st.state, count(o.state)
FROM (VALUES ('pending'), ('delivered'), ('skipped'), ('failed')) st(state)
LEFT JOIN jira_outbox o ON o.state = st.state
GROUP BY st.state
ORDER BY st.state;
-- name: summary
-- Oldest pending push, next attempt, last delivery.
SELECT
    min(enqueued_at) FILTER (WHERE state = 'pending'),
    min(next_attempt_at) FILTER (WHERE state = 'pending'),
    max(delivered_at)
FROM jira_outbox;
-- name: problems
-- The latest pushes that failed at least once and are not delivered, newest first.
SELECT session_id, reason, state, jira_key, attempts, last_attempt_at, next_attempt_at, last_error
FROM jira_outbox
WHERE state IN ('pending', 'failed') AND last_error IS NOT NULL
ORDER BY last_attempt_at DESC
LIMIT 10;
