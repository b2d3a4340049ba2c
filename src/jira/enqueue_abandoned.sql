-- enqueue_abandoned: the periodic sweep. Queues, once, every session that has become abandoned
-- since the webhook was turned on (`jira_webhook_since`); sessions already abandoned before
-- that are history, not news. $1: now. A session that is abandoned and later closes gets both
-- pushes, under two idempotency keys.
INSERT INTO jira_outbox (idempotency_key, session_id, reason, state, enqueued_at, next_attempt_at)
SELECT sha256('mirrord-usage/jira/abandoned/' || s.session_id)[1:32], s.session_id, 'abandoned', 'pending', $1, $1
FROM sessions s, (
    SELECT
        TRY_CAST(max(value) FILTER (WHERE key = 'jira_webhook_since') AS TIMESTAMP) AS since,
        coalesce(TRY_CAST(max(value) FILTER (WHERE key = 'abandon_after_seconds') AS DOUBLE), 86400) AS abandon_after,
        coalesce(max(value) FILTER (WHERE key = 'jira_webhook'), 'off') AS webhook
    FROM settings
) cfg
WHERE cfg.webhook = 'on'
  AND s.status = 'abandoned'
  AND epoch(s.last_seen_at) + cfg.abandon_after >= epoch(cfg.since)
ON CONFLICT DO NOTHING
