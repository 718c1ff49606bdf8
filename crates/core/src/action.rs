//! The liveness actions a pensioner may be asked to perform.
//!
//! Direction convention: "turn left" means the **user's own** left. The preview
//! is mirrored, so on screen the head moves towards the left edge as well.

use serde::{Deserialize, Serialize};

/// One liveness action, as named in `kiosk.toml` (`liveness.actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Blink,
    OpenMouth,
    TurnLeft,
    TurnRight,
    RaiseHead,
    LowerHead,
}

impl Action {
    /// Every action, in a stable order.
    pub const ALL: [Action; 6] = [
        Action::Blink,
        Action::OpenMouth,
        Action::TurnLeft,
        Action::TurnRight,
        Action::RaiseHead,
        Action::LowerHead,
    ];

    /// The config / wire name (`snake_case`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Blink => "blink",
            Action::OpenMouth => "open_mouth",
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::RaiseHead => "raise_head",
            Action::LowerHead => "lower_head",
        }
    }

    /// Parses a config name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The instruction shown and voiced to the pensioner.
    pub fn instruction_zh(self) -> &'static str {
        match self {
            Action::Blink => "请眨眨眼",
            Action::OpenMouth => "请张张嘴",
            Action::TurnLeft => "请向左转头",
            Action::TurnRight => "请向右转头",
            Action::RaiseHead => "请缓慢抬头",
            Action::LowerHead => "请缓慢低头",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        assert_eq!(Action::from_name("wink"), None);
    }
}
