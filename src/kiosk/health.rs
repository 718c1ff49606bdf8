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
use crate::camera::trust;
use crate::config::{CameraSource, CameraTrust, Config};
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
    /// The camera binding (`camera.usb_vid` …, `allow_virtual`).
    pub camera_trust: CameraTrust,
    /// The last camera fault logged (each new one is logged once).
    camera_fault_logged: Option<String>,
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
            camera_trust: config.camera.trust.clone(),
            camera_fault_logged: None,
            models,
            store,
            central,
            templates,
            card_reader: devices.0,
            printer: devices.1,
            sync,
        }
    }

    /// The camera's state; a new trust fault is logged once (in English).
    fn camera_state(&mut self) -> PartState {
        let sysfs = std::path::Path::new(trust::SYSFS_ROOT);
        let (state, refusal) = camera_check(&self.camera, &self.camera_trust, sysfs);
        let refusal = refusal.map(|r| r.to_string());
        if refusal != self.camera_fault_logged {
            match &refusal {
                Some(why) => tracing::error!(camera = %self.camera, "camera out of service: {why}"),
                None => {
                    tracing::info!(camera = %self.camera, "camera passes the device check again")
                }
            }
            self.camera_fault_logged = refusal;
        }
        state
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

/// The state of the configured camera while it is not in use: a recording
/// must exist; a Linux camera must exist and pass the trusted-device check
/// (read from `sysfs_root`); elsewhere the last refusal of the camera, if any
/// ([`trust::last_refusal`]), keeps the fault.
pub fn camera_part_state(
    source: &CameraSource,
    trust: &CameraTrust,
    sysfs_root: &std::path::Path,
) -> PartState {
    camera_check(source, trust, sysfs_root).0
}

/// [`camera_part_state`] with the refusal behind a trust fault.
fn camera_check(
    source: &CameraSource,
    trust: &CameraTrust,
    sysfs_root: &std::path::Path,
) -> (PartState, Option<trust::UntrustedCamera>) {
    let exists = |dev: &str| std::path::Path::new(dev).exists();
    let missing = |dev: &str| (PartState::Faulty(format!("未连接（{dev} 不存在）")), None);
    match source {
        CameraSource::Replay(path) if path.exists() => {
            return (PartState::Ok(format!("回放 {}", path.display())), None);
        }
        CameraSource::Replay(path) => {
            let why = format!("找不到回放文件 {}", path.display());
            return (PartState::Faulty(why), None);
        }
        CameraSource::V4lIndex(i) if cfg!(target_os = "linux") => {
            let dev = format!("/dev/video{i}");
            if !exists(&dev) {
                return missing(&dev);
            }
        }
        CameraSource::V4lName(name) if name.starts_with('/') && !exists(name) => {
            return missing(name);
        }
        _ => {}
    }
    let verdict = if cfg!(target_os = "linux") {
        trust::linux_verdict(sysfs_root, source, trust)
    } else {
        None
    };
    let verdict = verdict.unwrap_or_else(|| trust::last_refusal().map_or(Ok(None), Err));
    match verdict {
        Ok(Some(id)) => {
            let text = match &id.usb {
                Some(usb) => format!(
                    "{}（USB {:04x}:{:04x}）",
                    id.device, usb.vendor, usb.product
                ),
                None => id.device,
            };
            (PartState::Ok(text), None)
        }
        Ok(None) => (PartState::Ok(source.to_string()), None),
        Err(refusal) => (PartState::Faulty(refusal.staff_message()), Some(refusal)),
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

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake sysfs with a USB camera (video0) and an OBS loopback (video2).
    fn sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let node = |node: &str, at: &std::path::Path, name: &str| {
            std::fs::create_dir_all(at).unwrap();
            std::fs::write(at.join("name"), name).unwrap();
            std::fs::create_dir_all(root.join("class/video4linux")).unwrap();
            symlink(at, root.join("class/video4linux").join(node)).unwrap();
        };
        let usb = root.join("devices/pci0000:00/0000:00:14.0/usb1/1-2");
        let dev = usb.join("1-2:1.0/video4linux/video0");
        node("video0", &dev, "C270 HD WEBCAM\n");
        symlink(usb.join("1-2:1.0"), dev.join("device")).unwrap();
        std::fs::write(usb.join("idVendor"), "046d\n").unwrap();
        std::fs::write(usb.join("idProduct"), "0825\n").unwrap();
        node(
            "video2",
            &root.join("devices/virtual/video4linux/video2"),
            "OBS Virtual Camera\n",
        );
        dir
    }

    #[test]
    fn virtual_or_unbound_cameras_are_out_of_service() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let dir = sysfs();
        let by_name = |name: &str| CameraSource::V4lName(name.into());
        let unbound = CameraTrust::default();
        assert_eq!(
            camera_part_state(&by_name("C270"), &unbound, dir.path()),
            PartState::Ok("/dev/video0（USB 046d:0825）".into())
        );
        assert_eq!(
            camera_part_state(&by_name("OBS Virtual Camera"), &unbound, dir.path()),
            PartState::Faulty(
                "/dev/video2「OBS Virtual Camera」是虚拟摄像头（OBS Virtual Camera），\
                 不能用于认证；请接入真实摄像头"
                    .into()
            )
        );
        let lab = CameraTrust {
            allow_virtual: true,
            ..CameraTrust::default()
        };
        assert!(matches!(
            camera_part_state(&by_name("OBS Virtual Camera"), &lab, dir.path()),
            PartState::Ok(_)
        ));
        let bound = CameraTrust {
            usb_vid: Some(0x0c45),
            ..CameraTrust::default()
        };
        let PartState::Faulty(why) = camera_part_state(&by_name("C270"), &bound, dir.path()) else {
            panic!("a camera with other USB ids passed");
        };
        assert!(
            why.contains("不是本机登记的摄像头（camera.usb_vid 应为 \"0x0c45\"，实为 \"0x046d\"）"),
            "{why}"
        );
        // Recordings are never checked.
        assert_eq!(
            camera_part_state(
                &CameraSource::Replay("/nonexistent.mp4".into()),
                &bound,
                dir.path()
            ),
            PartState::Faulty("找不到回放文件 /nonexistent.mp4".into())
        );
    }
}
