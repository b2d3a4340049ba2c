//! display: `[display] rewrite` — rules (a regular expression and its replacement, applied in
//! order) that change how identities are shown, e.g. stripping a `keycloak:` prefix from
//! Kubernetes user names. Applied to report answers on their way out, never to what is stored.
//!
//! The display fields change (`displayName`, `clientUser`, `hostname`, a session's user,
//! client name and hostname); an `identifier` stays as logged, because it is the key that
//! links and filters (`/api/v1/sessions?user=`) match.

use regex::Regex;

use super::reports::UsageReport;
use super::sessions::{SessionPage, UsageSessionPage};

/// The compiled rules; no rules changes nothing.
#[derive(Debug, Clone, Default)]
pub struct Display {
    rules: Vec<(Regex, String)>,
}

/// A rule whose pattern does not compile.
#[derive(Debug, thiserror::Error)]
#[error("[display] rewrite: `{pattern}` is not a regular expression: {source}")]
pub struct DisplayError {
    pattern: String,
    source: regex::Error,
}

impl Display {
    /// From `(pattern, replacement)` pairs, in order (`[display] rewrite`).
    pub fn new<'a>(
        rules: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Display, DisplayError> {
        let rules = rules
            .into_iter()
            .map(|(pattern, replacement)| {
                Regex::new(pattern)
                    .map(|re| (re, replacement.to_string()))
                    .map_err(|source| DisplayError {
                        pattern: pattern.to_string(),
                        source,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Display { rules })
    }

    /// `s` as shown.
    pub fn show(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (re, replacement) in &self.rules {
            out = re.replace_all(&out, replacement.as_str()).into_owned();
        }
        out
    }

    fn field(&self, v: &mut Option<String>) {
        if let Some(s) = v.as_mut() {
            *s = self.show(s);
        }
    }

    fn active(&self) -> bool {
        !self.rules.is_empty()
    }

    pub fn usage(&self, r: &mut UsageReport) {
        if !self.active() {
            return;
        }
        for u in &mut r.user_metrics {
            self.field(&mut u.display_name);
            self.field(&mut u.client_user);
            self.field(&mut u.hostname);
        }
        for u in &mut r.user_target_metrics {
            self.field(&mut u.display_name);
        }
    }

    pub fn sessions(&self, p: &mut SessionPage) {
        if !self.active() {
            return;
        }
        for s in &mut p.sessions {
            s.user = self.show(&s.user);
            self.field(&mut s.client_name);
            self.field(&mut s.client_hostname);
        }
    }

    pub fn usage_sessions(&self, p: &mut UsageSessionPage) {
        if !self.active() {
            return;
        }
        for s in &mut p.sessions {
            if let Some(u) = s.user.as_mut() {
                self.field(&mut u.kubernetes_username);
                self.field(&mut u.client_username);
                self.field(&mut u.client_hostname);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_and_only_where_they_match() {
        let d = Display::new([("^keycloak:", ""), (r"^(\w+)@corp\.example$", "$1")]).unwrap();
        assert_eq!(d.show("keycloak:ada@corp.example"), "ada");
        assert_eq!(d.show("grace"), "grace");
        assert_eq!(d.show("x-keycloak:bob"), "x-keycloak:bob");
        assert!(Display::new([("(", "")]).is_err());
    }
}
