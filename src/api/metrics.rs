//! `GET /metrics`: Prometheus/OpenMetrics series computed from the database at scrape time
//! (so they survive restarts and agree with the reports), plus the pipeline's own counters.
//!
//! Two families: the operator-equivalent series under the operator's own names
//! (`mirrord_sessions_create_total`, the `mirrord_sessions_duration` histogram in seconds, their
//! `mirrord_ci_*` twins) for users of the operator's metrics and dashboards, and
//! `mirrord_usage_*` series the generated Grafana dashboard reads. Queries live in
//! `metrics.sql`, one named query each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use duckdb::Connection;
use duckdb::types::Value as DbValue;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use super::{ApiError, AppState};
use crate::named_sql::NamedSql;
use crate::pipeline::PipelineStats;

/// The scrape's queries, one per series family.
pub const QUERIES: NamedSql = NamedSql::new(
    "src/api/metrics.sql",
    include_str!("metrics.sql"),
    &[
        "sessions",
        "durations",
        "operator_sessions",
        "operator_sessions_by_kind",
        "open_sessions",
        "active_users",
        "users",
        "ports",
        "copies",
        "cli_versions",
        "events",
        "stored_by_source",
        "rejected_by_source",
        "last_event",
        "jira_outbox",
        "group_users",
    ],
);
use crate::rules::DURATION_BUCKETS;

type Labels = Vec<(String, String)>;

/// Rows of a named query as text cells (last columns numeric).
fn rows(conn: &Connection, name: &str) -> Result<Vec<Vec<DbValue>>, duckdb::Error> {
    rows_with(conn, name, [])
}

/// [`rows`] with parameters.
fn rows_with(
    conn: &Connection,
    name: &str,
    params: impl duckdb::Params,
) -> Result<Vec<Vec<DbValue>>, duckdb::Error> {
    let started = std::time::Instant::now();
    let mut stmt = conn.prepare(QUERIES.get(name))?;
    let mut out = Vec::new();
    let mut rows = stmt.query(params)?;
    let n = rows.as_ref().map(|s| s.column_count()).unwrap_or(0);
    while let Some(r) = rows.next()? {
        out.push(
            (0..n)
                .map(|i| r.get::<_, DbValue>(i))
                .collect::<Result<_, _>>()?,
        );
    }
    tracing::debug!(
        query = name,
        rows = out.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "metrics query"
    );
    Ok(out)
}

fn text(v: &DbValue) -> String {
    match v {
        DbValue::Text(s) => s.clone(),
        DbValue::Null => String::new(),
        other => format!("{other:?}"),
    }
}

fn num(v: &DbValue) -> f64 {
    match v {
        DbValue::Double(f) => *f,
        DbValue::Float(f) => *f as f64,
        DbValue::Decimal(d) => d.to_string().parse().unwrap_or(0.0),
        other => crate::analytics::reports::db_int(other) as f64,
    }
}

fn labels(names: &[&str], row: &[DbValue]) -> Labels {
    names
        .iter()
        .zip(row)
        .map(|(n, v)| (n.to_string(), text(v)))
        .collect()
}

/// A counter family filled from a query: label columns first, then one value column.
fn counter_family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    names: &[&str],
    rows: &[Vec<DbValue>],
    value_col: usize,
) -> Family<Labels, Counter<f64, AtomicU64>> {
    let fam = Family::<Labels, Counter<f64, AtomicU64>>::default();
    for r in rows {
        fam.get_or_create(&labels(names, r))
            .inc_by(num(&r[value_col]));
    }
    reg.register(name, help, fam.clone());
    fam
}

fn gauge_family(
    reg: &mut Registry,
    name: &str,
    help: &str,
    names: &[&str],
    rows: &[Vec<DbValue>],
    value_col: usize,
) {
    let fam = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for r in rows {
        fam.get_or_create(&labels(names, r)).set(num(&r[value_col]));
    }
    reg.register(name, help, fam);
}

/// A histogram whose buckets the database counted: sum, count and the count of each bucket
/// (not cumulative; the last bound is +Inf), as prometheus-client's own `Histogram` encodes.
#[derive(Debug, Default)]
struct CountedHistogram(std::sync::RwLock<Counted>);

/// Sum, count, and each bucket's upper bound and count.
type Counted = (f64, u64, Vec<(f64, u64)>);

impl CountedHistogram {
    fn new() -> Self {
        let buckets = DURATION_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .map(|le| (le, 0))
            .collect();
        CountedHistogram(std::sync::RwLock::new((0.0, 0, buckets)))
    }

