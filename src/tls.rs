//! TLS for the ports `serve` listens on (`[server.tls]`): the HTTP port (and `[dashboard]
//! port`), OTLP/HTTP and OTLP/gRPC. One rustls configuration (ring provider) whose certificate
//! is re-read when the PEM files change, so a cert-manager renewal needs no restart; a reload
//! that fails keeps the last good certificate and logs why.
//!
//! [`serve_http`] runs an axum app over plain TCP or TLS. With TLS, each connection's handshake
//! runs in its own task with a deadline, so a slow or silent client never holds up the accept
//! loop; [`incoming`] does the same for tonic. This module sits beside the sources and the
//! server and imports neither.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are looked at for a change (on handshakes).
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Certificate errors, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason} ([server.tls] cert)")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read the TLS private key {path}: {reason} ([server.tls] key)")]
    Key { path: PathBuf, reason: String },
    #[error("the TLS key {key} does not fit the certificate {cert}: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// Where the PEM certificate chain and key are (`[server.tls] cert` and `key`). Kept here, not
/// taken from the config module, so this module depends on nothing of the crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Installs ring as the process's rustls provider (once; later calls do nothing). The HTTP
/// clients (Jira webhook, OTLP export) use it too.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads the PEM chain and key into a signing key for rustls.
fn load(config: &CertFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_err = |reason: String| TlsError::Cert {
        path: config.cert.clone(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no CERTIFICATE block in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|e| TlsError::Key {
        path: config.key.clone(),
        reason: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified =
        CertifiedKey::from_der(chain, key, &provider).map_err(|e| TlsError::Mismatch {
            cert: config.cert.clone(),
            key: config.key.clone(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(certified))
}

/// The current certificate and the files' modification times it was read at.
struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

/// A certificate resolver that re-reads the files when they change.
pub struct ReloadingCert {
    config: CertFiles,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReloadingCert({})", self.config.cert.display())
    }
}

impl ReloadingCert {
    /// Reads the files now; an error here stops the start-up.
    pub fn new(config: &CertFiles) -> Result<ReloadingCert, TlsError> {
        let key = load(config)?;
        Ok(ReloadingCert {
            config: config.clone(),
            loaded: Mutex::new(Loaded {
                key,
                stamps: (modified(&config.cert), modified(&config.key)),
                checked: Instant::now(),
            }),
        })
    }

    fn current(&self) -> Option<Arc<CertifiedKey>> {
        let mut loaded = self.loaded.lock().ok()?;
        if loaded.checked.elapsed() >= RELOAD_CHECK {
            loaded.checked = Instant::now();
            let stamps = (modified(&self.config.cert), modified(&self.config.key));
            if stamps != loaded.stamps {
                match load(&self.config) {
                    Ok(key) => {
                        tracing::info!(cert = %self.config.cert.display(), "TLS certificate reloaded");
                        loaded.key = key;
                        loaded.stamps = stamps;
                    }
                    // Keep serving the last good certificate (a renewal may be half-written).
                    Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded"),
                }
            }
        }
        Some(loaded.key.clone())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// A TLS acceptor for `config` offering `alpn` (e.g. `h2`, `http/1.1`).
pub fn acceptor(config: &CertFiles, alpn: &[&[u8]]) -> Result<TlsAcceptor, TlsError> {
    install_provider();
    let resolver = Arc::new(ReloadingCert::new(config)?);
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Cert {
        path: config.cert.clone(),
        reason: e.to_string(),
    })?
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The handshake of one accepted connection, bounded by [`HANDSHAKE_TIMEOUT`].
async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().ok();
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(?peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(?peer, "TLS handshake timed out");
            None
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, over TLS when `tls` is set, then lets the
/// connections in flight finish.
pub async fn serve_http<F>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let Some(acceptor) = tls else {
        // No Nagle: a report's body (up to a few megabytes) otherwise waits on delayed ACKs.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: back off, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (acceptor, app, builder) = (acceptor.clone(), app.clone(), builder.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(tls) = handshake(&acceptor, tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let conn =
                builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, "https connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// TLS connections accepted from `listener`, each handshake in its own task, for tonic's
/// `serve_with_incoming`.
pub fn incoming(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                // The server stopped reading: it is shutting down.
                _ = tx.closed() => break,
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                if let Some(tls) = handshake(&acceptor, tcp).await {
                    let _ = tx.send(Ok(tls)).await;
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_mismatched_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = CertFiles {
            cert: dir.path().join("nope.crt"),
            key: dir.path().join("nope.key"),
        };
        let err = load(&config).err().unwrap().to_string();
        assert!(
            err.contains("nope.crt") && err.contains("[server.tls] cert"),
            "{err}"
        );
        std::fs::write(&config.cert, "not pem").unwrap();
        let err = load(&config).err().unwrap().to_string();
        assert!(err.contains("nope.crt"), "{err}");
    }
}
