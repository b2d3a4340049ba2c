-- The Adoption report's statements (src/analytics/adoption.rs, docs/adoption.md). Only exec
-- sessions count: a person using mirrord (CI runs are machines). A session belongs to a person
-- by the directory's matching (`session_people`). Intervals come from `report_buckets`.

-- name: people
-- The scope's people: everyone in group $1 or below it; everyone in the directory when NULL.
CREATE OR REPLACE TEMP TABLE adoption_people AS
SELECT d.person_id, d.name, d.email, d.team
FROM directory d
WHERE $1::VARCHAR IS NULL
   OR d.person_id IN (SELECT person_id FROM directory_group_people WHERE group_id = $1::VARCHAR);

-- name: sessions
-- Their exec sessions that started before the end of the range ($1), with the service; Copy
-- Target's own pods are never services (`is_copy_pod`).
CREATE OR REPLACE TEMP TABLE adoption_sessions AS
SELECT person_id, start_at AS started_at, target_namespace, target_type,
    CASE WHEN NOT is_copy_pod(target_name) THEN target_name END AS target_name
FROM session_people_since(NULL)
WHERE kind = 'exec' AND start_at < $1::TIMESTAMP
  AND person_id IN (SELECT person_id FROM adoption_people);

-- name: facts
-- Per person in scope: ever started (before the range's end), last session, sessions and
-- active days (local days, `report_buckets` kind 'day') in [$1, end), and whether they were
-- active before $2 (the start of the going-cold window) and in it.
WITH days AS (SELECT idx, start_at FROM report_buckets WHERE kind = 'day'),
ranged AS (
    SELECT s.person_id, s.started_at, d.idx AS day
    FROM (SELECT person_id, started_at FROM adoption_sessions WHERE started_at >= $1::TIMESTAMP) s
    ASOF JOIN days d ON s.started_at >= d.start_at
),
ever AS (
    SELECT person_id, max(started_at) AS last_session FROM adoption_sessions GROUP BY person_id
),
active AS (
    SELECT person_id, count(*) AS sessions, count(DISTINCT day) AS active_days,
        bool_or(started_at < $2::TIMESTAMP) AS before_cold,
        bool_or(started_at >= $2::TIMESTAMP) AS in_cold
    FROM ranged
    GROUP BY person_id
)
SELECT p.person_id, p.name, p.email, p.team,
    e.last_session IS NOT NULL AS ever_started,
    e.last_session,
    coalesce(a.sessions, 0) AS sessions,
    coalesce(a.active_days, 0) AS active_days,
    coalesce(a.before_cold, false) AS before_cold,
    coalesce(a.in_cold, false) AS in_cold
FROM adoption_people p
LEFT JOIN ever e USING (person_id)
LEFT JOIN active a USING (person_id)
ORDER BY p.name, p.person_id;

-- name: active_by_bucket
-- Per interval of kind $2 ('interval' or 'week'): the people active in it, clipped to the
-- range [$1, end); with the group ($3 NULL: every person) each active person belongs to.
WITH b AS (SELECT idx, start_at FROM report_buckets WHERE kind = $2::VARCHAR),
tagged AS (
    SELECT s.person_id, b.idx
    FROM (SELECT person_id, started_at FROM adoption_sessions WHERE started_at >= $1::TIMESTAMP) s
    ASOF JOIN b ON s.started_at >= b.start_at
)
SELECT gp.group_id, t.idx, count(DISTINCT t.person_id) AS active
FROM tagged t
JOIN directory_group_people gp ON gp.person_id = t.person_id
GROUP BY ALL
UNION ALL
SELECT NULL, idx, count(DISTINCT person_id) FROM tagged GROUP BY idx;

-- name: heatmap_groups
-- The heatmap's rows: the groups directly below $1, or $1 itself when it has none; the
-- top-level groups when $1 is NULL. With their number of people.
WITH g AS (
    SELECT group_id, group_type, name, parent_id FROM directory_groups
    WHERE snapshot = (SELECT snapshot FROM directory_current)
),
picked AS (
    SELECT * FROM g WHERE ($1::VARCHAR IS NULL AND parent_id IS NULL) OR parent_id = $1::VARCHAR
    UNION ALL
    SELECT * FROM g WHERE group_id = $1::VARCHAR AND NOT EXISTS (SELECT 1 FROM g c WHERE c.parent_id = $1::VARCHAR)
)
SELECT p.group_id, p.group_type, p.name,
    (SELECT count(*) FROM directory_group_people gp WHERE gp.group_id = p.group_id) AS people
FROM picked p
ORDER BY p.name, p.group_id;

-- name: teams
-- Groups of the team type $2 in scope $1 (itself included; every team when NULL), with their
-- people.
SELECT g.group_id, g.name, gp.person_id
FROM directory_groups g
JOIN directory_group_people gp ON gp.group_id = g.group_id
WHERE g.snapshot = (SELECT snapshot FROM directory_current)
  AND g.group_type = $2::VARCHAR
  AND ($1::VARCHAR IS NULL OR g.group_id IN (
        SELECT group_id FROM directory_group_ancestors WHERE ancestor_id = $1::VARCHAR))
ORDER BY g.name, g.group_id, gp.person_id;

-- name: services
-- Targets the scope's people used in the range (from $1), per person: a team's services are
-- its people's.
SELECT person_id, target_namespace, target_type, target_name, count(*) AS sessions
FROM adoption_sessions
WHERE started_at >= $1::TIMESTAMP AND target_name IS NOT NULL
GROUP BY ALL;
