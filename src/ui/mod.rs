//! The full-screen kiosk window (eframe, glow renderer).

pub mod app;
pub mod fonts;
pub mod screens;
pub mod theme;
pub mod widgets;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lifecert_core::flow::{Flow, Intent};

pub use app::{AppOptions, Hooks, KioskApp};

use crate::config::{Config, SerialPort};
use crate::kiosk::central::CentralSystem;
use crate::kiosk::devices;
use crate::kiosk::driver::{Driver, Ports};
use crate::kiosk::health::{self, SystemProbe};
use crate::kiosk::health::{DeviceState, PartState, StatusSlot};
use crate::kiosk::templates::{DirTemplates, MemoryTemplates, TemplateStore};
use crate::kiosk::vision_worker::{VisionSetup, VisionWorker};
use crate::kiosk::{
    Clock, EventSink, EvidenceSlot, PreviewSlot, ReceiptPrinter, SystemClock, Waker,
};
use crate::peripherals::escpos::ReceiptLayout;
use crate::peripherals::printer::SerialPrinter;
use crate::store::Store;
use crate::sync::central::{
    HttpCentral, HttpUploader, RemoteTemplates, TemplateUploader, Unregistered,
};
use crate::sync::seal::Sealer;
use crate::sync::worker::SyncWorker;
use crate::sync::{Client, ClientOptions, SyncStatus};

/// How often the health thread checks the parts.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(3);

/// Command-line switches of the kiosk run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A window instead of full screen (development).
    pub windowed: bool,
    /// Read intents from standard input and print screen changes (screenshots).
    pub automation: bool,
    /// Close after this long.
    pub quit_after: Option<Duration>,
    /// Print the start-up time and RSS, then exit.
    pub bench_started: Option<Instant>,
}

/// Current and peak resident memory in KiB (Linux; zeros elsewhere).
pub fn memory_kib() -> (u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Parses one automation line into intents (`type 1101…` gives one key each).
pub fn parse_command(line: &str) -> Vec<Intent> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else {
        return Vec::new();
    };
    let arg = words.next().unwrap_or("");
    let one = match verb {
        "type" => return arg.chars().map(Intent::Key).collect(),
        "key" => arg.chars().next().map(Intent::Key),
        "start" => Some(Intent::StartCertification),
        "history" => Some(Intent::QueryHistory),
        "staff" => Some(Intent::Staff),
        "accept" => Some(Intent::Accept),
        "decline" => Some(Intent::Decline),
        "myself" => Some(Intent::Myself),
        "other" => Some(Intent::ForSomeoneElse),
        "backspace" => Some(Intent::Backspace),
        "clear" => Some(Intent::Clear),
        "submit" => Some(Intent::Submit),
        "ready" => Some(Intent::Ready),
        "retry" => Some(Intent::Retry),
        "retry_service" => Some(Intent::RetryService),
        "offline" => Some(Intent::ContinueOffline),
        "appeal" => Some(Intent::Appeal),
        "print" => Some(Intent::Print),
        "back" => Some(Intent::Back),
        "home" => Some(Intent::Home),
        "sync" => Some(Intent::SyncNow),
        "self_test" => Some(Intent::SelfTest),
        "enrol" => Some(Intent::Enrol),
        "exit_staff" => Some(Intent::ExitStaff),
        _ => None,
    };
    one.into_iter().collect()
}

fn automation(waker: Waker) -> Result<Receiver<Intent>, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("automation".into())
        .spawn(move || {
            use std::io::BufRead;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let intents = parse_command(&line);
                if intents.is_empty() && !line.trim().is_empty() {
                    eprintln!("automation: unknown command {line:?}");
                }
                for intent in intents {
                    if tx.send(intent).is_err() {
                        return;
                    }
                }
                waker.wake();
            }
        })
        .map_err(|e| format!("cannot start the automation thread: {e}"))?;
    Ok(rx)
}

/// Everything the window needs, built from the config.
pub struct Built {
    pub app: KioskApp,
    pub waker: Waker,
}

