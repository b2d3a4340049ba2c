-- The all-time rollups (schemas/duckdb/008_rollups.sql), kept current inside the fold's
-- transaction's data. src/analytics/rollups.rs runs these statements in order, one at a time,
-- each prepared once per connection.
--
-- How the rollups follow the commits: each commit appends the stored sessions it touches as
-- they were (sign -1, `pending_old`) and its sessions as they are now (+1, `pending_new`) to
-- `rollup_pending`. `catch_up` takes, per session, its state before the first of those commits
-- and after the last (`src_pending`) into `rollup_src`; `expand` repeats each row once per
-- primary key. The delta macros sum rows times their sign, so every count and sum moves by
-- new - old. Active days move when a user's count on a day leaves or reaches zero
-- (usage_user_days). A minimum or maximum (first start, last seen, display names) can only be
-- merged one way: when the old rows held a stored extreme and the new rows no longer reach it,
-- the row is marked stale and recomputed from every session of its user or key.
--
-- Each merge finds the stored rows of a delta in two steps, as the fold does: a scan of the
-- narrow `rkey` column (a hash of the row's key) for candidates, then those rows read by rowid
-- and their key columns compared (a hash collision is not a match). Those rows are deleted
-- and inserted again merged, with the delta's new keys; a row left without sessions is not
-- inserted. So a commit's cost does not grow with the rollups' size beyond that one column.
--
-- The same statements build the rollups from scratch (`rebuild`): every session with sign +1
-- into empty tables.

-- name: is_set_up
-- Whether this connection has the scratch tables and macros (`setup` ran on it).
SELECT (SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'rollup_jira_dirty') > 0
   AND (SELECT count(*) FROM duckdb_functions() WHERE function_name = 'rollup_events_delta') > 0;

-- name: setup
-- The scratch tables and the delta macros over them, kept for the connection's life (the
-- tables emptied after each use) so that the prepared statements stay valid.
CREATE TEMP TABLE IF NOT EXISTS rollup_src AS
SELECT 0 AS sign, * FROM rollup_rows('session_state') LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_expanded AS
SELECT ''::VARCHAR AS pk, ''::VARCHAR AS identifier, * FROM rollup_src LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_days_hits AS SELECT 0::BIGINT AS rid, * FROM usage_user_days LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_users_hits AS SELECT 0::BIGINT AS rid, * FROM usage_users LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_targets_hits AS SELECT 0::BIGINT AS rid, * FROM usage_targets LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_jira_hits AS SELECT 0::BIGINT AS rid, * FROM usage_jira LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_durations_hits AS SELECT 0::BIGINT AS rid, * FROM usage_durations LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_events_hits AS SELECT 0::BIGINT AS rid, * FROM usage_events LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS rollup_active_delta (pk VARCHAR, identifier VARCHAR, days BIGINT);
CREATE TEMP TABLE IF NOT EXISTS rollup_stale_users (pk VARCHAR, identifier VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS rollup_stale_jira (jira_key VARCHAR, identity VARCHAR, kind VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS rollup_jira_dirty (jira_key VARCHAR);
-- The deltas over those tables, as macros (bound to the tables when created).
CREATE TEMP MACRO IF NOT EXISTS rollup_days_delta() AS TABLE
SELECT hash(pk, identifier, day) AS rkey, pk, identifier, day, sum(sign) AS sessions
FROM (SELECT sign, pk, identifier, CAST(start_at AS DATE) AS day FROM rollup_expanded)
GROUP BY pk, identifier, day
HAVING sum(sign) <> 0;
CREATE TEMP MACRO IF NOT EXISTS rollup_users_delta() AS TABLE
SELECT hash(pk, identifier) AS rkey, pk, identifier,
    coalesce(sum(sign) FILTER (WHERE kind = 'exec'), 0) AS exec_sessions,
    coalesce(sum(sign) FILTER (WHERE kind = 'ci'), 0) AS ci_sessions,
    coalesce(sum(sign) FILTER (WHERE kind = 'exec' AND closed_seconds IS NOT NULL), 0) AS exec_closed,
    coalesce(sum(sign * closed_seconds) FILTER (WHERE kind = 'exec'), 0) AS exec_closed_seconds,
    coalesce(sum(sign) FILTER (WHERE kind = 'ci' AND closed_seconds IS NOT NULL), 0) AS ci_closed,
    coalesce(sum(sign * closed_seconds) FILTER (WHERE kind = 'ci'), 0) AS ci_closed_seconds,
    coalesce(sum(sign) FILTER (WHERE kind = 'exec' AND unended_seconds IS NOT NULL), 0) AS exec_unended,
    coalesce(sum(sign * unended_seconds) FILTER (WHERE kind = 'exec'), 0) AS exec_unended_seconds,
    coalesce(sum(sign) FILTER (WHERE kind = 'ci' AND unended_seconds IS NOT NULL), 0) AS ci_unended,
    coalesce(sum(sign * unended_seconds) FILTER (WHERE kind = 'ci'), 0) AS ci_unended_seconds,
    min(start_at) FILTER (WHERE sign < 0) AS old_first_start,
    min(start_at) FILTER (WHERE sign > 0) AS first_start,
    min(start_at) FILTER (WHERE sign < 0 AND kind = 'exec') AS old_first_exec_start,
    min(start_at) FILTER (WHERE sign > 0 AND kind = 'exec') AS first_exec_start,
    max(coalesce(ended_at, last_seen_at)) FILTER (WHERE sign < 0) AS old_last_seen,
    max(coalesce(ended_at, last_seen_at)) FILTER (WHERE sign > 0) AS last_seen,
    min(client_name) FILTER (WHERE sign < 0) AS old_client_name,
    min(client_name) FILTER (WHERE sign > 0) AS client_name,
    min(client_user) FILTER (WHERE sign < 0) AS old_client_user,
    min(client_user) FILTER (WHERE sign > 0) AS client_user,
    min(client_hostname) FILTER (WHERE sign < 0) AS old_client_hostname,
    min(client_hostname) FILTER (WHERE sign > 0) AS client_hostname
FROM rollup_expanded
GROUP BY pk, identifier;
CREATE TEMP MACRO IF NOT EXISTS rollup_targets_delta() AS TABLE
SELECT hash(kind, client_id, client_user, client_name, client_hostname, identity,
            target_namespace, target_type, target_name) AS rkey,
    kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name,
    sum(sign) AS sessions,
    coalesce(sum(sign) FILTER (WHERE closed_seconds IS NOT NULL), 0) AS closed,
    coalesce(sum(sign * closed_seconds), 0) AS closed_seconds,
    coalesce(sum(sign) FILTER (WHERE unended_seconds IS NOT NULL), 0) AS unended,
    coalesce(sum(sign * unended_seconds), 0) AS unended_seconds
FROM rollup_src
GROUP BY kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name;
CREATE TEMP MACRO IF NOT EXISTS rollup_jira_delta() AS TABLE
SELECT hash(jira_key, identity, kind) AS rkey, jira_key, identity, kind,
    sum(sign) AS sessions,
    coalesce(sum(sign) FILTER (WHERE closed_seconds IS NOT NULL), 0) AS closed,
    coalesce(sum(sign * closed_seconds), 0) AS closed_seconds,
    coalesce(sum(sign) FILTER (WHERE unended_seconds IS NOT NULL), 0) AS unended,
    coalesce(sum(sign * unended_seconds), 0) AS unended_seconds,
    min(start_at) FILTER (WHERE sign < 0) AS old_first_start,
    min(start_at) FILTER (WHERE sign > 0) AS first_start,
    max(coalesce(ended_at, last_seen_at)) FILTER (WHERE sign < 0) AS old_last_seen,
    max(coalesce(ended_at, last_seen_at)) FILTER (WHERE sign > 0) AS last_seen
FROM rollup_src
WHERE jira_key IS NOT NULL
GROUP BY jira_key, identity, kind;
CREATE TEMP MACRO IF NOT EXISTS rollup_durations_delta() AS TABLE
SELECT kind, duration_bucket(closed_seconds) AS bucket, sum(sign) AS sessions,
    sum(sign * closed_seconds) AS seconds
FROM rollup_src
WHERE closed_seconds IS NOT NULL
GROUP BY ALL;
-- The events of the pending commits (`all_events`: every stored event, for a rebuild).
CREATE TEMP MACRO IF NOT EXISTS rollup_events_delta(all_events) AS TABLE
SELECT kind, split_part(source, ':', 1) AS source, target_namespace,
    metric_target_name(target_name) AS target_name, http_filter IS NOT NULL AS filtered,
    scale_down, count(*) AS events
FROM events
WHERE all_events OR ingested_at IN (SELECT stamp FROM rollup_pending_stamps)
GROUP BY ALL;

-- name: pending_old
-- In the fold, before it writes: the stored sessions this commit touches, as they are. $1:
-- the commit's stamp.
INSERT INTO rollup_pending
SELECT $1, -1, s.session_id, s.kind, s.client_id, s.client_user, s.client_name, s.client_hostname,
    s.identity, s.target_namespace, s.target_type, s.target_name, s.jira_key,
    s.start_at, s.ended_at, s.last_seen_at, s.closed_seconds,
    CASE WHEN s.ended_at IS NULL THEN unended_seconds(s.last_seen_at, s.started_at, s.first_seen_at) END
FROM fold_touched t JOIN session_state s ON s.rowid = t.rid;

-- name: pending_new
-- In the fold, after it wrote: this commit's sessions, the touched ones merged and the new ones.
INSERT INTO rollup_pending
SELECT $1, 1, * FROM rollup_rows('fold_touched') UNION ALL SELECT $1, 1, * FROM rollup_rows('fold_new');

-- name: pending_stamp
INSERT INTO rollup_pending_stamps VALUES ($1);

-- name: has_pending
SELECT EXISTS (SELECT 1 FROM rollup_pending) OR EXISTS (SELECT 1 FROM rollup_pending_stamps);

-- name: src_pending
-- Per session, its state before the first pending commit that touched it (if it existed) and
-- after the last.
INSERT INTO rollup_src
SELECT sign, * EXCLUDE (stamp, sign, first_stamp, last_new)
FROM (
    SELECT *,
        min(stamp) OVER (PARTITION BY session_id) AS first_stamp,
        max(stamp) FILTER (WHERE sign > 0) OVER (PARTITION BY session_id) AS last_new
    FROM rollup_pending
)
WHERE (sign < 0 AND stamp = first_stamp) OR (sign > 0 AND stamp = last_new);

-- name: pending_clear
DELETE FROM rollup_pending;

-- name: pending_stamps_clear
DELETE FROM rollup_pending_stamps;

-- name: src_all
INSERT INTO rollup_src SELECT 1, * FROM rollup_rows('session_state');

-- name: src_stale
-- Every session of the stale rows' users and Jira keys (a superset, filtered by key later).
INSERT INTO rollup_src
SELECT 1, r.* FROM rollup_rows('session_state') r
WHERE r.identity IN (SELECT identifier FROM rollup_stale_users)
   OR r.client_id IN (SELECT identifier FROM rollup_stale_users)
   OR r.client_name IN (SELECT identifier FROM rollup_stale_users)
   OR r.client_hostname IN (SELECT identifier FROM rollup_stale_users)
   OR r.jira_key IN (SELECT jira_key FROM rollup_stale_jira);

-- name: expand
-- Each row once per primary key, with its identifier under that key (report_identifier, the
-- reports' own rule), plus `client_id` for the unique-machine count.
INSERT INTO rollup_expanded
SELECT p.pk, CASE p.pk WHEN 'client_id' THEN r.client_id
    ELSE report_identifier(p.pk, r.client_id, r.client_user, r.client_name, r.client_hostname, r.identity)
END AS identifier, r.*
FROM rollup_src r,
    (VALUES ('machine_id'), ('username'), ('client_username'), ('client_hostname'), ('client_id')) p(pk)
WHERE identifier IS NOT NULL;

-- name: days_hits
INSERT INTO rollup_days_hits
WITH h AS (SELECT rowid AS rid, rkey FROM usage_user_days SEMI JOIN rollup_days_delta() d USING (rkey))
SELECT h.rid, u.*
FROM h
JOIN usage_user_days u ON u.rowid = h.rid
SEMI JOIN rollup_days_delta() d ON d.rkey = u.rkey AND d.pk = u.pk AND d.identifier = u.identifier AND d.day = u.day;

-- name: days_active
-- A day new to a user gains an active day; a day whose count reaches zero loses one.
INSERT INTO rollup_active_delta
SELECT d.pk, d.identifier,
    sum(CASE WHEN h.rid IS NULL THEN 1 WHEN h.sessions + d.sessions = 0 THEN -1 ELSE 0 END)
FROM rollup_days_delta() d
LEFT JOIN rollup_days_hits h ON h.pk = d.pk AND h.identifier = d.identifier AND h.day = d.day
GROUP BY d.pk, d.identifier;

-- name: days_delete
DELETE FROM usage_user_days USING rollup_days_hits h WHERE usage_user_days.rowid = h.rid;

-- name: days_insert
INSERT INTO usage_user_days BY NAME
SELECT d.rkey, d.pk, d.identifier, d.day, coalesce(h.sessions, 0) + d.sessions AS sessions
FROM rollup_days_delta() d
LEFT JOIN rollup_days_hits h ON h.pk = d.pk AND h.identifier = d.identifier AND h.day = d.day
WHERE coalesce(h.sessions, 0) + d.sessions <> 0;

-- name: users_hits
INSERT INTO rollup_users_hits
WITH h AS (SELECT rowid AS rid, rkey FROM usage_users SEMI JOIN rollup_users_delta() d USING (rkey))
SELECT h.rid, u.*
FROM h
JOIN usage_users u ON u.rowid = h.rid
SEMI JOIN rollup_users_delta() d ON d.rkey = u.rkey AND d.pk = u.pk AND d.identifier = u.identifier;

-- name: users_stale
-- The old rows held a stored extreme that the new rows no longer reach.
INSERT INTO rollup_stale_users
SELECT d.pk, d.identifier
FROM rollup_users_delta() d JOIN rollup_users_hits u ON u.pk = d.pk AND u.identifier = d.identifier
WHERE (d.old_first_start = u.first_start AND (d.first_start IS NULL OR d.first_start > d.old_first_start))
   OR (d.old_first_exec_start = u.first_exec_start AND (d.first_exec_start IS NULL OR d.first_exec_start > d.old_first_exec_start))
   OR (d.old_last_seen = u.last_seen AND (d.last_seen IS NULL OR d.last_seen < d.old_last_seen))
   OR (d.old_client_name = u.client_name AND (d.client_name IS NULL OR d.client_name > d.old_client_name))
   OR (d.old_client_user = u.client_user AND (d.client_user IS NULL OR d.client_user > d.old_client_user))
   OR (d.old_client_hostname = u.client_hostname AND (d.client_hostname IS NULL OR d.client_hostname > d.old_client_hostname));

-- name: users_delete
DELETE FROM usage_users USING rollup_users_hits h WHERE usage_users.rowid = h.rid;

-- name: users_insert
INSERT INTO usage_users BY NAME
SELECT d.rkey, d.pk, d.identifier,
    coalesce(u.exec_sessions, 0) + d.exec_sessions AS exec_sessions,
    coalesce(u.ci_sessions, 0) + d.ci_sessions AS ci_sessions,
    coalesce(u.exec_closed, 0) + d.exec_closed AS exec_closed,
    coalesce(u.exec_closed_seconds, 0) + d.exec_closed_seconds AS exec_closed_seconds,
    coalesce(u.ci_closed, 0) + d.ci_closed AS ci_closed,
    coalesce(u.ci_closed_seconds, 0) + d.ci_closed_seconds AS ci_closed_seconds,
    coalesce(u.active_days, 0) + coalesce(a.days, 0) AS active_days,
    least(u.first_start, d.first_start) AS first_start,
    least(u.first_exec_start, d.first_exec_start) AS first_exec_start,
    greatest(u.last_seen, d.last_seen) AS last_seen,
    least(u.client_name, d.client_name) AS client_name,
    least(u.client_user, d.client_user) AS client_user,
    least(u.client_hostname, d.client_hostname) AS client_hostname,
    coalesce(u.exec_unended, 0) + d.exec_unended AS exec_unended,
    coalesce(u.exec_unended_seconds, 0) + d.exec_unended_seconds AS exec_unended_seconds,
    coalesce(u.ci_unended, 0) + d.ci_unended AS ci_unended,
    coalesce(u.ci_unended_seconds, 0) + d.ci_unended_seconds AS ci_unended_seconds
FROM rollup_users_delta() d
LEFT JOIN rollup_users_hits u ON u.pk = d.pk AND u.identifier = d.identifier
LEFT JOIN rollup_active_delta a ON a.pk = d.pk AND a.identifier = d.identifier
WHERE coalesce(u.exec_sessions, 0) + d.exec_sessions + coalesce(u.ci_sessions, 0) + d.ci_sessions <> 0;

-- name: targets_hits
-- Matched on every key column, NULLs matching.
INSERT INTO rollup_targets_hits
WITH h AS (SELECT rowid AS rid, rkey FROM usage_targets SEMI JOIN rollup_targets_delta() d USING (rkey))
SELECT h.rid, u.*
FROM h
JOIN usage_targets u ON u.rowid = h.rid
SEMI JOIN rollup_targets_delta() d ON d.rkey = u.rkey
    AND struct_pack(u.kind, u.client_id, u.client_user, u.client_name, u.client_hostname, u.identity,
                    u.target_namespace, u.target_type, u.target_name)
        IS NOT DISTINCT FROM
        struct_pack(d.kind, d.client_id, d.client_user, d.client_name, d.client_hostname, d.identity,
                    d.target_namespace, d.target_type, d.target_name);

-- name: targets_delete
DELETE FROM usage_targets USING rollup_targets_hits h WHERE usage_targets.rowid = h.rid;

-- name: targets_insert
INSERT INTO usage_targets BY NAME
SELECT d.rkey, d.kind, d.client_id, d.client_user, d.client_name, d.client_hostname, d.identity,
    d.target_namespace, d.target_type, d.target_name,
    coalesce(u.sessions, 0) + d.sessions AS sessions,
    coalesce(u.closed, 0) + d.closed AS closed,
    coalesce(u.closed_seconds, 0) + d.closed_seconds AS closed_seconds,
    coalesce(u.unended, 0) + d.unended AS unended,
    coalesce(u.unended_seconds, 0) + d.unended_seconds AS unended_seconds
FROM rollup_targets_delta() d
LEFT JOIN rollup_targets_hits u ON u.rkey = d.rkey
    AND struct_pack(u.kind, u.client_id, u.client_user, u.client_name, u.client_hostname, u.identity,
                    u.target_namespace, u.target_type, u.target_name)
        IS NOT DISTINCT FROM
        struct_pack(d.kind, d.client_id, d.client_user, d.client_name, d.client_hostname, d.identity,
                    d.target_namespace, d.target_type, d.target_name)
WHERE coalesce(u.sessions, 0) + d.sessions <> 0;

-- name: jira_hits
INSERT INTO rollup_jira_hits
WITH h AS (SELECT rowid AS rid, rkey FROM usage_jira SEMI JOIN rollup_jira_delta() d USING (rkey))
SELECT h.rid, u.*
FROM h
JOIN usage_jira u ON u.rowid = h.rid
SEMI JOIN rollup_jira_delta() d ON d.rkey = u.rkey AND d.jira_key = u.jira_key
    AND d.identity = u.identity AND d.kind = u.kind;

-- name: jira_stale
INSERT INTO rollup_stale_jira
SELECT d.jira_key, d.identity, d.kind
FROM rollup_jira_delta() d
JOIN rollup_jira_hits u ON u.jira_key = d.jira_key AND u.identity = d.identity AND u.kind = d.kind
WHERE (d.old_first_start = u.first_start AND (d.first_start IS NULL OR d.first_start > d.old_first_start))
   OR (d.old_last_seen = u.last_seen AND (d.last_seen IS NULL OR d.last_seen < d.old_last_seen));

-- name: jira_delete
DELETE FROM usage_jira USING rollup_jira_hits h WHERE usage_jira.rowid = h.rid;

-- name: jira_insert
INSERT INTO usage_jira BY NAME
SELECT d.rkey, d.jira_key, d.identity, d.kind,
    coalesce(u.sessions, 0) + d.sessions AS sessions,
    coalesce(u.closed, 0) + d.closed AS closed,
    coalesce(u.closed_seconds, 0) + d.closed_seconds AS closed_seconds,
    least(u.first_start, d.first_start) AS first_start,
    greatest(u.last_seen, d.last_seen) AS last_seen,
    coalesce(u.unended, 0) + d.unended AS unended,
    coalesce(u.unended_seconds, 0) + d.unended_seconds AS unended_seconds
FROM rollup_jira_delta() d
LEFT JOIN rollup_jira_hits u ON u.jira_key = d.jira_key AND u.identity = d.identity AND u.kind = d.kind
WHERE coalesce(u.sessions, 0) + d.sessions <> 0;

-- name: jira_dirty
-- The keys whose usage_jira rows this commit changed.
INSERT INTO rollup_jira_dirty SELECT DISTINCT jira_key FROM rollup_jira_delta();

-- name: jira_keys_delete
DELETE FROM usage_jira_keys WHERE jira_key IN (SELECT jira_key FROM rollup_jira_dirty);

-- name: jira_keys_insert
-- Those keys summed again from usage_jira, with their distinct users.
INSERT INTO usage_jira_keys BY NAME
SELECT jira_key,
    sum(sessions) AS sessions,
    sum(closed_seconds) AS closed_seconds,
    sum(unended_seconds) AS unended_seconds,
    count(DISTINCT identity) AS users,
    min(first_start) AS first_start,
    max(last_seen) AS last_seen,
    coalesce(sum(sessions) FILTER (WHERE kind = 'ci'), 0) AS ci_sessions,
    coalesce(sum(sessions) FILTER (WHERE kind = 'exec'), 0) AS exec_sessions
FROM usage_jira
WHERE jira_key IN (SELECT jira_key FROM rollup_jira_dirty)
GROUP BY jira_key;

-- name: durations_hits
INSERT INTO rollup_durations_hits
SELECT u.rowid, u.* FROM usage_durations u
SEMI JOIN rollup_durations_delta() d ON d.kind = u.kind AND d.bucket = u.bucket;

-- name: durations_delete
DELETE FROM usage_durations USING rollup_durations_hits h WHERE usage_durations.rowid = h.rid;

-- name: durations_insert
INSERT INTO usage_durations BY NAME
SELECT d.kind, d.bucket, coalesce(u.sessions, 0) + d.sessions AS sessions,
    coalesce(u.seconds, 0) + d.seconds AS seconds
FROM rollup_durations_delta() d
LEFT JOIN rollup_durations_hits u ON u.kind = d.kind AND u.bucket = d.bucket
WHERE coalesce(u.sessions, 0) + d.sessions <> 0;

-- name: events_hits
-- $1: true for every stored event (rebuild), false for the pending commits'.
INSERT INTO rollup_events_hits
SELECT u.rowid, u.* FROM usage_events u
SEMI JOIN rollup_events_delta($1::BOOLEAN) d
    ON struct_pack(u.kind, u.source, u.target_namespace, u.target_name, u.filtered, u.scale_down)
       IS NOT DISTINCT FROM
       struct_pack(d.kind, d.source, d.target_namespace, d.target_name, d.filtered, d.scale_down);

-- name: events_delete
DELETE FROM usage_events USING rollup_events_hits h WHERE usage_events.rowid = h.rid;

-- name: events_insert
INSERT INTO usage_events BY NAME
SELECT d.kind, d.source, d.target_namespace, d.target_name, d.filtered, d.scale_down,
    coalesce(u.events, 0) + d.events AS events
FROM rollup_events_delta($1::BOOLEAN) d
LEFT JOIN rollup_events_hits u
    ON struct_pack(u.kind, u.source, u.target_namespace, u.target_name, u.filtered, u.scale_down)
       IS NOT DISTINCT FROM
       struct_pack(d.kind, d.source, d.target_namespace, d.target_name, d.filtered, d.scale_down);

-- name: stale_count
SELECT (SELECT count(*) FROM rollup_stale_users) + (SELECT count(*) FROM rollup_stale_jira);

-- name: stale_delete_users
DELETE FROM usage_users u
WHERE EXISTS (SELECT 1 FROM rollup_stale_users st WHERE st.pk = u.pk AND st.identifier = u.identifier);

-- name: stale_delete_jira
DELETE FROM usage_jira u
WHERE EXISTS (SELECT 1 FROM rollup_stale_jira st
              WHERE st.jira_key = u.jira_key AND st.identity = u.identity AND st.kind = u.kind);

-- name: stale_users
-- After `src_stale` and `expand`: the stale users' rows computed from all their sessions.
INSERT INTO usage_users BY NAME
SELECT d.rkey, d.pk, d.identifier, d.exec_sessions, d.ci_sessions, d.exec_closed,
    d.exec_closed_seconds, d.ci_closed, d.ci_closed_seconds,
    (SELECT count(*) FROM usage_user_days x WHERE x.pk = d.pk AND x.identifier = d.identifier) AS active_days,
    d.first_start, d.first_exec_start, d.last_seen, d.client_name, d.client_user,
    d.client_hostname, d.exec_unended, d.exec_unended_seconds, d.ci_unended, d.ci_unended_seconds
FROM rollup_users_delta() d
SEMI JOIN rollup_stale_users st ON st.pk = d.pk AND st.identifier = d.identifier;

-- name: stale_jira
INSERT INTO usage_jira BY NAME
SELECT d.rkey, d.jira_key, d.identity, d.kind, d.sessions, d.closed, d.closed_seconds,
    d.first_start, d.last_seen, d.unended, d.unended_seconds
FROM rollup_jira_delta() d
SEMI JOIN rollup_stale_jira st ON st.jira_key = d.jira_key AND st.identity = d.identity AND st.kind = d.kind;

-- name: stale_dirty
INSERT INTO rollup_jira_dirty SELECT DISTINCT jira_key FROM rollup_stale_jira;

-- name: clear
-- Every rollup emptied, before a rebuild.
DELETE FROM usage_users;
DELETE FROM usage_user_days;
DELETE FROM usage_jira_keys;
DELETE FROM usage_targets;
DELETE FROM usage_jira;
DELETE FROM usage_durations;
DELETE FROM usage_events;
DELETE FROM rollup_pending;
DELETE FROM rollup_pending_stamps;

-- name: empty_src
DELETE FROM rollup_src;

-- name: empty_expanded
DELETE FROM rollup_expanded;

-- name: empty_hits
DELETE FROM rollup_days_hits;

-- name: empty_users_hits
DELETE FROM rollup_users_hits;

-- name: empty_targets_hits
DELETE FROM rollup_targets_hits;

-- name: empty_jira_hits
DELETE FROM rollup_jira_hits;

-- name: empty_durations_hits
DELETE FROM rollup_durations_hits;

-- name: empty_events_hits
DELETE FROM rollup_events_hits;

-- name: empty_active
DELETE FROM rollup_active_delta;

-- name: empty_stale_users
DELETE FROM rollup_stale_users;

-- name: empty_stale_jira
DELETE FROM rollup_stale_jira;

-- name: empty_jira_dirty
DELETE FROM rollup_jira_dirty;
