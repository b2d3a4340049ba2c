//! The parse-tree guard of `POST /api/v1/sql`: which constructs a query may use, decided on
//! DuckDB's own parse tree (`json_serialize_sql`), with a reason that names what was refused.
//!
//! It is an allow-list where it can be: a table function must be one of
//! [`TABLE_FUNCTIONS`], and a relation must be a table or view of this database, a CTE in
//! scope at that point of the query, or `information_schema.tables`/`columns`. CTE names are
//! scoped per query level as DuckDB binds them, so a CTE defined in a subquery does not make
//! an outer reference to a file of the same name legal. Scalar functions are refused by name
//! ([`REFUSED_FUNCTIONS`], [`REFUSED_PREFIXES`]) when they run SQL text, reveal settings or
//! change state. `SHOW`, `DESCRIBE` and `SUMMARIZE` are refused; statements other than one
//! SELECT never serialize.
//!
//! The guard gives early, named refusals; the database-level lockdown
//! ([`crate::store::lockdown`]) is what holds if it ever misses something.

use duckdb::Connection;
use serde_json::{Map, Value};

/// Table functions a report writer needs: generated rows and JSON/list expansion.
pub const TABLE_FUNCTIONS: &[&str] = &[
    "range",
    "generate_series",
    "unnest",
    "json_each",
    "json_tree",
    "repeat",
    "repeat_row",
];

/// Functions refused wherever they appear: they run SQL given as text, touch other
/// connections, files or external resources, reveal settings, or change state.
pub const REFUSED_FUNCTIONS: &[&str] = &[
    "json_execute_serialized_sql",
    "json_serialize_sql",
    "json_deserialize_sql",
    "json_serialize_plan",
    "query",
    "query_table",
    "current_setting",
    "getenv",
    "getvariable",
    "create_external_resource",
    "register_external_resource",
    "register_external_resource_type",
    "deregister_external_resource",
    "destroy_external_resource",
    "enable_logging",
    "disable_logging",
    "truncate_duckdb_logs",
    "write_log",
    "enable_profiling",
    "disable_profiling",
    "checkpoint",
    "force_checkpoint",
    "nextval",
    "currval",
    "setval",
    "glob",
    "sniff_csv",
    "which_secret",
];

/// Name prefixes refused the same way: DuckDB's catalog and settings functions, pragmas, and
/// the file readers.
pub const REFUSED_PREFIXES: &[&str] = &["duckdb_", "pragma_", "read_", "parquet_"];

/// `information_schema` views a query may read: names and types only, no paths or settings.
const INFORMATION_SCHEMA: &[&str] = &["tables", "columns"];

/// What a query may name: this database's tables and views.
pub struct Catalog {
    /// Lower-case names of the main schema's tables and views.
    pub relations: Vec<String>,
    /// This database's name (`current_database()`), for catalog-qualified references.
    pub database: String,
}

impl Catalog {
    /// Reads the relations of the database behind `conn`.
    pub fn load(conn: &Connection) -> Result<Catalog, duckdb::Error> {
        let mut stmt = conn.prepare(include_str!("known_relations.sql"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let database = rows.first().map(|r| r.1.to_ascii_lowercase());
        Ok(Catalog {
            relations: rows.into_iter().map(|r| r.0).collect(),
            database: database.unwrap_or_default(),
        })
    }
}

/// Checks a parse tree from `json_serialize_sql`: `Err` carries the reason to show the user.
pub fn check(tree: &Value, catalog: &Catalog) -> Result<(), String> {
    if tree.get("error").and_then(Value::as_bool) == Some(true) {
        let msg = tree
            .get("error_message")
            .and_then(Value::as_str)
            .unwrap_or("not a query");
        return Err(format!("only a single read-only SELECT is allowed: {msg}"));
    }
    let statements = tree
        .get("statements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if statements.len() != 1 {
        return Err(format!(
            "exactly one SELECT statement is allowed, got {}",
            statements.len()
        ));
    }
    walk(&statements[0], &[], catalog)
}

/// Checks `v` and everything under it; `ctes` are the CTE names visible at this point.
fn walk(v: &Value, ctes: &[String], catalog: &Catalog) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|c| walk(c, ctes, catalog)),
        Value::Object(node) => {
            check_node(node, ctes, catalog)?;
            let scope = walk_ctes(node, ctes, catalog)?;
            node.iter()
                .filter(|(k, _)| k.as_str() != "cte_map")
                .try_for_each(|(_, c)| walk(c, &scope, catalog))
        }
        _ => Ok(()),
    }
}

