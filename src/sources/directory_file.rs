//! directory_file: `[directory] file` — `serve` imports the directory file at start and again
//! whenever its content changes (checked every `[directory] poll_seconds`, which also follows a Kubernetes
//! ConfigMap's symlink swap, where file events are unreliable).
//!
//! The file's SHA-256 goes into the snapshot's `source`, so a restart with the same file adds
//! no snapshot, and an import through the API or the CLI in between is replaced by the file on
//! its next change or the next start. A bad file is refused with its problems in the log; the
//! directory in force stays, and the same bad content is not reported again.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::directory::{self, Format, store};
use crate::pipeline::PipelineHandle;

/// The `source` a snapshot of this content records.
fn source(path: &std::path::Path, bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    format!("{} (sha256 {})", path.display(), &digest[..16])
}

/// Imports `path` now and whenever it changes, until `shutdown`.
pub async fn run(
    path: PathBuf,
    pipeline: PipelineHandle,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut last: Option<String> = None;
    loop {
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let src = source(&path, &bytes);
                if last.as_deref() != Some(src.as_str()) {
                    import(&path, bytes, &src, &pipeline).await;
                    last = Some(src);
                }
            }
            Err(e) => {
                let said = format!("unreadable: {e}");
                if last.as_deref() != Some(said.as_str()) {
                    tracing::warn!(path = %path.display(), error = %e, "[directory] file cannot be read; the directory in force stays");
                    last = Some(said);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn import(path: &std::path::Path, bytes: Vec<u8>, src: &str, pipeline: &PipelineHandle) {
    let format = Format::guess(&path.to_string_lossy());
    let parsed = tokio::task::spawn_blocking(move || directory::parse(&bytes, format)).await;
    let dir = match parsed {
        Ok(Ok(dir)) => dir,
        Ok(Err(problems)) => {
            let report = directory::ImportReport::refused(problems);
            tracing::warn!(path = %path.display(), "[directory] file refused; the directory in force stays\n{report}");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "directory parse task failed");
            return;
        }
    };
    let src = src.to_string();
    let outcome = pipeline
        .maintain_if(move |s| {
            let conn = s.connection();
            let current = match store::snapshot_info(conn) {
                Ok(c) => c,
                Err(e) => return (Err(e), false),
            };
            if current.is_some_and(|c| c.source.as_deref() == Some(src.as_str())) {
                return (Ok(None), false);
            }
            let out = store::import(conn, &dir, &src, chrono::Utc::now()).map(Some);
            let changed = out.is_ok();
            (out, changed)
        })
        .await;
    match outcome {
        Ok(Ok(Some(report))) => tracing::info!(
            path = %path.display(),
            snapshot = report.snapshot,
            people = report.people,
            groups = report.groups,
            "[directory] file imported"
        ),
        Ok(Ok(None)) => {
            tracing::debug!(path = %path.display(), "[directory] file already in force")
        }
        Ok(Err(e)) => {
            tracing::error!(path = %path.display(), error = %e, "[directory] file import failed")
        }
        Err(e) => tracing::debug!(error = %e, "writer stopped before the directory import"),
    }
}
