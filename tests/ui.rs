//! The real kiosk app (flow, driver, worker threads, screens) driven headless
//! through egui_kittest and AccessKit, with fake ports for the camera, the
//! speaker, the printer and device health, a fake central system (one test
//! person per outcome), and a real SQLite store in a temporary directory
//! (results sealed to a test server key).
//!
//! Assertions are on what is on screen (accessible labels) and on the voice
//! prompts requested (a recording speaker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lifecert::audio::RecordingSpeaker;
use lifecert::config::{PinHash, SerialDeviceConfig, SerialPort};
use lifecert::kiosk::central::CentralSystem;
use lifecert::kiosk::driver::{Driver, Ports};
use lifecert::kiosk::health::{self, FakeProbe, PartState};
use lifecert::kiosk::templates::MemoryTemplates;
use lifecert::kiosk::templates::TemplateStore;
use lifecert::kiosk::vision_worker::FakeCapture;
use lifecert::kiosk::{
    EventSink, EvidenceSlot, FakeCardReader, ManualClock, PreviewSlot, ReceiptPrinter,
    RecordingPrinter, Waker,
};
use lifecert::store::Store;
use lifecert::sync::seal::Sealer;
use lifecert::ui::{AppOptions, Hooks, KioskApp, fonts, theme};
use lifecert_core::action::Action;
use lifecert_core::flow::{
    CaptureFailure, CaptureOutcome, Flow, FlowConfig, HistoryEntry, Part, Prompt, ServiceFailure,
};
use lifecert_core::id::IdNumber;
use lifecert_protocol::seal::OpeningKey;
use lifecert_protocol::{BenefitType, CertResult, Method, PersonStatus};
use time::Date;
use time::macros::date;

use common::sim::Sim;

const DUE: &str = "110105195203150013";
const OPERATOR: &str = "110105196808080112";
const NOT_IN_SCOPE: &str = "110105195001010039";
const SUSPENDED: &str = "110105194912310054";
const ALREADY: &str = "110105195709180076";
const NO_TEMPLATE: &str = "110105196011200084";
const UNREACHABLE: &str = "110105195505050093";
const PIN: &str = "246810";

/// A fake central system: one test person per outcome (test data).
struct FakeCentral {
    templates: Arc<MemoryTemplates>,
}

impl CentralSystem for FakeCentral {
    fn status(&self, person: &IdNumber, today: Date) -> Result<PersonStatus, ServiceFailure> {
        Ok(match person.expose() {
            DUE if self.templates.has(person) => PersonStatus::Due {
                benefit: BenefitType::Pension,
                deadline: today,
                region: "110105".into(),
                masked_name: "王*明".into(),
            },
            DUE | NO_TEMPLATE => PersonStatus::NoTemplate,
            SUSPENDED => PersonStatus::Suspended {
                since: date!(2026 - 09 - 01),
            },
            ALREADY => PersonStatus::AlreadyCertified {
                on: date!(2026 - 10 - 12),
                next_deadline: date!(2027 - 10 - 31),
            },
            UNREACHABLE => return Err(ServiceFailure::Unreachable),
            _ => PersonStatus::NotInScope,
        })
    }
    fn history(&self, person: &IdNumber, _: Date) -> Result<Vec<HistoryEntry>, ServiceFailure> {
        if person.expose() == UNREACHABLE {
            return Err(ServiceFailure::Unreachable);
        }
        Ok(vec![HistoryEntry {
            on: date!(2025 - 10 - 20),
            result: CertResult::Passed,
            method: Method::Kiosk,
        }])
    }
    fn reachable(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "fake central (test)".into()
    }
}

struct Kit {
    h: Harness<'static, KioskApp>,
    speaker: RecordingSpeaker,
    capture: FakeCapture,
    probe: FakeProbe,
    clock: ManualClock,
    printer: RecordingPrinter,
    db: std::path::PathBuf,
    card: FakeCardReader,
    _reader: Option<lifecert::peripherals::reader::ReaderHandle>,
    _dir: tempfile::TempDir,
}

/// Real peripherals instead of the fakes.
#[derive(Default)]
struct Devices {
    /// A card reader port (the real adapter thread reads it).
    reader: Option<SerialDeviceConfig>,
    /// A real printer instead of the recording one.
    printer: Option<Box<dyn ReceiptPrinter>>,
}

fn kit() -> Kit {
    kit_with(Devices::default())
}

