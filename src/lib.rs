//! The lifecert kiosk application: adapters and IO at the edges of the pure core.

pub mod analysis;
pub mod attacks;
pub mod audio;
pub mod camera;
pub mod config;
pub mod eval;
pub mod flash_sim;
pub mod kiosk;
pub mod logging;
pub mod peripherals;
pub mod session;
pub mod store;
pub mod sync;
pub mod ui;
pub mod verify;
pub mod watchdog;
