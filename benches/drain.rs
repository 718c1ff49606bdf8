//! Drain benchmark (being written).
fn main() {}
