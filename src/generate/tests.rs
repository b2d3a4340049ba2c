//! Tests of the scenario and the `generate` command line.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use chrono::{Datelike, NaiveDate, Weekday};
use clap::Parser;
use serde_json::Value;

use super::*;
use crate::event::EventKind;

fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 1).expect("valid date")
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: GenerateArgs,
}

fn args(extra: &[&str]) -> GenerateArgs {
    let mut argv = vec!["generate", "--end", "2026-02-01"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("valid arguments").args
}

fn generate(extra: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    run_cli(&args(extra), &mut out).expect("generation succeeds");
    out
}

/// The default scenario (40 developers, 90 days), shared by the realism tests.
fn default_events() -> &'static [OperatorEvent] {
    static EVENTS: std::sync::OnceLock<Vec<OperatorEvent>> = std::sync::OnceLock::new();
    EVENTS.get_or_init(|| events(&GenerateOptions::new(end())))
}

fn is_ci(e: &OperatorEvent) -> bool {
    e.client_user
        .as_deref()
        .is_some_and(|u| u.starts_with("system:serviceaccount:"))
}

fn starts(events: &[OperatorEvent]) -> impl Iterator<Item = &OperatorEvent> {
    events.iter().filter(|e| e.kind == EventKind::SessionStart)
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let small = [
        "--users", "12", "--days", "14", "--noise", "0.05", "--format", "mixed",
    ];
    let a = generate(&small);
    let b = generate(&small);
    assert!(
        a.len() > 10_000,
        "a real amount of output: {} bytes",
        a.len()
    );
    assert!(a == b, "same seed gives identical bytes");
    let mut other = small.to_vec();
    other.extend_from_slice(&["--seed", "8"]);
    assert!(
        generate(&other) != a,
        "a different seed gives different output"
    );
}

#[test]
fn events_are_sorted_finished_and_unique() {
    let events = default_events();
    assert!(events.len() > 5_000, "{} events", events.len());
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(
        events
            .iter()
            .all(|e| e.id.len() == 32 && e.id == e.compute_id())
    );
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "content ids are unique");
    let first = end() - chrono::Days::new(89);
    assert!(
        events
            .iter()
            .all(|e| (first..=end()).contains(&e.timestamp.date_naive()))
    );
}

#[test]
fn all_kinds_both_message_generations_and_several_targets() {
    let events = default_events();
    let kinds: HashSet<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 6);
    assert!(
        events.iter().any(|e| e.message == e.kind.legacy_message()),
        "early operator logs legacy names"
    );
    assert!(events.iter().any(|e| e.message == e.kind.message()));
    assert!(
        events
            .iter()
            .all(|e| EventKind::from_message(&e.message) == Some(e.kind))
    );
    let namespaces: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.target_namespace.as_deref())
        .collect();
    assert!(namespaces.is_superset(&HashSet::from(["shop", "payments", "search", "staging"])));
    let types: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.target_type.as_deref())
        .collect();
    for kind in [
        "deployment",
        "rollout",
        "pod",
        "statefulset",
        "job",
        "targetless",
    ] {
        assert!(types.contains(kind), "target type {kind} in {types:?}");
    }
    let targetless = events
        .iter()
        .find(|e| e.target.as_deref() == Some("targetless"))
        .expect("targetless");
    assert_eq!(targetless.target_name, None);
}

#[test]
fn copy_target_sessions_include_mirrord_copy_pods() {
    let events = default_events();
    let copies: Vec<&OperatorEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::CopyTarget)
        .collect();
    assert!(
        copies
            .iter()
            .all(|e| e.scale_down.is_some() && e.session_id.is_none())
    );
    assert!(copies.iter().any(|e| e.scale_down == Some(true)));
    assert!(copies.iter().any(|e| e.scale_down == Some(false)));
    let on_copy: Vec<&OperatorEvent> = events
        .iter()
        .filter(|e| {
            e.target_name
                .as_deref()
                .is_some_and(|n| n.starts_with("mirrord-copy-"))
        })
        .collect();
    assert!(!on_copy.is_empty());
    assert!(on_copy.iter().all(|e| {
        e.target_type.as_deref() == Some("pod")
            && e.target
                .as_deref()
                .is_some_and(|t| t.starts_with("pod/mirrord-copy-"))
    }));
}

