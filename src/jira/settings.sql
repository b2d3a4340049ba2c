-- settings: copying `[jira]` into the tables the SQL reads, one named query each.
-- name: set
INSERT OR REPLACE INTO settings VALUES ($1, $2);
-- name: since
-- The webhook's start, kept across restarts while it stays on. $1: now.
UPDATE settings SET value = $1 WHERE key = 'jira_webhook_since' AND value IS NULL;
-- name: clear_rules
DELETE FROM jira_rules;
-- name: add_rule
-- $1 position, $2 user, $3 branch GLOB, $4 from, $5 to, $6 key.
INSERT INTO jira_rules VALUES ($1, $2, $3, $4, $5, $6);
