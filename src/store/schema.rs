//! Schema migrations of the local store.
//!
//! Time columns: `records.certified_at` is RFC 3339 UTC text with exactly three fractional
//! digits (`2026-03-01T08:15:00.123Z`, so text order is time order) and `records.next_due` is
//! `YYYY-MM-DD`; every other time column (`outbox.*_at`, `audit.at`) is an INTEGER of unix
//! milliseconds (UTC).

use rusqlite_migration::{M, Migrations};

/// The migration list.
///
/// Append only; never edit a shipped migration. A kiosk in the field has already applied
/// every entry that shipped, and `rusqlite_migration` only tracks how many ran
/// (`PRAGMA user_version`), so a change to an old entry never reaches those kiosks.
const MIGRATION_LIST: &[M<'static>] = &[
    // 1: records, outbox, audit.
    M::up(
        r#"
CREATE TABLE records (
    id              TEXT PRIMARY KEY NOT NULL,
    person_masked   TEXT NOT NULL,
    person_key      TEXT NOT NULL,
    benefit         TEXT NOT NULL,
    result          TEXT NOT NULL,
    method          TEXT NOT NULL,
    certified_at    TEXT NOT NULL,
    next_due        TEXT,
    operator_masked TEXT,
    receipt         TEXT
) STRICT;
CREATE INDEX records_by_person ON records (person_key, certified_at);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL REFERENCES records (id),
    seq             INTEGER NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    payload         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    acked_at        INTEGER,
    dead_at         INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt_at)
    WHERE acked_at IS NULL AND dead_at IS NULL;

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    event    TEXT NOT NULL,
    at       INTEGER NOT NULL,
    outcome  TEXT NOT NULL,
    device   TEXT NOT NULL,
    operator TEXT
) STRICT;
CREATE INDEX audit_by_time ON audit (at);
"#,
    ),
];

/// All migrations of the local store, applied in order by [`super::Store::open`].
pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);
