//! The admin web pages of the reference central server: server-rendered HTML
//! under `/admin` for agency staff (no JavaScript).
//!
//! | route | page |
//! |---|---|
//! | `GET/POST /admin/login`, `POST /admin/logout` | password login (argon2 PHC) |
//! | `GET /admin` | today's certifications, failures by reason, device queues |
//! | `GET /admin/due` | due and overdue benefits by region |
//! | `GET /admin/person`, `POST /admin/person` | look a person up by ID number |
//! | `GET /admin/devices` | kiosks: heartbeat, version, queue, health |
//! | `GET/POST /admin/import` | roster CSV upload ([`roster`]) |
//! | `GET/POST /admin/tokens` | one-time device registration tokens |
//!
//! Storage is reached only through the [`AdminData`] trait; the server's
//! implementation over its SQLite/PostgreSQL storage is [`store::StorageAdmin`],
//! mounted by `lifecert_server::serve_state` when `[admin] password_hash` is set.
//!
//! Security:
//! - Sessions: random 32-byte id in an `HttpOnly; SameSite=Strict;
//!   Path=/admin` cookie (`Secure` with [`AdminConfig::secure_cookie`]), kept
//!   in memory with a 30-minute idle expiry (a restart logs everyone out).
//! - CSRF: every POST form carries the session's token in a hidden `csrf`
//!   field. The login form, which has no session yet, uses a double-submit
//!   token: a random pre-session cookie whose value the form repeats. On top,
//!   any POST whose `Origin` header is present but not this host is refused.
//! - Login: after 5 consecutive wrong passwords logins are refused for one
//!   minute (each further failure re-arms it), and every failure is answered
//!   after a short delay. The counter is global (one shared password).
//! - Person ID numbers are sent in POST bodies, never in URLs (which end up in
//!   access logs and browser history), and shown masked except in the search
//!   box the staff typed into. Pages are `Cache-Control: no-store`.

pub mod data;
pub mod html;
mod pages;
pub mod roster;
pub mod session;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use time::{OffsetDateTime, UtcOffset};

pub use data::{
    AdminData, AdminDataError, BenefitView, Dashboard, DeviceView, HistoryView, ImportAction,
    PersonView, RegionDue, RosterRow, RosterStatus,
};
pub use session::Clock;

/// What the server configures.
#[derive(Clone)]
pub struct AdminConfig {
    /// Argon2 PHC string of the admin password (`$argon2id$v=19$...`).
    /// Check it at startup with [`check_password_hash`]; an invalid one
    /// makes every login fail.
    pub password_hash: String,
    /// Mark cookies `Secure` (set when the server is served over https).
    pub secure_cookie: bool,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("password_hash", &"<redacted>")
            .field("secure_cookie", &self.secure_cookie)
            .finish()
    }
}

/// Tunables with sensible defaults; tests shorten them.
#[derive(Clone)]
pub struct AdminOptions {
    /// A session ends after this long without a request. Default 30 min.
    pub idle_timeout: Duration,
    /// Consecutive wrong passwords before logins are locked. Default 5.
    pub max_failures: u32,
    /// How long logins stay locked. Default 60 s.
    pub lockout: Duration,
    /// Delay before answering a wrong password. Default 500 ms.
    pub failure_delay: Duration,
    /// The offset of the agency's local time; "today" is computed in it.
    /// Default +08:00 (China Standard Time).
    pub utc_offset: UtcOffset,
    /// The server URL kiosks register with, shown in the register command.
    /// Default: `http(s)://<Host header>` (https when `secure_cookie`).
    pub public_url: Option<String>,
    /// The largest roster upload in bytes. Default 20 MiB.
    pub max_upload_bytes: usize,
    /// Where "now" comes from. Default: the system clock.
    pub clock: Clock,
}

impl Default for AdminOptions {
    fn default() -> AdminOptions {
        AdminOptions {
            idle_timeout: Duration::from_secs(30 * 60),
            max_failures: 5,
            lockout: Duration::from_secs(60),
            failure_delay: Duration::from_millis(500),
            utc_offset: UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC),
            public_url: None,
            max_upload_bytes: 20 * 1024 * 1024,
            clock: Arc::new(OffsetDateTime::now_utc),
        }
    }
}

/// Checks that `phc` is an argon2 PHC string (run at startup).
///
/// # Errors
/// A message naming the problem (never containing the value).
pub fn check_password_hash(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC string ({e})"))?;
    argon2::Algorithm::new(hash.algorithm.as_str())
        .map_err(|_| "not an argon2 hash (expected \"$argon2id$...\")".to_owned())?;
    argon2::Params::try_from(&hash).map_err(|e| format!("invalid argon2 parameters ({e})"))?;
    if hash.hash.is_none() {
        return Err("the PHC string has no hash part".to_owned());
    }
    Ok(())
}

/// True when `password` matches the PHC string; a malformed one never matches.
/// CPU-heavy: call it off the async runtime.
#[must_use]
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Shared state of the admin router.
pub(crate) struct App {
    pub(crate) data: Arc<dyn AdminData>,
    pub(crate) config: AdminConfig,
    pub(crate) options: AdminOptions,
    pub(crate) sessions: session::Sessions,
}

impl App {
    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.options.clock)()
    }

    pub(crate) fn today(&self) -> time::Date {
        self.now().to_offset(self.options.utc_offset).date()
    }
}

/// The admin pages with default [`AdminOptions`]. Mount with
/// `Router::merge` (all routes start with `/admin`).
pub fn router(data: Arc<dyn AdminData>, config: AdminConfig) -> Router {
    router_with(data, config, AdminOptions::default())
}

/// [`router`] with explicit options.
pub fn router_with(data: Arc<dyn AdminData>, config: AdminConfig, options: AdminOptions) -> Router {
    if let Err(why) = check_password_hash(&config.password_hash) {
        tracing::error!("admin password hash is invalid ({why}); admin login is impossible");
    }
    let sessions =
        session::Sessions::new(options.idle_timeout, options.max_failures, options.lockout);
    let upload_limit = options.max_upload_bytes;
    let app = Arc::new(App {
        data,
        config,
        options,
        sessions,
    });
    Router::new()
        .route("/admin", get(pages::dashboard))
        .route("/admin/", get(pages::dashboard))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/due", get(pages::due))
        .route("/admin/person", get(pages::person_form).post(pages::person))
        .route("/admin/devices", get(pages::devices))
        .route(
            "/admin/import",
            get(pages::import_form)
                .post(pages::import)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/admin/tokens",
            get(pages::token_form).post(pages::create_token),
        )
        .layer(axum::middleware::map_request(host_from_authority))
        .with_state(app)
}

/// HTTP/2 carries the host in the `:authority` pseudo-header (the URI), not
/// in `Host`; the origin check and the register command read `Host`, so copy
/// it over when missing.
async fn host_from_authority(mut req: axum::extract::Request) -> axum::extract::Request {
    if !req.headers().contains_key(axum::http::header::HOST)
        && let Some(value) = req
            .uri()
            .authority()
            .and_then(|a| axum::http::HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(axum::http::header::HOST, value);
    }
    req
}
