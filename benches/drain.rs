//! `cargo bench --bench drain`: 10 000 sealed results in a kiosk outbox (real
//! SQLite file) drained by the kiosk's SyncWorker (batches of SYNC_BATCH, as
//! the kiosk does) into the real server (in-process, TLS, SQLite backend).
//! Target: ≤ 10 s on the 2-core reference machine.
//!
//! Prints the drain figure, the server row count check, and a rough profile:
//! time inside the HTTP upload calls (TLS + server work) versus the kiosk's
//! own outbox bookkeeping, plus stand-alone timings of signing, sealing,
//! opening and the server's SQLite inserts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/e2e_support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifecert::store::Store;
use lifecert::sync::SyncStatus;
use lifecert::sync::client::{Client, ClientError, ClientOptions};
use lifecert::sync::register::{RegisterOptions, register};
use lifecert::sync::seal::Sealer;
use lifecert::sync::worker::{SYNC_BATCH, SyncWorker, Transport};
use lifecert_core::id::IdNumber;
use lifecert_protocol::api::{Heartbeat, HeartbeatResponse, UploadBatch, UploadResponse};
use lifecert_protocol::auth::DeviceKey;
use lifecert_server::config::Config;
use lifecert_server::storage::Storage;
use time::OffsetDateTime;

const N: usize = 10_000;

/// The real client, timing each upload.
struct Timed {
    inner: Client,
    spent: Arc<Mutex<(Duration, u32)>>,
}

