//! Durable local store: certification records, the outbox of results to send, and the audit log.
//!
//! One SQLite file in WAL mode with `synchronous=FULL`: once [`Store::enqueue`] returns, the
//! record and its outbox item survive a crash or a power loss. A database that is not a
//! database or fails `PRAGMA quick_check` is moved aside for staff (never deleted) and replaced
//! by a fresh one, see [`Store::open`].
//!
//! Time storage: `records.certified_at` is RFC 3339 UTC text with millisecond precision,
//! `records.next_due` is `YYYY-MM-DD`, all outbox and audit times are unix milliseconds (UTC).
//! Times written to the store are therefore truncated to the millisecond.

mod error;
mod schema;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};
use uuid::Uuid;

pub use error::StoreError;

/// Why [`Store::enqueue_with`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError<E> {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The payload callback failed.
    #[error("cannot build the outbox payload: {0}")]
    Payload(E),
}
pub use schema::MIGRATIONS;

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// File-name suffixes of SQLite's side files that belong to a database file.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The result of [`Store::open`].
#[derive(Debug)]
pub struct Opened {
    /// The open store, ready to use.
    pub store: Store,
    /// Where a corrupt database was moved to, if the file found at the path was corrupt and a
    /// fresh database was created in its place. Staff should be told; the file is kept for them.
    pub quarantined: Option<PathBuf>,
}

/// The durable local store. One per process; not shared between threads.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A certification record to write, see [`Store::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The person's masked ID number, like `1101**********002X`. Never a full number: a value
    /// without `*` is refused.
    pub person_masked: String,
    /// An opaque lookup key chosen by the caller, used by [`Store::records_for`].
    pub person_key: String,
    /// The benefit that was certified.
    pub benefit: String,
    /// The outcome of the certification.
    pub result: String,
    /// How the person was certified (face, staff-assisted, ...).
    pub method: String,
    /// When the certification happened (stored as UTC, millisecond precision).
    pub certified_at: OffsetDateTime,
    /// When the next certification is due, if known.
    pub next_due: Option<Date>,
    /// The masked ID of the assisting operator, if any. Never a full number.
    pub operator_masked: Option<String>,
    /// The receipt number shown or printed for the person, if any.
    pub receipt: Option<String>,
}

/// A stored certification record, see [`Store::records_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record id, equal to the id of its outbox item.
    pub id: Uuid,
    /// The person's masked ID number.
    pub person_masked: String,
    /// The caller's opaque lookup key.
    pub person_key: String,
    /// The benefit that was certified.
    pub benefit: String,
    /// The outcome of the certification.
    pub result: String,
    /// How the person was certified.
    pub method: String,
    /// When the certification happened (UTC).
    pub certified_at: OffsetDateTime,
    /// When the next certification is due, if known.
    pub next_due: Option<Date>,
    /// The masked ID of the assisting operator, if any.
    pub operator_masked: Option<String>,
    /// The receipt number, if any.
    pub receipt: Option<String>,
}

/// What [`Store::enqueue`] committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The UUIDv7 shared by the record and its outbox item.
    pub id: Uuid,
    /// The outbox sequence number: 1, 2, 3, ... without holes or repeats.
    pub seq: i64,
}

/// An outbox item, as handed to the sync worker by [`Store::due_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The item id (UUIDv7), also the id of its record.
    pub id: Uuid,
    /// The sequence number.
    pub seq: i64,
    /// What the payload is, chosen by the caller of [`Store::enqueue`].
    pub kind: String,
    /// The opaque payload bytes.
    pub payload: Vec<u8>,
    /// When the item was enqueued.
    pub created_at: OffsetDateTime,
    /// How many sending attempts failed so far.
    pub attempts: u32,
    /// When the item is due to be sent.
    pub next_attempt_at: OffsetDateTime,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
}

/// Counts of the outbox, see [`Store::queue_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStatus {
    /// Items not yet acknowledged by the server and not given up on.
    pub pending: u64,
    /// Items acknowledged by the server (until purged).
    pub acked: u64,
    /// Items given up on; they stay until staff retry them.
    pub dead: u64,
    /// How long the oldest pending item has been waiting.
    pub oldest_pending_age: Option<time::Duration>,
}

