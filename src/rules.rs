//! rules: the business rules every layer reads, defined once here: how a CI session is told
//! apart, when a session left open counts as abandoned, which pods are mirrord's own copies,
//! how session durations are bucketed, and what a Jira issue key looks like.
//!
//! The config's defaults come from here (`[sessions]`), the SQL gets them through `settings`
//! and the rule macros of `schemas/duckdb/views.sql` (rendered from these values), and the
//! dashboard generator translates the same globs into each vendor's query language, so the
//! API, `/metrics` and the generated Grafana, Datadog and Kibana dashboards count the same
//! sessions as CI and leave out the same pods.

/// The Kubernetes user of a CI API key: `system:serviceaccount:<namespace>:mirrord-ci`.
pub const CI_USER_GLOB: &str = "system:serviceaccount:*:mirrord-ci";

/// The client name of a CI API key's certificate: `mirrord-ci@<organization>`.
pub const CI_NAME_GLOB: &str = "mirrord-ci@*";

/// A session with a start but no end becomes abandoned after this long without events.
pub const ABANDON_AFTER_SECONDS: u64 = 86_400;

/// Copy Target creates pods named `mirrord-copy-<random>`: the operator's, not a target a user
/// chose, so they are never counted as targets.
pub const COPY_POD_PREFIX: &str = "mirrord-copy-";

/// [`COPY_POD_PREFIX`] as a glob, for the dashboard generator.
pub const COPY_POD_GLOB: &str = "mirrord-copy-*";

/// The upper bounds (seconds) of the session-duration histogram buckets: `/metrics`, the
/// duration rollup and the generated dashboards bucket closed sessions the same way.
pub const DURATION_BUCKETS: [f64; 8] =
    [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0];

/// The bounds as a DuckDB `DOUBLE[]` literal, for the rule macros.
pub fn duration_buckets_sql() -> String {
    format!("{DURATION_BUCKETS:?}")
}

/// A Jira issue key: a project key (a capital letter, then capitals, digits or `_`), a dash
/// and a number without leading zeros. Unanchored, to find keys inside branch names.
pub const JIRA_KEY_PATTERN: &str = "[A-Z][A-Z0-9_]+-[1-9][0-9]*";

/// A glob as a regular expression (RE2 and Rust `regex` syntax, unanchored): `*` becomes `.*`,
/// the rest is literal.
pub fn glob_to_regex(glob: &str) -> String {
    glob.split('*')
        .map(regex_escape)
        .collect::<Vec<_>>()
        .join(".*")
}

/// A glob as a regular expression that must match the whole value.
pub fn whole_value_regex(glob: &str) -> String {
    format!("^{}$", glob_to_regex(glob))
}

/// Escapes the regular-expression metacharacters of `text`.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The default `[sessions] ci_user_regex`: [`CI_USER_GLOB`] over the whole value.
pub fn default_ci_user_regex() -> String {
    whole_value_regex(CI_USER_GLOB)
}

/// The default `[sessions] ci_name_regex`: [`CI_NAME_GLOB`] over the whole value.
pub fn default_ci_name_regex() -> String {
    whole_value_regex(CI_NAME_GLOB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_pod_glob_is_the_prefix() {
        assert_eq!(COPY_POD_GLOB, format!("{COPY_POD_PREFIX}*"));
    }

    #[test]
    fn default_ci_regexes_match_what_the_globs_match_and_nothing_else() {
        let user = regex::Regex::new(&default_ci_user_regex()).unwrap();
        assert!(user.is_match("system:serviceaccount:ci:mirrord-ci"));
        assert!(user.is_match("system:serviceaccount:build-team:mirrord-ci"));
        assert!(!user.is_match("system:serviceaccount:ci:mirrord-ci-2"));
        assert!(!user.is_match("alice@corp.example"));
        let name = regex::Regex::new(&default_ci_name_regex()).unwrap();
        assert!(name.is_match("mirrord-ci@acme"));
        assert!(!name.is_match("xmirrord-ci@acme"));
        assert_eq!(default_ci_name_regex(), "^mirrord-ci@.*$");
    }
}
