//! Errors of the durable local store, worded for the operator who has to act on them.

use std::path::PathBuf;

use uuid::Uuid;

/// Everything that can go wrong in the local store.
///
/// Every message names the database file and says what to do next. The underlying cause
/// (SQLite, IO, migration) is kept as the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder that should hold the database could not be created.
    #[error(
        "cannot create the folder {dir} for the local database {path}: check that the disk is \
         mounted, writable and not full, then restart lifecert"
    )]
    CreateDir {
        /// The folder that could not be created.
        dir: PathBuf,
        /// The database file that was to live in it.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },

    /// SQLite could not open or configure the database file.
    #[error(
        "cannot open the local database {path} ({step}): check that the disk is writable and not \
         full and that no other lifecert is running, then restart lifecert; do not delete the \
         file, it may hold results that have not been sent yet"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// What was being done when it failed.
        step: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// SQLite refused to switch the database to WAL mode.
    #[error(
        "the local database {path} cannot use WAL mode (journal mode stayed `{mode}`): put the \
         data folder on a local disk (not a network share or read-only medium), then restart \
         lifecert"
    )]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported instead.
        mode: String,
    },

    /// The schema could not be brought up to date (for example the database was written by a
    /// newer lifecert and the kiosk was downgraded).
    #[error(
        "cannot upgrade the schema of the local database {path}: if lifecert was downgraded, \
         reinstall the newer version; otherwise contact support; do not delete the file, it may \
         hold results that have not been sent yet"
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The migration error.
        #[source]
        source: rusqlite_migration::Error,
    },

    /// The database was found corrupt and could not be moved aside.
    #[error(
        "the local database {path} is corrupt and could not be moved aside to {target}: move or \
         delete {path} (and {path}-wal, {path}-shm if present), then restart lifecert"
    )]
    Quarantine {
        /// The file that could not be moved.
        path: PathBuf,
        /// Where it was to be moved.
        target: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },

    /// A freshly created database was corrupt too: the disk or the file system is failing.
    #[error(
        "the local database {path} is corrupt even after being recreated ({reason}): the disk may \
         be failing; check the storage, move or delete {path}, then restart lifecert"
    )]
    StillCorrupt {
        /// The database file.
        path: PathBuf,
        /// What the integrity check reported.
        reason: String,
    },

    /// A query failed on an open database.
    #[error(
        "the local database {path} failed to {op}: check that the disk is writable and not full; \
         if this repeats, restart lifecert and contact support"
    )]
    Query {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// An outbox id given by the caller does not exist.
    #[error("the local database {path} has no outbox item {id}: this is a bug, contact support")]
    UnknownOutboxId {
        /// The database file.
        path: PathBuf,
        /// The unknown id.
        id: Uuid,
    },

    /// A field that must hold a masked identifier holds something that is not masked.
    ///
    /// The value itself is deliberately not part of the error: it may be a full ID number.
    #[error(
        "refused to write to the local database {path}: field `{field}` must be a masked ID \
         (like 1101**********002X), never a full number; this is a bug, contact support"
    )]
    Unmasked {
        /// The database file.
        path: PathBuf,
        /// The offending field.
        field: &'static str,
    },
}
