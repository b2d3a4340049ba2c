//! Deterministic synthetic operator logs (`mirrord-usage generate`), for demos, tests and
//! the ingest benchmark.
//!
//! # Layout
//! - `population` (private): the organization: developers with a power-law appetite
//!   for sessions and staggered adoption, their machines and CLI versions, two CI service
//!   accounts, the cluster's namespaces and targets, and the operator's release history.
//! - [`Scenario`]: plans who starts which session when over `days` days ending at `end`, and
//!   materializes [`OperatorEvent`]s (ids set by [`OperatorEvent::finish`]) in time order.
//! - [`render`]: writes one line exactly as a real producer would (tracing JSON nested or
//!   flattened, fluentd, CRI, docker, plain text, OTLP/JSON, or a per-line mix).
//! - [`samples`]: the hand-checked session behind `samples/`, one file per format.
//!
//! The same seed and options (including `end`) always give byte-identical output.
//!
//! # Example
//! ```
//! use chrono::NaiveDate;
//! use mirrord_usage::generate::{GenerateOptions, events};
//!
//! let end = NaiveDate::from_ymd_opt(2026, 2, 1).expect("valid date");
//! let opts = GenerateOptions { users: 10, days: 7, ..GenerateOptions::new(end) };
//! let generated = events(&opts);
//! assert!(generated.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
//! ```

mod population;
pub mod render;
pub mod samples;
pub mod scenario;

use std::io::{self, BufWriter, Write};

use chrono::{NaiveDate, Utc};

use crate::event::OperatorEvent;
pub use render::{FieldValue, LogLine, OutputFormat, Renderer, render, render_to_string};
pub use scenario::{Scenario, WriteSummary};

/// The most developers a scenario can hold.
pub const MAX_USERS: usize = 50_000;
/// The longest period a scenario can cover, in days.
pub const MAX_DAYS: u32 = 3650;

/// Errors while generating logs.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Writing the generated lines failed (other than the reader going away).
    #[error("cannot write generated logs: {0}")]
    Io(#[from] io::Error),
    /// An option is out of range.
    #[error("invalid --{option}: {reason}")]
    InvalidOption {
        /// The option's long name, without dashes.
        option: &'static str,
        /// What is wrong and what to use instead.
        reason: String,
    },
}

/// What to generate: the scenario's size, period and seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of developers (the two CI service accounts come on top).
    pub users: usize,
    /// Length of the period in days; the last day is `end`.
    pub days: u32,
    /// Random seed; the same seed and options give the same events.
    pub seed: u64,
    /// The last day of activity (UTC).
    pub end: NaiveDate,
    /// Stop after this many events, scaling session rates up if the period would hold fewer.
    pub max_events: Option<usize>,
}

impl GenerateOptions {
    /// The defaults (40 developers, 90 days, seed 7) ending on `end`.
    pub fn new(end: NaiveDate) -> Self {
        GenerateOptions {
            users: 40,
            days: 90,
            seed: 7,
            end,
            max_events: None,
        }
    }

    /// Checks the ranges [`Scenario::build`] relies on.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if self.users == 0 || self.users > MAX_USERS {
            return Err(invalid(
                "users",
                format!("{} is out of range; use 1 to {MAX_USERS}", self.users),
            ));
        }
        if self.days == 0 || self.days > MAX_DAYS {
            return Err(invalid(
                "days",
                format!("{} is out of range; use 1 to {MAX_DAYS}", self.days),
            ));
        }
        if self
            .end
            .checked_sub_days(chrono::Days::new(u64::from(self.days)))
            .is_none()
        {
            return Err(invalid(
                "end",
                format!("{} minus {} days is not a date", self.end, self.days),
            ));
        }
        Ok(())
    }
}

impl Default for GenerateOptions {
    /// The defaults, ending today (UTC): not reproducible from one day to the next.
    fn default() -> Self {
        GenerateOptions::new(Utc::now().date_naive())
    }
}

fn invalid(option: &'static str, reason: String) -> GenerateError {
    GenerateError::InvalidOption { option, reason }
}

/// The scenario's events in time order, ids set. Panics never; out-of-range options are
/// clamped (call [`GenerateOptions::validate`] first to reject them instead).
///
/// Every event is allocated; for millions of events prefer [`Scenario::write_to`], which
/// renders from a reused buffer.
pub fn events(opts: &GenerateOptions) -> Vec<OperatorEvent> {
    Scenario::build(&clamped(opts)).events().collect()
}

fn clamped(opts: &GenerateOptions) -> GenerateOptions {
    let mut opts = opts.clone();
    opts.users = opts.users.clamp(1, MAX_USERS);
    opts.days = opts.days.clamp(1, MAX_DAYS);
    if opts.validate().is_err() {
        opts.end = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    }
    opts
}

/// `mirrord-usage generate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Number of developers. Two CI service accounts (`system:serviceaccount:*:mirrord-ci`)
    /// come on top.
    #[arg(long, default_value_t = 40)]
    pub users: usize,
    /// Days of activity, ending at --end.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Random seed; the same seed and options (including --end) give byte-identical output.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Last day of activity, as YYYY-MM-DD (UTC). Defaults to today; pass it for output that
    /// does not change from day to day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end: Option<NaiveDate>,
    /// Shape of the lines, as the named producer writes them.
    #[arg(long, value_enum, default_value_t = OutputFormat::TracingJson)]
    pub format: OutputFormat,
    /// Stop after N functional events. When --users and --days would give fewer, session
    /// rates are scaled up until the period holds N (for benchmarks: --events 1000000).
    #[arg(long, value_name = "N")]
    pub events: Option<usize>,
    /// Chance (0 to 1) of a non-functional line (`Loaded license!`, a WARN) before each event;
    /// `ingest` counts them as skipped. 0 writes functional events only.
    #[arg(long, default_value_t = 0.01, value_parser = parse_fraction)]
    pub noise: f64,
    /// Split CRI (and docker json-file) lines longer than this many bytes into partial pieces,
    /// like containerd's max_container_log_line_size.
    #[arg(long, value_name = "BYTES", default_value_t = render::DEFAULT_CRI_SPLIT, value_parser = parse_split)]
    pub cri_split: usize,
}

impl GenerateArgs {
    /// The scenario options these arguments ask for (`--end` defaults to today, UTC).
    pub fn options(&self) -> Result<GenerateOptions, GenerateError> {
        let opts = GenerateOptions {
            users: self.users,
            days: self.days,
            seed: self.seed,
            end: self.end.unwrap_or_else(|| Utc::now().date_naive()),
            max_events: self.events,
        };
        opts.validate()?;
        Ok(opts)
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "`{s}` is not a fraction between 0 and 1 (e.g. 0.01)"
        )),
    }
}

fn parse_split(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a positive number of bytes (containerd's default is 16384)"
        )),
    }
}

/// Writes the generated log lines to `out`. A reader that goes away (closed pipe, e.g.
/// `generate | head`) ends generation quietly.
pub fn run_cli(args: &GenerateArgs, out: &mut dyn Write) -> Result<(), GenerateError> {
    let opts = args.options()?;
    let scenario = Scenario::build(&opts);
    let mut renderer = Renderer::new(args.format).with_cri_split(args.cri_split);
    let mut writer = BufWriter::with_capacity(256 * 1024, out);
    let written = scenario
        .write_to(&mut writer, &mut renderer, args.noise)
        .and_then(|_| writer.flush());
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
