//! Durable local store (being written).
