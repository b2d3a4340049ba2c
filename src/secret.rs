//! Secrets in configuration: API keys, bearer tokens, shared keys. A [`Secret`] never prints
//! its value (`Debug` says `<redacted>`), and each secret can come from the config value or
//! from a file (`*_file`, e.g. a mounted Kubernetes secret), so a key need not sit in the TOML
//! or the environment.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

impl Secret {
    /// The value, or `None` when empty.
    pub fn get(&self) -> Option<&str> {
        Some(self.0.as_str()).filter(|s| !s.is_empty())
    }
}

/// A secret file could not be read, or is empty.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {option} from {path}: {reason}")]
pub struct SecretFileError {
    pub option: String,
    pub path: PathBuf,
    pub reason: String,
}

/// The secret for `option`: the file's content (trimmed) when `file` is set, else `value`.
/// `None` when neither is set. An unreadable or empty file is an error, never a silent
/// fall-back to "no key".
pub fn resolve(
    option: &str,
    value: &Secret,
    file: Option<&Path>,
) -> Result<Option<String>, SecretFileError> {
    let Some(path) = file.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(value.get().map(str::to_string));
    };
    let error = |reason: String| SecretFileError {
        option: option.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(error("the file is empty".into()));
    }
    Ok(Some(key.to_string()))
}

/// Equality whose time depends only on the lengths, not on where the bytes differ (for keys
/// and tokens presented by clients).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | ((a.len() ^ b.len()) >> 8) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRefusal {
    /// No `Authorization: Bearer` value.
    Missing,
    /// A token that is not the expected one.
    Wrong,
}

/// Checks an `Authorization` value against `expected` (no check when `None`).
pub fn check_bearer(
    authorization: Option<&str>,
    expected: Option<&str>,
) -> Result<(), BearerRefusal> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let token = authorization
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match token {
        None => Err(BearerRefusal::Missing),
        Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(BearerRefusal::Wrong),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_tokens() {
        use super::{BearerRefusal, check_bearer};
        assert_eq!(check_bearer(None, None), Ok(()));
        assert_eq!(check_bearer(None, Some("t")), Err(BearerRefusal::Missing));
        assert_eq!(
            check_bearer(Some("Basic t"), Some("t")),
            Err(BearerRefusal::Missing)
        );
        assert_eq!(
            check_bearer(Some("Bearer x"), Some("t")),
            Err(BearerRefusal::Wrong)
        );
        assert_eq!(check_bearer(Some("bearer t"), Some("t")), Ok(()));
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        use super::constant_time_eq as eq;
        assert!(eq(b"secret", b"secret"));
        assert!(!eq(b"secret", b"secreT"));
        assert!(!eq(b"secret", b"secret2"));
        assert!(!eq(b"", b"x"));
    }

    use super::*;

    #[test]
    fn debug_redacts_and_files_win_over_values() {
        assert!(format!("{:?}", Secret("s3cret".into())).contains("redacted"));
        assert!(!format!("{:?}", Secret("s3cret".into())).contains("s3cret"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "from-file\n").unwrap();
        let v = Secret("from-config".into());
        assert_eq!(
            resolve("k", &v, Some(&path)).unwrap().as_deref(),
            Some("from-file")
        );
        assert_eq!(
            resolve("k", &v, None).unwrap().as_deref(),
            Some("from-config")
        );
        assert_eq!(resolve("k", &Secret::default(), None).unwrap(), None);
        std::fs::write(&path, " \n").unwrap();
        assert!(
            resolve("k", &v, Some(&path))
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let missing = dir.path().join("nope");
        let err = resolve("api.admin_key_file", &v, Some(&missing)).unwrap_err();
        assert!(err.to_string().contains("api.admin_key_file"), "{err}");
    }
}
