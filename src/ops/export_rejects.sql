-- export_rejects: rejects with the day they were received (UTC); {range} is a date condition
-- on `ingested_at` built from validated dates.
SELECT *, CAST(ingested_at AS DATE) AS day FROM rejects WHERE {range} ORDER BY ingested_at
