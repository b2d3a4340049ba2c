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
    md5_number_lower(session_id) AS skey
FROM events
WHERE ingested_at = $1 AND session_id IS NOT NULL
GROUP BY session_id;

-- name: touched
-- The stored sessions the batch touches: rowids found through the narrow `skey` column, then
-- the session ids compared (a hash collision is not a match).
CREATE OR REPLACE TEMP TABLE fold_touched AS
WITH hits AS (
    SELECT s.rowid AS rid, s.skey
    FROM session_state s
    SEMI JOIN fold_batch b ON s.skey = b.skey
)
SELECT h.rid, b.*
FROM hits h
JOIN session_state s ON s.rowid = h.rid
JOIN fold_batch b ON b.skey = h.skey AND b.session_id = s.session_id;

-- name: update
-- Sessions already stored: merge the batch's aggregates into them.
UPDATE session_state SET
    started_at         = least(session_state.started_at, t.started_at),
    ended_at           = greatest(session_state.ended_at, t.ended_at),
    first_seen_at      = least(session_state.first_seen_at, t.first_seen_at),
    last_seen_at       = greatest(session_state.last_seen_at, t.last_seen_at),
    reported_duration  = coalesce(t.reported_duration, session_state.reported_duration),
    client_id          = coalesce(session_state.client_id, t.client_id),
    client_name        = coalesce(session_state.client_name, t.client_name),
    client_hostname    = coalesce(session_state.client_hostname, t.client_hostname),
    client_user        = coalesce(session_state.client_user, t.client_user),
    client_cli_version = coalesce(session_state.client_cli_version, t.client_cli_version),
    target             = coalesce(session_state.target, t.target),
    target_type        = coalesce(session_state.target_type, t.target_type),
    target_name        = coalesce(session_state.target_name, t.target_name),
    target_namespace   = coalesce(session_state.target_namespace, t.target_namespace),
    target_container   = coalesce(session_state.target_container, t.target_container),
    branch             = coalesce(session_state.branch, t.branch),
    ci_flag            = coalesce(session_state.ci_flag OR t.ci_flag, session_state.ci_flag, t.ci_flag),
    ports_stolen       = list_sort(list_distinct(list_concat(session_state.ports_stolen, t.ports_stolen))),
    ports_mirrored     = list_sort(list_distinct(list_concat(session_state.ports_mirrored, t.ports_mirrored))),
    http_filters       = list_distinct(list_concat(session_state.http_filters, t.http_filters)),
    copy_target        = coalesce(session_state.copy_target, false) OR coalesce(t.copy_target, false),
    scale_down         = coalesce(session_state.scale_down OR t.scale_down, session_state.scale_down, t.scale_down),
    trace_id           = coalesce(session_state.trace_id, t.trace_id),
    operator_version   = coalesce(t.operator_version, session_state.operator_version),
    event_count        = session_state.event_count + t.event_count,
    jira_override      = coalesce(session_state.jira_override, t.jira_override)
FROM fold_touched t
WHERE session_state.rowid = t.rid;

-- name: insert
-- Sessions new with this batch.
INSERT INTO session_state
SELECT b.* FROM fold_batch b
WHERE NOT EXISTS (SELECT 1 FROM fold_touched t WHERE t.session_id = b.session_id);

-- name: clean_up
DROP TABLE fold_touched;
DROP TABLE fold_batch;
