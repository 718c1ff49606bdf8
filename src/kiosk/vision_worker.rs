//! The camera + inference worker.
//!
//! [`CaptureService`] is the port the driver talks to. [`VisionWorker`] is the
//! real one: a named `vision` thread that owns the face models, turns the
//! camera on and off (the camera itself streams on its own `camera` thread),
//! feeds the live preview, and runs a liveness-and-match session
//! ([`crate::session::run`]), a staff enrolment or the self-test measures.
//! Frames stay in memory; embeddings are dropped when a job ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use lifecert_core::flow::{
    CaptureFailure, CaptureOutcome, EnrolOutcome, Event, QualityHint, RequestId,
};
use lifecert_core::id::IdNumber;
use lifecert_core::liveness::{LivenessEvent, LivenessParams, Thresholds, frame_quality, plan};
use lifecert_core::matching::MatchPolicy;
use lifecert_vision::{Analyzer, Embedding, Models, Template};

use super::templates::TemplateStore;
use super::{AppEvent, Clock, EventSink, EvidenceSlot, PreviewSlot};
use crate::camera::{
    CameraError, CameraEvent, CaptureOptions, CaptureThread, FrameReceiver, FrameSource, Pacing,
    ReplayOptions, StillRepeat, TimedFrame, open_camera, open_replay_with,
};
use crate::config::{CameraConfig, CameraSource};
use crate::session::{self, Progress, SessionError};
use crate::sync::central::TemplateUploader;

/// Good frontal frames a staff enrolment collects.
pub const ENROL_FRAMES: u8 = 5;
/// The fewest frames a template may be built from when time runs out.
pub const ENROL_MIN_FRAMES: u8 = 3;
/// Time allowed for an enrolment.
pub const ENROL_TIMEOUT: Duration = Duration::from_secs(30);
/// Minimum spacing between enrolment frames (different moments, not copies).
pub const ENROL_SPACING: Duration = Duration::from_millis(400);
/// How long the worker waits for a frame before calling the camera stalled.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Live measures for the staff camera self-test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelfTestMeasures {
    pub source: String,
    pub width: u32,
    pub height: u32,
    pub fps: f32,
    pub analysis_ms: f32,
    pub faces: usize,
    pub brightness: Option<f32>,
    pub sharpness: Option<f32>,
    pub face_size: Option<f32>,
    pub yaw: Option<f32>,
    pub pitch: Option<f32>,
    pub eyes: Option<f32>,
    pub mouth: Option<f32>,
    pub quality: Option<QualityHint>,
}

/// One liveness-and-match job.
#[derive(Debug, Clone)]
pub struct CaptureJob {
    pub request: RequestId,
    pub person: IdNumber,
    pub attempt: u8,
    pub offline: bool,
}

/// The port the driver uses for the camera and everything on its frames.
pub trait CaptureService: Send {
    /// Turn the camera on (preview starts) or off.
    fn camera(&mut self, on: bool);
    /// Run liveness (and matching unless offline); reports flow events.
    fn start_capture(&mut self, job: CaptureJob);
    /// Collect frames and build a template for `person`.
    fn start_enrolment(&mut self, request: RequestId, person: IdNumber);
    /// Abandon the running job (no completion is reported).
    fn cancel(&mut self);
    /// Drop every frame and embedding held.
    fn wipe(&mut self);
    /// A one-line status for the staff panel.
    fn describe(&self) -> String;
}

enum Command {
    Camera(bool),
    Capture(CaptureJob),
    Enrol(RequestId, IdNumber),
    Wipe,
}

