//! Big, plain widgets for elderly users: buttons, keypad, countdown ring,
//! face guide, action icons, progress dots.

use std::f32::consts::{PI, TAU};

use egui::{
    Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, Vec2, pos2, vec2,
};
use lifecert_core::action::Action;

use super::theme;

/// A large button; `primary` ones are filled blue. Returns true when clicked.
pub fn big_button(ui: &mut Ui, label: &str, primary: bool, width: f32) -> bool {
    let (fill, text) = if primary {
        (theme::PRIMARY, theme::ON_PRIMARY)
    } else {
        (theme::SECONDARY, theme::INK)
    };
    let button = egui::Button::new(RichText::new(label).size(theme::BUTTON).color(text))
        .fill(fill)
        .stroke(Stroke::new(
            2.0,
            if primary {
                theme::PRIMARY
            } else {
                theme::MUTED
            },
        ))
        .min_size(vec2(width, theme::TOUCH));
    ui.add(button).clicked()
}

/// The primary confirm button of a keypad screen, greyed out until `enabled`.
pub fn submit_button(ui: &mut Ui, label: &str, enabled: bool, width: f32) -> bool {
    let button = egui::Button::new(
        RichText::new(label)
            .size(theme::BUTTON)
            .color(theme::ON_PRIMARY),
    )
    .fill(theme::PRIMARY)
    .min_size(vec2(width, theme::TOUCH));
    ui.add_enabled(enabled, button).clicked()
}

/// A title line.
pub fn title(ui: &mut Ui, text: &str) {
    ui.label(
        RichText::new(text)
            .size(theme::TITLE)
            .strong()
            .color(theme::INK),
    );
}

/// Body text.
pub fn body(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).size(theme::BODY).color(theme::INK));
}

/// Body text in a colour.
pub fn body_colored(ui: &mut Ui, text: &str, color: Color32) {
    ui.label(RichText::new(text).size(theme::BODY).color(color));
}

/// Secondary text (still ≥ 28 px).
pub fn small(ui: &mut Ui, text: &str) {
    ui.label(RichText::new(text).size(theme::SMALL).color(theme::MUTED));
}

/// What a keypad press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeypadPress {
    Key(char),
    Backspace,
    Clear,
}

/// The on-screen numeric keypad (with X for ID numbers).
pub fn keypad(ui: &mut Ui, with_x: bool) -> Option<KeypadPress> {
    let mut pressed = None;
    let rows: [[&str; 3]; 4] = [
        ["1", "2", "3"],
        ["4", "5", "6"],
        ["7", "8", "9"],
        [if with_x { "X" } else { "清空" }, "0", "删除"],
    ];
    egui::Grid::new("keypad")
        .spacing(vec2(14.0, 14.0))
        .show(ui, |ui| {
            for row in rows {
                for key in row {
                    let button = egui::Button::new(RichText::new(key).size(theme::HUGE * 0.7))
                        .min_size(vec2(theme::KEY * 1.3, theme::KEY))
                        .fill(theme::PANEL)
                        .stroke(Stroke::new(2.0, theme::MUTED));
                    if ui.add(button).clicked() {
                        pressed = Some(match key {
                            "删除" => KeypadPress::Backspace,
                            "清空" => KeypadPress::Clear,
                            k => KeypadPress::Key(k.chars().next().unwrap_or('0')),
                        });
                    }
                }
                ui.end_row();
            }
        });
    pressed
}

/// A countdown ring: `fraction` of the time left (1 → 0), with the seconds in the middle.
pub fn countdown_ring(ui: &mut Ui, size: f32, fraction: f32, seconds_left: f32, color: Color32) {
    let (rect, _) = ui.allocate_exact_size(vec2(size, size), Sense::hover());
    let painter = ui.painter_at(rect);
    let centre = rect.center();
    let radius = size / 2.0 - 8.0;
    painter.circle_stroke(centre, radius, Stroke::new(10.0, theme::SECONDARY));
    let fraction = fraction.clamp(0.0, 1.0);
    if fraction > 0.0 {
        let steps = (64.0 * fraction).ceil().max(2.0) as usize;
        let points: Vec<Pos2> = (0..=steps)
            .map(|i| {
                let a = -PI / 2.0 + TAU * fraction * i as f32 / steps as f32;
                centre + radius * Vec2::angled(a)
            })
            .collect();
        painter.add(Shape::line(points, Stroke::new(10.0, color)));
    }
    painter.text(
        centre,
        Align2::CENTER_CENTER,
        format!("{}", seconds_left.ceil().max(0.0) as u32),
        FontId::proportional(size * 0.38),
        theme::INK,
    );
}

/// Progress dots: `done` of `total` filled, the current one ringed.
pub fn progress_dots(ui: &mut Ui, done: u8, total: u8) {
    let d = 34.0;
    let width = f32::from(total.max(1)) * (d + 18.0);
    let (rect, _) = ui.allocate_exact_size(vec2(width, d + 8.0), Sense::hover());
    let painter = ui.painter_at(rect);
    for i in 0..total {
        let c = pos2(
            rect.left() + d / 2.0 + 4.0 + f32::from(i) * (d + 18.0),
            rect.center().y,
        );
        if i < done {
            painter.circle_filled(c, d / 2.0, theme::GOOD);
        } else if i == done {
            painter.circle_stroke(c, d / 2.0 - 2.0, Stroke::new(5.0, theme::PRIMARY));
        } else {
            painter.circle_stroke(c, d / 2.0 - 2.0, Stroke::new(3.0, theme::MUTED));
        }
    }
}

