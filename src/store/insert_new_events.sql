-- insert_new_events: insert the events of an Arrow batch ($1, scanned in place by the `arrow`
-- table function) that are not stored yet. $2, $3: the batch's min and max timestamp. Ids hash
-- the timestamp, so a duplicate can only exist inside that range; the range lets DuckDB skip
-- row groups by their min/max (zone maps), so the check stays cheap as `events` grows.
INSERT INTO events
SELECT b.*
FROM arrow($1) b
WHERE NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.timestamp BETWEEN $2 AND $3
      AND e.id = b.id
)