/// Everything the vision thread needs.
pub struct VisionSetup {
    pub models: Result<Arc<Models>, String>,
    pub camera: CameraConfig,
    pub params: LivenessParams,
    pub policy: MatchPolicy,
    pub templates: Arc<dyn TemplateStore>,
    pub sink: EventSink,
    pub preview: PreviewSlot,
    pub clock: Arc<dyn Clock>,
    /// Where offline captures leave their embedding evidence for the driver.
    pub evidence: EvidenceSlot,
    /// Uploads staff enrolments to the server (registered kiosk with an
    /// operator credential), else `None`: templates stay on this kiosk.
    pub uploader: Option<Arc<dyn TemplateUploader>>,
}

/// The real capture service: the `vision` thread.
pub struct VisionWorker {
    tx: Sender<Command>,
    cancel: Arc<AtomicBool>,
    description: String,
}

impl VisionWorker {
    /// Starts the `vision` thread. Model problems are reported as faults
    /// by the health monitor; jobs then fail with a device fault.
    pub fn spawn(setup: VisionSetup) -> Result<VisionWorker, String> {
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let description = setup.camera.source.to_string();
        let thread_cancel = Arc::clone(&cancel);
        std::thread::Builder::new()
            .name("vision".into())
            .spawn(move || Worker::new(setup, thread_cancel).run(rx))
            .map_err(|e| format!("cannot start the vision thread: {e}"))?;
        Ok(VisionWorker {
            tx,
            cancel,
            description,
        })
    }
}

