//! lifecert-server: the reference central server for lifecert kiosks.
//!
//! Start one in a test:
//! ```no_run
//! # async fn demo() -> Result<(), lifecert_server::ServerError> {
//! let dir = std::path::Path::new("/tmp/lifecert-test");
//! let config = lifecert_server::config::Config::for_test(dir, None);
//! let server = lifecert_server::serve(config).await?;
//! let token = lifecert_server::create_token(server.state.storage.as_ref(), 1).await?;
//! println!("{} {token}", server.url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod api;
pub mod config;
pub mod keys;
pub mod net;
pub mod seed;
pub mod status;
pub mod storage;
pub mod testing;
pub mod tools;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lifecert_core::cycle::RuleTable;
use lifecert_protocol::seal::OpeningKey;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::ratelimit::RateLimiter;
use crate::config::{Config, Limits, StorageConfig};
use crate::keys::{KeyError, SubjectKeyer};
use crate::storage::{Storage, StorageError};

/// How long a nonce is kept (beyond the ±300 s skew window).
pub const NONCE_RETENTION: Duration = Duration::from_secs(600);

/// Shared state of every handler (cheap to clone). The admin pages take it too.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub opening_key: Arc<OpeningKey>,
    pub subject: SubjectKeyer,
    pub rules: Arc<RuleTable>,
    pub limits: Limits,
    pub match_threshold: f32,
    pub rate: Arc<RateLimiter>,
    pub config: Arc<Config>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.storage.backend())
            .finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Tls(#[from] net::TlsError),
    #[error(
        "admin.password_hash: {0}; make one with `lifecert-server hash-password` (password on \
         stdin), or remove the key to disable the admin pages"
    )]
    AdminPassword(String),
    /// An operator command failed (the message says what to do).
    #[error("{0}")]
    Tool(String),
    #[error("cannot listen on {addr}: {source}; pick a free port or another address")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the configured storage backend.
pub async fn open_storage(config: &Config) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match &config.storage {
        StorageConfig::Sqlite { path } => Arc::new(storage::sqlite::SqliteStorage::open(path)?),
        StorageConfig::Postgres {
            url,
            pool_size,
            schema,
        } => Arc::new(
            storage::postgres::PgStorage::connect(url, *pool_size, schema.as_deref()).await?,
        ),
    })
}

/// Builds the handler state: storage, keys from `data_dir`, rule table.
pub async fn build_state(config: Config) -> Result<AppState, ServerError> {
    let storage = open_storage(&config).await?;
    state_with_storage(config, storage)
}

/// Like [`build_state`] with storage already open.
pub fn state_with_storage(
    config: Config,
    storage: Arc<dyn Storage>,
) -> Result<AppState, ServerError> {
    let opening_key = Arc::new(keys::load_opening_key(&config.data_dir)?);
    let subject = SubjectKeyer::load(&config.data_dir)?;
    Ok(AppState {
        storage,
        opening_key,
        subject,
        rules: Arc::new(RuleTable::builtin()),
        limits: config.limits,
        match_threshold: config.match_threshold,
        rate: Arc::new(RateLimiter::new(
            config.limits.requests_per_minute_per_device,
        )),
        config: Arc::new(config),
    })
}

/// The API router with state applied (no extra routes).
pub fn router(state: AppState) -> axum::Router {
    api::app(state, None)
}

/// A server running in this process.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address (the real port when `listen` used port 0).
    pub addr: SocketAddr,
    pub tls: bool,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    purger: JoinHandle<()>,
}

impl RunningServer {
    /// `https://127.0.0.1:PORT` (or `http://`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops accepting, finishes open requests, returns when done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.purger.abort();
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (it stops on [`RunningServer::shutdown`]
    /// only; use this in `main` after wiring a signal to a clone of the sender).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts the server: storage, keys, listener (TLS unless disabled).
pub async fn serve(config: Config) -> Result<RunningServer, ServerError> {
    serve_with(config, None).await
}

/// Like [`serve`], merging `extra` routes into the app. The admin pages
/// (`/admin`) are mounted by [`serve_state`] whenever `[admin] password_hash`
/// is set.
pub async fn serve_with(
    config: Config,
    extra: Option<axum::Router<AppState>>,
) -> Result<RunningServer, ServerError> {
    let state = build_state(config).await?;
    serve_state(state, extra).await
}

/// Serves an already built state: the `/v1` API, `extra`, and the admin
/// pages over the real storage when `config.admin.password_hash` is set
/// (checked first: a malformed hash is [`ServerError::AdminPassword`];
/// cookies are `Secure` when TLS is on).
pub async fn serve_state(
    state: AppState,
    extra: Option<axum::Router<AppState>>,
) -> Result<RunningServer, ServerError> {
    let config = Arc::clone(&state.config);
    if let Some(hash) = &config.admin.password_hash {
        admin::check_password_hash(hash).map_err(ServerError::AdminPassword)?;
    }
    let tls = match &config.tls {
        Some(t) => Some(Arc::new(net::server_config(&t.cert_path, &t.key_path)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let is_tls = tls.is_some();
    let incoming = net::Incoming::start(listener, tls).map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr =
        axum::serve::Listener::local_addr(&incoming).map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let mut app = api::app(state.clone(), extra);
    if let Some(hash) = &config.admin.password_hash {
        let options = admin::AdminOptions::default();
        let data = Arc::new(admin::store::StorageAdmin::new(&state, options.utc_offset));
        app = app.merge(admin::router_with(
            data,
            admin::AdminConfig {
                password_hash: hash.clone(),
                secure_cookie: is_tls,
            },
            options,
        ));
    }
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(incoming, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "server stopped");
        }
    });
    let storage = Arc::clone(&state.storage);
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let before = OffsetDateTime::now_utc() - NONCE_RETENTION;
            if let Err(e) = storage.purge_nonces(before).await {
                tracing::warn!(error = %e, "nonce purge failed");
            }
        }
    });
    Ok(RunningServer {
        addr,
        tls: is_tls,
        state,
        shutdown: Some(tx),
        task,
        purger,
    })
}

/// Creates a one-time device registration token valid for `ttl_hours`;
/// only its SHA-256 is stored. Returns the token (show it once).
pub async fn create_token(storage: &dyn Storage, ttl_hours: u32) -> Result<String, ServerError> {
    let token = keys::new_secret()?;
    let now = OffsetDateTime::now_utc();
    storage
        .create_token(
            &keys::sha256_hex(token.as_bytes()),
            now,
            now + time::Duration::hours(i64::from(ttl_hours)),
        )
        .await?;
    Ok(token)
}

/// Creates a staff operator; returns the credential `id:secret` (show it once).
pub async fn create_operator(storage: &dyn Storage, name: &str) -> Result<String, ServerError> {
    let id = format!(
        "op-{}",
        keys::new_secret()?.chars().take(12).collect::<String>()
    );
    let secret = keys::new_secret()?;
    storage
        .create_operator(
            &id,
            name,
            &keys::sha256_hex(secret.as_bytes()),
            OffsetDateTime::now_utc(),
        )
        .await?;
    Ok(format!("{id}:{secret}"))
}
