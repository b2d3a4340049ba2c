-- The session fold: merges the events the current commit inserted (`ingested_at` = $1, unique
-- per commit) into `session_state`, with work proportional to the batch. Every column is an
-- aggregate that merges: min/max, first non-null, OR, list union, sum. The statements run in
-- order inside the commit's transaction (src/analytics/sessions.rs); `fold_batch` and
-- `fold_touched` are temporary tables dropped at the end.
--
-- Why not `INSERT ... ON CONFLICT DO UPDATE`: DuckDB plans it as a MERGE that reads every
-- column of every stored session (130–190 ms per commit at a million sessions). Here the only
-- read of the whole table is its 8-byte `skey` column; the touched rows are then read and
-- updated by rowid, which DuckDB narrows to their row groups.

-- name: aggregate
-- The batch, one row per session.
CREATE OR REPLACE TEMP TABLE fold_batch AS
SELECT
    session_id                                                               AS session_id,
    min(timestamp) FILTER (WHERE kind = 'session_start')                     AS started_at,
    max(timestamp) FILTER (WHERE kind = 'session_end')                       AS ended_at,
    min(timestamp)                                                           AS first_seen_at,
    max(timestamp)                                                           AS last_seen_at,
    max(session_duration) FILTER (WHERE kind = 'session_end')                AS reported_duration,
    any_value(client_id)                                                     AS client_id,
    any_value(client_name)                                                   AS client_name,
    any_value(client_hostname)                                               AS client_hostname,
    any_value(client_user)                                                   AS client_user,
    any_value(client_cli_version)                                            AS client_cli_version,
    any_value(target)                                                        AS target,
    any_value(target_type)                                                   AS target_type,
    any_value(target_name)                                                   AS target_name,
    any_value(target_namespace)                                              AS target_namespace,
    any_value(target_container)                                              AS target_container,
    any_value(branch)                                                        AS branch,
    bool_or(ci)                                                              AS ci_flag,
    list_sort(list_distinct(list(port) FILTER (WHERE kind = 'port_steal')))  AS ports_stolen,
    list_sort(list_distinct(list(port) FILTER (WHERE kind = 'port_mirror'))) AS ports_mirrored,
    list_distinct(list(http_filter) FILTER (WHERE http_filter IS NOT NULL))  AS http_filters,
    bool_or(kind = 'copy_target')                                            AS copy_target,
    bool_or(scale_down)                                                      AS scale_down,
    any_value(trace_id)                                                      AS trace_id,
    any_value(operator_version)                                              AS operator_version,
    count(*)                                                                 AS event_count,
    any_value(coalesce(attributes->>'jira_key', attributes->>'jira_issue'))  AS jira_override,
    any_value(cluster)                                                       AS cluster,
    md5_number_lower(session_id) AS skey
FROM events
WHERE ingested_at = $1 AND session_id IS NOT NULL
GROUP BY session_id;

-- name: touched
-- The stored sessions the batch touches: rowids found through the narrow `skey` column, then
-- the session ids compared (a hash collision is not a match). Each row is the session merged
-- with the batch's aggregates, and its derived columns recomputed from the merged values.
CREATE OR REPLACE TEMP TABLE fold_touched AS
WITH hits AS (
    SELECT s.rowid AS rid, s.skey
    FROM session_state s
    SEMI JOIN fold_batch b ON s.skey = b.skey
),
merged AS (
    SELECT
        h.rid,
        s.session_id,
        least(s.started_at, b.started_at)                                  AS started_at,
        greatest(s.ended_at, b.ended_at)                                   AS ended_at,
        least(s.first_seen_at, b.first_seen_at)                            AS first_seen_at,
        greatest(s.last_seen_at, b.last_seen_at)                           AS last_seen_at,
        coalesce(b.reported_duration, s.reported_duration)                 AS reported_duration,
        coalesce(s.client_id, b.client_id)                                 AS client_id,
        coalesce(s.client_name, b.client_name)                             AS client_name,
        coalesce(s.client_hostname, b.client_hostname)                     AS client_hostname,
        coalesce(s.client_user, b.client_user)                             AS client_user,
        coalesce(s.client_cli_version, b.client_cli_version)               AS client_cli_version,
        coalesce(s.target, b.target)                                       AS target,
        coalesce(s.target_type, b.target_type)                             AS target_type,
        coalesce(s.target_name, b.target_name)                             AS target_name,
        coalesce(s.target_namespace, b.target_namespace)                   AS target_namespace,
        coalesce(s.target_container, b.target_container)                   AS target_container,
        coalesce(s.branch, b.branch)                                       AS branch,
        coalesce(s.ci_flag OR b.ci_flag, s.ci_flag, b.ci_flag)             AS ci_flag,
        list_sort(list_distinct(list_concat(s.ports_stolen, b.ports_stolen)))     AS ports_stolen,
        list_sort(list_distinct(list_concat(s.ports_mirrored, b.ports_mirrored))) AS ports_mirrored,
        list_distinct(list_concat(s.http_filters, b.http_filters))         AS http_filters,
        coalesce(s.copy_target, false) OR coalesce(b.copy_target, false)   AS copy_target,
        coalesce(s.scale_down OR b.scale_down, s.scale_down, b.scale_down) AS scale_down,
        coalesce(s.trace_id, b.trace_id)                                   AS trace_id,
        coalesce(b.operator_version, s.operator_version)                   AS operator_version,
        s.event_count + b.event_count                                      AS event_count,
        coalesce(s.jira_override, b.jira_override)                         AS jira_override,
        coalesce(s.cluster, b.cluster)                                     AS cluster
    FROM hits h
    JOIN session_state s ON s.rowid = h.rid
    JOIN fold_batch b ON b.skey = h.skey AND b.session_id = s.session_id
)
SELECT
    m.*,
    session_kind(m.ci_flag, m.client_user, m.client_name)                                      AS kind,
    session_jira_key(m.jira_override, m.branch, m.client_user, m.client_name, m.client_hostname,
                     m.client_id, coalesce(m.started_at, m.first_seen_at))                     AS jira_key,
    session_start(m.started_at, m.ended_at, m.reported_duration, m.first_seen_at)              AS start_at,
    session_closed_seconds(m.ended_at, m.reported_duration, m.started_at, m.first_seen_at)     AS closed_seconds,
    session_identity(m.client_user, m.client_name, m.client_hostname, m.client_id)             AS identity
