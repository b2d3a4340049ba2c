//! The `mirrord-usage` command line: the binary's edge, where library errors become `anyhow`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mirrord_usage::{
    config::Config, dashboards, generate, ingest, ops, parse::InputFormat, server, store, telemetry,
};

/// Usage analytics from the mirrord Operator's logs: ingest them, query them with SQL, serve
/// reports and dashboards.
#[derive(Debug, Parser)]
#[command(name = "mirrord-usage", version, about, long_about = None)]
struct Cli {
    /// The DuckDB database file (`:memory:` for a throwaway in-memory one).
    #[arg(
        long,
        global = true,
        env = "MIRRORD_USAGE_DB",
        default_value = "./data/mirrord-usage.duckdb"
    )]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: receivers (OTLP, Forward, HTTP, file tailing), reports API, dashboard
    /// and /metrics on one process. The port map is printed at start-up.
    Serve(ServeArgs),
    /// Import operator logs from files (plain or .gz) or stdin (`-`).
    Ingest(IngestArgs),
    /// Run SQL against the database (tables: events, rejects, checkpoints; views: sessions, users,
    /// targets, days).
    Sql(SqlArgs),
    /// Write realistic synthetic operator logs to stdout.
    Generate(generate::GenerateArgs),
    /// Write Grafana, Datadog and Kibana dashboards to import.
    Dashboards(dashboards::DashboardsArgs),
    /// Measure performance (prints figures; compares with DuckDB's own reader in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Delete events and rejects older than [retention] days (serve does this on its own
    /// schedule); --dry-run only counts.
    Retention(RetentionArgs),
    /// Write tables as day-partitioned Parquet or CSV files (hive layout OUT/TABLE/day=YYYY-MM-DD/).
    Export(ExportArgs),
    /// Write a consistent snapshot of the database to a file (ask a running serve with --server).
    Backup(BackupArgs),
    /// Jira integration: the outbox, the REST sink's check against Jira, and a backfill.
    #[command(subcommand)]
    Jira(JiraCommand),
    /// The directory of engineers and groups that team reports, the Adoption view and
    /// `group=` use: import a CSV or JSON file, show the tree (see docs/adoption.md; `serve`
    /// can also watch a file: [directory] file).
    #[command(subcommand)]
    Directory(DirectoryCommand),
}

