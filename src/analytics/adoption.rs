//! adoption: the Adoption report (`GET /api/v1/reports/adoption`, docs/adoption.md) — who in a
//! directory group uses mirrord and who does not: header counts, the funnel (in directory →
//! ever started → active → regular → champion), % active per interval, a groups × weeks
//! heatmap, never started, going cold, champions, services per team and suggested actions.
//!
//! SQL (`sql/adoption.sql`) gathers per-person facts and per-interval counts on the request's
//! connection (temp tables of the scope's people and their exec sessions); the stages, lists
//! and actions are composed here from those facts, so each rule is written once.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;
use duckdb::{Connection, ToSql};
use serde::Serialize;

use super::buckets::{self, Bucket, Interval};
use super::reports::ts;
use crate::directory::scope::{GroupRef, Scope, ScopeError};
use crate::directory::store::{Snapshot, snapshot_info};
use crate::named_sql::NamedSql;

pub const ADOPTION_SQL: NamedSql = NamedSql::new(
    "src/analytics/sql/adoption.sql",
    include_str!("sql/adoption.sql"),
    &[
        "people",
        "sessions",
        "facts",
        "active_by_bucket",
        "heatmap_groups",
        "teams",
        "services",
    ],
);

/// The days of the default range (the last 90 days).
pub const DEFAULT_DAYS: i64 = 90;

/// The thresholds of `[adoption]` (the config hands them in: analytics reads no config).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Thresholds {
    pub regular_active_days: u32,
    pub champion_active_days: u32,
    pub going_cold_days: u32,
}