/// Builds the ports, the driver and the app from the config.
/// `font` is the CJK font found for the window (receipt raster lines use it too).
pub fn build(config: &Config, run: &RunOptions, font: &fonts::CjkFont) -> anyhow::Result<Built> {
    let waker = Waker::default();
    let (sink, events) = EventSink::channel(waker.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
    let templates: Arc<dyn TemplateStore> = match DirTemplates::open(
        &config.storage.data_dir.join("templates"),
    ) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::error!(error = %e, "face templates cannot be stored on disk; enrolments last until restart");
            Arc::new(MemoryTemplates::default())
        }
    };
    // The registered server (kiosk.toml's server.url wins over server.json).
    let server = crate::sync::register::resolve(config)
        .with_context(|| "cannot use this kiosk's registration")?;
    let sync_status = SyncStatus::shared();
    let mut vision_templates = Arc::clone(&templates);
    let mut uploader: Option<Arc<dyn TemplateUploader>> = None;
    let (central, transport, sealer, device_id): (Arc<dyn CentralSystem>, _, _, _) = match server {
        None => {
            tracing::warn!(
                "this kiosk is not registered with a server: it cannot certify until staff run \
                 `lifecert register --server URL --token TOKEN`"
            );
            (
                Arc::new(Unregistered),
                None,
                None,
                config.device.id.clone().unwrap_or_else(|| "kiosk".into()),
            )
        }
        Some(server) => {
            let client = Client::new(&ClientOptions {
                base_url: server.url.clone(),
                ca_path: config.server.ca_path.clone(),
                timeout: config.server.request_timeout,
            })
            .map_err(|e| anyhow::anyhow!(crate::sync::chain(&e)))?
            .signed(&server.device_id, Arc::clone(&server.key));
            let sealer = Sealer {
                device_id: server.device_id.clone(),
                key: server.sealing_key.clone(),
            };
            let http = Arc::new(HttpCentral::new(client.clone()));
            vision_templates = Arc::new(RemoteTemplates {
                local: Arc::clone(&templates),
                central: Arc::clone(&http),
                clock: Arc::clone(&clock),
            });
            if let Some(path) = &config.server.operator_credential_path {
                uploader = Some(Arc::new(HttpUploader {
                    client: client.clone(),
                    sealer: sealer.clone(),
                    credential_path: path.clone(),
                }));
            }
            tracing::info!(server = %server.url, device = %server.device_id, "registered server");
            (http, Some(client), Some(sealer), server.device_id)
        }
    };
    let models = crate::analysis::load_models(config);
    if let Err(e) = &models {
        tracing::error!(error = %e, "face models unusable: the kiosk stays out of service");
    }
    let models_state = models
        .as_ref()
        .map(|_| "已加载，校验通过".to_string())
        .map_err(Clone::clone);
    let preview = PreviewSlot::default();
    let evidence = EvidenceSlot::default();
    let capture = VisionWorker::spawn(VisionSetup {
        models,
        camera: config.camera.clone(),
        params: crate::verify::liveness_params(config),
        policy: crate::verify::match_policy(config),
        templates: vision_templates,
        sink: sink.clone(),
        preview: preview.clone(),
        clock: Arc::clone(&clock),
        evidence: evidence.clone(),
        uploader,
    })
    .map_err(anyhow::Error::msg)?;
    let db = config.storage.db_path();
    let opened = Store::open(&db)
        .with_context(|| format!("cannot open the local store {}", db.display()))?;
    if let Some(q) = &opened.quarantined {
        tracing::error!(moved_to = %q.display(), "the local database was corrupt: it was set aside and a new one created");
    }
    let sync = match transport {
        Some(client) => {
            let sync_store = Store::open(&db)
                .map(|o| o.store)
                .with_context(|| format!("cannot open the local store {}", db.display()))?;
            Some(SyncWorker::new(
                sync_store,
                Box::new(client),
                Arc::clone(&sync_status),
            ))
        }
        None => None,
    };
    let printer_status = StatusSlot::new(PartState::Ok("正在检查…".into()));
    let printer: Option<Box<dyn ReceiptPrinter>> =
        if config.peripherals.printer.port == SerialPort::Disabled {
            None
        } else {
            let printer = SerialPrinter::new(
                config.peripherals.printer.clone(),
                ReceiptLayout {
                    site: config.device.site.clone(),
                    device_id: device_id.clone(),
                    qr_url: config.device.receipt_url.clone(),
                    columns: 32,
                },
                None,
            );
            // Rare characters (outside the printer's GBK font) print as a
            // raster line in the kiosk's CJK font, loaded when first needed.
            Some(Box::new(
                printer.with_lazy_font(font.path.clone(), font.index),
            ))
        };
    let printer_state: Option<DeviceState> = printer.as_ref().map(|_| {
        let slot = printer_status.clone();
        Box::new(move || slot.get()) as DeviceState
    });
    let card_reader_state = devices::start_card_reader(config, &sink);
    let ports = Ports {
        speaker: crate::audio::open_speaker(config.audio.volume, config.liveness.slow_pacing),
        capture: Box::new(capture),
        central: Arc::clone(&central),
        printer,
        clock,
        store: opened.store,
        sync,
        heartbeat: config.server.heartbeat,
        sealer,
        evidence,
        pin: config.session.staff_pin_hash.clone(),
        device_id,
        printer_status,
    };
    let driver = Driver::start(ports, sink.clone()).map_err(anyhow::Error::msg)?;
    let (kick_tx, kick_rx) = mpsc::channel();
    std::mem::forget(kick_tx); // the health thread polls on its interval
    health::spawn(
        Box::new(SystemProbe::new(
            config,
            models_state,
            Arc::clone(&central),
            templates,
            sync_status,
            (card_reader_state, printer_state),
        )),
        HEALTH_INTERVAL,
        driver.camera_in_use(),
        kick_rx,
        sink,
    )
    .map_err(anyhow::Error::msg)?;
    let hooks = Hooks {
        commands: if run.automation {
            Some(automation(waker.clone()).map_err(anyhow::Error::msg)?)
        } else {
            None
        },
        print_screens: run.automation,
        quit_after: run.quit_after,
        bench_started: run.bench_started,
    };
    let options = AppOptions {
        mirror: config.camera.mirror,
        action_timeout: config.liveness.effective_action_timeout(),
        total_timeout: config.liveness.effective_total_timeout(),
        slow_pacing: config.liveness.slow_pacing,
        card_reader: config.peripherals.card_reader.port != SerialPort::Disabled,
        banner: (!central.registered()).then(|| "未注册".to_string()),
        hide_cursor: config.display.hide_cursor,
        fit_monitor: config.display.fullscreen && !run.windowed,
    };
    let flow = Flow::new(config.flow_config());
    let app = KioskApp::new(flow, driver, events, preview, options, hooks);
    Ok(Built { app, waker })
}