#[derive(Debug, Subcommand)]
enum DirectoryCommand {
    /// Import a directory file, all or nothing: a file with any problem changes nothing and
    /// every problem is printed (row, column, reason). CSV columns: kind (person|group), id,
    /// name, email, kubernetes_user, client_name, client_hostname, client_id (several values
    /// separated by `;`), groups (`;`-separated group ids), type and parent (for groups).
    /// A `.json` file: {"groups": [...], "people": [...]} with the same fields.
    Import {
        /// The file (`.json` for JSON, anything else is read as CSV).
        file: std::path::PathBuf,
        /// Only check the file; import nothing.
        #[arg(long)]
        check: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The directory in force: its snapshot, the group tree with head counts, and the people
    /// no session matches.
    Show {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How to reach a running `serve`, for jobs that need the database it holds.
#[derive(Debug, clap::Args)]
struct RemoteArgs {
    /// Ask the `serve` running at this URL (e.g. http://localhost:8050) instead of opening the
    /// database file, which a running serve holds.
    #[arg(long, env = "MIRRORD_USAGE_SERVER")]
    server: Option<String>,
    /// The admin key of that server (backup and retention are admin routes).
    #[arg(long, env = "MIRRORD_USAGE_ADMIN_KEY", hide_env_values = true)]
    key: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RetentionArgs {
    /// Only report what would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Config file to read [retention] from (default: built-in defaults and environment).
    #[arg(long, env = "MIRRORD_USAGE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Keep events and rejects this many days (overrides [retention] days; 0 keeps all).
    #[arg(long)]
    days: Option<u32>,
    /// Keep sessions this many days (overrides [retention] keep_sessions_days; 0 keeps all).
    #[arg(long)]
    keep_sessions_days: Option<u32>,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormatArg {
    Parquet,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportTableArg {
    Events,
    Sessions,
    Rejects,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// File format.
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Parquet)]
    format: ExportFormatArg,
    /// Output directory (created if missing); a re-exported day replaces its directory.
    #[arg(long)]
    out: std::path::PathBuf,
    /// First day to export (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Last day to export, included (YYYY-MM-DD, UTC).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// Tables to export.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ExportTableArg::Events, ExportTableArg::Sessions])]
    tables: Vec<ExportTableArg>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct BackupArgs {
    /// The snapshot file to write.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Ingest N generated events from an NDJSON file into a fresh database, and load the same
    /// file with DuckDB's read_json into a table with the same columns; print both and the ratio.
    Ingest {
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Working directory (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Load N generated events (about N/10 sessions) and measure p50/p99 latency of the usage
    /// report (All, 30d) and trends (90d) over HTTP, and of the same queries run directly.
    Reports {
        /// Number of events.
        #[arg(long, default_value_t = 10_000_000)]
        events: usize,
        /// Measured runs per query.
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Working directory (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Start `serve` with its receivers on loopback and load OTLP/HTTP (protobuf), OTLP/gRPC
    /// and Forward in turn with concurrent senders; print accepted records/s, p50/p99 request
    /// latency, push-backs and the server's peak RSS, then the stored count (a fresh server and
    /// database per transport).
    Load {
        /// Records sent per transport.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// Concurrent senders per transport.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Records per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Stop each transport after this many seconds, even if records remain.
        #[arg(long)]
        seconds: Option<f64>,
        /// Fixed-rate mode: send this many records per second in all, on a schedule (latency
        /// at a given load); without it the senders saturate the server.
        #[arg(long)]
        rate: Option<f64>,
        /// Working directory (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Pipeline config file (TOML); see pipelines/mirrord-usage.toml for every option.
    #[arg(long, env = "MIRRORD_USAGE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Address to bind the HTTP port to (overrides [server] bind).
    #[arg(long)]
    bind: Option<String>,
    /// HTTP port for the dashboard, API and /metrics (overrides [server] port; default 8050).
    #[arg(long)]
    port: Option<u16>,
    /// Fill an empty database with 90 days of generated activity first (and show 50 seats unless
    /// [licenses] seats is set), to explore the dashboard.
    #[arg(long)]
    demo: bool,
    /// Don't start the OTLP, Forward and file-tail receivers (HTTP JSON ingest stays on).
    #[arg(long)]
    no_receivers: bool,
    /// The viewer key (`x-license-key`: reports, trends, sessions, dashboards); overrides
    /// [api] license_key.
    #[arg(long, env = "MIRRORD_USAGE_LICENSE_KEY", hide_env_values = true)]
    license_key: Option<String>,
    /// The admin key (SQL, ingest, backup, retention, and every viewer route); overrides
    /// [api] admin_key.
    #[arg(long, env = "MIRRORD_USAGE_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Turn API authentication off. Only for trusted networks.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Make the dashboard ask for the viewer key (kept in an HttpOnly cookie) even with --demo
    /// or [api] share_key_with_dashboard. Without a shared key this is already the default.
    #[arg(long, conflicts_with = "dashboard_share_key")]
    dashboard_login: bool,
    /// Hand the viewer key to the dashboard (`/ui/config.json`), so anyone who can reach the
    /// port reads reports without a login ([api] share_key_with_dashboard; on with --demo). The
    /// admin key is never handed out.
    #[arg(long)]
    dashboard_share_key: bool,
    /// Log format: text on a terminal, JSON otherwise, unless set.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct IngestArgs {
    /// Files to import; `-` reads stdin. Gzip is detected automatically.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Input format; `auto` detects each line's format (JSON, fluentd, CRI, docker, text, OTLP/JSON).
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    format: InputFormat,
    /// Events per commit. The default, two of DuckDB's 122,880-row groups, lets DuckDB write
    /// whole row groups straight to the file (one group was slower, four used more memory).
    #[arg(long, default_value_t = ingest::COMMIT_ROWS)]
    batch_size: usize,
    /// Parser threads; the default is one per core.
    #[arg(long)]
    parsers: Option<usize>,
    /// DuckDB's memory for this run, e.g. 400MB or 2GB. Blocks already written are evicted
    /// first and what doesn't fit spills to disk, so a bulk load needs little.
    #[arg(long, default_value = ingest::MEMORY_LIMIT)]
    memory_limit: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
struct SqlArgs {
    /// The query, e.g. "select kind, count(*) from events group by 1".
    query: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// At most this many rows are printed.
    #[arg(long, default_value_t = 10_000)]
    max_rows: usize,
}

/// mimalloc: parsing allocates many small strings; glibc's allocator spent a third of ingest
/// time in malloc/free and arena locks (measured with `bench ingest` under perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One rustls provider for every TLS use (listeners, the Jira webhook, OTLP export).
    mirrord_usage::tls::install_provider();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // `serve` sets up its own logging; the other commands log to stderr only when asked
    // (`RUST_LOG=mirrord_usage=debug` shows, e.g., each commit's per-step timings).
    if !matches!(cli.command, Command::Serve(_)) && std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    match cli.command {
        Command::Serve(args) => run_serve(cli.db, args),
        Command::Ingest(args) => run_ingest(&cli.db, args),
        Command::Sql(args) => run_sql(&cli.db, args),
        Command::Generate(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            generate::run_cli(&args, &mut out).context("generate")
        }
        Command::Dashboards(args) => dashboards::run_cli(&args).context("dashboards"),
        Command::Retention(args) => run_retention(&cli.db, args),
        Command::Export(args) => run_export(&cli.db, args),
        Command::Backup(args) => run_backup(&cli.db, args),
        Command::Jira(JiraCommand::Status(args)) => run_jira_status(&cli.db, args),
        Command::Jira(JiraCommand::Check(args)) => run_jira_check(&cli.db, args),
        Command::Jira(JiraCommand::Sync(args)) => run_jira_sync(&cli.db, args),
        Command::Directory(cmd) => run_directory(&cli.db, cmd),
        Command::Bench(BenchCommand::Ingest { events, seed, dir }) => {
            let tmp = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
            std::fs::create_dir_all(&dir)?;
            mirrord_usage::bench::run_ingest(&dir, events, seed, &mut std::io::stdout())?;
            Ok(())
        }
        Command::Bench(BenchCommand::Reports { events, runs, dir }) => {
            let tmp = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
            std::fs::create_dir_all(&dir)?;
            mirrord_usage::bench::run_reports(&dir, events, runs.max(1), &mut std::io::stdout())?;
            Ok(())
        }
        Command::Bench(BenchCommand::Load {
            records,
            concurrency,
            batch,
            seconds,
            rate,
            dir,
        }) => {
            let tmp = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
            std::fs::create_dir_all(&dir)?;
            let opts = mirrord_usage::bench_load::LoadOptions {
                records,
                concurrency: concurrency.max(1),
                batch: batch.max(1),
                seconds,
                rate,
            };
            mirrord_usage::bench_load::run_load(&dir, &opts, &mut std::io::stdout())?;
            Ok(())
        }
    }
}

fn run_ingest(db: &str, args: IngestArgs) -> anyhow::Result<()> {
    let store = mirrord_usage::database::open(db)?;
    let defaults = ingest::IngestOptions::default();
    let opts = ingest::IngestOptions {
        format: args.format,
        commit_rows: args.batch_size.max(1),
        parsers: args.parsers.unwrap_or(defaults.parsers).max(1),
        progress: std::io::stderr().is_terminal(),
        memory_limit: Some(args.memory_limit),
    };
    let (_store, summary) = ingest::ingest_paths(store, &args.inputs, &opts);
    let summary = summary?;
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&summary)?))
    } else {
        print_out(&format!("{summary}\n"))
    }
}

fn run_sql(db: &str, args: SqlArgs) -> anyhow::Result<()> {
    if db != ":memory:" && !std::path::Path::new(db).exists() {
        anyhow::bail!(
            "no database at {db}: ingest something first, or pass --db / MIRRORD_USAGE_DB"
        );
    }
    let store = mirrord_usage::database::open(db)?;
    let result = store::query::run(store.connection(), &args.query, args.max_rows)?;
    let text = match args.format {
        OutputFormat::Table => result.to_table(),
        OutputFormat::Csv => result.to_csv(),
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&result.to_json())?),
    };
    print_out(&text)
}

/// Writes to stdout; a closed pipe (`| head`) ends output quietly instead of panicking.
fn print_out(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn run_retention(db: &str, args: RetentionArgs) -> anyhow::Result<()> {
    let report = if let Some(server) = &args.remote.server {
        ops::remote::Remote::new(server, args.remote.key.as_deref())?.retention(
            args.dry_run,
            args.days,
            args.keep_sessions_days,
        )?
    } else {
        let config = Config::load(args.config.as_deref(), std::env::vars())?;
        let mut policy = ops::retention::RetentionPolicy::from(&config.retention);
        policy.days = args.days.unwrap_or(policy.days);
        policy.keep_sessions_days = args.keep_sessions_days.unwrap_or(policy.keep_sessions_days);
        let store = ops::open_existing(db)?;
        ops::retention::apply(store.connection(), policy, chrono::Utc::now(), args.dry_run)?
    };
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))
    } else {
        print_out(&format!("{report}\n"))
    }
}

fn run_export(db: &str, args: ExportArgs) -> anyhow::Result<()> {
    use ops::export::{ExportFormat, ExportOptions, ExportTable};
    let store = ops::open_existing(db)?;
    let opts = ExportOptions {
        format: match args.format {
            ExportFormatArg::Parquet => ExportFormat::Parquet,
            ExportFormatArg::Csv => ExportFormat::Csv,
        },
        out: args.out,
        from: args.from,
        to: args.to,
        tables: args
            .tables
            .iter()
            .map(|t| match t {
                ExportTableArg::Events => ExportTable::Events,
                ExportTableArg::Sessions => ExportTable::Sessions,
                ExportTableArg::Rejects => ExportTable::Rejects,
            })
            .collect(),
    };
    let report = ops::export::export(store.connection(), &opts)?;
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))
    } else {
        print_out(&report.to_string())
    }
}

