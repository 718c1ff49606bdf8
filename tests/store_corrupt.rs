//! A corrupt database file is moved aside for staff, byte for byte, and a fresh one works.

// Test helpers outside #[test] functions may unwrap too (clippy.toml only covers the tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use lifecert::store::{NewRecord, Store};
use time::OffsetDateTime;

fn record() -> NewRecord {
    NewRecord {
        person_masked: "1101**********002X".to_owned(),
        person_key: "person-1".to_owned(),
        benefit: "pension".to_owned(),
        result: "certified".to_owned(),
        method: "face".to_owned(),
        certified_at: OffsetDateTime::now_utc(),
        next_due: None,
        operator_masked: None,
        receipt: None,
    }
}

/// Opens the corrupt file at `path` and checks the quarantine and the fresh database.
fn assert_quarantined_and_fresh(path: &Path, original: &[u8]) -> PathBuf {
    let opened = Store::open(path).unwrap();
    let quarantined = opened
        .quarantined
        .clone()
        .expect("the file should be quarantined");
    assert_eq!(
        quarantined.parent(),
        path.parent(),
        "kept in the same folder"
    );
    let name = quarantined
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let base = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("{base}.corrupt-")),
        "unexpected name {name}"
    );
    assert_eq!(
        std::fs::read(&quarantined).unwrap(),
        original,
        "bytes kept as they were"
    );

    let mut store = opened.store;
    let now = OffsetDateTime::now_utc();
    let e = store
        .enqueue(&record(), "certification", b"p", now)
        .unwrap();
    assert_eq!(e.seq, 1);
    let status = store.queue_status(now).unwrap();
    assert_eq!((status.pending, status.acked, status.dead), (1, 0, 0));
    assert_eq!(store.records_for("person-1").unwrap().len(), 1);
    drop(store);

    // The fresh database is healthy on the next start.
    let again = Store::open(path).unwrap();
    assert!(again.quarantined.is_none());
    assert_eq!(again.store.queue_status(now).unwrap().pending, 1);
    quarantined
}

#[test]
fn garbage_bytes_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    assert_quarantined_and_fresh(&path, &garbage);
}

/// Builds a real database with some data, closed cleanly (WAL checkpointed into the file).
fn valid_db(path: &Path) -> Vec<u8> {
    let mut store = Store::open(path).unwrap().store;
    let now = OffsetDateTime::now_utc();
    for _ in 0..50 {
        store
            .enqueue(&record(), "certification", &[7u8; 300], now)
            .unwrap();
    }
    drop(store);
    // Closing the last connection checkpoints the WAL into the main file and removes it.
    assert!(!path.with_extension("db-wal").exists());
    std::fs::read(path).unwrap()
}

#[test]
fn overwritten_header_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    let mut bytes = valid_db(&path);
    bytes[..100].fill(0xFF);
    std::fs::write(&path, &bytes).unwrap();
    assert_quarantined_and_fresh(&path, &bytes);
}

#[test]
fn truncated_file_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    let bytes = valid_db(&path);
    let truncated = &bytes[..60];
    std::fs::write(&path, truncated).unwrap();
    assert_quarantined_and_fresh(&path, truncated);
}

#[test]
fn damaged_pages_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    let mut bytes = valid_db(&path);
    assert!(
        bytes.len() > 4096 * 3,
        "need a few pages, got {}",
        bytes.len()
    );
    // Keep the header, wreck everything after the first page (schema and b-tree pages).
    for (i, b) in bytes[4096..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31) ^ 0x5A;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_quarantined_and_fresh(&path, &bytes);
}

#[test]
fn healthy_database_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    valid_db(&path);
    let opened = Store::open(&path).unwrap();
    assert!(opened.quarantined.is_none());
    assert_eq!(opened.store.records_for("person-1").unwrap().len(), 50);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert!(leftovers.is_empty());
}
