//! The kiosk's composition: ports (hardware and services behind traits),
//! the driver that runs the flow's effects on named worker threads, and the
//! one event channel the workers report over.
//!
//! The UI thread never blocks: it feeds events into the pure flow, hands the
//! returned effects to the [`Driver`](driver::Driver), and drains
//! [`AppEvent`]s each frame. Workers wake it with `request_repaint`.

pub mod central;
pub mod devices;
pub mod driver;
pub mod health;
pub mod templates;
pub mod vision_worker;

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lifecert_core::flow::{Event, Receipt};
use lifecert_vision::Frame;

use crate::peripherals::PrintError;
use time::OffsetDateTime;

pub use health::{HealthProbe, HealthReport, PartState, StatusSlot};
pub use vision_worker::{CaptureService, SelfTestMeasures};

/// What workers report to the UI thread.
#[derive(Debug, Clone)]
pub enum AppEvent {
    /// An event for the flow.
    Flow(Event),
    /// A fresh device-health report (staff panel; faults are diffed into flow events).
    Health(HealthReport),
    /// Live camera measures for the self-test screen.
    Measures(SelfTestMeasures),
    /// A one-line notice for staff (e.g. "sync: 3 sent").
    Notice(String),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wakes the UI (egui's `request_repaint`) once it exists.
#[derive(Clone, Default)]
pub struct Waker {
    ctx: Arc<Mutex<Option<egui::Context>>>,
}

impl Waker {
    /// Set by the app when its egui context is created.
    pub fn set(&self, ctx: egui::Context) {
        *lock(&self.ctx) = Some(ctx);
    }
    pub fn wake(&self) {
        if let Some(ctx) = lock(&self.ctx).as_ref() {
            ctx.request_repaint();
        }
    }
}

/// The sending end of the one event channel.
#[derive(Clone)]
pub struct EventSink {
    tx: Sender<AppEvent>,
    waker: Waker,
}

impl EventSink {
    /// A channel and its sink.
    pub fn channel(waker: Waker) -> (EventSink, Receiver<AppEvent>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (EventSink { tx, waker }, rx)
    }

    /// Report `event` and wake the UI.
    pub fn send(&self, event: AppEvent) {
        let _ = self.tx.send(event);
        self.waker.wake();
    }

    /// Report a flow event.
    pub fn flow(&self, event: Event) {
        self.send(AppEvent::Flow(event));
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }
}

/// Time, as an input (tests use [`ManualClock`]).
pub trait Clock: Send + Sync {
    /// Monotonic time since an arbitrary start.
    fn now(&self) -> Duration;
    /// Wall-clock time (records, receipts, certification dates).
    fn wall(&self) -> OffsetDateTime;
}

/// The system clock. Wall time is China Standard Time (UTC+8), the zone of
/// every certification date and receipt.
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn wall(&self) -> OffsetDateTime {
        let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
        OffsetDateTime::now_utc().to_offset(offset)
    }
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(Duration, OffsetDateTime)>>,
}

impl ManualClock {
    pub fn new(wall: OffsetDateTime) -> ManualClock {
        ManualClock {
            inner: Arc::new(Mutex::new((Duration::ZERO, wall))),
        }
    }
    pub fn advance(&self, by: Duration) {
        let mut g = lock(&self.inner);
        g.0 += by;
        g.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        lock(&self.inner).0
    }
    fn wall(&self) -> OffsetDateTime {
        lock(&self.inner).1
    }
}

/// The newest camera frame for the live preview (one slot, never queued).
#[derive(Clone, Default)]
pub struct PreviewSlot {
    inner: Arc<Mutex<(u64, Option<Arc<Frame>>)>>,
}

impl PreviewSlot {
    /// Offer a new frame (replaces the previous one).
    pub fn publish(&self, frame: Arc<Frame>) {
        let mut g = lock(&self.inner);
        g.0 = g.0.wrapping_add(1);
        g.1 = Some(frame);
    }
    /// Drop the frame (camera off, session wiped).
    pub fn clear(&self) {
        let mut g = lock(&self.inner);
        g.0 = g.0.wrapping_add(1);
        g.1 = None;
    }
    /// The frame if it is newer than `seen`, with its generation.
    pub fn newer_than(&self, seen: u64) -> Option<(u64, Option<Arc<Frame>>)> {
        let g = lock(&self.inner);
        (g.0 != seen).then(|| (g.0, g.1.clone()))
    }
}

/// Offline evidence handed from the vision worker to the driver: the mean
/// embedding of the best frames of an offline capture, keyed by the capture's
/// request id. One slot (one session at a time); zeroed when taken, replaced
/// or cleared.
#[derive(Clone, Default)]
pub struct EvidenceSlot {
    inner: Arc<Mutex<Option<HeldEvidence>>>,
    /// The liveness summary of the latest capture, for its record.
    summary: Arc<
        Mutex<
            Option<(
                lifecert_core::flow::RequestId,
                lifecert_protocol::LivenessSummary,
            )>,
        >,
    >,
}

type HeldEvidence = (lifecert_core::flow::RequestId, zeroize::Zeroizing<Vec<f32>>);

impl EvidenceSlot {
    /// Offer the evidence of capture `request` (replaces, and wipes, any older one).
    pub fn put(&self, request: lifecert_core::flow::RequestId, embedding: Vec<f32>) {
        *lock(&self.inner) = Some((request, zeroize::Zeroizing::new(embedding)));
    }
    /// The evidence of capture `request`, if that is what the slot holds.
    pub fn take(
        &self,
        request: lifecert_core::flow::RequestId,
    ) -> Option<zeroize::Zeroizing<Vec<f32>>> {
        let mut g = lock(&self.inner);
        if g.as_ref().is_some_and(|(r, _)| *r == request) {
            g.take().map(|(_, e)| e)
        } else {
            None
        }
    }
    /// Wipe whatever is held.
    pub fn clear(&self) {
        *lock(&self.inner) = None;
        *lock(&self.summary) = None;
    }
    /// Offer the liveness summary of capture `request` (replaces any older one).
    pub fn put_summary(
        &self,
        request: lifecert_core::flow::RequestId,
        summary: lifecert_protocol::LivenessSummary,
    ) {
        *lock(&self.summary) = Some((request, summary));
    }
    /// The liveness summary of capture `request`, if that is what is held.
    pub fn take_summary(
        &self,
        request: lifecert_core::flow::RequestId,
    ) -> Option<lifecert_protocol::LivenessSummary> {
        let mut g = lock(&self.summary);
        if g.as_ref().is_some_and(|(r, _)| *r == request) {
            g.take().map(|(_, s)| s)
        } else {
            None
        }
    }
    /// Whether evidence is held (tests).
    pub fn is_empty(&self) -> bool {
        lock(&self.inner).is_none()
    }
}

/// The receipt printer port (the ESC/POS one: `peripherals::printer`).
pub trait ReceiptPrinter: Send {
    /// Checks the printer's status, then prints. The result is already
    /// recorded; an error only means no paper receipt.
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrintError>;
    /// The printer's state for the staff panel (a status request; no paper moves).
    fn check(&mut self) -> Result<String, PrintError>;
    fn describe(&self) -> String;
}

/// A printer that records receipts (tests).
#[derive(Clone, Default)]
pub struct RecordingPrinter {
    pub printed: Arc<Mutex<Vec<Receipt>>>,
}

impl ReceiptPrinter for RecordingPrinter {
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrintError> {
        lock(&self.printed).push(receipt.clone());
        Ok(())
    }
    fn check(&mut self) -> Result<String, PrintError> {
        Ok("recording printer (test)".into())
    }
    fn describe(&self) -> String {
        "recording printer (test)".into()
    }
}

/// A card reader whose holder "places a card" directly (UI tests; the real
/// one is `peripherals::reader`, driven in tests by the simulator).
#[derive(Clone)]
pub struct FakeCardReader {
    sink: EventSink,
}

impl FakeCardReader {
    pub fn new(sink: EventSink) -> FakeCardReader {
        FakeCardReader { sink }
    }
    /// A card was placed on the reader.
    pub fn present(&self, id: lifecert_core::id::IdNumber) {
        self.sink.flow(Event::CardRead(id));
    }
}
