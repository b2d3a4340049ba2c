//! telemetry: the service's own logs, traces and metrics.
//!
//! Logs are `tracing` output on stderr: human-readable text on a terminal, JSON lines otherwise
//! (or as `--log-format` says), filtered by `RUST_LOG` (default `info`).
//!
//! Traces and metrics go out through the OpenTelemetry SDK when the standard variables ask for
//! it: `OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the
//! default, or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_METRIC_EXPORT_INTERVAL`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_SDK_DISABLED`. Without an endpoint nothing is exported and
//! the OpenTelemetry layer isn't installed at all.
//!
//! What is exported:
//! - a `store.commit` span per committed ingest batch (events, stored, duplicates, rejected,
//!   submissions) and a server span per HTTP request (`GET /api/v1/sessions`, with method,
//!   route, status and response size) that continues the caller's trace from `traceparent`;
//! - metrics: the pipeline's counters (events by outcome, commits, refusals, queue depth, last
//!   commit duration) and `http.server.request.duration`.
//!
//! Only this crate's spans at `info` and above are exported, whatever `RUST_LOG` says about
//! the console, so a quiet console never hides traces.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::pipeline::{PipelineHandle, PipelineStats};

/// The instrumentation scope of every span and metric.
const SCOPE: &str = "mirrord-usage";

/// Telemetry set-up errors.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "cannot build the OTLP {signal} exporter: {message} (check OTEL_EXPORTER_OTLP_* variables)"
    )]
    Exporter {
        signal: &'static str,
        message: String,
    },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// How logs look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Which OTLP transport to use, from `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

/// What the environment asks for: which signals to export and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportPlan {
    /// Export traces, over this protocol.
    pub traces: Option<OtlpProtocol>,
    /// Export metrics, over this protocol.
    pub metrics: Option<OtlpProtocol>,
}

impl ExportPlan {
    /// Reads the standard `OTEL_*` variables from `env` (a lookup, so tests needn't touch the
    /// process environment).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> ExportPlan {
        let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return ExportPlan::default();
        }
        let signal = |name: &str| {
            let upper = name.to_ascii_uppercase();
            let endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT")
                || set(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"));
            let exporter = env(&format!("OTEL_{upper}_EXPORTER")).unwrap_or_else(|| "otlp".into());
            if !endpoint || exporter.trim().eq_ignore_ascii_case("none") {
                return None;
            }
            let protocol = env(&format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"))
                .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
                .unwrap_or_default();
            Some(match protocol.trim().to_ascii_lowercase().as_str() {
                "grpc" => OtlpProtocol::Grpc,
                _ => OtlpProtocol::HttpProtobuf,
            })
        };
        ExportPlan {
            traces: signal("traces"),
            metrics: signal("metrics"),
        }
    }
}

/// The installed telemetry; [`Telemetry::shutdown`] flushes what is still buffered.
#[derive(Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Installs the global subscriber (console logs, and OpenTelemetry export when the
    /// environment asks for it). Call it inside a Tokio runtime: the gRPC exporter needs one.
    pub fn init(style: LogStyle) -> Result<Telemetry, TelemetryError> {
        let plan = ExportPlan::from_env(|k| std::env::var(k).ok());
        let resource = resource();
        let tracer = plan
            .traces
            .map(|p| tracer_provider(p, resource.clone()))
            .transpose()?;
        let meter = plan
            .metrics
            .map(|p| meter_provider(p, resource))
            .transpose()?;
        global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
        if let Some(m) = &meter {
            global::set_meter_provider(m.clone());
        }
        let console = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let fmt: Box<dyn Layer<Registry> + Send + Sync> = match style {
            LogStyle::Json => fmt.json().with_filter(console).boxed(),
            LogStyle::Text => fmt.with_filter(console).boxed(),
        };
        let otel = tracer.as_ref().map(|provider| {
            let exported = Targets::new().with_target("mirrord_usage", LevelFilter::INFO);
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(SCOPE))
                .with_filter(exported)
        });
        tracing_subscriber::registry()
            .with(fmt)
            .with(otel)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        if tracer.is_some() || meter.is_some() {
            tracing::info!(traces = ?plan.traces, metrics = ?plan.metrics, "exporting own telemetry over OTLP");
        }
        Ok(Telemetry { tracer, meter })
    }

    /// Flushes and stops the exporters. Call it before the Tokio runtime is dropped.
    pub fn shutdown(self) {
        if let Some(t) = self.tracer
            && let Err(e) = t.shutdown()
        {
            eprintln!("telemetry: flushing traces failed: {e}");
        }
        if let Some(m) = self.meter
            && let Err(e) = m.shutdown()
        {
            eprintln!("telemetry: flushing metrics failed: {e}");
        }
    }
}

