-- enqueue_closed: runs inside the commit that stores a batch, right after the session fold, so
-- a session's push is queued in the same transaction that closes it. $1: this commit's
-- `ingested_at`. Only sessions whose Session End arrived in this commit; a replayed or second
-- end changes nothing (the idempotency key is the primary key). Nothing while no webhook is
-- configured.
INSERT INTO jira_outbox (idempotency_key, session_id, reason, state, enqueued_at, next_attempt_at)
SELECT sha256('mirrord-usage/jira/closed/' || session_id)[1:32], session_id, 'closed', 'pending', $1, $1
FROM (
    SELECT DISTINCT session_id
    FROM events
    WHERE ingested_at = $1 AND kind = 'session_end' AND session_id IS NOT NULL
)
WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'jira_webhook' AND value = 'on')
ON CONFLICT DO NOTHING
