//! TLS for `https://` URLs (trackers, .torrent downloads), by rustls.
//!
//! Trusted roots are Mozilla's (compiled in by `webpki-roots`, so nothing
//! depends on the system's certificate store), plus every certificate in the
//! PEM file named by `SSL_CERT_FILE` when that is set — the variable OpenSSL
//! honours, for private CAs.

use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::HttpError;

/// The client configuration, built once per process.
fn config() -> Result<Arc<ClientConfig>, HttpError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
                match CertificateDer::pem_file_iter(&path) {
                    Ok(certs) => {
                        let (added, ignored) = roots.add_parsable_certificates(certs.flatten());
                        tracing::debug!(added, ignored, "extra roots from SSL_CERT_FILE");
                    }
                    Err(err) => tracing::warn!("cannot read SSL_CERT_FILE: {err}"),
                }
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(HttpError::Tls)
}

/// Runs the TLS handshake on `stream` for `host` (a name or an IP address,
/// checked against the certificate).
pub(crate) async fn connect(
    host: &str,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, HttpError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| HttpError::BadUrl(format!("{host} is not a valid TLS server name")))?;
    TlsConnector::from(config()?)
        .connect(name, stream)
        .await
        .map_err(|e| HttpError::Tls(e.to_string()))
}
