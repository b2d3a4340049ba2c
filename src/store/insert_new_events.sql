-- insert_new_events: insert an Arrow batch of events ($1, scanned in place by the
-- `arrow_batch` table function, src/store/arrow_scan.rs), stamped with the commit's `ingested_at` ($2). The batch holds only events
-- not stored yet: `Commit::add_events` (src/store/mod.rs) has dropped the others.
INSERT INTO events
SELECT b.*, $2::TIMESTAMP
FROM arrow_batch($1) b
