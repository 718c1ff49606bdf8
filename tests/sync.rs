//! The kiosk's sync: the worker over a fake transport on a real SQLite
//! outbox, the real HTTPS client against a tiny rustls server with
//! rcgen-made certificates, registration, and the sealed outbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecert::kiosk::driver::{Driver, Ports};
use lifecert::kiosk::vision_worker::FakeCapture;
use lifecert::kiosk::{AppEvent, EventSink, EvidenceSlot, ManualClock, Waker};
use lifecert::store::{NewRecord, Store};
use lifecert::sync::client::{Client, ClientError, ClientOptions};
use lifecert::sync::register::{RegisterError, RegisterOptions, Registration, register};
use lifecert::sync::seal::Sealer;
use lifecert::sync::worker::{SyncWorker, Transport};
use lifecert::sync::{SyncStatus, chain};
use lifecert_core::flow::{Effect, Event, RequestId, ResultRecord};
use lifecert_core::id::IdNumber;
use lifecert_protocol::api::{
    Heartbeat, HeartbeatResponse, UploadBatch, UploadOutcome, UploadResponse, UploadResult,
};
use lifecert_protocol::seal::OpeningKey;
use lifecert_protocol::{CertResult, ErrorBody, Method};
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);
const PERSON: &str = "110105195203150013";

// ---------------------------------------------------------------- worker

/// What the fake server answers to one upload.
enum Answer {
    /// Per item: the outcome for the item with this seq (default stored).
    Items(BTreeMap<u64, UploadOutcome>),
    Error(ClientError),
}

#[derive(Clone, Default)]
struct FakeTransport {
    answers: Arc<Mutex<std::collections::VecDeque<Answer>>>,
    /// The seqs of each upload request.
    seen: Arc<Mutex<Vec<Vec<u64>>>>,
    heartbeats: Arc<Mutex<Vec<Heartbeat>>>,
}

impl FakeTransport {
    fn push(&self, a: Answer) {
        self.answers.lock().unwrap().push_back(a);
    }
    fn seen(&self) -> Vec<Vec<u64>> {
        self.seen.lock().unwrap().clone()
    }
}

fn status_error(status: u16, code: &str) -> ClientError {
    ClientError::Status {
        status,
        body: ErrorBody {
            code: code.into(),
            message: "test".into(),
        },
    }
}

impl Transport for FakeTransport {
    fn upload(&self, batch: &UploadBatch) -> Result<UploadResponse, ClientError> {
        self.seen
            .lock()
            .unwrap()
            .push(batch.items.iter().map(|i| i.device_seq).collect());
        match self.answers.lock().unwrap().pop_front() {
            Some(Answer::Error(e)) => Err(e),
            answer => {
                let special = match answer {
                    Some(Answer::Items(m)) => m,
                    _ => BTreeMap::new(),
                };
                Ok(UploadResponse {
                    results: batch
                        .items
                        .iter()
                        .map(|i| {
                            let outcome = special
                                .get(&i.device_seq)
                                .copied()
                                .unwrap_or(UploadOutcome::Stored);
                            UploadResult {
                                id: i.id,
                                outcome,
                                result: Some(CertResult::Passed),
                                code: (outcome == UploadOutcome::Rejected)
                                    .then(|| "cannot_open".to_string()),
                            }
                        })
                        .collect(),
                })
            }
        }
    }
    fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatResponse, ClientError> {
        self.heartbeats.lock().unwrap().push(heartbeat.clone());
        Ok(HeartbeatResponse {
            server_time: T0,
            protocol: 1,
        })
    }
}

fn record() -> NewRecord {
    NewRecord {
        person_masked: "1101**********0013".into(),
        person_key: "k".into(),
        benefit: "pension".into(),
        result: "passed".into(),
        method: "kiosk".into(),
        certified_at: T0,
        next_due: None,
        operator_masked: None,
        receipt: None,
    }
}