/// `service.name` (unless `OTEL_SERVICE_NAME` sets one) and `service.version`; the SDK adds
/// `OTEL_RESOURCE_ATTRIBUTES`.
fn resource() -> Resource {
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty()) {
        builder.build()
    } else {
        builder.with_service_name(SCOPE).build()
    }
}

fn exporter_error(
    signal: &'static str,
) -> impl FnOnce(opentelemetry_otlp::ExporterBuildError) -> TelemetryError {
    move |e| TelemetryError::Exporter {
        signal,
        message: e.to_string(),
    }
}

fn tracer_provider(
    protocol: OtlpProtocol,
    resource: Resource,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol {
        OtlpProtocol::Grpc => builder.with_tonic().build(),
        OtlpProtocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
    }
    .map_err(exporter_error("trace"))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn meter_provider(
    protocol: OtlpProtocol,
    resource: Resource,
) -> Result<SdkMeterProvider, TelemetryError> {
    let builder = opentelemetry_otlp::MetricExporter::builder();
    let exporter = match protocol {
        OtlpProtocol::Grpc => builder.with_tonic().build(),
        OtlpProtocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build(),
    }
    .map_err(exporter_error("metrics"))?;
    Ok(SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn meter() -> Meter {
    global::meter(SCOPE)
}

/// Keeps the queue-depth gauge's handle to the pipeline. Drop it before waiting for the writer
/// to stop: the writer stops only when every handle is gone.
pub struct PipelineMetrics(Arc<Mutex<Option<PipelineHandle>>>);

impl Drop for PipelineMetrics {
    fn drop(&mut self) {
        if let Ok(mut h) = self.0.lock() {
            h.take();
        }
    }
}

/// Reads one of the pipeline's counters.
type StatField = fn(&PipelineStats) -> &std::sync::atomic::AtomicU64;

/// One observable counter over pipeline counters, one series per `(label value, field)`; an
/// empty `label` means a single unlabelled series.
fn observe_counters(
    meter: &Meter,
    pipeline: &PipelineHandle,
    (name, unit): (&'static str, &'static str),
    description: &'static str,
    label: &'static str,
    series: Vec<(&'static str, StatField)>,
) {
    let stats = pipeline.stats.clone();
    meter
        .u64_observable_counter(name)
        .with_description(description)
        .with_unit(unit)
        .with_callback(move |o| {
            for (value, field) in &series {
                let n = field(&stats).load(std::sync::atomic::Ordering::Relaxed);
                if label.is_empty() {
                    o.observe(n, &[]);
                } else {
                    o.observe(n, &[KeyValue::new(label, *value)]);
                }
            }
        })
        .build();
}

/// Registers the pipeline's counters as OpenTelemetry metrics (read at each export). Costs
/// nothing when metrics aren't exported.
pub fn register_pipeline_metrics(pipeline: &PipelineHandle) -> PipelineMetrics {
    let meter = meter();
    observe_counters(
        &meter,
        pipeline,
        ("mirrord_usage.pipeline.events", "{event}"),
        "Events handled by the writer, by outcome (stored, duplicate, rejected)",
        "outcome",
        vec![
            ("stored", |s: &PipelineStats| &s.stored),
            ("duplicate", |s: &PipelineStats| &s.duplicates),
            ("rejected", |s: &PipelineStats| &s.rejected),
        ],
    );
    observe_counters(
        &meter,
        pipeline,
        ("mirrord_usage.pipeline.commits", "{commit}"),
        "Store transactions, by result (ok, failed)",
        "result",
        vec![
            ("ok", |s: &PipelineStats| &s.commits),
            ("failed", |s: &PipelineStats| &s.failed_commits),
        ],
    );
    observe_counters(
        &meter,
        pipeline,
        ("mirrord_usage.pipeline.refused", "{submission}"),
        "Submissions refused because the queue was full (senders told to retry)",
        "",
        vec![("", |s: &PipelineStats| &s.refused_full)],
    );
    let stats = pipeline.stats.clone();
    meter
        .f64_observable_gauge("mirrord_usage.pipeline.last_commit.duration")
        .with_description("Duration of the last commit")
        .with_unit("s")
        .with_callback(move |o| o.observe(stats.last_commit_seconds(), &[]))
        .build();
    let shared = Arc::new(Mutex::new(Some(pipeline.clone())));
    let handle = shared.clone();
    meter
        .u64_observable_gauge("mirrord_usage.pipeline.queue.depth")
        .with_description("Submissions waiting for the writer")
        .with_unit("{submission}")
        .with_callback(move |o| {
            if let Some(h) = handle.lock().ok().as_ref().and_then(|h| h.as_ref()) {
                o.observe(h.queue_depth() as u64, &[]);
            }
        })
        .build();
    PipelineMetrics(shared)
}

fn request_duration() -> &'static Histogram<f64> {
    static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();
    HISTOGRAM.get_or_init(|| {
        meter()
            .f64_histogram("http.server.request.duration")
            .with_description("Duration of HTTP server requests")
            .with_unit("s")
            .with_boundaries(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .build()
    })
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The remote parent carried by `traceparent`/`tracestate`/`baggage` headers, if any.
pub fn remote_context(headers: &HeaderMap) -> opentelemetry::Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// axum middleware: one server span per request, continuing the caller's trace, and the
/// request-duration histogram. Mount it with `Router::layer` so the matched route is known.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
        http.response.body.size = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    // A missing or malformed traceparent leaves the span a root; that is not an error.
    let _ = span.set_parent(remote_context(request.headers()));
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if let Some(len) = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        span.record("http.response.body.size", len);
    }
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    request_duration().record(
        started.elapsed().as_secs_f64(),
        &[
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route),
            KeyValue::new("http.response.status_code", i64::from(status)),
        ],
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(vars: &[(&str, &str)]) -> ExportPlan {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExportPlan::from_env(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(plan(&[]), ExportPlan::default());
        assert_eq!(
            plan(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
            ExportPlan::default()
        );
    }

    #[test]
    fn the_protocol_defaults_to_http_protobuf_and_per_signal_settings_win() {
        let p = plan(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]);
        assert_eq!(p.traces, Some(OtlpProtocol::HttpProtobuf));
        assert_eq!(p.metrics, Some(OtlpProtocol::HttpProtobuf));
        let p = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ]);
        assert_eq!(
            (p.traces, p.metrics),
            (Some(OtlpProtocol::Grpc), Some(OtlpProtocol::HttpProtobuf))
        );
    }

    #[test]
    fn signals_can_be_turned_off_one_by_one_or_all() {
        let p = plan(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces",
        )]);
        assert_eq!((p.traces.is_some(), p.metrics.is_some()), (true, false));
        let p = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ]);
        assert_eq!((p.traces.is_some(), p.metrics.is_some()), (true, false));
        let p = plan(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert_eq!(p, ExportPlan::default());
    }

    #[test]
    fn traceparent_headers_become_the_remote_parent() {
        use opentelemetry::trace::TraceContextExt;
        global::set_text_map_propagator(TraceContextPropagator::new());
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let cx = remote_context(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(sc.is_remote());
    }
}
