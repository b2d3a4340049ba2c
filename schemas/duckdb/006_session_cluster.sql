-- 006: the cluster a session ran in (the `cluster` / `k8s.cluster.name` field of its events),
-- folded like the other descriptive fields, for the cloud-style session rows (`clusterId`).

ALTER TABLE session_state ADD COLUMN cluster VARCHAR;

UPDATE session_state SET cluster = e.cluster
FROM (
    SELECT session_id, min(cluster) AS cluster
    FROM events WHERE session_id IS NOT NULL AND cluster IS NOT NULL
    GROUP BY session_id
) e
WHERE session_state.session_id = e.session_id;
