//! The sync worker: drains the outbox in seq order, one `UploadBatch` of up
//! to [`SYNC_BATCH`] items per request, and sends heartbeats.
//!
//! Every outcome goes through [`classify`]:
//! - Ack → `mark_acked`;
//! - Permanent → `mark_dead` (staff see the count and the last error). When
//!   a whole batch of several items is refused (400/413/422), the worker
//!   re-sends its items one by one, so only the culprit is dead-lettered;
//! - Retry → `mark_retry` of the items not yet settled (backoff with jitter)
//!   and the worker pauses until then, so items go out in seq order;
//! - Stop → no more syncing until restart, and the staff alert is set in the
//!   shared [`SyncStatus`] (e.g. 协议版本不一致，请联系技术人员升级).

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use lifecert_protocol::api::{
    Heartbeat, HeartbeatResponse, UploadBatch, UploadItem, UploadResponse,
};
use time::OffsetDateTime;

use super::classify::{Disposition, SyncOutcome, classify, random_jitter, stop_alert_zh};
use super::client::{Client, ClientError};
use super::seal::item_kind;
use super::{SyncStatus, chain};
use crate::kiosk::{AppEvent, Clock, EventSink};
use crate::store::{OutboxItem, Store};

/// Items per upload request (the protocol allows up to `MAX_BATCH_ITEMS`).
pub const SYNC_BATCH: usize = 100;
/// Sync round interval when nothing kicks the worker.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// How the worker reaches the server (the real one is [`Client`]).
pub trait Transport: Send {
    fn upload(&self, batch: &UploadBatch) -> Result<UploadResponse, ClientError>;
    fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatResponse, ClientError>;
}

impl Transport for Client {
    fn upload(&self, batch: &UploadBatch) -> Result<UploadResponse, ClientError> {
        self.post("/v1/certifications", batch)
    }
    fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatResponse, ClientError> {
        self.post("/v1/heartbeat", heartbeat)
    }
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Items the server acknowledged.
    pub acked: usize,
    /// Items dead-lettered.
    pub dead: usize,
    /// Set when a failure paused syncing: the retry delay and the error.
    pub retry: Option<(Duration, String)>,
    /// Set when syncing stopped (the staff alert).
    pub stopped: Option<String>,
}

impl DrainReport {
    /// True when the drain ended early (a retry or a stop).
    pub fn failed(&self) -> bool {
        self.retry.is_some() || self.stopped.is_some()
    }
}

enum BatchEnd {
    Done,
    Refused,
    Paused,
    Stopped,
}

/// The sync worker (owns its own store connection).
pub struct SyncWorker {
    store: Store,
    transport: Box<dyn Transport>,
    status: Arc<SyncStatus>,
    batch: usize,
    jitter: Box<dyn FnMut() -> f64 + Send>,
    paused_until: Option<OffsetDateTime>,
}

impl SyncWorker {
    pub fn new(store: Store, transport: Box<dyn Transport>, status: Arc<SyncStatus>) -> SyncWorker {
        SyncWorker {
            store,
            transport,
            status,
            batch: SYNC_BATCH,
            jitter: Box::new(random_jitter),
            paused_until: None,
        }
    }

    /// Items per request (1..=`MAX_BATCH_ITEMS`).
    pub fn with_batch_size(mut self, n: usize) -> SyncWorker {
        self.batch = n.clamp(1, lifecert_protocol::api::MAX_BATCH_ITEMS);
        self
    }

    /// The jitter source (tests fix it).
    pub fn with_jitter(mut self, jitter: impl FnMut() -> f64 + Send + 'static) -> SyncWorker {
        self.jitter = Box::new(jitter);
        self
    }

    /// The shared status (stop alert, last error).
    pub fn status(&self) -> &Arc<SyncStatus> {
        &self.status
    }

    /// The store connection.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// When the worker will send again after a retry.
    pub fn paused_until(&self) -> Option<OffsetDateTime> {
        self.paused_until
    }

    /// Sends every due item (in seq order, batch after batch) until the
    /// outbox has nothing due, or a failure pauses or stops syncing. Does
    /// nothing while paused (see [`Self::paused_until`]) or stopped.
    pub fn drain(&mut self, now: OffsetDateTime) -> DrainReport {
        if self.paused_until.is_some_and(|until| until > now) {
            return DrainReport::default();
        }
        self.paused_until = None;
        self.drain_until(now, now)
    }

    /// `lifecert queue flush`: like [`Self::drain`], but every pending item
    /// counts as due now (ignoring backoff).
    pub fn flush(&mut self, now: OffsetDateTime) -> DrainReport {
        self.paused_until = None;
        self.drain_until(now, now + time::Duration::days(365 * 100))
    }

