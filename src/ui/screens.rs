//! One function per screen. Screens read a [`Screen`] (read-only, IDs
//! masked) and return the person's [`Intent`]; they never touch services.

use egui::{Align, Color32, Layout, RichText, Ui, pos2, vec2};
use lifecert_core::flow::{
    EntryState, FailReason, Intent, Part, PrintState, Purpose, Role, Screen,
};
use lifecert_protocol::{CertResult, Method};

use super::theme;
use super::widgets::{self, KeypadPress, big_button, body, body_colored, small, title};
use crate::kiosk::health::{HealthReport, PartState};
use crate::kiosk::vision_worker::SelfTestMeasures;

/// Countdowns for the capture screen (computed by the app from its clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct Countdown {
    pub action_fraction: f32,
    pub action_left: f32,
    pub total_left: f32,
}

/// What a screen needs besides the [`Screen`] itself.
pub struct View<'a> {
    /// Animation time in seconds.
    pub time: f64,
    pub preview: Option<&'a egui::TextureHandle>,
    pub mirror: bool,
    pub countdown: Countdown,
    pub health: &'a HealthReport,
    pub measures: Option<&'a SelfTestMeasures>,
    pub card_reader: bool,
    pub notice: Option<&'a str>,
    pub slow_pacing: bool,
}

/// A stable name per screen (automation output and logs).
pub fn name(screen: &Screen) -> &'static str {
    match screen {
        Screen::Attract => "attract",
        Screen::Consent => "consent",
        Screen::Alternatives => "alternatives",
        Screen::Who { .. } => "who",
        Screen::Identity {
            role: Role::Operator,
            ..
        } => "identity_operator",
        Screen::Identity { .. } => "identity",
        Screen::Checking => "checking",
        Screen::Ineligible(_) => "ineligible",
        Screen::ServiceUnavailable { .. } => "service_unavailable",
        Screen::Guidance { .. } => "guidance",
        Screen::Capture { .. } => "capture",
        Screen::Processing => "processing",
        Screen::Success { .. } => "success",
        Screen::Accepted { .. } => "accepted",
        Screen::Failed { .. } => "failed",
        Screen::AppealSubmitted { .. } => "appeal_submitted",
        Screen::StoreFailed => "store_failed",
        Screen::HistoryLoading => "history_loading",
        Screen::History { .. } => "history",
        Screen::OutOfService { .. } => "out_of_service",
        Screen::StaffPin { .. } => "staff_pin",
        Screen::StaffHome { .. } => "staff_home",
        Screen::StaffSelfTest => "staff_self_test",
        Screen::StaffEnrolId { .. } => "staff_enrol_id",
        Screen::StaffEnrolCapture { .. } => "staff_enrol_capture",
        Screen::StaffEnrolDone { .. } => "staff_enrol_done",
    }
}

/// Whether the top bar offers 返回首页 on this screen.
pub fn has_home_button(screen: &Screen) -> bool {
    !matches!(
        screen,
        Screen::Attract
            | Screen::OutOfService { .. }
            | Screen::StaffPin { .. }
            | Screen::StaffHome { .. }
            | Screen::StaffSelfTest
            | Screen::StaffEnrolId { .. }
            | Screen::StaffEnrolCapture { .. }
            | Screen::StaffEnrolDone { .. }
    )
}

const WIDE: f32 = 520.0;