impl Transport for Timed {
    fn upload(&self, batch: &UploadBatch) -> Result<UploadResponse, ClientError> {
        let t = Instant::now();
        let r = self.inner.upload(batch);
        let mut s = self.spent.lock().unwrap();
        s.0 += t.elapsed();
        s.1 += 1;
        r
    }
    fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatResponse, ClientError> {
        self.inner.heartbeat(heartbeat)
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tls = lifecert_server::testing::dev_tls(&dir.path().join("tls")).unwrap();
    let config = Config::for_test(&dir.path().join("server"), Some(tls.tls.clone()));
    let server = rt.block_on(lifecert_server::serve(config)).unwrap();
    let storage = Arc::clone(&server.state.storage);
    rt.block_on(lifecert_server::seed::seed_demo(
        storage.as_ref(),
        &server.state.subject,
        lifecert_server::seed::today_cst(),
    ))
    .unwrap();
    let token = rt
        .block_on(lifecert_server::create_token(storage.as_ref(), 1))
        .unwrap();

    // The kiosk: registration, then the outbox.
    let kiosk_dir = dir.path().join("kiosk");
    let key_path = kiosk_dir.join("device.key");
    let reg = register(&RegisterOptions {
        server_url: server.url(),
        token,
        device_id: Some("kiosk-bench".into()),
        name: "bench".into(),
        site: "bench".into(),
        device_key_path: key_path.clone(),
        data_dir: kiosk_dir.clone(),
        ca_path: Some(tls.ca_path.clone()),
        timeout: Duration::from_secs(60),
    })
    .unwrap();
    let sealer = Sealer {
        device_id: reg.device_id.clone(),
        key: reg.sealing_key().unwrap(),
    };
    let db = kiosk_dir.join("lifecert.db");
    let mut store = Store::open(&db).unwrap().store;
    let t = Instant::now();
    for i in 0..N {
        let person = IdNumber::parse(support::PERSONS[i % support::PERSONS.len()]).unwrap();
        support::enqueue_sealed(&mut store, &sealer, &person, OffsetDateTime::now_utc());
    }
    let fill = t.elapsed();
    println!(
        "queue: {N} sealed results enqueued in {:.2} s ({:.0}/s, one durable transaction each)",
        secs(fill),
        N as f64 / secs(fill)
    );
    // Sealed payloads for the stand-alone opening timing below.
    let sample = store
        .due_batch(OffsetDateTime::now_utc() + time::Duration::days(1), 1000)
        .unwrap();

    let client = Client::new(&ClientOptions {
        base_url: server.url(),
        ca_path: Some(tls.ca_path.clone()),
        timeout: Duration::from_secs(60),
    })
    .unwrap()
    .signed(
        &reg.device_id,
        Arc::new(lifecert::sync::register::load_device_key(&key_path).unwrap()),
    );
    let spent = Arc::new(Mutex::new((Duration::ZERO, 0)));
    let mut worker = SyncWorker::new(
        Store::open(&db).unwrap().store,
        Box::new(Timed {
            inner: client,
            spent: Arc::clone(&spent),
        }),
        SyncStatus::shared(),
    );

    // ---- the measured drain ----
    let t = Instant::now();
    let report = worker.flush(OffsetDateTime::now_utc());
    let drain = t.elapsed();

    let stored = rt.block_on(storage.certification_count()).unwrap();
    let q = store.queue_status(OffsetDateTime::now_utc()).unwrap();
    println!(
        "drain: {N} results in {:.2} s ({:.0}/s), batch {SYNC_BATCH}",
        secs(drain),
        N as f64 / secs(drain)
    );
    println!(
        "check: server rows {stored}, kiosk acked {} pending {} dead {}, report {:?}",
        q.acked, q.pending, q.dead, report
    );
    let (http, calls) = *spent.lock().unwrap();
    println!(
        "profile: {calls} upload calls took {:.2} s (TLS + JSON + server: open, check, insert, commit); \
         kiosk bookkeeping (due_batch + mark_acked per item) {:.2} s",
        secs(http),
        secs(drain.saturating_sub(http))
    );

    // ---- rough stand-alone costs ----
    let key = DeviceKey::generate();
    let body = vec![b'x'; 100 * 600];
    let t = Instant::now();
    for _ in 0..100 {
        let _ = key.sign_request("kiosk-bench", "POST", "/v1/certifications", 0, &body);
    }
    println!(
        "profile: signing a 60 kB batch body: {:.3} ms each",
        secs(t.elapsed()) * 1000.0 / 100.0
    );
    let person = IdNumber::parse(support::WANG).unwrap();
    let t = Instant::now();
    for _ in 0..1000 {
        let wire = support::wire_record(&person, "kiosk-bench", OffsetDateTime::now_utc());
        sealer
            .seal_item(wire, uuid::Uuid::now_v7(), 1, None)
            .unwrap();
    }
    println!("profile: sealing one record: {:.3} ms", secs(t.elapsed()));
    let t = Instant::now();
    for item in &sample {
        let sealed = String::from_utf8(item.payload.clone()).unwrap();
        server.state.opening_key.open_b64(&sealed).unwrap();
    }
    println!(
        "profile: opening one record (server): {:.3} ms",
        secs(t.elapsed()) * 1000.0 / sample.len() as f64
    );
    // The server's SQLite inserts alone, batches of SYNC_BATCH, in a scratch database.
    let scratch =
        lifecert_server::storage::sqlite::SqliteStorage::open(&dir.path().join("scratch.db"))
            .unwrap();
    let t = Instant::now();
    for b in 0..(N / SYNC_BATCH) {
        let items = (0..SYNC_BATCH)
            .map(|i| lifecert_server::storage::NewCertification {
                id: uuid::Uuid::now_v7(),
                device_seq: (b * SYNC_BATCH + i) as u64,
                device_id: "kiosk-bench".into(),
                person_key: server.state.subject.person_key(support::WANG),
                benefit: lifecert_protocol::BenefitType::Pension,
                certified_at: OffsetDateTime::now_utc(),
                result: lifecert_protocol::CertResult::Passed,
                method: lifecert_protocol::Method::Kiosk,
                liveness: None,
                score: Some(0.9),
                operator_masked: None,
                received_at: OffsetDateTime::now_utc(),
            })
            .collect();
        rt.block_on(scratch.insert_certifications(items)).unwrap();
    }
    println!(
        "profile: server SQLite insert of {N} in batches of {SYNC_BATCH}: {:.2} s",
        secs(t.elapsed())
    );
    // The kiosk's per-item acknowledgement alone (one durable UPDATE each).
    let scratch_kiosk = dir.path().join("scratch-kiosk.db");
    let mut s = Store::open(&scratch_kiosk).unwrap().store;
    let ids: Vec<_> = (0..1000)
        .map(|_| support::enqueue_sealed(&mut s, &sealer, &person, OffsetDateTime::now_utc()).id)
        .collect();
    let t = Instant::now();
    for id in &ids {
        s.mark_acked(*id, OffsetDateTime::now_utc()).unwrap();
    }
    println!(
        "profile: kiosk mark_acked: {:.3} ms per item",
        secs(t.elapsed()) * 1000.0 / ids.len() as f64
    );

    assert_eq!(report.acked, N, "not every result was acknowledged");
    assert_eq!(stored, N as u64, "server row count");
    assert_eq!((q.pending, q.dead), (0, 0));
    rt.block_on(server.shutdown());
}