FROM merged m;

-- name: update
-- Sessions already stored: write the merged values.
UPDATE session_state SET
    started_at         = t.started_at,
    ended_at           = t.ended_at,
    first_seen_at      = t.first_seen_at,
    last_seen_at       = t.last_seen_at,
    reported_duration  = t.reported_duration,
    client_id          = t.client_id,
    client_name        = t.client_name,
    client_hostname    = t.client_hostname,
    client_user        = t.client_user,
    client_cli_version = t.client_cli_version,
    target             = t.target,
    target_type        = t.target_type,
    target_name        = t.target_name,
    target_namespace   = t.target_namespace,
    target_container   = t.target_container,
    branch             = t.branch,
    ci_flag            = t.ci_flag,
    ports_stolen       = t.ports_stolen,
    ports_mirrored     = t.ports_mirrored,
    http_filters       = t.http_filters,
    copy_target        = t.copy_target,
    scale_down         = t.scale_down,
    trace_id           = t.trace_id,
    operator_version   = t.operator_version,
    event_count        = t.event_count,
    jira_override      = t.jira_override,
    cluster            = t.cluster,
    kind               = t.kind,
    jira_key           = t.jira_key,
    start_at           = t.start_at,
    closed_seconds     = t.closed_seconds,
    identity           = t.identity
FROM fold_touched t
WHERE session_state.rowid = t.rid;

-- name: new
-- Sessions new with this batch, with their derived columns.
CREATE OR REPLACE TEMP TABLE fold_new AS
SELECT
    b.*,
    session_kind(b.ci_flag, b.client_user, b.client_name)                                      AS kind,
    session_jira_key(b.jira_override, b.branch, b.client_user, b.client_name, b.client_hostname,
                     b.client_id, coalesce(b.started_at, b.first_seen_at))                     AS jira_key,
    session_start(b.started_at, b.ended_at, b.reported_duration, b.first_seen_at)              AS start_at,
    session_closed_seconds(b.ended_at, b.reported_duration, b.started_at, b.first_seen_at)     AS closed_seconds,
    session_identity(b.client_user, b.client_name, b.client_hostname, b.client_id)             AS identity
FROM fold_batch b
WHERE NOT EXISTS (SELECT 1 FROM fold_touched t WHERE t.session_id = b.session_id);

-- name: insert
INSERT INTO session_state BY NAME SELECT * FROM fold_new;

-- name: clean_up
DROP TABLE fold_new;
DROP TABLE fold_touched;
DROP TABLE fold_batch;

-- name: rules_fingerprint
-- What the derived columns depend on besides the session itself: the rule settings in effect
-- ($1, as rendered into the macros) and the Jira rules, with the version of the derivation. A
-- change means `derive_all`.
-- The version names the derivation and the rollups built with it (v2: rollups, migration 008).
SELECT md5(concat_ws('|', 'derive-v2', $1::VARCHAR,
    (SELECT string_agg(concat_ws(',', position, "user", branch_glob, from_ts, to_ts, key), ';' ORDER BY position)
     FROM jira_rules)));

-- name: derived_fingerprint
SELECT value FROM settings WHERE key = 'derived_rules';

-- name: derive_all
-- Every session's derived columns, recomputed with the rules as they are now.
UPDATE session_state SET
    kind           = session_kind(ci_flag, client_user, client_name),
    jira_key       = session_jira_key(jira_override, branch, client_user, client_name, client_hostname,
                                      client_id, coalesce(started_at, first_seen_at)),
    start_at       = session_start(started_at, ended_at, reported_duration, first_seen_at),
    closed_seconds = session_closed_seconds(ended_at, reported_duration, started_at, first_seen_at),
    identity       = session_identity(client_user, client_name, client_hostname, client_id);

-- name: remember_fingerprint
INSERT OR REPLACE INTO settings VALUES ('derived_rules', $1);