/// Walks the CTE definitions of a query node and returns the names visible in its body. Each
/// definition sees the outer names and the CTEs defined before it (and itself when recursive),
/// never later ones: that is how DuckDB binds them, so a name that is not a CTE there would
/// resolve to a table or a file.
fn walk_ctes(
    node: &Map<String, Value>,
    outer: &[String],
    catalog: &Catalog,
) -> Result<Vec<String>, String> {
    let mut scope = outer.to_vec();
    let entries = node
        .get("cte_map")
        .and_then(|m| m.get("map"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries {
        let name = entry
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let value = entry.get("value").unwrap_or(&Value::Null);
        let recursive =
            value.pointer("/query_node/type").and_then(Value::as_str) == Some("RECURSIVE_CTE_NODE");
        let mut own = scope.clone();
        if recursive {
            own.push(name.clone());
        }
        walk(value, &own, catalog)?;
        scope.push(name);
    }
    Ok(scope)
}

fn text<'a>(node: &'a Map<String, Value>, key: &str) -> &'a str {
    node.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn check_node(node: &Map<String, Value>, ctes: &[String], catalog: &Catalog) -> Result<(), String> {
    match text(node, "type") {
        "SHOW_REF" => return Err(show_refused(text(node, "show_type"))),
        "TABLE_FUNCTION" => {
            let name = node
                .get("function")
                .and_then(|f| f.get("function_name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !TABLE_FUNCTIONS.contains(&name.to_lowercase().as_str()) {
                return Err(format!(
                    "table function `{name}` is not allowed (allowed: {})",
                    TABLE_FUNCTIONS.join(", ")
                ));
            }
        }
        "BASE_TABLE" => check_relation(node, ctes, catalog)?,
        _ => {}
    }
    if text(node, "class") == "FUNCTION" {
        let name = text(node, "function_name");
        let lower = name.to_lowercase();
        if REFUSED_FUNCTIONS.contains(&lower.as_str())
            || REFUSED_PREFIXES.iter().any(|p| lower.starts_with(p))
        {
            return Err(format!("function `{name}` is not allowed"));
        }
    }
    Ok(())
}

fn show_refused(show_type: &str) -> String {
    let statement = match show_type {
        "SUMMARY" => "SUMMARIZE",
        "DESCRIBE" => "DESCRIBE",
        _ => "SHOW",
    };
    format!(
        "{statement} is not allowed; list tables and columns with information_schema.tables and information_schema.columns"
    )
}

/// A table reference must be a CTE in scope, a table or view of this database, or an allowed
/// `information_schema` view.
fn check_relation(
    node: &Map<String, Value>,
    ctes: &[String],
    catalog: &Catalog,
) -> Result<(), String> {
    let shown = text(node, "table_name");
    let name = shown.to_lowercase();
    let schema = text(node, "schema_name").to_lowercase();
    let db = text(node, "catalog_name").to_lowercase();
    let own_db = db.is_empty() || db == catalog.database;
    if db.is_empty() && schema.is_empty() && ctes.contains(&name) {
        return Ok(());
    }
    match schema.as_str() {
        "information_schema" if own_db && INFORMATION_SCHEMA.contains(&name.as_str()) => Ok(()),
        "information_schema" | "pg_catalog" => Err(format!(
            "`{schema}.{name}` is not allowed (it can reveal settings or paths); \
             information_schema.tables and information_schema.columns are"
        )),
        "" | "main" if own_db && catalog.relations.contains(&name) => Ok(()),
        _ if name.starts_with("duckdb_") || name.starts_with("pg_") => Err(format!(
            "`{shown}` is not allowed (it can reveal settings or paths)"
        )),
        _ if name.contains(['/', '.', ':', '\\', '*']) => Err(format!(
            "`{shown}` is not a table of this database: reading files (replacement scans) is not allowed"
        )),
        _ => Err(format!("`{shown}` is not a table of this database")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_sql(sql: &str) -> Result<(), String> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE events (kind VARCHAR)")
            .unwrap();
        let tree: String = conn
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
            .unwrap();
        check(
            &serde_json::from_str(&tree).unwrap(),
            &Catalog::load(&conn).unwrap(),
        )
    }

    #[test]
    fn cte_names_are_scoped_per_query_level() {
        assert!(check_sql("WITH x AS (SELECT 1) SELECT * FROM x").is_ok());
        assert!(check_sql("WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b").is_ok());
        assert!(check_sql("WITH x AS (SELECT 1) SELECT * FROM (SELECT * FROM x)").is_ok());
        assert!(
            check_sql("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t")
                .is_ok()
        );
        let inner =
            check_sql("SELECT * FROM (WITH \"/tmp/s.csv\" AS (SELECT 1) SELECT 1), '/tmp/s.csv'")
                .unwrap_err();
        assert!(inner.contains("`/tmp/s.csv` is not a table"), "{inner}");
        let later = check_sql(
            "WITH a AS (SELECT * FROM \"/tmp/s.csv\"), \"/tmp/s.csv\" AS (SELECT 1) SELECT * FROM a",
        )
        .unwrap_err();
        assert!(later.contains("/tmp/s.csv"), "{later}");
        let own = check_sql("WITH x AS (SELECT * FROM x) SELECT * FROM x").unwrap_err();
        assert!(
            own.contains("`x` is not a table"),
            "a non-recursive CTE can't see itself: {own}"
        );
    }

    #[test]
    fn table_functions_are_allow_listed_and_refusals_name_the_construct() {
        assert!(check_sql("SELECT * FROM range(3), generate_series(1, 2), unnest([1])").is_ok());
        assert!(check_sql("SELECT * FROM json_each('{\"a\": 1}')").is_ok());
        assert_eq!(
            check_sql("SELECT * FROM read_text('/etc/hostname')").unwrap_err(),
            format!(
                "table function `read_text` is not allowed (allowed: {})",
                TABLE_FUNCTIONS.join(", ")
            )
        );
        assert!(
            check_sql("SUMMARIZE events")
                .unwrap_err()
                .starts_with("SUMMARIZE is not allowed")
        );
        assert!(
            check_sql("DESCRIBE events")
                .unwrap_err()
                .starts_with("DESCRIBE is not allowed")
        );
        assert!(
            check_sql("SHOW TABLES")
                .unwrap_err()
                .starts_with("SHOW is not allowed")
        );
        assert_eq!(
            check_sql("SELECT upper(current_setting('threads'))").unwrap_err(),
            "function `current_setting` is not allowed"
        );
        assert!(
            check_sql("SELECT * FROM pg_catalog.pg_settings")
                .unwrap_err()
                .contains("`pg_catalog.pg_settings` is not allowed")
        );
        assert!(check_sql("SELECT * FROM information_schema.tables").is_ok());
        assert!(check_sql("SELECT * FROM memory.main.events").is_ok());
        assert!(check_sql("SELECT * FROM system.main.events").is_err());
    }
}
