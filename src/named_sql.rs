//! named_sql: the one loader for `.sql` files that hold several named queries.
//!
//! A file is a sequence of `-- name: NAME` headers, each followed by its statement (comments
//! after the header are kept: DuckDB ignores them). Queries are looked up by name; a name the
//! file doesn't define is a programming error, so [`NamedSql::get`] panics with the file and
//! the name instead of quietly running something else, and each file's users check their
//! names in a unit test with [`NamedSql::names`].

/// A `.sql` file of named queries, embedded at compile time.
#[derive(Debug, Clone, Copy)]
pub struct NamedSql {
    file: &'static str,
    text: &'static str,
}

impl NamedSql {
    /// `file` is the path shown in errors; `text` its `include_str!`.
    pub const fn new(file: &'static str, text: &'static str) -> Self {
        NamedSql { file, text }
    }

    /// The statement named `name`.
    ///
    /// # Panics
    /// When the file has no query of that name (a typo in the code, caught by its unit test).
    pub fn get(&self, name: &str) -> &'static str {
        self.find(name).unwrap_or_else(|| {
            panic!(
                "{} has no query named `{name}` (it has: {})",
                self.file,
                self.names().collect::<Vec<_>>().join(", ")
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
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.queries().map(|(n, _)| n)
    }

    fn queries(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.text.split("-- name: ").skip(1).filter_map(|q| {
            let (name, sql) = q.split_once('\n')?;
            Some((name.trim(), sql))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: NamedSql = NamedSql::new(
        "test.sql",
        "-- preamble\n-- name: first\nSELECT 1;\n\n-- name: second\n-- a comment\nSELECT 2\n",
    );

    #[test]
    fn queries_are_found_by_name_and_listed_in_order() {
        assert_eq!(FILE.get("first"), "SELECT 1;");
        assert_eq!(FILE.get("second"), "-- a comment\nSELECT 2");
        assert_eq!(FILE.names().collect::<Vec<_>>(), ["first", "second"]);
        assert_eq!(FILE.find("firs"), None, "a prefix is not a name");
    }

    #[test]
    #[should_panic(expected = "test.sql has no query named `third` (it has: first, second)")]
    fn an_unknown_name_fails_loudly() {
        FILE.get("third");
    }
}