/// Draws `screen`; returns what the person asked for.
pub fn draw(ui: &mut Ui, screen: &Screen, view: &View<'_>) -> Option<Intent> {
    let mut intent = None;
    let mut set = |i: Intent| intent = Some(i);
    match screen {
        Screen::Attract => attract(ui, &mut set),
        Screen::Consent => consent(ui, &mut set),
        Screen::Alternatives => alternatives(ui, &mut set),
        Screen::Who { purpose } => who(ui, *purpose, &mut set),
        Screen::Identity {
            role,
            purpose,
            echo,
            state,
        } => identity(ui, *role, *purpose, echo, state, view.card_reader, &mut set),
        Screen::Checking => waiting(ui, "正在查询您的认证信息，请稍候…"),
        Screen::HistoryLoading => waiting(ui, "正在查询认证记录，请稍候…"),
        Screen::Processing => waiting(ui, "正在比对人脸，请稍候…"),
        Screen::Ineligible(reason) => {
            centred(ui, |ui| {
                title(ui, &reason.reason_zh());
                ui.add_space(20.0);
                body(ui, &reason.next_step_zh());
                ui.add_space(40.0);
                if big_button(ui, "返回首页", true, WIDE) {
                    set(Intent::Home);
                }
            });
        }
        Screen::ServiceUnavailable { offline_allowed } => {
            centred(ui, |ui| {
                title(ui, "暂时无法连接社保中心");
                ui.add_space(16.0);
                if *offline_allowed {
                    body(
                        ui,
                        "您可以继续认证：本机先保存结果，联网后自动上传社保中心核验。",
                    );
                } else {
                    body(ui, "请稍后再试，或到社保窗口查询。");
                }
                ui.add_space(32.0);
                if *offline_allowed && big_button(ui, "继续认证", true, WIDE) {
                    set(Intent::ContinueOffline);
                }
                if big_button(ui, "重新连接", !*offline_allowed, WIDE) {
                    set(Intent::RetryService);
                }
            });
        }
        Screen::Guidance { attempt, offline } => guidance(ui, *attempt, *offline, view, &mut set),
        Screen::Capture {
            attempt: _,
            action,
            hint,
            flash: _,
        } => capture(ui, *action, *hint, view, &mut set),
        Screen::Success {
            masked_id,
            masked_name,
            benefit,
            next_due_zh,
            receipt,
            can_print,
            print,
        } => {
            centred(ui, |ui| {
                ui.label(
                    RichText::new("认证成功")
                        .size(theme::HUGE * 1.2)
                        .strong()
                        .color(theme::GOOD),
                );
                ui.add_space(12.0);
                let who = match masked_name {
                    Some(name) => format!("{name}　{masked_id}"),
                    None => masked_id.clone(),
                };
                body(ui, &who);
                if let Some(b) = benefit {
                    body(ui, &format!("待遇类别：{}", b.name_zh()));
                }
                if let Some(next) = next_due_zh {
                    ui.label(
                        RichText::new(next)
                            .size(theme::TITLE)
                            .strong()
                            .color(theme::INK),
                    );
                }
                receipt_line(ui, receipt.as_deref());
                print_line(ui, *print);
                result_buttons(ui, *can_print, &mut set);
            });
        }
        Screen::Accepted {
            masked_id,
            receipt,
            can_print,
            print,
        } => {
            centred(ui, |ui| {
                ui.label(
                    RichText::new("已受理")
                        .size(theme::HUGE)
                        .strong()
                        .color(theme::GOOD),
                );
                body(ui, masked_id);
                body(ui, "您的认证信息已保存在本机，联网后上传社保中心核验。");
                body(ui, "核验结果请留意社保部门通知，或稍后在本机查询。");
                receipt_line(ui, receipt.as_deref());
                print_line(ui, *print);
                result_buttons(ui, *can_print, &mut set);
            });
        }
        Screen::Failed {
            reason,
            attempts_left,
            appeal,
        } => failed(ui, *reason, *attempts_left, *appeal, &mut set),
        Screen::AppealSubmitted { receipt } => {
            centred(ui, |ui| {
                title(ui, "已提交人工审核");
                body(ui, "工作人员会把这次拍摄结果与您的建模照片人工比对。");
                body(ui, "审核结果请留意社保部门通知。");
                receipt_line(ui, receipt.as_deref());
                ui.add_space(24.0);
                if big_button(ui, "完成", true, WIDE) {
                    set(Intent::Home);
                }
            });
        }
        Screen::StoreFailed => {
            centred(ui, |ui| {
                ui.label(
                    RichText::new("结果保存失败")
                        .size(theme::TITLE)
                        .strong()
                        .color(theme::BAD),
                );
                body(ui, "本机存储出现故障，这次结果没有保存。");
                body(ui, "请联系工作人员处理后再认证。");
                ui.add_space(24.0);
                if big_button(ui, "返回首页", true, WIDE) {
                    set(Intent::Home);
                }
            });
        }
        Screen::History { masked_id, entries } => history(ui, masked_id, entries, &mut set),
        Screen::OutOfService { faults } => {
            centred(ui, |ui| {
                ui.label(
                    RichText::new("本机暂停服务")
                        .size(theme::HUGE)
                        .strong()
                        .color(theme::BAD),
                );
                body(ui, "请到社保窗口办理，或联系工作人员。");
                ui.add_space(16.0);
                for part in faults {
                    fault_line(ui, *part);
                }
                small(ui, "故障排除后本机会自动恢复服务。");
                ui.add_space(24.0);
                if big_button(ui, "工作人员", false, 360.0) {
                    set(Intent::Staff);
                }
            });
        }
        Screen::StaffPin {
            entered,
            failures,
            locked,
            checking,
        } => staff_pin(ui, *entered, *failures, *locked, *checking, &mut set),
        Screen::StaffHome { faults } => staff_home(ui, faults, view, &mut set),
        Screen::StaffSelfTest => staff_self_test(ui, view, &mut set),
        Screen::StaffEnrolId { echo, state } => {
            ui.columns(2, |cols| {
                let ui = &mut cols[0];
                title(ui, "人脸采集");
                body(ui, "请输入被采集人的身份证号码");
                entry_echo(ui, echo, state);
                ui.add_space(20.0);
                let valid = *state == EntryState::Valid;
                if widgets::submit_button(ui, "开始采集", valid, WIDE * 0.8) {
                    set(Intent::Submit);
                }
                if big_button(ui, "返回", false, WIDE * 0.8) {
                    set(Intent::Back);
                }
                keypad_into(&mut cols[1], true, &mut set);
            });
        }
        Screen::StaffEnrolCapture {
            masked_id,
            good,
            needed,
            hint,
        } => {
            ui.columns(2, |cols| {
                preview(&mut cols[0], view, hint.is_none() && *good > 0);
                let ui = &mut cols[1];
                title(ui, "人脸采集中");
                body(ui, masked_id);
                body(ui, "请被采集人正对摄像头，保持不动。");
                widgets::progress_dots(ui, *good, (*needed).max(1));
                body(ui, &format!("已采集 {good} / {needed} 张"));
                if let Some(h) = hint {
                    body_colored(ui, h.text_zh(), theme::BAD);
                }
                ui.add_space(20.0);
                if big_button(ui, "取消", false, WIDE * 0.8) {
                    set(Intent::Back);
                }
            });
        }
        Screen::StaffEnrolDone { masked_id, outcome } => {
            centred(ui, |ui| {
                let ok = matches!(outcome, lifecert_core::flow::EnrolOutcome::Saved { .. });
                let (head, color) = if ok {
                    ("采集完成", theme::GOOD)
                } else {
                    ("采集未完成", theme::BAD)
                };
                ui.label(RichText::new(head).size(theme::HUGE).strong().color(color));
                body(ui, masked_id);
                body(ui, &outcome.text_zh());
                ui.add_space(24.0);
                if !ok && big_button(ui, "重新采集", true, WIDE) {
                    set(Intent::Retry);
                }
                if big_button(ui, "返回菜单", ok, WIDE) {
                    set(Intent::Back);
                }
            });
        }
    }
    intent
}