    /// Adds `count` durations summing to `sum` to bucket `index`.
    fn add(&self, index: usize, count: u64, sum: f64) {
        if let Ok(mut h) = self.0.write() {
            h.0 += sum;
            h.1 += count;
            let last = h.2.len() - 1;
            h.2[index.min(last)].1 += count;
        }
    }
}

impl TypedMetric for CountedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for CountedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let h = self.0.read().map_err(|_| std::fmt::Error)?;
        encoder.encode_histogram::<NoLabelSet>(h.0, h.1, &h.2, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

fn histograms(reg: &mut Registry, conn: &Connection) -> Result<(), duckdb::Error> {
    let fam = Family::<Labels, CountedHistogram>::new_with_constructor(CountedHistogram::new);
    let exec = CountedHistogram::new();
    let ci = CountedHistogram::new();
    for r in rows(conn, "durations")? {
        let kind = text(&r[0]);
        let (index, count, sum) = (num(&r[1]) as usize, num(&r[2]) as u64, num(&r[3]));
        fam.get_or_create(&vec![("kind".into(), kind.clone())])
            .add(index, count, sum);
        if kind == "ci" { &ci } else { &exec }.add(index, count, sum);
    }
    reg.register(
        "mirrord_usage_session_duration_seconds",
        "Duration of closed sessions",
        fam,
    );
    reg.register(
        // The operator's own names (no `_seconds`), so its Grafana and Datadog dashboards
        // find them; the observations are seconds, as the operator's are.
        "mirrord_sessions_duration",
        "Duration of closed exec sessions in seconds (operator-equivalent)",
        exec,
    );
    reg.register(
        "mirrord_ci_sessions_duration",
        "Duration of closed CI sessions in seconds (operator-equivalent)",
        ci,
    );
    Ok(())
}

/// Builds the whole registry from the database and pipeline counters. Without `user_labels`,
/// the per-user series are left out and the operator-equivalent counters are summed over
/// user, host and client id (see `[metrics] user_labels`).
pub fn registry(
    conn: &Connection,
    stats: &PipelineStats,
    queue_depth: usize,
    user_labels: bool,
) -> Result<Registry, duckdb::Error> {
    let mut reg = Registry::default();
    database_metrics(&mut reg, conn, stats, user_labels)?;
    group_metrics(&mut reg, conn, &Default::default())?;
    live_metrics(&mut reg, stats, queue_depth);
    Ok(reg)
}

/// Adoption per directory group (docs/adoption.md): engineers active in the last
/// `[adoption] active_days`, and those going cold (no session in the last `going_cold_days`).
/// No directory, no series.
fn group_metrics(
    reg: &mut Registry,
    conn: &Connection,
    adoption: &crate::config::AdoptionConfig,
) -> Result<(), duckdb::Error> {
    let groups = rows_with(
        conn,
        "group_users",
        duckdb::params![adoption.active_days, adoption.going_cold_days],
    )?;
    let names = ["group_type", "group", "group_id"];
    gauge_family(
        reg,
        "mirrord_usage_group_active_users",
        "Engineers of a directory group (and the groups below it) with an exec session in the last [adoption] active_days",
        &names,
        &groups,
        3,
    );
    gauge_family(
        reg,
        "mirrord_usage_group_going_cold_users",
        "Of those, engineers with no session in the last [adoption] going_cold_days",
        &names,
        &groups,
        4,
    );
    Ok(())
}

/// The series computed from the database: they change only when the writer commits (the
/// duplicate count included), so a scrape at the same generation can reuse them.
fn database_metrics(
    reg: &mut Registry,
    conn: &Connection,
    stats: &PipelineStats,
    user_labels: bool,
) -> Result<(), duckdb::Error> {
    let target = ["kind", "namespace", "target_type", "target_name"];
    let sessions = rows(conn, "sessions")?;
    counter_family(
        reg,
        "mirrord_usage_sessions",
        "Sessions started",
        &target,
        &sessions,
        4,
    );
    counter_family(
        reg,
        "mirrord_usage_session_seconds",
        "Total time of closed sessions",
        &target,
        &sessions,
        5,
    );
    histograms(reg, conn)?;
    let op = rows(
        conn,
        if user_labels {
            "operator_sessions"
        } else {
            "operator_sessions_by_kind"
        },
    )?;
    let who: &[&str] = if user_labels {
        &["client_hostname", "client_name", "client_user", "user_id"]
    } else {
        &[]
    };
    let (ci_rows, exec_rows): (Vec<_>, Vec<_>) = op.into_iter().partition(|r| text(&r[0]) == "ci");
    let strip = |rs: Vec<Vec<DbValue>>| rs.into_iter().map(|r| r[1..].to_vec()).collect::<Vec<_>>();
    counter_family(
        reg,
        "mirrord_sessions_create",
        "Exec sessions created (operator-equivalent)",
        who,
        &strip(exec_rows),
        4,
    );
    counter_family(
        reg,
        "mirrord_ci_sessions_create",
        "CI sessions created (operator-equivalent)",
        who,
        &strip(ci_rows),
        4,
    );
    gauge_family(
        reg,
        "mirrord_usage_open_sessions",
        "Sessions running now",
        &["kind"],
        &rows(conn, "open_sessions")?,
        1,
    );
    gauge_family(
        reg,
        "mirrord_usage_active_users",
        "Distinct users seen in the window",
        &["window"],
        &rows(conn, "active_users")?,
        1,
    );
    if user_labels {
        let users = rows(conn, "users")?;
        counter_family(
            reg,
            "mirrord_usage_user_sessions",
            "Sessions per user",
            &["user"],
            &users,
            1,
        );
        counter_family(
            reg,
            "mirrord_usage_user_session_seconds",
            "Session time per user",
            &["user"],
            &users,
            2,
        );
    }
    counter_family(
        reg,
        "mirrord_usage_port_events",
        "Port steal/mirror/release events",
        &["kind", "namespace", "target_name", "filtered"],
        &rows(conn, "ports")?,
        4,
    );
    counter_family(
        reg,
        "mirrord_usage_copy_target",
        "Copy Target events",
        &["namespace", "target_name", "scale_down"],
        &rows(conn, "copies")?,
        3,
    );
    counter_family(
        reg,
        "mirrord_usage_cli_version_sessions",
        "Sessions per mirrord CLI version",
        &["cli_version"],
        &rows(conn, "cli_versions")?,
        1,
    );
    counter_family(
        reg,
        "mirrord_usage_events",
        "Functional events stored",
        &["kind"],
        &rows(conn, "events")?,
        1,
    );
    gauge_family(
        reg,
        "mirrord_usage_jira_outbox",
        "Jira webhook pushes by state",
        &["state"],
        &rows(conn, "jira_outbox")?,
        1,
    );
    ingest_metrics(reg, conn, stats)
}

fn ingest_metrics(
    reg: &mut Registry,
    conn: &Connection,
    stats: &PipelineStats,
) -> Result<(), duckdb::Error> {
    let fam = Family::<Labels, Counter<f64, AtomicU64>>::default();
    let add = |source: String, outcome: &str, v: f64| {
        fam.get_or_create(&vec![
            ("source".into(), source),
            ("outcome".into(), outcome.into()),
        ])
        .inc_by(v);
    };
    for r in rows(conn, "stored_by_source")? {
        add(text(&r[0]), "stored", num(&r[1]));
    }
    for r in rows(conn, "rejected_by_source")? {
        add(text(&r[0]), "rejected", num(&r[1]));
    }
    add(
        "live".into(),
        "duplicate",
        stats.duplicates.load(Ordering::Relaxed) as f64,
    );
    reg.register(
        "mirrord_usage_ingest_records",
        "Records by source and outcome",
        fam,
    );
    let last = rows(conn, "last_event")?;
    gauge(
        reg,
        "mirrord_usage_last_event_timestamp_seconds",
        "Time of the newest stored event",
        last.first().map(|r| num(&r[0])).unwrap_or(0.0),
    );
    Ok(())
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: f64) {
    let gauge = Gauge::<f64, AtomicU64>::default();
    gauge.set(v);
    reg.register(name, help, gauge);
}

/// The pipeline's own counters, read at every scrape.
fn live_metrics(reg: &mut Registry, stats: &PipelineStats, queue_depth: usize) {
    gauge(
        reg,
        "mirrord_usage_queue_depth",
        "Submissions waiting for the writer",
        queue_depth as f64,
    );
    let counters = [
        (
            "mirrord_usage_commits",
            "Batches committed since start",
            &stats.commits,
        ),
        (
            "mirrord_usage_failed_commits",
            "Commits that failed since start",
            &stats.failed_commits,
        ),
        (
            "mirrord_usage_refused_submissions",
            "Submissions refused because the queue was full",
            &stats.refused_full,
        ),
    ];
    for (name, help, value) in counters {
        let counter = Counter::<u64>::default();
        counter.inc_by(value.load(Ordering::Relaxed));
        reg.register(name, help, counter);
    }
    let latency = Gauge::<f64, AtomicU64>::default();
    latency.set(stats.last_commit_seconds());
    reg.register(
        "mirrord_usage_last_commit_duration_seconds",
        "How long the last commit took",
        latency,
    );
}

/// The database part of a scrape, encoded, per database generation (see [`super::cache`]);
/// and the per-group adoption part, kept for [`GROUPS_MAX_AGE`] whatever the commits.
#[derive(Default)]
pub struct ScrapeCache {
    scrape: std::sync::Mutex<Option<Scrape>>,
    groups: std::sync::Mutex<Option<(std::time::Instant, Arc<str>)>>,
}

/// Generation, whether user labels were on, when it was made, the encoded text.
type Scrape = (u64, bool, std::time::Instant, Arc<str>);

/// How long the group gauges are reused. They count engineers over windows of days, so a
/// minute late is nothing, and a busy writer's commits don't make every scrape match every
/// session against the directory again.
pub const GROUPS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl ScrapeCache {
    fn get(&self, generation: u64, user_labels: bool) -> Option<Arc<str>> {
        let guard = self.scrape.lock().ok()?;
        let (g, labels, made, text) = guard.as_ref()?;
        (*g == generation && *labels == user_labels && made.elapsed() <= super::cache::MAX_AGE)
            .then(|| text.clone())
    }

    fn put(&self, generation: u64, user_labels: bool, text: Arc<str>) {
        if let Ok(mut guard) = self.scrape.lock() {
            *guard = Some((generation, user_labels, std::time::Instant::now(), text));
        }
    }

    fn groups(&self) -> Option<Arc<str>> {
        let guard = self.groups.lock().ok()?;
        let (made, text) = guard.as_ref()?;
        (made.elapsed() <= GROUPS_MAX_AGE).then(|| text.clone())
    }

    fn put_groups(&self, text: Arc<str>) {
        if let Ok(mut guard) = self.groups.lock() {
            *guard = Some((std::time::Instant::now(), text));
        }
    }
}

/// Encodes a registry as OpenMetrics text without its closing `# EOF`, so parts can be joined.
fn encode_part(reg: &Registry) -> Result<String, ApiError> {
    let mut out = String::new();
    encode(&mut out, reg).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(body) = out.strip_suffix("# EOF\n") {
        out.truncate(body.len());
    }
    Ok(out)
}

/// The classic Prometheus text format (0.0.4) from OpenMetrics text: counters are declared
/// under their `_total` sample name, and `# EOF` / `# UNIT` lines go.
pub fn to_classic_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// `GET /metrics`: OpenMetrics when the scraper asks for it (`Accept`), else the classic text
/// format.
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if let Some(token) = state.metrics_token.as_deref() {
        match super::auth::bearer(&headers) {
            None => {
                return Err(ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "/metrics needs Authorization: Bearer <[metrics] bearer_token>",
                ));
            }
            Some(t) if !super::auth::constant_time_eq(t.as_bytes(), token.as_bytes()) => {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "wrong /metrics bearer token",
                ));
            }
            Some(_) => {}
        }
    }
    let user_labels = state
        .config
        .metrics
        .user_labels
        .unwrap_or(state.metrics_token.is_some());
    let stats = state.pipeline.stats.clone();
    let depth = state.pipeline.queue_depth();
    let adoption = state.config.adoption.clone();
    state.rollups_current().await?;
    // Read before computing: a commit meanwhile leaves what is computed already stale.
    let generation = stats.generation.load(Ordering::Acquire);
    let database = match state.scrape_cache.get(generation, user_labels) {
        Some(text) => text,
        None => {
            let stats = stats.clone();
            let text: Arc<str> = state
                .read(move |conn| {
                    let mut reg = Registry::default();
                    database_metrics(&mut reg, conn, &stats, user_labels)?;
                    encode_part(&reg)
                })
                .await?
                .into();
            state
                .scrape_cache
                .put(generation, user_labels, text.clone());
            text
        }
    };
    let groups = match state.scrape_cache.groups() {
        Some(text) => text,
        None => {
            let text: Arc<str> = state
                .read(move |conn| {
                    let mut reg = Registry::default();
                    group_metrics(&mut reg, conn, &adoption)?;
                    encode_part(&reg)
                })
                .await?
                .into();
            state.scrape_cache.put_groups(text.clone());
            text
        }
    };
    let mut live = Registry::default();
    live_metrics(&mut live, &stats, depth);
    let body = format!("{database}{groups}{}# EOF\n", encode_part(&live)?);
    if openmetrics {
        Ok((
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response())
    } else {
        Ok((
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            to_classic_text(&body),
        )
            .into_response())
    }
}
