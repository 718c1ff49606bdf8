//! Ingest load generator: a real TLS server on loopback, K registered
//! kiosks uploading signed, sealed batches for N seconds.
//!
//! `cargo bench -p lifecert-server --bench ingest` (env: LIFECERT_BENCH_SECS,
//! LIFECERT_BENCH_DEVICES, LIFECERT_BENCH_BATCH, LIFECERT_TEST_PG_URL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, Kiosk, now};
use lifecert_protocol::api::{ItemKind, UploadBatch, UploadItem};
use lifecert_protocol::seal::SealingKey;
use lifecert_protocol::{BenefitType, CertResult, CertificationRecord, Method};
use uuid::Uuid;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const PEOPLE: [&str; 3] = [
    "110105195203150013",
    "110105194807220022",
    "110105196011200084",
];

fn batch(seal: &SealingKey, device: &str, first_seq: u64, n: u64) -> Vec<u8> {
    let items = (0..n)
        .map(|i| {
            let r = CertificationRecord {
                id: Uuid::now_v7(),
                device_seq: first_seq + i,
                device_id: device.into(),
                person_id: PEOPLE[(i % 3) as usize].into(),
                benefit: BenefitType::Pension,
                certified_at: time::OffsetDateTime::now_utc(),
                result: CertResult::Passed,
                method: Method::Kiosk,
                liveness: None,
                score: Some(0.9),
                operator_masked: None,
            };
            UploadItem {
                id: r.id,
                device_seq: r.device_seq,
                kind: ItemKind::Certification,
                sealed: seal.seal_b64(&serde_json::to_vec(&r).unwrap()).unwrap(),
            }
        })
        .collect();
    serde_json::to_vec(&UploadBatch { items }).unwrap()
}

async fn run(name: &str, backend: Backend) {
    let secs = env("LIFECERT_BENCH_SECS", 5);
    let devices = env("LIFECERT_BENCH_DEVICES", 8);
    let per = env("LIFECERT_BENCH_BATCH", 50);
    let dir = tempfile::tempdir().unwrap();
    let (config, ca) = common::config(dir.path(), &backend);
    let mut config = config;
    config.limits.requests_per_minute_per_device = 1_000_000;
    let cfg_copy = config.clone();
    let server = lifecert_server::serve(config).await.unwrap();
    let seal = server.state.opening_key.public();
    // Sealed batches are made before the clock starts (sealing is kiosk work).
    let batches_per_device = (secs * 25_000 / per / devices).max(4) as usize;
    let mut kiosks = Vec::new();
    for d in 0..devices {
        let k = Kiosk::new(&server, &ca, &format!("bench-{d}"));
        assert_eq!(k.register(&server).await.status, 200);
        let seal = seal.clone();
        let id = k.id.clone();
        let bodies = tokio::task::spawn_blocking(move || {
            (0..batches_per_device)
                .map(|b| batch(&seal, &id, 1 + (b as u64) * per, per))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        kiosks.push((k, bodies));
    }
    let total = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (k, bodies) in kiosks {
        let total = Arc::clone(&total);
        tasks.push(tokio::spawn(async move {
            for body in bodies {
                if Instant::now() >= deadline {
                    break;
                }
                let a = k
                    .post_raw("/v1/certifications", body, now(), |_, _| {})
                    .await;
                assert_eq!(a.status, 200, "{:?}", a.json);
                let stored = a.json["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["outcome"] == "stored")
                    .count();
                total.fetch_add(stored as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = total.load(Ordering::Relaxed);
    let in_db = server.state.storage.certification_count().await.unwrap();
    assert_eq!(in_db, n, "every stored answer is a row");
    println!(
        "ingest {name}: {:.0} certifications/s ({n} total, {elapsed:.1} s, {devices} devices, {per} per batch)",
        n as f64 / elapsed
    );
    server.shutdown().await;
    common::drop_schema(&cfg_copy).await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run("sqlite", Backend::Sqlite).await;
        match std::env::var("LIFECERT_TEST_PG_URL") {
            Ok(url) if !url.is_empty() => run("postgres", Backend::Postgres(url)).await,
            _ => println!("ingest postgres: SKIPPED: set LIFECERT_TEST_PG_URL"),
        }
    });
}
