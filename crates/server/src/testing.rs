//! Helpers for tests, benches and local development: a throwaway CA and a
//! server certificate for `localhost` / `127.0.0.1` (rcgen).

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use crate::config::TlsConfig;

/// Why the certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Gen(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// PEM files written by [`dev_tls`].
#[derive(Debug, Clone)]
pub struct DevTls {
    /// For `[tls]` of the server config.
    pub tls: TlsConfig,
    /// The CA certificate (PEM) clients must trust.
    pub ca_pem: String,
    /// Where the CA certificate was written (`ca.pem`).
    pub ca_path: std::path::PathBuf,
}

/// Writes `ca.pem`, `server.pem` and `server.key` into `dir`.
pub fn dev_tls(dir: &Path) -> Result<DevTls, CertError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lifecert dev CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let server_key = KeyPair::generate()?;
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let cert = params.signed_by(&server_key, &ca)?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| CertError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok::<_, CertError>(path)
    };
    std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let ca_pem = ca.pem();
    let ca_path = write("ca.pem", &ca_pem)?;
    let cert_path = write("server.pem", &cert.pem())?;
    let key_path = write("server.key", &server_key.serialize_pem())?;
    Ok(DevTls {
        tls: TlsConfig {
            cert_path,
            key_path,
        },
        ca_pem,
        ca_path,
    })
}
