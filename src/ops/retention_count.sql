-- retention_count: what a retention run would delete.
-- $1 events/rejects cutoff (NULL: keep all), $2 sessions cutoff (NULL: keep all).
SELECT
    (SELECT count(*) FROM events WHERE $1::TIMESTAMP IS NOT NULL AND timestamp < $1::TIMESTAMP) AS events,
    (SELECT count(*) FROM rejects WHERE $1::TIMESTAMP IS NOT NULL AND ingested_at < $1::TIMESTAMP) AS rejects,
    (SELECT count(*) FROM session_state WHERE $2::TIMESTAMP IS NOT NULL AND last_seen_at < $2::TIMESTAMP) AS sessions