fn centred(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space(24.0);
        add(ui);
    });
}

fn waiting(ui: &mut Ui, text: &str) {
    centred(ui, |ui| {
        ui.add_space(120.0);
        ui.add(egui::Spinner::new().size(96.0).color(theme::PRIMARY));
        ui.add_space(24.0);
        title(ui, text);
    });
}

fn attract(ui: &mut Ui, set: &mut impl FnMut(Intent)) {
    centred(ui, |ui| {
        ui.label(
            RichText::new("社保待遇资格认证")
                .size(theme::HUGE * 1.1)
                .strong()
                .color(theme::PRIMARY),
        );
        body(ui, "每年认证一次，确保养老金等待遇按时发放");
        ui.add_space(16.0);
        let start = egui::Button::new(
            RichText::new("开始认证")
                .size(theme::HUGE)
                .color(theme::ON_PRIMARY),
        )
        .fill(theme::PRIMARY)
        .min_size(vec2(640.0, 140.0));
        if ui.add(start).clicked() {
            set(Intent::StartCertification);
        }
        if big_button(ui, "认证记录查询", false, 640.0) {
            set(Intent::QueryHistory);
        }
        if big_button(ui, "工作人员", false, 300.0) {
            set(Intent::Staff);
        }
    });
}

fn consent(ui: &mut Ui, set: &mut impl FnMut(Intent)) {
    ui.vertical(|ui| {
        title(ui, "个人信息处理告知");
        ui.add_space(8.0);
        let lines = [
            "用途：仅用于本次社保待遇领取资格认证。",
            "采集：您的人脸图像和身份证号码。人脸图像只在本机处理，不保存、不上传。",
            "处理者：社会保险经办机构；本机运营方受其委托。",
            "保存：认证结果按规定期限保存；人脸特征只存于本机。",
            "您的权利：可以不同意，改用窗口办理或上门认证，不影响您领取待遇。",
        ];
        for line in lines {
            body(ui, line);
        }
        ui.add_space(28.0);
        ui.horizontal(|ui| {
            if big_button(ui, "同意", true, 360.0) {
                set(Intent::Accept);
            }
            ui.add_space(40.0);
            if big_button(ui, "不同意", false, 360.0) {
                set(Intent::Decline);
            }
        });
    });
}

