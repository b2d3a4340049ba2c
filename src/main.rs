//! The `mirrord-usage` command line: the binary's edge, where library errors become `anyhow`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mirrord_usage::{config::Config, dashboards, generate, ingest, parse::InputFormat, server, store};

/// Usage analytics from the mirrord Operator's logs: ingest them, query them with SQL, serve
/// reports and dashboards.
#[derive(Debug, Parser)]
#[command(name = "mirrord-usage", version, about, long_about = None)]
struct Cli {
    /// The DuckDB database file (`:memory:` for a throwaway in-memory one).
    #[arg(long, global = true, env = "MIRRORD_USAGE_DB", default_value = "./data/mirrord-usage.duckdb")]
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
    /// Run SQL against the database (tables: events, rejects, checkpoints).
    Sql(SqlArgs),
    /// Write realistic synthetic operator logs to stdout.
    Generate(generate::GenerateArgs),
    /// Write Grafana, Datadog and Kibana dashboards to import.
    Dashboards(dashboards::DashboardsArgs),
    /// Measure performance (prints figures; compares with DuckDB's own reader in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
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
    /// Fill an empty database with 90 days of generated activity first, to explore the dashboard.
    #[arg(long)]
    demo: bool,
    /// Don't start the OTLP, Forward and file-tail receivers (HTTP JSON ingest stays on).
    #[arg(long)]
    no_receivers: bool,
    /// The x-license-key API clients must send (overrides [api] license_key).
    #[arg(long, env = "MIRRORD_USAGE_LICENSE_KEY", hide_env_values = true)]
    license_key: Option<String>,
    /// Turn API authentication off. Only for trusted networks.
    #[arg(long)]
    insecure_no_auth: bool,
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
    /// Events per committed batch.
    #[arg(long, default_value_t = 50_000)]
    batch_size: usize,
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
        Command::Bench(BenchCommand::Ingest { events, seed, dir }) => {
            let tmp = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
            std::fs::create_dir_all(&dir)?;
            mirrord_usage::bench::run_ingest(&dir, events, seed, &mut std::io::stdout())?;
            Ok(())
        }
    }
}

fn run_ingest(db: &str, args: IngestArgs) -> anyhow::Result<()> {
    let mut store = store::Store::open(db)?;
    let opts = ingest::IngestOptions {
        format: args.format,
        batch_size: args.batch_size.max(1),
        progress: std::io::stderr().is_terminal(),
    };
    let summary = ingest::ingest_paths(&mut store, &args.inputs, &opts)?;
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&summary)?))
    } else {
        print_out(&format!("{summary}\n"))
    }
}

fn run_sql(db: &str, args: SqlArgs) -> anyhow::Result<()> {
    if db != ":memory:" && !std::path::Path::new(db).exists() {
        anyhow::bail!("no database at {db}: ingest something first, or pass --db / MIRRORD_USAGE_DB");
    }
    let store = store::Store::open(db)?;
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

fn init_logging(format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Text) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run_serve(db: String, args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    if let Some(key) = args.license_key {
        config.api.license_key = Some(key);
    }
    let opts = server::ServeOptions {
        db,
        demo: args.demo,
        no_receivers: args.no_receivers,
        insecure_no_auth: args.insecure_no_auth,
    };
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(server::run(config, opts))?;
    Ok(())
}
