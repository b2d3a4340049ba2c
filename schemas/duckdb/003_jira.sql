-- 003: Jira. The per-session key override, the mapping rules, and the webhook outbox.
--
-- The final Jira key of a session is computed by the `sessions` view (macro
-- `resolve_jira_key`, src/jira/resolve_key.sql): override field > first matching rule > first
-- key in the branch that passes the project filter. See src/jira.rs for the rules.

-- `jira_key` / `jira_issue` seen on any event of the session (first non-null wins, like the
-- other identity columns of the fold).
ALTER TABLE session_state ADD COLUMN jira_override VARCHAR;

-- `[[jira.rules]]` from the config, replaced at every `serve` start (like `settings`).
CREATE TABLE IF NOT EXISTS jira_rules (
    position     INTEGER PRIMARY KEY,   -- config order; the first matching rule wins
    "user"       VARCHAR,               -- matches client_user, client_name, client_hostname or client_id
    branch_glob  VARCHAR,               -- GLOB over the branch ('' when there is none)
    from_ts      TIMESTAMP,             -- session start >= from_ts
    to_ts        TIMESTAMP,             -- session start <  to_ts
    key          VARCHAR NOT NULL
);

INSERT OR IGNORE INTO settings VALUES
    ('jira_project_keys', NULL),        -- comma-separated project prefixes; NULL = any
    ('jira_webhook', 'off'),            -- 'on' while a webhook URL is configured
    ('jira_webhook_since', NULL);       -- when the webhook was turned on (abandoned sessions before it are not pushed)

-- One row per push: a session closing (`closed`, enqueued in the transaction that stores its
-- Session End) or becoming abandoned (`abandoned`, enqueued once by the periodic sweep).
-- The idempotency key is derived from (reason, session id), so an enqueue can never double.
CREATE SEQUENCE IF NOT EXISTS jira_outbox_seq;
CREATE TABLE IF NOT EXISTS jira_outbox (
    idempotency_key VARCHAR   PRIMARY KEY,  -- sent as the Idempotency-Key header
    seq             BIGINT    NOT NULL DEFAULT nextval('jira_outbox_seq'),  -- enqueue order
    session_id      VARCHAR   NOT NULL,
    reason          VARCHAR   NOT NULL,     -- closed | abandoned
    state           VARCHAR   NOT NULL,     -- pending | delivered | skipped (no key) | failed (gave up)
    jira_key        VARCHAR,                -- the session's key when it was last tried
    enqueued_at     TIMESTAMP NOT NULL,
    attempts        INTEGER   NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_error      VARCHAR,
    delivered_at    TIMESTAMP
);