fn alternatives(ui: &mut Ui, set: &mut impl FnMut(Intent)) {
    centred(ui, |ui| {
        title(ui, "您也可以这样认证");
        ui.add_space(16.0);
        for line in [
            "携带身份证到社保经办窗口办理",
            "行动不便的，可申请工作人员上门认证",
            "请家人用“掌上12333”等手机应用帮助认证",
        ] {
            body(ui, line);
        }
        ui.add_space(32.0);
        if big_button(ui, "返回首页", true, WIDE) {
            set(Intent::Home);
        }
    });
}

fn who(ui: &mut Ui, purpose: Purpose, set: &mut impl FnMut(Intent)) {
    centred(ui, |ui| {
        let heading = match purpose {
            Purpose::Certify => "请选择为谁办理认证",
            Purpose::History => "请选择查询谁的认证记录",
        };
        title(ui, heading);
        ui.add_space(40.0);
        if big_button(ui, "本人", true, WIDE) {
            set(Intent::Myself);
        }
        ui.add_space(16.0);
        if big_button(ui, "为他人办理", true, WIDE) {
            set(Intent::ForSomeoneElse);
        }
        small(
            ui,
            "为他人办理：例如子女帮父母操作，被认证人本人仍需面对摄像头。",
        );
        ui.add_space(24.0);
        if big_button(ui, "上一步", false, 300.0) {
            set(Intent::Back);
        }
    });
}

fn entry_echo(ui: &mut Ui, echo: &str, state: &EntryState) {
    let shown = if echo.is_empty() { "请输入" } else { echo };
    egui::Frame::new()
        .fill(theme::PANEL)
        .stroke(egui::Stroke::new(3.0, theme::MUTED))
        .inner_margin(16.0)
        .corner_radius(10.0)
        .show(ui, |ui| {
            ui.set_min_width(560.0);
            ui.label(
                RichText::new(shown)
                    .monospace()
                    .size(theme::TITLE * 0.9)
                    .color(theme::INK),
            );
        });
    match state {
        EntryState::Incomplete { typed } => body(ui, &format!("已输入 {typed} / 18 位")),
        EntryState::Valid => body_colored(ui, "号码格式正确，请点确认", theme::GOOD),
        EntryState::Invalid { message_zh } => body_colored(ui, message_zh, theme::BAD),
    }
}