fn run_backup(db: &str, args: BackupArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        anyhow::bail!("{} exists; pass --force to replace it", args.out.display());
    }
    let report = if let Some(server) = &args.remote.server {
        ops::remote::Remote::new(server, args.remote.key.as_deref())?.backup(&args.out)?
    } else {
        let store = ops::open_existing(db)?;
        ops::backup::snapshot(store.connection(), &args.out)?
    };
    print_out(&format!("{report}\n"))
}

fn run_directory(db: &str, cmd: DirectoryCommand) -> anyhow::Result<()> {
    use mirrord_usage::directory::{self, Format, ImportReport, store};
    match cmd {
        DirectoryCommand::Import { file, check, json } => {
            let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let report = match directory::parse(&bytes, Format::guess(&file.to_string_lossy())) {
                Err(problems) => ImportReport::refused(problems),
                Ok(dir) if check => ImportReport {
                    imported: false,
                    snapshot: None,
                    people: dir.people.len(),
                    groups: dir.groups.len(),
                    identities: dir.people.iter().map(|p| p.identities.len()).sum(),
                    problems: Vec::new(),
                },
                Ok(dir) => {
                    let store = ops::open_existing(db).or_else(|_| {
                        mirrord_usage::database::open(db).with_context(|| {
                            format!("open {db} (if serve is running on it, POST the file to /api/v1/directory)")
                        })
                    })?;
                    store::import(
                        store.connection(),
                        &dir,
                        &file.display().to_string(),
                        chrono::Utc::now(),
                    )?
                }
            };
            if json {
                print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
            } else if check && report.problems.is_empty() {
                print_out(&format!(
                    "{}: no problems ({} people, {} groups, {} identities)\n",
                    file.display(),
                    report.people,
                    report.groups,
                    report.identities
                ))?;
            } else {
                print_out(&report.to_string())?;
            }
            if report.problems.is_empty() {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        DirectoryCommand::Show { json } => {
            let store = ops::open_existing(db)?;
            let overview = store::overview(store.connection())?;
            if json {
                print_out(&format!("{}\n", serde_json::to_string_pretty(&overview)?))
            } else {
                print_out(&overview.to_string())
            }
        }
    }
}

/// Installs logging (and OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set). Call it
/// inside the Tokio runtime.
fn init_logging(format: Option<LogFormat>) -> anyhow::Result<telemetry::Telemetry> {
    let style = match format {
        Some(LogFormat::Json) => telemetry::LogStyle::Json,
        Some(LogFormat::Text) => telemetry::LogStyle::Text,
        None if std::io::stderr().is_terminal() => telemetry::LogStyle::Text,
        None => telemetry::LogStyle::Json,
    };
    Ok(telemetry::Telemetry::init(style)?)
}

fn run_serve(db: String, args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let telemetry = {
        let _inside = runtime.enter();
        init_logging(args.log_format)?
    };
    let outcome = serve_with(&runtime, db, args);
    telemetry.shutdown();
    outcome
}

fn serve_with(
    runtime: &tokio::runtime::Runtime,
    db: String,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    if let Some(key) = args.license_key {
        config.api.license_key = mirrord_usage::secret::Secret(key);
    }
    if let Some(key) = args.admin_key {
        config.api.admin_key = mirrord_usage::secret::Secret(key);
    }
    if args.demo || args.dashboard_share_key {
        // Demo data is synthetic: the dashboard opens without a login (viewer rights only).
        config.api.share_key_with_dashboard = true;
    }
    if args.dashboard_login {
        config.api.share_key_with_dashboard = false;
    }
    let opts = server::ServeOptions {
        db,
        demo: args.demo,
        no_receivers: args.no_receivers,
        insecure_no_auth: args.insecure_no_auth,
    };
    runtime.block_on(server::run(config, opts))?;
    Ok(())
}

// ---- `jira status`, `jira check`, `jira sync` ----

#[derive(Debug, Subcommand)]
enum JiraCommand {
    /// Webhook pushes by state (pending, delivered, skipped, failed), the oldest pending one and
    /// recent errors. Reads the database, or asks a running serve with --server.
    Status(JiraStatusArgs),
    /// Check [jira.rest] against the live Jira: sign-in, the fields (exist, number or text),
    /// one issue readable with the fields editable. Exits non-zero on any problem.
    Check(JiraCheckArgs),
    /// Write the all-time totals of every issue seen (since --from) to Jira through the REST
    /// sink, e.g. after turning it on for an existing database. Needs the database, so stop
    /// serve first; what is still retrying when it ends is left for serve.
    Sync(JiraSyncArgs),
}

#[derive(Debug, clap::Args)]
struct JiraCheckArgs {
    /// Config file with [jira.rest] (default: built-in defaults and environment).
    #[arg(long, env = "MIRRORD_USAGE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// The issue to read (default: the issue of the latest session in the database).
    #[arg(long)]
    issue: Option<String>,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct JiraSyncArgs {
    /// Config file with [jira.rest] (default: built-in defaults and environment).
    #[arg(long, env = "MIRRORD_USAGE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Only issues with a session that started on or after this day (YYYY-MM-DD, UTC); the
    /// totals written are still all-time.
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Stop after this many seconds; what is still pending is left for serve.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn run_jira_check(db: &str, args: JiraCheckArgs) -> anyhow::Result<()> {
    use mirrord_usage::jira::rest;
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let issue = match args.issue {
        Some(key) => Some(key),
        // The database is only a hint here: a running serve holds it, which is fine.
        None if std::path::Path::new(db).exists() => mirrord_usage::database::open(db)
            .ok()
            .and_then(|s| rest::sink::latest_issue(s.connection()).ok().flatten()),
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let report = runtime.block_on(rest::check::check(&config.jira, issue.as_deref()));
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_out(&report.to_string())?;
    }
    if !report.ok() {
        anyhow::bail!("jira check found problems");
    }
    Ok(())
}

fn run_jira_sync(db: &str, args: JiraSyncArgs) -> anyhow::Result<()> {
    use mirrord_usage::jira;
    let config = Config::load(args.config.as_deref(), std::env::vars())?;
    let store = ops::open_existing(db)
        .with_context(|| format!("open {db} (jira sync needs the database: stop serve first)"))?;
    jira::sync_settings(store.connection(), &config.jira, chrono::Utc::now())?;
    store.refresh_views()?;
    let conn = store.reader()?;
    let from = args.from.and_then(|d| d.and_hms_opt(0, 0, 0));
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    let timeout = std::time::Duration::from_secs(args.timeout_seconds);
    let report = runtime.block_on(jira::rest::sink::sync(&config.jira, conn, from, timeout))?;
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_out(&report.to_string())?;
    }
    if report.issues.iter().any(|i| i.state == "failed") {
        anyhow::bail!("some issues could not be written (see above)");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
struct JiraStatusArgs {
    /// Ask the `serve` running at this URL (e.g. http://localhost:8050), which holds the
    /// database, instead of opening the file.
    #[arg(long, env = "MIRRORD_USAGE_SERVER")]
    server: Option<String>,
    /// The viewer (or admin) key of that server.
    #[arg(long, env = "MIRRORD_USAGE_LICENSE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

fn run_jira_status(db: &str, args: JiraStatusArgs) -> anyhow::Result<()> {
    use mirrord_usage::jira::outbox;
    let status = match &args.server {
        Some(url) => {
            let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
            runtime.block_on(outbox::fetch_status(url, args.key.as_deref()))?
        }
        None => {
            if db != ":memory:" && !std::path::Path::new(db).exists() {
                anyhow::bail!("no database at {db}: pass --db, or --server to ask a running serve");
            }
            let store = mirrord_usage::database::open(db).with_context(|| {
                format!("open {db} (if serve is running on it, pass --server http://HOST:PORT)")
            })?;
            outbox::status(store.connection())?
        }
    };
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&status)?))
    } else {
        print_out(&status.to_string())
    }
}
