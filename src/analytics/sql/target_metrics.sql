-- target_metrics: one row per target (namespace, type, name). Copy-target pods are excluded.
SELECT
    target_namespace AS namespace,
    target_type,
    coalesce(target_name, target_type, 'unknown') AS target,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users
FROM s
WHERE coalesce(target_name, '') NOT LIKE 'mirrord-copy-%'
GROUP BY ALL
ORDER BY sessions DESC, target
