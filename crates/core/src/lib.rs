//! lifecert-core: the pure domain of the lifecert kiosk.
//!
//! No IO, no clock, no threads, no devices: time and hardware come in as events
//! and leave as effects. The test command enforces that this crate depends on
//! none of egui, eframe, rusqlite, tract, nokhwa, serialport, rodio, tokio,
//! reqwest, axum or sqlx (`cargo tree -p lifecert-core -e normal`).

pub mod action;
pub mod cycle;
pub mod flow;
pub mod id;
pub mod liveness;
pub mod matching;
pub mod reader;