fn keypad_into(ui: &mut Ui, with_x: bool, set: &mut impl FnMut(Intent)) {
    match widgets::keypad(ui, with_x) {
        Some(KeypadPress::Key(c)) => set(Intent::Key(c)),
        Some(KeypadPress::Backspace) => set(Intent::Backspace),
        Some(KeypadPress::Clear) => set(Intent::Clear),
        None => {}
    }
}

fn identity(
    ui: &mut Ui,
    role: Role,
    purpose: Purpose,
    echo: &str,
    state: &EntryState,
    card_reader: bool,
    set: &mut impl FnMut(Intent),
) {
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        let heading = match role {
            Role::Operator => "请输入您（代办人）的身份证号码",
            Role::Pensioner if purpose == Purpose::History => "请输入要查询的身份证号码",
            Role::Pensioner => "请输入被认证人的身份证号码",
        };
        title(ui, heading);
        if card_reader {
            body_colored(ui, "也可以把身份证放在读卡区", theme::PRIMARY);
        }
        ui.add_space(8.0);
        entry_echo(ui, echo, state);
        ui.add_space(20.0);
        let valid = *state == EntryState::Valid;
        if widgets::submit_button(ui, "确认", valid, WIDE * 0.8) {
            set(Intent::Submit);
        }
        if big_button(ui, "上一步", false, WIDE * 0.8) {
            set(Intent::Back);
        }
        keypad_into(&mut cols[1], true, set);
    });
}

fn guidance(
    ui: &mut Ui,
    attempt: u8,
    offline: bool,
    view: &View<'_>,
    set: &mut impl FnMut(Intent),
) {
    title(ui, "拍摄前请做好准备");
    ui.columns(2, |cols| {
        widgets::guidance_picture(&mut cols[0], 560.0);
        let ui = &mut cols[1];
        for line in [
            "在光线明亮处，避免背后强光",
            "摘下帽子、墨镜和口罩",
            "距离屏幕约60厘米，正对屏幕",
            "听语音提示做动作",
        ] {
            body(ui, line);
        }
        if attempt > 1 {
            body_colored(ui, &format!("第 {attempt} 次拍摄"), theme::WARN);
        }
        if offline {
            small(ui, "离线认证：结果联网后由社保中心核验。");
        }
        if view.slow_pacing {
            small(ui, "已开启慢速模式：每个动作有更多时间。");
        }
        ui.add_space(12.0);
        if big_button(ui, "我准备好了", true, WIDE * 0.9) {
            set(Intent::Ready);
        }
    });
}

fn preview(ui: &mut Ui, view: &View<'_>, good: bool) {
    let width = ui.available_width().min(820.0);
    let height = width * 0.75;
    let (rect, _) = ui.allocate_exact_size(vec2(width, height), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    match view.preview {
        Some(texture) => {
            let uv = if view.mirror {
                egui::Rect::from_min_max(pos2(1.0, 0.0), pos2(0.0, 1.0))
            } else {
                egui::Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0))
            };
            painter.image(texture.id(), rect, uv, Color32::WHITE);
        }
        None => {
            painter.rect_filled(rect, 12.0, Color32::from_gray(40));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "正在打开摄像头…",
                egui::FontId::proportional(theme::BODY),
                Color32::WHITE,
            );
        }
    }
    widgets::face_guide(&painter, rect, good);
    // The camera-on indicator.
    painter.circle_filled(rect.left_top() + vec2(28.0, 28.0), 12.0, theme::BAD);
    painter.text(
        rect.left_top() + vec2(48.0, 28.0),
        egui::Align2::LEFT_CENTER,
        "摄像头已开启",
        egui::FontId::proportional(theme::SMALL),
        Color32::WHITE,
    );
}

