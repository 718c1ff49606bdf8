//! PostgreSQL backend (tokio-postgres + deadpool-postgres).
//!
//! The schema comes from an append-only migration list tracked in
//! `schema_migrations (version)`; migrations run under an advisory lock so
//! several servers starting at once do not race. Nonces are a table with a
//! unique key, so a replay is caught across server processes.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use lifecert_protocol::CertResult;
use lifecert_protocol::api::Heartbeat;
use time::{Date, OffsetDateTime};
use tokio_postgres::types::FromSql;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use super::{
    AuditCount, AuditEntry, BenefitRow, Certification, Device, Inserted, NewCertification,
    NewDevice, Person, RegisterOutcome, RosterBenefit, Storage, StorageError, Template,
    certified_on, embedding_bytes, embedding_from_bytes, enum_parse, enum_str, health_json,
    liveness_json, liveness_parse,
};

/// Append only; never edit a shipped migration. Version = index + 1.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE persons (
    id_number  TEXT PRIMARY KEY,
    person_key TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    region     TEXT NOT NULL
);
CREATE TABLE person_benefits (
    person_key     TEXT NOT NULL REFERENCES persons (person_key) ON DELETE CASCADE,
    benefit        TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_since   DATE NOT NULL,
    last_certified DATE,
    PRIMARY KEY (person_key, benefit)
);
CREATE TABLE certifications (
    id              UUID PRIMARY KEY,
    device_seq      BIGINT NOT NULL,
    device_id       TEXT NOT NULL,
    person_key      TEXT NOT NULL,
    benefit         TEXT NOT NULL,
    certified_at    TIMESTAMPTZ NOT NULL,
    certified_on    DATE NOT NULL,
    result          TEXT NOT NULL,
    method          TEXT NOT NULL,
    liveness        TEXT,
    score           REAL,
    operator_masked TEXT,
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX certifications_by_person ON certifications (person_key, certified_at);
CREATE INDEX certifications_by_time ON certifications (certified_at);
CREATE INDEX certifications_by_received ON certifications (received_at);
CREATE TABLE templates (
    subject_key TEXT PRIMARY KEY,
    model_id    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    embedding   BYTEA NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    public_key     TEXT NOT NULL,
    name           TEXT NOT NULL,
    site           TEXT NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL,
    last_heartbeat TIMESTAMPTZ,
    version        TEXT NOT NULL,
    queue_depth    BIGINT NOT NULL DEFAULT 0,
    dead           BIGINT NOT NULL DEFAULT 0,
    oldest_pending BIGINT,
    health         TEXT NOT NULL DEFAULT '{}',
    revoked        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE device_tokens (
    token_sha256 TEXT PRIMARY KEY,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    used_by      TEXT
);
CREATE TABLE nonces (
    device_id TEXT NOT NULL,
    nonce     TEXT NOT NULL,
    seen_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_by_time ON nonces (seen_at);
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    event   TEXT NOT NULL,
    outcome TEXT NOT NULL,
    device  TEXT,
    detail  TEXT
);
CREATE INDEX audit_by_time ON audit (at);
"#];

/// The PostgreSQL backend.
#[derive(Clone)]
pub struct PgStorage {
    pool: Pool,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStorage")
    }
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl PgStorage {
    /// Connects, creates `schema` if given (and uses it on every connection),
    /// and applies pending migrations.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        schema: Option<&str>,
    ) -> Result<PgStorage, StorageError> {
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::Backend(format!("storage.postgres_url: {e}")))?;
        if let Some(schema) = schema {
            let (client, conn) = cfg.connect(NoTls).await?;
            let task = tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await?;
            drop(client);
            let _ = task.await;
            cfg.options(format!("-c search_path={schema}"));
        }
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .build()
            .map_err(|e| StorageError::Backend(e.to_string()))?;
        let storage = PgStorage { pool };
        storage.migrate().await?;
        Ok(storage)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One migrator at a time across processes.
        tx.execute("SELECT pg_advisory_xact_lock(7470331)", &[])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?;
        let current: i32 = col(&row, 0)?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            if version <= current {
                continue;
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
        if usize::try_from(current).unwrap_or(0) > MIGRATIONS.len() {
            return Err(StorageError::Backend(format!(
                "the database schema is version {current}, newer than this server knows ({}); \
                 update the server",
                MIGRATIONS.len()
            )));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A column value; a type mismatch is [`StorageError::Corrupt`], never a panic.
fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StorageError> {
    r.try_get(i)
        .map_err(|e| StorageError::Corrupt(format!("column {i}: {e}")))
}

fn row_device(r: &Row) -> Result<Device, StorageError> {
    Ok(Device {
        id: col(r, 0)?,
        public_key: col(r, 1)?,
        name: col(r, 2)?,
        site: col(r, 3)?,
        registered_at: col(r, 4)?,
        last_heartbeat: col(r, 5)?,
        version: col(r, 6)?,
        queue_depth: u64_of(col(r, 7)?),
        dead: u64_of(col(r, 8)?),
        health: col(r, 9)?,
        revoked: col(r, 10)?,
        oldest_pending_secs: col::<Option<i64>>(r, 11)?.map(u64_of),
    })
}

const DEVICE_COLS: &str = "id, public_key, name, site, registered_at, last_heartbeat, version, \
                           queue_depth, dead, health, revoked, oldest_pending";

const CERT_COLS: &str = "id, device_seq, device_id, person_key, benefit, certified_at, certified_on, \
                         result, method, liveness, score, operator_masked, received_at";

fn row_cert(r: &Row) -> Result<Certification, StorageError> {
    Ok(Certification {
        id: col::<Uuid>(r, 0)?,
        device_seq: u64_of(col(r, 1)?),
        device_id: col(r, 2)?,
        person_key: col(r, 3)?,
        benefit: enum_parse(col::<&str>(r, 4)?)?,
        certified_at: col(r, 5)?,
        certified_on: col(r, 6)?,
        result: enum_parse(col::<&str>(r, 7)?)?,
        method: enum_parse(col::<&str>(r, 8)?)?,
        liveness: liveness_parse(col(r, 9)?)?,
        score: col(r, 10)?,
        operator_masked: col(r, 11)?,
        received_at: col(r, 12)?,
    })
}

fn row_benefit(r: &Row, first: usize) -> Result<BenefitRow, StorageError> {
    Ok(BenefitRow {
        benefit: enum_parse(col::<&str>(r, first)?)?,
        status: enum_parse(col::<&str>(r, first + 1)?)?,
        status_since: col(r, first + 2)?,
        last_certified: col(r, first + 3)?,
    })
}

async fn upsert_person_row(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &str,
    id_number: &str,
    name: &str,
    region: &str,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO persons (id_number, person_key, name, region) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id_number) DO UPDATE SET name = excluded.name, region = excluded.region",
        &[&id_number, &key, &name, &region],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_token(
        &self,
        token_sha256: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO device_tokens (token_sha256, created_at, expires_at) VALUES ($1, $2, $3)",
            &[&token_sha256, &created_at, &expires_at],
        )
        .await?;
        Ok(())
    }

    async fn register_device(
        &self,
        token_sha256: &str,
        d: &NewDevice,
        now: OffsetDateTime,
    ) -> Result<RegisterOutcome, StorageError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let token = tx
            .query_opt(
                "SELECT 1 FROM device_tokens WHERE token_sha256 = $1 AND used_at IS NULL \
                 AND expires_at > $2 FOR UPDATE",
                &[&token_sha256, &now],
            )
            .await?;
        if token.is_none() {
            return Ok(RegisterOutcome::InvalidToken);
        }
        let inserted = tx
            .execute(
                "INSERT INTO devices (id, public_key, name, site, registered_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                &[&d.id, &d.public_key, &d.name, &d.site, &now, &d.version],
            )
            .await?;
        if inserted == 0 {
            return Ok(RegisterOutcome::DeviceExists);
        }
        tx.execute(
            "UPDATE device_tokens SET used_at = $2, used_by = $3 WHERE token_sha256 = $1",
            &[&token_sha256, &now, &d.id],
        )
        .await?;
        tx.commit().await?;
        Ok(RegisterOutcome::Registered)
    }

    async fn device(&self, id: &str) -> Result<Option<Device>, StorageError> {
        let c = self.pool.get().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"))
            .await?;
        c.query_opt(&stmt, &[&id])
            .await?
            .as_ref()
            .map(row_device)
            .transpose()
    }

    async fn devices(&self) -> Result<Vec<Device>, StorageError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                &format!("SELECT {DEVICE_COLS} FROM devices ORDER BY id"),
                &[],
            )
            .await?;
        rows.iter().map(row_device).collect()
    }

    async fn set_device_revoked(&self, id: &str, revoked: bool) -> Result<bool, StorageError> {
        let c = self.pool.get().await?;
        Ok(c.execute(
            "UPDATE devices SET revoked = $2 WHERE id = $1",
            &[&id, &revoked],
        )
        .await?
            > 0)
    }

    async fn heartbeat(
        &self,
        device: &str,
        h: &Heartbeat,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let c = self.pool.get().await?;
        c.execute(
            "UPDATE devices SET last_heartbeat = $2, version = $3, queue_depth = $4, dead = $5, \
             health = $6, oldest_pending = $7 WHERE id = $1",
            &[
                &device,
                &now,
                &h.version,
                &i64_of(h.queue_depth),
                &i64_of(h.dead),
                &health_json(h),
                &h.oldest_pending_secs.map(i64_of),
            ],
        )
        .await?;
        Ok(())
    }

    async fn record_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let c = self.pool.get().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO nonces (device_id, nonce, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        Ok(c.execute(&stmt, &[&device, &nonce, &now]).await? == 1)
    }

    async fn purge_nonces(&self, before: OffsetDateTime) -> Result<u64, StorageError> {
        let c = self.pool.get().await?;
        Ok(
            c.execute("DELETE FROM nonces WHERE seen_at < $1", &[&before])
                .await?,
        )
    }

    async fn create_operator(
        &self,
        id: &str,
        name: &str,
        secret_sha256: &str,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO operators (id, secret_sha256, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&id, &secret_sha256, &name, &now],
        )
        .await?;
        Ok(())
    }

    async fn operator_secret_hash(&self, id: &str) -> Result<Option<String>, StorageError> {
        let c = self.pool.get().await?;
        c.query_opt("SELECT secret_sha256 FROM operators WHERE id = $1", &[&id])
            .await?
            .map(|r| col(&r, 0))
            .transpose()
    }

    async fn person(&self, id_number: &str) -> Result<Option<Person>, StorageError> {
        let c = self.pool.get().await?;
        let stmt = c
            .prepare_cached("SELECT person_key, name, region FROM persons WHERE id_number = $1")
            .await?;
        let Some(row) = c.query_opt(&stmt, &[&id_number]).await? else {
            return Ok(None);
        };
        let key: &str = col(&row, 0)?;
        let stmt = c
            .prepare_cached(
                "SELECT benefit, status, status_since, last_certified FROM person_benefits \
                 WHERE person_key = $1 ORDER BY benefit",
            )
            .await?;
        let benefits = c
            .query(&stmt, &[&key])
            .await?
            .iter()
            .map(|r| row_benefit(r, 0))
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(Some(Person {
            id_number: id_number.to_owned(),
            name: col(&row, 1)?,
            region: col(&row, 2)?,
            benefits,
        }))
    }

    async fn upsert_person(&self, key: &str, p: &Person) -> Result<(), StorageError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        upsert_person_row(&tx, key, &p.id_number, &p.name, &p.region).await?;
        tx.execute("DELETE FROM person_benefits WHERE person_key = $1", &[&key])
            .await?;
        for b in &p.benefits {
            tx.execute(
                "INSERT INTO person_benefits (person_key, benefit, status, status_since, \
                 last_certified) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &key,
                    &enum_str(&b.benefit),
                    &enum_str(&b.status),
                    &b.status_since,
                    &b.last_certified,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn import_benefit(
        &self,
        key: &str,
        id_number: &str,
        name: &str,
        region: &str,
        row: &RosterBenefit,
        today: Date,
    ) -> Result<bool, StorageError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        upsert_person_row(&tx, key, id_number, name, region).await?;
        let benefit = enum_str(&row.benefit);
        let existed = tx
            .query_opt(
                "SELECT 1 FROM person_benefits WHERE person_key = $1 AND benefit = $2 FOR UPDATE",
                &[&key, &benefit],
            )
            .await?
            .is_some();
        tx.execute(
            "INSERT INTO person_benefits (person_key, benefit, status, status_since, \
             last_certified) VALUES ($1, $2, $3, coalesce($4::date, $6::date), $5::date) \
             ON CONFLICT (person_key, benefit) DO UPDATE SET status = excluded.status, \
             status_since = coalesce($4::date, person_benefits.status_since), \
             last_certified = greatest(person_benefits.last_certified, excluded.last_certified)",
            &[
                &key,
                &benefit,
                &enum_str(&row.status),
                &row.status_since,
                &row.last_certified,
                &today,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(!existed)
    }

    async fn all_persons(&self) -> Result<Vec<Person>, StorageError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT p.id_number, p.name, p.region, b.benefit, b.status, b.status_since, \
                 b.last_certified FROM persons p LEFT JOIN person_benefits b \
                 ON b.person_key = p.person_key ORDER BY p.id_number, b.benefit",
                &[],
            )
            .await?;
        let mut out: Vec<Person> = Vec::new();
        for r in &rows {
            let id: &str = col(r, 0)?;
            if out.last().is_none_or(|p| p.id_number != id) {
                out.push(Person {
                    id_number: id.to_owned(),
                    name: col(r, 1)?,
                    region: col(r, 2)?,
                    benefits: Vec::new(),
                });
            }
            if col::<Option<&str>>(r, 3)?.is_some()
                && let Some(p) = out.last_mut()
            {
                p.benefits.push(row_benefit(r, 3)?);
            }
        }
        Ok(out)
    }

    async fn person_count(&self) -> Result<u64, StorageError> {
        let c = self.pool.get().await?;
        Ok(u64_of(col(
            &c.query_one("SELECT count(*) FROM persons", &[]).await?,
            0,
        )?))
    }

    async fn template(&self, subject_key: &str) -> Result<Option<Template>, StorageError> {
        let c = self.pool.get().await?;
        let row = c
            .query_opt(
                "SELECT model_id, version, embedding, updated_at FROM templates \
                 WHERE subject_key = $1",
                &[&subject_key],
            )
            .await?;
        row.map(|r| {
            Ok(Template {
                model_id: col(&r, 0)?,
                version: u32::try_from(col::<i32>(&r, 1)?).unwrap_or(0),
                embedding: embedding_from_bytes(col::<&[u8]>(&r, 2)?)?,
                updated_at: col(&r, 3)?,
            })
        })
        .transpose()
    }

    async fn upsert_template(
        &self,
        subject_key: &str,
        model_id: &str,
        embedding: &[f32],
        now: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        let c = self.pool.get().await?;
        let row = c
            .query_one(
                "INSERT INTO templates (subject_key, model_id, version, embedding, updated_at) \
                 VALUES ($1, $2, 1, $3, $4) \
                 ON CONFLICT (subject_key) DO UPDATE SET model_id = excluded.model_id, \
                 version = templates.version + 1, embedding = excluded.embedding, \
                 updated_at = excluded.updated_at RETURNING version",
                &[&subject_key, &model_id, &embedding_bytes(embedding), &now],
            )
            .await?;
        Ok(u32::try_from(col::<i32>(&row, 0)?).unwrap_or(0))
    }

    async fn insert_certifications(
        &self,
        items: Vec<NewCertification>,
    ) -> Result<Vec<Inserted>, StorageError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let insert = tx
            .prepare_cached(&format!(
                "INSERT INTO certifications ({CERT_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .await?;
        let existing = tx
            .prepare_cached("SELECT result FROM certifications WHERE id = $1")
            .await?;
        let certified = tx
            .prepare_cached(
                "UPDATE person_benefits SET last_certified = $3 WHERE person_key = $1 \
                 AND benefit = $2 AND (last_certified IS NULL OR last_certified < $3)",
            )
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for n in items {
            let on: Date = certified_on(n.certified_at);
            let benefit = enum_str(&n.benefit);
            let stored = tx
                .execute(
                    &insert,
                    &[
                        &n.id,
                        &i64_of(n.device_seq),
                        &n.device_id,
                        &n.person_key,
                        &benefit,
                        &n.certified_at,
                        &on,
                        &enum_str(&n.result),
                        &enum_str(&n.method),
                        &liveness_json(&n.liveness),
                        &n.score,
                        &n.operator_masked,
                        &n.received_at,
                    ],
                )
                .await?
                == 1;
            if stored {
                if n.result == CertResult::Passed {
                    tx.execute(&certified, &[&n.person_key, &benefit, &on])
                        .await?;
                }
                out.push(Inserted::Stored(n.result));
            } else {
                let r = tx.query_one(&existing, &[&n.id]).await?;
                out.push(Inserted::Duplicate(enum_parse(col::<&str>(&r, 0)?)?));
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn certifications_for(
        &self,
        person_key: &str,
        limit: u32,
    ) -> Result<Vec<Certification>, StorageError> {
        let c = self.pool.get().await?;
        c.query(
            &format!(
                "SELECT {CERT_COLS} FROM certifications WHERE person_key = $1 \
                 ORDER BY certified_at DESC, id DESC LIMIT $2"
            ),
            &[&person_key, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(row_cert)
        .collect()
    }

    async fn recent_certifications(&self, limit: u32) -> Result<Vec<Certification>, StorageError> {
        let c = self.pool.get().await?;
        c.query(
            &format!(
                "SELECT {CERT_COLS} FROM certifications ORDER BY received_at DESC, id DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(row_cert)
        .collect()
    }

    async fn certification_count(&self) -> Result<u64, StorageError> {
        let c = self.pool.get().await?;
        Ok(u64_of(col(
            &c.query_one("SELECT count(*) FROM certifications", &[])
                .await?,
            0,
        )?))
    }

    async fn certification_results(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(CertResult, u64)>, StorageError> {
        let c = self.pool.get().await?;
        c.query(
            "SELECT result, count(*) FROM certifications WHERE certified_at >= $1 \
             AND certified_at < $2 GROUP BY result ORDER BY result",
            &[&from, &to],
        )
        .await?
        .iter()
        .map(|r| Ok((enum_parse(col::<&str>(r, 0)?)?, u64_of(col(r, 1)?))))
        .collect()
    }

    async fn audit(&self, e: AuditEntry) -> Result<(), StorageError> {
        let c = self.pool.get().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO audit (at, event, outcome, device, detail) VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        c.execute(&stmt, &[&e.at, &e.event, &e.outcome, &e.device, &e.detail])
            .await?;
        Ok(())
    }

    async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let c = self.pool.get().await?;
        c.query(
            "SELECT at, event, outcome, device, detail FROM audit ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                at: col(r, 0)?,
                event: col(r, 1)?,
                outcome: col(r, 2)?,
                device: col(r, 3)?,
                detail: col(r, 4)?,
            })
        })
        .collect()
    }

    async fn audit_counts(&self, since: Date) -> Result<Vec<AuditCount>, StorageError> {
        let c = self.pool.get().await?;
        let since = since.midnight().assume_utc();
        c.query(
            "SELECT (at AT TIME ZONE 'UTC')::date AS day, event, outcome, count(*) FROM audit \
                 WHERE at >= $1 GROUP BY day, event, outcome ORDER BY day, event, outcome",
            &[&since],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(AuditCount {
                day: col(r, 0)?,
                event: col(r, 1)?,
                outcome: col(r, 2)?,
                count: u64_of(col(r, 3)?),
            })
        })
        .collect()
    }

    async fn audit_counts_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(String, String, u64)>, StorageError> {
        let c = self.pool.get().await?;
        c.query(
            "SELECT event, outcome, count(*) FROM audit WHERE at >= $1 AND at < $2 \
             GROUP BY event, outcome ORDER BY event, outcome",
            &[&from, &to],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, u64_of(col(r, 2)?))))
        .collect()
    }
}
