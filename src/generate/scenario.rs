//! The scenario: who starts which sessions when, planned compactly and rendered on demand.
//!
//! Planning walks the period day by day. Each developer starts a Poisson number of sessions
//! per day (their rate follows a power law, weekdays and working hours in their time zone
//! dominate, and nobody appears before their join day); each CI account runs pipelines whose
//! parallel shards are short, concurrent sessions, plus a nightly run. A session becomes a
//! handful of compact [`Planned`] records (16 bytes each) that are sorted once by time.
//! Strings are only produced when an event is materialized, into a reused [`OperatorEvent`],
//! so a million events render in a couple of seconds without a million allocations.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::GenerateOptions;
use super::population::{
    Actor, CI_FILTER, CLI_VERSIONS, HTTP_FILTERS, NAMESPACES, OPERATOR_VERSIONS, Population, Role,
    pick_weighted,
};
use super::render::{FieldValue, LogLine, Renderer, mix64};
use crate::event::{EventKind, OperatorEvent};

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;
const NO_BRANCH: u32 = u32::MAX;
const NO_FILTER: u8 = u8::MAX;
/// Salt for the random stream that places non-functional lines.
const NOISE_SALT: u64 = 0x6e6f_6973_655f_6c6e;

/// Session flags.
const DECIMAL_ID: u8 = 1;
const SCALE_DOWN: u8 = 2;
const ON_COPY: u8 = 4;
const TRACED: u8 = 8;

/// Relative likelihood of a developer session starting in each local hour.
const HOUR_WEIGHTS: [f64; 24] = [
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.5, 0.9, 1.0, 1.0, 0.6, 0.8, 1.0, 1.0, 0.9,
    0.7, 0.4, 0.25, 0.2, 0.15, 0.08, 0.04,
];
const DEV_PORTS: [u16; 6] = [80, 8080, 3000, 50051, 9090, 8443];
const SLUGS: [&str; 10] = [
    "checkout",
    "refund-flow",
    "cart-merge",
    "retry-logic",
    "search-ranking",
    "ledger-export",
    "fix-timeout",
    "new-api",
    "rate-limit",
    "pagination",
];

/// A non-functional line the operator also writes (the ingest summary counts them as skipped).
struct NoiseTemplate {
    weight: f64,
    level: &'static str,
    module: &'static str,
    message: &'static str,
    fields: &'static [(&'static str, FieldValue<'static>)],
}

const NOISE: [NoiseTemplate; 5] = [
    NoiseTemplate {
        weight: 4.0,
        level: "INFO",
        module: "operator::license",
        message: "Loaded license!",
        fields: &[],
    },
    NoiseTemplate {
        weight: 2.0,
        level: "INFO",
        module: "tower_http::trace::on_response",
        message: "finished processing request",
        fields: &[
            ("latency", FieldValue::Str("3 ms")),
            ("status", FieldValue::Int(200)),
        ],
    },
    NoiseTemplate {
        weight: 1.5,
        level: "WARN",
        module: "kube_runtime::watcher",
        message: "watcher error",
        fields: &[(
            "error",
            FieldValue::Str("too old resource version: 41872 (41870)"),
        )],
    },
    NoiseTemplate {
        weight: 1.0,
        level: "WARN",
        module: "operator::session",
        message: "client connection closed unexpectedly",
        fields: &[(
            "error",
            FieldValue::Str("connection reset by peer (os error 104)"),
        )],
    },
    NoiseTemplate {
        weight: 1.0,
        level: "INFO",
        module: "operator::agent",
        message: "agent pod is ready",
        fields: &[
            ("pod", FieldValue::Str("mirrord-agent-k2x9fq8l1c")),
            ("namespace", FieldValue::Str("shop")),
        ],
    },
];

/// One planned session; strings live in the population and are looked up on render.
#[derive(Debug, Clone)]
struct Session {
    start_us: i64,
    duration_us: i64,
    session_id: u64,
    /// CI: the pipeline number (runner hostname, `{run}` filter). Developers: 0.
    pipeline: u32,
    /// Seed of the `mirrord-copy-*` pod name; 0 when the session did not copy its target.
    copy: u32,
    branch: u32,
    actor: u16,
    target: u16,
    /// Developers: index of the machine. CI: the shard number.
    machine: u8,
    cli: u8,
    operator: u8,
    flags: u8,
}

