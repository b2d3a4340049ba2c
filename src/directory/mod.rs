//! directory: who the engineers are and which groups (teams, departments, ...) they belong to,
//! imported from the CSV or JSON file a platform team exports from its HR system or identity
//! provider. mirrord's logs only know identities (a Kubernetes user, a machine's user name,
//! hostname, client id); the directory maps them to people, so reports can say who in a team
//! uses mirrord and who never started.
//!
//! An import is all or nothing: [`parse`] reads the whole file and checks it (required
//! columns, ids, parents, cycles, identities claimed twice, unknown groups); any problem
//! refuses the file with an [`ImportReport`] naming each row, column and reason, and the
//! directory in force stays as it was. A good file is stored as a new numbered snapshot in one
//! transaction (`store.rs`); reports read the newest and say which one they used.

pub mod demo;
pub mod scope;
pub mod store;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The identities a person can be matched by, as the logs carry them, in matching order: a
/// session goes to the person its Kubernetes user names, else its machine's user name, else
/// its client id, else its hostname.
pub const IDENTITY_KINDS: [&str; 4] = [
    "kubernetes_user",
    "client_name",
    "client_id",
    "client_hostname",
];

/// Rows and bytes a directory may have (a company-wide export is well below).
pub const MAX_ROWS: usize = 200_000;
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// One engineer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// (kind, value), kind one of [`IDENTITY_KINDS`].
    pub identities: Vec<(String, String)>,
    /// The ids of the groups the person is a direct member of.
    pub groups: Vec<String>,
}

/// A group of any type; its place in the tree comes from `parent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: String,
    pub group_type: String,
    pub name: String,
    pub parent: Option<String>,
}

/// A checked directory, ready to store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Directory {
    pub people: Vec<Person>,
    pub groups: Vec<Group>,
}

/// What is wrong with one row: its number (the CSV line, header = 1; for JSON the array
/// position, from 1), the column or field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// The outcome of an import: stored (with its snapshot number and counts) or refused with
/// every problem found. A refused import changed nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: bool,
    pub snapshot: Option<i64>,
    pub people: usize,
    pub groups: usize,
    pub identities: usize,
    pub problems: Vec<Problem>,
}

