-- The all-time rollups (schemas/duckdb/008_rollups.sql), kept current inside the fold's
-- transaction (src/analytics/rollups.rs runs these in order).
--
-- How a commit updates them, with work proportional to the days it touches rather than to
-- the database: before the fold writes, the sessions that *start* on the days the commit
-- touches are aggregated into the side tables as 'old'; after it writes, the same days again
-- as 'new'. Every count and sum moves by new - old, which is exact because the other days'
-- sessions did not change. A minimum or maximum (first start, last seen, display names) can
-- only be merged one way: when the changed days held a row's extreme and their new value no
-- longer reaches it, the row is marked stale and recomputed from `session_state`.
--
-- The same shapes build the rollups from scratch (`rebuild`): scope 'all' and no 'old' side.

-- name: begin
CREATE OR REPLACE TEMP TABLE rollup_days (day DATE);
CREATE OR REPLACE TEMP TABLE rollup_users_side AS SELECT ''::VARCHAR AS side, * FROM usage_users LIMIT 0;
CREATE OR REPLACE TEMP TABLE rollup_targets_side AS SELECT ''::VARCHAR AS side, * FROM usage_targets LIMIT 0;
CREATE OR REPLACE TEMP TABLE rollup_jira_side AS SELECT ''::VARCHAR AS side, * FROM usage_jira LIMIT 0;
CREATE OR REPLACE TEMP TABLE rollup_durations_side AS SELECT ''::VARCHAR AS side, * FROM usage_durations LIMIT 0;
CREATE OR REPLACE TEMP TABLE rollup_stale_users (pk VARCHAR, identifier VARCHAR);
CREATE OR REPLACE TEMP TABLE rollup_stale_jira (jira_key VARCHAR, identity VARCHAR, kind VARCHAR);

-- name: dirty_days
-- The UTC start days this commit changes: the touched sessions' days before and after the
-- merge, and the days of the sessions new with it (computed as the insert will).
INSERT INTO rollup_days
SELECT DISTINCT CAST(d AS DATE) FROM (
    SELECT s.start_at AS d FROM fold_touched t JOIN session_state s ON s.rowid = t.rid
    UNION ALL
    SELECT start_at FROM fold_touched
    UNION ALL
    SELECT session_start(started_at, ended_at, reported_duration, first_seen_at) FROM fold_batch
) WHERE d IS NOT NULL;