/// One planned event: enough to materialize an [`OperatorEvent`] from its session.
#[derive(Debug, Clone, Copy)]
struct Planned {
    micros: i64,
    session: u32,
    port: u16,
    kind: EventKind,
    filter: u8,
}

/// What [`Scenario::write_to`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Functional events written.
    pub events: usize,
    /// Non-functional lines (`Loaded license!`, warnings) written between them.
    pub noise_lines: usize,
}

/// A planned, time-sorted scenario. Cheap to hold even at millions of events.
#[derive(Debug, Clone)]
pub struct Scenario {
    population: Population,
    branches: Vec<String>,
    sessions: Vec<Session>,
    events: Vec<Planned>,
    seed: u64,
    period_start_us: i64,
}

impl Scenario {
    /// Plans the scenario for `opts`. With [`GenerateOptions::max_events`] the session rates
    /// are scaled up until the period holds at least that many events, then the time-sorted
    /// events are cut after that many (sessions still running at the cut stay open).
    pub fn build(opts: &GenerateOptions) -> Scenario {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let population = Population::new(&mut rng, opts.users, opts.days.max(1));
        let mut multiplier = 1.0;
        let mut plan = Planner::run(&population, opts, multiplier);
        if let Some(wanted) = opts.max_events {
            for _ in 0..16 {
                if plan.events.len() >= wanted {
                    break;
                }
                let have = plan.events.len().max(1) as f64;
                multiplier *= (wanted as f64 / have * 1.03).clamp(1.05, 1e6);
                plan = Planner::run(&population, opts, multiplier);
            }
            plan.events.truncate(wanted);
        }
        Scenario {
            population,
            branches: plan.branches,
            sessions: plan.sessions,
            events: plan.events,
            seed: opts.seed,
            period_start_us: plan.period_start_us,
        }
    }

