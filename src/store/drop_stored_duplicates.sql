-- drop_stored_duplicates: remove from the staged batch every event already in `events`.
-- $1, $2: the batch's min and max timestamp. Ids hash the timestamp, so a duplicate can only
-- exist inside that range; the range lets DuckDB skip row groups by their min/max (zone maps).
DELETE FROM events_staging s
WHERE EXISTS (
    SELECT 1 FROM events e
    WHERE e.timestamp BETWEEN $1 AND $2
      AND e.id = s.id
)