#[test]
fn ports_filters_and_session_ids_vary() {
    let events = default_events();
    let steals: Vec<&OperatorEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::PortSteal)
        .collect();
    assert!(
        steals
            .iter()
            .all(|e| e.port.is_some() && e.session_id.is_some())
    );
    let filters: HashSet<&str> = steals
        .iter()
        .filter_map(|e| e.http_filter.as_deref())
        .collect();
    assert!(filters.iter().any(|f| f.starts_with("header=x-user: ")));
    assert!(filters.contains("path=^/api/orders"));
    assert!(steals.iter().any(|e| e.http_filter.is_none()));
    assert!(
        events
            .iter()
            .filter(|e| e.kind != EventKind::PortSteal)
            .all(|e| e.http_filter.is_none())
    );
    let ids: Vec<&str> = starts(events)
        .filter_map(|e| e.session_id.as_deref())
        .collect();
    let is_hex = |s: &str| {
        s.len() == 16
            && s.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
    };
    let is_decimal = |s: &str| s.parse::<u64>().is_ok();
    assert!(ids.iter().all(|s| is_hex(s) || is_decimal(s)));
    let decimal = ids.iter().filter(|s| !is_hex(s)).count();
    assert!(
        decimal > 0 && decimal * 4 < ids.len(),
        "{decimal} decimal of {}",
        ids.len()
    );
}

#[test]
fn sessions_open_headless_and_durations_match_timestamps() {
    let events = default_events();
    let mut sessions: HashMap<&str, (Option<&OperatorEvent>, Option<&OperatorEvent>)> =
        HashMap::new();
    for e in events {
        let Some(id) = e.session_id.as_deref() else {
            continue;
        };
        let entry = sessions.entry(id).or_default();
        match e.kind {
            EventKind::SessionStart => entry.0 = Some(e),
            EventKind::SessionEnd => entry.1 = Some(e),
            _ => {}
        }
    }
    let open = sessions
        .values()
        .filter(|(s, e)| s.is_some() && e.is_none())
        .count();
    let headless = sessions
        .values()
        .filter(|(s, e)| s.is_none() && e.is_some())
        .count();
    let complete: Vec<_> = sessions
        .values()
        .filter_map(|(s, e)| Some(((*s)?, (*e)?)))
        .collect();
    assert!(
        open > 0 && open * 10 < sessions.len(),
        "a small fraction open: {open} of {}",
        sessions.len()
    );
    assert!(
        headless > 0 && headless * 50 < sessions.len(),
        "a tiny fraction headless: {headless}"
    );
    for (start, end) in &complete {
        let micros = (end.timestamp - start.timestamp)
            .num_microseconds()
            .expect("span");
        let duration = end.session_duration.expect("End carries a duration");
        assert!(
            (duration * 1e6 - micros as f64).abs() < 0.5,
            "{duration} vs {micros} µs"
        );
    }
    assert!(
        complete
            .iter()
            .any(|(_, e)| e.session_duration.is_some_and(|d| d.fract() != 0.0))
    );
    assert!(
        complete
            .iter()
            .any(|(_, e)| e.session_duration.is_some_and(|d| d.fract() == 0.0))
    );
}

#[test]
fn ci_accounts_run_many_short_sometimes_concurrent_sessions() {
    let events = default_events();
    let total = starts(events).count();
    let ci: Vec<&OperatorEvent> = starts(events).filter(|e| is_ci(e)).collect();
    let share = ci.len() as f64 / total as f64;
    assert!((0.1..0.6).contains(&share), "CI share of sessions {share}");
    assert!(
        ci.iter()
            .all(|e| e.client_name.as_deref() == Some("mirrord-ci@acme"))
    );
    let users: HashSet<&str> = ci.iter().filter_map(|e| e.client_user.as_deref()).collect();
    assert!(users.contains("system:serviceaccount:ci:mirrord-ci") && users.len() == 2);
    let ends: Vec<&OperatorEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::SessionEnd && is_ci(e))
        .collect();
    let mean = ends.iter().filter_map(|e| e.session_duration).sum::<f64>() / ends.len() as f64;
    assert!(mean < 600.0, "CI sessions are short: mean {mean} s");
    // Concurrency: some CI session starts while the previous CI session still runs.
    let end_of: HashMap<&str, chrono::DateTime<chrono::Utc>> = ends
        .iter()
        .filter_map(|e| Some((e.session_id.as_deref()?, e.timestamp)))
        .collect();
    let concurrent = ci.windows(2).filter(|w| {
        let running_until = w[0].session_id.as_deref().and_then(|id| end_of.get(id));
        running_until.is_some_and(|&until| w[1].timestamp < until)
    });
    assert!(concurrent.count() > 10, "parallel CI shards overlap");
}