/// The face-guide oval over the preview: green when the picture is good, red otherwise.
pub fn face_guide(painter: &egui::Painter, rect: Rect, good: bool) {
    let color = if good { theme::GOOD } else { theme::BAD };
    let centre = rect.center();
    let (rx, ry) = (rect.width() * 0.22, rect.height() * 0.38);
    let points: Vec<Pos2> = (0..72)
        .map(|i| {
            let a = TAU * i as f32 / 72.0;
            pos2(centre.x + rx * a.cos(), centre.y + ry * a.sin())
        })
        .collect();
    painter.add(Shape::closed_line(points, Stroke::new(8.0, color)));
}

/// An animated icon of `action` (a head seen from the front), `t` in seconds.
pub fn action_icon(ui: &mut Ui, size: f32, action: Action, t: f64) {
    let (rect, _) = ui.allocate_exact_size(vec2(size, size), Sense::hover());
    let p = ui.painter_at(rect);
    let phase = ((t * 1.5).sin() * 0.5 + 0.5) as f32; // 0..1
    let c = rect.center();
    let r = size * 0.34;
    let stroke = Stroke::new(5.0, theme::INK);
    let (dx, dy) = match action {
        Action::TurnLeft => (-phase * r * 0.35, 0.0),
        Action::TurnRight => (phase * r * 0.35, 0.0),
        Action::RaiseHead => (0.0, -phase * r * 0.3),
        Action::LowerHead => (0.0, phase * r * 0.3),
        _ => (0.0, 0.0),
    };
    p.circle_filled(c, r, Color32::from_rgb(0xF4, 0xD9, 0xB8));
    p.circle_stroke(c, r, stroke);
    let face = c + vec2(dx, dy);
    // Eyes
    let eye_open = if action == Action::Blink {
        1.0 - phase
    } else {
        1.0
    };
    for side in [-1.0f32, 1.0] {
        let e = face + vec2(side * r * 0.38, -r * 0.15);
        let h = (r * 0.12 * eye_open).max(1.5);
        p.add(Shape::ellipse_filled(e, vec2(r * 0.13, h), theme::INK));
    }
    // Nose
    p.line_segment(
        [face + vec2(0.0, -r * 0.05), face + vec2(0.0, r * 0.15)],
        stroke,
    );
    // Mouth
    let m = face + vec2(0.0, r * 0.45);
    if action == Action::OpenMouth {
        p.add(Shape::ellipse_filled(
            m,
            vec2(r * 0.2, r * 0.05 + r * 0.18 * phase),
            theme::BAD,
        ));
    } else {
        p.line_segment([m - vec2(r * 0.2, 0.0), m + vec2(r * 0.2, 0.0)], stroke);
    }
    // Direction arrow beside the head. "Left" is the user's own left, which is
    // the left of the mirrored preview too.
    let arrow = Stroke::new(8.0, theme::PRIMARY);
    let a = size * 0.46;
    let (from, to) = match action {
        Action::TurnLeft => (c + vec2(-r * 0.2, r * 1.35), c + vec2(-a, r * 1.35)),
        Action::TurnRight => (c + vec2(r * 0.2, r * 1.35), c + vec2(a, r * 1.35)),
        Action::RaiseHead => (c + vec2(r * 1.3, r * 0.3), c + vec2(r * 1.3, -r * 0.7)),
        Action::LowerHead => (c + vec2(r * 1.3, -r * 0.3), c + vec2(r * 1.3, r * 0.7)),
        _ => return,
    };
    if rect.contains(from) || rect.contains(to) {
        p.arrow(from, to - from, arrow);
    }
}

/// A simple illustration for the guidance screen: a person at 60 cm from the screen.
pub fn guidance_picture(ui: &mut Ui, width: f32) {
    let height = width * 0.5;
    let (rect, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
    let p = ui.painter_at(rect);
    let ink = Stroke::new(5.0, theme::INK);
    // Kiosk screen on the left.
    let screen = Rect::from_min_size(
        rect.left_top() + vec2(10.0, height * 0.15),
        vec2(width * 0.12, height * 0.6),
    );
    p.rect_stroke(screen, 6.0, ink, egui::StrokeKind::Inside);
    p.circle_filled(screen.center_top() + vec2(0.0, 14.0), 7.0, theme::PRIMARY);
    // Person on the right.
    let head = pos2(rect.right() - width * 0.2, rect.top() + height * 0.3);
    p.circle_filled(head, height * 0.14, Color32::from_rgb(0xF4, 0xD9, 0xB8));
    p.circle_stroke(head, height * 0.14, ink);
    p.line_segment(
        [
            head + vec2(0.0, height * 0.14),
            head + vec2(0.0, height * 0.6),
        ],
        ink,
    );
    // Distance arrow with 60 cm.
    let y = rect.bottom() - height * 0.12;
    let from = pos2(screen.right() + 10.0, y);
    let to = pos2(head.x - 10.0, y);
    p.arrow(from, to - from, Stroke::new(4.0, theme::PRIMARY));
    p.arrow(to, from - to, Stroke::new(4.0, theme::PRIMARY));
    p.text(
        pos2((from.x + to.x) / 2.0, y - 28.0),
        Align2::CENTER_CENTER,
        "约60厘米",
        FontId::proportional(theme::BODY),
        theme::PRIMARY,
    );
    // Light rays above.
    let sun = pos2((from.x + to.x) / 2.0, rect.top() + height * 0.2);
    p.circle_filled(sun, 18.0, Color32::from_rgb(0xF2, 0xB7, 0x05));
    for i in 0..8 {
        let a = TAU * i as f32 / 8.0;
        p.line_segment(
            [sun + 26.0 * Vec2::angled(a), sun + 40.0 * Vec2::angled(a)],
            Stroke::new(4.0, Color32::from_rgb(0xF2, 0xB7, 0x05)),
        );
    }
}
