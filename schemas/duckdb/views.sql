-- Views over the stored data, recreated at every start (CREATE OR REPLACE) so they always match
-- the binary. They hold every rule that depends on configuration (`settings`) or on "now".
--
-- `{{key}}` is replaced, when the views are (re)created, by the value of that `settings` row as
-- a SQL literal (see Store::refresh_views). Regexes must be constants: DuckDB compiles a
-- non-constant pattern once per row, which made a 50k-session report take 20 s.

-- One row per session. `started_at` is the Session Start time, or — for a session whose start
-- was never seen — its end minus its reported duration, or its first event.
CREATE OR REPLACE VIEW sessions AS
WITH cfg AS (
    SELECT
        coalesce(max(value) FILTER (WHERE key = 'ci_user_regex'), '$^') AS ci_user_re,
        coalesce(max(value) FILTER (WHERE key = 'ci_name_regex'), '$^') AS ci_name_re,
        coalesce(TRY_CAST(max(value) FILTER (WHERE key = 'abandon_after_seconds') AS DOUBLE), 86400) AS abandon_after,
        coalesce(max(value) FILTER (WHERE key = 'jira_key_regex'), '[A-Z][A-Z0-9_]+-[1-9][0-9]*') AS jira_re,
        string_split(nullif(max(value) FILTER (WHERE key = 'jira_project_keys'), ''), ',') AS jira_projects,
        (SELECT list({'user': "user", 'branch_glob': branch_glob, 'from_ts': from_ts, 'to_ts': to_ts, 'key': key}
                     ORDER BY position) FROM jira_rules) AS jira_rules
    FROM settings
)
SELECT
    s.session_id,
    coalesce(
        s.started_at,
        s.ended_at - to_microseconds(CAST(round(coalesce(s.reported_duration, 0) * 1e6) AS BIGINT)),
        s.first_seen_at
    ) AS started_at,
    s.ended_at,
    s.last_seen_at,
    CASE
        WHEN s.ended_at IS NOT NULL THEN 'closed'
        WHEN epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(s.last_seen_at) > {{abandon_after_seconds}} THEN 'abandoned'
        ELSE 'open'
    END AS status,
    CASE
        WHEN s.ended_at IS NOT NULL THEN coalesce(
            s.reported_duration,
            greatest(0, epoch(s.ended_at) - epoch(coalesce(s.started_at, s.first_seen_at))))
        WHEN epoch(CAST(current_timestamp AS TIMESTAMP)) - epoch(s.last_seen_at) > {{abandon_after_seconds}}
            THEN epoch(s.last_seen_at) - epoch(coalesce(s.started_at, s.first_seen_at))
    END AS duration_seconds,
    CASE
        WHEN s.ci_flag IS NOT NULL THEN CASE WHEN s.ci_flag THEN 'ci' ELSE 'exec' END
        WHEN regexp_matches(coalesce(s.client_user, ''), {{ci_user_regex}})
          OR regexp_matches(coalesce(s.client_name, ''), {{ci_name_regex}}) THEN 'ci'
        ELSE 'exec'
    END AS kind,
    coalesce(s.client_user, s.client_name, s.client_hostname, s.client_id, 'unknown') AS "user",
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
    resolve_jira_key(s.jira_override, s.branch, s.client_user, s.client_name, s.client_hostname, s.client_id,
                     coalesce(s.started_at, s.first_seen_at), {{jira_key_regex}}, cfg.jira_projects, cfg.jira_rules) AS jira_key,
    coalesce(s.ports_stolen, []) AS ports_stolen,
    coalesce(s.ports_mirrored, []) AS ports_mirrored,
    coalesce(s.http_filters, []) AS http_filters,
    s.copy_target,
    s.scale_down,
    s.trace_id,
    s.operator_version,
    s.event_count
FROM session_state s, cfg;

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

-- One row per target; copy-target pods (mirrord-copy-*) are never targets.
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
WHERE coalesce(target_name, '') NOT LIKE 'mirrord-copy-%'
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
