//! named_sql: the one loader for `.sql` files that hold several named queries.
//!
//! A file is a sequence of `-- name: NAME` headers, each followed by its statement (comments
//! after the header are kept: DuckDB ignores them). Each file is declared once, with the names
//! its code uses; [`check_all`] compares every declared name with the file's headers and fails
//! on a name the file doesn't define or a query nobody declared. `serve` runs it at start-up
//! (through `crate::database::check_named_sql`) and a unit test runs it in CI, so a renamed or
//! misspelled query is caught before any request, never answered with an empty result.

/// A `.sql` file of named queries, embedded at compile time, with the names its users ask for.
#[derive(Debug, Clone, Copy)]
pub struct NamedSql {
    file: &'static str,
    text: &'static str,
    names: &'static [&'static str],
}

/// A declared name the file lacks, or a query in the file nobody declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamedSqlError {
    #[error("{file} has no query named `{name}` (it has: {has})")]
    Missing {
        file: &'static str,
        name: &'static str,
        has: String,
    },
    #[error(
        "{file} defines `{name}`, which its code does not declare (a dead or misspelled query)"
    )]
    Undeclared {
        file: &'static str,
        name: &'static str,
    },
}

impl NamedSql {
    /// `file` is the path shown in errors; `text` its `include_str!`; `names` every query name
    /// the code uses from it.
    pub const fn new(
        file: &'static str,
        text: &'static str,
        names: &'static [&'static str],
    ) -> Self {
        NamedSql { file, text, names }
    }

    /// The statement named `name`.
    ///
    /// # Panics
    /// When `name` is not declared or the file has no query of that name. Both are programming
    /// errors: [`check_all`] finds the second at start-up, and the first panics on the first
    /// use, which every code path's tests reach.
    pub fn get(&self, name: &str) -> &'static str {
        assert!(
            self.names.contains(&name),
            "`{name}` is not declared for {} (declared: {})",
            self.file,
            self.names.join(", ")
        );
        self.find(name).unwrap_or_else(|| {
            panic!(
                "{} has no query named `{name}` (it has: {})",
                self.file,
                self.defined().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The statement named `name`, if the file has one.
    pub fn find(&self, name: &str) -> Option<&'static str> {
        self.queries()
            .find(|(n, _)| *n == name)
            .map(|(_, sql)| sql.trim())
    }

    /// Every name the file defines, in order.
    pub fn defined(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.queries().map(|(n, _)| n)
    }

    /// Every declared name is defined, and every defined name declared.
    pub fn check(&self) -> Result<(), NamedSqlError> {
        for name in self.names {
            if self.find(name).is_none() {
                return Err(NamedSqlError::Missing {
                    file: self.file,
                    name,
                    has: self.defined().collect::<Vec<_>>().join(", "),
                });
            }
        }
        if let Some(name) = self.defined().find(|n| !self.names.contains(n)) {
            return Err(NamedSqlError::Undeclared {
                file: self.file,
                name,
            });
        }
        Ok(())
    }

    fn queries(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.text.split("-- name: ").skip(1).filter_map(|q| {
            let (name, sql) = q.split_once('\n')?;
            Some((name.trim(), sql))
        })
    }
}

/// Checks every file (see [`NamedSql::check`]); the first problem is the error.
pub fn check_all(files: &[&NamedSql]) -> Result<(), NamedSqlError> {
    files.iter().try_for_each(|f| f.check())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "-- preamble\n-- name: first\nSELECT 1;\n\n-- name: second\n-- a comment\nSELECT 2\n";
    const FILE: NamedSql = NamedSql::new("test.sql", TEXT, &["first", "second"]);

    #[test]
    fn queries_are_found_by_name_and_listed_in_order() {
        assert_eq!(FILE.get("first"), "SELECT 1;");
        assert_eq!(FILE.get("second"), "-- a comment\nSELECT 2");
        assert_eq!(FILE.defined().collect::<Vec<_>>(), ["first", "second"]);
        assert_eq!(FILE.find("firs"), None, "a prefix is not a name");
        assert_eq!(check_all(&[&FILE]), Ok(()));
    }

    #[test]
    fn a_declared_name_the_file_lacks_fails_the_check() {
        let typo = NamedSql::new("test.sql", TEXT, &["first", "secnod"]);
        assert_eq!(
            check_all(&[&FILE, &typo]).unwrap_err().to_string(),
            "test.sql has no query named `secnod` (it has: first, second)"
        );
    }

    #[test]
    fn a_query_nobody_declared_fails_the_check() {
        let partial = NamedSql::new("test.sql", TEXT, &["first"]);
        assert_eq!(
            partial.check(),
            Err(NamedSqlError::Undeclared {
                file: "test.sql",
                name: "second"
            })
        );
    }

    #[test]
    #[should_panic(expected = "`third` is not declared for test.sql (declared: first, second)")]
    fn an_undeclared_name_fails_loudly() {
        FILE.get("third");
    }
}
