-- enqueue_abandoned: the periodic sweep of one sink ($2: 'webhook' or 'rest'). Queues, once,
-- every session that has become abandoned since that sink was turned on (`jira_<sink>_since`);
-- sessions already abandoned before that are history, not news. $1: now. A session that is
-- abandoned and later closes gets both pushes, under two idempotency keys.
INSERT INTO jira_outbox (idempotency_key, session_id, reason, state, enqueued_at, next_attempt_at)
SELECT sha256('mirrord-usage/jira/' || cfg.path || 'abandoned/' || s.session_id)[1:32], s.session_id,
    cfg.prefix || 'abandoned', 'pending', $1, $1
FROM sessions s, (
    SELECT
        TRY_CAST(max(value) FILTER (WHERE key = 'jira_' || $2 || '_since') AS TIMESTAMP) AS since,
        abandon_after_seconds() AS abandon_after,
        coalesce(max(value) FILTER (WHERE key = 'jira_' || $2), 'off') AS sink_on,
        CASE $2 WHEN 'rest' THEN 'rest/' ELSE '' END AS path,
        CASE $2 WHEN 'rest' THEN 'rest.' ELSE '' END AS prefix
    FROM settings
) cfg
WHERE cfg.sink_on = 'on'
  AND s.status = 'abandoned'
  AND epoch(s.last_seen_at) + cfg.abandon_after >= epoch(cfg.since)
ON CONFLICT DO NOTHING
