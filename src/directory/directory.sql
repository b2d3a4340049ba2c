-- The directory's statements (src/directory/store.rs). Every snapshot's rows stay; the views
-- read the newest (`directory_current`), and a report says which snapshot it used.

-- name: views
-- The directory in force, for reports and for SQL users.
CREATE OR REPLACE VIEW directory_current AS
SELECT max(snapshot) AS snapshot FROM directory_snapshots;
-- One row per person, with the groups they are a direct member of.
CREATE OR REPLACE VIEW directory AS
SELECT p.person_id, p.name, p.email,
    coalesce((SELECT list(m.group_id ORDER BY m.group_id) FROM directory_members m
              WHERE m.snapshot = p.snapshot AND m.person_id = p.person_id), []) AS groups,
    p.snapshot
FROM directory_people p
WHERE p.snapshot = (SELECT snapshot FROM directory_current);
-- Each group with every group above it (itself at depth 0), following the parent links.
CREATE OR REPLACE VIEW directory_group_ancestors AS
WITH RECURSIVE g AS (
    SELECT group_id, parent_id FROM directory_groups
    WHERE snapshot = (SELECT snapshot FROM directory_current)
),
up(group_id, ancestor_id, depth) AS (
    SELECT group_id, group_id, 0 FROM g
    UNION ALL
    SELECT up.group_id, g.parent_id, up.depth + 1
    FROM up JOIN g ON g.group_id = up.ancestor_id
    WHERE g.parent_id IS NOT NULL
)
SELECT group_id, ancestor_id, depth FROM up;
-- Each person in each group: a direct member, or a member of a group below it.
CREATE OR REPLACE VIEW directory_group_people AS
SELECT DISTINCT a.ancestor_id AS group_id, m.person_id
FROM directory_members m
JOIN directory_group_ancestors a ON a.group_id = m.group_id
WHERE m.snapshot = (SELECT snapshot FROM directory_current);
-- The identities in force.
CREATE OR REPLACE VIEW directory_identities_current AS
SELECT kind, value, person_id FROM directory_identities
WHERE snapshot = (SELECT snapshot FROM directory_current);
-- The person a session belongs to, by the matching order of src/directory/mod.rs
-- (IDENTITY_KINDS): Kubernetes user, else the machine's user name, client id, hostname.
-- NULL: nobody in the directory.
CREATE OR REPLACE VIEW session_people AS
SELECT s.session_id, coalesce(ku.person_id, cn.person_id, ci.person_id, ch.person_id) AS person_id
FROM session_state s
LEFT JOIN directory_identities_current ku ON ku.kind = 'kubernetes_user' AND ku.value = s.client_user
LEFT JOIN directory_identities_current cn ON cn.kind = 'client_name' AND cn.value = s.client_name
LEFT JOIN directory_identities_current ci ON ci.kind = 'client_id' AND ci.value = s.client_id
LEFT JOIN directory_identities_current ch ON ch.kind = 'client_hostname' AND ch.value = s.client_hostname;

-- name: next_snapshot
SELECT coalesce(max(snapshot), 0) + 1 FROM directory_snapshots;

-- name: insert_snapshot
INSERT INTO directory_snapshots VALUES ($1, $2, $3, $4, $5, $6);

-- name: current
-- The snapshot in force: number, when, from where, and its counts; no row before any import.
SELECT snapshot, imported_at, source, people, groups, identities
FROM directory_snapshots
WHERE snapshot = (SELECT snapshot FROM directory_current);

-- name: groups
-- The tree: each group with its parent, its direct members and everyone below it.
SELECT g.group_id, g.group_type, g.name, g.parent_id,
    (SELECT count(*) FROM directory_members m WHERE m.snapshot = g.snapshot AND m.group_id = g.group_id) AS direct,
    (SELECT count(*) FROM directory_group_people p WHERE p.group_id = g.group_id) AS total
FROM directory_groups g
WHERE g.snapshot = (SELECT snapshot FROM directory_current)
ORDER BY g.group_id;

-- name: never_matched
-- People none of whose identities appears in any session.
SELECT d.person_id, d.name
FROM directory d
WHERE NOT EXISTS (SELECT 1 FROM session_people sp WHERE sp.person_id = d.person_id)
ORDER BY d.person_id;
