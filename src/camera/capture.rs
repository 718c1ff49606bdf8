//! The capture thread: owns the frame source (nokhwa's `Camera` is `!Send`,
//! so the source is *constructed* on this thread by a factory closure) and
//! hands frames to the UI / inference through a tiny queue where the newest
//! frame wins.
//!
//! * The queue holds at most 1–2 frames; when it is full the oldest queued
//!   frame is dropped and counted ([`FrameReceiver::dropped_frames`]).
//!   Control events (`Error`, `Ended`, `Reconnected`) are never dropped.
//! * On an error with a retry interval set (live cameras), the source is
//!   dropped (camera off) and reopened every interval until it works
//!   ([`CameraEvent::Reconnected`]) or the thread is stopped. Repeated
//!   identical open errors are reported once.
//! * [`CaptureThread::stop`] (also on drop) stops and joins the thread; the
//!   source is dropped on its thread, so the camera is off afterwards.
//!   Privacy: the camera is only on while a `CaptureThread` runs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{CameraError, FrameSource, Pacing, TimedFrame, open_camera};
use crate::config::{CameraConfig, CameraSource};

/// Default interval between attempts to reopen a failed live camera.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Default time [`CaptureThread::stop`] waits for the thread.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// What the capture thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraEvent {
    /// A new frame.
    Frame(TimedFrame),
    /// Opening or reading the source failed (operator-readable message).
    /// With a retry interval the thread keeps trying.
    Error(String),
    /// The recording ended; the thread has finished.
    Ended,
    /// The source works again after an `Error` (also after a failed first
    /// open). The new stream's indices and timestamps start again at 0.
    Reconnected,
}

/// Settings of a [`CaptureThread`].
pub struct CaptureOptions {
    /// Name of the OS thread (shows up in debuggers and `top -H`).
    pub thread_name: String,
    /// Frames kept for the consumer: 1 (lowest latency) or 2.
    pub queue_frames: usize,
    /// `Some(interval)`: after an error, reopen the source every interval
    /// until stopped (live cameras). `None`: stop at the first error (recordings).
    pub retry_interval: Option<Duration>,
    /// How long [`CaptureThread::stop`] waits for the thread before leaving it
    /// to finish on its own (a camera blocked in the driver).
    pub stop_timeout: Duration,
    /// Called on the capture thread after each event (e.g. egui's `request_repaint`).
    pub wake: Option<Box<dyn Fn() + Send>>,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            thread_name: "camera".to_owned(),
            queue_frames: 1,
            retry_interval: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            wake: None,
        }
    }
}

impl std::fmt::Debug for CaptureOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureOptions")
            .field("thread_name", &self.thread_name)
            .field("queue_frames", &self.queue_frames)
            .field("retry_interval", &self.retry_interval)
            .field("stop_timeout", &self.stop_timeout)
            .field("wake", &self.wake.is_some())
            .finish()
    }
}

impl CaptureOptions {
    /// For a live camera: retry every `retry_interval` after errors.
    pub fn live(retry_interval: Duration) -> CaptureOptions {
        CaptureOptions {
            retry_interval: Some(retry_interval),
            ..CaptureOptions::default()
        }
    }

    /// For a recording: the first error or the end finishes the thread.
    pub fn replay() -> CaptureOptions {
        CaptureOptions::default()
    }

    /// [`Self::replay`] for `replay:` sources, else [`Self::live`] with the default interval.
    pub fn for_source(source: &CameraSource) -> CaptureOptions {
        match source {
            CameraSource::Replay(_) => CaptureOptions::replay(),
            _ => CaptureOptions::live(DEFAULT_RETRY_INTERVAL),
        }
    }

    /// Sets the callback run after each event.
    pub fn with_wake(mut self, wake: impl Fn() + Send + 'static) -> CaptureOptions {
        self.wake = Some(Box::new(wake));
        self
    }
}

// ---------------------------------------------------------------------------
// The queue

