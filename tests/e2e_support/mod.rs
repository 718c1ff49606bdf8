//! Shared by the end-to-end tests (tests/e2e_*.rs): the real `lifecert-server`
//! as a child process (TLS with the rcgen dev CA, SQLite in a temp dir), a
//! kiosk data directory driven by the real `lifecert` binary and the real
//! store / sync code, a cuttable TCP proxy, and readers of both databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lifecert::config::Config;
use lifecert::store::{Enqueued, NewRecord, QueueStatus, Store};
use lifecert::sync::client::{Client, ClientOptions};
use lifecert::sync::register::{Registration, ResolvedServer, resolve};
use lifecert::sync::seal::{KIND_CERTIFICATION, Sealer};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, CertificationRecord, LivenessSummary, Method};
use time::OffsetDateTime;
use uuid::Uuid;

/// Demo roster persons (seeded by `lifecert-server seed-demo`), valid GB 11643 numbers.
pub const WANG: &str = "110105195203150013";
pub const LI: &str = "110105194807220022";
pub const ZHENG: &str = "110105196011200084";
/// The persons the drain tests certify, in turn.
pub const PERSONS: [&str; 3] = [WANG, LI, ZHENG];

// ------------------------------------------------------------------ binaries

/// The `lifecert-server` binary next to this test's target directory, built
/// once per test binary with `cargo build -p lifecert-server`.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable is in target/<profile>/deps")
            .to_path_buf();
        let bin = profile_dir.join(format!("lifecert-server{}", std::env::consts::EXE_SUFFIX));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "lifecert-server", "--bin", "lifecert-server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "`cargo build -p lifecert-server` failed; run it by hand to see why:\n{}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("cannot run cargo ({e}); using {} as it is", bin.display()),
        }
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p lifecert-server`",
            bin.display()
        );
        bin
    })
}

/// The kiosk binary under test.
pub fn kiosk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lifecert")
}

/// Polls `cond` every `every` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(every);
    }
}

fn check_output(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

// ------------------------------------------------------------------ server

/// A server's files: TLS (rcgen dev CA), data dir, config, stderr log.
pub struct ServerFiles {
    pub root: PathBuf,
    pub data: PathBuf,
    pub ca_path: PathBuf,
    pub config_path: PathBuf,
    /// Everything the server printed to stderr (all runs appended).
    pub log_path: PathBuf,
    cert_path: PathBuf,
    key_path: PathBuf,
    /// Extra `RUST_LOG` for the server process.
    pub rust_log: String,
}

impl ServerFiles {
    pub fn new(root: &Path) -> ServerFiles {
        let tls = lifecert_server::testing::dev_tls(&root.join("tls")).unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let files = ServerFiles {
            root: root.to_path_buf(),
            data,
            ca_path: tls.ca_path,
            config_path: root.join("server.toml"),
            log_path: root.join("server.stderr.log"),
            cert_path: tls.tls.cert_path,
            key_path: tls.tls.key_path,
            rust_log: "info".into(),
        };
        files.write_config(0);
        files
    }

    /// Writes server.toml listening on 127.0.0.1:`port`.
    pub fn write_config(&self, port: u16) {
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n[tls]\ncert_path = {:?}\nkey_path = {:?}\n",
            self.data.display().to_string(),
            self.cert_path.display().to_string(),
            self.key_path.display().to_string(),
        );
        std::fs::write(&self.config_path, text).unwrap();
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap()
    }

    /// Runs a one-shot subcommand (`create-token`, `seed-demo`, ...); its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(server_bin())
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("RUST_LOG", &self.rust_log)
            .stderr(self.log_file())
            .output()
            .unwrap();
        check_output(&format!("lifecert-server {args:?}"), &out)
    }

    /// A fresh one-time registration token.
    pub fn token(&self) -> String {
        self.cli(&["create-token", "--ttl-hours", "1"])
            .trim()
            .to_string()
    }

    /// The server database (server.db).
    pub fn db_path(&self) -> PathBuf {
        self.data.join("server.db")
    }

    /// A read connection to the server database.
    pub fn db(&self) -> ServerDb {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        ServerDb(conn)
    }

    /// Starts `lifecert-server serve` on `port` (0 = any) and waits for it to listen.
    pub fn start(&self, port: u16) -> ServerProc {
        self.write_config(port);
        let mut last = String::new();
        // Re-binding the port of a just-killed server can race; retry a few times.
        for _ in 0..20 {
            let mut child = Command::new(server_bin())
                .arg("--config")
                .arg(&self.config_path)
                .arg("serve")
                .env("RUST_LOG", &self.rust_log)
                .stdout(Stdio::piped())
                .stderr(self.log_file())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let _ = tx.send(url.trim().to_string());
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(url) => {
                    let port = url.rsplit(':').next().unwrap().parse().unwrap();
                    return ServerProc { child, port, url };
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    last = format!("{status:?}");
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        panic!(
            "lifecert-server did not start on port {port} ({last}); see {}:\n{}",
            self.log_path.display(),
            std::fs::read_to_string(&self.log_path).unwrap_or_default()
        );
    }
}

/// A running `lifecert-server serve` child. Dropping it kills it.
pub struct ServerProc {
    child: Child,
    pub port: u16,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
}

impl ServerProc {
    /// SIGKILL (no graceful shutdown) and reap.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Queries on the server's SQLite file (read only by convention).
pub struct ServerDb(pub rusqlite::Connection);

/// What the server holds of the certifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertCounts {
    pub rows: u64,
    pub distinct_ids: u64,
    /// Distinct (device_id, device_seq): a seq stored twice under two ids would show here.
    pub distinct_seqs: u64,
}

impl ServerDb {
    pub fn count(&self) -> u64 {
        self.0
            .query_row("SELECT COUNT(*) FROM certifications", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .unwrap_or(0)
    }

    pub fn counts(&self) -> CertCounts {
        self.0
            .query_row(
                "SELECT COUNT(*), COUNT(DISTINCT id), \
                 (SELECT COUNT(*) FROM (SELECT DISTINCT device_id, device_seq FROM certifications)) \
                 FROM certifications",
                [],
                |r| {
                    Ok(CertCounts {
                        rows: r.get::<_, i64>(0)? as u64,
                        distinct_ids: r.get::<_, i64>(1)? as u64,
                        distinct_seqs: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .unwrap()
    }

    pub fn ids(&self) -> BTreeSet<Uuid> {
        let mut st = self.0.prepare("SELECT id FROM certifications").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|s| Uuid::parse_str(&s.unwrap()).unwrap())
            .collect()
    }

    /// The highest audit row id (to sum batch outcomes after it).
    pub fn audit_mark(&self) -> i64 {
        self.0
            .query_row("SELECT COALESCE(MAX(id), 0) FROM audit", [], |r| r.get(0))
            .unwrap()
    }

    /// Sums of `cert.batch` audit details (stored, duplicate, rejected) after `mark`.
    pub fn batch_outcomes_after(&self, mark: i64) -> (u64, u64, u64) {
        let mut st = self
            .0
            .prepare("SELECT detail FROM audit WHERE event = 'cert.batch' AND id > ?1")
            .unwrap();
        let mut sums = (0, 0, 0);
        for detail in st
            .query_map([mark], |r| r.get::<_, Option<String>>(0))
            .unwrap()
        {
            let detail = detail.unwrap().unwrap_or_default();
            for part in detail.split_whitespace() {
                let (k, v) = part.split_once('=').unwrap();
                let v: u64 = v.parse().unwrap();
                match k {
                    "stored" => sums.0 += v,
                    "duplicate" => sums.1 += v,
                    "rejected" => sums.2 += v,
                    _ => {}
                }
            }
        }
        sums
    }

    /// How many audit rows of `event` (with `outcome`, if given).
    pub fn audit_count(&self, event: &str, outcome: Option<&str>) -> u64 {
        self.0
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE event = ?1 AND (?2 IS NULL OR outcome = ?2)",
                rusqlite::params![event, outcome],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
    }
}

// ------------------------------------------------------------------ kiosk

/// A kiosk's files: kiosk.toml, data dir, log dir.
pub struct KioskFiles {
    pub root: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
    pub config_path: PathBuf,
    pub device_id: String,
}

impl KioskFiles {
    pub fn new(root: &Path, device_id: &str, ca_path: &Path) -> KioskFiles {
        let data = root.join("data");
        let logs = root.join("logs");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        let config_path = root.join("kiosk.toml");
        std::fs::write(
            &config_path,
            format!(
                "[server]\nca_path = {:?}\nrequest_timeout_secs = 10\n\
                 [storage]\ndata_dir = {:?}\nlog_dir = {:?}\n[device]\nid = {device_id:?}\nsite = \"e2e\"\n",
                ca_path.display().to_string(),
                data.display().to_string(),
                logs.display().to_string(),
            ),
        )
        .unwrap();
        KioskFiles {
            root: root.to_path_buf(),
            data,
            logs,
            config_path,
            device_id: device_id.into(),
        }
    }

    /// `lifecert -c kiosk.toml ARGS`, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kiosk_bin());
        cmd.arg("--config").arg(&self.config_path).args(args);
        cmd
    }

    /// `lifecert register` with a fresh token; its stdout.
    pub fn register(&self, server: &ServerFiles, url: &str) -> String {
        let token = server.token();
        let out = self
            .command(&["register", "--server", url, "--token", &token])
            .output()
            .unwrap();
        check_output("lifecert register", &out)
    }

    pub fn config(&self) -> Config {
        Config::load(Some(&self.config_path)).unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.join("lifecert.db")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.db_path()).unwrap().store
    }

    pub fn queue(&self) -> QueueStatus {
        self.store()
            .queue_status(OffsetDateTime::now_utc())
            .unwrap()
    }

    /// Outbox items with at least one failed attempt.
    pub fn items_with_attempts(&self) -> u64 {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.query_row("SELECT COUNT(*) FROM outbox WHERE attempts > 0", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as u64
    }

    /// The sealer of the registered server (as the kiosk builds it).
    pub fn sealer(&self) -> Sealer {
        let reg = Registration::load(&self.data)
            .unwrap()
            .expect("the kiosk is registered");
        Sealer {
            device_id: reg.device_id.clone(),
            key: reg.sealing_key().unwrap(),
        }
    }

    pub fn resolved(&self) -> ResolvedServer {
        resolve(&self.config())
            .unwrap()
            .expect("the kiosk is registered")
    }

    /// The kiosk's signed HTTPS client, to `base_url` (default: the registered server).
    pub fn client(&self, base_url: Option<&str>) -> Client {
        let config = self.config();
        let server = self.resolved();
        Client::new(&ClientOptions {
            base_url: base_url.map_or(server.url.clone(), str::to_string),
            ca_path: config.server.ca_path.clone(),
            timeout: config.server.request_timeout,
        })
        .unwrap()
        .signed(&server.device_id, server.key)
    }

    /// Queues `n` sealed certification results, cycling through [`PERSONS`];
    /// their ids.
    pub fn fill(&self, n: usize) -> BTreeSet<Uuid> {
        let sealer = self.sealer();
        let mut store = self.store();
        let mut ids = BTreeSet::new();
        for i in 0..n {
            let person = IdNumber::parse(PERSONS[i % PERSONS.len()]).unwrap();
            let e = enqueue_sealed(&mut store, &sealer, &person, OffsetDateTime::now_utc());
            assert!(ids.insert(e.id));
        }
        ids
    }
}

/// The local lookup key of a person, as the kiosk's driver makes it.
pub fn person_key(person: &IdNumber) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("lifecert-person:{}", person.expose()).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Records one passed kiosk certification the way the kiosk's driver does
/// (`record_result` in src/kiosk/driver.rs, which is private): the local
/// record with the masked ID, and the wire record sealed to the server's key
/// inside the enqueue transaction with the row's id and seq.
pub fn enqueue_sealed(
    store: &mut Store,
    sealer: &Sealer,
    person: &IdNumber,
    now: OffsetDateTime,
) -> Enqueued {
    let new = NewRecord {
        person_masked: person.masked(),
        person_key: person_key(person),
        benefit: "pension".into(),
        result: "passed".into(),
        method: "kiosk".into(),
        certified_at: now,
        next_due: None,
        operator_masked: None,
        receipt: None,
    };
    let wire = wire_record(person, &sealer.device_id, now);
    store
        .enqueue_with(
            &new,
            KIND_CERTIFICATION,
            |id, seq| sealer.seal_item(wire, id, seq, None),
            now,
        )
        .unwrap()
}

/// A passed kiosk certification as sent on the wire (id and seq filled in by sealing).
pub fn wire_record(person: &IdNumber, device_id: &str, at: OffsetDateTime) -> CertificationRecord {
    CertificationRecord {
        id: Uuid::nil(),
        device_seq: 0,
        device_id: device_id.into(),
        person_id: person.expose().to_string(),
        benefit: BenefitType::Pension,
        certified_at: at,
        result: CertResult::Passed,
        method: Method::Kiosk,
        liveness: Some(LivenessSummary {
            actions: vec!["blink".into(), "turn_left".into()],
            seed: 7,
            duration_ms: 6100,
            ..LivenessSummary::default()
        }),
        score: Some(0.87),
        operator_masked: None,
    }
}

// ------------------------------------------------------------------ checks

/// The end state every fault test wants: the server holds exactly the queued
/// ids, each once, and the kiosk's outbox has nothing pending or dead.
pub fn assert_delivered(server: &ServerDb, kiosk: &KioskFiles, queued: &BTreeSet<Uuid>) {
    let n = queued.len() as u64;
    let counts = server.counts();
    assert_eq!(
        counts,
        CertCounts {
            rows: n,
            distinct_ids: n,
            distinct_seqs: n
        },
        "server rows / distinct ids / distinct (device, seq) must all equal the {n} queued"
    );
    let stored = server.ids();
    let missing: Vec<_> = queued.difference(&stored).collect();
    let extra: Vec<_> = stored.difference(queued).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "id sets differ: {} missing on the server, {} unexpected",
        missing.len(),
        extra.len()
    );
    let q = kiosk.queue();
    assert_eq!(
        (q.pending, q.dead, q.acked),
        (0, 0, n),
        "kiosk outbox (pending, dead, acked)"
    );
}

// ------------------------------------------------------------------ proxy

/// A TCP forwarder between kiosk and server that can be cut: all open
/// connections closed and the listening port closed (connection refused),
/// then restored on the same port.
pub struct Proxy {
    pub port: u16,
    shared: Arc<ProxyShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct ProxyShared {
    cut: AtomicBool,
    listening: AtomicBool,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

impl ProxyShared {
    fn close_all(&self) {
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        first.set_nonblocking(true).unwrap();
        let port = first.local_addr().unwrap().port();
        let shared = Arc::new(ProxyShared::default());
        shared.listening.store(true, Ordering::SeqCst);
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let mut listener = Some(first);
            while !s.stop.load(Ordering::SeqCst) {
                if s.cut.load(Ordering::SeqCst) {
                    listener = None;
                    s.listening.store(false, Ordering::SeqCst);
                    s.close_all();
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let l = match &listener {
                    Some(l) => l,
                    None => match TcpListener::bind(("127.0.0.1", port)) {
                        Ok(l) => {
                            l.set_nonblocking(true).unwrap();
                            s.listening.store(true, Ordering::SeqCst);
                            listener.insert(l)
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    },
                };
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(up) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = up.set_nodelay(true);
                        {
                            let mut conns = s.conns.lock().unwrap();
                            conns.push(client.try_clone().unwrap());
                            conns.push(up.try_clone().unwrap());
                        }
                        let (c2, u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
                        std::thread::spawn(move || pump(client, up));
                        std::thread::spawn(move || pump(u2, c2));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            s.close_all();
        });
        Proxy {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Closes every connection and the listening port; returns once refused.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        assert!(wait_until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            || !self.shared.listening.load(Ordering::SeqCst)
        ));
        self.shared.close_all();
    }

    /// Listens again on the same port; returns once listening.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(1), || self
                .shared
                .listening
                .load(Ordering::SeqCst)),
            "the proxy could not listen on port {} again",
            self.port
        );
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
