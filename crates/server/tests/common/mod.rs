//! Shared by tests/story.rs and benches/ingest.rs: start a real TLS server,
//! and a signing kiosk client over real HTTPS.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use lifecert_protocol::auth::DeviceKey;
use lifecert_server::RunningServer;
use lifecert_server::config::{Config, StorageConfig};

/// Which backend a run uses.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// The PostgreSQL URL for tests, or None after printing the skip line.
/// With `CI` set and no URL this panics: CI must test PostgreSQL.
pub fn pg_url() -> Option<String> {
    match std::env::var("LIFECERT_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but LIFECERT_TEST_PG_URL is not: PostgreSQL must be tested in CI"
                );
            }
            println!(
                "SKIPPED: set LIFECERT_TEST_PG_URL (scripts/test.sh starts a PostgreSQL cluster)"
            );
            None
        }
    }
}

/// A fresh, unique schema name.
pub fn unique_schema() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t_{}_{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// A config with TLS for `backend` in `dir`.
pub fn config(dir: &Path, backend: &Backend) -> (Config, String) {
    let tls = lifecert_server::testing::dev_tls(&dir.join("tls")).unwrap();
    let mut c = Config::for_test(&dir.join("data"), Some(tls.tls));
    if let Backend::Postgres(url) = backend {
        c.storage = StorageConfig::Postgres {
            url: url.clone(),
            pool_size: 16,
            schema: Some(unique_schema()),
        };
    }
    (c, tls.ca_pem)
}

/// An HTTPS client trusting only `ca_pem`.
pub fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .use_rustls_tls()
        .build()
        .unwrap()
}

/// An answer: status, JSON body (Null when not JSON), protocol header.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
    pub protocol: Option<String>,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let protocol = r
        .headers()
        .get("x-lifecert-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = r.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        json,
        protocol,
    }
}

/// A registered (or not) kiosk.
pub struct Kiosk {
    pub id: String,
    pub key: DeviceKey,
    pub http: reqwest::Client,
    pub base: String,
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Kiosk {
    pub fn new(server: &RunningServer, ca_pem: &str, id: &str) -> Kiosk {
        Kiosk {
            id: id.into(),
            key: DeviceKey::generate(),
            http: client(ca_pem),
            base: server.url(),
        }
    }

    /// Registers with a fresh token.
    pub async fn register(&self, server: &RunningServer) -> Answer {
        let token = lifecert_server::create_token(server.state.storage.as_ref(), 1)
            .await
            .unwrap();
        self.register_with(&token).await
    }

    pub async fn register_with(&self, token: &str) -> Answer {
        let body = serde_json::json!({
            "token": token, "device_id": self.id, "public_key": self.key.public_key_b64(),
            "name": "Kiosk", "site": "Test site", "version": "0.1.0"
        });
        answer(
            self.http
                .post(format!("{}/v1/devices/register", self.base))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A signed POST of `body`, with `edit` applied to (headers, body) after signing.
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        timestamp: i64,
        edit: impl FnOnce(&mut Vec<(String, String)>, &mut Vec<u8>),
    ) -> Answer {
        let h = self
            .key
            .sign_request(&self.id, "POST", path, timestamp, &body);
        let mut headers: Vec<(String, String)> = h
            .pairs()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut body = body;
        edit(&mut headers, &mut body);
        let mut req = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        answer(req.body(body).send().await.unwrap()).await
    }

    pub async fn post<T: serde::Serialize>(&self, path: &str, body: &T) -> Answer {
        self.post_raw(path, serde_json::to_vec(body).unwrap(), now(), |_, _| {})
            .await
    }
}

/// Drops the test schema of a PostgreSQL config (no-op for SQLite).
pub async fn drop_schema(config: &Config) {
    if let StorageConfig::Postgres {
        url,
        schema: Some(schema),
        ..
    } = &config.storage
    {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
    }
}

/// Scans every column of every table except `persons.id_number` for the
/// given full ID numbers. Returns (`table.column: id` findings, how many of
/// `ids` are in `persons.id_number` as a positive control).
pub async fn scan_for_ids(config: &Config, ids: &[&str]) -> (Vec<String>, usize) {
    let mut found = Vec::new();
    let mut control = 0;
    match &config.storage {
        StorageConfig::Sqlite { path } => {
            let c = rusqlite::Connection::open(path).unwrap();
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(tables.iter().any(|t| t == "certifications"));
            for t in &tables {
                let cols: Vec<String> = c
                    .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for col in &cols {
                    for id in ids {
                        let n: i64 = c
                            .query_row(
                                &format!(
                                    "SELECT count(*) FROM \"{t}\" WHERE \
                                     instr(CAST(\"{col}\" AS BLOB), ?1) > 0"
                                ),
                                [id.as_bytes().to_vec()],
                                |r| r.get(0),
                            )
                            .unwrap();
                        if n > 0 {
                            if t == "persons" && col == "id_number" {
                                control += 1;
                            } else {
                                found.push(format!("{t}.{col}: {id}"));
                            }
                        }
                    }
                }
            }
        }
        StorageConfig::Postgres { url, schema, .. } => {
            let schema = schema.clone().unwrap();
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(conn);
            let cols = client
                .query(
                    "SELECT table_name::text, column_name::text, data_type::text \
                     FROM information_schema.columns WHERE table_schema = $1",
                    &[&schema],
                )
                .await
                .unwrap();
            assert!(cols.len() > 20, "{} columns", cols.len());
            for row in &cols {
                let (t, col, ty): (String, String, String) = (row.get(0), row.get(1), row.get(2));
                for id in ids {
                    let q = if ty == "bytea" {
                        format!(
                            "SELECT count(*) FROM \"{schema}\".\"{t}\" \
                             WHERE position(convert_to($1, 'UTF8') in \"{col}\") > 0"
                        )
                    } else {
                        format!(
                            "SELECT count(*) FROM \"{schema}\".\"{t}\" \
                             WHERE strpos(\"{col}\"::text, $1) > 0"
                        )
                    };
                    let n: i64 = client.query_one(&q, &[id]).await.unwrap().get(0);
                    if n > 0 {
                        if t == "persons" && col == "id_number" {
                            control += 1;
                        } else {
                            found.push(format!("{t}.{col}: {id}"));
                        }
                    }
                }
            }
            drop(client);
            let _ = task.await;
        }
    }
    (found, control)
}
