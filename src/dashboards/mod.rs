//! Ready-to-import Grafana, Datadog and Kibana dashboards, generated from one panel model.
//!
//! Users of the mirrord Operator look at its functional events in whatever tool they already
//! run. [`model`] describes every panel once (title, question, visual, what it measures); one
//! renderer per [`Vendor`] turns that model into the vendor's file:
//!
//! - [`grafana_prometheus`]: Grafana over mirrord-usage's own `/metrics` (counters only);
//! - [`grafana_loki`]: Grafana over the operator's logs in Loki (`| json` → `fields_*`);
//! - [`datadog`]: a Datadog dashboard of log queries on `@fields.*`;
//! - [`kibana`]: Kibana 8.x saved objects for fluentd → Elasticsearch (`logstash-*`).
//!
//! [`grafana`] holds what both Grafana variants share and [`layout`] the grid placement. The
//! `dashboards` subcommand writes all files ([`run_cli`]); the API serves one through [`render`].

pub mod datadog;
pub mod grafana;
pub mod grafana_loki;
pub mod grafana_prometheus;
pub mod kibana;
pub mod layout;
pub mod model;
mod readme;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Errors while generating dashboards.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The vendor name is not one we render.
    #[error(
        "unknown dashboard vendor {name:?}: use one of grafana-prometheus, grafana-loki, datadog, kibana"
    )]
    UnknownVendor { name: String },
    /// `--kibana-version` is not a Kibana version we can write saved objects for.
    #[error("Kibana version {version:?}: {reason}")]
    KibanaVersion { version: String, reason: String },
    /// A panel of the model has no translation for this vendor (a bug in the model or renderer).
    #[error("panel {panel:?} cannot be rendered for {vendor}: {reason}")]
    Unsupported {
        vendor: Vendor,
        panel: &'static str,
        reason: String,
    },
    /// Serializing the rendered JSON failed.
    #[error("cannot serialize the {vendor} dashboard: {source}")]
    Serialize {
        vendor: Vendor,
        source: serde_json::Error,
    },
}

/// A dashboard flavour we generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Grafana with Prometheus scraping mirrord-usage's `/metrics`.
    GrafanaPrometheus,
    /// Grafana with the operator's logs in Loki.
    GrafanaLoki,
    /// Datadog with the operator's logs.
    Datadog,
    /// Kibana with the operator's logs shipped by fluentd to Elasticsearch.
    Kibana,
}

impl Vendor {
    /// Every vendor, in the order files are written.
    pub const ALL: [Vendor; 4] = [
        Vendor::GrafanaPrometheus,
        Vendor::GrafanaLoki,
        Vendor::Datadog,
        Vendor::Kibana,
    ];

    /// The name used on the command line and in `GET /api/v1/dashboards/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::GrafanaPrometheus => "grafana-prometheus",
            Vendor::GrafanaLoki => "grafana-loki",
            Vendor::Datadog => "datadog",
            Vendor::Kibana => "kibana",
        }
    }

    /// The file the vendor's dashboard is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Vendor::GrafanaPrometheus => "grafana-prometheus.json",
            Vendor::GrafanaLoki => "grafana-loki.json",
            Vendor::Datadog => "datadog.json",
            Vendor::Kibana => "kibana.ndjson",
        }
    }

    /// The media type to serve the file with.
    pub fn content_type(self) -> &'static str {
        match self {
            Vendor::Kibana => "application/x-ndjson",
            _ => "application/json",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Vendor {
    type Err = DashboardError;

    /// Parses `grafana-prometheus`, `grafana-loki`, `datadog` or `kibana`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|vendor| vendor.name() == name)
            .ok_or_else(|| DashboardError::UnknownVendor {
                name: name.to_owned(),
            })
    }
}

/// Where the operator's logs live, as the log-based dashboards must select them.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct DashboardOptions {
    /// Kubernetes namespace of the operator (Loki stream label `namespace`, Datadog tag
    /// `kube_namespace`).
    #[arg(long, default_value = "mirrord")]
    pub namespace: String,
    /// Container name of the operator (Loki stream label `container`, Datadog tag
    /// `kube_container_name`).
    #[arg(long, default_value = "mirrord-operator")]
    pub container: String,
    /// Elasticsearch index pattern fluentd writes to (Kibana data view title).
    #[arg(long, default_value = "logstash-*")]
    pub index: String,
    /// Kibana version the saved objects are imported into (8.9 or later 8.x); no migration
    /// version written is newer than it.
    #[arg(long, default_value = "8.15")]
    pub kibana_version: String,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            namespace: "mirrord".to_owned(),
            container: "mirrord-operator".to_owned(),
            index: "logstash-*".to_owned(),
            kibana_version: "8.15".to_owned(),
        }
    }
}

/// `mirrord-usage dashboards` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardsArgs {
    /// Directory to write the dashboard files into (created if missing).
    #[arg(long, default_value = "dashboards")]
    pub out: PathBuf,
    #[command(flatten)]
    pub options: DashboardOptions,
}

/// Renders one vendor's dashboard as `(file name, content)` pairs (one file per vendor today).
///
/// ```
/// use mirrord_usage::dashboards::{render, DashboardOptions, Vendor};
/// let files = render("grafana-loki".parse().unwrap(), &DashboardOptions::default()).unwrap();
/// assert_eq!(files[0].0, "grafana-loki.json");
/// ```
pub fn render(
    vendor: Vendor,
    opts: &DashboardOptions,
) -> Result<Vec<(String, String)>, DashboardError> {
    let content = match vendor {
        Vendor::GrafanaPrometheus => pretty(vendor, &grafana_prometheus::dashboard()?)?,
        Vendor::GrafanaLoki => pretty(vendor, &grafana_loki::dashboard(opts)?)?,
        Vendor::Datadog => pretty(vendor, &datadog::dashboard(opts)?)?,
        Vendor::Kibana => kibana::saved_objects(opts)?,
    };
    Ok(vec![(vendor.file_name().to_owned(), content)])
}

/// Renders every vendor's files plus `README.md`, the table of each panel's query per vendor.
pub fn render_all(opts: &DashboardOptions) -> Result<Vec<(String, String)>, DashboardError> {
    let mut files = Vec::new();
    for vendor in Vendor::ALL {
        files.extend(render(vendor, opts)?);
    }
    files.push(("README.md".to_owned(), readme::render(opts)?));
    Ok(files)
}

/// Runs the `dashboards` subcommand: writes every file into `args.out`.
pub fn run_cli(args: &DashboardsArgs) -> Result<(), DashboardError> {
    let files = render_all(&args.options)?;
    std::fs::create_dir_all(&args.out).map_err(|source| DashboardError::Write {
        path: args.out.clone(),
        source,
    })?;
    for (name, content) in files {
        let path = args.out.join(name);
        std::fs::write(&path, content).map_err(|source| DashboardError::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Pretty JSON with a final newline, so committed files diff cleanly.
fn pretty(vendor: Vendor, value: &serde_json::Value) -> Result<String, DashboardError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|source| DashboardError::Serialize { vendor, source })?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_names_round_trip() {
        for vendor in Vendor::ALL {
            assert_eq!(vendor.name().parse::<Vendor>().ok(), Some(vendor));
        }
        assert!("grafana".parse::<Vendor>().is_err());
    }

    #[test]
    fn every_vendor_renders_with_default_options() {
        let files = render_all(&DashboardOptions::default());
        let names: Vec<_> = files
            .iter()
            .flatten()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "grafana-prometheus.json",
                "grafana-loki.json",
                "datadog.json",
                "kibana.ndjson",
                "README.md"
            ]
        );
    }
}
