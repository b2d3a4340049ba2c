-- The directory's statements (src/directory/store.rs). Every snapshot's rows stay; the views
-- read the one in force (`directory_current`), and a report says which snapshot it used.

-- name: views
-- The directory in force, for reports and for SQL users: the newest snapshot, unless this
-- connection pinned another (`pin`: a report over a past range reads the membership of then).
CREATE OR REPLACE VIEW directory_current AS
SELECT coalesce(getvariable('directory_snapshot')::INTEGER,
                (SELECT max(snapshot) FROM directory_snapshots)) AS snapshot;
-- Each person's team: the names of their direct groups of the team type ({{directory_team_type}},
-- `[directory] team_type`), joined with ', '; when they are in none of that type, the names of
-- all their direct groups. People in no group have no row.
CREATE OR REPLACE VIEW directory_person_teams AS
WITH m AS (
    SELECT m.person_id, g.name, g.group_type = {{directory_team_type}} AS is_team
    FROM directory_members m
    JOIN directory_groups g ON g.snapshot = m.snapshot AND g.group_id = m.group_id
    WHERE m.snapshot = (SELECT snapshot FROM directory_current)
)
SELECT person_id,
    CASE WHEN bool_or(is_team) THEN string_agg(name, ', ' ORDER BY name) FILTER (WHERE is_team)
         ELSE string_agg(name, ', ' ORDER BY name) END AS team
FROM m
GROUP BY person_id;
-- One row per person, with the groups they are a direct member of and their team.
CREATE OR REPLACE VIEW directory AS
SELECT p.person_id, p.name, p.email,
    coalesce((SELECT list(m.group_id ORDER BY m.group_id) FROM directory_members m
              WHERE m.snapshot = p.snapshot AND m.person_id = p.person_id), []) AS groups,
    (SELECT t.team FROM directory_person_teams t WHERE t.person_id = p.person_id) AS team,
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
-- The person each session belongs to, by the matching order of src/directory/mod.rs
-- (IDENTITY_KINDS): Kubernetes user, else the machine's user name, client id, hostname; NULL:
-- nobody in the directory. Only sessions that started at or after `since` (NULL: all), so a
-- recent window matches only its own sessions.
CREATE OR REPLACE MACRO session_people_since(since) AS TABLE
SELECT s.session_id, s.kind, s.start_at, s.target_namespace, s.target_type, s.target_name,
    coalesce(ku.person_id, cn.person_id, ci.person_id, ch.person_id) AS person_id
FROM session_state s
LEFT JOIN directory_identities_current ku ON ku.kind = 'kubernetes_user' AND ku.value = s.client_user
LEFT JOIN directory_identities_current cn ON cn.kind = 'client_name' AND cn.value = s.client_name
LEFT JOIN directory_identities_current ci ON ci.kind = 'client_id' AND ci.value = s.client_id
LEFT JOIN directory_identities_current ch ON ch.kind = 'client_hostname' AND ch.value = s.client_hostname
WHERE since IS NULL OR s.start_at >= since;
-- Every session's person.
CREATE OR REPLACE VIEW session_people AS
SELECT session_id, person_id FROM session_people_since(NULL);
-- Each session with its person's name and team, for SQL users (`NULL`s: nobody in the directory).
CREATE OR REPLACE VIEW session_teams AS
SELECT sp.session_id, sp.person_id, d.name AS person_name, d.team
FROM session_people sp
LEFT JOIN directory d ON d.person_id = sp.person_id;
-- The sessions of the people in group `g` or any group below it (a report's `group` scope).
CREATE OR REPLACE MACRO group_sessions(g) AS TABLE
SELECT sp.session_id
FROM session_people sp
JOIN directory_group_people gp ON gp.person_id = sp.person_id
WHERE gp.group_id = g;

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

-- name: lookup
-- Every identity in force with its person, name and team (reports label their rows with it).
-- (Not through the `directory` view: its group lists are not needed here.)
SELECT i.kind, i.value, p.person_id, p.name, t.team
FROM directory_identities_current i
JOIN directory_people p ON p.person_id = i.person_id
    AND p.snapshot = (SELECT snapshot FROM directory_current)
LEFT JOIN directory_person_teams t ON t.person_id = p.person_id;

-- name: group
-- One group of the directory in force: its type and name; no row when there is none.
SELECT group_id, group_type, name FROM directory_groups
WHERE snapshot = (SELECT snapshot FROM directory_current) AND group_id = $1;

-- name: group_path
-- The groups from the top of the tree down to $1 (itself last).
SELECT g.group_id, g.group_type, g.name
FROM directory_group_ancestors a
JOIN directory_groups g ON g.group_id = a.ancestor_id
    AND g.snapshot = (SELECT snapshot FROM directory_current)
WHERE a.group_id = $1
ORDER BY a.depth DESC;

-- name: scope_table
-- The report scope on this connection: the sessions of group $1's people (a temp view of the
-- same name from an older build would block the table).
CREATE OR REPLACE TEMP TABLE scope_sessions AS SELECT session_id FROM group_sessions($1);

-- name: scope_view
-- The scope's rows of the sessions view, materialized once per request: scoped reports read
-- it for `sessions` in every section, each then a scan of the group's sessions only.
CREATE OR REPLACE TEMP TABLE scoped_sessions AS
SELECT * FROM sessions WHERE session_id IN (SELECT session_id FROM scope_sessions);

-- name: snapshot_at
-- The snapshot in force at $1: the newest imported by then; the first one when $1 is before
-- every import (the nearest membership there is); NULL without a directory.
SELECT coalesce((SELECT max(snapshot) FROM directory_snapshots WHERE imported_at <= $1),
                (SELECT min(snapshot) FROM directory_snapshots));

-- name: pin
-- Makes snapshot $1 the one in force for this connection's queries.
SET VARIABLE directory_snapshot = $1;
