-- user_target_metrics: `exec` sessions per identity × target × namespace (the Session Activity
-- table), the top 200 by session count, as the vendor's field means.
SELECT
    identifier,
    min(client_name) AS display_name,
    target_namespace AS namespace,
    target_type,
    coalesce(target_name, target_type, 'unknown') AS target,
    count(*) AS sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds
FROM s
WHERE kind = 'exec' AND NOT is_copy_pod(target_name)
GROUP BY identifier, target_namespace, target_type, coalesce(target_name, target_type, 'unknown')
ORDER BY sessions DESC, identifier, target, namespace, target_type
LIMIT 200