fn kit_with(devices: Devices) -> Kit {
    let font = fonts::find(None).unwrap_or_else(|e| panic!("{e}"));
    let waker = Waker::default();
    let (sink, events) = EventSink::channel(waker.clone());
    let clock = ManualClock::new(time::macros::datetime!(2026-11-22 10:00 +8));
    let templates = Arc::new(MemoryTemplates::default());
    templates.put_embedding_for_test(&IdNumber::parse(DUE).unwrap());
    let central = Arc::new(FakeCentral { templates });
    let speaker = RecordingSpeaker::new();
    let capture = FakeCapture::default();
    capture.connect(sink.clone());
    let printer = RecordingPrinter::default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecert.db");
    let ports = Ports {
        speaker: Box::new(speaker.clone()),
        capture: Box::new(capture.clone()),
        central,
        printer: Some(devices.printer.unwrap_or_else(|| Box::new(printer.clone()))),
        clock: Arc::new(clock.clone()),
        store: Store::open(&db).unwrap().store,
        sync: None,
        heartbeat: Duration::from_secs(300),
        sealer: Some(Sealer {
            device_id: "kiosk-test".into(),
            key: OpeningKey::generate().public(),
        }),
        evidence: EvidenceSlot::default(),
        pin: PinHash::parse(&lifecert::config::hash_pin(PIN).unwrap()).unwrap(),
        device_id: "kiosk-test".into(),
        printer_status: Default::default(),
    };
    let driver = Driver::start(ports, sink.clone()).unwrap();
    let card = FakeCardReader::new(sink.clone());
    let reader = devices.reader.map(|cfg| {
        let sink = sink.clone();
        lifecert::peripherals::reader::spawn(
            cfg,
            Box::new(move |event| {
                if let Some(event) = lifecert::kiosk::devices::card_event(event) {
                    sink.flow(event);
                }
            }),
        )
        .unwrap()
    });
    let probe = FakeProbe::healthy();
    let (kick, kick_rx) = mpsc::channel();
    std::mem::forget(kick);
    health::spawn(
        Box::new(probe.clone()),
        Duration::from_millis(20),
        driver.camera_in_use(),
        kick_rx,
        sink,
    )
    .unwrap();
    let flow = Flow::new(FlowConfig {
        printer: true,
        staff_pin_max_failures: 3,
        ..FlowConfig::default()
    });
    let options = AppOptions {
        mirror: true,
        action_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(20),
        slow_pacing: false,
        card_reader: false,
        banner: None,
        hide_cursor: false,
        fit_monitor: false,
    };
    let app = KioskApp::new(
        flow,
        driver,
        events,
        PreviewSlot::default(),
        options,
        Hooks::default(),
    );
    let h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| {
            fonts::install(&cc.egui_ctx, &font);
            theme::apply(&cc.egui_ctx);
            waker.set(cc.egui_ctx.clone());
            app
        });
    let mut k = Kit {
        h,
        speaker,
        capture,
        probe,
        clock,
        printer,
        db,
        card,
        _reader: reader,
        _dir: dir,
    };
    k.wait_for("开始认证");
    k
}

impl Kit {
    fn screen(&self) -> String {
        format!("{:?}", self.h.state().screen())
    }

    fn has(&self, label: &str) -> bool {
        self.h.query_all_by_label_contains(label).next().is_some()
    }

