//! Device health: a `health` thread polls a [`HealthProbe`] and reports to the
//! UI, which shows it on the staff panel and turns changes into the flow's
//! `Fault` / `Recovered` events (out of service, and back by itself).

use std::sync::Arc;
use std::time::Duration;

use lifecert_core::flow::Part;
use time::OffsetDateTime;

use super::central::CentralSystem;
use super::templates::TemplateStore;
use super::{AppEvent, EventSink};
use crate::config::{CameraSource, Config};
use crate::store::Store;

/// The state of one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartState {
    /// Works; the text says how (device, counts).
    Ok(String),
    /// Broken; the text says what is wrong.
    Faulty(String),
    /// Not configured on this kiosk.
    NotConfigured,
}

/// A part's state, set by the thread that owns the device (the printer
/// thread after each print and status check) and read by the health probe.
#[derive(Clone)]
pub struct StatusSlot(Arc<std::sync::Mutex<PartState>>);

impl Default for StatusSlot {
    fn default() -> Self {
        StatusSlot(Arc::new(std::sync::Mutex::new(PartState::NotConfigured)))
    }
}

impl StatusSlot {
    pub fn new(state: PartState) -> StatusSlot {
        StatusSlot(Arc::new(std::sync::Mutex::new(state)))
    }
    pub fn set(&self, state: PartState) {
        *super::lock(&self.0) = state;
    }
    pub fn get(&self) -> PartState {
        super::lock(&self.0).clone()
    }
}

/// Where the probe learns a serial device's state.
pub type DeviceState = Box<dyn Fn() -> PartState + Send>;

/// The outbox, as the staff panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueSummary {
    pub pending: u64,
    pub dead: u64,
    pub acked: u64,
    /// How long the oldest unsent item has been waiting.
    pub oldest_age: Option<time::Duration>,
    /// The error of the last dead-lettered item (staff: `lifecert queue retry-dead`).
    pub last_dead_error: Option<String>,
}

/// One health report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthReport {
    pub parts: Vec<(Part, PartState)>,
    pub queue: Option<QueueSummary>,
    /// Enrolled face templates on this kiosk.
    pub templates: usize,
    /// Sync has stopped (protocol mismatch, unregistered): the staff alert.
    pub sync_alert: Option<String>,
}

impl HealthReport {
    /// The state of `part`, if reported.
    pub fn state(&self, part: Part) -> Option<&PartState> {
        self.parts.iter().find(|(p, _)| *p == part).map(|(_, s)| s)
    }
}

/// Checks the parts (the real one looks at devices, files and the server).
pub trait HealthProbe: Send {
    fn probe(&mut self, camera_in_use: bool) -> HealthReport;
}

/// The real probe.
pub struct SystemProbe {
    pub camera: CameraSource,
    pub models: Result<String, String>,
    pub store: Result<Store, String>,
    pub central: Arc<dyn CentralSystem>,
    pub templates: Arc<dyn TemplateStore>,
    /// The card reader thread's state (`None`: not configured).
    pub card_reader: Option<DeviceState>,
    /// The printer thread's state (`None`: not configured).
    pub printer: Option<DeviceState>,
    /// The sync worker's shared status (stop alert; health for the heartbeat).
    pub sync: Arc<crate::sync::SyncStatus>,
}

impl SystemProbe {
    pub fn new(
        config: &Config,
        models: Result<String, String>,
        central: Arc<dyn CentralSystem>,
        templates: Arc<dyn TemplateStore>,
        sync: Arc<crate::sync::SyncStatus>,
        devices: (Option<DeviceState>, Option<DeviceState>),
    ) -> SystemProbe {
        let store = Store::open(&config.storage.db_path())
            .map(|o| o.store)
            .map_err(|e| e.to_string());
        SystemProbe {
            camera: config.camera.source.clone(),
            models,
            store,
            central,
            templates,
            card_reader: devices.0,
            printer: devices.1,
            sync,
        }
    }

    fn camera_state(&self) -> PartState {
        match &self.camera {
            CameraSource::Replay(path) => {
                if path.exists() {
                    PartState::Ok(format!("回放 {}", path.display()))
                } else {
                    PartState::Faulty(format!("找不到回放文件 {}", path.display()))
                }
            }
            CameraSource::V4lIndex(i) if cfg!(target_os = "linux") => {
                let dev = format!("/dev/video{i}");
                if std::path::Path::new(&dev).exists() {
                    PartState::Ok(dev)
                } else {
                    PartState::Faulty(format!("未连接（{dev} 不存在）"))
                }
            }
            CameraSource::V4lName(name) if name.starts_with('/') => {
                if std::path::Path::new(name).exists() {
                    PartState::Ok(name.clone())
                } else {
                    PartState::Faulty(format!("未连接（{name} 不存在）"))
                }
            }
            other => PartState::Ok(other.to_string()),
        }
    }

