-- rest_schema: the Jira REST sink's own state, created by the jira module whenever it syncs the
-- `[jira]` settings (every `serve` start, `jira sync`), not by a store migration: nothing
-- outside the sink reads it. Idempotent.

-- One row per issue the sink has written: the id of its comment (to edit it in place rather
-- than add another), and what was written last.
CREATE TABLE IF NOT EXISTS jira_rest_issues (
    jira_key   VARCHAR PRIMARY KEY,
    comment_id VARCHAR,                 -- Jira's id of our comment; NULL until created
    written_at TIMESTAMP,               -- the last complete write
    totals     VARCHAR                  -- the totals of that write (JSON)
);

INSERT OR IGNORE INTO settings VALUES
    ('jira_rest', 'off'),               -- 'on' while [jira.rest] base_url is set
    ('jira_rest_since', NULL);          -- when the sink was turned on (older abandoned sessions are not written for)
