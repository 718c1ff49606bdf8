//! Privacy scan after a full end-to-end run against the real server (child
//! process, TLS, SQLite): registration, status and history lookups, a staff
//! template enrolment, a kiosk certification and an offline-evidence
//! certification recorded by the kiosk's real driver and drained by its real
//! sync thread, then `lifecert queue flush` / `queue status` / `status`.
//!
//! Then every file of the kiosk (database + WAL, device key, server.json,
//! logs, command output) and of the server (keys, TLS files, stderr log) is
//! scanned byte by byte, and the server database with SQL, for:
//! (a) raw images (JPEG / PNG magic numbers),
//! (b) full ID numbers (allowed only in the server's `persons.id_number`),
//! (c) embeddings in plaintext (decimal text or raw f32 little-endian bytes)
//!     on the kiosk, in any log, and (the offline evidence) anywhere on the
//!     server — the enrolled template is allowed in the server's `templates`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::{KioskFiles, LI, ServerFiles, WANG, ZHENG, wait_until};
use lifecert::kiosk::central::CentralSystem;
use lifecert::kiosk::driver::{Driver, Ports};
use lifecert::kiosk::vision_worker::FakeCapture;
use lifecert::kiosk::{AppEvent, EventSink, EvidenceSlot, SystemClock, Waker};
use lifecert::sync::SyncStatus;
use lifecert::sync::central::{HttpCentral, HttpUploader, TemplateUploader};
use lifecert::sync::worker::SyncWorker;
use lifecert_core::flow::{Effect, Event, RequestId, ResultRecord};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, Method, PersonStatus};
use lifecert_vision::{Embedding, Template};

/// The ID numbers this test handles (all in the demo roster).
const IDS: [&str; 3] = [WANG, LI, ZHENG];

/// A deterministic L2-normalised 128-d vector.
fn unit_vector(seed: u64) -> [f32; 128] {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = [0f32; 128];
    for x in &mut v {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *x = ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Every file under `dir` (recursively).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// What one file must not contain.
#[derive(Clone, Copy)]
struct Rules<'a> {
    ids: bool,
    /// Embeddings looked for as decimal text and raw f32 LE bytes.
    embeddings: &'a [&'a [f32]],
}

fn scan(path: &Path, bytes: &[u8], rules: Rules<'_>, found: &mut Vec<String>) {
    let name = path.display();
    // (a) image magic numbers: JPEG SOI + a marker, PNG signature.
    for marker in [0xE0u8, 0xE1, 0xDB, 0xEE, 0xC0, 0xC2] {
        if contains(bytes, &[0xFF, 0xD8, 0xFF, marker]) {
            found.push(format!("{name}: JPEG magic FFD8FF{marker:02X}"));
        }
    }
    if contains(bytes, b"\x89PNG\r\n\x1a\n") {
        found.push(format!("{name}: PNG signature"));
    }
    // (b) full ID numbers.
    if rules.ids {
        for id in IDS {
            if contains(bytes, id.as_bytes()) {
                found.push(format!("{name}: full ID number {}", &id[..4]));
            }
        }
    }
    // (c) embedding components as text (f32 and widened f64) or raw bytes.
    for (e, embedding) in rules.embeddings.iter().enumerate() {
        for (i, v) in embedding.iter().enumerate() {
            let texts = [format!("{v}"), format!("{}", f64::from(*v))];
            if texts.iter().any(|t| contains(bytes, t.as_bytes())) {
                found.push(format!("{name}: embedding {e} component {i} as text"));
            }
            if contains(bytes, &v.to_le_bytes()) {
                found.push(format!("{name}: embedding {e} component {i} as raw f32"));
            }
        }
    }
}

/// SQL scan of the server database: (table.column, id) pairs holding a full
/// ID number outside `persons.id_number`.
fn server_sql_scan(db: &rusqlite::Connection) -> Vec<String> {
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in &tables {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in &columns {
            if table == "persons" && column == "id_number" {
                continue;
            }
            for id in IDS {
                let n: i64 = db
                    .query_row(
                        &format!(
                            "SELECT COUNT(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS TEXT), ?1) > 0"
                        ),
                        [id],
                        |r| r.get(0),
                    )
                    .unwrap();
                if n > 0 {
                    found.push(format!("{table}.{column}: {n} row(s) with {}…", &id[..4]));
                }
            }
        }
    }
    found
}