/// A temp outbox with `n` sealed certification items; the worker on a second connection.
fn outbox(n: usize, transport: &FakeTransport) -> (tempfile::TempDir, Store, SyncWorker) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecert.db");
    let mut store = Store::open(&db).unwrap().store;
    for _ in 0..n {
        store
            .enqueue(&record(), "certification", b"c2VhbGVk", T0)
            .unwrap();
    }
    let worker = SyncWorker::new(
        Store::open(&db).unwrap().store,
        Box::new(transport.clone()),
        SyncStatus::shared(),
    )
    .with_jitter(|| 1.0);
    (dir, store, worker)
}

#[test]
fn drains_everything_due_in_seq_order_in_batches() {
    let t = FakeTransport::default();
    let (_dir, store, worker) = outbox(7, &t);
    let mut worker = worker.with_batch_size(3);
    let report = worker.drain(T0);
    assert_eq!(report.acked, 7);
    assert!(!report.failed());
    assert_eq!(t.seen(), vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    let q = store.queue_status(T0).unwrap();
    assert_eq!((q.pending, q.acked, q.dead), (0, 7, 0));
    // Nothing left: no more requests.
    assert_eq!(worker.drain(T0).acked, 0);
    assert_eq!(t.seen().len(), 3);
}

#[test]
fn default_batch_is_one_hundred_items() {
    let t = FakeTransport::default();
    let (_dir, _store, mut worker) = outbox(150, &t);
    assert_eq!(worker.drain(T0).acked, 150);
    let sizes: Vec<usize> = t.seen().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![100, 50]);
}

#[test]
fn rejected_items_are_dead_letters_and_duplicates_acks() {
    let t = FakeTransport::default();
    let (_dir, store, mut worker) = outbox(3, &t);
    t.push(Answer::Items(BTreeMap::from([
        (1, UploadOutcome::Duplicate),
        (2, UploadOutcome::Rejected),
    ])));
    let report = worker.drain(T0);
    assert_eq!((report.acked, report.dead), (2, 1));
    let q = store.queue_status(T0).unwrap();
    assert_eq!((q.pending, q.acked, q.dead), (0, 2, 1));
    assert!(
        store
            .last_dead_error()
            .unwrap()
            .unwrap()
            .contains("cannot_open")
    );
    // retry-dead puts it back; the next drain sends it alone.
    assert_eq!(store.retry_dead(T0).unwrap(), 1);
    assert_eq!(worker.drain(T0).acked, 1);
    assert_eq!(t.seen().last().unwrap(), &vec![2]);
}

#[test]
fn transport_failure_retries_with_backoff_and_keeps_order() {
    let t = FakeTransport::default();
    let (_dir, store, mut worker) = outbox(3, &t);
    t.push(Answer::Error(status_error(503, "internal")));
    let report = worker.drain(T0);
    let (after, why) = report.retry.clone().unwrap();
    assert_eq!(
        after,
        Duration::from_secs(5),
        "first retry: base delay (jitter 1.0)"
    );
    assert!(why.contains("503"), "{why}");
    assert_eq!(report.acked, 0);
    // Paused: nothing is sent before the delay.
    assert_eq!(worker.drain(T0 + Duration::from_secs(4)).acked, 0);
    assert_eq!(t.seen().len(), 1);
    let items = store.due_batch(T0 + Duration::from_secs(5), 10).unwrap();
    assert!(items.iter().all(|i| i.attempts == 1));
    assert!(items[0].last_error.as_deref().unwrap().contains("503"));
    // After the delay all go, in seq order; the second failure doubles the delay.
    t.push(Answer::Error(status_error(429, "rate_limited")));
    let r2 = worker.drain(T0 + Duration::from_secs(5));
    assert_eq!(r2.retry.unwrap().0, Duration::from_secs(10));
    let r3 = worker.drain(T0 + Duration::from_secs(15));
    assert_eq!(r3.acked, 3);
    assert_eq!(t.seen(), vec![vec![1, 2, 3], vec![1, 2, 3], vec![1, 2, 3]]);
}

