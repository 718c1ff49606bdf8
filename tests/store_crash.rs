//! Crash test of the local store: a child process enqueues in a tight loop and is SIGKILLed at
//! a random moment, over and over, on the same database file. Every enqueue whose commit
//! returned (the child printed it) must survive, exactly once, with gap-free sequence numbers.

// Test helpers outside #[test] functions may unwrap too (clippy.toml only covers the tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lifecert::store::{NewRecord, Store};
use rand::Rng;
use time::OffsetDateTime;

const CHILD_ENV: &str = "LIFECERT_CRASH_CHILD_DB";
const LINE_PREFIX: &str = "COMMITTED ";
const ITERATIONS: usize = 200;

fn record(n: u64) -> NewRecord {
    NewRecord {
        person_masked: "1101**********002X".to_owned(),
        person_key: format!("person-{}", n % 17),
        benefit: "pension".to_owned(),
        result: "certified".to_owned(),
        method: "face".to_owned(),
        certified_at: OffsetDateTime::now_utc(),
        next_due: None,
        operator_masked: Some("OP****12".to_owned()),
        receipt: Some(format!("R-{n}")),
    }
}

/// Child mode: does nothing unless `LIFECERT_CRASH_CHILD_DB` is set; then enqueues forever,
/// printing `COMMITTED <id> <seq>` right after each `enqueue` returned.
#[test]
fn crash_child() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open(Path::new(&db)).unwrap().store;
    let payload = vec![0x42u8; 512];
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let e = store
            .enqueue(
                &record(n),
                "certification",
                &payload,
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        writeln!(out, "{LINE_PREFIX}{} {}", e.id, e.seq).unwrap();
        out.flush().unwrap();
    }
}

struct Verified {
    count: i64,
}

fn verify(db: &Path, committed: &HashMap<String, i64>, new_ids: &[String]) -> Verified {
    let opened = Store::open(db).unwrap();
    assert!(
        opened.quarantined.is_none(),
        "a crash must never make the database look corrupt"
    );
    drop(opened);
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let outbox: i64 = conn
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let records: i64 = conn
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        records, outbox,
        "every outbox item has its record and vice versa"
    );
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox o LEFT JOIN records r ON r.id = o.id \
             WHERE r.id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    let (distinct, min, max): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(distinct, outbox, "seq has duplicates");
    if outbox > 0 {
        assert_eq!((min, max), (Some(1), Some(outbox)), "seq has holes");
    }
    let mut in_outbox = conn
        .prepare(
            "SELECT seq, (SELECT COUNT(*) FROM records WHERE id = ?1) FROM outbox WHERE id = ?1",
        )
        .unwrap();
    for id in new_ids {
        let (seq, n_records): (i64, i64) = in_outbox
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|e| panic!("committed id {id} lost: {e}"));
        assert_eq!(
            seq, committed[id],
            "id {id} has a different seq than reported"
        );
        assert_eq!(n_records, 1, "record of {id} missing");
    }
    Verified { count: outbox }
}

#[test]
fn killed_writer_never_loses_committed_rows() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("crash").join("lifecert.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut committed: HashMap<String, i64> = HashMap::new();
    let mut kills = 0usize;
    let mut max_per_child = 0usize;
    let mut last_count = 0i64;

    for _ in 0..ITERATIONS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(1..=40)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "child should have been killed, got {status}"
        );
        kills += 1;
        let lines = reader.join().unwrap();

        let mut new_ids = Vec::new();
        // libtest prints `test crash_child ... ` without a newline, so the first report shares
        // its line: look for the prefix anywhere in the line.
        for line in lines
            .iter()
            .filter_map(|l| l.split_once(LINE_PREFIX).map(|(_, rest)| rest))
        {
            let (id, seq) = line.split_once(' ').unwrap();
            let seq: i64 = seq.trim().parse().unwrap();
            assert!(
                committed.insert(id.to_owned(), seq).is_none(),
                "id {id} reported twice"
            );
            new_ids.push(id.to_owned());
        }
        max_per_child = max_per_child.max(new_ids.len());
        let v = verify(&db, &committed, &new_ids);
        assert!(v.count >= last_count, "rows disappeared");
        assert!(v.count >= i64::try_from(committed.len()).unwrap());
        // A child can be killed between a commit and its print: at most one such row per kill.
        let unreported = v.count - last_count - i64::try_from(new_ids.len()).unwrap();
        assert!(
            (0..=1).contains(&unreported),
            "{unreported} rows appeared without being reported by one child"
        );
        last_count = v.count;
    }

    // Final full check of every id ever reported.
    let all: Vec<String> = committed.keys().cloned().collect();
    let v = verify(&db, &committed, &all);
    let seqs: BTreeSet<i64> = committed.values().copied().collect();
    assert_eq!(seqs.len(), committed.len());
    assert!(
        !committed.is_empty(),
        "no child ever committed a row: the test proves nothing"
    );
    println!(
        "crash test: {kills} kills, {} rows in db, {} reported committed before the kill \
         ({} committed but killed before printing), max {max_per_child} per child, {:.1?}",
        v.count,
        committed.len(),
        v.count - i64::try_from(committed.len()).unwrap(),
        started.elapsed()
    );
}