impl CaptureService for VisionWorker {
    fn camera(&mut self, on: bool) {
        if !on {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let _ = self.tx.send(Command::Camera(on));
    }
    fn start_capture(&mut self, job: CaptureJob) {
        self.cancel.store(false, Ordering::SeqCst);
        let _ = self.tx.send(Command::Capture(job));
    }
    fn start_enrolment(&mut self, request: RequestId, person: IdNumber) {
        self.cancel.store(false, Ordering::SeqCst);
        let _ = self.tx.send(Command::Enrol(request, person));
    }
    fn cancel(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
    fn wipe(&mut self) {
        let _ = self.tx.send(Command::Wipe);
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
}

struct Worker {
    setup: VisionSetup,
    analyzer: Option<Analyzer>,
    camera: Option<CaptureThread>,
    cancel: Arc<AtomicBool>,
    camera_faulty: bool,
    last_measure: Option<Instant>,
}

impl Worker {
    fn new(setup: VisionSetup, cancel: Arc<AtomicBool>) -> Worker {
        let analyzer = setup
            .models
            .as_ref()
            .ok()
            .map(|m| Analyzer::new(Arc::clone(m)));
        Worker {
            setup,
            analyzer,
            camera: None,
            cancel,
            camera_faulty: false,
            last_measure: None,
        }
    }

    fn run(mut self, rx: Receiver<Command>) {
        loop {
            let command = if self.camera.is_some() {
                match rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => break,
                }
            };
            match command {
                Some(Command::Camera(true)) => self.camera_on(),
                Some(Command::Camera(false)) => self.camera_off(),
                Some(Command::Capture(job)) => self.capture(job),
                Some(Command::Enrol(request, person)) => self.enrol(request, person),
                Some(Command::Wipe) => {
                    self.setup.preview.clear();
                    if let Some(a) = self.analyzer.as_mut() {
                        a.reset();
                    }
                }
                None => self.self_test_frame(),
            }
        }
        self.camera_off();
    }

    fn camera_on(&mut self) {
        if self.camera.is_some() {
            return;
        }
        let camera = self.setup.camera.clone();
        let factory = move || -> Result<Box<dyn FrameSource>, CameraError> {
            match &camera.source {
                // Demo kiosks replay a recording in a loop, in real time.
                CameraSource::Replay(path) => open_replay_with(
                    path,
                    &ReplayOptions {
                        pacing: Pacing::RealTime,
                        still: StillRepeat::Forever,
                        looping: true,
                        ..ReplayOptions::default()
                    },
                ),
                // Live cameras: checked against camera.usb_vid/usb_pid/usb_serial/allow_virtual.
                _ => open_camera(&camera, Pacing::RealTime),
            }
        };
        let options = CaptureOptions {
            thread_name: "camera".into(),
            ..CaptureOptions::live(crate::camera::capture::DEFAULT_RETRY_INTERVAL)
        };
        match CaptureThread::spawn(factory, options) {
            Ok(thread) => self.camera = Some(thread),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the camera thread");
                self.fault(true);
            }
        }
    }

    fn camera_off(&mut self) {
        if let Some(mut camera) = self.camera.take() {
            camera.stop();
        }
        self.setup.preview.clear();
        self.last_measure = None;
    }

    fn fault(&mut self, faulty: bool) {
        if faulty != self.camera_faulty {
            self.camera_faulty = faulty;
            let part = lifecert_core::flow::Part::Camera;
            self.setup.sink.flow(if faulty {
                Event::Fault(part)
            } else {
                Event::Recovered(part)
            });
        }
    }

    fn receiver(&self) -> Option<FrameReceiver> {
        self.camera.as_ref().map(CaptureThread::receiver)
    }

    /// Camera on, no job: preview and (throttled) self-test measures.
    fn self_test_frame(&mut self) {
        let Some(rx) = self.receiver() else {
            return;
        };
        match rx.recv_timeout(Duration::from_millis(100)) {
            Some(CameraEvent::Frame(timed)) => {
                self.fault(false);
                let frame = Arc::new(timed.frame);
                self.setup.preview.publish(Arc::clone(&frame));
                let now = Instant::now();
                let fps = self
                    .last_measure
                    .map(|t| 1.0 / now.duration_since(t).as_secs_f32().max(1e-3))
                    .unwrap_or(0.0);
                self.last_measure = Some(now);
                let Some(analyzer) = self.analyzer.as_mut() else {
                    return;
                };
                let started = Instant::now();
                let Ok(analysis) = analyzer.analyze(&frame) else {
                    return;
                };
                let analysis_ms = started.elapsed().as_secs_f32() * 1000.0;
                let input = session::frame_input(
                    timed.timestamp,
                    analysis.faces.len(),
                    analysis.primary.as_ref(),
                );
                let th = Thresholds::default();
                let p = analysis.primary.as_ref();
                self.setup.sink.send(AppEvent::Measures(SelfTestMeasures {
                    source: self.setup.camera.source.to_string(),
                    width: frame.width,
                    height: frame.height,
                    fps,
                    analysis_ms,
                    faces: analysis.faces.len(),
                    brightness: p.map(|f| f.brightness),
                    sharpness: p.map(|f| f.sharpness),
                    face_size: p.map(|f| f.face_size),
                    yaw: p.map(|f| f.yaw),
                    pitch: p.map(|f| f.pitch),
                    eyes: p.map(|f| (f.ear_left + f.ear_right) / 2.0),
                    mouth: p.map(|f| f.mar),
                    quality: frame_quality(&th, &input),
                }));
            }
            Some(CameraEvent::Error(msg)) => {
                tracing::warn!(error = %msg, "camera error");
                self.setup.preview.clear();
                self.fault(true);
            }
            Some(CameraEvent::Reconnected) => self.fault(false),
            Some(CameraEvent::Ended) | None => {}
        }
    }

    fn capture(&mut self, job: CaptureJob) {
        let request = job.request;
        let outcome = self.run_capture(&job);
        if self.cancel.load(Ordering::SeqCst) {
            return;
        }
        let Some(outcome) = outcome else {
            return;
        };
        self.setup.sink.flow(Event::CaptureDone {
            request,
            outcome,
            at: self.setup.clock.wall(),
        });
    }

    fn run_capture(&mut self, job: &CaptureJob) -> Option<CaptureOutcome> {
        let device_fault = Some(CaptureOutcome::Failed(CaptureFailure::DeviceFault));
        let template = if job.offline {
            None
        } else {
            match self.setup.templates.get(&job.person) {
                Ok(Some(t)) => Some(t),
                Ok(None) => {
                    tracing::warn!(
                        "no face template on this kiosk for the person: enrol at the counter"
                    );
                    return device_fault;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the face template");
                    return device_fault;
                }
            }
        };
        let Some(rx) = self.receiver() else {
            return device_fault;
        };
        let Some(analyzer) = self.analyzer.as_mut() else {
            return device_fault;
        };
        let seed = self.setup.clock.wall().unix_timestamp_nanos() as u64 ^ u64::from(job.attempt);
        let plan = plan(
            seed,
            &self.setup.params.actions,
            self.setup.params.action_count,
        );
        let mut source = ChannelSource {
            rx,
            preview: self.setup.preview.clone(),
            cancel: Arc::clone(&self.cancel),
        };
        // A live camera sees the kiosk screen's light (the UI paints the
        // tints); a demo kiosk's recording does not, so its light is
        // simulated as for `lifecert verify`.
        let mut light: Box<dyn session::ScreenLight> = match &self.setup.camera.source {
            CameraSource::Replay(path) => {
                match crate::flash_sim::SimulatedScreen::for_recording(path) {
                    Ok(screen) => Box::new(screen),
                    Err(e) => {
                        tracing::warn!(error = %e, "replay scene unreadable; simulating a face");
                        Box::new(crate::flash_sim::SimulatedScreen::new(
                            crate::flash_sim::Scene::Face,
                            crate::flash_sim::ReflectionModel::default(),
                        ))
                    }
                }
            }
            _ => Box::new(()),
        };
        let mut progress = FlowProgress {
            sink: self.setup.sink.clone(),
            request: job.request,
        };
        let result = session::run(
            &mut source,
            analyzer,
            self.setup.params.clone(),
            plan,
            &self.setup.policy,
            template.as_ref(),
            session::Hooks {
                progress: &mut progress,
                light: light.as_mut(),
            },
        );
        match result {
            Ok(mut report) => {
                tracing::info!(
                    frames = report.frames,
                    passed = report.passed(),
                    "capture finished"
                );
                let outcome = report.capture_outcome();
                let camera = match &self.setup.camera.source {
                    CameraSource::Replay(_) => Some("replay".to_string()),
                    other => crate::camera::trust::capture_identity(other).map(|i| i.summary()),
                };
                self.setup.evidence.put_summary(
                    job.request,
                    session::liveness_summary(&report, camera, None),
                );
                let evidence = report.evidence.take();
                if job.offline && outcome == CaptureOutcome::EvidenceCaptured {
                    // Hand the evidence to the driver (sealed there, then wiped).
                    match evidence {
                        Some(mean) => self.setup.evidence.put(job.request, mean.0.to_vec()),
                        None => {
                            tracing::warn!(
                                "offline capture passed liveness without usable embeddings"
                            );
                            return device_fault;
                        }
                    }
                }
                Some(outcome)
            }
            Err(_) if self.cancel.load(Ordering::SeqCst) => None,
            Err(e) => {
                tracing::warn!(error = %e, "capture failed");
                if matches!(e, SessionError::Camera(_) | SessionError::Ended { .. }) {
                    self.fault(true);
                }
                device_fault
            }
        }
    }

    fn enrol(&mut self, request: RequestId, person: IdNumber) {
        let outcome = self.run_enrol(request, &person);
        if self.cancel.load(Ordering::SeqCst) {
            return;
        }
        if let Some(outcome) = outcome {
            self.setup.sink.flow(Event::EnrolDone { request, outcome });
        }
    }

    fn run_enrol(&mut self, request: RequestId, person: &IdNumber) -> Option<EnrolOutcome> {
        let (Some(rx), Some(analyzer)) = (self.receiver(), self.analyzer.as_mut()) else {
            return Some(EnrolOutcome::DeviceFault);
        };
        analyzer.reset();
        let th = Thresholds::default();
        let mut source = ChannelSource {
            rx,
            preview: self.setup.preview.clone(),
            cancel: Arc::clone(&self.cancel),
        };
        let started = Instant::now();
        let mut taken: Vec<Embedding> = Vec::new();
        let mut last_take: Option<Instant> = None;
        let mut shown: Option<(u8, Option<QualityHint>)> = None;
        let sink = self.setup.sink.clone();
        while taken.len() < usize::from(ENROL_FRAMES) && started.elapsed() < ENROL_TIMEOUT {
            let timed = match source.next_frame() {
                Ok(Some(t)) => t,
                Ok(None) | Err(_) => {
                    if self.cancel.load(Ordering::SeqCst) {
                        return None;
                    }
                    self.fault(true);
                    return Some(EnrolOutcome::DeviceFault);
                }
            };
            let Ok(analysis) = analyzer.analyze(&timed.frame) else {
                return Some(EnrolOutcome::DeviceFault);
            };
            let input = session::frame_input(
                timed.timestamp,
                analysis.faces.len(),
                analysis.primary.as_ref(),
            );
            let hint = frame_quality(&th, &input);
            let spaced = last_take.is_none_or(|t| t.elapsed() >= ENROL_SPACING);
            if hint.is_none()
                && spaced
                && let Some(face) = analysis.primary.as_ref()
                && let Ok(embedding) = analyzer.embed(&timed.frame, face)
                && embedding.is_finite()
            {
                taken.push(embedding);
                last_take = Some(Instant::now());
            }
            let good = u8::try_from(taken.len()).unwrap_or(u8::MAX);
            if shown != Some((good, hint)) {
                shown = Some((good, hint));
                sink.flow(Event::EnrolProgress {
                    request,
                    good,
                    needed: ENROL_FRAMES,
                    hint,
                });
            }
        }
        let frames = u8::try_from(taken.len()).unwrap_or(u8::MAX);
        if frames < ENROL_MIN_FRAMES {
            return Some(EnrolOutcome::NotEnoughFrames);
        }
        let Some(mean) = Embedding::mean(&taken) else {
            return Some(EnrolOutcome::NotEnoughFrames);
        };
        taken.clear();
        let template = Template::new(mean, u32::from(frames));
        Some(match self.setup.templates.put(person, &template) {
            Ok(()) => {
                tracing::info!(frames, "face template enrolled on this kiosk");
                let sent = match &self.setup.uploader {
                    Some(uploader) => match uploader.upload(person, &template) {
                        Ok(version) => {
                            tracing::info!(version, "face template sent to the server");
                            true
                        }
                        Err(e) => {
                            tracing::warn!("cannot send the face template to the server: {e}");
                            false
                        }
                    },
                    None => false,
                };
                EnrolOutcome::Saved { frames, sent }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store the face template");
                EnrolOutcome::StoreFailed
            }
        })
    }
}

/// Frames from the camera thread, published to the preview on the way.
struct ChannelSource {
    rx: FrameReceiver,
    preview: PreviewSlot,
    cancel: Arc<AtomicBool>,
}

impl FrameSource for ChannelSource {
    fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(CameraError::Thread("cancelled".into()));
            }
            if Instant::now() >= deadline {
                return Err(CameraError::Disconnected {
                    device: "camera".into(),
                    reason: "no frame for 5 s".into(),
                });
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Some(CameraEvent::Frame(timed)) => {
                    // The preview gets its own copy (the session consumes the frame).
                    self.preview.publish(Arc::new(timed.frame.clone()));
                    return Ok(Some(timed));
                }
                Some(CameraEvent::Error(msg)) => {
                    return Err(CameraError::Disconnected {
                        device: "camera".into(),
                        reason: msg,
                    });
                }
                Some(CameraEvent::Ended) => return Ok(None),
                Some(CameraEvent::Reconnected) | None => {}
            }
        }
    }
    fn describe(&self) -> String {
        "camera thread".into()
    }
}

