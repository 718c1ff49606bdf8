//! Kiosk flow FSM (being written).
