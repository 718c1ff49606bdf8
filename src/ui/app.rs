//! The eframe app: drains worker events into the flow, runs the flow's
//! effects through the driver, fires timers and draws `flow.screen()`.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use egui::{Align, Layout, RichText};
use lifecert_core::flow::{Event, Flow, Intent, Part, Screen};

use super::screens::{self, Countdown, View};
use super::theme;
use crate::kiosk::driver::Driver;
use crate::kiosk::health::{HealthReport, PartState};
use crate::kiosk::vision_worker::SelfTestMeasures;
use crate::kiosk::{AppEvent, PreviewSlot};

/// Preview texture updates per second at most.
const PREVIEW_FPS: f64 = 15.0;
/// How long a staff notice stays.
const NOTICE_FOR: Duration = Duration::from_secs(10);

/// Settings the screens need from the config.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub mirror: bool,
    pub action_timeout: Duration,
    pub total_timeout: Duration,
    pub slow_pacing: bool,
    pub card_reader: bool,
    /// A short warning in the top bar, e.g. 未注册 (kiosk not registered).
    pub banner: Option<String>,
    pub hide_cursor: bool,
    /// Full screen: size the window to the monitor. Some compositors (cage)
    /// keep a window's requested size, and a window taller than the screen
    /// shows nothing at all.
    pub fit_monitor: bool,
}

/// Hooks for the screenshot script and the start-up benchmark.
#[derive(Default)]
pub struct Hooks {
    /// Intents read from standard input ("automation" mode).
    pub commands: Option<Receiver<Intent>>,
    /// Print `screen <name>` on every screen change.
    pub print_screens: bool,
    /// Close after this long (smoke tests).
    pub quit_after: Option<Duration>,
    /// Print the time to the attract screen and the RSS, then close.
    pub bench_started: Option<Instant>,
}

/// The kiosk app.
pub struct KioskApp {
    flow: Flow,
    driver: Driver,
    events: Receiver<AppEvent>,
    preview: PreviewSlot,
    preview_gen: u64,
    preview_at: f64,
    texture: Option<egui::TextureHandle>,
    health: HealthReport,
    measures: Option<SelfTestMeasures>,
    notice: Option<(String, Duration)>,
    options: AppOptions,
    hooks: Hooks,
    last_screen: &'static str,
    capture_since: Option<Duration>,
    /// The screen-light sequence on screen and when it appeared.
    flash_since: Option<(lifecert_core::flow::FlashShow, Duration)>,
    action_since: Option<(u8, Duration)>,
    started: Instant,
    frames: u64,
    watchdog: crate::watchdog::Watchdog,
}

impl KioskApp {
    /// A new app; runs the flow's start-up effects.
    pub fn new(
        mut flow: Flow,
        mut driver: Driver,
        events: Receiver<AppEvent>,
        preview: PreviewSlot,
        options: AppOptions,
        hooks: Hooks,
    ) -> KioskApp {
        let fx = flow.start();
        driver.run(fx);
        KioskApp {
            flow,
            driver,
            events,
            preview,
            preview_gen: 0,
            preview_at: 0.0,
            texture: None,
            health: HealthReport::default(),
            measures: None,
            notice: None,
            options,
            hooks,
            last_screen: "",
            capture_since: None,
            flash_since: None,
            action_since: None,
            started: Instant::now(),
            frames: 0,
            watchdog: crate::watchdog::Watchdog::from_env(),
        }
    }

    /// The flow (tests read its state).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The current screen.
    pub fn screen(&self) -> Screen {
        self.flow.screen()
    }

    /// The latest health report.
    pub fn health(&self) -> &HealthReport {
        &self.health
    }

    fn handle(&mut self, event: Event) {
        let fx = self.flow.handle(event);
        self.driver.run(fx);
    }