/// One line of the audit log.
///
/// Never put images, embeddings, names or full ID numbers in an audit entry: only event names,
/// outcomes, the device id and masked operator ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// What happened, e.g. `certification.completed`.
    pub event: String,
    /// When it happened.
    pub at: OffsetDateTime,
    /// How it ended, e.g. `ok`, `rejected`, `error`.
    pub outcome: String,
    /// The kiosk's device id.
    pub device: String,
    /// The masked ID of the operator involved, if any.
    pub operator: Option<String>,
}

/// Why opening failed: corruption (quarantine and start fresh) or anything else (give up).
enum OpenFailure {
    Corrupt(String),
    Fatal(StoreError),
}

impl Store {
    /// Opens (or creates) the store at `path`, creating parent folders.
    ///
    /// Sets WAL mode, `synchronous=FULL`, a busy timeout and foreign keys, checks the file with
    /// `PRAGMA quick_check` and applies pending [`MIGRATIONS`]. If the file is not a database or
    /// is corrupt, it is logged, moved aside with its side files to
    /// `<name>.corrupt-<UTC timestamp>` in the same folder, and a fresh database is created;
    /// [`Opened::quarantined`] then holds the new location of the old file.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the folder or file cannot be created or opened, the schema cannot be
    /// migrated, or a corrupt file cannot be moved aside.
    pub fn open(path: &Path) -> Result<Opened, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                dir: dir.to_path_buf(),
                path: path.to_path_buf(),
                source,
            })?;
        }
        let reason = match Self::try_open(path) {
            Ok(store) => {
                return Ok(Opened {
                    store,
                    quarantined: None,
                });
            }
            Err(OpenFailure::Fatal(e)) => return Err(e),
            Err(OpenFailure::Corrupt(reason)) => reason,
        };
        tracing::error!(
            path = %path.display(),
            %reason,
            "local database is corrupt; moving it aside for staff and starting a fresh one"
        );
        let target = quarantine(path)?;
        tracing::error!(
            path = %path.display(),
            quarantined = %target.display(),
            "corrupt local database kept at the quarantine path; results in it that were not \
             sent yet must be recovered by staff"
        );
        match Self::try_open(path) {
            Ok(store) => Ok(Opened {
                store,
                quarantined: Some(target),
            }),
            Err(OpenFailure::Fatal(e)) => Err(e),
            Err(OpenFailure::Corrupt(reason)) => Err(StoreError::StillCorrupt {
                path: path.to_path_buf(),
                reason,
            }),
        }
    }

    fn try_open(path: &Path) -> Result<Self, OpenFailure> {
        let fail = |step: &'static str| {
            move |source: rusqlite::Error| {
                if is_corruption(&source) {
                    OpenFailure::Corrupt(format!("{step}: {source}"))
                } else {
                    OpenFailure::Fatal(StoreError::Open {
                        path: path.to_path_buf(),
                        step,
                        source,
                    })
                }
            }
        };
        let mut conn = Connection::open(path).map_err(fail("open file"))?;
        // Until the file is known to be healthy, closing must not checkpoint: on a corrupt file
        // SQLite would write the WAL into it and delete the WAL, destroying what staff need.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(fail("disable checkpoint on close"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("set busy timeout"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(fail("enable WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenFailure::Fatal(StoreError::NoWal {
                path: path.to_path_buf(),
                mode,
            }));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail("set synchronous=FULL"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail("enable foreign keys"))?;
        let problems = quick_check(&conn).map_err(fail("quick_check"))?;
        if !problems.is_empty() {
            return Err(OpenFailure::Corrupt(format!(
                "quick_check: {}",
                problems.join("; ")
            )));
        }
        MIGRATIONS.to_latest(&mut conn).map_err(|source| {
            if let rusqlite_migration::Error::RusqliteError { err, .. } = &source
                && is_corruption(err)
            {
                OpenFailure::Corrupt(format!("migrate: {err}"))
            } else {
                OpenFailure::Fatal(StoreError::Migrate {
                    path: path.to_path_buf(),
                    source,
                })
            }
        })?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(fail("enable checkpoint on close"))?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The path of the database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Query {
            path: self.path.clone(),
            op,
            source,
        }
    }

    fn check_masked(&self, field: &'static str, value: &str) -> Result<(), StoreError> {
        if value.contains('*') {
            Ok(())
        } else {
            Err(StoreError::Unmasked {
                path: self.path.clone(),
                field,
            })
        }
    }

    /// Writes `record` and its outbox item (`kind`, opaque `payload`) in one IMMEDIATE
    /// transaction, with a fresh UUIDv7 and the next sequence number. See
    /// [`Store::enqueue_with`] for a payload that depends on the id and sequence number.
    ///
    /// # Errors
    ///
    /// As [`Store::enqueue_with`].
    pub fn enqueue(
        &mut self,
        record: &NewRecord,
        kind: &str,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<Enqueued, StoreError> {
        self.enqueue_with(
            record,
            kind,
            |_, _| Ok::<_, std::convert::Infallible>(payload.to_vec()),
            now,
        )
        .map_err(|e| match e {
            EnqueueError::Store(e) => e,
            EnqueueError::Payload(never) => match never {},
        })
    }

    /// Writes `record` and its outbox item in one IMMEDIATE transaction, with a fresh UUIDv7
    /// and the next sequence number; `payload(id, seq)` builds the outbox payload inside the
    /// transaction once both are known (the kiosk seals the wire record, which must carry the
    /// same id and seq, to the server's key there). If `payload` fails, nothing is written.
    ///
    /// Returns only after the commit returned: the pair is then durable (`synchronous=FULL`).
    /// The item is due at once (`next_attempt_at = now`).
    ///
    /// # Errors
    ///
    /// [`EnqueueError::Payload`] with the callback's error (nothing written);
    /// [`StoreError::Unmasked`] if `person_masked` or `operator_masked` contains no `*`;
    /// [`StoreError::Query`] if the transaction fails (nothing is written then).
    pub fn enqueue_with<E>(
        &mut self,
        record: &NewRecord,
        kind: &str,
        payload: impl FnOnce(Uuid, i64) -> Result<Vec<u8>, E>,
        now: OffsetDateTime,
    ) -> Result<Enqueued, EnqueueError<E>> {
        self.check_masked("person_masked", &record.person_masked)?;
        if let Some(op) = &record.operator_masked {
            self.check_masked("operator_masked", op)?;
        }
        let certified_at = rfc3339_millis(record.certified_at).map_err(self.err("format time"))?;
        let next_due = record
            .next_due
            .map(format_date)
            .transpose()
            .map_err(self.err("format date"))?;
        let id = Uuid::now_v7();
        let id_text = id.to_string();
        let now_ms = unix_millis(now);
        let path = self.path.clone();
        let q = |op: &'static str| {
            let path = path.clone();
            move |source| StoreError::Query { path, op, source }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(q("begin enqueue"))?;
        let seq: i64 = tx
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox", [], |row| {
                row.get(0)
            })
            .map_err(q("allocate seq"))?;
        // Dropping `tx` without commit rolls back: nothing is written.
        let payload = payload(id, seq).map_err(EnqueueError::Payload)?;
        tx.prepare_cached(
            "INSERT INTO records (id, person_masked, person_key, benefit, result, method, \
             certified_at, next_due, operator_masked, receipt) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut st| {
            st.execute(params![
                id_text,
                record.person_masked,
                record.person_key,
                record.benefit,
                record.result,
                record.method,
                certified_at,
                next_due,
                record.operator_masked,
                record.receipt,
            ])
        })
        .map_err(q("insert record"))?;
        tx.prepare_cached(
            "INSERT INTO outbox (id, seq, kind, payload, created_at, attempts, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?5)",
        )
        .and_then(|mut st| st.execute(params![id_text, seq, kind, payload.as_slice(), now_ms]))
        .map_err(q("insert outbox item"))?;
        tx.commit().map_err(q("commit enqueue"))?;
        Ok(Enqueued { id, seq })
    }

    /// Up to `limit` pending items (not acked, not dead) with `next_attempt_at <= now`, in
    /// `seq` order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the query fails.
    pub fn due_batch(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, seq, kind, payload, created_at, attempts, next_attempt_at, last_error \
                 FROM outbox \
                 WHERE acked_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?1 \
                 ORDER BY seq LIMIT ?2",
            )
            .map_err(self.err("read due outbox items"))?;
        let rows = st
            .query_map(params![unix_millis(now), limit], |row| {
                Ok(OutboxItem {
                    id: uuid_col(row, 0)?,
                    seq: row.get(1)?,
                    kind: row.get(2)?,
                    payload: row.get(3)?,
                    created_at: millis_col(row, 4)?,
                    attempts: u32_col(row, 5)?,
                    next_attempt_at: millis_col(row, 6)?,
                    last_error: row.get(7)?,
                })
            })
            .map_err(self.err("read due outbox items"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read due outbox items"))
    }

    /// Marks several outbox items acknowledged in ONE transaction (one disk
    /// sync for a whole batch); all or nothing.
    pub fn mark_acked_many(&mut self, ids: &[Uuid], now: OffsetDateTime) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let q = |op: &'static str| {
            let path = path.clone();
            move |source| StoreError::Query { path, op, source }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(q("begin marking outbox items acked"))?;
        for id in ids {
            let n = tx
                .prepare_cached(
                    "UPDATE outbox SET acked_at = COALESCE(acked_at, ?2), dead_at = NULL \
                     WHERE id = ?1",
                )
                .and_then(|mut st| st.execute(params![id.to_string(), unix_millis(now)]))
                .map_err(q("mark an outbox item acked"))?;
            if n == 0 {
                // Dropping `tx` rolls the whole batch back.
                return Err(StoreError::UnknownOutboxId {
                    path: path.clone(),
                    id: *id,
                });
            }
        }
        tx.commit().map_err(q("commit acked outbox items"))
    }

    /// Marks item `id` as acknowledged by the server at `now` (clearing a dead mark, since the
    /// server has it). Acking an already acked item keeps the first ack time.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownOutboxId`] if there is no such item; [`StoreError::Query`].
    pub fn mark_acked(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET acked_at = COALESCE(acked_at, ?2), dead_at = NULL \
                 WHERE id = ?1",
                params![id.to_string(), unix_millis(now)],
            )
            .map_err(self.err("mark an outbox item acked"))?;
        self.expect_found(id, n)
    }

    /// Records a failed attempt of pending item `id`: `attempts + 1`, `last_error = error`, due
    /// again at `next_attempt_at`. Does nothing to an acked or dead item.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownOutboxId`] if there is no such item; [`StoreError::Query`].
    pub fn mark_retry(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
                 WHERE id = ?1 AND acked_at IS NULL AND dead_at IS NULL",
                params![id.to_string(), error, unix_millis(next_attempt_at)],
            )
            .map_err(self.err("schedule an outbox retry"))?;
        if n == 0 {
            self.ensure_exists(id)
        } else {
            Ok(())
        }
    }

    /// Gives up on pending item `id` after a final failed attempt: `attempts + 1`,
    /// `last_error = error`, `dead_at = now`. Dead items are kept until [`Store::retry_dead`].
    /// Does nothing to an acked or already dead item.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownOutboxId`] if there is no such item; [`StoreError::Query`].
    pub fn mark_dead(&self, id: Uuid, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, dead_at = ?3 \
                 WHERE id = ?1 AND acked_at IS NULL AND dead_at IS NULL",
                params![id.to_string(), error, unix_millis(now)],
            )
            .map_err(self.err("mark an outbox item dead"))?;
        if n == 0 {
            self.ensure_exists(id)
        } else {
            Ok(())
        }
    }

    /// Puts every dead item back into the queue: clears `dead_at`, resets `attempts` to 0 (a
    /// fresh retry budget; `last_error` is kept) and makes it due at `now`. Returns how many.
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the update fails.
    pub fn retry_dead(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = ?1 \
                 WHERE dead_at IS NOT NULL AND acked_at IS NULL",
                params![unix_millis(now)],
            )
            .map_err(self.err("retry dead outbox items"))
    }

    /// The error of the most recently dead-lettered item, for the staff menu.
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the query fails.
    pub fn last_dead_error(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT last_error FROM outbox WHERE dead_at IS NOT NULL AND acked_at IS NULL \
                 ORDER BY dead_at DESC, seq DESC LIMIT 1",
                [],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.err("read the last dead-letter error"))
    }

    fn expect_found(&self, id: Uuid, changed: usize) -> Result<(), StoreError> {
        if changed == 0 {
            Err(StoreError::UnknownOutboxId {
                path: self.path.clone(),
                id,
            })
        } else {
            Ok(())
        }
    }

    fn ensure_exists(&self, id: Uuid) -> Result<(), StoreError> {
        let found = self
            .conn
            .query_row(
                "SELECT 1 FROM outbox WHERE id = ?1",
                params![id.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map_err(self.err("look up an outbox item"))?;
        self.expect_found(id, usize::from(found.is_some()))
    }

    /// Counts pending, acked and dead outbox items and the age of the oldest pending one
    /// (relative to `now`, never negative).
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the query fails.
    pub fn queue_status(&self, now: OffsetDateTime) -> Result<QueueStatus, StoreError> {
        let (pending, acked, dead, oldest): (i64, i64, i64, Option<i64>) = self
            .conn
            .query_row(
                "SELECT \
                   COALESCE(SUM(acked_at IS NULL AND dead_at IS NULL), 0), \
                   COALESCE(SUM(acked_at IS NOT NULL), 0), \
                   COALESCE(SUM(acked_at IS NULL AND dead_at IS NOT NULL), 0), \
                   MIN(CASE WHEN acked_at IS NULL AND dead_at IS NULL THEN created_at END) \
                 FROM outbox",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .map_err(self.err("count the outbox"))?;
        let oldest_pending_age = oldest.map(|ms| {
            let age = time::Duration::milliseconds(unix_millis(now).saturating_sub(ms));
            age.max(time::Duration::ZERO)
        });
        Ok(QueueStatus {
            pending: u64::try_from(pending).unwrap_or(0),
            acked: u64::try_from(acked).unwrap_or(0),
            dead: u64::try_from(dead).unwrap_or(0),
            oldest_pending_age,
        })
    }

    /// Appends `entry` to the audit log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unmasked`] if `operator` contains no `*`; [`StoreError::Query`].
    pub fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        if let Some(op) = &entry.operator {
            self.check_masked("operator", op)?;
        }
        self.conn
            .prepare_cached(
                "INSERT INTO audit (event, at, outcome, device, operator) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    entry.event,
                    unix_millis(entry.at),
                    entry.outcome,
                    entry.device,
                    entry.operator,
                ])
            })
            .map_err(self.err("write the audit log"))?;
        Ok(())
    }

    /// The local history of `person_key`, newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the query fails or a stored value cannot be read back.
    pub fn records_for(&self, person_key: &str) -> Result<Vec<Record>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, person_masked, person_key, benefit, result, method, certified_at, \
                 next_due, operator_masked, receipt \
                 FROM records WHERE person_key = ?1 \
                 ORDER BY certified_at DESC, id DESC",
            )
            .map_err(self.err("read records"))?;
        let rows = st
            .query_map(params![person_key], |row| {
                let certified_at: String = row.get(6)?;
                let next_due: Option<String> = row.get(7)?;
                Ok(Record {
                    id: uuid_col(row, 0)?,
                    person_masked: row.get(1)?,
                    person_key: row.get(2)?,
                    benefit: row.get(3)?,
                    result: row.get(4)?,
                    method: row.get(5)?,
                    certified_at: OffsetDateTime::parse(&certified_at, &Rfc3339)
                        .map_err(|e| conversion(6, e))?,
                    next_due: next_due
                        .map(|d| Date::parse(&d, DATE_FORMAT).map_err(|e| conversion(7, e)))
                        .transpose()?,
                    operator_masked: row.get(8)?,
                    receipt: row.get(9)?,
                })
            })
            .map_err(self.err("read records"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read records"))
    }

    /// Deletes acked outbox items acked before `now - retention` and audit entries older than
    /// that. Never deletes pending or dead items, nor records. The item with the highest `seq`
    /// is always kept so that sequence numbers are never reused. Returns the number of rows
    /// deleted. A negative `retention` counts as zero.
    ///
    /// # Errors
    ///
    /// [`StoreError::Query`] if the deletion fails (nothing is deleted then).
    pub fn purge(
        &mut self,
        now: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<usize, StoreError> {
        let keep_ms = i64::try_from(retention.whole_milliseconds().max(0)).unwrap_or(i64::MAX);
        let cutoff = unix_millis(now).saturating_sub(keep_ms);
        let path = self.path.clone();
        let q = move |source| StoreError::Query {
            path,
            op: "purge old rows",
            source,
        };
        let tx = self.conn.transaction().map_err(q.clone())?;
        let outbox = tx
            .execute(
                "DELETE FROM outbox \
                 WHERE acked_at IS NOT NULL AND dead_at IS NULL AND acked_at < ?1 \
                   AND seq < (SELECT MAX(seq) FROM outbox)",
                params![cutoff],
            )
            .map_err(q.clone())?;
        let audit = tx
            .execute("DELETE FROM audit WHERE at < ?1", params![cutoff])
            .map_err(q.clone())?;
        tx.commit().map_err(q)?;
        Ok(outbox + audit)
    }
}

impl fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pending: {}", self.pending)?;
        if let Some(age) = self.oldest_pending_age {
            write!(f, " (oldest waiting {})", HumanDuration(age))?;
        }
        writeln!(f)?;
        writeln!(f, "acked:   {}", self.acked)?;
        write!(f, "dead:    {}", self.dead)?;
        if self.dead > 0 {
            write!(
                f,
                " (gave up sending; staff can put them back in the queue)"
            )?;
        }
        Ok(())
    }
}

