//! Validated kiosk configuration (being written).
