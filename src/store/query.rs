//! Ad-hoc SQL results: run a query through Arrow and render the result as a table, CSV or
//! JSON. Used by the `sql` subcommand and the read-only SQL endpoint.

use duckdb::Connection;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

use super::StoreError;

/// A query result: column names and rows of JSON values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// True when more rows existed than the cap allowed.
    pub truncated: bool,
}

/// Runs `sql` and collects at most `max_rows` rows.
pub fn run(conn: &Connection, sql: &str, max_rows: usize) -> Result<QueryResult, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let arrow = stmt.query_arrow([])?;
    let schema = arrow.get_schema();
    let columns = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = Vec::new();
    let mut truncated = false;
    for batch in arrow {
        let room = max_rows - rows.len();
        append_rows(&batch, room, &mut rows)?;
        if batch.num_rows() > room {
            truncated = true;
            break;
        }
    }
    Ok(QueryResult {
        columns,
        rows,
        truncated,
    })
}

fn append_rows(
    batch: &RecordBatch,
    limit: usize,
    rows: &mut Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let n = batch.num_rows().min(limit);
    let start = rows.len();
    rows.extend((0..n).map(|_| Vec::with_capacity(batch.num_columns())));
    for col in batch.columns() {
        for i in 0..n {
            rows[start + i].push(cell(col.as_ref(), i)?);
        }
    }
    Ok(())
}

macro_rules! num {
    ($a:expr, $t:ty, $i:expr) => {
        Value::from($a.as_primitive::<$t>().value($i))
    };
}

/// One cell as JSON: numbers, booleans and strings typed, everything else as DuckDB prints it.
fn cell(a: &dyn Array, i: usize) -> Result<Value, StoreError> {
    if a.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8 => num!(a, Int8Type, i),
        DataType::Int16 => num!(a, Int16Type, i),
        DataType::Int32 => num!(a, Int32Type, i),
        DataType::Int64 => num!(a, Int64Type, i),
        DataType::UInt8 => num!(a, UInt8Type, i),
        DataType::UInt16 => num!(a, UInt16Type, i),
        DataType::UInt32 => num!(a, UInt32Type, i),
        DataType::UInt64 => num!(a, UInt64Type, i),
        DataType::Float32 => num!(a, Float32Type, i),
        DataType::Float64 => num!(a, Float64Type, i),
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(a.as_string::<i64>().value(i).to_string()),
        _ => {
            let fmt = ArrayFormatter::try_new(a, &FormatOptions::default())?;
            Value::String(fmt.value(i).to_string())
        }
    })
}

impl QueryResult {
    /// An aligned text table.
    pub fn to_table(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(plain).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |vals: &[String]| {
            let padded: Vec<String> = vals
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            format!("│ {} │\n", padded.join(" │ "))
        };
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        let mut out = format!("┌─{}─┐\n", rule.join("─┬─"));
        out += &line(&self.columns);
        out += &format!("├─{}─┤\n", rule.join("─┼─"));
        for row in &cells {
            out += &line(row);
        }
        out += &format!("└─{}─┘\n", rule.join("─┴─"));
        out += &format!(
            "{} row{}{}\n",
            self.rows.len(),
            if self.rows.len() == 1 { "" } else { "s" },
            if self.truncated { " (truncated)" } else { "" }
        );
        out
    }

    /// RFC 4180 CSV with a header row.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let quote = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        out += &self
            .columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for row in &self.rows {
            out += &row
                .iter()
                .map(|v| quote(&plain(v)))
                .collect::<Vec<_>>()
                .join(",");
            out.push('\n');
        }
        out
    }

    /// JSON: an array of objects keyed by column name.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    Value::Object(
                        self.columns
                            .iter()
                            .cloned()
                            .zip(r.iter().cloned())
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
