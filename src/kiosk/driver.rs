//! Runs the flow's effects. Nothing here blocks the UI thread: each kind of
//! work goes to its named worker thread (`network`, `store`, `sync` (see
//! [`crate::sync::worker`]), `pin`,
//! `printer`, and the capture service's `vision`/`camera`), and completions
//! come back as flow events over the one [`EventSink`]. Timers are deadlines
//! the UI loop checks against the [`Clock`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use lifecert_core::flow::{Effect, Event, Receipt, RequestId, ResultRecord, TimerId};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertificationRecord, Method};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::central::CentralSystem;
use super::health::{PartState, StatusSlot};
use super::vision_worker::{CaptureJob, CaptureService};
use super::{Clock, EventSink, EvidenceSlot, ReceiptPrinter};
use crate::audio::Speaker;
use crate::config::PinHash;
use crate::peripherals::PrintError;
use crate::store::{AuditEntry, EnqueueError, NewRecord, Store};
use crate::sync::seal::{KIND_CERTIFICATION, KIND_EVIDENCE, SealPayloadError, Sealer};
use crate::sync::worker::SyncWorker;

/// How often the printer thread asks an idle printer for its status.
const PRINTER_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// The ports the driver works with (built in main.rs or by a test).
pub struct Ports {
    pub speaker: Box<dyn Speaker>,
    pub capture: Box<dyn CaptureService>,
    pub central: Arc<dyn CentralSystem>,
    pub printer: Option<Box<dyn ReceiptPrinter>>,
    pub clock: Arc<dyn Clock>,
    /// The open local store (moved to the `store` thread).
    pub store: Store,
    /// The sync worker (with its own store connection), or `None` when the
    /// kiosk is not registered (results cannot be sealed then either).
    pub sync: Option<SyncWorker>,
    /// Heartbeat interval (`server.heartbeat_minutes`).
    pub heartbeat: Duration,
    /// Seals outbox payloads to the registered server's key; `None` = not
    /// registered: recording a result fails (nothing is stored unsealed).
    pub sealer: Option<Sealer>,
    /// Offline evidence from the capture service.
    pub evidence: EvidenceSlot,
    pub pin: PinHash,
    pub device_id: String,
    /// Where the printer thread reports the printer's state (health probe).
    pub printer_status: StatusSlot,
}

enum NetJob {
    Status {
        request: RequestId,
        person: IdNumber,
    },
    History {
        request: RequestId,
        person: IdNumber,
    },
}

enum StoreJob {
    Record {
        request: RequestId,
        record: Box<ResultRecord>,
        evidence: Option<Zeroizing<Vec<f32>>>,
        liveness: Option<Box<lifecert_protocol::LivenessSummary>>,
    },
    Audit(AuditEntry),
}

/// Carries out effects; see the module docs.
pub struct Driver {
    speaker: Box<dyn Speaker>,
    capture: Box<dyn CaptureService>,
    clock: Arc<dyn Clock>,
    sink: EventSink,
    net: Sender<NetJob>,
    store: Sender<StoreJob>,
    sync_kick: Sender<()>,
    printer: Option<Sender<Receipt>>,
    pin: PinHash,
    device_id: String,
    timers: BTreeMap<TimerId, Duration>,
    camera_in_use: Arc<AtomicBool>,
    said: Vec<lifecert_core::flow::Prompt>,
    evidence: EvidenceSlot,
    /// The latest offline capture (its evidence goes with the next offline record).
    offline_capture: Option<RequestId>,
    /// The latest capture (its liveness summary goes with the next record).
    last_capture: Option<RequestId>,
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| format!("cannot start the {name} thread: {e}"))
}

