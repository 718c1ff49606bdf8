//! `lifecert register`: the one-time registration of this kiosk with a server.
//!
//! 1. create the Ed25519 device key at `server.device_key_path` if missing
//!    (32 raw bytes, mode 0600 on Unix, never logged);
//! 2. `GET /v1/server-key`;
//! 3. `POST /v1/devices/register` with the one-time token;
//! 4. save `<data_dir>/server.json` {server_url, device_id, sealing_key,
//!    registered_at}.
//!
//! When kiosk.toml's `server.url` is empty the kiosk then uses the registered
//! server; when both are set and differ, the config wins (with a warning).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lifecert_protocol::PROTOCOL_VERSION;
use lifecert_protocol::api::{RegisterRequest, RegisterResponse, ServerKey, codes};
use lifecert_protocol::auth::DeviceKey;
use lifecert_protocol::seal::SealingKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::client::{Client, ClientError, ClientOptions};

/// The file name of the registration in the data directory.
pub const REGISTRATION_FILE: &str = "server.json";

/// `<data_dir>/server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub server_url: String,
    pub device_id: String,
    /// The server's X25519 sealing key, standard base64.
    pub sealing_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
}

impl Registration {
    /// The registration in `data_dir`, if any.
    pub fn load(data_dir: &Path) -> Result<Option<Registration>, RegisterError> {
        let path = data_dir.join(REGISTRATION_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RegisterError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RegisterError::BadFile {
                path,
                reason: e.to_string(),
            })
    }

    /// Writes it atomically to `data_dir`.
    pub fn save(&self, data_dir: &Path) -> Result<PathBuf, RegisterError> {
        std::fs::create_dir_all(data_dir).map_err(|source| RegisterError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(REGISTRATION_FILE);
        let tmp = data_dir.join(".server.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| RegisterError::BadFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| RegisterError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// The parsed sealing key.
    pub fn sealing_key(&self) -> Result<SealingKey, RegisterError> {
        SealingKey::from_b64(&self.sealing_key).map_err(|e| RegisterError::BadFile {
            path: PathBuf::from(REGISTRATION_FILE),
            reason: format!("sealing_key: {e}"),
        })
    }
}

/// Why registration (or loading its results) failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot reach the server at {url}: check the address, the network and server.ca_path")]
    Unreachable {
        url: String,
        #[source]
        source: ClientError,
    },
    #[error("the token is invalid, used or expired: create a new one on the admin page")]
    InvalidToken,
    #[error(
        "a device with id {device_id:?} is already registered on this server: revoke it on the admin page, or set another device.id"
    )]
    DeviceExists { device_id: String },
    #[error("the server refused the registration")]
    Refused(#[source] ClientError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is damaged ({reason}): move it away and register again with `lifecert register`"
    )]
    BadFile { path: PathBuf, reason: String },
    #[error("the server's sealing key is not valid: {0}")]
    BadServerKey(String),
}

/// What `register` needs.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub server_url: String,
    pub token: String,
    /// `device.id`, or `None` to derive one from the device key.
    pub device_id: Option<String>,
    pub name: String,
    pub site: String,
    pub device_key_path: PathBuf,
    pub data_dir: PathBuf,
    pub ca_path: Option<PathBuf>,
    pub timeout: Duration,
}

/// Loads the device key, creating it (mode 0600) if missing.
pub fn load_or_create_device_key(path: &Path) -> Result<DeviceKey, RegisterError> {
    let io = |source| RegisterError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| RegisterError::BadFile {
                path: path.to_path_buf(),
                reason: "a device key file holds exactly 32 bytes".into(),
            })?;
            Ok(DeviceKey::from_bytes(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let key = DeviceKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(io)?;
            file.write_all(&key.to_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "created the device key");
            Ok(key)
        }
        Err(source) => Err(io(source)),
    }
}

/// Loads an existing device key (never creates one).
pub fn load_device_key(path: &Path) -> Result<DeviceKey, RegisterError> {
    let bytes = std::fs::read(path).map_err(|source| RegisterError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| RegisterError::BadFile {
        path: path.to_path_buf(),
        reason: "a device key file holds exactly 32 bytes".into(),
    })?;
    Ok(DeviceKey::from_bytes(&bytes))
}