#[test]
fn protocol_mismatch_stops_syncing_and_alerts_staff() {
    let t = FakeTransport::default();
    let (_dir, store, mut worker) = outbox(2, &t);
    t.push(Answer::Error(status_error(426, "protocol_mismatch")));
    let report = worker.drain(T0);
    let alert = report.stopped.unwrap();
    assert!(alert.contains("协议版本不一致"), "{alert}");
    assert_eq!(worker.status().stopped().as_deref(), Some(alert.as_str()));
    // Stopped until restart: nothing more is sent, items stay pending.
    assert!(
        worker
            .drain(T0 + Duration::from_secs(3600))
            .stopped
            .is_some()
    );
    assert_eq!(t.seen().len(), 1);
    let q = store.queue_status(T0).unwrap();
    assert_eq!((q.pending, q.dead), (2, 0));
}

#[test]
fn unknown_device_stops_with_a_register_hint() {
    let t = FakeTransport::default();
    let (_dir, _store, mut worker) = outbox(1, &t);
    t.push(Answer::Error(status_error(401, "unknown_device")));
    let alert = worker.drain(T0).stopped.unwrap();
    assert!(alert.contains("lifecert register"), "{alert}");
}

#[test]
fn a_refused_batch_is_resent_one_by_one_to_find_the_culprit() {
    let t = FakeTransport::default();
    let (_dir, store, mut worker) = outbox(3, &t);
    t.push(Answer::Error(status_error(422, "invalid")));
    t.push(Answer::Items(BTreeMap::new()));
    t.push(Answer::Error(status_error(422, "invalid")));
    t.push(Answer::Items(BTreeMap::new()));
    let report = worker.drain(T0);
    assert_eq!((report.acked, report.dead), (2, 1));
    assert_eq!(t.seen(), vec![vec![1, 2, 3], vec![1], vec![2], vec![3]]);
    let q = store.queue_status(T0).unwrap();
    assert_eq!((q.pending, q.acked, q.dead), (0, 2, 1));
}

#[test]
fn heartbeat_reports_the_queue() {
    let t = FakeTransport::default();
    let (_dir, _store, mut worker) = outbox(2, &t);
    worker.heartbeat(T0 + Duration::from_secs(90)).unwrap();
    let hb = t.heartbeats.lock().unwrap()[0].clone();
    assert_eq!(hb.queue_depth, 2);
    assert_eq!(hb.dead, 0);
    assert_eq!(hb.oldest_pending_secs, Some(90));
    assert_eq!(hb.version, env!("CARGO_PKG_VERSION"));
}

// ---------------------------------------------------------------- sealed outbox