/// Turns liveness progress into flow events.
struct FlowProgress {
    sink: EventSink,
    request: RequestId,
}

impl Progress for FlowProgress {
    fn event(&mut self, event: &LivenessEvent) {
        let request = self.request;
        match event {
            LivenessEvent::ActionStarted {
                index,
                total,
                action,
            } => self.sink.flow(Event::ActionStarted {
                request,
                index: *index,
                total: *total,
                action: *action,
            }),
            LivenessEvent::Hint(hint) => self.sink.flow(Event::Hint {
                request,
                hint: *hint,
            }),
            LivenessEvent::Finished(_) => self.sink.flow(Event::LivenessDone { request }),
            LivenessEvent::FlashStarted { tints, slot, .. } => self.sink.flow(Event::Flash {
                request,
                show: Some(lifecert_core::flow::FlashShow::new(tints, *slot)),
            }),
            LivenessEvent::FlashEnded => self.sink.flow(Event::Flash {
                request,
                show: None,
            }),
            LivenessEvent::ActionDone { .. } | LivenessEvent::SampleWanted { .. } => {}
        }
    }
}

/// A scripted capture service for UI tests: outcomes are queued by the test.
#[derive(Clone, Default)]
pub struct FakeCapture {
    inner: Arc<std::sync::Mutex<FakeCaptureState>>,
}