/// Runs the kiosk window until it is closed.
pub fn run(config: &Config, run: RunOptions) -> anyhow::Result<()> {
    // Fail early, before any window, when there is no Chinese font.
    let font = fonts::find(config.display.font_path.as_deref())?;
    tracing::info!(font = %font.path.display(), face = font.index, family = %font.family, "CJK font");
    let Built { app, waker } = build(config, &run, &font)?;
    let fullscreen = config.display.fullscreen && !run.windowed;
    let mut viewport = egui::ViewportBuilder::default().with_title("社保待遇资格认证 lifecert");
    viewport = if fullscreen {
        // No requested size: the window takes the screen's (see fit_monitor).
        viewport
            .with_fullscreen(true)
            .with_maximized(true)
            .with_decorations(false)
    } else {
        viewport
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([1024.0, 700.0])
    };
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "lifecert",
        options,
        Box::new(move |cc| {
            fonts::install(&cc.egui_ctx, &font);
            theme::apply(&cc.egui_ctx);
            waker.set(cc.egui_ctx.clone());
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the kiosk window: {e}. On Linux the kiosk needs a display \
             (DISPLAY or WAYLAND_DISPLAY) and OpenGL (libgl1-mesa-dri)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automation_commands_parse() {
        assert_eq!(parse_command("start"), vec![Intent::StartCertification]);
        assert_eq!(
            parse_command("type 12X"),
            vec![Intent::Key('1'), Intent::Key('2'), Intent::Key('X')]
        );
        assert!(parse_command("fly").is_empty());
        assert!(parse_command("").is_empty());
    }
}
