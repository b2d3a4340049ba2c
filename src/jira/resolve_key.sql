-- resolve_jira_key: the final Jira issue key of a session, used by the `sessions` view.
-- Recreated at every start, before views.sql.
--
--   1. the override field (`jira_key` / `jira_issue` on any event): its first key-shaped
--      substring, whatever the project filter says (an explicit choice wins);
--   2. the first `[[jira.rules]]` entry (config order) whose user, branch pattern (GLOB) and
--      time window all match the session;
--   3. the first key in the branch, from the left, whose project prefix passes the filter.
--
-- `rules` is the whole rule table as one list (computed once per query in the view's `cfg`),
-- so a session costs a lambda over a handful of rules, never a join. Branch patterns are GLOBs,
-- not regexes: a pattern that varies per row is compiled per row, and for a regex that cost
-- ten times the whole view on a million sessions. NULL when nothing matches.
CREATE OR REPLACE MACRO resolve_jira_key(
    override_value, branch, client_user, client_name, client_hostname, client_id, started_at,
    key_re, projects, rules
) AS coalesce(
    CASE WHEN override_value IS NOT NULL THEN nullif(regexp_extract(override_value, key_re), '') END,
    CASE WHEN rules IS NOT NULL THEN list_filter(rules, lambda r:
        (r."user" IS NULL OR r."user" IN (client_user, client_name, client_hostname, client_id))
        AND (r.branch_glob IS NULL OR coalesce(branch, '') GLOB r.branch_glob)
        AND (r.from_ts IS NULL OR started_at >= r.from_ts)
        AND (r.to_ts IS NULL OR started_at < r.to_ts)
    )[1].key END,
    -- Without a project filter the first match is the answer; the list is only built for it.
    CASE
        WHEN branch IS NULL THEN NULL
        WHEN projects IS NULL THEN nullif(regexp_extract(branch, key_re), '')
        ELSE list_filter(regexp_extract_all(branch, key_re), lambda k:
            list_contains(projects, split_part(k, '-', 1)))[1]
    END
);