#[test]
fn no_image_id_number_or_embedding_where_it_must_not_be() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut files = ServerFiles::new(&dir.path().join("server"));
    files.rust_log = "debug".into();
    files.cli(&["seed-demo"]);
    let credential = files
        .cli(&["create-operator", "E2E Staff"])
        .trim()
        .to_string();
    let server = files.start(0);
    let kiosk = KioskFiles::new(
        &dir.path().join("kiosk"),
        "kiosk-e2e-privacy",
        &files.ca_path,
    );
    let out_dir = kiosk.root.join("output");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Kiosk commands at debug level, their output kept for the scan.
    let run_kiosk = |name: &str, args: &[&str]| {
        let out = kiosk
            .command(args)
            .env("LIFECERT_LOG", "debug")
            .output()
            .unwrap();
        std::fs::write(out_dir.join(format!("{name}.stdout")), &out.stdout).unwrap();
        std::fs::write(out_dir.join(format!("{name}.stderr")), &out.stderr).unwrap();
        assert!(
            out.status.success(),
            "lifecert {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let token = files.token();
    run_kiosk(
        "register",
        &["register", "--server", &server.url, "--token", &token],
    );

    // The kiosk's own logging (file + stderr), as the kiosk window sets it up.
    let log_guard = lifecert::logging::init(&kiosk.logs, 14);
    let client = kiosk.client(None);
    let sealer = kiosk.sealer();

    // Staff enrolment of ZHENG's template (sealed, with the operator credential).
    let credential_path = kiosk.root.join("operator.cred");
    std::fs::write(&credential_path, &credential).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&credential_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let template = unit_vector(11);
    let uploader = HttpUploader {
        client: client.clone(),
        sealer: sealer.clone(),
        credential_path,
    };
    let zheng = IdNumber::parse(ZHENG).unwrap();
    let wang = IdNumber::parse(WANG).unwrap();
    let version = uploader
        .upload(&zheng, &Template::new(Embedding(template), 5))
        .unwrap();
    assert_eq!(version, 1);
    // The live face of the offline session: close to the template.
    let mut evidence: Vec<f32> = template
        .iter()
        .zip(unit_vector(12))
        .map(|(t, n)| t + 0.02 * n)
        .collect();
    let norm = evidence.iter().map(|x| x * x).sum::<f32>().sqrt();
    evidence.iter_mut().for_each(|x| *x /= norm);

    // Status and history lookups, as a session starts.
    let central = Arc::new(HttpCentral::new(client.clone()));
    let today = lifecert_server::seed::today_cst();
    assert!(matches!(
        central.status(&wang, today).unwrap(),
        PersonStatus::Due { .. }
    ));
    assert!(matches!(
        central
            .status(&IdNumber::parse(LI).unwrap(), today)
            .unwrap(),
        PersonStatus::Due { .. }
    ));
    central.history(&wang, today).unwrap();

    // The kiosk's driver records both results; its sync thread uploads them.
    let evidence_slot = EvidenceSlot::default();
    let (sink, events) = EventSink::channel(Waker::default());
    let ports = Ports {
        speaker: Box::new(lifecert::audio::RecordingSpeaker::new()),
        capture: Box::new(FakeCapture::default()),
        central: central.clone(),
        printer: None,
        clock: Arc::new(SystemClock::default()),
        store: kiosk.store(),
        sync: Some(SyncWorker::new(
            kiosk.store(),
            Box::new(client.clone()),
            SyncStatus::shared(),
        )),
        heartbeat: Duration::from_secs(300),
        sealer: Some(sealer.clone()),
        evidence: evidence_slot.clone(),
        pin: lifecert::config::PinHash::parse(lifecert::config::DEMO_PIN_HASH).unwrap(),
        device_id: sealer.device_id.clone(),
        printer_status: Default::default(),
    };
    let mut driver = Driver::start(ports, sink).unwrap();
    let now = time::OffsetDateTime::now_utc();
    driver.run(vec![Effect::RecordResult {
        request: RequestId(1),
        record: ResultRecord {
            person: wang.clone(),
            operator: None,
            benefit: Some(BenefitType::Pension),
            result: CertResult::Passed,
            method: Method::Kiosk,
            at: now,
            next: None,
            score: Some(0.91),
        },
    }]);
    driver.run(vec![Effect::StartCapture {
        request: RequestId(2),
        person: zheng.clone(),
        attempt: 1,
        offline: true,
    }]);
    evidence_slot.put(RequestId(2), evidence.clone());
    driver.run(vec![Effect::RecordResult {
        request: RequestId(3),
        record: ResultRecord {
            person: zheng.clone(),
            operator: None,
            benefit: Some(BenefitType::Pension),
            result: CertResult::Accepted,
            method: Method::OfflineEvidence,
            at: now,
            next: None,
            score: None,
        },
    }]);
    let mut recorded = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorded < 2 && Instant::now() < deadline {
        match events.recv_timeout(Duration::from_secs(5)) {
            Ok(AppEvent::Flow(Event::Recorded { .. })) => recorded += 1,
            Ok(AppEvent::Flow(Event::RecordFailed { request })) => {
                panic!("recording {request:?} failed")
            }
            _ => {}
        }
    }
    assert_eq!(recorded, 2);
    assert!(
        wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
            let q = kiosk.queue();
            q.pending == 0 && q.acked == 2
        }),
        "the sync thread did not upload both results: {:?}",
        kiosk.queue()
    );
    // The kiosk database and its WAL while the kiosk still has them open.
    let mut live = Vec::new();
    for suffix in ["", "-wal"] {
        let path = PathBuf::from(format!("{}{suffix}", kiosk.db_path().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            live.push((path, bytes));
        }
    }
    assert!(live.len() == 2, "expected the kiosk database and its WAL");
    drop(driver);

    // The server matched the evidence against the enrolled template.
    let db = files.db();
    let mut rows: Vec<(String, String)> =
        db.0.prepare("SELECT method, result FROM certifications ORDER BY device_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("kiosk".to_string(), "passed".to_string()),
            ("offline_evidence".to_string(), "passed".to_string())
        ]
    );

    // The command-line tools staff use, with their output kept.
    run_kiosk("flush", &["queue", "flush"]);
    run_kiosk("queue-status", &["queue", "status"]);
    run_kiosk("status", &["status"]);
    drop(log_guard);
    drop(server);
    std::thread::sleep(Duration::from_millis(200));

    // ---- the scans ----
    let both: [&[f32]; 2] = [&template, &evidence];
    let evidence_only: [&[f32]; 1] = [&evidence];
    let mut found = Vec::new();
    let kiosk_files = files_under(&kiosk.root);
    for path in &kiosk_files {
        let bytes = std::fs::read(path).unwrap();
        scan(
            path,
            &bytes,
            Rules {
                ids: true,
                embeddings: &both,
            },
            &mut found,
        );
    }
    for (path, bytes) in &live {
        scan(
            &path.with_extension(format!(
                "{}(live)",
                path.extension().unwrap().to_string_lossy()
            )),
            bytes,
            Rules {
                ids: true,
                embeddings: &both,
            },
            &mut found,
        );
    }
    let server_files = files_under(&files.root);
    let mut db_files = Vec::new();
    for path in &server_files {
        let bytes = std::fs::read(path).unwrap();
        let is_db = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("server.db");
        if is_db {
            // IDs by SQL below; the enrolled template may be in `templates`,
            // the evidence embedding nowhere.
            db_files.push(path.clone());
            scan(
                path,
                &bytes,
                Rules {
                    ids: false,
                    embeddings: &evidence_only,
                },
                &mut found,
            );
        } else {
            scan(
                path,
                &bytes,
                Rules {
                    ids: true,
                    embeddings: &both,
                },
                &mut found,
            );
        }
    }
    // Positive control: the same scan finds the roster's ID numbers and the
    // enrolled template in the server's database files, where they belong.
    let mut control = Vec::new();
    for path in &db_files {
        let bytes = std::fs::read(path).unwrap();
        let template_only: [&[f32]; 1] = [&template];
        scan(
            path,
            &bytes,
            Rules {
                ids: true,
                embeddings: &template_only,
            },
            &mut control,
        );
    }
    assert!(
        control.iter().any(|f| f.contains("full ID number"))
            && control.iter().any(|f| f.contains("as raw f32")),
        "the scanner does not find what is known to be in the server database: {control:?}"
    );
    let sql_found = server_sql_scan(&db.0);
    let log_bytes = std::fs::metadata(&files.log_path).map_or(0, |m| m.len());
    eprintln!(
        "privacy: scanned {} kiosk files (+ the live database and WAL), {} server files ({} database files by SQL, \
         server log {log_bytes} bytes); {:.1} s",
        kiosk_files.len(),
        server_files.len(),
        db_files.len(),
        started.elapsed().as_secs_f64()
    );
    for path in kiosk_files.iter().chain(&server_files) {
        eprintln!("  scanned {}", path.display());
    }
    assert!(
        found.is_empty(),
        "privacy violations in files:\n  {}",
        found.join("\n  ")
    );
    // Everything but the person table refers to a person by an opaque key.
    assert!(
        sql_found.is_empty(),
        "full ID numbers in the server database outside persons.id_number:\n  {}",
        sql_found.join("\n  ")
    );
}
