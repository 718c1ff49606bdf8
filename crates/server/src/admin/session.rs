//! Admin sessions (in memory, idle expiry), cookies, CSRF tokens and the
//! login lockout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use time::OffsetDateTime;

/// The session cookie (random 32-byte id, hex).
pub const SESSION_COOKIE: &str = "lifecert_admin";
/// The pre-session cookie of the login form (double-submit CSRF token).
pub const LOGIN_COOKIE: &str = "lifecert_login";

/// Where "now" comes from; tests inject a settable clock.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// 32 random bytes from the OS, hex-encoded (64 characters).
///
/// # Errors
/// When the OS has no randomness to give.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// True when `s` looks like a [`random_token`] (so a cookie value can be reused).
#[must_use]
pub fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares two secrets without an early exit on the first difference.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The value of cookie `name` in the request, if any.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value. `max_age` `None` makes a browser-session cookie;
/// `Some(0)` deletes it.
#[must_use]
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut out = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/admin");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// Rejects cross-site POSTs by the fetch metadata and `Origin` headers:
/// `Sec-Fetch-Site`, when present, must be `same-origin` or `none` (typed by
/// the user); `Origin`, when present, must be `http(s)://<Host>` (`null` is
/// refused). Requests without either (old clients) pass; the CSRF token
/// still protects them.
#[must_use]
pub fn origin_ok(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(HOST).map(|h| h.to_str()))
    else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

struct Session {
    csrf: String,
    last_seen: OffsetDateTime,
}

/// The login state of the one admin password (shared by all clients).
#[derive(Default)]
struct Failures {
    consecutive: u32,
    locked_until: Option<OffsetDateTime>,
}

/// Logged-in sessions and the failed-login counter.
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<Failures>,
    idle: Duration,
    max_failures: u32,
    lockout: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sessions {
    #[must_use]
    pub fn new(idle: Duration, max_failures: u32, lockout: Duration) -> Sessions {
        Sessions {
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
            idle,
            max_failures,
            lockout,
        }
    }

    /// Starts a session; returns `(session id, csrf token)`. Expired
    /// sessions are purged on the way.
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn create(&self, now: OffsetDateTime) -> Result<(String, String), getrandom::Error> {
        let id = random_token()?;
        let csrf = random_token()?;
        let mut map = lock(&self.sessions);
        let idle = self.idle;
        map.retain(|_, s| now - s.last_seen < idle);
        map.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                last_seen: now,
            },
        );
        Ok((id, csrf))
    }

    /// The CSRF token of a live session, refreshing its idle timer; `None`
    /// (and the session removed) when unknown or idle for too long.
    pub fn touch(&self, id: &str, now: OffsetDateTime) -> Option<String> {
        let mut map = lock(&self.sessions);
        let session = map.get_mut(id)?;
        if now - session.last_seen >= self.idle {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.csrf.clone())
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    /// Number of live sessions (for tests and diagnostics).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// True when no session is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seconds until login attempts are accepted again, or `None` when not locked.
    #[must_use]
    pub fn locked_for(&self, now: OffsetDateTime) -> Option<u64> {
        let f = lock(&self.failures);
        let until = f.locked_until?;
        (until > now).then(|| (until - now).whole_seconds().max(1).unsigned_abs())
    }

    /// Records a wrong password; from the `max_failures`-th consecutive one
    /// on, each failure locks logins for the lockout period.
    pub fn record_failure(&self, now: OffsetDateTime) {
        let mut f = lock(&self.failures);
        f.consecutive = f.consecutive.saturating_add(1);
        if f.consecutive >= self.max_failures {
            f.locked_until = Some(now + self.lockout);
        }
    }

    /// A successful login clears the failure count.
    pub fn record_success(&self) {
        *lock(&self.failures) = Failures::default();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert!(is_token(&a) && is_token(&b));
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret("", ""));
    }

    #[test]
    fn idle_sessions_expire() {
        let s = Sessions::new(Duration::from_secs(1800), 5, Duration::from_secs(60));
        let t0 = datetime!(2026-05-10 09:00 UTC);
        let (id, csrf) = s.create(t0).unwrap();
        assert_eq!(s.touch(&id, t0 + Duration::from_secs(1700)), Some(csrf));
        // Touch refreshed it: 29 minutes later it is still alive.
        assert!(s.touch(&id, t0 + Duration::from_secs(3400)).is_some());
        assert_eq!(s.touch(&id, t0 + Duration::from_secs(3400 + 1800)), None);
        assert!(s.is_empty());
        assert_eq!(s.touch("nope", t0), None);
    }

    #[test]
    fn lockout_after_max_failures() {
        let s = Sessions::new(Duration::from_secs(1800), 5, Duration::from_secs(60));
        let t0 = datetime!(2026-05-10 09:00 UTC);
        for _ in 0..4 {
            s.record_failure(t0);
        }
        assert_eq!(s.locked_for(t0), None);
        s.record_failure(t0);
        assert_eq!(s.locked_for(t0), Some(60));
        assert_eq!(s.locked_for(t0 + Duration::from_secs(61)), None);
        s.record_success();
        s.record_failure(t0);
        assert_eq!(s.locked_for(t0), None);
    }

    #[test]
    fn cookies_and_origin() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; lifecert_admin=xyz"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(
            set_cookie("n", "v", true, Some(0)),
            "n=v; HttpOnly; SameSite=Strict; Path=/admin; Max-Age=0; Secure"
        );

        h.insert(HOST, HeaderValue::from_static("127.0.0.1:8443"));
        assert!(origin_ok(&h));
        h.insert(ORIGIN, HeaderValue::from_static("https://127.0.0.1:8443"));
        assert!(origin_ok(&h));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!origin_ok(&h));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_ok(&h));
        h.remove(ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(origin_ok(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!origin_ok(&h));
    }
}