#[derive(Default)]
struct FakeCaptureState {
    sink: Option<EventSink>,
    outcomes: std::collections::VecDeque<CaptureOutcome>,
    camera_on: bool,
    camera_switches: Vec<bool>,
    started: u32,
}

impl FakeCapture {
    /// Connect to the app's event channel.
    pub fn connect(&self, sink: EventSink) {
        super::lock(&self.inner).sink = Some(sink);
    }
    /// The outcome of the next capture (default: matched).
    pub fn queue(&self, outcome: CaptureOutcome) {
        super::lock(&self.inner).outcomes.push_back(outcome);
    }
    pub fn camera_is_on(&self) -> bool {
        super::lock(&self.inner).camera_on
    }
    /// Every camera on/off request, in order.
    pub fn camera_switches(&self) -> Vec<bool> {
        super::lock(&self.inner).camera_switches.clone()
    }
    pub fn captures_started(&self) -> u32 {
        super::lock(&self.inner).started
    }
}

impl CaptureService for FakeCapture {
    fn camera(&mut self, on: bool) {
        let mut g = super::lock(&self.inner);
        g.camera_on = on;
        g.camera_switches.push(on);
    }
    fn start_capture(&mut self, job: CaptureJob) {
        let mut g = super::lock(&self.inner);
        g.started += 1;
        let outcome = g
            .outcomes
            .pop_front()
            .unwrap_or(CaptureOutcome::Matched { score: 0.93 });
        let Some(sink) = g.sink.clone() else {
            return;
        };
        drop(g);
        let request = job.request;
        sink.flow(Event::ActionStarted {
            request,
            index: 0,
            total: 2,
            action: lifecert_core::action::Action::Blink,
        });
        sink.flow(Event::ActionStarted {
            request,
            index: 1,
            total: 2,
            action: lifecert_core::action::Action::TurnLeft,
        });
        sink.flow(Event::LivenessDone { request });
        sink.flow(Event::CaptureDone {
            request,
            outcome,
            at: time::macros::datetime!(2026-11-22 10:30 +8),
        });
    }
    fn start_enrolment(&mut self, request: RequestId, _person: IdNumber) {
        if let Some(sink) = super::lock(&self.inner).sink.clone() {
            sink.flow(Event::EnrolDone {
                request,
                outcome: EnrolOutcome::Saved {
                    frames: ENROL_FRAMES,
                    sent: false,
                },
            });
        }
    }
    fn cancel(&mut self) {}
    fn wipe(&mut self) {}
    fn describe(&self) -> String {
        "fake camera (test)".into()
    }
}