fn capture(
    ui: &mut Ui,
    action: Option<(lifecert_core::action::Action, u8, u8)>,
    hint: Option<lifecert_core::flow::QualityHint>,
    view: &View<'_>,
    set: &mut impl FnMut(Intent),
) {
    ui.columns(2, |cols| {
        preview(&mut cols[0], view, hint.is_none());
        let ui = &mut cols[1];
        ui.vertical_centered(|ui| {
            match action {
                Some((a, index, total)) => {
                    widgets::progress_dots(ui, index, total);
                    widgets::action_icon(ui, 220.0, a, view.time);
                    ui.label(
                        RichText::new(a.instruction_zh())
                            .size(theme::HUGE)
                            .strong()
                            .color(theme::PRIMARY),
                    );
                    widgets::countdown_ring(
                        ui,
                        140.0,
                        view.countdown.action_fraction,
                        view.countdown.action_left,
                        theme::PRIMARY,
                    );
                }
                None => {
                    title(ui, "请正对屏幕，保持不动");
                    body(ui, "准备中…");
                }
            }
            body(
                ui,
                &format!(
                    "剩余时间 {} 秒",
                    view.countdown.total_left.ceil().max(0.0) as u32
                ),
            );
            if let Some(h) = hint {
                ui.label(
                    RichText::new(h.text_zh())
                        .size(theme::TITLE * 0.8)
                        .strong()
                        .color(theme::BAD),
                );
            }
            ui.add_space(12.0);
            if big_button(ui, "取消", false, 300.0) {
                set(Intent::Back);
            }
        });
    });
}

fn receipt_line(ui: &mut Ui, receipt: Option<&str>) {
    match receipt {
        Some(r) => body(ui, &format!("回执号：{r}")),
        None => small(ui, "正在保存结果…"),
    }
}

/// Where the receipt stands; a failure says why (the result is kept).
fn print_line(ui: &mut Ui, print: Option<PrintState>) {
    match print {
        None => {}
        Some(PrintState::Printing) => body(ui, "正在打印凭条…"),
        Some(PrintState::Printed) => body_colored(ui, "凭条已打印，请取走凭条", theme::GOOD),
        Some(PrintState::Failed(why)) => {
            body_colored(
                ui,
                &format!("{why}。认证结果已保存，请联系工作人员"),
                theme::BAD,
            );
        }
    }
}

fn result_buttons(ui: &mut Ui, can_print: bool, set: &mut impl FnMut(Intent)) {
    let width = if can_print { 2.0 * 380.0 + 40.0 } else { 380.0 };
    ui.allocate_ui(vec2(width, theme::TOUCH), |ui| {
        ui.horizontal(|ui| {
            if can_print && big_button(ui, "打印凭条", false, 380.0) {
                set(Intent::Print);
            }
            if big_button(ui, "完成", true, 380.0) {
                set(Intent::Home);
            }
        });
    });
}

fn failed(
    ui: &mut Ui,
    reason: FailReason,
    attempts_left: u8,
    appeal: bool,
    set: &mut impl FnMut(Intent),
) {
    centred(ui, |ui| {
        ui.label(
            RichText::new(reason.reason_zh())
                .size(theme::HUGE)
                .strong()
                .color(theme::BAD),
        );
        ui.add_space(8.0);
        let advice = match reason {
            FailReason::FaceMismatch => "请摘下眼镜、帽子，在明亮处正对屏幕再试。",
            FailReason::LivenessIncomplete { .. } => "请听清语音提示，按提示慢慢做动作。",
            FailReason::Timeout => "请在倒计时结束前完成动作。",
            FailReason::PersonChanged => "认证过程中请被认证人本人始终面对摄像头。",
            FailReason::DeviceFault => "设备出现故障，请联系工作人员。",
        };
        body(ui, advice);
        let retry = attempts_left > 0 && reason != FailReason::DeviceFault;
        if retry {
            body(ui, &format!("您还可以再试 {attempts_left} 次"));
        }
        ui.add_space(24.0);
        if retry && big_button(ui, "再试一次", true, WIDE) {
            set(Intent::Retry);
        }
        if appeal {
            body(ui, "三次未通过。您可以申请人工审核，或到社保窗口办理。");
            if big_button(ui, "申请人工审核", true, WIDE) {
                set(Intent::Appeal);
            }
        }
        small(ui, "如需帮助，请联系工作人员。");
        if big_button(ui, "返回首页", false, WIDE) {
            set(Intent::Home);
        }
    });
}

