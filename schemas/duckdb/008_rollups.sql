-- 008: all-time rollups, kept current in the fold's transaction (src/analytics/rollups.sql),
-- so the All-time report and /metrics aggregate thousands of rows instead of every session.
--
-- A commit does not merge into them itself: it appends the sessions it touched, as they were
-- (sign -1) and as they are now (+1), to `rollup_pending`, and its stamp to
-- `rollup_pending_stamps`, in its own transaction. The writer merges what is pending when it
-- has been idle for a second (or after many commits), and before any report or scrape that
-- reads the rollups (src/analytics/rollups.rs, `catch_up`). So the rollups plus what is
-- pending always equal the sessions, and a commit costs two inserts instead of the merge.
--
-- They hold only what does not depend on "now": session counts, the count and seconds of
-- closed sessions, and of sessions without an end as if abandoned (last event - start). A
-- report takes off the few sessions still open now (`open_sessions()` in views.sql), which
-- have no duration yet; whether a session is open depends on the clock and the timeout. A rules change or a retention delete rebuilds them
-- from `session_state`; the `define` step builds them for a database that predates them.

-- `rkey` in each table: a hash of the row's key, the narrow column a commit's merge scans to
-- find the rows it changes (src/analytics/rollups.sql).

-- Per user, under each primary key the reports group by (`pk`: machine_id, username,
-- client_username, client_hostname, and client_id for unique machines). `active_days` counts
-- the UTC days with a session start; the first/last times and the display fields are the
-- minimum (maximum for `last_seen`) over the identifier's sessions.
CREATE TABLE usage_users (
    rkey                 UBIGINT NOT NULL,
    pk                   VARCHAR NOT NULL,
    identifier           VARCHAR NOT NULL,
    exec_sessions        BIGINT NOT NULL,
    ci_sessions          BIGINT NOT NULL,
    exec_closed          BIGINT NOT NULL,
    exec_closed_seconds  DOUBLE NOT NULL,
    ci_closed            BIGINT NOT NULL,
    ci_closed_seconds    DOUBLE NOT NULL,
    active_days          BIGINT NOT NULL,
    first_start          TIMESTAMP,
    first_exec_start     TIMESTAMP,
    last_seen            TIMESTAMP,
    client_name          VARCHAR,
    client_user          VARCHAR,
    client_hostname      VARCHAR,
    exec_unended         BIGINT NOT NULL,
    exec_unended_seconds DOUBLE NOT NULL,
    ci_unended           BIGINT NOT NULL,
    ci_unended_seconds   DOUBLE NOT NULL
);

-- Per user (under each primary key, as usage_users) and UTC start day: how many sessions. A
-- row exists while the count is above zero; usage_users.active_days counts the rows.
CREATE TABLE usage_user_days (
    rkey        UBIGINT NOT NULL,
    pk          VARCHAR NOT NULL,
    identifier  VARCHAR NOT NULL,
    day         DATE NOT NULL,
    sessions    BIGINT NOT NULL
);

-- Per kind × client identity × target: what the target, namespace, user-target and
-- operator-style series aggregate. Counts and sums only.
CREATE TABLE usage_targets (
    rkey              UBIGINT NOT NULL,
    kind              VARCHAR,
    client_id         VARCHAR,
    client_user       VARCHAR,
    client_name       VARCHAR,
    client_hostname   VARCHAR,
    identity          VARCHAR,
    target_namespace  VARCHAR,
    target_type       VARCHAR,
    target_name       VARCHAR,
    sessions          BIGINT NOT NULL,
    closed            BIGINT NOT NULL,
    closed_seconds    DOUBLE NOT NULL,
    unended           BIGINT NOT NULL,
    unended_seconds   DOUBLE NOT NULL
);

-- Per Jira key × user × kind.
CREATE TABLE usage_jira (
    rkey            UBIGINT NOT NULL,
    jira_key        VARCHAR NOT NULL,
    identity        VARCHAR,
    kind            VARCHAR,
    sessions        BIGINT NOT NULL,
    closed          BIGINT NOT NULL,
    closed_seconds  DOUBLE NOT NULL,
    first_start     TIMESTAMP,
    last_seen       TIMESTAMP,
    unended         BIGINT NOT NULL,
    unended_seconds DOUBLE NOT NULL
);

-- Per Jira key: usage_jira summed, with its distinct users; recomputed for the keys a commit
-- changes, so the Jira section reads one row per key.
CREATE TABLE usage_jira_keys (
    jira_key         VARCHAR NOT NULL,
    sessions         BIGINT NOT NULL,
    closed_seconds   DOUBLE NOT NULL,
    unended_seconds  DOUBLE NOT NULL,
    users            BIGINT NOT NULL,
    first_start      TIMESTAMP,
    last_seen        TIMESTAMP,
    ci_sessions      BIGINT NOT NULL,
    exec_sessions    BIGINT NOT NULL
);

-- Closed sessions per kind and duration bucket (`duration_bucket`, the histogram's bounds from
-- src/rules.rs): the /metrics duration histograms.
CREATE TABLE usage_durations (
    kind      VARCHAR NOT NULL,
    bucket    INTEGER NOT NULL,
    sessions  BIGINT NOT NULL,
    seconds   DOUBLE NOT NULL
);

-- Stored events per kind, source (its part before the first ':'), target and flags: the
-- /metrics event, port and copy series. Events are only ever added (duplicates are not
-- stored), so each commit adds its own; a retention delete rebuilds it. Copy Target's own pods
-- are counted under the copy-pod glob (`metric_target_name`), not one series per pod.
CREATE TABLE usage_events (
    kind              VARCHAR NOT NULL,
    source            VARCHAR,
    target_namespace  VARCHAR,
    target_name       VARCHAR,
    filtered          BOOLEAN NOT NULL,
    scale_down        BOOLEAN,
    events            BIGINT NOT NULL
);

-- Sessions touched by commits not merged yet: each commit's stored state before (sign -1) and
-- after (+1), with the columns the rollups aggregate (`rollup_rows` in views.sql).
CREATE TABLE rollup_pending (
    stamp             TIMESTAMP NOT NULL,   -- the commit's ingested_at
    sign              INTEGER NOT NULL,
    session_id        VARCHAR,
    kind              VARCHAR,
    client_id         VARCHAR,
    client_user       VARCHAR,
    client_name       VARCHAR,
    client_hostname   VARCHAR,
    identity          VARCHAR,
    target_namespace  VARCHAR,
    target_type       VARCHAR,
    target_name       VARCHAR,
    jira_key          VARCHAR,
    start_at          TIMESTAMP,
    ended_at          TIMESTAMP,
    last_seen_at      TIMESTAMP,
    closed_seconds    DOUBLE,
    unended_seconds   DOUBLE
);

-- Commits whose events usage_events has not counted yet.
CREATE TABLE rollup_pending_stamps (stamp TIMESTAMP NOT NULL);
