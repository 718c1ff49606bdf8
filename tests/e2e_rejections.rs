//! Requests the real server must refuse (child process, TLS, SQLite): each
//! kind 50 times, every attempt carrying a freshly sealed certification of a
//! registered kiosk. 100 % must be refused with 401 and the right `code`, and
//! none of their certifications may be stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e_support::{KioskFiles, ServerFiles, WANG, wire_record};
use lifecert::sync::register::load_device_key;
use lifecert::sync::seal::Sealer;
use lifecert_core::id::IdNumber;
use lifecert_protocol::ErrorBody;
use lifecert_protocol::api::{
    ItemKind, PROTOCOL_HEADER, UploadBatch, UploadItem, UploadOutcome, UploadResponse, codes,
};
use lifecert_protocol::auth::{DeviceKey, HEADER_SIGNATURE, SignedHeaders};
use time::OffsetDateTime;
use ureq::tls::{RootCerts, TlsConfig};
use uuid::Uuid;

const ATTEMPTS: usize = 50;
const PATH: &str = "/v1/certifications";

/// A raw HTTPS client: sends exactly the headers and body it is given.
struct Raw {
    agent: ureq::Agent,
    base: String,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn code(&self) -> String {
        serde_json::from_slice::<ErrorBody>(&self.body)
            .map(|b| b.code)
            .unwrap_or_else(|_| format!("<{}>", String::from_utf8_lossy(&self.body)))
    }
}

impl Raw {
    fn new(ca_path: &std::path::Path, base: &str) -> Raw {
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(
                &lifecert::sync::client::load_ca(ca_path).unwrap(),
            ))
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .tls_config(tls)
            .build();
        Raw {
            agent: ureq::Agent::new_with_config(config),
            base: base.into(),
        }
    }

    fn post(&self, headers: &[(String, String)], body: &[u8]) -> Reply {
        let mut req = self
            .agent
            .post(format!("{}{PATH}", self.base))
            .header(PROTOCOL_HEADER, "1")
            .content_type("application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req.send(body).unwrap();
        Reply {
            status: resp.status().as_u16(),
            body: resp.body_mut().read_to_vec().unwrap(),
        }
    }
}

