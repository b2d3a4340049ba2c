-- Views over the stored data, recreated at every start (CREATE OR REPLACE) so they always match
-- the binary. They hold every rule that depends on configuration (`settings`) or on "now".
--
-- `{{key}}` is replaced, when the views are (re)created, by the value of that `settings` row as
-- a SQL literal (see Store::refresh_views). Regexes must be constants: DuckDB compiles a
-- non-constant pattern once per row, which made a 50k-session report take 20 s.

-- The per-session rules, as macros with the settings rendered in as constants. The fold
-- stores their answers in `session_state` (kind, jira_key, start_at, closed_seconds, identity)
-- for the sessions a commit touches; the `define` step recomputes every session's when the
-- rules change (`derive_all` in src/analytics/fold_sessions.sql).

-- exec or ci: an explicit CI marker wins; otherwise the CI user/name patterns.
CREATE OR REPLACE MACRO session_kind(ci_flag, client_user, client_name) AS CASE
    WHEN ci_flag IS NOT NULL THEN CASE WHEN ci_flag THEN 'ci' ELSE 'exec' END
    WHEN regexp_matches(coalesce(client_user, ''), {{ci_user_regex}})
      OR regexp_matches(coalesce(client_name, ''), {{ci_name_regex}}) THEN 'ci'
    ELSE 'exec'
END;

-- The Session Start time, or for a session whose start was never seen its end minus its
-- reported duration, or its first event.
CREATE OR REPLACE MACRO session_start(started_at, ended_at, reported_duration, first_seen_at) AS coalesce(
    started_at,
    ended_at - to_microseconds(CAST(round(coalesce(reported_duration, 0) * 1e6) AS BIGINT)),
    first_seen_at
);

-- The duration of an ended session: the reported one, else end minus start. NULL while open.
CREATE OR REPLACE MACRO session_closed_seconds(ended_at, reported_duration, started_at, first_seen_at) AS CASE
    WHEN ended_at IS NOT NULL THEN coalesce(
        reported_duration,
        greatest(0, epoch(ended_at) - epoch(coalesce(started_at, first_seen_at))))
END;

-- The user a session is counted under: the Kubernetes user, else name, host, client id.
CREATE OR REPLACE MACRO session_identity(client_user, client_name, client_hostname, client_id) AS
    coalesce(client_user, client_name, client_hostname, client_id, 'unknown');

-- How long a session left open stays `open` before it counts as abandoned: the setting, else
-- the rule's default (src/rules.rs).
CREATE OR REPLACE MACRO abandon_after_seconds() AS coalesce(
    TRY_CAST({{abandon_after_seconds}} AS DOUBLE), TRY_CAST({{default_abandon_after_seconds}} AS DOUBLE));

-- Copy Target's own pods (src/rules.rs): never counted as targets.
CREATE OR REPLACE MACRO is_copy_pod(target_name) AS starts_with(coalesce(target_name, ''), {{copy_pod_prefix}});

-- Copy Target's pods as /metrics labels them: one series under the copy-pod glob, not one per
-- pod (their names are random).
CREATE OR REPLACE MACRO metric_target_name(target_name) AS
    CASE WHEN is_copy_pod(target_name) THEN {{copy_pod_glob}} ELSE target_name END;

-- The histogram bucket of a closed session's duration: how many bucket bounds (src/rules.rs)
-- lie below it, so the first bucket whose bound is at or above it; past the last, +Inf.
CREATE OR REPLACE MACRO duration_bucket(seconds) AS
    length(list_filter(CAST({{duration_buckets}} AS DOUBLE[]), lambda le: le < seconds));

-- The Jira key (see resolve_jira_key), with the key pattern, project filter and rules as they
-- are now.
CREATE OR REPLACE MACRO session_jira_key(jira_override, branch, client_user, client_name, client_hostname, client_id, first_start) AS
    resolve_jira_key(jira_override, branch, client_user, client_name, client_hostname, client_id,
        first_start, {{jira_key_regex}}, string_split(nullif({{jira_project_keys}}, ''), ','),
        (SELECT list({'user': "user", 'branch_glob': branch_glob, 'from_ts': from_ts, 'to_ts': to_ts, 'key': key}
                     ORDER BY position) FROM jira_rules));

