//! `server.toml` in two stages: [`RawConfig`] (serde, unknown keys rejected) and
//! [`Config`] (validated, typed). Validation collects every problem, each
//! naming its key and what to do, so an operator fixes the file in one pass.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One problem found in a configuration, naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `storage.backend`.
    pub key: String,
    /// The full message (names the key, the bad value and what is allowed).
    pub message: String,
}

impl Problem {
    fn new(key: &str, message: impl Into<String>) -> Problem {
        Problem {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "configuration file {} not found; create it (see crates/server/server.example.toml) \
         or pass --config PATH",
        .0.display()
    )]
    NotFound(PathBuf),
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Problem>),
}

fn render(problems: &[Problem]) -> String {
    let mut s = format!(
        "the server configuration has {} problem(s):",
        problems.len()
    );
    for p in problems {
        s.push_str("\n  - ");
        s.push_str(&p.message);
    }
    s
}

/// The unvalidated configuration as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub listen: String,
    pub data_dir: String,
    pub tls: RawTls,
    pub storage: RawStorage,
    pub limits: RawLimits,
    pub admin: RawAdmin,
    pub matching: RawMatching,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            listen: "127.0.0.1:8443".into(),
            data_dir: String::new(),
            tls: RawTls::default(),
            storage: RawStorage::default(),
            limits: RawLimits::default(),
            admin: RawAdmin::default(),
            matching: RawMatching::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTls {
    pub enabled: bool,
    pub cert_path: String,
    pub key_path: String,
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            enabled: true,
            cert_path: String::new(),
            key_path: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStorage {
    pub backend: String,
    pub sqlite_path: String,
    pub postgres_url: String,
    pub postgres_pool_size: i64,
    /// Optional schema (created if missing) that every connection uses.
    pub postgres_schema: String,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            backend: "sqlite".into(),
            sqlite_path: String::new(),
            postgres_url: String::new(),
            postgres_pool_size: 16,
            postgres_schema: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    pub requests_per_minute_per_device: i64,
    pub max_body_bytes: i64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            requests_per_minute_per_device: 600,
            max_body_bytes: i64::try_from(lifecert_protocol::api::MAX_BODY_BYTES)
                .unwrap_or(1 << 20),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAdmin {
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMatching {
    pub threshold: f64,
}

impl Default for RawMatching {
    fn default() -> Self {
        RawMatching {
            threshold: f64::from(lifecert_core::matching::DEFAULT_THRESHOLD),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None` = plain HTTP (only allowed on loopback).
    pub tls: Option<TlsConfig>,
    pub storage: StorageConfig,
    /// Holds `server-sealing.key` and `subject-key.secret`.
    pub data_dir: PathBuf,
    pub limits: Limits,
    pub admin: AdminConfig,
    /// Euclidean distance at or below which evidence matches the template.
    pub match_threshold: f32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: String,
        pool_size: usize,
        schema: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute_per_device: u32,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminConfig {
    /// Argon2 PHC string of the admin password (`None` = admin pages locked).
    pub password_hash: Option<String>,
}

impl Config {
    /// A config for tests: plain settings around `data_dir` with a SQLite file
    /// in it, TLS from the given PEM files, listening on 127.0.0.1:0.
    pub fn for_test(data_dir: &Path, tls: Option<TlsConfig>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls,
            storage: StorageConfig::Sqlite {
                path: data_dir.join("server.db"),
            },
            data_dir: data_dir.to_path_buf(),
            limits: Limits {
                requests_per_minute_per_device: 6000,
                max_body_bytes: lifecert_protocol::api::MAX_BODY_BYTES,
            },
            admin: AdminConfig::default(),
            match_threshold: lifecert_core::matching::DEFAULT_THRESHOLD,
        }
    }

    /// Reads and validates `path`. Relative paths inside resolve against the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound(path.to_path_buf())
            } else {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base)
    }

    /// Parses and validates TOML text; relative paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            ConfigError::Invalid(vec![Problem::new(
                "",
                format!("TOML syntax error: {}", e.message()),
            )])
        })?;
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let inner = e.into_inner();
                ConfigError::Invalid(vec![Problem::new(
                    &key,
                    format!(
                        "{key}: {} (see crates/server/server.example.toml for the keys)",
                        inner.message()
                    ),
                )])
            })?;
        raw.validate(base)
    }
}

impl RawConfig {
    /// Stage two: every problem collected.
    pub fn validate(&self, base: &Path) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut push = |key: &str, msg: String| problems.push(Problem::new(key, msg));
        let resolve = |p: &str| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { base.join(p) }
        };

        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                push(
                    "listen",
                    format!(
                        "listen = {:?}: not an address; write IP:PORT such as \"127.0.0.1:8443\" \
                         or \"0.0.0.0:8443\" (port 0 picks a free port)",
                        self.listen
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        };

        let tls = if self.tls.enabled {
            if self.tls.cert_path.is_empty() {
                push(
                    "tls.cert_path",
                    "tls.cert_path is empty: set it to the server certificate chain (PEM), \
                     or set tls.enabled = false for a loopback-only test server"
                        .into(),
                );
            }
            if self.tls.key_path.is_empty() {
                push(
                    "tls.key_path",
                    "tls.key_path is empty: set it to the server private key (PEM)".into(),
                );
            }
            Some(TlsConfig {
                cert_path: resolve(&self.tls.cert_path),
                key_path: resolve(&self.tls.key_path),
            })
        } else {
            if !listen.ip().is_loopback() {
                push(
                    "tls.enabled",
                    format!(
                        "tls.enabled = false with listen = {:?}: plain HTTP is only allowed on a \
                         loopback address (127.0.0.1 or ::1); enable TLS or listen on loopback",
                        self.listen
                    ),
                );
            }
            None
        };

        let data_dir = if self.data_dir.is_empty() {
            push(
                "data_dir",
                "data_dir is empty: set it to a directory for the server's keys \
                 (created if missing), e.g. data_dir = \"/var/lib/lifecert\""
                    .into(),
            );
            PathBuf::new()
        } else {
            resolve(&self.data_dir)
        };

        let storage = match self.storage.backend.as_str() {
            "sqlite" => {
                let path = if self.storage.sqlite_path.is_empty() {
                    data_dir.join("server.db")
                } else {
                    resolve(&self.storage.sqlite_path)
                };
                StorageConfig::Sqlite { path }
            }
            "postgres" => {
                if self.storage.postgres_url.is_empty() {
                    push(
                        "storage.postgres_url",
                        "storage.postgres_url is empty: with backend = \"postgres\" set it, e.g. \
                         \"postgres://lifecert@127.0.0.1:5432/lifecert\""
                            .into(),
                    );
                } else if self
                    .storage
                    .postgres_url
                    .parse::<tokio_postgres::Config>()
                    .is_err()
                {
                    push(
                        "storage.postgres_url",
                        "storage.postgres_url is not a valid PostgreSQL URL; use the form \
                         postgres://USER[:PASSWORD]@HOST:PORT/DATABASE"
                            .into(),
                    );
                }
                let pool = self.storage.postgres_pool_size;
                if !(1..=256).contains(&pool) {
                    push(
                        "storage.postgres_pool_size",
                        format!("storage.postgres_pool_size = {pool}: must be between 1 and 256"),
                    );
                }
                let schema = &self.storage.postgres_schema;
                let schema_ok = schema.len() <= 63
                    && schema
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && schema
                        .bytes()
                        .next()
                        .is_some_and(|b| b.is_ascii_lowercase());
                if !schema.is_empty() && !schema_ok {
                    push(
                        "storage.postgres_schema",
                        format!(
                            "storage.postgres_schema = {schema:?}: use lowercase letters, digits \
                             and '_' (starting with a letter, at most 63), or leave it empty"
                        ),
                    );
                }
                StorageConfig::Postgres {
                    url: self.storage.postgres_url.clone(),
                    pool_size: usize::try_from(pool.clamp(1, 256)).unwrap_or(16),
                    schema: (!schema.is_empty()).then(|| schema.clone()),
                }
            }
            other => {
                push(
                    "storage.backend",
                    format!("storage.backend = {other:?}: must be \"sqlite\" or \"postgres\""),
                );
                StorageConfig::Sqlite {
                    path: PathBuf::new(),
                }
            }
        };

        let rpm = self.limits.requests_per_minute_per_device;
        if !(1..=1_000_000).contains(&rpm) {
            push(
                "limits.requests_per_minute_per_device",
                format!(
                    "limits.requests_per_minute_per_device = {rpm}: must be between 1 and 1000000"
                ),
            );
        }
        let body = self.limits.max_body_bytes;
        if !(1024..=64 * 1024 * 1024).contains(&body) {
            push(
                "limits.max_body_bytes",
                format!(
                    "limits.max_body_bytes = {body}: must be between 1024 and 67108864 \
                     (default {})",
                    lifecert_protocol::api::MAX_BODY_BYTES
                ),
            );
        }

        if let Some(hash) = &self.admin.password_hash
            && !hash.starts_with("$argon2")
        {
            push(
                "admin.password_hash",
                "admin.password_hash is not an argon2 PHC string (it must start with \
                 \"$argon2\"); make one with `lifecert-server hash-password`, or remove the key to lock \
                 the admin pages"
                    .into(),
            );
        }

        let threshold = self.matching.threshold;
        if !(threshold.is_finite() && threshold > 0.0 && threshold <= 2.0) {
            push(
                "matching.threshold",
                format!(
                    "matching.threshold = {threshold:?}: must be a Euclidean distance above 0 \
                     and at most 2.0 (default 0.5)"
                ),
            );
        }

        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Config {
            listen,
            tls,
            storage,
            data_dir,
            limits: Limits {
                requests_per_minute_per_device: u32::try_from(rpm).unwrap_or(600),
                max_body_bytes: usize::try_from(body).unwrap_or(1 << 20),
            },
            admin: AdminConfig {
                password_hash: self.admin.password_hash.clone(),
            },
            match_threshold: threshold as f32,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        match Config::parse(text, Path::new("/etc/lifecert")) {
            Err(ConfigError::Invalid(p)) => p,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_is_valid_and_resolves_paths() {
        let c = Config::parse(
            "data_dir = \"data\"\n[tls]\ncert_path = \"c.pem\"\nkey_path = \"k.pem\"\n",
            Path::new("/etc/lifecert"),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/etc/lifecert/data"));
        assert_eq!(
            c.storage,
            StorageConfig::Sqlite {
                path: PathBuf::from("/etc/lifecert/data/server.db")
            }
        );
        assert_eq!(
            c.tls.unwrap().cert_path,
            PathBuf::from("/etc/lifecert/c.pem")
        );
        assert_eq!(
            c.limits.max_body_bytes,
            lifecert_protocol::api::MAX_BODY_BYTES
        );
        assert!((c.match_threshold - 0.5).abs() < 1e-6);
    }

    #[test]
    fn every_bad_value_is_named() {
        let p = problems(
            r#"
listen = "nowhere"
[tls]
enabled = true
[storage]
backend = "mysql"
[limits]
requests_per_minute_per_device = 0
max_body_bytes = 10
[admin]
password_hash = "plain"
[matching]
threshold = 5.0
"#,
        );
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "listen",
            "tls.cert_path",
            "tls.key_path",
            "data_dir",
            "storage.backend",
            "limits.requests_per_minute_per_device",
            "limits.max_body_bytes",
            "admin.password_hash",
            "matching.threshold",
        ] {
            assert!(keys.contains(&key), "{key} missing in {keys:?}");
            let msg = &p.iter().find(|p| p.key == key).unwrap().message;
            assert!(msg.contains(key), "message does not name {key}: {msg}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let p = problems("data_dir = \"d\"\n[storage]\nbakend = \"sqlite\"\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("bakend"), "{}", p[0].message);
        assert!(p[0].key.starts_with("storage"), "{}", p[0].key);
    }

    #[test]
    fn wrong_type_is_named() {
        let p = problems("data_dir = \"d\"\n[limits]\nmax_body_bytes = \"big\"\n");
        assert_eq!(p[0].key, "limits.max_body_bytes");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let ok = Config::parse(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n[tls]\nenabled = false\n",
            Path::new("/x"),
        )
        .unwrap();
        assert!(ok.tls.is_none());
        let p = problems("listen = \"0.0.0.0:80\"\ndata_dir = \"d\"\n[tls]\nenabled = false\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "tls.enabled");
    }

    #[test]
    fn postgres_needs_url_and_sane_pool() {
        let p = problems(
            "data_dir = \"d\"\n[tls]\nenabled=false\n[storage]\nbackend = \"postgres\"\npostgres_pool_size = 0\npostgres_schema = \"Bad-Name\"\n",
        );
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "storage.postgres_url",
                "storage.postgres_pool_size",
                "storage.postgres_schema"
            ]
        );
    }
}