-- name: scope
-- The sessions the shapes aggregate. $1: 'days' (those starting on `rollup_days`), 'all', or
-- 'stale' (those of the stale rows' users and Jira keys; a superset, filtered by key later).
CREATE OR REPLACE TEMP TABLE rollup_src AS
SELECT kind, client_id, client_user, client_name, client_hostname, identity,
       target_namespace, target_type, target_name, jira_key,
       start_at, ended_at, last_seen_at, closed_seconds,
       CASE WHEN ended_at IS NULL THEN unended_seconds(last_seen_at, started_at, first_seen_at) END AS unended_seconds
FROM session_state
WHERE CASE $1
    WHEN 'all' THEN true
    WHEN 'days' THEN start_at >= (SELECT min(day) FROM rollup_days)
                 AND start_at < (SELECT max(day) FROM rollup_days) + INTERVAL 1 DAY
                 AND CAST(start_at AS DATE) IN (SELECT day FROM rollup_days)
    ELSE identity IN (SELECT identifier FROM rollup_stale_users)
      OR client_id IN (SELECT identifier FROM rollup_stale_users)
      OR client_name IN (SELECT identifier FROM rollup_stale_users)
      OR client_hostname IN (SELECT identifier FROM rollup_stale_users)
      OR jira_key IN (SELECT jira_key FROM rollup_stale_jira)
END;

-- name: clear_sides
DELETE FROM rollup_users_side;
DELETE FROM rollup_targets_side;
DELETE FROM rollup_jira_side;
DELETE FROM rollup_durations_side;

-- name: users_shape
-- $1: 'old' or 'new'. One row per primary key and identifier (report_identifier, the
-- reports' own rule), plus `client_id` rows for the unique-machine count.
INSERT INTO rollup_users_side
SELECT $1, k.pk, k.identifier,
    count(*) FILTER (WHERE kind = 'exec'),
    count(*) FILTER (WHERE kind = 'ci'),
    count(closed_seconds) FILTER (WHERE kind = 'exec'),
    coalesce(sum(closed_seconds) FILTER (WHERE kind = 'exec'), 0),
    count(closed_seconds) FILTER (WHERE kind = 'ci'),
    coalesce(sum(closed_seconds) FILTER (WHERE kind = 'ci'), 0),
    count(DISTINCT CAST(start_at AS DATE)),
    min(start_at),
    min(start_at) FILTER (WHERE kind = 'exec'),
    max(coalesce(ended_at, last_seen_at)),
    min(client_name),
    min(client_user),
    min(client_hostname),
    count(unended_seconds) FILTER (WHERE kind = 'exec'),
    coalesce(sum(unended_seconds) FILTER (WHERE kind = 'exec'), 0),
    count(unended_seconds) FILTER (WHERE kind = 'ci'),
    coalesce(sum(unended_seconds) FILTER (WHERE kind = 'ci'), 0)
FROM (
    SELECT p.pk, CASE p.pk WHEN 'client_id' THEN r.client_id
        ELSE report_identifier(p.pk, r.client_id, r.client_user, r.client_name, r.client_hostname, r.identity)
    END AS identifier, r.*
    FROM rollup_src r,
        (VALUES ('machine_id'), ('username'), ('client_username'), ('client_hostname'), ('client_id')) p(pk)
) k
WHERE k.identifier IS NOT NULL
GROUP BY k.pk, k.identifier;

-- name: targets_shape
INSERT INTO rollup_targets_side
SELECT $1, kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name,
    count(*), count(closed_seconds), coalesce(sum(closed_seconds), 0),
    count(unended_seconds), coalesce(sum(unended_seconds), 0)
FROM rollup_src
GROUP BY kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name;

-- name: jira_shape
INSERT INTO rollup_jira_side
SELECT $1, jira_key, identity, kind,
    count(*), count(closed_seconds), coalesce(sum(closed_seconds), 0),
    min(start_at), max(coalesce(ended_at, last_seen_at)),
    count(unended_seconds), coalesce(sum(unended_seconds), 0)
FROM rollup_src
WHERE jira_key IS NOT NULL
GROUP BY jira_key, identity, kind;

-- name: durations_shape
INSERT INTO rollup_durations_side
SELECT $1, kind, duration_bucket(closed_seconds), count(*), sum(closed_seconds)
FROM rollup_src
WHERE closed_seconds IS NOT NULL
GROUP BY ALL;

-- name: users_apply
-- new - old per row; stale rows found before the merge (the current extreme is compared with
-- what the changed days held), then the merge, new rows, and rows left without sessions.
CREATE OR REPLACE TEMP TABLE rollup_users_delta AS
SELECT pk, identifier,
    sum(CASE side WHEN 'new' THEN exec_sessions ELSE -exec_sessions END) AS exec_sessions,
    sum(CASE side WHEN 'new' THEN ci_sessions ELSE -ci_sessions END) AS ci_sessions,
    sum(CASE side WHEN 'new' THEN exec_closed ELSE -exec_closed END) AS exec_closed,
    sum(CASE side WHEN 'new' THEN exec_closed_seconds ELSE -exec_closed_seconds END) AS exec_closed_seconds,
    sum(CASE side WHEN 'new' THEN ci_closed ELSE -ci_closed END) AS ci_closed,
    sum(CASE side WHEN 'new' THEN ci_closed_seconds ELSE -ci_closed_seconds END) AS ci_closed_seconds,
    sum(CASE side WHEN 'new' THEN active_days ELSE -active_days END) AS active_days,
    sum(CASE side WHEN 'new' THEN exec_unended ELSE -exec_unended END) AS exec_unended,
    sum(CASE side WHEN 'new' THEN exec_unended_seconds ELSE -exec_unended_seconds END) AS exec_unended_seconds,
    sum(CASE side WHEN 'new' THEN ci_unended ELSE -ci_unended END) AS ci_unended,
    sum(CASE side WHEN 'new' THEN ci_unended_seconds ELSE -ci_unended_seconds END) AS ci_unended_seconds,
    min(first_start) FILTER (WHERE side = 'old') AS old_first_start,
    min(first_start) FILTER (WHERE side = 'new') AS first_start,
    min(first_exec_start) FILTER (WHERE side = 'old') AS old_first_exec_start,
    min(first_exec_start) FILTER (WHERE side = 'new') AS first_exec_start,
    max(last_seen) FILTER (WHERE side = 'old') AS old_last_seen,
    max(last_seen) FILTER (WHERE side = 'new') AS last_seen,
    min(client_name) FILTER (WHERE side = 'old') AS old_client_name,
    min(client_name) FILTER (WHERE side = 'new') AS client_name,
    min(client_user) FILTER (WHERE side = 'old') AS old_client_user,
    min(client_user) FILTER (WHERE side = 'new') AS client_user,
    min(client_hostname) FILTER (WHERE side = 'old') AS old_client_hostname,
    min(client_hostname) FILTER (WHERE side = 'new') AS client_hostname
FROM rollup_users_side
GROUP BY pk, identifier;
INSERT INTO rollup_stale_users
SELECT d.pk, d.identifier
FROM rollup_users_delta d JOIN usage_users u ON u.pk = d.pk AND u.identifier = d.identifier
WHERE (d.old_first_start = u.first_start AND (d.first_start IS NULL OR d.first_start > d.old_first_start))
   OR (d.old_first_exec_start = u.first_exec_start AND (d.first_exec_start IS NULL OR d.first_exec_start > d.old_first_exec_start))
   OR (d.old_last_seen = u.last_seen AND (d.last_seen IS NULL OR d.last_seen < d.old_last_seen))
   OR (d.old_client_name = u.client_name AND (d.client_name IS NULL OR d.client_name > d.old_client_name))
   OR (d.old_client_user = u.client_user AND (d.client_user IS NULL OR d.client_user > d.old_client_user))
   OR (d.old_client_hostname = u.client_hostname AND (d.client_hostname IS NULL OR d.client_hostname > d.old_client_hostname));
UPDATE usage_users AS u SET
    exec_sessions       = u.exec_sessions + d.exec_sessions,
    ci_sessions         = u.ci_sessions + d.ci_sessions,
    exec_closed         = u.exec_closed + d.exec_closed,
    exec_closed_seconds = u.exec_closed_seconds + d.exec_closed_seconds,
    ci_closed           = u.ci_closed + d.ci_closed,
    ci_closed_seconds   = u.ci_closed_seconds + d.ci_closed_seconds,
    active_days         = u.active_days + d.active_days,
    exec_unended        = u.exec_unended + d.exec_unended,
    exec_unended_seconds = u.exec_unended_seconds + d.exec_unended_seconds,
    ci_unended          = u.ci_unended + d.ci_unended,
    ci_unended_seconds  = u.ci_unended_seconds + d.ci_unended_seconds,
    first_start         = least(u.first_start, d.first_start),
    first_exec_start    = least(u.first_exec_start, d.first_exec_start),
    last_seen           = greatest(u.last_seen, d.last_seen),
    client_name         = least(u.client_name, d.client_name),
    client_user         = least(u.client_user, d.client_user),
    client_hostname     = least(u.client_hostname, d.client_hostname)
FROM rollup_users_delta d
WHERE u.pk = d.pk AND u.identifier = d.identifier;
INSERT INTO usage_users BY NAME
SELECT pk, identifier, exec_sessions, ci_sessions, exec_closed, exec_closed_seconds, ci_closed,
    ci_closed_seconds, active_days, first_start, first_exec_start, last_seen, client_name,
    client_user, client_hostname, exec_unended, exec_unended_seconds, ci_unended, ci_unended_seconds
FROM rollup_users_delta d
WHERE NOT EXISTS (SELECT 1 FROM usage_users u WHERE u.pk = d.pk AND u.identifier = d.identifier);
DELETE FROM usage_users WHERE exec_sessions + ci_sessions = 0;

-- name: targets_apply
-- Counts and sums only: new - old, merged by key (NULLs match), then rows left at zero dropped.
CREATE OR REPLACE TEMP TABLE rollup_targets_delta AS
SELECT kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name,
    sum(CASE side WHEN 'new' THEN sessions ELSE -sessions END) AS sessions,
    sum(CASE side WHEN 'new' THEN closed ELSE -closed END) AS closed,
    sum(CASE side WHEN 'new' THEN closed_seconds ELSE -closed_seconds END) AS closed_seconds,
    sum(CASE side WHEN 'new' THEN unended ELSE -unended END) AS unended,
    sum(CASE side WHEN 'new' THEN unended_seconds ELSE -unended_seconds END) AS unended_seconds
FROM rollup_targets_side
GROUP BY kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name;
UPDATE usage_targets AS u SET
    sessions       = u.sessions + d.sessions,
    closed         = u.closed + d.closed,
    closed_seconds = u.closed_seconds + d.closed_seconds,
    unended        = u.unended + d.unended,
    unended_seconds = u.unended_seconds + d.unended_seconds
FROM rollup_targets_delta d
WHERE u.kind IS NOT DISTINCT FROM d.kind
  AND u.client_id IS NOT DISTINCT FROM d.client_id
  AND u.client_user IS NOT DISTINCT FROM d.client_user
  AND u.client_name IS NOT DISTINCT FROM d.client_name
  AND u.client_hostname IS NOT DISTINCT FROM d.client_hostname
  AND u.identity IS NOT DISTINCT FROM d.identity
  AND u.target_namespace IS NOT DISTINCT FROM d.target_namespace
  AND u.target_type IS NOT DISTINCT FROM d.target_type
  AND u.target_name IS NOT DISTINCT FROM d.target_name;
INSERT INTO usage_targets BY NAME
SELECT * FROM rollup_targets_delta d
WHERE NOT EXISTS (
    SELECT 1 FROM usage_targets u
    WHERE u.kind IS NOT DISTINCT FROM d.kind
      AND u.client_id IS NOT DISTINCT FROM d.client_id
      AND u.client_user IS NOT DISTINCT FROM d.client_user
      AND u.client_name IS NOT DISTINCT FROM d.client_name
      AND u.client_hostname IS NOT DISTINCT FROM d.client_hostname
      AND u.identity IS NOT DISTINCT FROM d.identity
      AND u.target_namespace IS NOT DISTINCT FROM d.target_namespace
      AND u.target_type IS NOT DISTINCT FROM d.target_type
      AND u.target_name IS NOT DISTINCT FROM d.target_name);
DELETE FROM usage_targets WHERE sessions = 0;

-- name: jira_apply
CREATE OR REPLACE TEMP TABLE rollup_jira_delta AS
SELECT jira_key, identity, kind,
    sum(CASE side WHEN 'new' THEN sessions ELSE -sessions END) AS sessions,
    sum(CASE side WHEN 'new' THEN closed ELSE -closed END) AS closed,
    sum(CASE side WHEN 'new' THEN closed_seconds ELSE -closed_seconds END) AS closed_seconds,
    sum(CASE side WHEN 'new' THEN unended ELSE -unended END) AS unended,
    sum(CASE side WHEN 'new' THEN unended_seconds ELSE -unended_seconds END) AS unended_seconds,
    min(first_start) FILTER (WHERE side = 'old') AS old_first_start,
    min(first_start) FILTER (WHERE side = 'new') AS first_start,
    max(last_seen) FILTER (WHERE side = 'old') AS old_last_seen,
    max(last_seen) FILTER (WHERE side = 'new') AS last_seen
FROM rollup_jira_side
GROUP BY jira_key, identity, kind;
INSERT INTO rollup_stale_jira
SELECT d.jira_key, d.identity, d.kind
FROM rollup_jira_delta d
JOIN usage_jira u ON u.jira_key = d.jira_key AND u.identity = d.identity AND u.kind = d.kind
WHERE (d.old_first_start = u.first_start AND (d.first_start IS NULL OR d.first_start > d.old_first_start))
   OR (d.old_last_seen = u.last_seen AND (d.last_seen IS NULL OR d.last_seen < d.old_last_seen));
UPDATE usage_jira AS u SET
    sessions       = u.sessions + d.sessions,
    closed         = u.closed + d.closed,
    closed_seconds = u.closed_seconds + d.closed_seconds,
    unended        = u.unended + d.unended,
    unended_seconds = u.unended_seconds + d.unended_seconds,
    first_start    = least(u.first_start, d.first_start),
    last_seen      = greatest(u.last_seen, d.last_seen)
FROM rollup_jira_delta d
WHERE u.jira_key = d.jira_key AND u.identity = d.identity AND u.kind = d.kind;
INSERT INTO usage_jira BY NAME
SELECT jira_key, identity, kind, sessions, closed, closed_seconds, first_start, last_seen,
    unended, unended_seconds
FROM rollup_jira_delta d
WHERE NOT EXISTS (
    SELECT 1 FROM usage_jira u
    WHERE u.jira_key = d.jira_key AND u.identity = d.identity AND u.kind = d.kind);
DELETE FROM usage_jira WHERE sessions = 0;

-- name: durations_apply
CREATE OR REPLACE TEMP TABLE rollup_durations_delta AS
SELECT kind, bucket,
    sum(CASE side WHEN 'new' THEN sessions ELSE -sessions END) AS sessions,
    sum(CASE side WHEN 'new' THEN seconds ELSE -seconds END) AS seconds
FROM rollup_durations_side
GROUP BY kind, bucket;
UPDATE usage_durations AS u SET sessions = u.sessions + d.sessions, seconds = u.seconds + d.seconds
FROM rollup_durations_delta d
WHERE u.kind = d.kind AND u.bucket = d.bucket;
INSERT INTO usage_durations BY NAME
SELECT * FROM rollup_durations_delta d
WHERE NOT EXISTS (SELECT 1 FROM usage_durations u WHERE u.kind = d.kind AND u.bucket = d.bucket);
DELETE FROM usage_durations WHERE sessions = 0;

-- name: events_add
-- The events a commit stored ($1: its `ingested_at` stamp, or NULL for every event when
-- rebuilding), counted and added.
CREATE OR REPLACE TEMP TABLE rollup_events_delta AS
SELECT kind, split_part(source, ':', 1) AS source, target_namespace,
    metric_target_name(target_name) AS target_name, http_filter IS NOT NULL AS filtered,
    scale_down, count(*) AS events
FROM events
WHERE $1::TIMESTAMP IS NULL OR ingested_at = $1::TIMESTAMP
GROUP BY ALL;

-- name: events_apply
UPDATE usage_events AS u SET events = u.events + d.events
FROM rollup_events_delta d
WHERE u.kind = d.kind
  AND u.source IS NOT DISTINCT FROM d.source
  AND u.target_namespace IS NOT DISTINCT FROM d.target_namespace
  AND u.target_name IS NOT DISTINCT FROM d.target_name
  AND u.filtered = d.filtered
  AND u.scale_down IS NOT DISTINCT FROM d.scale_down;
INSERT INTO usage_events BY NAME
SELECT * FROM rollup_events_delta d
WHERE NOT EXISTS (
    SELECT 1 FROM usage_events u
    WHERE u.kind = d.kind
      AND u.source IS NOT DISTINCT FROM d.source
      AND u.target_namespace IS NOT DISTINCT FROM d.target_namespace
      AND u.target_name IS NOT DISTINCT FROM d.target_name
      AND u.filtered = d.filtered
      AND u.scale_down IS NOT DISTINCT FROM d.scale_down);
DROP TABLE rollup_events_delta;

-- name: stale_count
SELECT (SELECT count(*) FROM rollup_stale_users) + (SELECT count(*) FROM rollup_stale_jira);

-- name: stale_recompute
-- After `scope` 'stale' and the shapes as 'new': the stale rows replaced by their values
-- computed from every session of theirs.
DELETE FROM usage_users u
WHERE EXISTS (SELECT 1 FROM rollup_stale_users st WHERE st.pk = u.pk AND st.identifier = u.identifier);
INSERT INTO usage_users BY NAME
SELECT * EXCLUDE (side) FROM rollup_users_side r
WHERE EXISTS (SELECT 1 FROM rollup_stale_users st WHERE st.pk = r.pk AND st.identifier = r.identifier);
DELETE FROM usage_jira u
WHERE EXISTS (SELECT 1 FROM rollup_stale_jira st
              WHERE st.jira_key = u.jira_key AND st.identity = u.identity AND st.kind = u.kind);
INSERT INTO usage_jira BY NAME
SELECT * EXCLUDE (side) FROM rollup_jira_side r
WHERE EXISTS (SELECT 1 FROM rollup_stale_jira st
              WHERE st.jira_key = r.jira_key AND st.identity = r.identity AND st.kind = r.kind);

-- name: jira_keys_apply
-- The keys whose usage_jira rows changed (merged or recomputed), summed again.
CREATE OR REPLACE TEMP TABLE rollup_jira_keys AS
SELECT jira_key FROM rollup_jira_delta UNION SELECT jira_key FROM rollup_stale_jira;
DELETE FROM usage_jira_keys WHERE jira_key IN (SELECT jira_key FROM rollup_jira_keys);
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
WHERE jira_key IN (SELECT jira_key FROM rollup_jira_keys)
GROUP BY jira_key;
DROP TABLE rollup_jira_keys;

-- name: clear
DELETE FROM usage_users;
DELETE FROM usage_jira_keys;
DELETE FROM usage_targets;
DELETE FROM usage_jira;
DELETE FROM usage_durations;
DELETE FROM usage_events;

-- name: end
DROP TABLE rollup_days;
DROP TABLE rollup_src;
DROP TABLE rollup_users_side;
DROP TABLE rollup_targets_side;
DROP TABLE rollup_jira_side;
DROP TABLE rollup_durations_side;
DROP TABLE IF EXISTS rollup_durations_delta;
DROP TABLE IF EXISTS rollup_users_delta;
DROP TABLE IF EXISTS rollup_targets_delta;
DROP TABLE IF EXISTS rollup_jira_delta;
DROP TABLE rollup_stale_users;
DROP TABLE rollup_stale_jira;