    /// Steps the app (workers answer on their threads) until `label` shows.
    fn wait_for(&mut self, label: &str) {
        for _ in 0..400 {
            self.h.step();
            if self.has(label) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("{label:?} never appeared; screen: {}", self.screen());
    }

    fn click(&mut self, label: &str) {
        self.wait_for(label);
        let button = self
            .h
            .get_all_by_role_and_label(Role::Button, label)
            .next()
            .unwrap_or_else(|| panic!("no button {label:?}; screen: {}", self.screen()));
        button.click();
        self.h.step();
        self.h.step();
    }

    fn type_id(&mut self, id: &str) {
        for c in id.chars() {
            self.h
                .get_by_role_and_label(Role::Button, &c.to_string())
                .click();
            self.h.step();
        }
        self.h.step();
    }

    fn said(&self) -> Vec<Prompt> {
        self.speaker.said()
    }

    fn assert_said_in_order(&self, expected: &[Prompt]) {
        let said = self.said();
        let mut rest = said.iter();
        for p in expected {
            assert!(
                rest.any(|s| s == p),
                "prompt {p:?} missing or out of order in {said:?}"
            );
        }
    }

    /// 开始认证 → 同意 → 本人 → ID → 确认.
    fn start_self(&mut self, id: &str) {
        self.click("开始认证");
        self.click("同意");
        self.click("本人");
        self.type_id(id);
        self.click("确认");
    }

    fn no_full_id_on_screen(&self, ids: &[&str]) {
        for id in ids {
            assert!(!self.has(id), "a full ID number is on screen");
        }
        assert!(!ids.iter().any(|id| self.screen().contains(id)));
    }
}

#[test]
fn success_for_oneself_with_receipt_and_voice() {
    let mut k = kit();
    k.start_self(DUE);
    k.wait_for("拍摄前请做好准备");
    k.click("我准备好了");
    k.wait_for("认证成功");
    k.wait_for("下次认证时间：2027年11月30日前");
    k.wait_for("回执号");
    k.no_full_id_on_screen(&[DUE]);
    assert!(k.has("王*明"));
    k.assert_said_in_order(&[
        Prompt::Welcome,
        Prompt::Consent,
        Prompt::ChooseWho,
        Prompt::EnterPensionerId,
        Prompt::Checking,
        Prompt::Guidance,
        Prompt::Do(Action::Blink),
        Prompt::Do(Action::TurnLeft),
        Prompt::Processing,
        Prompt::Success,
    ]);
    // The camera was on for the capture only.
    assert_eq!(k.capture.camera_switches(), vec![true, false]);
    assert!(!k.capture.camera_is_on());
    k.click("打印凭条");
    for _ in 0..200 {
        if !k.printer.printed.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let printed = k.printer.printed.lock().unwrap().clone();
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0].masked_id, "1101**********0013");
    assert!(!format!("{printed:?}").contains(DUE));
    k.click("完成");
    k.wait_for("开始认证");
    assert!(k.said().contains(&Prompt::Goodbye));
    assert!(!k.h.state().flow().holds_identity());
    // The record was stored durably (sealed; no sync worker in this test).
    let store = Store::open(&k.db).unwrap().store;
    let status = store.queue_status(time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(status.pending + status.acked, 1, "{status}");
}

#[test]
fn success_by_proxy_asks_for_the_operator_first() {
    let mut k = kit();
    k.click("开始认证");
    k.click("同意");
    k.click("为他人办理");
    k.wait_for("代办人");
    k.type_id(OPERATOR);
    k.click("确认");
    k.wait_for("请输入被认证人的身份证号码");
    k.type_id(DUE);
    k.click("确认");
    k.click("我准备好了");
    k.wait_for("认证成功");
    k.no_full_id_on_screen(&[DUE, OPERATOR]);
    k.assert_said_in_order(&[
        Prompt::ChooseWho,
        Prompt::EnterOperatorId,
        Prompt::EnterPensionerId,
        Prompt::Success,
    ]);
}

#[test]
fn three_face_mismatches_then_appeal() {
    let mut k = kit();
    for _ in 0..3 {
        k.capture
            .queue(CaptureOutcome::Failed(CaptureFailure::Mismatch));
    }
    k.start_self(DUE);
    k.click("我准备好了");
    k.wait_for("人脸比对未通过");
    k.wait_for("您还可以再试 2 次");
    k.click("再试一次");
    k.click("我准备好了");
    k.wait_for("您还可以再试 1 次");
    k.click("再试一次");
    k.click("我准备好了");
    k.wait_for("三次未通过");
    assert!(
        k.h.query_all_by_role_and_label(Role::Button, "再试一次")
            .next()
            .is_none()
    );
    k.click("申请人工审核");
    k.wait_for("已提交人工审核");
    k.wait_for("回执号");
    assert_eq!(k.capture.captures_started(), 3);
    let mismatches = k
        .said()
        .iter()
        .filter(|p| **p == Prompt::FaceMismatch)
        .count();
    assert_eq!(mismatches, 3);
    k.assert_said_in_order(&[Prompt::FaceMismatch, Prompt::AppealSubmitted]);
}

#[rstest::rstest]
#[case::not_in_scope(NOT_IN_SCOPE, "您不属于本次认证范围", Prompt::NotInScope)]
#[case::suspended(SUSPENDED, "暂停发放", Prompt::Suspended)]
#[case::already_certified(ALREADY, "您已于2026年10月12日完成认证", Prompt::AlreadyCertified)]
#[case::no_template(NO_TEMPLATE, "未建模", Prompt::NoTemplate)]
fn ineligible_persons_are_told_why_and_what_to_do(
    #[case] id: &str,
    #[case] label: &str,
    #[case] prompt: Prompt,
) {
    let mut k = kit();
    k.start_self(id);
    k.wait_for(label);
    assert!(k.said().contains(&prompt), "{:?}", k.said());
    assert!(k.has("返回首页"));
    assert_eq!(k.capture.captures_started(), 0);
    assert!(
        k.capture.camera_switches().is_empty(),
        "no camera for ineligible persons"
    );
    k.no_full_id_on_screen(&[id]);
    if id == ALREADY {
        k.wait_for("下次认证时间：2027年10月31日前");
    }
    if id == SUSPENDED {
        k.wait_for("请携带身份证到社保窗口办理认证和恢复发放");
    }
}

#[test]
fn consent_declined_offers_the_alternatives_without_the_camera() {
    let mut k = kit();
    k.click("开始认证");
    k.click("不同意");
    k.wait_for("您也可以这样认证");
    k.wait_for("上门认证");
    assert!(k.said().contains(&Prompt::Alternatives));
    assert!(k.capture.camera_switches().is_empty());
    k.click("返回首页");
    k.wait_for("开始认证");
}

#[test]
fn sixty_seconds_without_input_wipes_the_session() {
    let mut k = kit();
    k.click("开始认证");
    k.click("同意");
    k.click("本人");
    k.type_id("11010519");
    assert!(k.h.state().flow().holds_identity());
    k.clock.advance(Duration::from_secs(59));
    k.h.step();
    assert!(k.has("已输入 8 / 18 位"));
    k.clock.advance(Duration::from_secs(2));
    k.wait_for("开始认证");
    assert!(!k.h.state().flow().holds_identity());
    assert!(!k.has("1101"));
}

#[test]
fn camera_unplugged_goes_out_of_service_and_recovers_by_itself() {
    let mut k = kit();
    k.probe
        .set(Part::Camera, PartState::Faulty("未连接".into()));
    k.wait_for("本机暂停服务");
    k.wait_for("摄像头故障");
    k.wait_for("请检查摄像头连线");
    assert!(!k.has("开始认证"));
    assert!(k.said().contains(&Prompt::OutOfService));
    k.probe
        .set(Part::Camera, PartState::Ok("/dev/video0".into()));
    k.wait_for("开始认证");
    let welcomes = k.said().iter().filter(|p| **p == Prompt::Welcome).count();
    assert_eq!(welcomes, 2, "welcomed again after recovery");
}

#[test]
fn unregistered_kiosk_is_out_of_service_with_what_staff_must_do() {
    let mut k = kit();
    k.probe.set(
        Part::Registration,
        PartState::Faulty("未注册：请技术人员运行 lifecert register".into()),
    );
    k.wait_for("本机暂停服务");
    k.wait_for("本机注册故障");
    k.wait_for("lifecert register --server 服务器地址 --token 令牌");
    assert!(!k.has("开始认证"), "no session can start unregistered");
    k.probe
        .set(Part::Registration, PartState::Ok("kiosk-1".into()));
    k.wait_for("开始认证");
}

#[test]
fn staff_pin_locks_after_three_wrong_entries() {
    let mut k = kit();
    k.click("工作人员");
    k.wait_for("工作人员登录");
    for n in 1..=3 {
        k.type_id("1111");
        k.click("确认");
        if n < 3 {
            k.wait_for(&format!("密码错误 {n} 次"));
        }
    }
    k.wait_for("已锁定");
    assert!(k.said().contains(&Prompt::StaffLocked));
    // The keypad is gone while locked: even the right PIN cannot be typed.
    assert!(!k.has("确认"));
    assert!(
        k.h.query_all_by_role_and_label(Role::Button, "2")
            .next()
            .is_none()
    );
}

#[test]
fn staff_menu_health_self_test_and_enrolment() {
    let mut k = kit();
    k.click("工作人员");
    k.type_id(PIN);
    k.click("确认");
    k.wait_for("工作人员菜单");
    k.wait_for("设备状态");
    k.wait_for("待上传");
    assert!(k.said().contains(&Prompt::StaffMenu));
    k.click("摄像头自检");
    k.wait_for("摄像头自检");
    assert!(k.capture.camera_is_on());
    k.click("返回");
    k.wait_for("人脸采集");
    assert!(!k.capture.camera_is_on());
    k.click("人脸采集");
    k.wait_for("请输入被采集人的身份证号码");
    k.type_id(NO_TEMPLATE);
    k.click("开始采集");
    k.wait_for("采集完成");
    k.wait_for("已保存在本机");
    k.no_full_id_on_screen(&[NO_TEMPLATE]);
    k.click("返回菜单");
    k.click("退出");
    k.wait_for("开始认证");
    assert!(!k.h.state().flow().holds_identity());
}

#[test]
fn a_card_read_fills_in_the_identity() {
    let mut k = kit();
    k.click("开始认证");
    k.click("同意");
    k.click("本人");
    k.wait_for("请输入被认证人的身份证号码");
    k.card.present(IdNumber::parse(DUE).unwrap());
    k.wait_for("拍摄前请做好准备");
    k.no_full_id_on_screen(&[DUE]);
    // A card placed on other screens is ignored.
    k.click("返回首页");
    k.wait_for("开始认证");
    k.card.present(IdNumber::parse(DUE).unwrap());
    for _ in 0..5 {
        k.h.step();
    }
    assert!(k.has("开始认证"));
    assert!(!k.h.state().flow().holds_identity());
}

/// The kiosk's serial settings for a simulator's link.
fn sim_port(sim: &Sim) -> SerialDeviceConfig {
    SerialDeviceConfig {
        port: SerialPort::Device(sim.link().to_str().unwrap().to_string()),
        baud: 115_200,
        usb_vid: None,
        usb_pid: None,
    }
}

#[test]
fn a_simulated_card_read_starts_a_certification() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::start("id-reader", &dir.path().join("reader"), &[]);
    let mut k = kit_with(Devices {
        reader: Some(sim_port(&sim)),
        printer: None,
    });
    k.click("开始认证");
    k.click("同意");
    k.click("本人");
    k.wait_for("请输入被认证人的身份证号码");
    // The card moves during the first read (SW3 41): the reason is voiced,
    // the next poll reads it.
    sim.send("moved");
    sim.send("place");
    k.wait_for("拍摄前请做好准备");
    assert!(k.said().contains(&Prompt::CardReadFailed));
    k.no_full_id_on_screen(&[DUE]);
    k.click("我准备好了");
    k.wait_for("认证成功");
    assert!(k.has("王*明"));
    k.assert_said_in_order(&[
        Prompt::EnterPensionerId,
        Prompt::CardReadFailed,
        Prompt::Checking,
        Prompt::Guidance,
        Prompt::Success,
    ]);
    k.wait_for("回执号");
    k.click("完成");
    k.wait_for("开始认证");
    assert!(!k.h.state().flow().holds_identity());
    let store = Store::open(&k.db).unwrap().store;
    let status = store.queue_status(time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(status.pending + status.acked, 1, "{status}");
}

#[test]
fn printer_out_of_paper_keeps_the_result_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::start("printer", &dir.path().join("printer"), &["--paper-out"]);
    let printer = lifecert::peripherals::printer::SerialPrinter::new(
        SerialDeviceConfig {
            baud: 9600,
            ..sim_port(&sim)
        },
        lifecert::peripherals::escpos::ReceiptLayout {
            site: "测试服务点".into(),
            device_id: "kiosk-test".into(),
            qr_url: None,
            columns: 32,
        },
        None,
    );
    let mut k = kit_with(Devices {
        reader: None,
        printer: Some(Box::new(printer)),
    });
    k.start_self(DUE);
    k.click("我准备好了");
    k.wait_for("认证成功");
    k.wait_for("回执号");
    k.click("打印凭条");
    k.wait_for("打印机缺纸");
    k.wait_for("认证结果已保存");
    // Everything fits the 1280×800 screen, the print button included.
    let button =
        k.h.get_all_by_role_and_label(Role::Button, "打印凭条")
            .next()
            .unwrap()
            .rect();
    assert!(
        button.max.y <= 800.0,
        "the print button is off screen: {button:?}"
    );
    assert!(k.has("认证成功"), "the result stays on screen");
    assert!(k.said().contains(&Prompt::PrintFailed));
    // Nothing reached the paper, and the result is durably recorded.
    assert!(sim.try_line().is_none());
    let store = Store::open(&k.db).unwrap().store;
    let status = store.queue_status(time::OffsetDateTime::now_utc()).unwrap();
    assert_eq!(status.pending + status.acked, 1, "{status}");
    // Staff load paper: printing works again from the same screen.
    sim.send("paper ok");
    let state = sim.line(Duration::from_secs(10)).unwrap();
    assert!(state.starts_with("{\"state\""), "{state}");
    k.click("打印凭条");
    k.wait_for("凭条已打印");
    let printed = sim.line(Duration::from_secs(10)).unwrap();
    assert!(printed.starts_with("{\"receipt\""), "{printed}");
    assert!(printed.contains("1101**********0013"), "{printed}");
    assert!(!printed.contains(DUE), "the full ID number was printed");
}
