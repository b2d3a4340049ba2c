//! Reading and checking directory files: a good file in both formats, and each kind of bad
//! input named by row, column and reason.

use super::*;

const GOOD_CSV: &str = "\
kind,id,name,email,kubernetes_user,client_name,client_hostname,client_id,groups,type,parent
group,eng,Engineering,,,,,,,department,
group,pay,Payments,,,,,,,team,eng
person,ana,Ana Lima,ana@corp.example,ana@corp.example,ana,ana-laptop;ana-desktop,,pay,,
person,bo,Bo Berg,,bo@corp.example,,,m-bo,eng,,
";

fn problems(csv: &str) -> Vec<Problem> {
    parse(csv.as_bytes(), Format::Csv).unwrap_err()
}

#[test]
fn a_good_csv_gives_people_groups_identities_and_memberships() {
    let dir = parse(GOOD_CSV.as_bytes(), Format::Csv).unwrap();
    assert_eq!(dir.groups.len(), 2);
    assert_eq!(dir.groups[1].parent.as_deref(), Some("eng"));
    let ana = &dir.people[0];
    assert_eq!(ana.email.as_deref(), Some("ana@corp.example"));
    assert_eq!(
        ana.identities,
        vec![
            ("kubernetes_user".into(), "ana@corp.example".into()),
            ("client_name".into(), "ana".into()),
            ("client_hostname".into(), "ana-laptop".into()),
            ("client_hostname".into(), "ana-desktop".into()),
        ]
    );
    assert_eq!(ana.groups, vec!["pay".to_string()]);
    assert_eq!(dir.people[1].email, None);
}

#[test]
fn the_same_directory_as_json_reads_the_same() {
    let json = r#"{
        "groups": [
            {"id": "eng", "type": "department", "name": "Engineering"},
            {"id": "pay", "type": "team", "name": "Payments", "parent": "eng"}
        ],
        "people": [
            {"id": "ana", "name": "Ana Lima", "email": "ana@corp.example",
             "kubernetes_user": "ana@corp.example", "client_name": ["ana"],
             "client_hostname": ["ana-laptop", "ana-desktop"], "groups": ["pay"]},
            {"id": "bo", "name": "Bo Berg", "kubernetes_user": "bo@corp.example",
             "client_id": "m-bo", "groups": "eng"}
        ]
    }"#;
    let from_json = parse(json.as_bytes(), Format::Json).unwrap();
    let from_csv = parse(GOOD_CSV.as_bytes(), Format::Csv).unwrap();
    assert_eq!(from_json, from_csv);
}

#[test]
fn missing_required_columns_are_named_on_the_header_row() {
    let p = problems("kind,email\nperson,a@b\n");
    assert_eq!(
        p,
        vec![
            Problem {
                row: 1,
                column: "id".into(),
                reason: "missing column".into()
            },
            Problem {
                row: 1,
                column: "name".into(),
                reason: "missing column".into()
            },
        ]
    );
}

#[test]
fn duplicate_ids_name_the_later_row_and_the_first() {
    let p = problems("id,name\nana,Ana\nbo,Bo\nana,Ana Again\n");
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].row, p[0].column.as_str()), (4, "id"));
    assert_eq!(p[0].reason, "duplicate person id `ana` (first at row 2)");
}

#[test]
fn an_unknown_parent_is_refused() {
    let p = problems("kind,id,name,type,parent\ngroup,pay,Payments,team,eng\n");
    assert_eq!(
        p,
        vec![Problem {
            row: 2,
            column: "parent".into(),
            reason: "unknown parent group `eng`".into()
        }]
    );
}

#[test]
fn a_parent_cycle_is_refused_on_every_group_in_it() {
    let p = problems(
        "kind,id,name,type,parent\n\
         group,a,A,team,b\n\
         group,b,B,department,c\n\
         group,c,C,unit,a\n\
         group,d,D,team,a\n",
    );
    let reasons: Vec<(usize, &str)> = p.iter().map(|p| (p.row, p.reason.as_str())).collect();
    assert_eq!(
        reasons,
        vec![
            (2, "parent links form a cycle: a → b → c → a"),
            (3, "parent links form a cycle: b → c → a → b"),
            (4, "parent links form a cycle: c → a → b → c"),
        ],
        "d hangs below the cycle but is not in it"
    );
}

#[test]
fn an_identity_claimed_by_two_people_is_refused() {
    let p = problems("id,name,client_hostname\nana,Ana,shared-host\nbo,Bo,bo-laptop;shared-host\n");
    assert_eq!(
        p,
        vec![Problem {
            row: 3,
            column: "client_hostname".into(),
            reason: "`shared-host` is also claimed by `ana` (row 2)".into()
        }]
    );
}

#[test]
fn memberships_must_name_groups_and_groups_need_a_type() {
    let p = problems("kind,id,name,groups,type\ngroup,pay,Payments,,\nperson,ana,Ana,pay;ops,\n");
    assert_eq!(
        p,
        vec![
            Problem {
                row: 2,
                column: "type".into(),
                reason: "a group needs a type (team, department, ...)".into()
            },
            Problem {
                row: 3,
                column: "groups".into(),
                reason: "unknown group `ops`".into()
            },
        ]
    );
}

#[test]
fn json_problems_name_the_list_and_position() {
    let p = parse(
        br#"{"people": [{"id": "ana", "name": "Ana"}, {"id": "ana", "name": "Ana 2", "team": "x"}]}"#,
        Format::Json,
    )
    .unwrap_err();
    assert_eq!(
        p,
        vec![Problem {
            row: 2,
            column: "people.team".into(),
            reason: "unknown field".into()
        }]
    );
    let p = parse(
        br#"{"people": [{"id": "ana", "name": "Ana"}, {"id": "ana", "name": "Ana 2"}]}"#,
        Format::Json,
    )
    .unwrap_err();
    assert_eq!(
        (p[0].row, p[0].column.as_str(), p[0].reason.as_str()),
        (2, "people.id", "duplicate person id `ana` (first at row 1)")
    );
}

#[test]
fn a_bad_kind_and_an_empty_id_are_named() {
    let p = problems("kind,id,name\nrobot,r1,R\nperson,,Nobody\n");
    assert_eq!(
        p.iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, "kind")],
        "a bad kind stops the file before the per-row checks"
    );
    let p = problems("id,name\n,Nobody\n");
    assert_eq!((p[0].row, p[0].column.as_str()), (2, "id"));
}

#[test]
fn the_documented_example_directory_reads_cleanly() {
    let dir = parse(include_bytes!("../../docs/people.example.csv"), Format::Csv)
        .expect("docs/people.example.csv has no problems");
    assert_eq!((dir.people.len(), dir.groups.len()), (5, 6));
    let bob = dir.people.iter().find(|p| p.id == "bob").unwrap();
    assert_eq!(
        bob.identities,
        vec![
            ("client_name".to_string(), "bob".to_string()),
            ("client_hostname".to_string(), "bob-laptop".to_string()),
            ("client_hostname".to_string(), "bob-desktop".to_string()),
        ]
    );
}
