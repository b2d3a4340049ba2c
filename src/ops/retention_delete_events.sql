-- retention_delete_events: events older than $1 (their time, not when they arrived).
DELETE FROM events WHERE timestamp < $1::TIMESTAMP
