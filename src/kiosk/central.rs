//! The central social-insurance system, as the kiosk sees it.
//!
//! [`CentralSystem`] is the transport port for the eligibility check and the
//! history query. The real one is [`crate::sync::central::HttpCentral`] (the
//! registered server over signed HTTPS); an unregistered kiosk uses
//! [`crate::sync::central::Unregistered`], whose lookups fail (服务暂不可用).
//! Results are not submitted through this port: they are sealed into the
//! outbox and uploaded by the sync worker ([`crate::sync::worker`]).

use lifecert_core::flow::{HistoryEntry, ServiceFailure};
use lifecert_core::id::IdNumber;
use lifecert_protocol::PersonStatus;
use time::Date;

/// The central system's API, called from the `network` worker thread.
pub trait CentralSystem: Send + Sync {
    /// Whether a certification is due for the person, or why not.
    fn status(&self, person: &IdNumber, today: Date) -> Result<PersonStatus, ServiceFailure>;
    /// The person's certification history, newest first.
    fn history(&self, person: &IdNumber, today: Date) -> Result<Vec<HistoryEntry>, ServiceFailure>;
    /// Whether the server could be reached last time (health panel).
    fn reachable(&self) -> bool;
    /// A one-line description for the health panel.
    fn describe(&self) -> String;
    /// Whether this kiosk is registered with a server (it can seal results).
    fn registered(&self) -> bool {
        true
    }
}
