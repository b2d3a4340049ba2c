//! demo: the directory `serve --demo` ships, so the Adoption view is populated on the first
//! run: an organization of two departments and six teams (three levels), every Kubernetes
//! user of the generated activity placed in one of five teams, and a few engineers who never
//! started (a whole new team among them).

use super::{Directory, Group, Person};

/// (id, type, name, parent).
const GROUPS: [(&str, &str, &str, Option<&str>); 9] = [
    ("engineering", "organization", "Engineering", None),
    (
        "product",
        "department",
        "Product Engineering",
        Some("engineering"),
    ),
    ("platform", "department", "Platform", Some("engineering")),
    ("checkout", "team", "Checkout", Some("product")),
    ("payments", "team", "Payments", Some("product")),
    ("search", "team", "Search", Some("product")),
    ("infrastructure", "team", "Infrastructure", Some("platform")),
    ("devex", "team", "Developer Experience", Some("platform")),
    ("data", "team", "Data", Some("platform")),
];

/// The teams people are dealt into, in turn.
const TEAMS: [&str; 5] = ["checkout", "payments", "search", "infrastructure", "devex"];

/// Engineers in the directory whom no session names, and their team: the Data team is new
/// and nobody in it has started yet.
const NEVER_STARTED: [(&str, &str); 8] = [
    ("Grace Okafor", "data"),
    ("Hiro Tanaka", "data"),
    ("Ines Duarte", "search"),
    ("Jonas Berg", "checkout"),
    ("Kavya Rao", "data"),
    ("Liam Walsh", "payments"),
    ("Mina Haddad", "search"),
    ("Noor Siddiqui", "devex"),
];

/// The demo directory for the generated activity's Kubernetes users (sorted, distinct), each
/// with the name their machine gives (`client_name`), if any.
pub fn directory(users: &[(String, Option<String>)]) -> Directory {
    let groups = GROUPS
        .iter()
        .map(|(id, t, name, parent)| Group {
            id: id.to_string(),
            group_type: t.to_string(),
            name: name.to_string(),
            parent: parent.map(str::to_string),
        })
        .collect();
    let mut people: Vec<Person> = users
        .iter()
        .enumerate()
        .map(|(i, (user, name))| {
            let handle = user.split('@').next().unwrap_or(user).to_string();
            Person {
                id: format!("e{:03}", i + 1),
                name: name.clone().unwrap_or_else(|| title(&handle)),
                email: Some(format!("{handle}@example.com")),
                identities: vec![("kubernetes_user".into(), user.clone())],
                groups: vec![TEAMS[i % TEAMS.len()].to_string()],
            }
        })
        .collect();
    for (i, (name, team)) in NEVER_STARTED.iter().enumerate() {
        let handle = name.to_lowercase().replace(' ', ".");
        people.push(Person {
            id: format!("n{:03}", i + 1),
            name: name.to_string(),
            email: Some(format!("{handle}@example.com")),
            identities: vec![("kubernetes_user".into(), format!("{handle}@example.com"))],
            groups: vec![team.to_string()],
        });
    }
    Directory { people, groups }
}

/// `ada.lovelace` → `Ada Lovelace`.
fn title(handle: &str) -> String {
    handle
        .split(['.', '-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