#[test]
fn the_outbox_holds_neither_the_id_number_nor_the_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecert.db");
    let opening = OpeningKey::generate();
    let evidence = EvidenceSlot::default();
    let capture = FakeCapture::default();
    let (sink, events) = EventSink::channel(Waker::default());
    let clock = ManualClock::new(datetime!(2026-11-22 10:00 +8));
    let ports = Ports {
        speaker: Box::new(lifecert::audio::RecordingSpeaker::new()),
        capture: Box::new(capture),
        central: Arc::new(lifecert::sync::central::Unregistered),
        printer: None,
        clock: Arc::new(clock),
        store: Store::open(&db).unwrap().store,
        sync: None,
        heartbeat: Duration::from_secs(300),
        sealer: Some(Sealer {
            device_id: "kiosk-7".into(),
            key: opening.public(),
        }),
        evidence: evidence.clone(),
        pin: lifecert::config::PinHash::parse(lifecert::config::DEMO_PIN_HASH).unwrap(),
        device_id: "kiosk-7".into(),
        printer_status: Default::default(),
    };
    let mut driver = Driver::start(ports, sink).unwrap();
    let person = IdNumber::parse(PERSON).unwrap();
    // Distinctive embedding values, easy to search for.
    let embedding: Vec<f32> = (0..128)
        .map(|i| 0.123_456_7 + i as f32 * 0.001_234_5)
        .collect();
    let capture_request = RequestId(41);
    driver.run(vec![Effect::StartCapture {
        request: capture_request,
        person: person.clone(),
        attempt: 1,
        offline: true,
    }]);
    // The vision worker leaves the evidence, then the flow records the result.
    evidence.put(capture_request, embedding.clone());
    driver.run(vec![Effect::RecordResult {
        request: RequestId(42),
        record: ResultRecord {
            person: person.clone(),
            operator: None,
            benefit: None,
            result: CertResult::Accepted,
            method: Method::OfflineEvidence,
            at: datetime!(2026-11-22 10:30 +8),
            next: None,
            score: None,
        },
    }]);
    let mut recorded = false;
    for _ in 0..400 {
        match events.recv_timeout(Duration::from_secs(5)).unwrap() {
            AppEvent::Flow(Event::Recorded { request, .. }) => {
                assert_eq!(request, RequestId(42));
                recorded = true;
                break;
            }
            AppEvent::Flow(Event::RecordFailed { .. }) => panic!("record failed"),
            _ => {}
        }
    }
    assert!(recorded);
    assert!(evidence.is_empty(), "the evidence was taken (and wiped)");
    drop(driver);
    // Scan the whole database (and WAL) for the ID number and the floats.
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("lifecert.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(PERSON), "full ID number on disk");
    assert!(
        !text.contains("19520315"),
        "birth date part of the ID on disk"
    );
    for v in &embedding {
        assert!(
            !text.contains(&format!("{v}")),
            "embedding value {v} on disk"
        );
        assert!(
            !text.contains(&format!("{v:.6}")),
            "embedding value {v} on disk"
        );
        let le = v.to_le_bytes();
        assert!(!bytes.windows(4).any(|w| w == le), "raw f32 {v} on disk");
    }
    // The outbox item opens (server side) to evidence with the same id/seq.
    let store = Store::open(&db).unwrap().store;
    let items = store
        .due_batch(T0 + Duration::from_secs(86_400), 10)
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].kind, "evidence");
    let sealed = String::from_utf8(items[0].payload.clone()).unwrap();
    let opened: lifecert_protocol::api::Evidence =
        serde_json::from_slice(&opening.open_b64(&sealed).unwrap()).unwrap();
    assert_eq!(opened.record.id, items[0].id);
    assert_eq!(opened.record.device_seq, 1);
    assert_eq!(opened.record.device_id, "kiosk-7");
    assert_eq!(opened.record.person_id, PERSON);
    assert_eq!(opened.record.method, Method::OfflineEvidence);
    assert_eq!(opened.embedding, embedding);
}

#[test]
fn an_unregistered_kiosk_refuses_to_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecert.db");
    let (sink, events) = EventSink::channel(Waker::default());
    let ports = Ports {
        speaker: Box::new(lifecert::audio::RecordingSpeaker::new()),
        capture: Box::new(FakeCapture::default()),
        central: Arc::new(lifecert::sync::central::Unregistered),
        printer: None,
        clock: Arc::new(ManualClock::new(T0)),
        store: Store::open(&db).unwrap().store,
        sync: None,
        heartbeat: Duration::from_secs(300),
        sealer: None,
        evidence: EvidenceSlot::default(),
        pin: lifecert::config::PinHash::parse(lifecert::config::DEMO_PIN_HASH).unwrap(),
        device_id: "k".into(),
        printer_status: Default::default(),
    };
    let mut driver = Driver::start(ports, sink).unwrap();
    driver.run(vec![Effect::RecordResult {
        request: RequestId(1),
        record: ResultRecord {
            person: IdNumber::parse(PERSON).unwrap(),
            operator: None,
            benefit: None,
            result: CertResult::Passed,
            method: Method::Kiosk,
            at: T0,
            next: None,
            score: Some(0.9),
        },
    }]);
    loop {
        if let AppEvent::Flow(e) = events.recv_timeout(Duration::from_secs(5)).unwrap() {
            assert_eq!(
                e,
                Event::RecordFailed {
                    request: RequestId(1)
                }
            );
            break;
        }
    }
    let q = Store::open(&db).unwrap().store.queue_status(T0).unwrap();
    assert_eq!(q.pending, 0, "nothing stored unsealed");
}

// ---------------------------------------------------------------- TLS

struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lifecert test fleet CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_der: leaf.der().to_vec(),
        key_der: leaf_key.serialize_der(),
    }
}

