-- 002: derived session state, kept current as batches commit (see src/analytics/sessions.rs).
--
-- `session_state` holds only aggregates that merge: each committed batch folds its new events
-- into the rows of the sessions it touches (INSERT ... ON CONFLICT DO UPDATE). Everything that
-- depends on configuration or on "now" (kind exec/ci, status open/closed/abandoned, the Jira
-- key) is computed by the `sessions` view from `settings`, so a config change needs no rebuild.

CREATE TABLE IF NOT EXISTS settings (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

INSERT OR IGNORE INTO settings VALUES
    ('ci_user_regex', '^system:serviceaccount:[^:]+:mirrord-ci$|(^|[^a-z])mirrord-ci([^a-z]|$)'),
    ('ci_name_regex', '^mirrord-ci@|(^|[^a-z])mirrord-ci([^a-z]|$)'),
    ('abandon_after_seconds', '86400'),
    ('jira_key_regex', '[A-Z][A-Z0-9_]+-[1-9][0-9]*'),
    ('licenses', NULL),
    ('operator_version', NULL);

CREATE TABLE IF NOT EXISTS session_state (
    session_id         VARCHAR PRIMARY KEY,
    started_at         TIMESTAMP,   -- Session Start time
    ended_at           TIMESTAMP,   -- Session End time
    first_seen_at      TIMESTAMP NOT NULL,
    last_seen_at       TIMESTAMP NOT NULL,
    reported_duration  DOUBLE,      -- session_duration from Session End (seconds)
    client_id          VARCHAR,
    client_name        VARCHAR,
    client_hostname    VARCHAR,
    client_user        VARCHAR,
    client_cli_version VARCHAR,
    target             VARCHAR,
    target_type        VARCHAR,
    target_name        VARCHAR,
    target_namespace   VARCHAR,
    target_container   VARCHAR,
    branch             VARCHAR,
    ci_flag            BOOLEAN,     -- an explicit CI marker seen on any event
    ports_stolen       INTEGER[],
    ports_mirrored     INTEGER[],
    http_filters       VARCHAR[],
    copy_target        BOOLEAN,
    scale_down         BOOLEAN,
    trace_id           VARCHAR,
    operator_version   VARCHAR,
    event_count        BIGINT NOT NULL
);
