-- insert_new_events: insert an Arrow batch of events ($1, scanned in place by the `arrow`
-- table function), stamped with the commit's `ingested_at` ($2). The batch holds only events
-- not stored yet: `Commit::add_events` (src/store/mod.rs) has dropped the others.
INSERT INTO events
SELECT b.*, $2::TIMESTAMP
FROM arrow($1) b
