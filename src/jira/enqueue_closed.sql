-- enqueue_closed: runs inside the commit that stores a batch, right after the session fold, so
-- a session's push is queued in the same transaction that closes it. $1: this commit's
-- `ingested_at`. Only sessions whose Session End arrived in this commit; a replayed or second
-- end changes nothing (the idempotency key is the primary key). One row per session and sink
-- that is on: the webhook (`jira_webhook`, reason `closed`) and the REST sink (`jira_rest`,
-- reason `rest.closed`, coalesced per issue when sent). Nothing while neither is configured.
INSERT INTO jira_outbox (idempotency_key, session_id, reason, state, enqueued_at, next_attempt_at)
SELECT sha256('mirrord-usage/jira/' || sink.path || 'closed/' || c.session_id)[1:32], c.session_id,
    sink.prefix || 'closed', 'pending', $1, $1
FROM (
    SELECT DISTINCT session_id
    FROM events
    WHERE ingested_at = $1 AND kind = 'session_end' AND session_id IS NOT NULL
) c, (
    SELECT
        CASE key WHEN 'jira_rest' THEN 'rest/' ELSE '' END AS path,
        CASE key WHEN 'jira_rest' THEN 'rest.' ELSE '' END AS prefix
    FROM settings
    WHERE key IN ('jira_webhook', 'jira_rest') AND value = 'on'
) sink
ON CONFLICT DO NOTHING
