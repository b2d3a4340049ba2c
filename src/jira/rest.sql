-- rest: the Jira REST sink's queries over `jira_outbox` (its `rest.*` rows) and
-- `jira_rest_issues`, one named query each.
-- name: due
-- The sink's pending rows due at $1, oldest first, at most $2, each with its session's issue
-- key as of now (NULL: no key, or the session is gone).
SELECT o.idempotency_key, o.attempts, s.jira_key
FROM jira_outbox o
LEFT JOIN sessions s ON s.session_id = o.session_id
WHERE o.state = 'pending' AND starts_with(o.reason, 'rest.') AND o.next_attempt_at <= $1
ORDER BY o.seq
LIMIT $2;
-- name: pending
-- How many of the sink's rows are pending, and the earliest next attempt.
SELECT count(*), min(next_attempt_at)
FROM jira_outbox
WHERE state = 'pending' AND starts_with(reason, 'rest.');
-- name: skipped
-- $1 comma-separated idempotency keys, $2 now: their sessions have no Jira key.
UPDATE jira_outbox
SET state = 'skipped', last_attempt_at = $2, last_error = 'no Jira key (no key in the branch, no override, no rule)'
WHERE list_contains(string_split($1, ','), idempotency_key);
-- name: delivered
-- $1 comma-separated idempotency keys, $2 Jira key, $3 now.
UPDATE jira_outbox
SET state = 'delivered', jira_key = $2, attempts = attempts + 1, last_attempt_at = $3,
    delivered_at = $3, last_error = NULL
WHERE list_contains(string_split($1, ','), idempotency_key);
-- name: retry
-- $1 comma-separated idempotency keys, $2 Jira key, $3 now, $4 next attempt, $5 error,
-- $6 give up (state failed).
UPDATE jira_outbox
SET state = CASE WHEN $6 THEN 'failed' ELSE 'pending' END, jira_key = $2,
    attempts = attempts + 1, last_attempt_at = $3, next_attempt_at = $4, last_error = $5
WHERE list_contains(string_split($1, ','), idempotency_key);
-- name: last_user
-- The user of the issue's ($1) session used last.
SELECT "user"
FROM sessions
WHERE jira_key = $1
ORDER BY coalesce(ended_at, last_seen_at) DESC NULLS LAST, session_id DESC
LIMIT 1;
-- name: comment_id
-- Our comment on issue $1, if created.
SELECT comment_id FROM jira_rest_issues WHERE jira_key = $1;
-- name: remember_comment
-- $1 Jira key, $2 comment id (NULL: forget it, e.g. someone deleted it).
INSERT INTO jira_rest_issues (jira_key, comment_id) VALUES ($1, $2)
ON CONFLICT (jira_key) DO UPDATE SET comment_id = excluded.comment_id;
-- name: written
-- $1 Jira key, $2 now, $3 the totals written (JSON).
INSERT INTO jira_rest_issues (jira_key, written_at, totals) VALUES ($1, $2, $3)
ON CONFLICT (jira_key) DO UPDATE SET written_at = excluded.written_at, totals = excluded.totals;
-- name: enqueue_sync
-- `jira sync`: one `rest.sync` row per issue with a session that started at or after $2 (NULL:
-- every issue), carrying that issue's latest session; the write sends all-time totals. $1 now.
INSERT INTO jira_outbox (idempotency_key, session_id, reason, state, enqueued_at, next_attempt_at)
SELECT sha256('mirrord-usage/jira/rest/sync/' || jira_key || '/' || CAST($1 AS VARCHAR))[1:32],
    arg_max(session_id, coalesce(ended_at, last_seen_at)), 'rest.sync', 'pending', $1, $1
FROM sessions
WHERE jira_key IS NOT NULL AND ($2::TIMESTAMP IS NULL OR started_at >= $2::TIMESTAMP)
GROUP BY jira_key
ON CONFLICT DO NOTHING;
-- name: latest_issue
-- The issue of the session seen last, for `jira check` without --issue.
SELECT jira_key
FROM sessions
WHERE jira_key IS NOT NULL
ORDER BY last_seen_at DESC NULLS LAST
LIMIT 1;
-- name: sync_result
-- What became of the rows `jira sync` queued at $1, per issue.
SELECT coalesce(o.jira_key, s.jira_key, o.session_id), o.state, o.last_error
FROM jira_outbox o
LEFT JOIN sessions s ON s.session_id = o.session_id
WHERE o.reason = 'rest.sync' AND o.enqueued_at = $1
ORDER BY 1;
