-- 005: per-session columns derived at fold time, so reports read them instead of re-deriving
-- them on every request (kind and the Jira key took regexes per row per request).
--
-- They are kept by the fold (src/analytics/fold_sessions.sql) with the macros of
-- schemas/duckdb/views.sql, which hold the rules from `settings`. When a rule changes, the
-- `define` step recomputes them for every session (src/analytics/sessions.rs), so a config
-- change needs no rebuild of the events. What depends on "now" (open/abandoned status, the
-- duration of an unfinished session) stays in the `sessions` view.

ALTER TABLE session_state ADD COLUMN kind VARCHAR;            -- exec | ci
ALTER TABLE session_state ADD COLUMN jira_key VARCHAR;        -- resolve_jira_key's answer
ALTER TABLE session_state ADD COLUMN start_at TIMESTAMP;      -- Session Start, else end - duration, else first event
ALTER TABLE session_state ADD COLUMN closed_seconds DOUBLE;   -- duration once ended, else NULL
ALTER TABLE session_state ADD COLUMN identity VARCHAR;        -- the user: k8s user, else name, host, client id