fn history(
    ui: &mut Ui,
    masked_id: &str,
    entries: &[lifecert_core::flow::HistoryEntry],
    set: &mut impl FnMut(Intent),
) {
    centred(ui, |ui| {
        title(ui, "认证记录");
        body(ui, masked_id);
        ui.add_space(12.0);
        if entries.is_empty() {
            body(ui, "暂无认证记录");
        } else {
            egui::Grid::new("history")
                .spacing(vec2(48.0, 8.0))
                .min_row_height(48.0)
                .striped(true)
                .show(ui, |ui| {
                    for h in ["日期", "结果", "方式"] {
                        ui.label(RichText::new(h).size(theme::BODY).strong());
                    }
                    ui.end_row();
                    for e in entries.iter().take(6) {
                        body(
                            ui,
                            &format!(
                                "{}年{}月{}日",
                                e.on.year(),
                                u8::from(e.on.month()),
                                e.on.day()
                            ),
                        );
                        body(
                            ui,
                            match e.result {
                                CertResult::Passed => "认证通过",
                                CertResult::Accepted => "已受理待核验",
                                CertResult::Appeal => "人工审核中",
                            },
                        );
                        body(
                            ui,
                            match e.method {
                                Method::Kiosk => "自助终端",
                                Method::OfflineEvidence => "自助终端（离线）",
                                Method::Counter => "窗口办理",
                            },
                        );
                        ui.end_row();
                    }
                });
        }
        ui.add_space(24.0);
        if big_button(ui, "返回首页", true, WIDE) {
            set(Intent::Home);
        }
    });
}

fn fault_line(ui: &mut Ui, part: Part) {
    ui.label(
        RichText::new(format!("{}故障", part.name_zh()))
            .size(theme::BODY)
            .strong()
            .color(theme::BAD),
    );
    small(ui, part.staff_action_zh());
}

fn staff_pin(
    ui: &mut Ui,
    entered: usize,
    failures: u8,
    locked: bool,
    checking: bool,
    set: &mut impl FnMut(Intent),
) {
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        title(ui, "工作人员登录");
        if locked {
            body_colored(ui, "密码错误次数过多，已锁定，请稍后再试", theme::BAD);
        } else {
            body(ui, "请输入工作人员密码");
            let dots: String =
                "●".repeat(entered) + &"○".repeat(8usize.saturating_sub(entered).min(8));
            ui.label(RichText::new(dots).size(theme::TITLE).color(theme::INK));
            if failures > 0 {
                body_colored(ui, &format!("密码错误 {failures} 次"), theme::BAD);
            }
            if checking {
                body(ui, "正在验证…");
            }
        }
        ui.add_space(20.0);
        if !locked
            && widgets::submit_button(
                ui,
                "确认",
                (4..=8).contains(&entered) && !checking,
                WIDE * 0.8,
            )
        {
            set(Intent::Submit);
        }
        if big_button(ui, "返回", false, WIDE * 0.8) {
            set(Intent::Back);
        }
        if !locked {
            keypad_into(&mut cols[1], false, set);
        }
    });
}

fn state_text(state: Option<&PartState>) -> (String, Color32) {
    match state {
        Some(PartState::Ok(s)) => (format!("正常　{s}"), theme::GOOD),
        Some(PartState::Faulty(s)) => (format!("故障　{s}"), theme::BAD),
        Some(PartState::NotConfigured) => ("未配置".into(), theme::MUTED),
        None => ("检查中…".into(), theme::MUTED),
    }
}