    /// Number of functional events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the scenario has no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events in time order, each with its id set by [`OperatorEvent::finish`].
    pub fn events(&self) -> impl Iterator<Item = OperatorEvent> + '_ {
        self.events.iter().map(|planned| {
            let mut event = blank_event();
            self.fill(planned, &mut event);
            event.finish()
        })
    }

    /// Renders every event with `renderer`, with a non-functional line before an event with
    /// probability `noise` (clamped to 0..=1). Lines stay in time order. Deterministic for a
    /// given seed.
    pub fn write_to(
        &self,
        out: &mut dyn Write,
        renderer: &mut Renderer,
        noise: f64,
    ) -> io::Result<WriteSummary> {
        let noise = if noise.is_nan() {
            0.0
        } else {
            noise.clamp(0.0, 1.0)
        };
        let weights: Vec<f64> = NOISE.iter().map(|t| t.weight).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ NOISE_SALT);
        let mut event = blank_event();
        let mut summary = WriteSummary::default();
        let mut previous = self.period_start_us;
        for planned in &self.events {
            if noise > 0.0 && rng.gen_bool(noise) {
                let at = previous + rng.gen_range(0..=(planned.micros - previous).max(0));
                let template = &NOISE[pick_weighted(&mut rng, &weights)];
                let operator = self.sessions[planned.session as usize].operator;
                renderer.render_line(
                    &noise_line(
                        template,
                        at,
                        OPERATOR_VERSIONS[usize::from(operator)].version,
                    ),
                    out,
                )?;
                summary.noise_lines += 1;
            }
            self.fill(planned, &mut event);
            renderer.render_event(&event, out)?;
            summary.events += 1;
            previous = planned.micros;
        }
        Ok(summary)
    }

    /// Overwrites every field of `event` with the planned event's values (no id).
    fn fill(&self, planned: &Planned, event: &mut OperatorEvent) {
        let session = &self.sessions[planned.session as usize];
        let actor = &self.population.actors[usize::from(session.actor)];
        let release = OPERATOR_VERSIONS[usize::from(session.operator)];
        let kind = planned.kind;
        event.id.clear();
        event.timestamp = DateTime::from_timestamp_micros(planned.micros).unwrap_or_default();
        event.kind = kind;
        event.message.clear();
        event.message.push_str(if release.legacy_names {
            kind.legacy_message()
        } else {
            kind.message()
        });
        put(&mut event.level, Some("INFO"));
        fill_session_id(event, session, kind);
        self.fill_client(event, session, actor);
        self.fill_target(event, session, kind);
        let is_port = matches!(
            kind,
            EventKind::PortSteal | EventKind::PortMirror | EventKind::PortRelease
        );
        event.port = is_port.then_some(i32::from(planned.port));
        match HTTP_FILTERS.get(usize::from(planned.filter)) {
            Some(template) => {
                let slot = event.http_filter.get_or_insert_with(String::new);
                fill_filter(slot, template, &actor.handle, session.pipeline);
            }
            None => event.http_filter = None,
        }
        event.scale_down =
            (kind == EventKind::CopyTarget).then_some(session.flags & SCALE_DOWN != 0);
        event.session_duration =
            (kind == EventKind::SessionEnd).then_some(session.duration_us as f64 / 1e6);
        let has_branch = matches!(kind, EventKind::SessionStart | EventKind::SessionEnd);
        put(
            &mut event.branch,
            self.branches
                .get(session.branch as usize)
                .filter(|_| has_branch)
                .map(String::as_str),
        );
        event.ci = None;
        fill_trace(event, session, planned);
        put(&mut event.operator_version, Some(release.version));
        event.cluster = None;
        event.attributes.clear();
    }

    fn fill_client(&self, event: &mut OperatorEvent, session: &Session, actor: &Actor) {
        let machine = match actor.role {
            Role::Ci => &actor.machines[0],
            Role::Developer => {
                &actor.machines[usize::from(session.machine).min(actor.machines.len() - 1)]
            }
        };
        put(&mut event.client_id, Some(&machine.client_id));
        put(&mut event.client_name, Some(&actor.name));
        match actor.role {
            Role::Developer => put(&mut event.client_hostname, Some(&machine.hostname)),
            Role::Ci => put_fmt(
                &mut event.client_hostname,
                format_args!(
                    "runner-{:06x}-concurrent-{}",
                    session.pipeline, session.machine
                ),
            ),
        }
        put(&mut event.client_user, Some(&actor.user));
        put(
            &mut event.client_cli_version,
            Some(CLI_VERSIONS[usize::from(session.cli)]),
        );
    }

    fn fill_target(&self, event: &mut OperatorEvent, session: &Session, kind: EventKind) {
        let target = &self.population.targets[usize::from(session.target)];
        put(&mut event.target_namespace, Some(target.namespace));
        if session.flags & ON_COPY != 0 && kind != EventKind::CopyTarget {
            let pod = CopyPod(session.copy);
            match target.container {
                Some(c) => put_fmt(&mut event.target, format_args!("pod/{pod}/container/{c}")),
                None => put_fmt(&mut event.target, format_args!("pod/{pod}")),
            }
            put(&mut event.target_type, Some("pod"));
            put_fmt(&mut event.target_name, format_args!("{pod}"));
        } else {
            put(&mut event.target, Some(&target.path));
            put(&mut event.target_type, Some(target.kind));
            put(&mut event.target_name, target.name);
        }
        put(&mut event.target_container, target.container);
    }
}

fn blank_event() -> OperatorEvent {
    OperatorEvent::new(EventKind::SessionStart, DateTime::<Utc>::default())
}

fn fill_session_id(event: &mut OperatorEvent, session: &Session, kind: EventKind) {
    if kind == EventKind::CopyTarget {
        event.session_id = None;
    } else if session.flags & DECIMAL_ID != 0 {
        put_fmt(
            &mut event.session_id,
            format_args!("{}", session.session_id),
        );
    } else {
        put_fmt(
            &mut event.session_id,
            format_args!("{:016X}", session.session_id),
        );
    }
}

fn fill_trace(event: &mut OperatorEvent, session: &Session, planned: &Planned) {
    if session.flags & TRACED == 0 {
        event.trace_id = None;
        event.span_id = None;
        return;
    }
    let id = session.session_id;
    put_fmt(
        &mut event.trace_id,
        format_args!("{:016x}{:016x}", mix64(id), mix64(id ^ 0x7472_6163_6500)),
    );
    let span = mix64(id ^ (planned.micros as u64).rotate_left(17) ^ u64::from(planned.port));
    put_fmt(&mut event.span_id, format_args!("{span:016x}"));
}

