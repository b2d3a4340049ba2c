-- target_metrics: `exec` sessions and unique users per target (namespace, type, name), the top
-- 50 by session count, as the vendor's field means. Copy-target pods are never targets.
SELECT
    target_namespace AS namespace,
    target_type,
    coalesce(target_name, target_type, 'unknown') AS target,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    count(DISTINCT identifier) AS unique_users
FROM s
WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
GROUP BY ALL
ORDER BY sessions DESC, target, namespace, target_type
LIMIT 50
