//! End-to-end faults between a kiosk and the real server (child process, TLS,
//! SQLite): the server SIGKILLed mid-drain and restarted, the kiosk's
//! `lifecert queue flush` SIGKILLed mid-drain and run again, and the network
//! cut for 3 s. Each ends with the same check: the set of certification ids
//! on the server equals the set queued, each stored once, and the kiosk's
//! outbox has nothing pending or dead. Resends after a fault must be answered
//! `duplicate`: the server's per-batch audit (`cert.batch stored=.. duplicate=..`)
//! must show exactly the items the server had stored but the kiosk had not
//! yet marked acknowledged when the fault hit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e_support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_support::{KioskFiles, Proxy, ServerDb, ServerFiles, assert_delivered, wait_until};
use lifecert::kiosk::{EventSink, SystemClock, Waker};
use lifecert::sync::SyncStatus;
use lifecert::sync::worker::{SyncWorker, spawn};

/// Results queued per test.
const N: u64 = 300;
const POLL: Duration = Duration::from_millis(1);

/// Starts the kiosk's real `sync` thread (as the kiosk window does) on `worker`.
fn start_sync(worker: SyncWorker) -> std::sync::mpsc::Sender<()> {
    let (sink, events) = EventSink::channel(Waker::default());
    // Keep the notices' receiver alive for the thread's lifetime.
    std::thread::spawn(move || while events.recv().is_ok() {});
    spawn(
        worker,
        Arc::new(SystemClock::default()),
        Duration::from_secs(300),
        sink,
    )
    .unwrap()
}

/// The server's row count once it stopped changing (an in-flight batch may
/// still commit after the client vanished).
fn stable_count(db: &ServerDb) -> u64 {
    let mut last = db.count();
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let now = db.count();
        if now == last {
            return now;
        }
        last = now;
    }
}

fn setup(dir: &std::path::Path, device: &str) -> (ServerFiles, KioskFiles) {
    let server = ServerFiles::new(&dir.join("server"));
    server.cli(&["seed-demo"]);
    let kiosk = KioskFiles::new(&dir.join("kiosk"), device, &server.ca_path);
    (server, kiosk)
}

