//! Sizes and colours: readable from 60 cm by someone with weak eyes.
//! Body text ≥ 32 px, touch targets ≥ 80 px, high contrast.

use egui::{Color32, FontFamily, FontId, TextStyle};

/// Body text size (px).
pub const BODY: f32 = 34.0;
/// Screen titles.
pub const TITLE: f32 = 52.0;
/// Big numbers and key results.
pub const HUGE: f32 = 64.0;
/// Button labels.
pub const BUTTON: f32 = 38.0;
/// Small print (still ≥ 28 px: staff panel details).
pub const SMALL: f32 = 28.0;
/// Minimum height of any touch target.
pub const TOUCH: f32 = 96.0;
/// Keypad key size.
pub const KEY: f32 = 104.0;

pub const BG: Color32 = Color32::from_rgb(0xF7, 0xF5, 0xEF);
pub const INK: Color32 = Color32::from_rgb(0x11, 0x11, 0x11);
pub const MUTED: Color32 = Color32::from_rgb(0x3A, 0x3A, 0x3A);
pub const PRIMARY: Color32 = Color32::from_rgb(0x0B, 0x4F, 0xA8);
pub const ON_PRIMARY: Color32 = Color32::WHITE;
pub const GOOD: Color32 = Color32::from_rgb(0x0A, 0x7A, 0x2F);
pub const BAD: Color32 = Color32::from_rgb(0xB0, 0x1C, 0x1C);
pub const WARN: Color32 = Color32::from_rgb(0x9A, 0x5B, 0x00);
pub const PANEL: Color32 = Color32::WHITE;
pub const SECONDARY: Color32 = Color32::from_rgb(0xE3, 0xE8, 0xF0);

/// Applies the kiosk style to the context.
pub fn apply(ctx: &egui::Context) {
    ctx.global_style_mut(|style| {
        style.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(TITLE, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(BODY, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(BUTTON, FontFamily::Proportional),
            ),
            (
                TextStyle::Small,
                FontId::new(SMALL, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(BODY, FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(24.0, 20.0);
        style.spacing.button_padding = egui::vec2(28.0, 16.0);
        style.spacing.interact_size.y = TOUCH;
        let v = &mut style.visuals;
        *v = egui::Visuals::light();
        v.panel_fill = BG;
        v.window_fill = BG;
        v.override_text_color = Some(INK);
        v.widgets.inactive.weak_bg_fill = SECONDARY;
        v.widgets.inactive.bg_fill = SECONDARY;
        v.widgets.hovered.weak_bg_fill = Color32::from_rgb(0xD0, 0xDA, 0xEA);
        v.widgets.active.weak_bg_fill = Color32::from_rgb(0xB8, 0xC8, 0xE0);
        for w in [
            &mut v.widgets.inactive,
            &mut v.widgets.hovered,
            &mut v.widgets.active,
        ] {
            w.corner_radius = egui::CornerRadius::same(14);
            w.fg_stroke = egui::Stroke::new(2.0, INK);
        }
    });
}