/// Writes `template` with `{handle}` and `{run}` filled in.
fn fill_filter(out: &mut String, template: &str, handle: &str, pipeline: u32) {
    out.clear();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if let Some(after) = tail.strip_prefix("{handle}") {
            out.push_str(handle);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{run}") {
            let _ = write!(out, "run-{pipeline}");
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
}

/// Sets an optional string, reusing its allocation.
fn put(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (None, Some(v)) => *slot = Some(v.to_owned()),
        (_, None) => *slot = None,
    }
}

fn put_fmt(slot: &mut Option<String>, args: fmt::Arguments<'_>) {
    let s = slot.get_or_insert_with(String::new);
    s.clear();
    let _ = s.write_fmt(args);
}

/// The name of a copy-target pod: `mirrord-copy-` and ten characters of a Kubernetes-style
/// random suffix.
struct CopyPod(u32);

impl fmt::Display for CopyPod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        f.write_str("mirrord-copy-")?;
        let mut h = mix64(u64::from(self.0));
        for _ in 0..10 {
            f.write_char(char::from(ALPHABET[(h % ALPHABET.len() as u64) as usize]))?;
            h /= ALPHABET.len() as u64;
        }
        Ok(())
    }
}

fn noise_line(template: &NoiseTemplate, micros: i64, version: &'static str) -> LogLine<'static> {
    LogLine {
        timestamp: DateTime::from_timestamp_micros(micros).unwrap_or_default(),
        level: template.level,
        module: template.module,
        message: template.message,
        fields: template.fields.to_vec(),
        service_version: Some(version),
        trace_id: None,
        span_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// A port a session subscribes: number and HTTP filter (index into [`HTTP_FILTERS`]).
type PortPlan = (u16, u8);

/// How a planned session's events come out.
#[derive(Debug, Clone, Copy)]
struct Shape {
    steal: bool,
    /// Start but no End (still running, or the operator restarted).
    open: bool,
    /// End but no Start (the Start line was lost).
    headless: bool,
}

struct Planner<'p> {
    population: &'p Population,
    rng: ChaCha8Rng,
    seed: u64,
    days: u32,
    multiplier: f64,
    period_start_us: i64,
    branches: Vec<String>,
    branch_cache: HashMap<(u16, u32, u8), u32>,
    branch_index: HashMap<String, u32>,
    sessions: Vec<Session>,
    events: Vec<Planned>,
    pipelines: u32,
}

struct Plan {
    branches: Vec<String>,
    sessions: Vec<Session>,
    events: Vec<Planned>,
    period_start_us: i64,
}

impl<'p> Planner<'p> {
    fn run(population: &'p Population, opts: &GenerateOptions, multiplier: f64) -> Plan {
        let days = opts.days.max(1);
        let first = opts
            .end
            .checked_sub_days(chrono::Days::new(u64::from(days - 1)))
            .unwrap_or(opts.end);
        let period_start_us = first
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_micros());
        let mut planner = Planner {
            population,
            rng: ChaCha8Rng::seed_from_u64(
                opts.seed
                    .wrapping_mul(0x9E37_79B9)
                    .wrapping_add(multiplier.to_bits()),
            ),
            seed: opts.seed,
            days,
            multiplier,
            period_start_us,
            branches: Vec::new(),
            branch_cache: HashMap::new(),
            branch_index: HashMap::new(),
            sessions: Vec::new(),
            events: Vec::new(),
            pipelines: 0,
        };
        for day in 0..days {
            let date = first
                .checked_add_days(chrono::Days::new(u64::from(day)))
                .unwrap_or(first);
            planner.plan_day(day, date);
        }
        let period_end_us = period_start_us + i64::from(days) * MICROS_PER_DAY;
        let mut events = planner.events;
        events.retain(|e| (period_start_us..period_end_us).contains(&e.micros));
        events.sort_unstable_by_key(|e| (e.micros, e.session, kind_rank(e.kind), e.port));
        Plan {
            branches: planner.branches,
            sessions: planner.sessions,
            events,
            period_start_us,
        }
    }

    fn plan_day(&mut self, day: u32, date: NaiveDate) {
        let day_start = self.period_start_us + i64::from(day) * MICROS_PER_DAY;
        let population = self.population;
        for actor in 0..population.actors.len() {
            let a = &population.actors[actor];
            if day < a.join_day || day > a.leave_day {
                continue;
            }
            let role = a.role;
            let mood = (0.4 * normal(&mut self.rng)).exp();
            let lambda = a.rate * weekday_factor(date.weekday(), role) * self.multiplier * mood;
            let count = poisson(&mut self.rng, lambda);
            for _ in 0..count {
                match role {
                    Role::Developer => self.plan_developer_session(actor, day, day_start),
                    Role::Ci => {
                        let at =
                            day_start + self.rng.gen_range(7 * 3600..20 * 3600) * MICROS_PER_SEC;
                        self.plan_pipeline(actor, day, at);
                    }
                }
            }
            if a.nightly {
                let nightly = day_start + (2 * 3600 + self.rng.gen_range(0..600)) * MICROS_PER_SEC;
                self.plan_pipeline(actor, day, nightly);
            }
        }
    }

    fn plan_developer_session(&mut self, actor: usize, day: u32, day_start: i64) {
        let population = self.population;
        let a = &population.actors[actor];
        let hour = pick_weighted(&mut self.rng, &HOUR_WEIGHTS) as i64;
        let local = hour * 3600 + self.rng.gen_range(0..3600);
        let start_us = day_start
            + (local - i64::from(a.utc_offset_min) * 60) * MICROS_PER_SEC
            + self.rng.gen_range(0..MICROS_PER_SEC);
        let target = self.developer_target(a);
        let targetless = population.targets[usize::from(target)].kind == "targetless";
        let operator = operator_at(day, self.days);
        let mut session = self.session(
            actor,
            target,
            start_us,
            operator,
            cli_at(day, a.cli_lag_days, self.days),
        );
        session.duration_us = self.duration(operator, 840.0, 1.1, 8.0, 8.0 * 3600.0);
        session.machine = u8::from(a.machines.len() > 1 && self.rng.gen_bool(0.25));
        if !targetless && self.rng.gen_bool(0.12) {
            self.copy_target(&mut session, 0.3);
        }
        if a.traces && self.rng.gen_bool(0.7) {
            session.flags |= TRACED;
        }
        if !a.no_branch && self.rng.gen_bool(0.8) {
            let slot = self.rng.gen_range(0..3);
            session.branch = self.branch(actor, day / 7, slot);
        }
        let steal = self.rng.gen_bool(0.55);
        let port_count = if targetless {
            0
        } else {
            pick_weighted(&mut self.rng, &[25.0, 50.0, 20.0, 5.0])
        };
        let ports = self.developer_ports(port_count, steal);
        let shape = Shape {
            steal,
            open: self.rng.gen_bool(0.02),
            headless: self.rng.gen_bool(0.005),
        };
        self.push_session(session, &ports, shape);
    }

    fn developer_target(&mut self, a: &Actor) -> u16 {
        let roll = self.rng.gen_range(0.0..1.0);
        if roll < 0.07 {
            self.population.targetless(a.home)
        } else if roll < 0.2 {
            let staging = self.population.in_namespace("staging");
            staging[self.rng.gen_range(0..staging.len())]
        } else {
            let weights: Vec<f64> = (0..a.favourites.len())
                .map(|i| 1.0 / (i as f64 + 1.0).powi(2))
                .collect();
            a.favourites[pick_weighted(&mut self.rng, &weights)]
        }
    }

    fn developer_ports(&mut self, count: usize, steal: bool) -> Vec<PortPlan> {
        let first = self.rng.gen_range(0..DEV_PORTS.len());
        (0..count)
            .map(|i| {
                let port = DEV_PORTS[(first + i * 2) % DEV_PORTS.len()];
                let filter = if steal && self.rng.gen_bool(0.4) {
                    pick_weighted(&mut self.rng, &[3.0, 2.0, 1.0, 1.0, 1.0, 1.0]) as u8
                } else {
                    NO_FILTER
                };
                (port, filter)
            })
            .collect()
    }

    /// A CI pipeline: 1–8 parallel shards, each a short session started within seconds.
    fn plan_pipeline(&mut self, actor: usize, day: u32, start_us: i64) {
        self.pipelines += 1;
        let pipeline = self.pipelines;
        let population = self.population;
        let a = &population.actors[actor];
        let shards = 1 + poisson(&mut self.rng, 1.5).min(7);
        let slot = self.rng.gen_range(0..12);
        let branch = if self.rng.gen_bool(0.5) {
            NO_BRANCH
        } else {
            self.branch(actor, day / 7, slot)
        };
        let copy = self.rng.gen_bool(0.25);
        let target = a.favourites[self.rng.gen_range(0..a.favourites.len())];
        let steal = self.rng.gen_bool(0.7);
        let filter = if steal && self.rng.gen_bool(0.5) {
            CI_FILTER
        } else {
            NO_FILTER
        };
        let port = if self.rng.gen_bool(0.6) { 8080 } else { 80 };
        let operator = operator_at(day, self.days);
        let cli = cli_at(day, a.cli_lag_days, self.days);
        for shard in 0..shards {
            let at = start_us + self.rng.gen_range(0..20 * MICROS_PER_SEC);
            let mut session = self.session(actor, target, at, operator, cli);
            session.duration_us = self.duration(operator, 100.0, 0.7, 5.0, 1800.0);
            session.pipeline = pipeline;
            session.machine = shard as u8;
            session.branch = branch;
            if copy {
                self.copy_target(&mut session, 0.0);
            }
            let shape = Shape {
                steal,
                open: self.rng.gen_bool(0.01),
                headless: self.rng.gen_bool(0.003),
            };
            self.push_session(session, &[(port, filter)], shape);
        }
    }

    fn session(
        &mut self,
        actor: usize,
        target: u16,
        start_us: i64,
        operator: u8,
        cli: u8,
    ) -> Session {
        Session {
            start_us,
            duration_us: MICROS_PER_SEC,
            session_id: self.rng.r#gen(),
            pipeline: 0,
            copy: 0,
            branch: NO_BRANCH,
            actor: actor as u16,
            target,
            machine: 0,
            cli,
            operator,
            flags: if self.rng.gen_bool(0.12) {
                DECIMAL_ID
            } else {
                0
            },
        }
    }

    fn copy_target(&mut self, session: &mut Session, scale_down: f64) {
        session.copy = self.rng.r#gen::<u32>() | 1;
        if self.rng.gen_bool(scale_down) {
            session.flags |= SCALE_DOWN;
        }
        if self.rng.gen_bool(0.7) {
            session.flags |= ON_COPY;
        }
    }

    /// A log-normal session length around `median` seconds, clamped; whole seconds for
    /// operators that log them, milliseconds otherwise.
    fn duration(&mut self, operator: u8, median: f64, sigma: f64, min: f64, max: f64) -> i64 {
        let seconds = (median * (sigma * normal(&mut self.rng)).exp()).clamp(min, max);
        if OPERATOR_VERSIONS[usize::from(operator)].fractional_durations {
            (seconds * 1000.0).round() as i64 * 1000
        } else {
            seconds.round() as i64 * MICROS_PER_SEC
        }
    }

    /// Copy Target shortly before the start; Steal/Mirror in the first eighth of the session;
    /// Release (for most ports) and End in the last eighth.
    fn push_session(&mut self, session: Session, ports: &[PortPlan], shape: Shape) {
        let index = self.sessions.len() as u32;
        let start = session.start_us;
        let end = start + session.duration_us;
        let step = (session.duration_us / 8).max(1);
        let push = |events: &mut Vec<Planned>, micros, kind, port, filter| {
            events.push(Planned {
                micros,
                session: index,
                port,
                kind,
                filter,
            });
        };
        if session.copy != 0 {
            let before = self.rng.gen_range(1_500_000..25_000_000);
            push(
                &mut self.events,
                start - before,
                EventKind::CopyTarget,
                0,
                NO_FILTER,
            );
        }
        if !shape.headless {
            push(
                &mut self.events,
                start,
                EventKind::SessionStart,
                0,
                NO_FILTER,
            );
        }
        let subscribe = if shape.steal {
            EventKind::PortSteal
        } else {
            EventKind::PortMirror
        };
        let mut at = start;
        for &(port, filter) in ports {
            at += self.rng.gen_range(300_000..4_000_000).min(step);
            push(
                &mut self.events,
                at,
                subscribe,
                port,
                if shape.steal { filter } else { NO_FILTER },
            );
        }
        if !shape.open {
            for &(port, _) in ports {
                if self.rng.gen_bool(0.8) {
                    let before = self.rng.gen_range(50_000..2_000_000).min(step);
                    push(
                        &mut self.events,
                        end - before,
                        EventKind::PortRelease,
                        port,
                        NO_FILTER,
                    );
                }
            }
            push(&mut self.events, end, EventKind::SessionEnd, 0, NO_FILTER);
        }
        self.sessions.push(session);
    }

    /// The branch `actor` works on in `week` (one of a few `slot`s), interned.
    fn branch(&mut self, actor: usize, week: u32, slot: u8) -> u32 {
        let key = (actor as u16, week, slot);
        if let Some(&index) = self.branch_cache.get(&key) {
            return index;
        }
        let a = &self.population.actors[actor];
        let h =
            mix64(self.seed ^ ((actor as u64) << 40) ^ (u64::from(week) << 8) ^ u64::from(slot));
        let name = branch_name(h, a);
        let index = match self.branch_index.get(&name) {
            Some(&index) => index,
            None => {
                let index = self.branches.len() as u32;
                self.branch_index.insert(name.clone(), index);
                self.branches.push(name);
                index
            }
        };
        self.branch_cache.insert(key, index);
        index
    }
}

/// A git branch name: mostly with a Jira key (`feature/SHOP-123-checkout`,
/// `my-new-branch-PAY-42-latest`), sometimes without (`main`, `aris/new-api`), and sometimes
/// with a lowercase key that Jira does not match.
fn branch_name(h: u64, a: &Actor) -> String {
    let key = NAMESPACES[a.home].1;
    let n = 1 + (h >> 8) % 1500;
    let slug = SLUGS[((h >> 24) % SLUGS.len() as u64) as usize];
    let handle = &a.handle;
    let roll = (h >> 40) % 100;
    if a.role == Role::Ci {
        return match roll {
            0..60 => format!("feature/{key}-{n}-{slug}"),
            60..80 => format!("fix/{key}-{n}"),
            _ => "main".into(),
        };
    }
    match roll {
        0..35 => format!("feature/{key}-{n}-{slug}"),
        35..50 => format!("{handle}/{key}-{n}-{slug}"),
        50..56 => format!("my-new-branch-{key}-{n}-latest"),
        56..66 => format!("fix/{key}-{n}"),
        66..74 => "main".into(),
        74..78 => "develop".into(),
        78..88 => format!("{handle}/{slug}"),
        88..93 => format!("feature/{}-{n}-{slug}", key.to_ascii_lowercase()),
        _ => format!("feature/{slug}"),
    }
}

/// Sorting tie-breaker: the order events of one session happen in.
fn kind_rank(kind: EventKind) -> u8 {
    match kind {
        EventKind::CopyTarget => 0,
        EventKind::SessionStart => 1,
        EventKind::PortSteal | EventKind::PortMirror => 2,
        EventKind::PortRelease => 3,
        EventKind::SessionEnd => 4,
    }
}

fn weekday_factor(day: Weekday, role: Role) -> f64 {
    match (day, role) {
        (Weekday::Sat | Weekday::Sun, Role::Ci) => 0.15,
        (Weekday::Sat, Role::Developer) => 0.07,
        (Weekday::Sun, Role::Developer) => 0.04,
        (Weekday::Fri, _) => 0.8,
        _ => 1.0,
    }
}

/// The operator release running on `day`: upgrades at 20 %, 50 % and 80 % of the period.
fn operator_at(day: u32, days: u32) -> u8 {
    let progress = f64::from(day + 1) / f64::from(days);
    [0.2, 0.5, 0.8].iter().filter(|&&p| progress > p).count() as u8
}

/// The CLI release a user with `lag` days of upgrade lag runs on `day`. Releases come every
/// 13 days, the newest 3 days before the period ends.
fn cli_at(day: u32, lag: u32, days: u32) -> u8 {
    let today = i64::from(day) - i64::from(lag);
    let newest = CLI_VERSIONS.len() as i64 - 1;
    (0..=newest)
        .rev()
        .find(|&i| i64::from(days) - 4 - (newest - i) * 13 <= today)
        .unwrap_or(0) as u8
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw: Knuth's method for small means, a normal approximation for large ones.
fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 || lambda.is_nan() {
        return 0;
    }
    if lambda >= 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut product: f64 = rng.gen_range(0.0..1.0);
    let mut count = 0;
    while product > limit {
        product *= rng.gen_range(0.0..1.0);
        count += 1;
    }
    count
}