impl Driver {
    /// Starts the worker threads.
    pub fn start(ports: Ports, sink: EventSink) -> Result<Driver, String> {
        let Ports {
            speaker,
            capture,
            central,
            printer,
            clock,
            store,
            sync,
            heartbeat,
            sealer,
            evidence,
            pin,
            device_id,
            printer_status,
        } = ports;

        // network: eligibility and history.
        let (net, net_rx) = mpsc::channel::<NetJob>();
        {
            let central = Arc::clone(&central);
            let sink = sink.clone();
            let clock = Arc::clone(&clock);
            spawn_named("network", move || {
                while let Ok(job) = net_rx.recv() {
                    match job {
                        NetJob::Status { request, person } => {
                            let outcome = central.status(&person, clock.wall().date());
                            sink.flow(Event::Eligibility { request, outcome });
                        }
                        NetJob::History { request, person } => {
                            let outcome = central.history(&person, clock.wall().date());
                            sink.flow(Event::History { request, outcome });
                        }
                    }
                }
            })?;
        }

        // sync: uploads the outbox in seq order (nothing to do when unregistered).
        let sync_kick = match sync {
            Some(worker) => {
                crate::sync::worker::spawn(worker, Arc::clone(&clock), heartbeat, sink.clone())?
            }
            None => mpsc::channel::<()>().0,
        };

        // store: records (with their outbox rows) and the audit log.
        let (store_tx, store_rx) = mpsc::channel::<StoreJob>();
        {
            let sink = sink.clone();
            let kick = sync_kick.clone();
            let device = device_id.clone();
            let clock = Arc::clone(&clock);
            let mut store = store;
            spawn_named("store", move || {
                while let Ok(job) = store_rx.recv() {
                    match job {
                        StoreJob::Record {
                            request,
                            record,
                            evidence,
                            liveness,
                        } => {
                            let sealed = record_result(
                                &mut store,
                                sealer.as_ref(),
                                &record,
                                liveness.map(|l| *l),
                                evidence.as_deref().map(Vec::as_slice),
                                &device,
                                clock.wall(),
                            );
                            drop(evidence);
                            match sealed {
                                Ok(receipt) => {
                                    sink.flow(Event::Recorded { request, receipt });
                                    let _ = kick.send(());
                                }
                                Err(e) => {
                                    tracing::error!("cannot record a result: {e}");
                                    sink.flow(Event::RecordFailed { request });
                                }
                            }
                        }
                        StoreJob::Audit(entry) => {
                            if let Err(e) = store.audit(&entry) {
                                tracing::warn!(error = %e, event = %entry.event, "cannot write the audit log");
                            }
                        }
                    }
                }
            })?;
        }

        // printer: prints on request, checks the status now and then (staff
        // panel), and reports every outcome; a failure never touches the result.
        let printer = match printer {
            Some(mut printer) => {
                let (tx, rx) = mpsc::channel::<Receipt>();
                let sink = sink.clone();
                spawn_named("printer", move || {
                    let status_of = |r: Result<String, PrintError>| match r {
                        Ok(s) => PartState::Ok(s),
                        Err(e) => PartState::Faulty(e.staff_zh()),
                    };
                    printer_status.set(status_of(printer.check()));
                    loop {
                        match rx.recv_timeout(PRINTER_CHECK_INTERVAL) {
                            Ok(receipt) => match printer.print(&receipt) {
                                Ok(()) => {
                                    tracing::info!("receipt printed");
                                    printer_status.set(status_of(printer.check()));
                                    sink.flow(Event::PrintDone(Ok(())));
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "receipt not printed (the result is recorded)");
                                    printer_status.set(PartState::Faulty(e.staff_zh()));
                                    sink.flow(Event::PrintDone(Err(e.user_message())));
                                }
                            },
                            Err(mpsc::RecvTimeoutError::Timeout) => {
                                printer_status.set(status_of(printer.check()));
                            }
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    }
                })?;
                Some(tx)
            }
            None => None,
        };

        Ok(Driver {
            speaker,
            capture,
            clock,
            sink,
            net,
            store: store_tx,
            sync_kick,
            printer,
            pin,
            device_id,
            timers: BTreeMap::new(),
            camera_in_use: Arc::new(AtomicBool::new(false)),
            said: Vec::new(),
            evidence,
            offline_capture: None,
            last_capture: None,
        })
    }