#[test]
fn developers_follow_a_power_law_and_adopt_over_time() {
    let events = default_events();
    let mut per_user: HashMap<&str, usize> = HashMap::new();
    for e in starts(events).filter(|e| !is_ci(e)) {
        *per_user
            .entry(e.client_user.as_deref().unwrap_or_default())
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = per_user.values().copied().collect();
    counts.sort_unstable();
    assert!(
        counts.len() >= 35,
        "most of the 40 developers used mirrord: {}",
        counts.len()
    );
    let (median, top) = (counts[counts.len() / 2], counts[counts.len() - 1]);
    assert!(
        top >= 5 * median,
        "power users dominate: top {top}, median {median}"
    );
    let first_week = end() - chrono::Days::new(83);
    let early: HashSet<&str> = starts(events)
        .filter(|e| e.timestamp.date_naive() < first_week)
        .filter_map(|e| e.client_user.as_deref())
        .collect();
    assert!(
        early.len() * 3 < per_user.len() * 2,
        "adoption grows: {} early of {}",
        early.len(),
        per_user.len()
    );
    let machines: HashMap<&str, HashSet<&str>> = events.iter().fold(HashMap::new(), |mut m, e| {
        if let (Some(u), Some(id)) = (e.client_user.as_deref(), e.client_id.as_deref()) {
            m.entry(u).or_default().insert(id);
        }
        m
    });
    assert!(
        machines.values().any(|ids| ids.len() == 2),
        "someone has two machines"
    );
}

#[test]
fn activity_is_weekday_heavy() {
    let events = default_events();
    let (mut weekday, mut weekend) = (0usize, 0usize);
    for e in starts(events).filter(|e| !is_ci(e)) {
        match e.timestamp.weekday() {
            Weekday::Sat | Weekday::Sun => weekend += 1,
            _ => weekday += 1,
        }
    }
    // Per day: 5 weekdays against 2 weekend days; time zones shift a few into the weekend.
    assert!(
        weekday as f64 / 5.0 > 4.0 * weekend as f64 / 2.0,
        "{weekday} weekday, {weekend} weekend"
    );
}

#[test]
fn branches_carry_jira_keys_sometimes() {
    let events = default_events();
    let starts: Vec<&OperatorEvent> = starts(events).collect();
    let has_key = |b: &str| {
        b.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .any(|part| {
                part.split('-').collect::<Vec<_>>().windows(2).any(|w| {
                    w[0].len() >= 2
                        && w[0].chars().all(|c| c.is_ascii_uppercase())
                        && !w[1].is_empty()
                        && w[1].chars().all(|c| c.is_ascii_digit())
                })
            })
    };
    let branches: Vec<&str> = starts.iter().filter_map(|e| e.branch.as_deref()).collect();
    assert!(
        branches
            .iter()
            .any(|b| has_key(b) && b.starts_with("feature/"))
    );
    assert!(
        branches
            .iter()
            .any(|b| b.starts_with("my-new-branch-") && b.ends_with("-latest"))
    );
    assert!(branches.iter().any(|b| !has_key(b)));
    assert!(starts.iter().any(|e| e.branch.is_none()));
    assert!(
        events
            .iter()
            .filter(|e| e.branch.is_some())
            .all(|e| matches!(e.kind, EventKind::SessionStart | EventKind::SessionEnd))
    );
}

#[test]
fn cli_versions_upgrade_over_time_per_machine() {
    let events = default_events();
    let versions: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.client_cli_version.as_deref())
        .collect();
    assert!(versions.len() >= 3, "{versions:?}");
    let mut last: HashMap<&str, (u32, u32, u32)> = HashMap::new();
    for e in events {
        let (Some(id), Some(v)) = (e.client_id.as_deref(), e.client_cli_version.as_deref()) else {
            continue;
        };
        let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        let version = (parts[0], parts[1], parts[2]);
        let previous = last.insert(id, version).unwrap_or(version);
        assert!(
            previous <= version,
            "{id} downgraded from {previous:?} to {version:?}"
        );
    }
    let operators: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.operator_version.as_deref())
        .collect();
    assert!(operators.len() >= 3);
    let traced = events.iter().filter(|e| e.trace_id.is_some()).count();
    assert!(
        traced > 0 && traced * 4 < events.len(),
        "a fraction traced: {traced}"
    );
}