    fn drain_until(&mut self, now: OffsetDateTime, due_before: OffsetDateTime) -> DrainReport {
        let mut report = DrainReport::default();
        if let Some(alert) = self.status.stopped() {
            report.stopped = Some(alert);
            return report;
        }
        loop {
            let items = match self.store.due_batch(due_before, self.batch) {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!("sync: cannot read the outbox: {}", chain(&e));
                    report.retry = Some((SYNC_INTERVAL, e.to_string()));
                    return report;
                }
            };
            if items.is_empty() {
                self.status.set_last_error(None);
                return report;
            }
            match self.send(&items, now, &mut report) {
                BatchEnd::Done => {}
                BatchEnd::Refused => {
                    // Find the culprit: one by one.
                    for item in &items {
                        match self.send(std::slice::from_ref(item), now, &mut report) {
                            BatchEnd::Done | BatchEnd::Refused => {}
                            BatchEnd::Paused | BatchEnd::Stopped => return report,
                        }
                    }
                }
                BatchEnd::Paused | BatchEnd::Stopped => return report,
            }
        }
    }

    /// Sends one batch; settles what it can.
    fn send(
        &mut self,
        items: &[OutboxItem],
        now: OffsetDateTime,
        report: &mut DrainReport,
    ) -> BatchEnd {
        let mut wire = Vec::with_capacity(items.len());
        let mut sent: Vec<&OutboxItem> = Vec::with_capacity(items.len());
        for item in items {
            let kind = item_kind(&item.kind);
            let sealed = String::from_utf8(item.payload.clone()).ok();
            match (kind, sealed) {
                (Some(kind), Some(sealed)) => {
                    wire.push(UploadItem {
                        id: item.id,
                        device_seq: u64::try_from(item.seq).unwrap_or(0),
                        kind,
                        sealed,
                    });
                    sent.push(item);
                }
                _ => self.dead(
                    item,
                    "unreadable outbox item (unknown kind or payload)",
                    now,
                    report,
                ),
            }
        }
        if wire.is_empty() {
            return BatchEnd::Done;
        }
        let batch = UploadBatch { items: wire };
        let attempts = sent.iter().map(|i| i.attempts).max().unwrap_or(0);
        match self.transport.upload(&batch) {
            Ok(answer) => {
                // Acks are written together, in one transaction (one disk sync per batch).
                let mut acks: Vec<uuid::Uuid> = Vec::with_capacity(sent.len());
                for (i, item) in sent.iter().enumerate() {
                    let result = answer.results.iter().find(|r| r.id == item.id);
                    let outcome = match result {
                        Some(r) => SyncOutcome::Item {
                            outcome: r.outcome,
                            code: r.code.clone(),
                        },
                        None => SyncOutcome::Undecodable,
                    };
                    match classify(&outcome, item.attempts, (self.jitter)()) {
                        Disposition::Ack => acks.push(item.id),
                        Disposition::Permanent { reason } => self.dead(item, &reason, now, report),
                        Disposition::Retry { after } => {
                            self.ack_all(&acks, now, report);
                            let why = "the server's answer lacks this item";
                            self.retry(&sent[i..], after, why, now, report);
                            return BatchEnd::Paused;
                        }
                        Disposition::Stop { reason } => {
                            self.ack_all(&acks, now, report);
                            self.stop(&outcome, &reason, report);
                            return BatchEnd::Stopped;
                        }
                    }
                }
                self.ack_all(&acks, now, report);
                BatchEnd::Done
            }
            Err(error) => {
                let outcome = SyncOutcome::of_error(&error);
                let why = chain(&error);
                match classify(&outcome, attempts, (self.jitter)()) {
                    Disposition::Retry { after } => {
                        if matches!(&outcome, SyncOutcome::Status { code, .. } if code == lifecert_protocol::api::codes::STALE_TIMESTAMP)
                        {
                            tracing::warn!(
                                "sync: the server says our clock is off by more than 5 minutes: fix the kiosk clock (NTP)"
                            );
                        }
                        self.retry(&sent, after, &why, now, report);
                        BatchEnd::Paused
                    }
                    Disposition::Permanent { reason } if sent.len() > 1 => {
                        tracing::warn!(
                            "sync: a batch of {} was refused ({reason}); sending one by one",
                            sent.len()
                        );
                        BatchEnd::Refused
                    }
                    Disposition::Permanent { reason } => {
                        if let Some(item) = sent.first() {
                            self.dead(item, &format!("{reason}: {why}"), now, report);
                        }
                        BatchEnd::Done
                    }
                    Disposition::Stop { reason } => {
                        tracing::error!("sync stopped: {why}");
                        self.stop(&outcome, &reason, report);
                        BatchEnd::Stopped
                    }
                    Disposition::Ack => BatchEnd::Done,
                }
            }
        }
    }

    fn ack_all(&mut self, ids: &[uuid::Uuid], now: OffsetDateTime, report: &mut DrainReport) {
        match self.store.mark_acked_many(ids, now) {
            Ok(()) => report.acked += ids.len(),
            Err(e) => tracing::warn!("sync: cannot mark acked: {}", chain(&e)),
        }
    }

    fn dead(&self, item: &OutboxItem, reason: &str, now: OffsetDateTime, report: &mut DrainReport) {
        tracing::warn!(seq = item.seq, %reason, "sync: dead-lettered an outbox item");
        match self.store.mark_dead(item.id, reason, now) {
            Ok(()) => report.dead += 1,
            Err(e) => tracing::warn!("sync: cannot mark dead: {}", chain(&e)),
        }
    }

    fn retry(
        &mut self,
        items: &[&OutboxItem],
        after: Duration,
        why: &str,
        now: OffsetDateTime,
        report: &mut DrainReport,
    ) {
        let at = now + after;
        tracing::warn!(retry_in_secs = after.as_secs(), "sync: will retry: {why}");
        for item in items {
            if let Err(e) = self.store.mark_retry(item.id, why, at) {
                tracing::warn!("sync: cannot schedule a retry: {}", chain(&e));
            }
        }
        self.paused_until = Some(at);
        self.status.set_last_error(Some(why.to_string()));
        report.retry = Some((after, why.to_string()));
    }

    fn stop(&self, outcome: &SyncOutcome, reason: &str, report: &mut DrainReport) {
        let alert = stop_alert_zh(outcome);
        tracing::error!(%reason, "sync stopped until restart");
        self.status.stop(alert.clone());
        self.status.set_last_error(Some(reason.to_string()));
        report.stopped = Some(alert);
    }

    /// Sends one heartbeat. A Stop outcome stops syncing too.
    pub fn heartbeat(&mut self, now: OffsetDateTime) -> Result<HeartbeatResponse, ClientError> {
        let queue = self.store.queue_status(now).ok();
        let heartbeat = Heartbeat {
            queue_depth: queue.map_or(0, |q| q.pending),
            dead: queue.map_or(0, |q| q.dead),
            oldest_pending_secs: queue
                .and_then(|q| q.oldest_pending_age)
                .map(|a| u64::try_from(a.whole_seconds()).unwrap_or(0)),
            version: env!("CARGO_PKG_VERSION").to_string(),
            health: self.status.health(),
        };
        let result = self.transport.heartbeat(&heartbeat);
        if let Err(e) = &result {
            let outcome = SyncOutcome::of_error(e);
            if let Disposition::Stop { reason } = classify(&outcome, 0, 0.5) {
                let mut report = DrainReport::default();
                self.stop(&outcome, &reason, &mut report);
            } else {
                tracing::warn!("heartbeat failed: {}", chain(e));
            }
        }
        result
    }
}

