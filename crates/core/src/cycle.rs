//! Certification cycles (being written).