struct Queue {
    events: VecDeque<CameraEvent>,
    frames: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
    dropped: AtomicU64,
    captured: AtomicU64,
    description: Mutex<Option<String>>,
    /// Set by `stop()`; the thread checks it between frames.
    stop: Mutex<bool>,
    stop_cv: Condvar,
    /// Set by the thread when it has finished (source dropped).
    exited: Mutex<bool>,
    exited_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these short locks leaves consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn push(&self, event: CameraEvent) {
        let mut q = lock(&self.queue);
        if q.closed {
            return;
        }
        if matches!(event, CameraEvent::Frame(_)) {
            self.captured.fetch_add(1, Ordering::Relaxed);
            while q.frames >= self.capacity {
                let Some(pos) = q
                    .events
                    .iter()
                    .position(|e| matches!(e, CameraEvent::Frame(_)))
                else {
                    break;
                };
                q.events.remove(pos);
                q.frames -= 1;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.frames += 1;
        }
        q.events.push_back(event);
        drop(q);
        self.ready.notify_all();
    }

    fn pop(q: &mut Queue) -> Option<CameraEvent> {
        let event = q.events.pop_front()?;
        if matches!(event, CameraEvent::Frame(_)) {
            q.frames -= 1;
        }
        Some(event)
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.ready.notify_all();
    }

    fn stop_requested(&self) -> bool {
        *lock(&self.stop)
    }

    /// Sleeps up to `d`; true if a stop was requested.
    fn wait_for_stop(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stop = lock(&self.stop);
        while !*stop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stop = match self.stop_cv.wait_timeout(stop, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// The consumer side of a [`CaptureThread`]; cheap to clone and `Send`, so
/// an inference thread can read frames while the UI holds the thread.
#[derive(Clone)]
pub struct FrameReceiver {
    shared: Arc<Shared>,
}

impl FrameReceiver {
    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<CameraEvent> {
        Shared::pop(&mut lock(&self.shared.queue))
    }

    /// The next event, waiting up to `timeout`; `None` on timeout or when
    /// the thread has finished and everything was read.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<CameraEvent> {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.shared.queue);
        loop {
            if let Some(event) = Shared::pop(&mut q) {
                return Some(event);
            }
            let now = Instant::now();
            if q.closed || now >= deadline {
                return None;
            }
            q = match self.shared.ready.wait_timeout(q, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The next event, waiting as long as the thread runs; `None` once it
    /// has finished and everything was read.
    pub fn recv(&self) -> Option<CameraEvent> {
        let mut q = lock(&self.shared.queue);
        loop {
            if let Some(event) = Shared::pop(&mut q) {
                return Some(event);
            }
            if q.closed {
                return None;
            }
            q = match self.shared.ready.wait(q) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Frames thrown away because the consumer was slower than the source.
    pub fn dropped_frames(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames the source delivered (received + dropped + still queued).
    pub fn captured_frames(&self) -> u64 {
        self.shared.captured.load(Ordering::Relaxed)
    }

    /// True once the thread has finished (or was stopped); queued events can still be read.
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.queue).closed
    }
}

// ---------------------------------------------------------------------------
// The thread

/// A running capture thread; stopping or dropping it switches the source off.
pub struct CaptureThread {
    handle: Option<JoinHandle<()>>,
    receiver: FrameReceiver,
    stop_timeout: Duration,
}

/// Closes the queue and marks the thread finished even if the source panics.
struct ExitGuard {
    shared: Arc<Shared>,
    wake: Option<Box<dyn Fn() + Send>>,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.shared.close();
        *lock(&self.shared.exited) = true;
        self.shared.exited_cv.notify_all();
        if let Some(wake) = &self.wake {
            wake();
        }
    }
}

impl CaptureThread {
    /// Starts a thread that builds its source with `factory` (called again
    /// for every reconnection attempt) and streams its frames.
    pub fn spawn<F>(factory: F, options: CaptureOptions) -> Result<CaptureThread, CameraError>
    where
        F: FnMut() -> Result<Box<dyn FrameSource>, CameraError> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                frames: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: options.queue_frames.clamp(1, 2),
            dropped: AtomicU64::new(0),
            captured: AtomicU64::new(0),
            description: Mutex::new(None),
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let retry = options.retry_interval;
        let wake = options.wake;
        let handle = std::thread::Builder::new()
            .name(options.thread_name)
            .spawn(move || run(factory, retry, wake, thread_shared))
            .map_err(|e| CameraError::Thread(e.to_string()))?;
        Ok(CaptureThread {
            handle: Some(handle),
            receiver: FrameReceiver { shared },
            stop_timeout: options.stop_timeout,
        })
    }

    /// Starts capturing from the `[camera]` configuration: the source is
    /// opened on the capture thread with [`open_camera`] (live cameras are
    /// checked against the section's binding).
    pub fn spawn_configured(
        config: &CameraConfig,
        pacing: Pacing,
        options: CaptureOptions,
    ) -> Result<CaptureThread, CameraError> {
        let config = config.clone();
        CaptureThread::spawn(move || open_camera(&config, pacing), options)
    }

    /// A handle for reading events (also usable from other threads).
    pub fn receiver(&self) -> FrameReceiver {
        self.receiver.clone()
    }

    /// See [`FrameReceiver::try_recv`].
    pub fn try_recv(&self) -> Option<CameraEvent> {
        self.receiver.try_recv()
    }

    /// See [`FrameReceiver::recv_timeout`].
    pub fn recv_timeout(&self, timeout: Duration) -> Option<CameraEvent> {
        self.receiver.recv_timeout(timeout)
    }

    /// See [`FrameReceiver::dropped_frames`].
    pub fn dropped_frames(&self) -> u64 {
        self.receiver.dropped_frames()
    }

    /// The open source's [`FrameSource::describe`], `None` while none is open.
    pub fn source_description(&self) -> Option<String> {
        lock(&self.receiver.shared.description).clone()
    }

    /// True while the thread runs.
    pub fn is_running(&self) -> bool {
        !*lock(&self.receiver.shared.exited)
    }

    /// Stops the thread and waits for it (up to the stop timeout), so the
    /// source is closed (camera off) when this returns. Idempotent.
    pub fn stop(&mut self) {
        let shared = &self.receiver.shared;
        *lock(&shared.stop) = true;
        shared.stop_cv.notify_all();
        let Some(handle) = self.handle.take() else {
            return;
        };
        let deadline = Instant::now() + self.stop_timeout;
        let mut exited = lock(&shared.exited);
        while !*exited {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            exited = match shared.exited_cv.wait_timeout(exited, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let finished = *exited;
        drop(exited);
        shared.close();
        if finished {
            if handle.join().is_err() {
                tracing::error!("the camera thread panicked");
            }
        } else {
            tracing::warn!(
                timeout = ?self.stop_timeout,
                "the camera thread did not stop in time (blocked in the driver?); \
                 it will close the camera when the call returns"
            );
        }
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run<F>(
    mut factory: F,
    retry: Option<Duration>,
    wake: Option<Box<dyn Fn() + Send>>,
    shared: Arc<Shared>,
) where
    F: FnMut() -> Result<Box<dyn FrameSource>, CameraError>,
{
    let guard = ExitGuard {
        shared: Arc::clone(&shared),
        wake,
    };
    let emit = |event: CameraEvent| {
        shared.push(event);
        if let Some(wake) = &guard.wake {
            wake();
        }
    };
    let set_description = |d: Option<String>| *lock(&shared.description) = d;

    let mut source: Option<Box<dyn FrameSource>> = None;
    let mut failing = false;
    let mut last_error: Option<String> = None;
    while !shared.stop_requested() {
        let Some(src) = source.as_mut() else {
            match factory() {
                Ok(opened) => {
                    let description = opened.describe();
                    tracing::info!(source = %description, "capture started");
                    set_description(Some(description));
                    source = Some(opened);
                    if failing {
                        emit(CameraEvent::Reconnected);
                    }
                    failing = false;
                    last_error = None;
                }
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_deref() != Some(message.as_str()) {
                        tracing::warn!(error = %message, "cannot open the frame source");
                        emit(CameraEvent::Error(message.clone()));
                    }
                    last_error = Some(message);
                    failing = true;
                    match retry {
                        Some(interval) if !shared.wait_for_stop(interval) => continue,
                        _ => break,
                    }
                }
            }
            continue;
        };
        match src.next_frame() {
            Ok(Some(frame)) => emit(CameraEvent::Frame(frame)),
            Ok(None) => {
                emit(CameraEvent::Ended);
                break;
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(error = %message, "frame source failed");
                // Close the device before waiting to reopen it.
                source = None;
                set_description(None);
                emit(CameraEvent::Error(message.clone()));
                last_error = Some(message);
                failing = true;
                match retry {
                    Some(interval) if !shared.wait_for_stop(interval) => {}
                    _ => break,
                }
            }
        }
    }
    // Camera off before anyone is told the thread is done.
    drop(source);
    set_description(None);
    tracing::info!("capture stopped");
    drop(guard);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecert_vision::Frame;

    struct Counter {
        n: u64,
        limit: u64,
    }

    impl FrameSource for Counter {
        fn next_frame(&mut self) -> Result<Option<TimedFrame>, CameraError> {
            if self.n >= self.limit {
                return Ok(None);
            }
            let index = self.n;
            self.n += 1;
            Ok(Some(TimedFrame {
                frame: Frame::from_rgb(1, 1, vec![index as u8, 0, 0]).unwrap(),
                timestamp: Duration::from_millis(index),
                index,
            }))
        }
        fn describe(&self) -> String {
            "counter".to_owned()
        }
    }

    #[test]
    fn newest_frame_wins_and_control_events_survive() {
        let shared = Shared {
            queue: Mutex::new(Queue {
                events: VecDeque::new(),
                frames: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: 1,
            dropped: AtomicU64::new(0),
            captured: AtomicU64::new(0),
            description: Mutex::new(None),
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
        };
        let mut c = Counter { n: 0, limit: 10 };
        shared.push(CameraEvent::Frame(c.next_frame().unwrap().unwrap()));
        shared.push(CameraEvent::Error("x".into()));
        shared.push(CameraEvent::Frame(c.next_frame().unwrap().unwrap()));
        shared.push(CameraEvent::Frame(c.next_frame().unwrap().unwrap()));
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 2);
        let mut q = lock(&shared.queue);
        assert_eq!(Shared::pop(&mut q), Some(CameraEvent::Error("x".into())));
        match Shared::pop(&mut q) {
            Some(CameraEvent::Frame(f)) => assert_eq!(f.index, 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(Shared::pop(&mut q), None);
        assert_eq!(q.frames, 0);
    }

    #[test]
    fn a_recording_ends() {
        let mut t = CaptureThread::spawn(
            || Ok(Box::new(Counter { n: 0, limit: 3 }) as Box<dyn FrameSource>),
            CaptureOptions {
                queue_frames: 2,
                ..CaptureOptions::replay()
            },
        )
        .unwrap();
        let rx = t.receiver();
        let mut frames = 0;
        loop {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Some(CameraEvent::Frame(_)) => frames += 1,
                Some(CameraEvent::Ended) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(frames + rx.dropped_frames(), 3);
        assert_eq!(rx.recv(), None);
        t.stop();
        assert!(!t.is_running());
    }
}
