-- 004: `session_state` keyed for a fold proportional to the batch.
--
-- The fold used to be `INSERT ... ON CONFLICT (session_id) DO UPDATE`. DuckDB plans that as a
-- MERGE that reads every column of every stored session, so each commit cost 130–190 ms once
-- there were a million sessions. The fold now finds the sessions a batch touches through
-- `skey`, an 8-byte hash of `session_id` (one narrow column to scan), and updates them by
-- rowid; uniqueness of `session_id` is kept by the fold itself (the single writer), so the
-- PRIMARY KEY index, which every insert paid for, is gone. Rows are copied in the order the
-- sessions were first seen, so recent sessions sit together.

CREATE TABLE session_state_v4 (
    session_id         VARCHAR NOT NULL,
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
    event_count        BIGINT NOT NULL,
    jira_override      VARCHAR,     -- from 003
    skey               UBIGINT NOT NULL  -- md5_number_lower(session_id): the fold's join key
);

INSERT INTO session_state_v4
SELECT *, md5_number_lower(session_id) FROM session_state ORDER BY first_seen_at, session_id;

DROP TABLE session_state;
ALTER TABLE session_state_v4 RENAME TO session_state;
