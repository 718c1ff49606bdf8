//! Voice prompts.
//!
//! Every instruction and result has a clip in `assets/voice/zh-CN/`, generated
//! by `scripts/voice/build.sh` and embedded at build time (see `build.rs`).
//! [`RodioSpeaker`] plays them on a named `audio` thread: a new prompt
//! interrupts the one playing. With no audio device (or without the
//! `audio-rodio` feature) the kiosk runs silent: one warning in the log, never
//! a crash. Tests use [`RecordingSpeaker`] to assert which prompts were asked for.

use std::sync::{Arc, Mutex, MutexGuard};

use lifecert_core::flow::Prompt;

mod clips {
    include!(concat!(env!("OUT_DIR"), "/voice_clips.rs"));
}

/// The embedded Ogg Vorbis clip of `prompt`, if the voice build made one.
pub fn clip_bytes(prompt: Prompt) -> Option<&'static [u8]> {
    let stem = prompt.clip();
    clips::CLIPS
        .iter()
        .find(|(name, _)| *name == stem)
        .map(|(_, bytes)| *bytes)
}

/// The stems of all embedded clips.
pub fn clip_names() -> Vec<&'static str> {
    clips::CLIPS.iter().map(|(name, _)| *name).collect()
}

/// Something that voices prompts. Never blocks the caller.
pub trait Speaker: Send {
    /// Voice `prompt`, interrupting whatever is playing.
    fn say(&mut self, prompt: Prompt);
    /// Stop talking (e.g. when the session is wiped).
    fn hush(&mut self) {}
    /// A one-line status for the staff health panel.
    fn describe(&self) -> String;
}

/// Records the prompts asked for (tests and the headless automation mode).
#[derive(Debug, Clone, Default)]
pub struct RecordingSpeaker {
    said: Arc<Mutex<Vec<Prompt>>>,
}

impl RecordingSpeaker {
    /// A new, empty recorder; clones share the record.
    pub fn new() -> RecordingSpeaker {
        RecordingSpeaker::default()
    }

    /// Everything said so far, in order.
    pub fn said(&self) -> Vec<Prompt> {
        lock(&self.said).clone()
    }

    /// Forget what was said.
    pub fn clear(&self) {
        lock(&self.said).clear();
    }
}