fn pairs(h: &SignedHeaders) -> Vec<(String, String)> {
    h.pairs()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Standard base64 (for the forged signature bytes).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One upload body with one freshly sealed certification of `device`.
fn sealed_body(sealer: &Sealer, device: &str, seq: u64) -> (Uuid, Vec<u8>) {
    let id = Uuid::now_v7();
    let person = IdNumber::parse(WANG).unwrap();
    let sealer = Sealer {
        device_id: device.into(),
        key: sealer.key.clone(),
    };
    let sealed = sealer
        .seal_item(
            wire_record(&person, device, OffsetDateTime::now_utc()),
            id,
            seq as i64,
            None,
        )
        .unwrap();
    let batch = UploadBatch {
        items: vec![UploadItem {
            id,
            device_seq: seq,
            kind: ItemKind::Certification,
            sealed: String::from_utf8(sealed).unwrap(),
        }],
    };
    (id, serde_json::to_vec(&batch).unwrap())
}

#[test]
fn forged_wrong_key_stale_replayed_unregistered_and_tampered_requests_are_refused() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let files = ServerFiles::new(&dir.path().join("server"));
    files.cli(&["seed-demo"]);
    let server = files.start(0);
    let kiosk = KioskFiles::new(&dir.path().join("kiosk"), "kiosk-e2e-rej", &files.ca_path);
    kiosk.register(&files, &server.url);
    let device = kiosk.device_id.clone();
    let key = load_device_key(&kiosk.config().server.device_key_path).unwrap();
    let sealer = kiosk.sealer();
    let raw = Raw::new(&files.ca_path, &server.url);
    let db = files.db();
    let mut seq = 0u64;
    let mut next_seq = || {
        seq += 1;
        seq
    };

    // Accepted originals (the replays below resend them byte for byte).
    let mut originals = Vec::new();
    for _ in 0..ATTEMPTS {
        let (id, body) = sealed_body(&sealer, &device, next_seq());
        let headers = pairs(&key.sign_request(&device, "POST", PATH, now(), &body));
        let reply = raw.post(&headers, &body);
        assert_eq!(reply.status, 200, "{}", reply.code());
        let answer: UploadResponse = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(answer.results[0].outcome, UploadOutcome::Stored);
        originals.push((id, headers, body));
    }
    let accepted: BTreeSet<Uuid> = originals.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(db.count(), ATTEMPTS as u64);
    let batches_before = db.audit_count("cert.batch", None);

    let other_key = DeviceKey::generate();
    let ghost_key = DeviceKey::generate();
    let mut refused_ids = BTreeSet::new();
    let mut summary = Vec::new();
    let kinds: [(&str, &str); 6] = [
        ("forged", codes::BAD_SIGNATURE),
        ("wrong_key", codes::BAD_SIGNATURE),
        ("stale", codes::STALE_TIMESTAMP),
        ("replayed", codes::REPLAYED_NONCE),
        ("unregistered", codes::UNKNOWN_DEVICE),
        ("tampered", codes::BAD_SIGNATURE),
    ];
    for (kind, want) in kinds {
        let mut refused = 0;
        for i in 0..ATTEMPTS {
            let (id, headers, body) = match kind {
                "forged" => {
                    // A well-formed signature header of 64 random bytes.
                    let (id, body) = sealed_body(&sealer, &device, next_seq());
                    let mut h = pairs(&key.sign_request(&device, "POST", PATH, now(), &body));
                    let random: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
                    for (k, v) in &mut h {
                        if k == HEADER_SIGNATURE {
                            *v = b64(&random);
                        }
                    }
                    (id, h, body)
                }
                "wrong_key" => {
                    // Validly signed by another, unregistered key claiming this device.
                    let (id, body) = sealed_body(&sealer, &device, next_seq());
                    let h = pairs(&other_key.sign_request(&device, "POST", PATH, now(), &body));
                    (id, h, body)
                }
                "stale" => {
                    // Correctly signed, 6 minutes in the past (or the future).
                    let (id, body) = sealed_body(&sealer, &device, next_seq());
                    let skew = if i % 2 == 0 { -360 } else { 360 };
                    let h = pairs(&key.sign_request(&device, "POST", PATH, now() + skew, &body));
                    (id, h, body)
                }
                "replayed" => {
                    let (id, h, body) = originals.get(i).cloned().unwrap();
                    (id, h, body)
                }
                "unregistered" => {
                    let ghost = format!("kiosk-ghost-{i}");
                    let (id, body) = sealed_body(&sealer, &ghost, next_seq());
                    let h = pairs(&ghost_key.sign_request(&ghost, "POST", PATH, now(), &body));
                    (id, h, body)
                }
                "tampered" => {
                    // The signature of one body sent with another.
                    let (_, signed_body) = sealed_body(&sealer, &device, next_seq());
                    let (id, body) = sealed_body(&sealer, &device, next_seq());
                    let h = pairs(&key.sign_request(&device, "POST", PATH, now(), &signed_body));
                    (id, h, body)
                }
                _ => unreachable!(),
            };
            let reply = raw.post(&headers, &body);
            if reply.status == 401 && reply.code() == want {
                refused += 1;
            } else {
                eprintln!(
                    "{kind} #{i}: expected 401 {want}, got {} {}",
                    reply.status,
                    reply.code()
                );
            }
            if kind != "replayed" {
                refused_ids.insert(id);
            }
        }
        summary.push((kind, refused));
    }

    let stored_ids = db.ids();
    let stored_refused = refused_ids.intersection(&stored_ids).count();
    let line = summary
        .iter()
        .map(|(k, n)| format!("{k} {n}/{ATTEMPTS}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "rejections: {line}, stored {stored_refused}; {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (kind, n) in &summary {
        assert_eq!(
            *n, ATTEMPTS,
            "{kind}: {n}/{ATTEMPTS} refused with the right code"
        );
    }
    assert_eq!(
        stored_refused, 0,
        "certifications of refused requests were stored"
    );
    // Nothing beyond the accepted originals, each once; no upload handler ran.
    assert_eq!(stored_ids, accepted);
    assert_eq!(db.counts().rows, ATTEMPTS as u64);
    assert_eq!(db.audit_count("cert.batch", None), batches_before);
    // The server audited every refusal with its code.
    for (code, n) in [
        (codes::BAD_SIGNATURE, 3 * ATTEMPTS),
        (codes::STALE_TIMESTAMP, ATTEMPTS),
        (codes::REPLAYED_NONCE, ATTEMPTS),
        (codes::UNKNOWN_DEVICE, ATTEMPTS),
    ] {
        assert_eq!(
            db.audit_count("auth.rejected", Some(code)),
            n as u64,
            "audit auth.rejected {code}"
        );
    }
    drop(server);
}