    /// Drain worker events, fire timers, run hooks.
    fn pump(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                AppEvent::Flow(e) => self.handle(e),
                AppEvent::Health(report) => self.apply_health(report),
                AppEvent::Measures(m) => self.measures = Some(m),
                AppEvent::Notice(text) => {
                    self.notice = Some((text, self.driver.clock().now() + NOTICE_FOR));
                }
            }
        }
        for id in self.driver.due_timers() {
            self.handle(Event::Timer(id));
        }
        if let Some(rx) = &self.hooks.commands {
            let commands: Vec<Intent> = rx.try_iter().collect();
            for intent in commands {
                self.handle(Event::Intent(intent));
            }
        }
        if self
            .notice
            .as_ref()
            .is_some_and(|(_, until)| *until <= self.driver.clock().now())
        {
            self.notice = None;
        }
    }

    /// Turns health changes into the flow's fault / recovery events.
    fn apply_health(&mut self, report: HealthReport) {
        let faults = self.flow.faults();
        let camera_in_use = self.flow.camera_on();
        for (part, state) in &report.parts {
            if *part == Part::Camera && camera_in_use {
                continue; // the vision worker reports camera faults while it runs
            }
            let faulty = matches!(state, PartState::Faulty(_));
            let known = faults.contains(part);
            if faulty && !known {
                tracing::warn!(part = ?part, "part failed");
                self.handle(Event::Fault(*part));
            } else if !faulty && known {
                tracing::info!(part = ?part, "part recovered");
                self.handle(Event::Recovered(*part));
            }
        }
        self.health = report;
    }

    fn update_preview(&mut self, ctx: &egui::Context, now: f64) {
        if !self.flow.camera_on() {
            if self.texture.take().is_some() {
                self.preview_gen = 0;
            }
            return;
        }
        if now - self.preview_at < 1.0 / PREVIEW_FPS {
            return;
        }
        let Some((generation, frame)) = self.preview.newer_than(self.preview_gen) else {
            return;
        };
        self.preview_gen = generation;
        self.preview_at = now;
        let Some(frame) = frame else {
            self.texture = None;
            return;
        };
        let size = [frame.width as usize, frame.height as usize];
        let image = egui::ColorImage::from_rgb(size, &frame.rgb);
        match &mut self.texture {
            // One persistent texture, updated in place.
            Some(texture) => texture.set(image, egui::TextureOptions::LINEAR),
            None => {
                self.texture =
                    Some(ctx.load_texture("camera-preview", image, egui::TextureOptions::LINEAR));
            }
        }
    }

    /// The screen-light challenge: while the capture screen carries a tint
    /// sequence, the whole screen shows the current tint (the camera sees
    /// its light on the face; `lifecert_core::liveness::flash`). Returns
    /// whether a tint is showing.
    fn paint_flash(&mut self, ctx: &egui::Context) -> bool {
        let now = self.driver.clock().now();
        let Screen::Capture {
            flash: Some(show), ..
        } = self.flow.screen()
        else {
            self.flash_since = None;
            return false;
        };
        let since = match self.flash_since {
            Some((shown, at)) if shown == show => at,
            _ => {
                self.flash_since = Some((show, now));
                now
            }
        };
        let Some([r, g, b]) = show.tint_at(now.saturating_sub(since)) else {
            return false;
        };
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("screen-light"),
        ));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, egui::Color32::from_rgb(r, g, b));
        // Dark text on the light tints, white on the dark ones.
        let luma = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
        let ink = if luma > 110.0 {
            egui::Color32::BLACK
        } else {
            egui::Color32::WHITE
        };
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "请看屏幕，保持不动",
            egui::FontId::proportional(theme::HUGE),
            ink,
        );
        true
    }

    fn countdown(&mut self, screen: &Screen) -> Countdown {
        let now = self.driver.clock().now();
        let Screen::Capture { action, .. } = screen else {
            self.capture_since = None;
            self.action_since = None;
            return Countdown::default();
        };
        let since = *self.capture_since.get_or_insert(now);
        let total = self.options.total_timeout.as_secs_f32();
        let total_left = (total - (now - since).as_secs_f32()).max(0.0);
        let Some((_, index, _)) = action else {
            return Countdown {
                action_fraction: 0.0,
                action_left: 0.0,
                total_left,
            };
        };
        let started = match self.action_since {
            Some((i, at)) if i == *index => at,
            _ => {
                self.action_since = Some((*index, now));
                now
            }
        };
        let per = self.options.action_timeout.as_secs_f32().max(0.1);
        let left = (per - (now - started).as_secs_f32()).max(0.0);
        Countdown {
            action_fraction: left / per,
            action_left: left,
            total_left,
        }
    }

    fn hooks_after_frame(&mut self, ctx: &egui::Context, name: &'static str) {
        if name != self.last_screen {
            self.last_screen = name;
            tracing::info!(screen = name, "screen");
            if self.hooks.print_screens {
                println!("screen {name}");
            }
        }
        if let Some(started) = self.hooks.bench_started
            && name == "attract"
            && self.frames >= 2
        {
            let elapsed = started.elapsed();
            let (rss, peak) = crate::ui::memory_kib();
            println!(
                "startup: attract screen after {:.0} ms; RSS {:.1} MB (peak {:.1} MB)",
                elapsed.as_secs_f64() * 1000.0,
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
            self.hooks.bench_started = None;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if let Some(after) = self.hooks.quit_after
            && self.started.elapsed() >= after
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

/// Full screen: asks for the monitor's size while the window has another
/// size (the first frames of the kiosk). Logs the sizes once, for the
/// operator (a kiosk drawn in a corner of its screen is a support call).
fn fit_to_monitor(ctx: &egui::Context, frame: u64) {
    let (monitor, inner) = ctx.input(|i| {
        let v = i.viewport();
        (v.monitor_size, v.inner_rect.map(|r| r.size()))
    });
    if frame == 2 {
        let content = ctx.content_rect().size();
        let ppp = ctx.pixels_per_point();
        tracing::info!(?monitor, ?inner, ?content, ppp, "kiosk window size");
    }
    if let (Some(monitor), Some(inner)) = (monitor, inner)
        && monitor.x > 0.0
        && monitor.y > 0.0
        && (monitor - inner).length() > 1.0
    {
        ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(monitor));
    }
}

impl eframe::App for KioskApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.frames += 1;
        // A hung UI stops these pings and systemd restarts the kiosk.
        self.watchdog.tick(Instant::now());
        self.pump();
        let now = ctx.input(|i| i.time);
        self.update_preview(&ctx, now);
        if self.options.hide_cursor {
            ctx.set_cursor_icon(egui::CursorIcon::None);
        }
        if self.options.fit_monitor && self.frames <= 30 {
            fit_to_monitor(&ctx, self.frames);
        }
        let screen = self.flow.screen();
        let countdown = self.countdown(&screen);
        let caption = self.driver.last_prompt().map(|p| p.text_zh());
        let notice = self.notice.as_ref().map(|(t, _)| t.clone());
        let mut intent = None;

        egui::Panel::top("top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("社保待遇资格认证")
                        .size(theme::BODY)
                        .strong()
                        .color(theme::PRIMARY),
                );
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if screens::has_home_button(&screen)
                        && super::widgets::big_button(ui, "返回首页", false, 220.0)
                    {
                        intent = Some(Intent::Home);
                    }
                    if let Some(banner) = &self.options.banner {
                        ui.label(
                            RichText::new(banner)
                                .size(theme::SMALL)
                                .strong()
                                .color(theme::WARN),
                        );
                    }
                });
            });
        });
        egui::Panel::bottom("caption").show(ui, |ui| {
            if let Some(text) = caption {
                ui.label(
                    RichText::new(format!("语音提示：{text}"))
                        .size(theme::SMALL)
                        .color(theme::MUTED),
                );
            }
        });
        let margin =
            egui::Frame::central_panel(ui.style()).inner_margin(egui::Margin::symmetric(40, 16));
        egui::CentralPanel::default().frame(margin).show(ui, |ui| {
            let view = View {
                time: now,
                preview: self.texture.as_ref(),
                mirror: self.options.mirror,
                countdown,
                health: &self.health,
                measures: self.measures.as_ref(),
                card_reader: self.options.card_reader,
                notice: notice.as_deref(),
                slow_pacing: self.options.slow_pacing,
            };
            if let Some(i) = screens::draw(ui, &screen, &view) {
                intent = Some(i);
            }
        });
        if let Some(i) = intent {
            self.handle(Event::Intent(i));
        }
        let flashing = self.paint_flash(&ctx);
        let name = screens::name(&self.flow.screen());
        self.hooks_after_frame(&ctx, name);

        // Keep animating during capture; otherwise wake for the next timer.
        let animate = matches!(
            self.flow.screen(),
            Screen::Capture { .. }
                | Screen::StaffSelfTest
                | Screen::StaffEnrolCapture { .. }
                | Screen::Checking
                | Screen::Processing
                | Screen::HistoryLoading
        );
        let mut wait = if flashing {
            // Tint changes land within one display refresh.
            Duration::from_millis(16)
        } else if animate {
            Duration::from_millis(66)
        } else {
            Duration::from_secs(1)
        };
        if let Some(next) = self.driver.next_deadline() {
            wait = wait.min(next);
        }
        if let Some(ping) = self.watchdog.interval() {
            wait = wait.min(ping / 2);
        }
        ctx.request_repaint_after(wait);
    }
}