    fn device_state(device: Option<&DeviceState>) -> PartState {
        device.map_or(PartState::NotConfigured, |state| state())
    }
}

impl HealthProbe for SystemProbe {
    fn probe(&mut self, camera_in_use: bool) -> HealthReport {
        let camera = if camera_in_use {
            PartState::Ok("使用中".into())
        } else {
            self.camera_state()
        };
        let models = match &self.models {
            Ok(s) => PartState::Ok(s.clone()),
            Err(e) => PartState::Faulty(e.clone()),
        };
        let (store, queue) = match &self.store {
            Ok(store) => match store.queue_status(OffsetDateTime::now_utc()) {
                Ok(q) => (
                    PartState::Ok(store.path().display().to_string()),
                    Some(QueueSummary {
                        pending: q.pending,
                        dead: q.dead,
                        acked: q.acked,
                        oldest_age: q.oldest_pending_age,
                        last_dead_error: if q.dead > 0 {
                            store.last_dead_error().ok().flatten()
                        } else {
                            None
                        },
                    }),
                ),
                Err(e) => (PartState::Faulty(e.to_string()), None),
            },
            Err(e) => (PartState::Faulty(e.clone()), None),
        };
        let sync_alert = self.sync.stopped();
        let unregistered = !self.central.registered();
        let registration = if unregistered {
            PartState::Faulty(self.central.describe())
        } else {
            PartState::Ok(self.central.describe())
        };
        let server = if let Some(alert) = &sync_alert {
            PartState::Faulty(alert.clone())
        } else if unregistered {
            PartState::NotConfigured
        } else if self.central.reachable() {
            PartState::Ok(self.central.describe())
        } else {
            PartState::Faulty(format!("无法连接：{}", self.central.describe()))
        };
        let report = HealthReport {
            parts: vec![
                (Part::Camera, camera),
                (Part::Models, models),
                (Part::Store, store),
                (
                    Part::CardReader,
                    SystemProbe::device_state(self.card_reader.as_ref()),
                ),
                (
                    Part::Printer,
                    SystemProbe::device_state(self.printer.as_ref()),
                ),
                (Part::Server, server),
                (Part::Registration, registration),
            ],
            queue,
            templates: self.templates.count(),
            sync_alert,
        };
        self.sync.set_health(
            report
                .parts
                .iter()
                .map(|(part, state)| {
                    let state = match state {
                        PartState::Ok(_) => "ok".to_string(),
                        PartState::Faulty(why) => format!("fault: {why}"),
                        PartState::NotConfigured => "not_configured".to_string(),
                    };
                    (format!("{part:?}").to_lowercase(), state)
                })
                .collect(),
        );
        report
    }
}

/// A probe whose answers the test sets.
#[derive(Clone, Default)]
pub struct FakeProbe {
    pub report: Arc<std::sync::Mutex<HealthReport>>,
}

impl FakeProbe {
    /// All parts fine.
    pub fn healthy() -> FakeProbe {
        let probe = FakeProbe::default();
        probe.set_all_ok();
        probe
    }
    pub fn set_all_ok(&self) {
        let mut r = super::lock(&self.report);
        r.parts = Part::ALL
            .into_iter()
            .map(|p| (p, PartState::Ok("test".into())))
            .collect();
        r.queue = Some(QueueSummary::default());
    }
    /// Set one part's state.
    pub fn set(&self, part: Part, state: PartState) {
        let mut r = super::lock(&self.report);
        r.parts.retain(|(p, _)| *p != part);
        r.parts.push((part, state));
    }
}

impl HealthProbe for FakeProbe {
    fn probe(&mut self, _camera_in_use: bool) -> HealthReport {
        super::lock(&self.report).clone()
    }
}

/// Starts the `health` thread: probes every `interval` (and at once).
pub fn spawn(
    mut probe: Box<dyn HealthProbe>,
    interval: Duration,
    camera_in_use: Arc<std::sync::atomic::AtomicBool>,
    kick: std::sync::mpsc::Receiver<()>,
    sink: EventSink,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("health".into())
        .spawn(move || {
            loop {
                let in_use = camera_in_use.load(std::sync::atomic::Ordering::SeqCst);
                sink.send(AppEvent::Health(probe.probe(in_use)));
                match kick.recv_timeout(interval) {
                    Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the health thread: {e}"))
}