    /// Shared flag: the camera is on (the health probe leaves it alone).
    pub fn camera_in_use(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.camera_in_use)
    }

    /// The clock effects are timed with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The latest prompt asked for (shown as the caption under the screen).
    pub fn last_prompt(&self) -> Option<lifecert_core::flow::Prompt> {
        self.said.last().copied()
    }

    /// Carry out `effects` in order.
    pub fn run(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.run_one(effect);
        }
    }

    fn run_one(&mut self, effect: Effect) {
        match effect {
            Effect::Speak(prompt) => {
                self.said.push(prompt);
                if self.said.len() > 64 {
                    self.said.remove(0);
                }
                self.speaker.say(prompt);
            }
            Effect::StartTimer { id, after } => {
                self.timers.insert(id, self.clock.now() + after);
            }
            Effect::CancelTimer(id) => {
                self.timers.remove(&id);
            }
            Effect::CheckEligibility { request, person } => {
                let _ = self.net.send(NetJob::Status { request, person });
            }
            Effect::FetchHistory { request, person } => {
                let _ = self.net.send(NetJob::History { request, person });
            }
            Effect::CameraOn => {
                self.camera_in_use.store(true, Ordering::SeqCst);
                self.capture.camera(true);
            }
            Effect::CameraOff => {
                self.capture.camera(false);
                self.camera_in_use.store(false, Ordering::SeqCst);
            }
            Effect::StartCapture {
                request,
                person,
                attempt,
                offline,
            } => {
                self.offline_capture = offline.then_some(request);
                self.last_capture = Some(request);
                self.capture.start_capture(CaptureJob {
                    request,
                    person,
                    attempt,
                    offline,
                });
            }
            Effect::StartEnrolment { request, person } => {
                self.capture.start_enrolment(request, person);
            }
            Effect::CancelCapture => self.capture.cancel(),
            Effect::RecordResult { request, record } => {
                let evidence = if record.method == Method::OfflineEvidence {
                    let taken = self.offline_capture.and_then(|r| self.evidence.take(r));
                    if taken.is_none() {
                        tracing::error!(
                            "offline result without embedding evidence: queued as a plain record"
                        );
                    }
                    taken
                } else {
                    None
                };
                let liveness = self
                    .last_capture
                    .and_then(|r| self.evidence.take_summary(r))
                    .map(Box::new);
                let _ = self.store.send(StoreJob::Record {
                    request,
                    record: Box::new(record),
                    evidence,
                    liveness,
                });
            }
            Effect::VerifyPin { request, pin } => {
                let hash = self.pin.clone();
                let sink = self.sink.clone();
                let spawned = spawn_named("pin", move || {
                    let ok = hash.verify(&pin);
                    sink.flow(Event::PinChecked { request, ok });
                });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot check the PIN");
                    self.sink.flow(Event::PinChecked { request, ok: false });
                }
            }
            Effect::PrintReceipt(receipt) => {
                if let Some(tx) = &self.printer {
                    let _ = tx.send(receipt);
                }
            }
            Effect::SyncNow => {
                let _ = self.sync_kick.send(());
            }
            Effect::Audit {
                event,
                outcome,
                operator_masked,
            } => {
                let _ = self.store.send(StoreJob::Audit(AuditEntry {
                    event: event.to_string(),
                    at: self.clock.wall(),
                    outcome,
                    device: self.device_id.clone(),
                    operator: operator_masked,
                }));
            }
            Effect::WipeSession => {
                self.evidence.clear();
                self.offline_capture = None;
                self.capture.wipe();
            }
        }
    }

    /// Timers whose deadline has passed (removed), in id order.
    pub fn due_timers(&mut self) -> Vec<TimerId> {
        let now = self.clock.now();
        let due: Vec<TimerId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            self.timers.remove(id);
        }
        due
    }

    /// Time until the next timer fires, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        let now = self.clock.now();
        self.timers.values().min().map(|at| at.saturating_sub(now))
    }
}

fn benefit_name(benefit: Option<BenefitType>) -> String {
    benefit
        .map(|b| format!("{b:?}").to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

/// Why a result could not be recorded.
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Seal(#[from] SealPayloadError),
}

/// Writes the record and its sealed outbox item in one transaction; returns
/// the receipt number shown and printed. The wire record (with the outbox
/// row's id and seq) is sealed inside the transaction; with `evidence` it is
/// sealed as an `Evidence` (kind `evidence`). Never stores it unsealed.
fn record_result(
    store: &mut Store,
    sealer: Option<&Sealer>,
    record: &ResultRecord,
    liveness: Option<lifecert_protocol::LivenessSummary>,
    evidence: Option<&[f32]>,
    device: &str,
    now: OffsetDateTime,
) -> Result<String, RecordError> {
    let sealer = sealer.ok_or(SealPayloadError::NotRegistered)?;
    let person_masked = record.person.masked();
    let new = NewRecord {
        person_masked,
        person_key: person_key(&record.person),
        benefit: benefit_name(record.benefit),
        result: format!("{:?}", record.result).to_lowercase(),
        method: format!("{:?}", record.method).to_lowercase(),
        certified_at: record.at,
        next_due: record.next.map(|n| n.deadline),
        operator_masked: record.operator.as_ref().map(IdNumber::masked),
        receipt: None,
    };
    let wire = CertificationRecord {
        id: uuid::Uuid::nil(),
        device_seq: 0,
        device_id: device.to_string(),
        person_id: record.person.expose().to_string(),
        benefit: record.benefit.unwrap_or(BenefitType::Pension),
        certified_at: record.at,
        result: record.result,
        method: record.method,
        liveness,
        score: record.score,
        operator_masked: record.operator.as_ref().map(IdNumber::masked),
    };
    let kind = if evidence.is_some() {
        KIND_EVIDENCE
    } else {
        KIND_CERTIFICATION
    };
    let enqueued = store
        .enqueue_with(
            &new,
            kind,
            |id, seq| sealer.seal_item(wire, id, seq, evidence),
            now,
        )
        .map_err(|e| match e {
            EnqueueError::Store(e) => RecordError::Store(e),
            EnqueueError::Payload(e) => RecordError::Seal(e),
        })?;
    Ok(receipt_number(enqueued.id, enqueued.seq))
}

/// A short receipt number staff can read out: sequence and id tail.
fn receipt_number(id: uuid::Uuid, seq: i64) -> String {
    let simple = id.simple().to_string().to_uppercase();
    let tail = simple.get(simple.len().saturating_sub(6)..).unwrap_or("");
    format!("{seq:06}-{tail}")
}

/// The opaque per-person key for local records: a SHA-256 of the ID number
/// (local lookups only; never sent).
fn person_key(person: &IdNumber) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("lifecert-person:{}", person.expose()).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
