-- 007: the rules' defaults now live in one place, src/rules.rs, and are rendered into the view
-- macros when a setting is absent. The rows migration 002 stored are dropped while they still
-- hold the values it shipped, so those defaults no longer shadow the binary's; a value that
-- was configured (and `serve` sets again at every start from `[sessions]`) is kept.
DELETE FROM settings
WHERE (key = 'ci_user_regex' AND value = '^system:serviceaccount:[^:]+:mirrord-ci$|(^|[^a-z])mirrord-ci([^a-z]|$)')
   OR (key = 'ci_name_regex' AND value = '^mirrord-ci@|(^|[^a-z])mirrord-ci([^a-z]|$)')
   OR (key = 'abandon_after_seconds' AND value = '86400')
   OR (key = 'jira_key_regex' AND value = '[A-Z][A-Z0-9_]+-[1-9][0-9]*');
