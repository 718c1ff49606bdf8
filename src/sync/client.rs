//! The blocking HTTPS client of the `/v1` API (ureq 3 + rustls; no OpenSSL).
//!
//! Trust: with `server.ca_path` only the fleet CA in that PEM file is trusted;
//! without it the built-in web roots (Mozilla's list). Plain `http://` is
//! accepted by config validation for loopback hosts only.
//!
//! Every request carries a JSON body (signed requests sign the exact bytes
//! sent), the `x-lifecert-protocol: 1` header and, when signed, the Ed25519
//! headers of [`DeviceKey::sign_request`]. Every answer must carry the same
//! protocol version; 2xx bodies are parsed into the route's answer type,
//! other statuses into [`ErrorBody`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lifecert_protocol::api::PROTOCOL_HEADER;
use lifecert_protocol::auth::{DeviceKey, HEADER_OPERATOR};
use lifecert_protocol::{ErrorBody, PROTOCOL_VERSION};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL, e.g. `https://lifecert.example.org` (a path prefix is allowed).
    pub base_url: String,
    /// The fleet CA PEM file; `None` = built-in web roots.
    pub ca_path: Option<PathBuf>,
    /// Timeout of one whole request.
    pub timeout: Duration,
}

/// Why a request failed. Log it with [`super::chain`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the fleet CA file {path}: {source}")]
    CaRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the fleet CA file {path} holds no usable PEM certificate ({reason}); set server.ca_path to the CA certificate the server's certificate was issued by"
    )]
    CaPem { path: PathBuf, reason: String },
    #[error("cannot encode the request body: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("request to {url} timed out")]
    Timeout {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("cannot reach the server at {url} (network or TLS)")]
    Transport {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("the server at {url} speaks protocol {got:?}, this kiosk speaks {PROTOCOL_VERSION}")]
    ProtocolHeader { url: String, got: Option<String> },
    #[error("the server answered {status} {}: {}", body.code, body.message)]
    Status { status: u16, body: ErrorBody },
    #[error("the server's answer ({status}) is not the expected JSON")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status and error code, when the server answered with an error.
    pub fn status(&self) -> Option<(u16, &str)> {
        match self {
            ClientError::Status { status, body } => Some((*status, body.code.as_str())),
            _ => None,
        }
    }
}

/// The HTTPS client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    base: String,
    /// The path prefix of `base` (signed as part of the path).
    prefix: String,
    signer: Option<(String, Arc<DeviceKey>)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

/// Loads the fleet CA certificates from a PEM file.
pub fn load_ca(path: &Path) -> Result<Vec<Certificate<'static>>, ClientError> {
    let pem = std::fs::read(path).map_err(|source| ClientError::CaRead {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(ClientError::CaPem {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(ClientError::CaPem {
            path: path.to_path_buf(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

fn path_prefix(base: &str) -> String {
    let rest = base.split_once("://").map(|(_, rest)| rest).unwrap_or(base);
    match rest.find('/') {
        Some(i) => rest[i..].trim_end_matches('/').to_string(),
        None => String::new(),
    }
}

impl Client {
    /// An unsigned client (registration, server key).
    pub fn new(options: &ClientOptions) -> Result<Client, ClientError> {
        let tls = match &options.ca_path {
            Some(path) => TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&load_ca(path)?))
                .build(),
            None => TlsConfig::builder().root_certs(RootCerts::WebPki).build(),
        };
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .tls_config(tls)
            .user_agent(format!("lifecert-kiosk/{}", env!("CARGO_PKG_VERSION")))
            .build();
        let base = options.base_url.trim_end_matches('/').to_string();
        Ok(Client {
            agent: Agent::new_with_config(config),
            prefix: path_prefix(&base),
            base,
            signer: None,
        })
    }

    /// The same client, signing requests as `device` with `key`.
    pub fn signed(mut self, device: &str, key: Arc<DeviceKey>) -> Client {
        self.signer = Some((device.to_string(), key));
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path` (unsigned).
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let result = self
            .agent
            .get(&url)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .call();
        Self::answer(&url, result)
    }

    /// `POST path` with `body` as JSON; signed when the client has a key.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.post_with(path, body, None)
    }

    /// [`Client::post`] with the staff operator credential header.
    pub fn post_with<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        operator: Option<&str>,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(ClientError::Encode)?;
        let url = format!("{}{path}", self.base);
        let mut request = self
            .agent
            .post(&url)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .content_type("application/json");
        if let Some((device, key)) = &self.signer {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let signed_path = format!("{}{path}", self.prefix);
            let headers = key.sign_request(device, "POST", &signed_path, now, &bytes);
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
        }
        if let Some(credential) = operator {
            request = request.header(HEADER_OPERATOR, credential);
        }
        let result = request.send(&bytes[..]);
        Self::answer(&url, result)
    }

    fn answer<T: DeserializeOwned>(
        url: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut response = result.map_err(|source| match source {
            ureq::Error::Timeout(_) => ClientError::Timeout {
                url: url.to_string(),
                source,
            },
            source => ClientError::Transport {
                url: url.to_string(),
                source,
            },
        })?;
        let status = response.status().as_u16();
        let protocol = response
            .headers()
            .get(PROTOCOL_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|source| match source {
                ureq::Error::Timeout(_) => ClientError::Timeout {
                    url: url.to_string(),
                    source,
                },
                source => ClientError::Transport {
                    url: url.to_string(),
                    source,
                },
            })?;
        if protocol.as_deref().map(str::trim) != Some(PROTOCOL_VERSION.to_string().as_str()) {
            // An error page of a proxy in front of the server has no header:
            // a 5xx without it is the proxy's fault, retry later.
            if protocol.is_none() && status >= 500 {
                return Err(ClientError::Status {
                    status,
                    body: ErrorBody {
                        code: lifecert_protocol::api::codes::INTERNAL.into(),
                        message: format!("HTTP {status} without the protocol header"),
                    },
                });
            }
            return Err(ClientError::ProtocolHeader {
                url: url.to_string(),
                got: protocol,
            });
        }
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(|source| ClientError::Decode { status, source })
        } else {
            let body = serde_json::from_slice::<ErrorBody>(&body).unwrap_or_else(|_| ErrorBody {
                code: format!("http_{status}"),
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
            });
            Err(ClientError::Status { status, body })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefix_is_the_path_of_the_base_url() {
        assert_eq!(path_prefix("https://h.example"), "");
        assert_eq!(path_prefix("https://h.example/"), "");
        assert_eq!(path_prefix("https://h.example:8443/lc/"), "/lc");
        assert_eq!(path_prefix("http://127.0.0.1:80/a/b"), "/a/b");
    }
}