-- The user a report counts a session under, for the vendor's `primary_key` values: machine_id
-- (the client id, the default), username (the Kubernetes user), client_username (the
-- machine's user name), client_hostname. A session without that identity falls back to its
-- `user` (identity) so it is never dropped.
CREATE OR REPLACE MACRO report_identifier(pk, client_id, client_user, client_name, client_hostname, identity) AS
    coalesce(CASE pk
        WHEN 'username' THEN client_user
        WHEN 'client_username' THEN client_name
        WHEN 'client_hostname' THEN client_hostname
        ELSE client_id
    END, identity);

-- A session's status now: closed once it ended; open while its last event is younger than the
-- abandon timeout; abandoned after.
CREATE OR REPLACE MACRO session_status(ended_at, last_seen_at) AS CASE
    WHEN ended_at IS NOT NULL THEN 'closed'
    WHEN epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(last_seen_at) > abandon_after_seconds() THEN 'abandoned'
    ELSE 'open'
END;

-- The duration of a session without an end, once abandoned: its last event minus its start.
CREATE OR REPLACE MACRO unended_seconds(last_seen_at, started_at, first_seen_at) AS
    epoch(last_seen_at) - epoch(coalesce(started_at, first_seen_at));

-- What the all-time rollups aggregate of each session row of table `t` (session_state, or the
-- fold's temp tables with the same columns): see src/analytics/rollups.sql.
CREATE OR REPLACE MACRO rollup_rows(t) AS TABLE
SELECT session_id, kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name, jira_key,
    start_at, ended_at, last_seen_at, closed_seconds,
    CASE WHEN ended_at IS NULL THEN unended_seconds(last_seen_at, started_at, first_seen_at) END AS unended_seconds
FROM query_table(t);

-- Sessions without an end that are still open now. The all-time rollups count every session
-- without an end as abandoned; reports take these off (few rows: only sessions without an end
-- are read).
CREATE OR REPLACE MACRO open_sessions() AS TABLE
SELECT kind, client_id, client_user, client_name, client_hostname, identity,
    target_namespace, target_type, target_name, jira_key,
    unended_seconds(last_seen_at, started_at, first_seen_at) AS seconds
FROM session_state
-- The bound on last_seen_at first: a constant, so DuckDB skips the row groups of older sessions.
WHERE last_seen_at >= CAST(current_timestamp AS TIMESTAMP) - to_seconds(abandon_after_seconds())
  AND ended_at IS NULL AND session_status(ended_at, last_seen_at) = 'open';

-- One row per session: the stored columns, the derived ones the fold keeps, and what depends
-- on "now" (status, and the duration of an abandoned session).
CREATE OR REPLACE VIEW sessions AS
SELECT
    s.session_id,
    s.start_at AS started_at,
    s.ended_at,
    s.last_seen_at,
    session_status(s.ended_at, s.last_seen_at) AS status,
    CASE session_status(s.ended_at, s.last_seen_at)
        WHEN 'closed' THEN s.closed_seconds
        WHEN 'abandoned' THEN unended_seconds(s.last_seen_at, s.started_at, s.first_seen_at)
    END AS duration_seconds,
    s.kind,
    s.identity AS "user",
    s.client_id,
    s.client_name,
    s.client_hostname,
    s.client_user,
    s.client_cli_version,
    s.target,
    s.target_type,
    s.target_name,
    s.target_namespace,
    s.target_container,
    s.branch,
    s.jira_key,
    coalesce(s.ports_stolen, []) AS ports_stolen,
    coalesce(s.ports_mirrored, []) AS ports_mirrored,
    coalesce(s.http_filters, []) AS http_filters,
    s.copy_target,
    s.scale_down,
    s.trace_id,
    s.operator_version,
    s.event_count,
    s.cluster
FROM session_state s;

-- One row per user (client_user, falling back to name, hostname, client id).
CREATE OR REPLACE VIEW users AS
SELECT
    "user",
    any_value(client_name) AS client_name,
    count(DISTINCT client_id) AS machines,
    min(started_at) AS first_seen,
    max(coalesce(ended_at, last_seen_at)) AS last_seen,
    count(*) AS sessions,
    count(*) FILTER (WHERE kind = 'ci') AS ci_sessions,
    coalesce(sum(duration_seconds), 0) AS total_seconds
FROM sessions
GROUP BY "user";

-- One row per target; copy-target pods are never targets.
CREATE OR REPLACE VIEW targets AS
SELECT
    target_namespace AS namespace,
    target_type,
    coalesce(target_name, target_type, 'unknown') AS target_name,
    count(*) AS sessions,
    count(DISTINCT "user") AS users,
    coalesce(sum(duration_seconds), 0) AS total_seconds,
    min(started_at) AS first_used,
    max(started_at) AS last_used
FROM sessions
WHERE NOT is_copy_pod(target_name)
GROUP BY ALL;

-- One row per day with activity.
CREATE OR REPLACE VIEW days AS
SELECT
    CAST(started_at AS DATE) AS day,
    count(*) AS sessions,
    count(*) FILTER (WHERE kind = 'ci') AS ci_sessions,
    count(DISTINCT "user") FILTER (WHERE kind = 'exec') AS active_users,
    coalesce(sum(duration_seconds), 0) AS total_seconds
FROM sessions
GROUP BY ALL;