/// A tiny HTTPS server: answers each request from `routes` ("METHOD /path"
/// → (status, body)) with the protocol header, one request per connection.
struct TestServer {
    url: String,
    requests: Arc<Mutex<Vec<Seen>>>,
}

/// One request the test server saw: route, headers, body.
type Seen = (String, BTreeMap<String, String>, Vec<u8>);

fn serve(pki: &Pki, routes: BTreeMap<String, (u16, String)>) -> TestServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(
                pki.cert_der.clone(),
            )],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.key_der.clone().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || line.is_empty() {
                continue; // handshake refused by the client
            }
            let mut parts = line.split_whitespace();
            let key = format!(
                "{} {}",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("")
            );
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            drop(reader);
            seen.lock().unwrap().push((key.clone(), headers, body));
            let (status, text) = routes
                .get(&key)
                .cloned()
                .unwrap_or((404, r#"{"code":"not_found","message":"no route"}"#.into()));
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nx-lifecert-protocol: 1\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = tls.write_all(response.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    TestServer {
        url: format!("https://localhost:{port}"),
        requests,
    }
}

fn client_with_ca(url: &str, ca_pem: &str, dir: &std::path::Path) -> Client {
    let ca = dir.join("fleet-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    Client::new(&ClientOptions {
        base_url: url.into(),
        ca_path: Some(ca),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

#[test]
fn signed_requests_over_tls_with_the_fleet_ca() {
    let pki = pki();
    let server = serve(
        &pki,
        BTreeMap::from([(
            "POST /v1/heartbeat".to_string(),
            (
                200,
                r#"{"server_time":"2026-11-22T10:00:00Z","protocol":1}"#.to_string(),
            ),
        )]),
    );
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(lifecert_protocol::auth::DeviceKey::generate());
    let client =
        client_with_ca(&server.url, &pki.ca_pem, dir.path()).signed("kiosk-1", Arc::clone(&key));
    let hb = Heartbeat {
        queue_depth: 3,
        dead: 0,
        oldest_pending_secs: None,
        version: "t".into(),
        health: BTreeMap::new(),
    };
    let answer = Transport::heartbeat(&client, &hb).unwrap();
    assert_eq!(answer.protocol, 1);
    let requests = server.requests.lock().unwrap();
    let (route, headers, body) = &requests[0];
    assert_eq!(route, "POST /v1/heartbeat");
    assert_eq!(headers["x-lifecert-protocol"], "1");
    assert_eq!(headers["x-lifecert-device"], "kiosk-1");
    // The signature covers the exact bytes sent.
    let public = lifecert_protocol::auth::parse_public_key(&key.public_key_b64()).unwrap();
    lifecert_protocol::auth::verify_request(
        &public,
        "POST",
        "/v1/heartbeat",
        headers["x-lifecert-timestamp"].parse().unwrap(),
        &headers["x-lifecert-nonce"],
        body,
        &headers["x-lifecert-signature"],
    )
    .unwrap();
    let sent: Heartbeat = serde_json::from_slice(body).unwrap();
    assert_eq!(sent, hb);
}

#[test]
fn another_ca_is_refused_with_the_certificate_problem_in_the_chain() {
    let pki_server = pki();
    let other = pki();
    let server = serve(
        &pki_server,
        BTreeMap::from([(
            "GET /v1/server-key".to_string(),
            (200, r#"{"sealing_key":"x","protocol":1}"#.to_string()),
        )]),
    );
    let dir = tempfile::tempdir().unwrap();
    let client = client_with_ca(&server.url, &other.ca_pem, dir.path());
    let err = client
        .get::<lifecert_protocol::api::ServerKey>("/v1/server-key")
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    let text = chain(&err);
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(server.requests.lock().unwrap().is_empty());
}

#[test]
fn error_answers_are_parsed_into_error_bodies() {
    let pki = pki();
    let server = serve(
        &pki,
        BTreeMap::from([(
            "POST /v1/certifications".to_string(),
            (
                426,
                r#"{"code":"protocol_mismatch","message":"upgrade"}"#.to_string(),
            ),
        )]),
    );
    let dir = tempfile::tempdir().unwrap();
    let client = client_with_ca(&server.url, &pki.ca_pem, dir.path()).signed(
        "k",
        Arc::new(lifecert_protocol::auth::DeviceKey::generate()),
    );
    let err = Transport::upload(&client, &UploadBatch { items: vec![] }).unwrap_err();
    assert_eq!(err.status(), Some((426, "protocol_mismatch")));
}

#[test]
fn unreachable_server_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(&ClientOptions {
        base_url: format!("http://127.0.0.1:{port}"),
        ca_path: None,
        timeout: Duration::from_secs(3),
    })
    .unwrap();
    let err = client
        .get::<serde_json::Value>("/v1/server-key")
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
}

// ---------------------------------------------------------------- register

fn register_options(url: &str, dir: &std::path::Path, ca: &str) -> RegisterOptions {
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca).unwrap();
    RegisterOptions {
        server_url: url.into(),
        token: "tok-123".into(),
        device_id: Some("kiosk-reg".into()),
        name: "村服务点".into(),
        site: "某村".into(),
        device_key_path: dir.join("keys/device.key"),
        data_dir: dir.join("data"),
        ca_path: Some(ca_path),
        timeout: Duration::from_secs(10),
    }
}

#[test]
fn register_writes_server_json_and_a_private_key() {
    let pki = pki();
    let sealing = OpeningKey::generate().public().to_b64();
    let server = serve(
        &pki,
        BTreeMap::from([
            (
                "GET /v1/server-key".to_string(),
                (
                    200,
                    format!(r#"{{"sealing_key":"{sealing}","protocol":1}}"#),
                ),
            ),
            (
                "POST /v1/devices/register".to_string(),
                (
                    200,
                    format!(
                        r#"{{"device_id":"kiosk-reg","sealing_key":"{sealing}","protocol":1}}"#
                    ),
                ),
            ),
        ]),
    );
    let dir = tempfile::tempdir().unwrap();
    let options = register_options(&server.url, dir.path(), &pki.ca_pem);
    let r = register(&options).unwrap();
    assert_eq!(r.device_id, "kiosk-reg");
    assert_eq!(r.sealing_key, sealing);
    let saved = Registration::load(&options.data_dir).unwrap().unwrap();
    assert_eq!(saved, r);
    assert_eq!(saved.server_url, server.url);
    let key = std::fs::read(&options.device_key_path).unwrap();
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&options.device_key_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let requests = server.requests.lock().unwrap();
    let (_, _, body) = requests
        .iter()
        .find(|(k, _, _)| k == "POST /v1/devices/register")
        .unwrap();
    let sent: lifecert_protocol::api::RegisterRequest = serde_json::from_slice(body).unwrap();
    assert_eq!(sent.token, "tok-123");
    let stored = lifecert_protocol::auth::DeviceKey::from_bytes(&key.try_into().unwrap());
    assert_eq!(sent.public_key, stored.public_key_b64());
}

#[test]
fn register_explains_a_bad_token_and_an_existing_device() {
    let pki = pki();
    let sealing = OpeningKey::generate().public().to_b64();
    for (status, code, want) in [
        (403, "invalid_token", "create a new one on the admin page"),
        (409, "device_exists", "already registered"),
    ] {
        let server = serve(
            &pki,
            BTreeMap::from([
                (
                    "GET /v1/server-key".to_string(),
                    (
                        200,
                        format!(r#"{{"sealing_key":"{sealing}","protocol":1}}"#),
                    ),
                ),
                (
                    "POST /v1/devices/register".to_string(),
                    (status, format!(r#"{{"code":"{code}","message":"m"}}"#)),
                ),
            ]),
        );
        let dir = tempfile::tempdir().unwrap();
        let options = register_options(&server.url, dir.path(), &pki.ca_pem);
        let err = register(&options).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
        assert!(Registration::load(&options.data_dir).unwrap().is_none());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut options = register_options("https://127.0.0.1:9", dir.path(), &pki.ca_pem);
    options.timeout = Duration::from_secs(3);
    let err = register(&options).unwrap_err();
    assert!(matches!(err, RegisterError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot reach the server"));
}
