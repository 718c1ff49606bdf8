//! GB 11643 citizen ID numbers (being written).
