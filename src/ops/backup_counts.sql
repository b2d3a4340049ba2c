-- backup_counts: row counts of a snapshot attached as {snapshot}, reported with the backup.
SELECT
    (SELECT count(*) FROM {snapshot}.events) AS events,
    (SELECT count(*) FROM {snapshot}.session_state) AS sessions,
    (SELECT count(*) FROM {snapshot}.rejects) AS rejects
