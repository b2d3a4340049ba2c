-- 001: the raw store. One row per functional operator event, one per rejected record, and the
-- per-source checkpoints that are committed in the same transaction as the events they cover.

CREATE TABLE IF NOT EXISTS events (
    id                 VARCHAR   NOT NULL,  -- content hash (32 hex chars), see src/event.rs
    timestamp          TIMESTAMP NOT NULL,  -- UTC
    kind               VARCHAR   NOT NULL,  -- session_start | session_end | copy_target | port_steal | port_mirror | port_release
    message            VARCHAR   NOT NULL,  -- the message as sent (current or legacy name)
    level              VARCHAR,
    session_id         VARCHAR,
    client_id          VARCHAR,
    client_name        VARCHAR,
    client_hostname    VARCHAR,
    client_user        VARCHAR,
    client_cli_version VARCHAR,
    target             VARCHAR,             -- raw mirrord target path, e.g. deployment/api/container/main
    target_type        VARCHAR,
    target_name        VARCHAR,
    target_namespace   VARCHAR,
    target_container   VARCHAR,
    port               INTEGER,
    http_filter        VARCHAR,
    scale_down         BOOLEAN,
    session_duration   DOUBLE,              -- seconds
    branch             VARCHAR,
    ci                 BOOLEAN,             -- explicit CI marker when the record had one
    trace_id           VARCHAR,
    span_id            VARCHAR,
    operator_version   VARCHAR,
    cluster            VARCHAR,
    attributes         JSON,                -- every field without a typed column
    source             VARCHAR   NOT NULL,  -- where it came from: file:<path>, stdin, otlp-grpc, otlp-http, http, forward, tail:<path>
    format             VARCHAR   NOT NULL,  -- parser that read it: tracing-json, tracing-flat, fluentd, cri, docker, text, otlp
    ingested_at        TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS rejects (
    ingested_at TIMESTAMP NOT NULL,
    source      VARCHAR   NOT NULL,
    location    VARCHAR,               -- file:line, request id, chunk id
    reason      VARCHAR   NOT NULL,
    excerpt     VARCHAR                -- the raw record, capped at 2 KiB
);

CREATE TABLE IF NOT EXISTS checkpoints (
    source     VARCHAR PRIMARY KEY,    -- e.g. tail:/var/log/containers/x.log
    position   BIGINT  NOT NULL,       -- byte offset of the next unread byte
    identity   VARCHAR,                -- file identity (device:inode + head fingerprint)
    updated_at TIMESTAMP NOT NULL
);
