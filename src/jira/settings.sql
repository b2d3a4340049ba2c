-- settings: copying `[jira]` into the tables the SQL reads, one named query each.
-- name: set
INSERT OR REPLACE INTO settings VALUES ($1, $2);
-- name: since
-- A sink's start, kept across restarts while it stays on. $1: now, $2: `jira_webhook_since` or
-- `jira_rest_since`.
INSERT INTO settings VALUES ($2, $1)
ON CONFLICT (key) DO UPDATE SET value = coalesce(value, excluded.value);
-- name: clear_rules
DELETE FROM jira_rules;
-- name: add_rule
-- $1 position, $2 user, $3 branch GLOB, $4 from, $5 to, $6 key.
INSERT INTO jira_rules VALUES ($1, $2, $3, $4, $5, $6);
