//! The listening socket: plain TCP (loopback tests only) or TLS (rustls,
//! ring provider). TLS handshakes run in their own tasks so a slow client
//! cannot stall others; finished connections reach axum through a channel.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection, TLS or plain.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.cert_path {}: {message}; give a PEM certificate chain", path.display())]
    Cert {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("tls.key_path {}: {message}; give a PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display())]
    Key {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("the TLS certificate and key do not fit together: {0}")]
    Config(String),
}

/// Builds the rustls server config from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Cert {
            path: cert.to_path_buf(),
            message: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Cert {
            path: cert.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Cert {
            path: cert.to_path_buf(),
            message: "no CERTIFICATE block found".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        message: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    // Both are served (axum with http1 + http2, see Cargo.toml); browsers pick h2.
    // scripts/smoke-shipped.sh checks both against the release binary.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// An axum listener fed by an accept task.
pub struct Incoming {
    rx: mpsc::Receiver<(Box<dyn IoStream>, SocketAddr)>,
    local: SocketAddr,
}

impl Incoming {
    /// Starts accepting on `listener`, with TLS when `tls` is given.
    pub fn start(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Incoming> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        let acceptor = tls.map(TlsAcceptor::from);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                if tx.is_closed() {
                    break;
                }
                match &acceptor {
                    None => {
                        if tx
                            .send((Box::new(tcp) as Box<dyn IoStream>, peer))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                                .await
                            {
                                Ok(Ok(tls)) => {
                                    let _ =
                                        tx.send((Box::new(tls) as Box<dyn IoStream>, peer)).await;
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
        });
        Ok(Incoming { rx, local })
    }
}

impl axum::serve::Listener for Incoming {
    type Io = Box<dyn IoStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