/// Starts the `sync` thread: drains after every kick and every
/// [`SYNC_INTERVAL`], heartbeats every `heartbeat`. Returns the kick sender.
pub fn spawn(
    mut worker: SyncWorker,
    clock: Arc<dyn Clock>,
    heartbeat: Duration,
    sink: EventSink,
) -> Result<Sender<()>, String> {
    let (kick, kicks): (Sender<()>, Receiver<()>) = mpsc::channel();
    std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || {
            let mut next_heartbeat = clock.now();
            let mut alerted = false;
            loop {
                let report = worker.drain(clock.wall());
                if report.acked > 0 {
                    sink.send(AppEvent::Notice(format!(
                        "已上传 {} 条认证记录",
                        report.acked
                    )));
                }
                if report.dead > 0 {
                    sink.send(AppEvent::Notice(format!(
                        "{} 条认证记录被服务器拒收，请在工作人员菜单查看",
                        report.dead
                    )));
                }
                if let Some(alert) = &report.stopped
                    && !alerted
                {
                    alerted = true;
                    sink.send(AppEvent::Notice(alert.clone()));
                }
                if clock.now() >= next_heartbeat && worker.status.stopped().is_none() {
                    let _ = worker.heartbeat(clock.wall());
                    next_heartbeat = clock.now() + heartbeat;
                }
                let mut wait = SYNC_INTERVAL.min(next_heartbeat.saturating_sub(clock.now()));
                if let Some(until) = worker.paused_until() {
                    let left = until - clock.wall();
                    if left > time::Duration::ZERO {
                        wait = wait.min(Duration::try_from(left).unwrap_or(SYNC_INTERVAL));
                    }
                }
                match kicks.recv_timeout(wait.max(Duration::from_millis(50))) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        })
        .map_err(|e| format!("cannot start the sync thread: {e}"))?;
    Ok(kick)
}
