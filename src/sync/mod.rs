//! Offline-first signed sync with the central server (DESIGN.md §4).
//!
//! - [`client`]: the blocking HTTPS client (ureq + rustls), signing every
//!   request with the kiosk's Ed25519 key and checking the protocol header.
//! - [`classify`]: ONE pure function turning every sync outcome into
//!   Ack / Retry (jittered exponential backoff) / Permanent (dead letter) /
//!   Stop (protocol mismatch, unregistered kiosk).
//! - [`worker`]: the `sync` thread draining the outbox in seq order and
//!   sending heartbeats.
//! - [`central`]: [`central::HttpCentral`], the kiosk's
//!   [`crate::kiosk::central::CentralSystem`] over the `/v1` API, and the
//!   remote template fallback.
//! - [`register`]: `lifecert register` (device key, server key, registration,
//!   `<data_dir>/server.json`).
//! - [`seal`]: the sealed outbox payloads (the outbox never holds a readable
//!   ID number or embedding).
//!
//! Rule for an unregistered kiosk (no `server.json`, no sealing key): it
//! cannot certify. Status lookups fail (服务暂不可用), the top bar shows
//! 未注册 and the staff menu says how to register; a result is never stored
//! unsealed (recording fails instead).

pub mod central;
pub mod classify;
pub mod client;
pub mod register;
pub mod seal;
pub mod worker;

use std::sync::{Arc, Mutex};

pub use classify::{Disposition, SyncOutcome, backoff, classify};
pub use client::{Client, ClientError, ClientOptions};
pub use register::{RegisterError, RegisterOptions, Registration, ResolvedServer, register};

/// The whole `source()` chain of an error, joined with `": "` (log this, not
/// only `Display`: the root cause of a TLS failure is deep in the chain).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// What the sync worker tells the staff menu (shared with the health probe).
#[derive(Debug, Default)]
pub struct SyncStatus {
    inner: Mutex<SyncStatusInner>,
}

#[derive(Debug, Default, Clone)]
struct SyncStatusInner {
    stopped: Option<String>,
    last_error: Option<String>,
    health: std::collections::BTreeMap<String, String>,
}

impl SyncStatus {
    /// A fresh shared status.
    pub fn shared() -> Arc<SyncStatus> {
        Arc::new(SyncStatus::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SyncStatusInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sync stopped until restart; `alert` is plain Chinese for staff.
    pub fn stop(&self, alert: String) {
        self.lock().stopped = Some(alert);
    }

    /// The staff alert when sync has stopped.
    pub fn stopped(&self) -> Option<String> {
        self.lock().stopped.clone()
    }

    /// The last transient failure (cleared by a successful round).
    pub fn set_last_error(&self, error: Option<String>) {
        self.lock().last_error = error;
    }

    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Part name → state, for the heartbeat (written by the health thread).
    pub fn set_health(&self, health: std::collections::BTreeMap<String, String>) {
        self.lock().health = health;
    }

    pub fn health(&self) -> std::collections::BTreeMap<String, String> {
        self.lock().health.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_joins_every_source() {
        let e = Outer(std::io::Error::other("inner cause"));
        assert_eq!(chain(&e), "outer: inner cause");
    }
}