/// Formats a duration as its two largest units, like `2d 3h`, `5m 10s`, `0s`.
struct HumanDuration(time::Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.whole_seconds().max(0);
        let (d, h, m, s) = (
            secs / 86_400,
            secs % 86_400 / 3_600,
            secs % 3_600 / 60,
            secs % 60,
        );
        if d > 0 {
            write!(f, "{d}d {h}h")
        } else if h > 0 {
            write!(f, "{h}h {m}m")
        } else if m > 0 {
            write!(f, "{m}m {s}s")
        } else {
            write!(f, "{s}s")
        }
    }
}

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Runs `PRAGMA quick_check`; returns the problems found (empty when the result is `ok`).
fn quick_check(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare("PRAGMA quick_check")?;
    let lines = st
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(if lines.len() == 1 && lines[0] == "ok" {
        Vec::new()
    } else if lines.is_empty() {
        vec!["quick_check returned nothing".to_owned()]
    } else {
        lines.into_iter().take(10).collect()
    })
}

/// Moves `path` and its side files to `<name>.corrupt-<UTC timestamp>[-n]` in the same folder.
/// Returns the new path of the main file.
fn quarantine(path: &Path) -> Result<PathBuf, StoreError> {
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "unknown-time".to_owned());
    let base = with_suffix(path, &format!(".corrupt-{stamp}"));
    let mut target = base.clone();
    let mut n = 1;
    while target.exists() || SIDE_FILES.iter().any(|s| with_suffix(&target, s).exists()) {
        target = with_suffix(&base, &format!("-{n}"));
        n += 1;
    }
    move_aside(path, &target)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the renames durable; failing here only weakens the guarantee, so just warn.
        if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not sync the database folder");
        }
    }
    Ok(target)
}

/// Renames `path` to `target` and each existing side file to `target` plus its suffix.
fn move_aside(path: &Path, target: &Path) -> Result<(), StoreError> {
    let moves = std::iter::once((path.to_path_buf(), target.to_path_buf())).chain(
        SIDE_FILES
            .iter()
            .map(|s| (with_suffix(path, s), with_suffix(target, s))),
    );
    for (from, to) in moves {
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && from != path => {}
            Err(source) => {
                return Err(StoreError::Quarantine {
                    path: from,
                    target: to,
                    source,
                });
            }
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn unix_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

fn rfc3339_millis(t: OffsetDateTime) -> rusqlite::Result<String> {
    t.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn format_date(d: Date) -> rusqlite::Result<String> {
    d.format(DATE_FORMAT)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn conversion(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

fn uuid_col(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<Uuid> {
    let s: String = row.get(col)?;
    Uuid::parse_str(&s).map_err(|e| conversion(col, e))
}

fn millis_col(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<OffsetDateTime> {
    let ms: i64 = row.get(col)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| conversion(col, e))
}

fn u32_col(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<u32> {
    let v: i64 = row.get(col)?;
    u32::try_from(v).map_err(|e| conversion(col, e))
}