#[test]
fn server_killed_mid_drain_and_restarted() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (files, kiosk) = setup(dir.path(), "kiosk-e2e-srvkill");
    let server = files.start(0);
    let port = server.port;
    kiosk.register(&files, &server.url);
    let queued = kiosk.fill(N as usize);
    let db = files.db();

    let status = SyncStatus::shared();
    let worker = SyncWorker::new(kiosk.store(), Box::new(kiosk.client(None)), status.clone());
    let kick = start_sync(worker);

    // SIGKILL the server as soon as its first batch is committed.
    assert!(
        wait_until(Duration::from_secs(30), POLL, || db.count() > 0),
        "the kiosk never delivered a first batch"
    );
    server.kill();
    assert!(
        wait_until(Duration::from_secs(30), Duration::from_millis(5), || status
            .last_error()
            .is_some()),
        "the kiosk never saw the server die (did the drain finish before the kill?)"
    );
    let at_kill_server = db.count();
    let at_kill_acked = kiosk.queue().acked;
    assert!(
        at_kill_acked < N && at_kill_server < N,
        "the kill was not mid-drain: server {at_kill_server}, kiosk acked {at_kill_acked}"
    );
    assert!(at_kill_acked <= at_kill_server);
    let mark = db.audit_mark();

    // Restart on the same port and data; the sync thread retries on its own.
    std::thread::sleep(Duration::from_millis(500));
    let _server = files.start(port);
    assert!(
        wait_until(Duration::from_secs(45), Duration::from_millis(20), || {
            kiosk.queue().pending == 0
        }),
        "the kiosk did not drain after the restart: {:?}, last error {:?}",
        kiosk.queue(),
        status.last_error()
    );
    drop(kick);
    assert_delivered(&db, &kiosk, &queued);
    let (stored, duplicate, rejected) = db.batch_outcomes_after(mark);
    assert_eq!(
        (stored, duplicate, rejected),
        (N - at_kill_server, at_kill_server - at_kill_acked, 0),
        "after the restart: (stored, duplicate, rejected)"
    );
    eprintln!(
        "server_killed: killed with server={at_kill_server} kiosk_acked={at_kill_acked}; \
         after restart stored={stored} duplicate={duplicate}; all {N} ids once; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn kiosk_killed_mid_drain_and_run_again() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (files, kiosk) = setup(dir.path(), "kiosk-e2e-kiosk-kill");
    let server = files.start(0);
    kiosk.register(&files, &server.url);
    let queued = kiosk.fill(N as usize);
    let db = files.db();

    let log = |name: &str| std::fs::File::create(kiosk.root.join(name)).unwrap();
    let mut flush = kiosk
        .command(&["queue", "flush"])
        .stdout(Stdio::from(log("flush1.out")))
        .stderr(Stdio::from(log("flush1.err")))
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), POLL, || db.count() > 0),
        "`lifecert queue flush` never delivered a first batch"
    );
    flush.kill().unwrap();
    flush.wait().unwrap();
    let at_kill_server = stable_count(&db);
    let q = kiosk.queue();
    let at_kill_acked = q.acked;
    assert!(
        q.pending > 0,
        "the flush finished before it was killed ({q:?}); nothing was tested"
    );
    assert_eq!(q.dead, 0);
    assert!(at_kill_acked <= at_kill_server);
    let mark = db.audit_mark();

    let out = kiosk.command(&["queue", "flush"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "second flush failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "sent: {} acknowledged, 0 dead-lettered",
            N - at_kill_acked
        )),
        "{stdout}"
    );
    assert_delivered(&db, &kiosk, &queued);
    let (stored, duplicate, rejected) = db.batch_outcomes_after(mark);
    assert_eq!(
        (stored, duplicate, rejected),
        (N - at_kill_server, at_kill_server - at_kill_acked, 0),
        "second flush: (stored, duplicate, rejected)"
    );
    eprintln!(
        "kiosk_killed: killed with server={at_kill_server} kiosk_acked={at_kill_acked}; \
         second flush stored={stored} duplicate={duplicate}; all {N} ids once; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn network_cut_for_three_seconds() {
    const CUT: Duration = Duration::from_secs(3);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (files, kiosk) = setup(dir.path(), "kiosk-e2e-netcut");
    let server = files.start(0);
    kiosk.register(&files, &server.url);
    let queued = kiosk.fill(N as usize);
    let db = files.db();
    let proxy = Proxy::start(server.addr());

    let status = SyncStatus::shared();
    let worker = SyncWorker::new(
        kiosk.store(),
        Box::new(kiosk.client(Some(&proxy.url()))),
        status.clone(),
    );
    let kick = start_sync(worker);

    assert!(
        wait_until(Duration::from_secs(30), POLL, || db.count() > 0),
        "the kiosk never delivered a first batch through the proxy"
    );
    proxy.cut();
    let cut_at = Instant::now();
    assert!(
        kiosk.queue().pending > 0,
        "the drain finished before the cut; nothing was tested"
    );
    std::thread::sleep(CUT.saturating_sub(cut_at.elapsed()));
    assert!(
        status.last_error().is_some(),
        "the kiosk did not notice the cut"
    );
    let at_cut_server = db.count();
    let at_cut_acked = kiosk.queue().acked;
    assert!(at_cut_acked < N && at_cut_acked <= at_cut_server);
    let mark = db.audit_mark();
    proxy.restore();
    let restored_at = Instant::now();

    assert!(
        wait_until(Duration::from_secs(45), Duration::from_millis(20), || {
            kiosk.queue().pending == 0
        }),
        "the kiosk did not drain after the network came back: {:?}, last error {:?}",
        kiosk.queue(),
        status.last_error()
    );
    let resumed = restored_at.elapsed();
    drop(kick);
    assert_delivered(&db, &kiosk, &queued);
    let (stored, duplicate, rejected) = db.batch_outcomes_after(mark);
    assert_eq!(
        (stored, duplicate, rejected),
        (N - at_cut_server, at_cut_server - at_cut_acked, 0),
        "after the cut: (stored, duplicate, rejected)"
    );
    let retried = kiosk.items_with_attempts();
    assert!(retried > 0, "no outbox item records a failed attempt");
    eprintln!(
        "network_cut: cut {CUT:?} with server={at_cut_server} kiosk_acked={at_cut_acked}; \
         {retried} items with attempts > 0; drained {:.1} s after restore \
         (stored={stored} duplicate={duplicate}); {:.1} s",
        resumed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