impl Speaker for RecordingSpeaker {
    fn say(&mut self, prompt: Prompt) {
        lock(&self.said).push(prompt);
    }
    fn describe(&self) -> String {
        "recording speaker (test)".into()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Says nothing (no audio device, volume 0, or built without audio).
#[derive(Debug, Clone)]
pub struct SilentSpeaker {
    reason: String,
}

impl SilentSpeaker {
    pub fn new(reason: impl Into<String>) -> SilentSpeaker {
        SilentSpeaker {
            reason: reason.into(),
        }
    }
}

impl Speaker for SilentSpeaker {
    fn say(&mut self, _prompt: Prompt) {}
    fn describe(&self) -> String {
        format!("silent: {}", self.reason)
    }
}

/// Playback speed of the prompts in slow-pacing mode (1.0 = as recorded).
pub const SLOW_SPEED: f32 = 0.85;

/// Opens the configured speaker: rodio on the default output device, or a
/// silent one (with a single warning) when there is none. `slow` plays the
/// prompts a little slower (slow-pacing mode for very elderly users).
pub fn open_speaker(volume: f64, slow: bool) -> Box<dyn Speaker> {
    if volume <= 0.0 {
        return Box::new(SilentSpeaker::new("audio.volume is 0"));
    }
    #[cfg(feature = "audio-rodio")]
    {
        let speed = if slow { SLOW_SPEED } else { 1.0 };
        Box::new(rodio_speaker::RodioSpeaker::spawn(volume as f32, speed))
    }
    #[cfg(not(feature = "audio-rodio"))]
    {
        let _ = slow;
        tracing::warn!("built without the audio-rodio feature: voice prompts are off");
        Box::new(SilentSpeaker::new("built without audio support"))
    }
}

#[cfg(feature = "audio-rodio")]
pub use rodio_speaker::RodioSpeaker;

#[cfg(feature = "audio-rodio")]
mod rodio_speaker {
    use std::io::Cursor;
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::sync::{Arc, Mutex};

    use lifecert_core::flow::Prompt;

    use super::{Speaker, clip_bytes, lock};

    enum Command {
        Say(Prompt),
        Hush,
    }

    /// Plays prompt clips through rodio on a dedicated `audio` thread.
    pub struct RodioSpeaker {
        tx: Option<Sender<Command>>,
        status: Arc<Mutex<String>>,
    }

    impl RodioSpeaker {
        /// Starts the audio thread. Opening the device happens there; if it
        /// fails, the thread logs one warning and drops every later prompt.
        pub fn spawn(volume: f32, speed: f32) -> RodioSpeaker {
            let (tx, rx) = mpsc::channel();
            let status = Arc::new(Mutex::new("starting".to_string()));
            let thread_status = Arc::clone(&status);
            let spawned = std::thread::Builder::new()
                .name("audio".into())
                .spawn(move || run(rx, volume, speed, thread_status));
            match spawned {
                Ok(_) => RodioSpeaker {
                    tx: Some(tx),
                    status,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the audio thread: voice prompts are off");
                    *lock(&status) = format!("silent: no audio thread ({e})");
                    RodioSpeaker { tx: None, status }
                }
            }
        }
    }

    impl Speaker for RodioSpeaker {
        fn say(&mut self, prompt: Prompt) {
            if let Some(tx) = &self.tx {
                let _ = tx.send(Command::Say(prompt));
            }
        }
        fn hush(&mut self) {
            if let Some(tx) = &self.tx {
                let _ = tx.send(Command::Hush);
            }
        }
        fn describe(&self) -> String {
            lock(&self.status).clone()
        }
    }

    fn run(rx: Receiver<Command>, volume: f32, speed: f32, status: Arc<Mutex<String>>) {
        let mut sink = match rodio::DeviceSinkBuilder::open_default_sink() {
            Ok(sink) => sink,
            Err(e) => {
                tracing::warn!(error = %e, "no audio output device: the kiosk runs silent (text only)");
                *lock(&status) = format!("silent: no audio device ({e})");
                // Keep draining so senders never notice.
                while rx.recv().is_ok() {}
                return;
            }
        };
        sink.log_on_drop(false);
        *lock(&status) = "ok: default audio device".to_string();
        let mut current: Option<rodio::Player> = None;
        let mut missing_warned = false;
        while let Ok(command) = rx.recv() {
            if let Some(player) = current.take() {
                player.stop();
            }
            let Command::Say(prompt) = command else {
                continue;
            };
            let Some(bytes) = clip_bytes(prompt) else {
                if !missing_warned {
                    tracing::warn!(clip = %prompt.clip(), "voice clip missing: run scripts/voice/build.sh");
                    missing_warned = true;
                }
                continue;
            };
            let decoder = match rodio::Decoder::new(Cursor::new(bytes)) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(clip = %prompt.clip(), error = %e, "cannot decode voice clip");
                    continue;
                }
            };
            let player = rodio::Player::connect_new(sink.mixer());
            player.set_volume(volume);
            player.set_speed(speed);
            player.append(decoder);
            current = Some(player);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prompt_has_an_embedded_clip_that_decodes() {
        let names = clip_names();
        if names.is_empty() {
            panic!("no voice clips embedded: run scripts/voice/build.sh");
        }
        for prompt in Prompt::all() {
            let bytes = clip_bytes(prompt)
                .unwrap_or_else(|| panic!("no clip for {prompt:?} ({})", prompt.clip()));
            assert!(bytes.starts_with(b"OggS"), "{} is not Ogg", prompt.clip());
            #[cfg(feature = "audio-rodio")]
            {
                use rodio::Source;
                let decoder = rodio::Decoder::new(std::io::Cursor::new(bytes))
                    .unwrap_or_else(|e| panic!("{}: {e}", prompt.clip()));
                let secs = decoder
                    .total_duration()
                    .map(|d| d.as_secs_f32())
                    .unwrap_or_else(|| {
                        let rate = decoder.sample_rate().get() as f32;
                        let channels = decoder.channels().get() as f32;
                        decoder.count() as f32 / rate / channels
                    });
                assert!(secs > 0.3 && secs < 15.0, "{}: {secs} s", prompt.clip());
            }
        }
        // No stale clips for prompts that no longer exist.
        let wanted: Vec<String> = Prompt::all().iter().map(|p| p.clip()).collect();
        for name in names {
            assert!(wanted.iter().any(|w| w == name), "stale clip {name}");
        }
    }

    #[test]
    fn recording_speaker_keeps_the_order() {
        let rec = RecordingSpeaker::new();
        let mut speaker: Box<dyn Speaker> = Box::new(rec.clone());
        speaker.say(Prompt::Welcome);
        speaker.say(Prompt::Consent);
        assert_eq!(rec.said(), vec![Prompt::Welcome, Prompt::Consent]);
        rec.clear();
        assert!(rec.said().is_empty());
    }

    #[cfg(feature = "audio-rodio")]
    #[test]
    fn rodio_speaker_without_a_device_stays_silent_and_never_blocks() {
        // On CI there is no sound card: the thread must report silence, and
        // saying things must not block or panic either way.
        let mut speaker = RodioSpeaker::spawn(0.5, SLOW_SPEED);
        for prompt in Prompt::all() {
            speaker.say(prompt);
        }
        speaker.hush();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while speaker.describe() == "starting" && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let status = speaker.describe();
        assert!(
            status.starts_with("ok:") || status.starts_with("silent:"),
            "{status}"
        );
    }
}
