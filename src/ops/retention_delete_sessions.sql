-- retention_delete_sessions: sessions whose last event is older than $1.
DELETE FROM session_state WHERE last_seen_at < $1::TIMESTAMP
