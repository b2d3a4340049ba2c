//! mirrord-usage: usage analytics from the mirrord Operator's functional logs.
//!
//! # Layout
//! Data flows one way: **sources → parse → batch → store → derive → serve**.
//!
//! - [`event`]: the canonical [`event::OperatorEvent`] every parser produces.
//! - [`parse`]: one file per input format (tracing JSON, fluentd, CRI, docker, text, OTLP/JSON);
//!   each turns a raw record into an event, a skip (non-functional line) or a reject.
//! - [`batch`]: collects events into Arrow `RecordBatch`es, the unit handed to storage.
//! - [`store`]: the single DuckDB writer (migrations, dedup-on-insert, checkpoints) and readers.
//! - [`database`]: the store opened with every derived-table step registered (fold, Jira).
//! - [`named_sql`]: the one loader for `.sql` files of named queries.
//! - [`ingest`]: one-shot import of files and stdin (the `ingest` subcommand).
//! - [`sources`]: live receivers (OTLP gRPC/HTTP, Forward, file tailing) for `serve`.
//! - [`pipeline`]: the bounded queue, batching, back-pressure and acknowledgements.
//! - [`analytics`]: sessions (kept current per commit), reports, trends, Jira, xlsx.
//! - [`jira`]: issue keys of sessions, the webhook outbox and its delivery, the embeddable panel.
//! - [`api`]: the axum app: reports API, read-only SQL, ingest, `/metrics`, dashboard.
//! - [`server`]: wires config, store, pipeline, receivers and API into `serve`.
//! - [`config`]: defaults < file < environment < flags; [`secret`]: redacted keys, read from files.
//! - [`generate`]: deterministic synthetic operator logs for demos, tests and benchmarks.
//! - [`dashboards`]: one panel model rendered to Grafana, Datadog and Kibana files.
//! - [`bench`]: the ingest benchmark against DuckDB's own JSON reader, and report latency.
//! - [`bench_load`]: the receivers' load benchmark over loopback (`bench load`).
//! - [`ops`]: retention, day-partitioned export and consistent backups.
//! - [`telemetry`]: the service's own logs, and traces and metrics over OTLP.
//! - [`tls`]: `[server.tls]` for the HTTP port and the OTLP receivers, reloaded on change.

pub mod analytics;
pub mod api;
pub mod batch;
pub mod bench;
pub mod bench_load;
pub mod config;
pub mod dashboards;
pub mod database;
pub mod directory;
pub mod event;
pub mod generate;
pub mod ingest;
pub mod jira;
pub mod named_sql;
pub mod ops;
pub mod parse;
pub mod pipeline;
pub mod rules;
pub mod secret;
pub mod server;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod tls;