impl ImportReport {
    pub fn refused(problems: Vec<Problem>) -> Self {
        ImportReport {
            imported: false,
            snapshot: None,
            people: 0,
            groups: 0,
            identities: 0,
            problems,
        }
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.imported {
            writeln!(
                f,
                "imported directory snapshot {}: {} people, {} groups, {} identities",
                self.snapshot.unwrap_or_default(),
                self.people,
                self.groups,
                self.identities
            )
        } else {
            writeln!(
                f,
                "refused: {} problem(s); the directory in force is unchanged",
                self.problems.len()
            )?;
            for p in &self.problems {
                writeln!(f, "  row {:>6}  {:<16} {}", p.row, p.column, p.reason)?;
            }
            Ok(())
        }
    }
}

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// From a file name or a content type: JSON when it says so, CSV otherwise.
    pub fn guess(name_or_type: &str) -> Format {
        let s = name_or_type.to_ascii_lowercase();
        if s.ends_with(".json") || s.contains("json") {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// Reads and checks a whole directory file.
pub fn parse(bytes: &[u8], format: Format) -> Result<Directory, Vec<Problem>> {
    if bytes.len() > MAX_BYTES {
        return Err(vec![problem(
            0,
            "",
            format!(
                "the file is {} bytes; at most {MAX_BYTES} are accepted",
                bytes.len()
            ),
        )]);
    }
    let rows = match format {
        Format::Csv => csv_rows(bytes)?,
        Format::Json => json_rows(bytes)?,
    };
    check(rows)
}

fn problem(row: usize, column: &str, reason: impl Into<String>) -> Problem {
    Problem {
        row,
        column: column.to_string(),
        reason: reason.into(),
    }
}

/// A row as read, before the checks: its number and its cells.
struct Row {
    number: usize,
    /// Put before column names in problems: empty for CSV, `people.` or `groups.` for JSON.
    prefix: &'static str,
    kind: RowKind,
    cells: HashMap<&'static str, Vec<String>>,
}

#[derive(Clone, Copy, PartialEq)]
enum RowKind {
    Person,
    Group,
}

/// Every column a file may have. `id` and `name` are required; `kind` (person or group) may be
/// left out when every row is a person. Identity and `groups` cells hold several values
/// separated by `;`.
const COLUMNS: [&str; 11] = [
    "kind",
    "id",
    "name",
    "email",
    "kubernetes_user",
    "client_name",
    "client_hostname",
    "client_id",
    "groups",
    "type",
    "parent",
];
const REQUIRED: [&str; 2] = ["id", "name"];

fn split_cell(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<Row>, Vec<Problem>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Err(e) => return Err(vec![problem(1, "", format!("unreadable header: {e}"))]),
    };
    let mut problems = Vec::new();
    for required in REQUIRED {
        if !header.iter().any(|h| h == required) {
            problems.push(problem(1, required, "missing column"));
        }
    }
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            problems.push(problem(
                1,
                h,
                format!("unknown column (known: {})", COLUMNS.join(", ")),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 2;
        if rows.len() >= MAX_ROWS {
            return Err(vec![problem(
                number,
                "",
                format!("more than {MAX_ROWS} rows"),
            )]);
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(problem(number, "", format!("unreadable row: {e}")));
                continue;
            }
        };
        let mut cells = HashMap::new();
        for (h, value) in header.iter().zip(record.iter()) {
            let column = COLUMNS.iter().find(|c| **c == h).copied().unwrap_or("id");
            cells.insert(column, split_cell(value));
        }
        let kind = match cells
            .get("kind")
            .and_then(|v| v.first())
            .map(String::as_str)
        {
            None | Some("person") => RowKind::Person,
            Some("group") => RowKind::Group,
            Some(other) => {
                problems.push(problem(
                    number,
                    "kind",
                    format!("`{other}` is neither person nor group"),
                ));
                continue;
            }
        };
        rows.push(Row {
            number,
            prefix: "",
            kind,
            cells,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The JSON form: `{"groups": [{"id", "type", "name", "parent"}], "people": [{"id", "name",
/// "email", "kubernetes_user", "client_name", "client_hostname", "client_id", "groups"}]}`;
/// identities and groups are a string or a list of strings.
fn json_rows(bytes: &[u8]) -> Result<Vec<Row>, Vec<Problem>> {
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| vec![problem(e.line(), "", format!("not JSON: {e}"))])?;
    let Some(obj) = doc.as_object() else {
        return Err(vec![problem(
            1,
            "",
            "expected an object with `people` and `groups`",
        )]);
    };
    let mut problems = Vec::new();
    for key in obj.keys() {
        if key != "people" && key != "groups" {
            problems.push(problem(0, key, "unknown field (known: people, groups)"));
        }
    }
    let mut rows = Vec::new();
    for (list, prefix, kind) in [
        ("groups", "groups.", RowKind::Group),
        ("people", "people.", RowKind::Person),
    ] {
        let items = match obj.get(list) {
            None => continue,
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => {
                problems.push(problem(0, list, "must be a list"));
                continue;
            }
        };
        for (i, item) in items.iter().enumerate() {
            let number = i + 1;
            let Some(fields) = item.as_object() else {
                problems.push(problem(number, list, "must be an object"));
                continue;
            };
            let mut cells = HashMap::new();
            for (field, value) in fields {
                let Some(column) = COLUMNS
                    .iter()
                    .find(|c| **c == field.as_str() && **c != "kind")
                else {
                    problems.push(problem(number, &format!("{list}.{field}"), "unknown field"));
                    continue;
                };
                let values = match value {
                    serde_json::Value::Null => Vec::new(),
                    serde_json::Value::String(s) => split_cell(s),
                    serde_json::Value::Array(vs) => vs
                        .iter()
                        .filter_map(|v| v.as_str().map(str::trim).map(str::to_string))
                        .filter(|v| !v.is_empty())
                        .collect(),
                    other => vec![other.to_string()],
                };
                cells.insert(*column, values);
            }
            rows.push(Row {
                number,
                prefix,
                kind,
                cells,
            });
            if rows.len() > MAX_ROWS {
                return Err(vec![problem(
                    number,
                    list,
                    format!("more than {MAX_ROWS} rows"),
                )]);
            }
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The checks every import passes, whatever its format.
fn check(rows: Vec<Row>) -> Result<Directory, Vec<Problem>> {
    let mut problems = Vec::new();
    let one = |row: &Row, column: &str| -> Option<String> {
        row.cells.get(column).and_then(|v| v.first()).cloned()
    };
    let at = |row: &Row, column: &str, reason: String| Problem {
        row: row.number,
        column: format!("{}{column}", row.prefix),
        reason,
    };
    let mut dir = Directory::default();
    // Where each id was defined: (row number, column prefix).
    let mut group_rows: HashMap<String, &Row> = HashMap::new();
    let mut person_rows: HashMap<String, &Row> = HashMap::new();
    for row in &rows {
        let Some(id) = one(row, "id") else {
            problems.push(at(row, "id", "empty id".into()));
            continue;
        };
        let name = one(row, "name").unwrap_or_default();
        if name.is_empty() {
            problems.push(at(row, "name", "empty name".into()));
        }
        match row.kind {
            RowKind::Group => {
                if let Some(first) = group_rows.get(&id) {
                    problems.push(at(
                        row,
                        "id",
                        format!("duplicate group id `{id}` (first at row {})", first.number),
                    ));
                    continue;
                }
                group_rows.insert(id.clone(), row);
                let Some(group_type) = one(row, "type") else {
                    problems.push(at(
                        row,
                        "type",
                        "a group needs a type (team, department, ...)".into(),
                    ));
                    continue;
                };
                dir.groups.push(Group {
                    id,
                    group_type,
                    name,
                    parent: one(row, "parent"),
                });
            }
            RowKind::Person => {
                if let Some(first) = person_rows.get(&id) {
                    problems.push(at(
                        row,
                        "id",
                        format!("duplicate person id `{id}` (first at row {})", first.number),
                    ));
                    continue;
                }
                person_rows.insert(id.clone(), row);
                let mut identities = Vec::new();
                for kind in IDENTITY_KINDS {
                    for value in row.cells.get(kind).into_iter().flatten() {
                        identities.push((kind.to_string(), value.clone()));
                    }
                }
                dir.people.push(Person {
                    id,
                    name,
                    email: one(row, "email"),
                    identities,
                    groups: row.cells.get("groups").cloned().unwrap_or_default(),
                });
            }
        }
    }
    // Parents exist, and following them never comes back.
    let parents: HashMap<&str, Option<&str>> = dir
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.parent.as_deref()))
        .collect();
    for g in &dir.groups {
        let row = group_rows[&g.id];
        if let Some(p) = g.parent.as_deref()
            && !parents.contains_key(p)
        {
            problems.push(at(row, "parent", format!("unknown parent group `{p}`")));
            continue;
        }
        let mut path = vec![g.id.as_str()];
        let mut up = g.parent.as_deref();
        while let Some(p) = up {
            if p == g.id {
                path.push(p);
                problems.push(at(
                    row,
                    "parent",
                    format!("parent links form a cycle: {}", path.join(" → ")),
                ));
                break;
            }
            if path.contains(&p) {
                break; // a cycle further up, reported on its own groups
            }
            path.push(p);
            up = parents.get(p).copied().flatten();
        }
    }
    // Every membership names a group.
    for p in &dir.people {
        for g in &p.groups {
            if !group_rows.contains_key(g) {
                problems.push(at(
                    person_rows[&p.id],
                    "groups",
                    format!("unknown group `{g}`"),
                ));
            }
        }
    }
    // An identity belongs to one person.
    let mut claimed: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for p in &dir.people {
        for (kind, value) in &p.identities {
            match claimed.get(&(kind.as_str(), value.as_str())) {
                Some(other) if *other != p.id => problems.push(at(
                    person_rows[&p.id],
                    kind,
                    format!(
                        "`{value}` is also claimed by `{other}` (row {})",
                        person_rows[*other].number
                    ),
                )),
                _ => {
                    claimed.insert((kind.as_str(), value.as_str()), p.id.as_str());
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(dir)
    } else {
        problems.sort_by(|a, b| (a.row, &a.column).cmp(&(b.row, &b.column)));
        Err(problems)
    }
}

#[cfg(test)]
mod tests;
