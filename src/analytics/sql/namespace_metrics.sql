-- namespace_metrics: sessions per target namespace.
SELECT
    coalesce(target_namespace, '(none)') AS namespace,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users
FROM s
GROUP BY ALL
ORDER BY sessions DESC, namespace