/// A device id derived from the public key: `kiosk-` and 12 hex digits.
pub fn derived_device_id(key: &DeviceKey) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.public_key_b64().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("kiosk-{hex}")
}

/// Registers this kiosk and saves `server.json`.
pub fn register(options: &RegisterOptions) -> Result<Registration, RegisterError> {
    let key = load_or_create_device_key(&options.device_key_path)?;
    let device_id = options
        .device_id
        .clone()
        .unwrap_or_else(|| derived_device_id(&key));
    let client = Client::new(&ClientOptions {
        base_url: options.server_url.clone(),
        ca_path: options.ca_path.clone(),
        timeout: options.timeout,
    })
    .map_err(|source| RegisterError::Unreachable {
        url: options.server_url.clone(),
        source,
    })?;
    let unreachable = |source: ClientError| match &source {
        ClientError::Status { .. } | ClientError::ProtocolHeader { .. } => {
            RegisterError::Refused(source)
        }
        _ => RegisterError::Unreachable {
            url: options.server_url.clone(),
            source,
        },
    };
    let server_key: ServerKey = client.get("/v1/server-key").map_err(unreachable)?;
    SealingKey::from_b64(&server_key.sealing_key)
        .map_err(|e| RegisterError::BadServerKey(e.to_string()))?;
    let request = RegisterRequest {
        token: options.token.trim().to_string(),
        device_id: device_id.clone(),
        public_key: key.public_key_b64(),
        name: options.name.clone(),
        site: options.site.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let answer: RegisterResponse =
        client
            .post("/v1/devices/register", &request)
            .map_err(|e| match e.status() {
                Some((403, codes::INVALID_TOKEN)) => RegisterError::InvalidToken,
                Some((409, _)) => RegisterError::DeviceExists {
                    device_id: device_id.clone(),
                },
                _ => unreachable(e),
            })?;
    SealingKey::from_b64(&answer.sealing_key)
        .map_err(|e| RegisterError::BadServerKey(e.to_string()))?;
    if answer.sealing_key != server_key.sealing_key {
        tracing::warn!(
            "the registration answer's sealing key differs from /v1/server-key; using the registration's"
        );
    }
    if answer.protocol != PROTOCOL_VERSION {
        tracing::warn!(
            server = answer.protocol,
            kiosk = PROTOCOL_VERSION,
            "protocol versions differ"
        );
    }
    let registration = Registration {
        server_url: options.server_url.trim_end_matches('/').to_string(),
        device_id: answer.device_id,
        sealing_key: answer.sealing_key,
        registered_at: OffsetDateTime::now_utc(),
    };
    registration.save(&options.data_dir)?;
    Ok(registration)
}

/// The server this kiosk talks to, resolved from config and registration.
#[derive(Debug)]
pub struct ResolvedServer {
    pub url: String,
    pub device_id: String,
    pub sealing_key: SealingKey,
    pub key: Arc<DeviceKey>,
}

/// Resolves the server: `Ok(None)` when the kiosk is not registered.
/// kiosk.toml's `server.url` wins over `server.json` (with a warning when
/// they differ); the registered device id is used (the server knows the key
/// under it).
pub fn resolve(config: &crate::config::Config) -> Result<Option<ResolvedServer>, RegisterError> {
    let Some(registration) = Registration::load(&config.storage.data_dir)? else {
        return Ok(None);
    };
    let url = match &config.server.url {
        Some(url) if url.trim_end_matches('/') != registration.server_url => {
            tracing::warn!(
                config = %url,
                registered = %registration.server_url,
                "server.url differs from the registered server; using server.url"
            );
            url.clone()
        }
        Some(url) => url.clone(),
        None => registration.server_url.clone(),
    };
    if let Some(id) = &config.device.id
        && *id != registration.device_id
    {
        tracing::warn!(
            config = %id,
            registered = %registration.device_id,
            "device.id differs from the registered device id; using the registered one"
        );
    }
    let key = load_device_key(&config.server.device_key_path)?;
    Ok(Some(ResolvedServer {
        url,
        device_id: registration.device_id.clone(),
        sealing_key: registration.sealing_key()?,
        key: Arc::new(key),
    }))
}
