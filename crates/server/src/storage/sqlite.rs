//! SQLite backend: one file in WAL mode with `synchronous=FULL` (a commit is
//! durable once answered).
//!
//! Writes go through ONE writer thread doing group commit: it takes every
//! pending job from its channel (up to [`MAX_GROUP`]), runs each in its own
//! savepoint inside one transaction, commits once, and only then answers each
//! job. Reads use a small pool of read-only connections on `spawn_blocking`.
//!
//! Time columns: INTEGER unix milliseconds (UTC); dates are `YYYY-MM-DD` text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lifecert_protocol::CertResult;
use lifecert_protocol::api::Heartbeat;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use time::{Date, OffsetDateTime};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    AuditCount, AuditEntry, BenefitRow, Certification, Device, Inserted, NewCertification,
    NewDevice, Person, RegisterOutcome, RosterBenefit, Storage, StorageError, Template,
    certified_on, embedding_bytes, embedding_from_bytes, enum_parse, enum_str, health_json,
    liveness_json, liveness_parse,
};

/// Most jobs committed in one transaction.
pub const MAX_GROUP: usize = 256;
/// Read-only connections kept for reuse.
const READ_POOL: usize = 4;
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Append only; never edit a shipped migration.
const MIGRATION_LIST: &[M<'static>] = &[M::up(
    r#"
CREATE TABLE persons (
    id_number  TEXT PRIMARY KEY NOT NULL,
    person_key TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    region     TEXT NOT NULL
) STRICT;

CREATE TABLE person_benefits (
    person_key     TEXT NOT NULL REFERENCES persons (person_key) ON DELETE CASCADE,
    benefit        TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_since   TEXT NOT NULL,
    last_certified TEXT,
    PRIMARY KEY (person_key, benefit)
) STRICT;

CREATE TABLE certifications (
    id              TEXT PRIMARY KEY NOT NULL,
    device_seq      INTEGER NOT NULL,
    device_id       TEXT NOT NULL,
    person_key      TEXT NOT NULL,
    benefit         TEXT NOT NULL,
    certified_at    INTEGER NOT NULL,
    certified_on    TEXT NOT NULL,
    result          TEXT NOT NULL,
    method          TEXT NOT NULL,
    liveness        TEXT,
    score           REAL,
    operator_masked TEXT,
    received_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX certifications_by_person ON certifications (person_key, certified_at);
CREATE INDEX certifications_by_time ON certifications (certified_at);
CREATE INDEX certifications_by_received ON certifications (received_at);

CREATE TABLE templates (
    subject_key TEXT PRIMARY KEY NOT NULL,
    model_id    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    embedding   BLOB NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    id             TEXT PRIMARY KEY NOT NULL,
    public_key     TEXT NOT NULL,
    name           TEXT NOT NULL,
    site           TEXT NOT NULL,
    registered_at  INTEGER NOT NULL,
    last_heartbeat INTEGER,
    version        TEXT NOT NULL,
    queue_depth    INTEGER NOT NULL DEFAULT 0,
    dead           INTEGER NOT NULL DEFAULT 0,
    oldest_pending INTEGER,
    health         TEXT NOT NULL DEFAULT '{}',
    revoked        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE device_tokens (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    used_by      TEXT
) STRICT;

CREATE TABLE nonces (
    device_id TEXT NOT NULL,
    nonce     TEXT NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_by_time ON nonces (seen_at);

CREATE TABLE operators (
    id            TEXT PRIMARY KEY NOT NULL,
    secret_sha256 TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    event   TEXT NOT NULL,
    outcome TEXT NOT NULL,
    device  TEXT,
    detail  TEXT
) STRICT;
CREATE INDEX audit_by_time ON audit (at);
"#,
)];

/// The migrations of the server's SQLite database.
pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// The SQLite backend.
pub struct SqliteStorage {
    path: PathBuf,
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish()
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(v: i64) -> Result<OffsetDateTime, StorageError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

const DATE_FMT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn date_str(d: Date) -> String {
    d.format(DATE_FMT).unwrap_or_default()
}

fn parse_date(s: &str) -> Result<Date, StorageError> {
    Date::parse(s, DATE_FMT).map_err(|e| StorageError::Corrupt(format!("date {s:?}: {e}")))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteStorage {
    /// Opens (creating and migrating) the database at `path` and starts the writer thread.
    pub fn open(path: &Path) -> Result<SqliteStorage, StorageError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Backend(format!("{}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|e| StorageError::Backend(format!("migrating {}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StorageError::Backend(format!("cannot start writer thread: {e}")))?;
        Ok(SqliteStorage {
            path: path.to_path_buf(),
            jobs: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` on the writer thread inside the next group transaction.
    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit: Result<(), String>| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StorageError::Backend(e)),
                };
                let _ = tx.send(answer);
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StorageError::Closed)?;
        rx.await.map_err(|_| StorageError::Closed)?
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut v| v.pop());
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    c.busy_timeout(BUSY_TIMEOUT)?;
                    c
                }
            };
            let result = f(&conn);
            if let Ok(mut v) = readers.lock()
                && v.len() < READ_POOL
            {
                v.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Backend(format!("reader task: {e}")))?
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    conn.execute_batch("SAVEPOINT job")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE job")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        let mut completions = Vec::with_capacity(group.len());
        match begun {
            Ok(()) => {
                for job in group.drain(..) {
                    completions.push(job(&conn));
                }
                let committed = conn.execute_batch("COMMIT").map_err(|e| {
                    let _ = conn.execute_batch("ROLLBACK");
                    e.to_string()
                });
                if let Err(e) = &committed {
                    tracing::error!(error = %e, "sqlite group commit failed");
                }
                for c in completions {
                    c(committed.clone());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite cannot begin a transaction");
                for job in group.drain(..) {
                    // Never run outside a transaction: answer with the error.
                    drop(job);
                }
            }
        }
    }
}

fn row_device(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Device, i64, Option<i64>)> {
    Ok((
        Device {
            id: r.get(0)?,
            public_key: r.get(1)?,
            name: r.get(2)?,
            site: r.get(3)?,
            registered_at: OffsetDateTime::UNIX_EPOCH,
            last_heartbeat: None,
            version: r.get(6)?,
            queue_depth: u64_of(r.get(7)?),
            dead: u64_of(r.get(8)?),
            health: r.get(9)?,
            revoked: r.get::<_, i64>(10)? != 0,
            oldest_pending_secs: r.get::<_, Option<i64>>(11)?.map(u64_of),
        },
        r.get(4)?,
        r.get(5)?,
    ))
}

const DEVICE_COLS: &str = "id, public_key, name, site, registered_at, last_heartbeat, version, \
                           queue_depth, dead, health, revoked, oldest_pending";

fn finish_device(t: (Device, i64, Option<i64>)) -> Result<Device, StorageError> {
    let (mut d, reg, hb) = t;
    d.registered_at = from_ms(reg)?;
    d.last_heartbeat = hb.map(from_ms).transpose()?;
    Ok(d)
}

const CERT_COLS: &str = "id, device_seq, device_id, person_key, benefit, certified_at, certified_on, \
                         result, method, liveness, score, operator_masked, received_at";

type CertRow = (
    String,
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<String>,
    i64,
);

fn row_cert(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn finish_cert(c: CertRow) -> Result<Certification, StorageError> {
    Ok(Certification {
        id: Uuid::parse_str(&c.0).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        device_seq: u64_of(c.1),
        device_id: c.2,
        person_key: c.3,
        benefit: enum_parse(&c.4)?,
        certified_at: from_ms(c.5)?,
        certified_on: parse_date(&c.6)?,
        result: enum_parse(&c.7)?,
        method: enum_parse(&c.8)?,
        liveness: liveness_parse(c.9)?,
        score: c.10.map(|s| s as f32),
        operator_masked: c.11,
        received_at: from_ms(c.12)?,
    })
}

fn query_certs(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Certification>, StorageError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params, row_cert)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish_cert).collect()
}

#[async_trait]
impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_token(
        &self,
        token_sha256: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let h = token_sha256.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO device_tokens (token_sha256, created_at, expires_at) VALUES (?1, ?2, ?3)",
                params![h, ms(created_at), ms(expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn register_device(
        &self,
        token_sha256: &str,
        device: &NewDevice,
        now: OffsetDateTime,
    ) -> Result<RegisterOutcome, StorageError> {
        let h = token_sha256.to_owned();
        let d = device.clone();
        self.write(move |c| {
            let valid: bool = c
                .query_row(
                    "SELECT 1 FROM device_tokens WHERE token_sha256 = ?1 AND used_at IS NULL \
                     AND expires_at > ?2",
                    params![h, ms(now)],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !valid {
                return Ok(RegisterOutcome::InvalidToken);
            }
            let exists = c
                .query_row("SELECT 1 FROM devices WHERE id = ?1", params![d.id], |_| {
                    Ok(())
                })
                .optional()?
                .is_some();
            if exists {
                return Ok(RegisterOutcome::DeviceExists);
            }
            c.execute(
                "UPDATE device_tokens SET used_at = ?2, used_by = ?3 WHERE token_sha256 = ?1",
                params![h, ms(now), d.id],
            )?;
            c.execute(
                "INSERT INTO devices (id, public_key, name, site, registered_at, version) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![d.id, d.public_key, d.name, d.site, ms(now), d.version],
            )?;
            Ok(RegisterOutcome::Registered)
        })
        .await
    }

    async fn device(&self, id: &str) -> Result<Option<Device>, StorageError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"))?
                .query_row(params![id], row_device)
                .optional()?
                .map(finish_device)
                .transpose()
        })
        .await
    }

    async fn devices(&self) -> Result<Vec<Device>, StorageError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices ORDER BY id"))?;
            let rows = stmt
                .query_map([], row_device)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(finish_device).collect()
        })
        .await
    }

    async fn set_device_revoked(&self, id: &str, revoked: bool) -> Result<bool, StorageError> {
        let id = id.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE devices SET revoked = ?2 WHERE id = ?1",
                params![id, i64::from(revoked)],
            )? > 0)
        })
        .await
    }

    async fn heartbeat(
        &self,
        device: &str,
        heartbeat: &Heartbeat,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let id = device.to_owned();
        let (version, q, dead, health, oldest) = (
            heartbeat.version.clone(),
            i64_of(heartbeat.queue_depth),
            i64_of(heartbeat.dead),
            health_json(heartbeat),
            heartbeat.oldest_pending_secs.map(i64_of),
        );
        self.write(move |c| {
            c.execute(
                "UPDATE devices SET last_heartbeat = ?2, version = ?3, queue_depth = ?4, \
                 dead = ?5, health = ?6, oldest_pending = ?7 WHERE id = ?1",
                params![id, ms(now), version, q, dead, health, oldest],
            )?;
            Ok(())
        })
        .await
    }

    async fn record_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let (d, n) = (device.to_owned(), nonce.to_owned());
        self.write(move |c| {
            Ok(c.prepare_cached(
                "INSERT INTO nonces (device_id, nonce, seen_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![d, n, ms(now)])?
                == 1)
        })
        .await
    }

    async fn purge_nonces(&self, before: OffsetDateTime) -> Result<u64, StorageError> {
        self.write(move |c| {
            let n = c.execute("DELETE FROM nonces WHERE seen_at < ?1", params![ms(before)])?;
            Ok(n as u64)
        })
        .await
    }

    async fn create_operator(
        &self,
        id: &str,
        name: &str,
        secret_sha256: &str,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let (id, name, h) = (id.to_owned(), name.to_owned(), secret_sha256.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO operators (id, secret_sha256, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, h, name, ms(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn operator_secret_hash(&self, id: &str) -> Result<Option<String>, StorageError> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT secret_sha256 FROM operators WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn person(&self, id_number: &str) -> Result<Option<Person>, StorageError> {
        let id = id_number.to_owned();
        self.read(move |c| {
            let Some((key, name, region)) = c
                .prepare_cached(
                    "SELECT person_key, name, region FROM persons WHERE id_number = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let benefits = benefits_of(c, &key)?;
            Ok(Some(Person {
                id_number: id,
                name,
                region,
                benefits,
            }))
        })
        .await
    }

    async fn upsert_person(&self, person_key: &str, person: &Person) -> Result<(), StorageError> {
        let p = person.clone();
        let key = person_key.to_owned();
        self.write(move |c| {
            upsert_person_row(c, &key, &p.id_number, &p.name, &p.region)?;
            c.execute(
                "DELETE FROM person_benefits WHERE person_key = ?1",
                params![key],
            )?;
            for b in &p.benefits {
                c.execute(
                    "INSERT INTO person_benefits (person_key, benefit, status, status_since, \
                     last_certified) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        key,
                        enum_str(&b.benefit),
                        enum_str(&b.status),
                        date_str(b.status_since),
                        b.last_certified.map(date_str)
                    ],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn import_benefit(
        &self,
        person_key: &str,
        id_number: &str,
        name: &str,
        region: &str,
        row: &RosterBenefit,
        today: Date,
    ) -> Result<bool, StorageError> {
        let (key, id, name, region, row) = (
            person_key.to_owned(),
            id_number.to_owned(),
            name.to_owned(),
            region.to_owned(),
            row.clone(),
        );
        self.write(move |c| {
            upsert_person_row(c, &key, &id, &name, &region)?;
            let benefit = enum_str(&row.benefit);
            let existed = c
                .query_row(
                    "SELECT 1 FROM person_benefits WHERE person_key = ?1 AND benefit = ?2",
                    params![key, benefit],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            c.execute(
                "INSERT INTO person_benefits (person_key, benefit, status, status_since, \
                 last_certified) VALUES (?1, ?2, ?3, coalesce(?4, ?6), ?5) \
                 ON CONFLICT (person_key, benefit) DO UPDATE SET status = excluded.status, \
                 status_since = coalesce(?4, person_benefits.status_since), \
                 last_certified = CASE WHEN person_benefits.last_certified IS NULL \
                 OR excluded.last_certified > person_benefits.last_certified \
                 THEN coalesce(excluded.last_certified, person_benefits.last_certified) \
                 ELSE person_benefits.last_certified END",
                params![
                    key,
                    benefit,
                    enum_str(&row.status),
                    row.status_since.map(date_str),
                    row.last_certified.map(date_str),
                    date_str(today),
                ],
            )?;
            Ok(!existed)
        })
        .await
    }

    async fn all_persons(&self) -> Result<Vec<Person>, StorageError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT p.id_number, p.name, p.region, b.benefit, b.status, b.status_since, \
                 b.last_certified FROM persons p LEFT JOIN person_benefits b \
                 ON b.person_key = p.person_key ORDER BY p.id_number, b.benefit",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out: Vec<Person> = Vec::new();
            for (id, name, region, b, st, since, last) in rows {
                if out.last().is_none_or(|p| p.id_number != id) {
                    out.push(Person {
                        id_number: id,
                        name,
                        region,
                        benefits: Vec::new(),
                    });
                }
                if let (Some(b), Some(st), Some(since), Some(p)) = (b, st, since, out.last_mut()) {
                    p.benefits.push(BenefitRow {
                        benefit: enum_parse(&b)?,
                        status: enum_parse(&st)?,
                        status_since: parse_date(&since)?,
                        last_certified: last.as_deref().map(parse_date).transpose()?,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn person_count(&self) -> Result<u64, StorageError> {
        self.read(|c| {
            Ok(u64_of(c.query_row(
                "SELECT count(*) FROM persons",
                [],
                |r| r.get(0),
            )?))
        })
        .await
    }

    async fn template(&self, subject_key: &str) -> Result<Option<Template>, StorageError> {
        let k = subject_key.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT model_id, version, embedding, updated_at FROM templates \
                     WHERE subject_key = ?1",
                )?
                .query_row(params![k], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            row.map(|(model_id, version, blob, at)| {
                Ok(Template {
                    model_id,
                    version: u32::try_from(version).unwrap_or(0),
                    embedding: embedding_from_bytes(&blob)?,
                    updated_at: from_ms(at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn upsert_template(
        &self,
        subject_key: &str,
        model_id: &str,
        embedding: &[f32],
        now: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        let (k, m, blob) = (
            subject_key.to_owned(),
            model_id.to_owned(),
            embedding_bytes(embedding),
        );
        self.write(move |c| {
            let v: i64 = c.query_row(
                "INSERT INTO templates (subject_key, model_id, version, embedding, updated_at) \
                 VALUES (?1, ?2, 1, ?3, ?4) \
                 ON CONFLICT (subject_key) DO UPDATE SET model_id = excluded.model_id, \
                 version = templates.version + 1, embedding = excluded.embedding, \
                 updated_at = excluded.updated_at RETURNING version",
                params![k, m, blob, ms(now)],
                |r| r.get(0),
            )?;
            Ok(u32::try_from(v).unwrap_or(0))
        })
        .await
    }

    async fn insert_certifications(
        &self,
        items: Vec<NewCertification>,
    ) -> Result<Vec<Inserted>, StorageError> {
        self.write(move |c| {
            let mut out = Vec::with_capacity(items.len());
            let mut insert = c.prepare_cached(&format!(
                "INSERT INTO certifications ({CERT_COLS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (id) DO NOTHING"
            ))?;
            let mut existing =
                c.prepare_cached("SELECT result FROM certifications WHERE id = ?1")?;
            let mut certified = c.prepare_cached(
                "UPDATE person_benefits SET last_certified = ?3 WHERE person_key = ?1 \
                 AND benefit = ?2 AND (last_certified IS NULL OR last_certified < ?3)",
            )?;
            for n in items {
                let id = n.id.to_string();
                let on = date_str(certified_on(n.certified_at));
                let stored = insert.execute(params![
                    id,
                    i64_of(n.device_seq),
                    n.device_id,
                    n.person_key,
                    enum_str(&n.benefit),
                    ms(n.certified_at),
                    on,
                    enum_str(&n.result),
                    enum_str(&n.method),
                    liveness_json(&n.liveness),
                    n.score.map(f64::from),
                    n.operator_masked,
                    ms(n.received_at),
                ])? == 1;
                if stored {
                    if n.result == CertResult::Passed {
                        certified.execute(params![n.person_key, enum_str(&n.benefit), on])?;
                    }
                    out.push(Inserted::Stored(n.result));
                } else {
                    let r: String = existing.query_row(params![id], |r| r.get(0))?;
                    out.push(Inserted::Duplicate(enum_parse(&r)?));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn certifications_for(
        &self,
        person_key: &str,
        limit: u32,
    ) -> Result<Vec<Certification>, StorageError> {
        let p = person_key.to_owned();
        self.read(move |c| {
            query_certs(
                c,
                &format!(
                    "SELECT {CERT_COLS} FROM certifications WHERE person_key = ?1 \
                     ORDER BY certified_at DESC, id DESC LIMIT ?2"
                ),
                params![p, i64::from(limit)],
            )
        })
        .await
    }

    async fn recent_certifications(&self, limit: u32) -> Result<Vec<Certification>, StorageError> {
        self.read(move |c| {
            query_certs(
                c,
                &format!(
                    "SELECT {CERT_COLS} FROM certifications ORDER BY received_at DESC, id DESC \
                     LIMIT ?1"
                ),
                params![i64::from(limit)],
            )
        })
        .await
    }

    async fn certification_count(&self) -> Result<u64, StorageError> {
        self.read(|c| {
            Ok(u64_of(c.query_row(
                "SELECT count(*) FROM certifications",
                [],
                |r| r.get(0),
            )?))
        })
        .await
    }

    async fn certification_results(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(CertResult, u64)>, StorageError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT result, count(*) FROM certifications WHERE certified_at >= ?1 \
                 AND certified_at < ?2 GROUP BY result ORDER BY result",
            )?;
            let rows = stmt
                .query_map(params![ms(from), ms(to)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(r, n)| Ok((enum_parse(&r)?, u64_of(n))))
                .collect()
        })
        .await
    }

    async fn audit(&self, e: AuditEntry) -> Result<(), StorageError> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO audit (at, event, outcome, device, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![ms(e.at), e.event, e.outcome, e.device, e.detail])?;
            Ok(())
        })
        .await
    }

    async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, event, outcome, device, detail FROM audit ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map(params![i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(at, event, outcome, device, detail)| {
                    Ok(AuditEntry {
                        at: from_ms(at)?,
                        event,
                        outcome,
                        device,
                        detail,
                    })
                })
                .collect()
        })
        .await
    }

    async fn audit_counts(&self, since: Date) -> Result<Vec<AuditCount>, StorageError> {
        let since_ms = ms(since.midnight().assume_utc());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT date(at / 1000, 'unixepoch') AS day, event, outcome, count(*) FROM audit \
                 WHERE at >= ?1 GROUP BY day, event, outcome ORDER BY day, event, outcome",
            )?;
            let rows = stmt
                .query_map(params![since_ms], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(day, event, outcome, n)| {
                    Ok(AuditCount {
                        day: parse_date(&day)?,
                        event,
                        outcome,
                        count: u64_of(n),
                    })
                })
                .collect()
        })
        .await
    }

    async fn audit_counts_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(String, String, u64)>, StorageError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT event, outcome, count(*) FROM audit WHERE at >= ?1 AND at < ?2 \
                 GROUP BY event, outcome ORDER BY event, outcome",
            )?;
            let rows = stmt
                .query_map(params![ms(from), ms(to)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        u64_of(r.get::<_, i64>(2)?),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// Inserts the person row or updates name and region (the key follows the ID).
fn upsert_person_row(
    c: &Connection,
    key: &str,
    id_number: &str,
    name: &str,
    region: &str,
) -> Result<(), StorageError> {
    c.prepare_cached(
        "INSERT INTO persons (id_number, person_key, name, region) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id_number) DO UPDATE SET name = excluded.name, region = excluded.region",
    )?
    .execute(params![id_number, key, name, region])?;
    Ok(())
}

fn benefits_of(c: &Connection, key: &str) -> Result<Vec<BenefitRow>, StorageError> {
    let mut stmt = c.prepare_cached(
        "SELECT benefit, status, status_since, last_certified FROM person_benefits \
         WHERE person_key = ?1 ORDER BY benefit",
    )?;
    let rows = stmt
        .query_map(params![key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(b, s, since, last)| {
            Ok(BenefitRow {
                benefit: enum_parse(&b)?,
                status: enum_parse(&s)?,
                status_since: parse_date(&since)?,
                last_certified: last.as_deref().map(parse_date).transpose()?,
            })
        })
        .collect()
}
