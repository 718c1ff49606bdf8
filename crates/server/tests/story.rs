//! The whole server story against a real TLS server, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Kiosk, answer, now};
use lifecert_protocol::api::{
    EnrolRequest, EnrolTemplate, Evidence, Heartbeat, ItemKind, UploadBatch, UploadItem,
};
use lifecert_protocol::seal::SealingKey;
use lifecert_protocol::{BenefitType, CertResult, CertificationRecord, LivenessSummary, Method};
use lifecert_server::seed::{DEMO_ABSENT, demo_embedding, seed_demo, today_cst};
use serde_json::json;
use uuid::Uuid;

const WANG: &str = "110105195203150013";
const LI: &str = "110105194807220022";
const QIAN: &str = "110105194611050041";
const SUN: &str = "110105194912310054";
const ZHOU: &str = "450403195306080064";
const WU: &str = "110105195709180076";
const ZHENG: &str = "110105196011200084";

fn record(
    kiosk: &Kiosk,
    seq: u64,
    person: &str,
    result: CertResult,
    method: Method,
) -> CertificationRecord {
    CertificationRecord {
        id: Uuid::now_v7(),
        device_seq: seq,
        device_id: kiosk.id.clone(),
        person_id: person.into(),
        benefit: BenefitType::Pension,
        certified_at: time::OffsetDateTime::now_utc(),
        result,
        method,
        liveness: Some(LivenessSummary {
            actions: vec!["blink".into()],
            seed: 7,
            duration_ms: 5000,
            ..LivenessSummary::default()
        }),
        score: Some(0.8),
        operator_masked: None,
    }
}

fn cert_item(seal: &SealingKey, r: &CertificationRecord) -> UploadItem {
    UploadItem {
        id: r.id,
        device_seq: r.device_seq,
        kind: ItemKind::Certification,
        sealed: seal.seal_b64(&serde_json::to_vec(r).unwrap()).unwrap(),
    }
}

fn evidence_item(seal: &SealingKey, r: &CertificationRecord, embedding: Vec<f32>) -> UploadItem {
    let ev = Evidence {
        record: r.clone(),
        model_id: lifecert_server::seed::DEMO_MODEL_ID.into(),
        embedding,
    };
    UploadItem {
        id: r.id,
        device_seq: r.device_seq,
        kind: ItemKind::Evidence,
        sealed: seal.seal_b64(&serde_json::to_vec(&ev).unwrap()).unwrap(),
    }
}

async fn status(k: &Kiosk, person: &str) -> common::Answer {
    k.post(
        "/v1/persons/status",
        &json!({"person_id": person, "today": today_cst()}),
    )
    .await
}

