-- stored_ids: which of a batch's ids ($1, an Arrow batch of one `id` column) are already
-- committed. $2, $3: the batch's min and max timestamp. Ids hash the timestamp, so a stored
-- duplicate can only sit inside that range; the range lets DuckDB skip row groups by their
-- min/max (zone maps), so the check stays cheap as `events` grows.
SELECT e.id
FROM events e
WHERE e.timestamp BETWEEN $2 AND $3
  AND e.id IN (SELECT b.id FROM arrow_batch($1) b)
