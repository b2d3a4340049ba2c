-- retention_delete_rejects: rejects received before $1 (a reject has no event time).
DELETE FROM rejects WHERE ingested_at < $1::TIMESTAMP