#[test]
fn max_events_yields_exactly_n() {
    let opts = GenerateOptions {
        users: 5,
        days: 3,
        max_events: Some(60_000),
        ..GenerateOptions::new(end())
    };
    let scenario = Scenario::build(&opts);
    assert_eq!(scenario.len(), 60_000);
    let few = GenerateOptions {
        max_events: Some(123),
        ..GenerateOptions::new(end())
    };
    assert_eq!(events(&few).len(), 123);
    let out = generate(&[
        "--users", "5", "--days", "3", "--events", "2500", "--noise", "0",
    ]);
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2500);
}

#[test]
fn noise_lines_are_rendered_between_events() {
    let out = String::from_utf8(generate(&["--users", "8", "--days", "7", "--noise", "0.2"]))
        .expect("utf8");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("tracing JSON"))
        .collect();
    let noise = lines
        .iter()
        .filter(|v| {
            v["fields"]["message"]
                .as_str()
                .and_then(EventKind::from_message)
                .is_none()
        })
        .count();
    let share = noise as f64 / lines.len() as f64;
    assert!((0.1..0.25).contains(&share), "noise share {share}");
    assert!(out.contains("Loaded license!") && out.contains(r#""level":"WARN""#));
    let times: Vec<&str> = lines
        .iter()
        .filter_map(|v| v["timestamp"].as_str())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "noise keeps time order"
    );
    let quiet = generate(&["--users", "8", "--days", "7", "--noise", "0"]);
    assert!(!String::from_utf8_lossy(&quiet).contains("Loaded license!"));
}

#[test]
fn every_format_renders_the_scenario_parseably() {
    for format in OutputFormat::CONCRETE {
        let out = generate(&[
            "--users",
            "4",
            "--days",
            "2",
            "--events",
            "300",
            "--format",
            format.name(),
        ]);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.lines().count() >= 300, "{format:?}");
        for line in text.lines() {
            let json = match format {
                OutputFormat::Text => {
                    assert!(
                        line.contains("Z  INFO ") || line.contains("Z  WARN "),
                        "{line}"
                    );
                    continue;
                }
                OutputFormat::Cri => line.splitn(4, ' ').nth(3).unwrap_or_default(),
                _ => line,
            };
            if let Err(e) = serde_json::from_str::<Value>(json) {
                panic!("{format:?} line is not JSON ({e}): {line}");
            }
        }
    }
}

#[test]
fn options_are_validated() {
    let bad = |extra: &[&str]| {
        let mut argv = vec!["generate"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).is_err()
    };
    assert!(bad(&["--noise", "1.5"]));
    assert!(bad(&["--cri-split", "0"]));
    assert!(bad(&["--end", "2026-13-01"]));
    assert!(bad(&["--format", "yaml"]));
    assert!(matches!(
        run_cli(&args(&["--users", "0"]), &mut Vec::new()),
        Err(GenerateError::InvalidOption {
            option: "users",
            ..
        })
    ));
    assert!(matches!(
        run_cli(&args(&["--days", "0"]), &mut Vec::new()),
        Err(GenerateError::InvalidOption { option: "days", .. })
    ));
    assert_eq!(
        args(&["--format", "otlp-json"]).format,
        OutputFormat::OtlpJson
    );
}

/// Accepts `limit` bytes, then fails every write with `kind`.
struct Closing {
    limit: usize,
    written: usize,
    kind: io::ErrorKind,
}

impl Write for Closing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written >= self.limit {
            return Err(io::Error::new(self.kind, "reader went away"));
        }
        let n = buf.len().min(self.limit - self.written);
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_pipe_stops_quietly_other_errors_surface() {
    let mut pipe = Closing {
        limit: 1000,
        written: 0,
        kind: io::ErrorKind::BrokenPipe,
    };
    assert!(run_cli(&args(&["--users", "5", "--days", "5"]), &mut pipe).is_ok());
    assert_eq!(pipe.written, 1000);
    let mut full = Closing {
        limit: 1000,
        written: 0,
        kind: io::ErrorKind::StorageFull,
    };
    assert!(matches!(
        run_cli(&args(&["--users", "5", "--days", "5"]), &mut full),
        Err(GenerateError::Io(_))
    ));
}

/// `cargo test --release --lib generate::tests::million -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: a million events"]
fn million_events_render_in_seconds() {
    let started = std::time::Instant::now();
    let mut sink = CountingSink(0);
    run_cli(
        &args(&["--events", "1000000", "--noise", "0.01"]),
        &mut sink,
    )
    .expect("generate");
    let elapsed = started.elapsed();
    println!(
        "1,000,000 events, {} MB of tracing JSON in {elapsed:?}",
        sink.0 / 1_000_000
    );
    assert!(elapsed.as_secs() < 20);
}

struct CountingSink(usize);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