/// What the report is asked for.
#[derive(Debug, Clone)]
pub struct AdoptionQuery {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub interval: Interval,
    pub zone: Tz,
    pub thresholds: Thresholds,
    pub team_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdoptionScope {
    pub group: Option<GroupRef>,
    pub path: Vec<GroupRef>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub engineers: i64,
    pub services: i64,
    pub teams: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub stage: &'static str,
    pub count: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActivePoint {
    pub start: String,
    pub active: i64,
    pub engineers: i64,
    pub percent: f64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HeatmapRow {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub group_type: String,
    pub engineers: i64,
    pub active: Vec<i64>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Heatmap {
    pub weeks: Vec<String>,
    pub groups: Vec<HeatmapRow>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PersonRow {
    pub person_id: String,
    pub name: String,
    pub email: Option<String>,
    pub team: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ColdRow {
    pub person_id: String,
    pub name: String,
    pub email: Option<String>,
    pub team: Option<String>,
    pub last_session: Option<String>,
    pub days_since: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Champion {
    pub person_id: String,
    pub name: String,
    pub team: Option<String>,
    pub active_days: i64,
    pub sessions: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceUse {
    pub namespace: Option<String>,
    pub target_type: Option<String>,
    pub target: String,
    pub sessions: i64,
    pub engineers: i64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamServices {
    pub id: String,
    pub name: String,
    pub engineers: i64,
    pub services: Vec<ServiceUse>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub id: String,
    pub kind: &'static str,
    pub group_id: String,
    pub message: String,
}

/// The whole report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdoptionReport {
    pub scope: AdoptionScope,
    pub snapshot: Option<Snapshot>,
    pub range: Range,
    pub interval: Interval,
    pub time_zone: String,
    pub thresholds: Thresholds,
    pub counts: Counts,
    pub funnel: Vec<Stage>,
    pub active_over_time: Vec<ActivePoint>,
    pub heatmap: Heatmap,
    pub never_started: Vec<PersonRow>,
    pub going_cold: Vec<ColdRow>,
    pub champions: Vec<Champion>,
    pub services_per_team: Vec<TeamServices>,
    pub suggested_actions: Vec<Action>,
}

/// Why the report failed.
#[derive(Debug, thiserror::Error)]
pub enum AdoptionError {
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
}

/// One person's facts.
struct Facts {
    person: PersonRow,
    ever_started: bool,
    last_session: Option<NaiveDateTime>,
    sessions: i64,
    active_days: i64,
    before_cold: bool,
    in_cold: bool,
}

/// A team and its people (ids).
struct Team {
    id: String,
    name: String,
    people: Vec<String>,
}

/// A team under this share of active engineers gets a `teamLowActive` action.
const LOW_ACTIVE_PERCENT: f64 = 25.0;

/// Builds the report for `scope` (resolved on `conn`).
pub fn report(
    conn: &Connection,
    scope: &Scope,
    q: &AdoptionQuery,
) -> Result<AdoptionReport, AdoptionError> {
    let group = scope.group.as_ref().map(|g| g.id.as_str());
    conn.execute(ADOPTION_SQL.get("people"), [&group])?;
    conn.execute(ADOPTION_SQL.get("sessions"), [&q.to])?;
    let intervals = clip(buckets::cover(q.zone, q.from, q.to, q.interval), q);
    let weeks = clip(buckets::cover(q.zone, q.from, q.to, Interval::Week), q);
    let days = clip(buckets::cover(q.zone, q.from, q.to, Interval::Day), q);
    buckets::install(
        conn,
        &[("interval", &intervals), ("week", &weeks), ("day", &days)],
    )?;

    let cold_from = q.to - Duration::days(q.thresholds.going_cold_days as i64);
    let facts = facts(conn, q.from, cold_from)?;
    let t = q.thresholds;
    let regular = |f: &Facts| f.active_days >= t.regular_active_days as i64;
    let champion = |f: &Facts| f.active_days >= t.champion_active_days as i64;
    let cold = |f: &Facts| f.before_cold && !f.in_cold;
    let count = |pred: &dyn Fn(&Facts) -> bool| facts.iter().filter(|f| pred(f)).count() as i64;
    let engineers = facts.len() as i64;
    let funnel = vec![
        Stage {
            stage: "inDirectory",
            count: engineers,
        },
        Stage {
            stage: "everStarted",
            count: count(&|f| f.ever_started),
        },
        Stage {
            stage: "active",
            count: count(&|f| f.sessions > 0),
        },
        Stage {
            stage: "regular",
            count: count(&regular),
        },
        Stage {
            stage: "champion",
            count: count(&champion),
        },
    ];

    // % active per interval, and the heatmap's weeks per group.
    let overall = active_by_bucket(conn, q.from, "interval")?;
    let active_over_time = intervals
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let active = overall.get(&(None, i as i64)).copied().unwrap_or(0);
            ActivePoint {
                start: b.label.to_string(),
                active,
                engineers,
                percent: percent(active, engineers),
            }
        })
        .collect();
    // Weekly intervals are the heatmap's weeks: counted once.
    let by_week = if q.interval == Interval::Week {
        overall
    } else {
        active_by_bucket(conn, q.from, "week")?
    };
    let heatmap = Heatmap {
        weeks: weeks.iter().map(|b| b.label.to_string()).collect(),
        groups: heatmap_rows(conn, group)?
            .into_iter()
            .map(|(g, people)| HeatmapRow {
                active: (0..weeks.len() as i64)
                    .map(|i| by_week.get(&(Some(g.id.clone()), i)).copied().unwrap_or(0))
                    .collect(),
                id: g.id,
                name: g.name,
                group_type: g.group_type,
                engineers: people,
            })
            .collect(),
    };

    let never_started = facts
        .iter()
        .filter(|f| !f.ever_started)
        .map(|f| clone_person(&f.person))
        .collect();
    let mut going_cold: Vec<ColdRow> = facts
        .iter()
        .filter(|f| cold(f))
        .map(|f| ColdRow {
            person_id: f.person.person_id.clone(),
            name: f.person.name.clone(),
            email: f.person.email.clone(),
            team: f.person.team.clone(),
            last_session: ts(f.last_session),
            days_since: f.last_session.map_or(0, |l| (q.to - l).num_days()),
        })
        .collect();
    going_cold.sort_by(|a, b| b.days_since.cmp(&a.days_since).then(a.name.cmp(&b.name)));
    let mut champions: Vec<Champion> = facts
        .iter()
        .filter(|f| champion(f))
        .map(|f| Champion {
            person_id: f.person.person_id.clone(),
            name: f.person.name.clone(),
            team: f.person.team.clone(),
            active_days: f.active_days,
            sessions: f.sessions,
        })
        .collect();
    champions.sort_by(|a, b| {
        (b.active_days, b.sessions)
            .cmp(&(a.active_days, a.sessions))
            .then(a.name.cmp(&b.name))
    });

    let teams = teams(conn, group, &q.team_type)?;
    let services = services(conn, q.from)?;
    let services_count = services
        .iter()
        .map(|(_, key, _)| key)
        .collect::<HashSet<_>>()
        .len() as i64;
    let services_per_team = teams
        .iter()
        .map(|team| team_services(team, &services))
        .collect();
    let by_person: HashMap<&str, &Facts> = facts
        .iter()
        .map(|f| (f.person.person_id.as_str(), f))
        .collect();
    let suggested_actions = actions(&teams, &by_person, &cold, q);

    Ok(AdoptionReport {
        scope: AdoptionScope {
            group: scope.group.clone(),
            path: scope.path(conn)?,
        },
        snapshot: snapshot_info(conn)?,
        range: Range {
            from: ts(Some(q.from)),
            to: ts(Some(q.to)),
        },
        interval: q.interval,
        time_zone: q.zone.name().to_string(),
        thresholds: q.thresholds,
        counts: Counts {
            engineers,
            services: services_count,
            teams: teams.len() as i64,
        },
        funnel,
        active_over_time,
        heatmap,
        never_started,
        going_cold,
        champions,
        services_per_team,
        suggested_actions,
    })
}

/// Intervals clipped to the range: counting starts at `from` and ends at `to`.
fn clip(mut b: Vec<Bucket>, q: &AdoptionQuery) -> Vec<Bucket> {
    for x in &mut b {
        x.start = x.start.max(q.from);
        x.end = x.end.min(q.to);
    }
    b
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}

fn clone_person(p: &PersonRow) -> PersonRow {
    PersonRow {
        person_id: p.person_id.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
        team: p.team.clone(),
    }
}

fn facts(
    conn: &Connection,
    from: NaiveDateTime,
    cold_from: NaiveDateTime,
) -> Result<Vec<Facts>, duckdb::Error> {
    let mut stmt = conn.prepare(ADOPTION_SQL.get("facts"))?;
    let p: [&dyn ToSql; 2] = [&from, &cold_from];
    let rows = stmt.query_map(&p[..], |r| {
        Ok(Facts {
            person: PersonRow {
                person_id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                team: r.get(3)?,
            },
            ever_started: r.get(4)?,
            last_session: r.get(5)?,
            sessions: r.get(6)?,
            active_days: r.get(7)?,
            before_cold: r.get(8)?,
            in_cold: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// (group or `None` for the whole scope, bucket index) → active people.
fn active_by_bucket(
    conn: &Connection,
    from: NaiveDateTime,
    kind: &str,
) -> Result<HashMap<(Option<String>, i64), i64>, duckdb::Error> {
    let mut stmt = conn.prepare(ADOPTION_SQL.get("active_by_bucket"))?;
    let p: [&dyn ToSql; 2] = [&from, &kind];
    let rows = stmt.query_map(&p[..], |r| {
        Ok(((r.get::<_, Option<String>>(0)?, r.get(1)?), r.get(2)?))
    })?;
    rows.collect()
}

/// The heatmap's rows: the groups below the scope; for everyone, those below the top of the
/// tree when it has a single top (an organization), else the top-level groups.
fn heatmap_rows(
    conn: &Connection,
    group: Option<&str>,
) -> Result<Vec<(GroupRef, i64)>, duckdb::Error> {
    let rows = heatmap_groups(conn, group)?;
    match (group, rows.as_slice()) {
        (None, [(root, _)]) => heatmap_groups(conn, Some(&root.id)),
        _ => Ok(rows),
    }
}

fn heatmap_groups(
    conn: &Connection,
    group: Option<&str>,
) -> Result<Vec<(GroupRef, i64)>, duckdb::Error> {
    let mut stmt = conn.prepare(ADOPTION_SQL.get("heatmap_groups"))?;
    let rows = stmt.query_map([&group], |r| {
        Ok((
            GroupRef {
                id: r.get(0)?,
                group_type: r.get(1)?,
                name: r.get(2)?,
            },
            r.get(3)?,
        ))
    })?;
    rows.collect()
}

fn teams(
    conn: &Connection,
    group: Option<&str>,
    team_type: &str,
) -> Result<Vec<Team>, duckdb::Error> {
    let mut stmt = conn.prepare(ADOPTION_SQL.get("teams"))?;
    let p: [&dyn ToSql; 2] = [&group, &team_type];
    let rows = stmt.query_map(&p[..], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out: Vec<Team> = Vec::new();
    for row in rows {
        let (id, name, person) = row?;
        match out.last_mut() {
            Some(t) if t.id == id => t.people.push(person),
            _ => out.push(Team {
                id,
                name,
                people: vec![person],
            }),
        }
    }
    Ok(out)
}

type ServiceKey = (Option<String>, Option<String>, String);

/// (person, service, sessions) for the range.
fn services(
    conn: &Connection,
    from: NaiveDateTime,
) -> Result<Vec<(String, ServiceKey, i64)>, duckdb::Error> {
    let mut stmt = conn.prepare(ADOPTION_SQL.get("services"))?;
    let rows = stmt.query_map([&from], |r| {
        Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?), r.get(4)?))
    })?;
    rows.collect()
}

fn team_services(team: &Team, services: &[(String, ServiceKey, i64)]) -> TeamServices {
    let members: HashSet<&str> = team.people.iter().map(String::as_str).collect();
    let mut per: BTreeMap<&ServiceKey, (i64, i64)> = BTreeMap::new();
    for (person, key, sessions) in services {
        if members.contains(person.as_str()) {
            let e = per.entry(key).or_default();
            e.0 += sessions;
            e.1 += 1;
        }
    }
    let mut services: Vec<ServiceUse> = per
        .into_iter()
        .map(|((ns, kind, name), (sessions, engineers))| ServiceUse {
            namespace: ns.clone(),
            target_type: kind.clone(),
            target: name.clone(),
            sessions,
            engineers,
        })
        .collect();
    services.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.target.cmp(&b.target)));
    TeamServices {
        id: team.id.clone(),
        name: team.name.clone(),
        engineers: team.people.len() as i64,
        services,
    }
}

/// Suggestions per team: nobody started, some going cold, few active.
fn actions(
    teams: &[Team],
    by_person: &HashMap<&str, &Facts>,
    cold: &dyn Fn(&Facts) -> bool,
    q: &AdoptionQuery,
) -> Vec<Action> {
    let mut out = Vec::new();
    for team in teams {
        let people: Vec<&Facts> = team
            .people
            .iter()
            .filter_map(|p| by_person.get(p.as_str()).copied())
            .collect();
        let n = people.len() as i64;
        let started = people.iter().filter(|f| f.ever_started).count() as i64;
        let active = people.iter().filter(|f| f.sessions > 0).count() as i64;
        let cooling = people.iter().filter(|f| cold(f)).count() as i64;
        let mut push = |kind: &'static str, message: String| {
            out.push(Action {
                id: format!("{kind}:{}", team.id),
                kind,
                group_id: team.id.clone(),
                message,
            })
        };
        if n > 0 && started == 0 {
            push(
                "teamNoStarts",
                format!(
                    "{}: none of its {n} engineers has started mirrord. Offer an onboarding session.",
                    team.name
                ),
            );
            continue;
        }
        if cooling > 0 {
            push(
                "teamGoingCold",
                format!(
                    "{}: {cooling} engineer(s) used mirrord earlier in the range but not in the last {} days. Ask what stopped them.",
                    team.name, q.thresholds.going_cold_days
                ),
            );
        }
        if n > 0 && percent(active, n) < LOW_ACTIVE_PERCENT {
            push(
                "teamLowActive",
                format!(
                    "{}: {active} of {n} engineers active in the range ({}%). Pair a champion with the team.",
                    team.name,
                    percent(active, n)
                ),
            );
        }
    }
    out
}
