//! The lifecert kiosk application: adapters and IO at the edges of the pure core.

pub mod config;
pub mod logging;
pub mod store;