async fn story(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (config, ca) = common::config(dir.path(), &backend);
    let server = lifecert_server::serve(config.clone()).await.unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let storage = server.state.storage.clone();
    seed_demo(storage.as_ref(), &server.state.subject, today_cst())
        .await
        .unwrap();
    // Seeding twice changes nothing.
    seed_demo(storage.as_ref(), &server.state.subject, today_cst())
        .await
        .unwrap();
    assert_eq!(storage.person_count().await.unwrap(), 7);

    // --- registration ---
    let kiosk = Kiosk::new(&server, &ca, "kiosk-1");
    let token = lifecert_server::create_token(storage.as_ref(), 1)
        .await
        .unwrap();
    let reg = kiosk.register_with(&token).await;
    assert_eq!(reg.status, 200, "{:?}", reg.json);
    assert_eq!(reg.protocol.as_deref(), Some("1"));
    let key = answer(
        kiosk
            .http
            .get(format!("{}/v1/server-key", kiosk.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reg.json["sealing_key"], key.json["sealing_key"]);
    let seal = SealingKey::from_b64(key.json["sealing_key"].as_str().unwrap()).unwrap();
    // The token is used up.
    let again = Kiosk::new(&server, &ca, "kiosk-2")
        .register_with(&token)
        .await;
    assert_eq!((again.status, again.code()), (403, "invalid_token"));
    // Same device id with a new token.
    let dup = Kiosk::new(&server, &ca, "kiosk-1").register(&server).await;
    assert_eq!((dup.status, dup.code()), (409, "device_exists"));
    let mut bad_key = Kiosk::new(&server, &ca, "kiosk-3");
    bad_key.key = lifecert_protocol::auth::DeviceKey::generate();
    let t = lifecert_server::create_token(storage.as_ref(), 1)
        .await
        .unwrap();
    let r = answer(
        bad_key.http.post(format!("{}/v1/devices/register", bad_key.base))
            .json(&json!({"token": t, "device_id": "kiosk-3", "public_key": "AAAA", "name": "", "site": "", "version": ""}))
            .send().await.unwrap(),
    ).await;
    assert_eq!((r.status, r.code()), (422, "invalid"));

    // --- status of each demo person ---
    let s = status(&kiosk, WANG).await;
    assert_eq!(s.status, 200, "{:?}", s.json);
    assert_eq!(s.json["status"], "due");
    assert_eq!(s.json["masked_name"], "王*明");
    assert_eq!(s.json["region"], "110105");
    assert_eq!(status(&kiosk, LI).await.json["status"], "due");
    assert_eq!(
        status(&kiosk, DEMO_ABSENT).await.json["status"],
        "not_in_scope"
    );
    assert_eq!(
        status(&kiosk, QIAN).await.json["status"],
        "identity_changed"
    );
    let sun = status(&kiosk, SUN).await.json;
    assert_eq!(sun, json!({"status": "suspended", "since": "2026-04-01"}));
    assert_eq!(status(&kiosk, ZHOU).await.json["status"], "terminated");
    assert_eq!(status(&kiosk, WU).await.json["status"], "already_certified");
    assert_eq!(status(&kiosk, ZHENG).await.json["status"], "no_template");
    let bad = status(&kiosk, "110105195203150014").await;
    assert_eq!((bad.status, bad.code()), (422, "invalid"));
    let counts = storage
        .audit_counts(today_cst() - time::Duration::days(1))
        .await
        .unwrap();
    assert!(
        counts
            .iter()
            .any(|c| c.event == "status.not_in_scope" && c.count >= 1)
    );
    assert!(
        counts
            .iter()
            .any(|c| c.event == "status.suspended" && c.count >= 1)
    );

    // --- upload, resend ---
    let r1 = record(&kiosk, 1, WANG, CertResult::Passed, Method::Kiosk);
    let batch = UploadBatch {
        items: vec![cert_item(&seal, &r1)],
    };
    let up = kiosk.post("/v1/certifications", &batch).await;
    assert_eq!(up.status, 200, "{:?}", up.json);
    assert_eq!(up.json["results"][0]["outcome"], "stored");
    assert_eq!(up.json["results"][0]["result"], "passed");
    let up2 = kiosk.post("/v1/certifications", &batch).await;
    assert_eq!(up2.json["results"][0]["outcome"], "duplicate");
    assert_eq!(up2.json["results"][0]["result"], "passed");
    assert_eq!(storage.certification_count().await.unwrap(), 1);
    assert_eq!(
        status(&kiosk, WANG).await.json["status"],
        "already_certified"
    );

    // --- evidence: match, non-match, mismatch, unreadable ---
    let e_ok = record(&kiosk, 2, LI, CertResult::Accepted, Method::OfflineEvidence);
    let e_far = record(&kiosk, 3, LI, CertResult::Accepted, Method::OfflineEvidence);
    let mut e_other = record(&kiosk, 4, LI, CertResult::Accepted, Method::OfflineEvidence);
    e_other.device_id = "someone-else".into();
    let garbage = UploadItem {
        id: Uuid::now_v7(),
        device_seq: 5,
        kind: ItemKind::Certification,
        sealed: "AAAA".into(),
    };
    let batch = UploadBatch {
        items: vec![
            evidence_item(&seal, &e_ok, demo_embedding(LI)),
            evidence_item(&seal, &e_far, demo_embedding(WANG)),
            cert_item(&seal, &e_other),
            garbage,
        ],
    };
    let up = kiosk.post("/v1/certifications", &batch).await;
    assert_eq!(up.status, 200, "{:?}", up.json);
    let res = &up.json["results"];
    assert_eq!(res[0]["id"], json!(e_ok.id));
    assert_eq!(
        (res[0]["outcome"].as_str(), res[0]["result"].as_str()),
        (Some("stored"), Some("passed"))
    );
    assert_eq!(
        (res[1]["outcome"].as_str(), res[1]["result"].as_str()),
        (Some("stored"), Some("appeal"))
    );
    assert_eq!(
        (res[2]["outcome"].as_str(), res[2]["code"].as_str()),
        (Some("rejected"), Some("mismatch"))
    );
    assert_eq!(
        (res[3]["outcome"].as_str(), res[3]["code"].as_str()),
        (Some("rejected"), Some("cannot_open"))
    );
    assert_eq!(storage.certification_count().await.unwrap(), 3);
    let hist = kiosk
        .post(
            "/v1/persons/history",
            &json!({"person_id": LI, "today": today_cst()}),
        )
        .await;
    let entries = hist.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["result"], "appeal", "newest first");
    assert_eq!(entries[1]["result"], "passed");
    assert_eq!(entries[0]["method"], "offline_evidence");

    // --- enrolment ---
    let cred = lifecert_server::create_operator(storage.as_ref(), "Staff A")
        .await
        .unwrap();
    let tmpl = EnrolTemplate {
        person_id: ZHENG.into(),
        model_id: "demo-seed".into(),
        embedding: demo_embedding(ZHENG),
        frames: 5,
    };
    let enrol = EnrolRequest {
        sealed: seal.seal_b64(&serde_json::to_vec(&tmpl).unwrap()).unwrap(),
    };
    let no_op = kiosk.post("/v1/templates", &enrol).await;
    assert_eq!((no_op.status, no_op.code()), (403, "operator_required"));
    let body = serde_json::to_vec(&enrol).unwrap();
    let wrong = kiosk
        .post_raw("/v1/templates", body.clone(), now(), |h, _| {
            h.push(("x-lifecert-operator".into(), format!("{}x", cred)))
        })
        .await;
    assert_eq!((wrong.status, wrong.code()), (403, "operator_required"));
    let tpl = kiosk
        .post(
            "/v1/persons/template",
            &json!({"person_id": ZHENG, "today": today_cst()}),
        )
        .await;
    assert_eq!((tpl.status, tpl.code()), (404, "not_found"));
    let ok = kiosk
        .post_raw("/v1/templates", body.clone(), now(), |h, _| {
            h.push(("x-lifecert-operator".into(), cred.clone()))
        })
        .await;
    assert_eq!(
        (ok.status, ok.json["version"].as_u64()),
        (200, Some(1)),
        "{:?}",
        ok.json
    );
    let ok2 = kiosk
        .post_raw("/v1/templates", body, now(), |h, _| {
            h.push(("x-lifecert-operator".into(), cred.clone()))
        })
        .await;
    assert_eq!(ok2.json["version"], 2);
    assert_eq!(status(&kiosk, ZHENG).await.json["status"], "due");
    let tpl = kiosk
        .post(
            "/v1/persons/template",
            &json!({"person_id": ZHENG, "today": today_cst()}),
        )
        .await;
    assert_eq!(tpl.status, 200);
    assert_eq!(tpl.json["version"], 2);
    assert_eq!(tpl.json["embedding"].as_array().unwrap().len(), 128);
    // Descriptors are not normalised (demo ones have norm 0.9, accepted
    // above); a zero vector, a huge one or a wrong length is refused.
    for bad in [vec![0.0; 128], vec![1.0; 128], vec![0.05; 127]] {
        let mut t = tmpl.clone();
        t.embedding = bad;
        let r = kiosk
            .post_raw(
                "/v1/templates",
                serde_json::to_vec(&EnrolRequest {
                    sealed: seal.seal_b64(&serde_json::to_vec(&t).unwrap()).unwrap(),
                })
                .unwrap(),
                now(),
                |h, _| h.push(("x-lifecert-operator".into(), cred.clone())),
            )
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid"), "{:?}", r.json);
    }

    // --- heartbeat ---
    let hb = Heartbeat {
        queue_depth: 4,
        dead: 1,
        oldest_pending_secs: Some(30),
        version: "0.1.1".into(),
        health: [("camera".to_string(), "ok".to_string())].into(),
    };
    let r = kiosk.post("/v1/heartbeat", &hb).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert_eq!(r.json["protocol"], 1);
    let dev = storage.device("kiosk-1").await.unwrap().unwrap();
    assert!(dev.last_heartbeat.is_some());
    assert_eq!(
        (dev.queue_depth, dev.dead, dev.version.as_str()),
        (4, 1, "0.1.1")
    );
    assert!(dev.health.contains("camera"));

    // --- refused requests store nothing ---
    let before = storage.certification_count().await.unwrap();
    let fresh = |seq| {
        let r = record(&kiosk, seq, WANG, CertResult::Passed, Method::Kiosk);
        serde_json::to_vec(&UploadBatch {
            items: vec![cert_item(&seal, &r)],
        })
        .unwrap()
    };
    let path = "/v1/certifications";
    // Forged signature (another key signs as kiosk-1).
    let mut forger = Kiosk::new(&server, &ca, "kiosk-1");
    forger.key = lifecert_protocol::auth::DeviceKey::generate();
    let r = forger.post_raw(path, fresh(10), now(), |_, _| {}).await;
    assert_eq!((r.status, r.code()), (401, "bad_signature"));
    // Garbage signature.
    let r = kiosk
        .post_raw(path, fresh(11), now(), |h, _| {
            h.iter_mut()
                .find(|(k, _)| k == "x-lifecert-signature")
                .unwrap()
                .1 = "AAAA".into()
        })
        .await;
    assert_eq!((r.status, r.code()), (401, "bad_signature"));
    // Stale timestamp (signed correctly, 10 minutes old).
    let r = kiosk
        .post_raw(path, fresh(12), now() - 600, |_, _| {})
        .await;
    assert_eq!((r.status, r.code()), (401, "stale_timestamp"));
    // Unregistered device.
    let stranger = Kiosk::new(&server, &ca, "kiosk-unknown");
    let r = stranger.post_raw(path, fresh(13), now(), |_, _| {}).await;
    assert_eq!((r.status, r.code()), (401, "unknown_device"));
    // Tampered body.
    let r = kiosk
        .post_raw(path, fresh(14), now(), |_, b| *b = fresh(15))
        .await;
    assert_eq!((r.status, r.code()), (401, "bad_signature"));
    // Missing headers.
    let r = kiosk
        .post_raw(path, fresh(16), now(), |h, _| {
            h.retain(|(k, _)| k != "x-lifecert-nonce")
        })
        .await;
    assert_eq!((r.status, r.code()), (401, "unsigned"));
    // Replay: the same signed request twice.
    let body = fresh(17);
    let signed = kiosk
        .key
        .sign_request("kiosk-1", "POST", path, now(), &body);
    let send = || async {
        let mut req = kiosk.http.post(format!("{}{path}", kiosk.base));
        for (k, v) in signed.pairs() {
            req = req.header(k, v);
        }
        answer(req.body(body.clone()).send().await.unwrap()).await
    };
    assert_eq!(send().await.status, 200);
    let after_first = storage.certification_count().await.unwrap();
    assert_eq!(after_first, before + 1);
    let r = send().await;
    assert_eq!((r.status, r.code()), (401, "replayed_nonce"));
    assert_eq!(
        storage.certification_count().await.unwrap(),
        after_first,
        "refused requests stored nothing"
    );

    // --- client mistakes are 4xx JSON ---
    let r = kiosk
        .post_raw(path, b"{not json".to_vec(), now(), |_, _| {})
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = kiosk
        .post_raw(path, br#"{"items": 5}"#.to_vec(), now(), |_, _| {})
        .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = kiosk
        .post_raw(path, vec![b' '; 2 * 1024 * 1024], now(), |_, _| {})
        .await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    let r = answer(
        kiosk
            .http
            .post(format!("{}/v1/devices/register", kiosk.base))
            .body("[1,2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = answer(
        kiosk
            .http
            .get(format!("{}/v1/nothing-here", kiosk.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.code(), r.protocol.as_deref()),
        (404, "not_found", Some("1"))
    );
    let r = answer(
        kiosk
            .http
            .get(format!("{}/v1/certifications", kiosk.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 405);
    assert!(!r.code().is_empty());
    let r = answer(
        kiosk
            .http
            .get(format!("{}/v1/server-key", kiosk.base))
            .header("x-lifecert-protocol", "2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.code(), r.protocol.as_deref()),
        (426, "protocol_mismatch", Some("1"))
    );

    // --- rate limit: a second server on the same storage allowing 3/min ---
    let mut strict = config.clone();
    strict.limits.requests_per_minute_per_device = 3;
    let state = lifecert_server::state_with_storage(strict, storage.clone()).unwrap();
    let limited = lifecert_server::serve_state(state, None).await.unwrap();
    let mut k2 = Kiosk::new(&limited, &ca, "kiosk-1");
    k2.key = lifecert_protocol::auth::DeviceKey::from_bytes(&kiosk.key.to_bytes());
    for _ in 0..3 {
        assert_eq!(k2.post("/v1/heartbeat", &hb).await.status, 200);
    }
    let r = k2.post("/v1/heartbeat", &hb).await;
    assert_eq!(
        (r.status, r.code(), r.protocol.as_deref()),
        (429, "rate_limited", Some("1"))
    );
    limited.shutdown().await;

    // --- the admin pages' data over this storage ---
    admin_data(&server.state).await;

    server.shutdown().await;

    // --- privacy: no full ID number outside persons.id_number ---
    let ids = [
        WANG,
        LI,
        QIAN,
        SUN,
        ZHOU,
        WU,
        ZHENG,
        DEMO_ABSENT,
        ADMIN_IMPORTED,
    ];
    let (found, control) = common::scan_for_ids(&config, &ids).await;
    assert!(
        found.is_empty(),
        "full ID numbers outside persons.id_number: {found:?}"
    );
    assert!(
        control >= 8,
        "the scan found only {control} IDs in persons.id_number (positive control)"
    );
    common::drop_schema(&config).await;
}

/// A valid ID number imported through the admin data port.
const ADMIN_IMPORTED: &str = "110105195001010012";

async fn admin_data(state: &lifecert_server::AppState) {
    use lifecert_core::id::IdNumber;
    use lifecert_server::admin::store::StorageAdmin;
    use lifecert_server::admin::{AdminData, ImportAction, RosterRow, RosterStatus};
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    let admin = StorageAdmin::new(state, offset);
    let today = today_cst();
    let d = admin.dashboard(today).await.unwrap();
    // Stored today: WANG passed, LI passed + appeal, the replayed one passed.
    assert_eq!((d.certified, d.passed, d.appeal), (4, 3, 1), "{d:?}");
    assert_eq!((d.queued_on_devices, d.dead_on_devices), (4, 1));
    let reason = |r: &str| {
        d.failures_by_reason
            .iter()
            .find(|(k, _)| k == r)
            .map_or(0, |(_, n)| *n)
    };
    assert!(reason("not_in_scope") >= 1, "{d:?}");
    assert!(reason("upload_mismatch") >= 1 && reason("upload_cannot_open") >= 1);
    assert!(reason("auth_bad_signature") >= 2 && reason("auth_replayed_nonce") >= 1);
    assert_eq!(reason("appeal"), 1);

    let wang = admin
        .find_person(&IdNumber::parse(WANG).unwrap(), today)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wang.name, "王小明");
    assert_eq!(wang.id_masked, IdNumber::parse(WANG).unwrap().masked());
    assert!(wang.history.len() >= 2, "{wang:?}");
    assert!(wang.history.iter().all(|h| h.result == CertResult::Passed));
    assert_eq!(
        wang.benefits[0].last_certified,
        Some(wang.history[0].at.date())
    );
    assert!(wang.benefits[0].next_deadline.unwrap() > today);
    assert!(
        admin
            .find_person(&IdNumber::parse(DEMO_ABSENT).unwrap(), today)
            .await
            .unwrap()
            .is_none()
    );

    let row = RosterRow {
        id_number: IdNumber::parse(ADMIN_IMPORTED).unwrap(),
        name: "赵六".into(),
        region: "110105".into(),
        benefit: BenefitType::Pension,
        status: RosterStatus::Active,
        status_since: Some(time::macros::date!(2015 - 01 - 01)),
        last_certified: Some(today - time::Duration::days(400)),
    };
    assert_eq!(
        admin.import_person(&row).await.unwrap(),
        ImportAction::Inserted
    );
    let mut again = row.clone();
    again.last_certified = None;
    again.name = "赵六六".into();
    assert_eq!(
        admin.import_person(&again).await.unwrap(),
        ImportAction::Updated
    );
    let p = admin
        .find_person(&row.id_number, today)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "赵六六");
    // The import kept the known certification date.
    assert_eq!(p.benefits[0].last_certified, row.last_certified);
    // 400 days since the last success: overdue in its region.
    let due = admin.due_by_region(today).await.unwrap();
    let bj = due.iter().find(|r| r.region == "110105").unwrap();
    assert_eq!(bj.overdue, 1, "{due:?}");

    let token = admin
        .create_device_token(std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(token.len(), 64);
    let devices = admin.devices().await.unwrap();
    let k1 = devices.iter().find(|d| d.id == "kiosk-1").unwrap();
    assert_eq!(k1.oldest_pending_secs, Some(30));
    assert_eq!(k1.health, vec![("camera".to_string(), "ok".to_string())]);
    admin
        .audit("person_lookup", "ok", "1101**********0012")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story_postgres() {
    let Some(url) = common::pg_url() else { return };
    story(Backend::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_every_route_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (config, ca) = common::config(dir.path(), &Backend::Sqlite);
    let server = lifecert_server::serve(config).await.unwrap();
    let http = common::client(&ca);
    let doc = answer(
        http.get(format!("{}/v1/openapi.json", server.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json["openapi"], "3.1.0");
    assert!(!lifecert_server::api::ROUTES.is_empty());
    for r in lifecert_server::api::ROUTES {
        let op = &doc.json["paths"][r.path][r.method.to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the OpenAPI document",
            r.method,
            r.path
        );
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
        let a = answer(
            http.request(method, format!("{}{}", server.url(), r.path))
                .body("{}")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_ne!(a.status, 405, "{} {}", r.method, r.path);
        assert!(
            !(a.status == 404
                && a.json["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("no such route")),
            "{} {} not routed",
            r.method,
            r.path
        );
    }
    // And the document lists nothing that is not routed.
    let listed: usize = doc.json["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(listed, lifecert_server::api::ROUTES.len());
    server.shutdown().await;
}