fn staff_home(ui: &mut Ui, faults: &[Part], view: &View<'_>, set: &mut impl FnMut(Intent)) {
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        title(ui, "设备状态");
        egui::Grid::new("health")
            .spacing(vec2(24.0, 6.0))
            .min_row_height(40.0)
            .show(ui, |ui| {
                for part in Part::ALL {
                    ui.label(RichText::new(part.name_zh()).size(theme::SMALL).strong());
                    let (text, mut color) = state_text(view.health.state(part));
                    if faults.contains(&part) {
                        color = theme::BAD;
                    }
                    let text: String = text.chars().take(22).collect();
                    ui.label(RichText::new(text).size(theme::SMALL).color(color));
                    ui.end_row();
                }
                ui.label(RichText::new("待上传").size(theme::SMALL).strong());
                let queue = match &view.health.queue {
                    Some(q) => {
                        let oldest = q
                            .oldest_age
                            .map(|a| format!("，最早一条已等待 {} 分钟", a.whole_minutes()))
                            .unwrap_or_default();
                        format!("{} 条{oldest}；失败 {} 条", q.pending, q.dead)
                    }
                    None => "未知".into(),
                };
                ui.label(RichText::new(queue).size(theme::SMALL));
                ui.end_row();
                ui.label(RichText::new("本机人脸模板").size(theme::SMALL).strong());
                ui.label(RichText::new(format!("{} 人", view.health.templates)).size(theme::SMALL));
                ui.end_row();
            });
        if let Some(alert) = &view.health.sync_alert {
            body_colored(ui, &format!("同步已停止：{alert}"), theme::BAD);
        }
        if let Some(q) = &view.health.queue
            && q.dead > 0
        {
            let last: String = q
                .last_dead_error
                .as_deref()
                .unwrap_or("未知")
                .chars()
                .take(60)
                .collect();
            body_colored(
                ui,
                &format!(
                    "{} 条记录上传失败（最近原因：{last}）。请技术人员检查后运行 lifecert queue retry-dead",
                    q.dead
                ),
                theme::BAD,
            );
        }
        if let Some(n) = view.notice {
            body_colored(ui, n, theme::PRIMARY);
        }
        let ui = &mut cols[1];
        title(ui, "工作人员菜单");
        if big_button(ui, "立即同步", false, WIDE * 0.8) {
            set(Intent::SyncNow);
        }
        if big_button(ui, "摄像头自检", false, WIDE * 0.8) {
            set(Intent::SelfTest);
        }
        if big_button(ui, "人脸采集", false, WIDE * 0.8) {
            set(Intent::Enrol);
        }
        if big_button(ui, "退出", true, WIDE * 0.8) {
            set(Intent::ExitStaff);
        }
    });
}

fn measure(v: Option<f32>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "—".into())
}

fn staff_self_test(ui: &mut Ui, view: &View<'_>, set: &mut impl FnMut(Intent)) {
    ui.columns(2, |cols| {
        let good = view.measures.is_some_and(|m| m.quality.is_none());
        preview(&mut cols[0], view, good);
        let ui = &mut cols[1];
        title(ui, "摄像头自检");
        match view.measures {
            None => body(ui, "等待画面…"),
            Some(m) => {
                egui::Grid::new("measures")
                    .spacing(vec2(24.0, 4.0))
                    .min_row_height(36.0)
                    .show(ui, |ui| {
                        let rows = [
                            (
                                "画面",
                                format!("{}×{}，{:.0} 帧/秒", m.width, m.height, m.fps),
                            ),
                            ("识别耗时", format!("{:.1} 毫秒", m.analysis_ms)),
                            ("人脸数", m.faces.to_string()),
                            ("亮度", measure(m.brightness, 0)),
                            ("清晰度", measure(m.sharpness, 1)),
                            ("人脸大小", measure(m.face_size, 2)),
                            ("左右转角", measure(m.yaw, 1)),
                            ("俯仰角", measure(m.pitch, 1)),
                            ("睁眼程度", measure(m.eyes, 2)),
                            ("张嘴程度", measure(m.mouth, 2)),
                        ];
                        for (k, v) in rows {
                            ui.label(RichText::new(k).size(theme::SMALL).strong());
                            ui.label(RichText::new(v).size(theme::SMALL));
                            ui.end_row();
                        }
                    });
                match m.quality {
                    None => body_colored(ui, "画面合格", theme::GOOD),
                    Some(h) => body_colored(ui, h.text_zh(), theme::BAD),
                }
            }
        }
        ui.add_space(12.0);
        if big_button(ui, "返回", true, WIDE * 0.8) {
            set(Intent::Back);
        }
    });
}
