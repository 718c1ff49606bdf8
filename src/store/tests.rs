//! Unit tests of the local store, on real files in temporary folders.

use std::path::PathBuf;

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;

const T0: OffsetDateTime = datetime!(2026-03-01 08:00:00.000 UTC);

fn new_store() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("lifecert.db");
    let opened = Store::open(&path).unwrap();
    assert!(opened.quarantined.is_none());
    (dir, path, opened.store)
}

fn record(key: &str, at: OffsetDateTime) -> NewRecord {
    NewRecord {
        person_masked: "1101**********002X".to_owned(),
        person_key: key.to_owned(),
        benefit: "pension".to_owned(),
        result: "certified".to_owned(),
        method: "face".to_owned(),
        certified_at: at,
        next_due: Some(date!(2027 - 03 - 01)),
        operator_masked: None,
        receipt: Some("R-0001".to_owned()),
    }
}

fn enqueue_n(store: &mut Store, n: usize, now: OffsetDateTime) -> Vec<Enqueued> {
    (0..n)
        .map(|i| {
            store
                .enqueue(&record("k", now), "certification", &[i as u8], now)
                .unwrap()
        })
        .collect()
}

#[test]
fn migrations_validate() {
    MIGRATIONS.validate().unwrap();
}

#[test]
fn open_sets_pragmas_and_creates_parent_dirs() {
    let (_dir, path, store) = new_store();
    assert!(path.exists());
    assert_eq!(store.path(), path);
    let get = |p: &str| -> String {
        store
            .conn
            .query_row(&format!("PRAGMA {p}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert!(get("journal_mode").contains("wal"));
    assert_eq!(get("synchronous"), "Integer(2)"); // FULL
    assert_eq!(get("foreign_keys"), "Integer(1)");
    assert_ne!(get("busy_timeout"), "Integer(0)");
}

#[test]
fn enqueue_then_status_counts() {
    let (_dir, _path, mut store) = new_store();
    let empty = store.queue_status(T0).unwrap();
    assert_eq!(
        empty,
        QueueStatus {
            pending: 0,
            acked: 0,
            dead: 0,
            oldest_pending_age: None
        }
    );
    let items = enqueue_n(&mut store, 3, T0);
    assert_eq!(
        items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let st = store.queue_status(T0 + Duration::minutes(90)).unwrap();
    assert_eq!((st.pending, st.acked, st.dead), (3, 0, 0));
    assert_eq!(st.oldest_pending_age, Some(Duration::minutes(90)));
    let text = st.to_string();
    assert!(
        text.contains("pending: 3 (oldest waiting 1h 30m)"),
        "{text}"
    );
    assert!(text.contains("acked:   0"), "{text}");
    assert!(text.lines().count() >= 3, "{text}");

    // Clock went backwards: age is never negative.
    let st = store.queue_status(T0 - Duration::hours(1)).unwrap();
    assert_eq!(st.oldest_pending_age, Some(Duration::ZERO));
}

#[test]
fn enqueue_writes_record_with_same_id() {
    let (_dir, _path, mut store) = new_store();
    let at = datetime!(2026-03-01 16:15:00.123 +08:00);
    let e = store
        .enqueue(&record("person-1", at), "certification", b"sealed?", T0)
        .unwrap();
    assert_eq!(e.id.get_version_num(), 7);
    let recs = store.records_for("person-1").unwrap();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.id, e.id);
    assert_eq!(r.certified_at, at);
    assert_eq!(r.certified_at.offset(), time::UtcOffset::UTC);
    assert_eq!(r.next_due, Some(date!(2027 - 03 - 01)));
    assert_eq!(r.receipt.as_deref(), Some("R-0001"));
    let stored: String = store
        .conn
        .query_row("SELECT certified_at FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, "2026-03-01T08:15:00.123Z");
    assert!(store.records_for("nobody").unwrap().is_empty());
    let batch = store.due_batch(T0, 10).unwrap();
    assert_eq!(batch[0].id, e.id);
    assert_eq!(batch[0].payload, b"sealed?");
    assert_eq!(batch[0].kind, "certification");
    assert_eq!(batch[0].created_at, T0);
}

#[test]
fn records_for_is_newest_first() {
    let (_dir, _path, mut store) = new_store();
    for h in [1, 3, 2] {
        store
            .enqueue(&record("p", T0 + Duration::hours(h)), "c", b"", T0)
            .unwrap();
    }
    let hours: Vec<_> = store
        .records_for("p")
        .unwrap()
        .iter()
        .map(|r| (r.certified_at - T0).whole_hours())
        .collect();
    assert_eq!(hours, vec![3, 2, 1]);
}

#[test]
fn unmasked_ids_are_refused_without_writing() {
    let (_dir, _path, mut store) = new_store();
    let mut r = record("p", T0);
    r.person_masked = "11010119900101002X".to_owned();
    let err = store.enqueue(&r, "c", b"", T0).unwrap_err();
    assert!(matches!(
        err,
        StoreError::Unmasked {
            field: "person_masked",
            ..
        }
    ));
    assert!(!err.to_string().contains("11010119900101002X"));
    let mut r = record("p", T0);
    r.operator_masked = Some("12345".to_owned());
    assert!(store.enqueue(&r, "c", b"", T0).is_err());
    let audit = AuditEntry {
        event: "e".into(),
        at: T0,
        outcome: "ok".into(),
        device: "d".into(),
        operator: Some("12345".into()),
    };
    assert!(store.audit(&audit).is_err());
    assert_eq!(store.queue_status(T0).unwrap().pending, 0);
    assert!(store.records_for("p").unwrap().is_empty());
}

#[test]
fn due_batch_orders_by_seq_and_respects_time_and_limit() {
    let (_dir, _path, mut store) = new_store();
    let items = enqueue_n(&mut store, 5, T0);
    // Push item 2 (seq 2) into the future.
    store
        .mark_retry(items[1].id, "timeout", T0 + Duration::minutes(5))
        .unwrap();
    let batch = store.due_batch(T0, 10).unwrap();
    assert_eq!(
        batch.iter().map(|i| i.seq).collect::<Vec<_>>(),
        vec![1, 3, 4, 5]
    );
    let batch = store.due_batch(T0, 2).unwrap();
    assert_eq!(batch.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![1, 3]);
    let later = store.due_batch(T0 + Duration::minutes(5), 10).unwrap();
    assert_eq!(
        later.iter().map(|i| i.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(later[1].attempts, 1);
    assert_eq!(later[1].last_error.as_deref(), Some("timeout"));
    assert_eq!(later[1].next_attempt_at, T0 + Duration::minutes(5));
    assert!(
        store
            .due_batch(T0 - Duration::seconds(1), 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.due_batch(T0, 0).unwrap().is_empty());
}

#[test]
fn ack_retry_dead_and_retry_dead_transitions() {
    let (_dir, _path, mut store) = new_store();
    let items = enqueue_n(&mut store, 4, T0);
    let (a, b, c, d) = (items[0].id, items[1].id, items[2].id, items[3].id);
    let t1 = T0 + Duration::seconds(10);

    store.mark_acked(a, t1).unwrap();
    store.mark_retry(b, "503", T0).unwrap();
    store.mark_retry(b, "503 again", T0).unwrap();
    store.mark_dead(c, "rejected: bad signature", t1).unwrap();

    let st = store.queue_status(t1).unwrap();
    assert_eq!((st.pending, st.acked, st.dead), (2, 1, 1));
    assert!(st.to_string().contains("dead:    1 (gave up"));
    let due: Vec<_> = store.due_batch(t1, 10).unwrap();
    assert_eq!(due.iter().map(|i| i.id).collect::<Vec<_>>(), vec![b, d]);
    assert_eq!(due[0].attempts, 2);
    assert_eq!(due[0].last_error.as_deref(), Some("503 again"));

    // Retry/dead on an acked item change nothing; a repeated ack keeps the first time.
    store.mark_retry(a, "late", t1).unwrap();
    store.mark_dead(a, "late", t1).unwrap();
    store.mark_acked(a, t1 + Duration::hours(1)).unwrap();
    let (attempts, acked_at): (i64, i64) = store
        .conn
        .query_row(
            "SELECT attempts, acked_at FROM outbox WHERE id = ?1",
            [a.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((attempts, acked_at), (0, unix_millis(t1)));
    // Retry on a dead item does not resurrect it.
    store.mark_retry(c, "x", t1).unwrap();
    assert_eq!(store.queue_status(t1).unwrap().dead, 1);

    let t2 = t1 + Duration::minutes(1);
    assert_eq!(store.retry_dead(t2).unwrap(), 1);
    assert_eq!(store.retry_dead(t2).unwrap(), 0);
    let st = store.queue_status(t2).unwrap();
    assert_eq!((st.pending, st.acked, st.dead), (3, 1, 0));
    let revived = store
        .due_batch(t2, 10)
        .unwrap()
        .into_iter()
        .find(|i| i.id == c)
        .unwrap();
    assert_eq!(revived.attempts, 0);
    assert_eq!(revived.next_attempt_at, t2);
    assert_eq!(
        revived.last_error.as_deref(),
        Some("rejected: bad signature")
    );

    // Acking a dead item (server had it after all) makes it acked, not dead.
    store.mark_dead(d, "gave up", t2).unwrap();
    store.mark_acked(d, t2).unwrap();
    let st = store.queue_status(t2).unwrap();
    assert_eq!((st.pending, st.acked, st.dead), (2, 2, 0));
}

#[test]
fn unknown_ids_are_errors() {
    let (_dir, _path, store) = new_store();
    let id = Uuid::now_v7();
    for r in [
        store.mark_acked(id, T0),
        store.mark_retry(id, "e", T0),
        store.mark_dead(id, "e", T0),
    ] {
        assert!(matches!(r, Err(StoreError::UnknownOutboxId { id: i, .. }) if i == id));
    }
}

#[test]
fn purge_keeps_pending_dead_and_recent() {
    let (_dir, _path, mut store) = new_store();
    let items = enqueue_n(&mut store, 6, T0);
    let old = T0 + Duration::days(1);
    let now = T0 + Duration::days(40);
    store.mark_acked(items[0].id, old).unwrap(); // old ack: purged
    store
        .mark_acked(items[1].id, now - Duration::days(1))
        .unwrap(); // recent ack: kept
    store.mark_dead(items[2].id, "rejected", old).unwrap(); // dead: kept
    store.mark_retry(items[3].id, "503", old).unwrap(); // pending: kept
    store.mark_acked(items[5].id, old).unwrap(); // highest seq: kept so seq never repeats
    for at in [old, now] {
        store
            .audit(&AuditEntry {
                event: "session.start".into(),
                at,
                outcome: "ok".into(),
                device: "kiosk-7".into(),
                operator: Some("OP**12".into()),
            })
            .unwrap();
    }

    let deleted = store.purge(now, Duration::days(30)).unwrap();
    assert_eq!(deleted, 2); // items[0] + old audit row
    let st = store.queue_status(now).unwrap();
    assert_eq!((st.pending, st.acked, st.dead), (2, 2, 1));
    let audit_rows: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit_rows, 1);
    // Records are local history: never purged.
    assert_eq!(store.records_for("k").unwrap().len(), 6);
    assert_eq!(store.purge(now, Duration::days(30)).unwrap(), 0);
    // Sequence numbers continue after the purge.
    let next = store.enqueue(&record("k", now), "c", b"", now).unwrap();
    assert_eq!(next.seq, 7);
    // Negative retention behaves like zero: pending/dead still kept.
    store
        .purge(now + Duration::days(1), Duration::days(-5))
        .unwrap();
    let st = store.queue_status(now).unwrap();
    assert_eq!((st.pending, st.dead), (3, 1));
}

#[test]
fn reopen_keeps_data() {
    let (_dir, path, mut store) = new_store();
    let items = enqueue_n(&mut store, 3, T0);
    store.mark_acked(items[0].id, T0).unwrap();
    drop(store);
    let opened = Store::open(&path).unwrap();
    assert!(opened.quarantined.is_none());
    let mut store = opened.store;
    let st = store.queue_status(T0).unwrap();
    assert_eq!((st.pending, st.acked), (2, 1));
    assert_eq!(store.records_for("k").unwrap().len(), 3);
    assert_eq!(enqueue_n(&mut store, 1, T0)[0].seq, 4);
}

#[test]
fn garbage_file_is_quarantined_with_side_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    let garbage = vec![0xA5u8; 8192];
    std::fs::write(&path, &garbage).unwrap();
    std::fs::write(with_suffix(&path, "-wal"), b"not a wal").unwrap();
    let opened = Store::open(&path).unwrap();
    let q = opened.quarantined.clone().unwrap();
    assert_eq!(q.parent(), path.parent());
    let name = q.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("lifecert.db.corrupt-"), "{name}");
    assert!(name.ends_with('Z'), "{name}");
    assert_eq!(std::fs::read(&q).unwrap(), garbage);
    assert_eq!(
        std::fs::read(with_suffix(&q, "-wal")).unwrap(),
        b"not a wal"
    );
    let mut store = opened.store;
    assert_eq!(enqueue_n(&mut store, 1, T0)[0].seq, 1);
    drop(store);

    // A second corruption in the same second gets a distinct name.
    std::fs::write(&path, &garbage).unwrap();
    let again = Store::open(&path).unwrap().quarantined.unwrap();
    assert_ne!(again, q);
    assert!(q.exists() && again.exists());
}

#[test]
fn failed_quarantine_tells_operator_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    std::fs::write(&path, vec![0x5Au8; 4096]).unwrap();
    // A target in a folder that does not exist cannot be renamed to (even as root).
    let target = dir.path().join("missing").join("lifecert.db.corrupt-x");
    let err = move_aside(&path, &target).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Quarantine { .. }), "{msg}");
    assert!(msg.contains("move or delete"), "{msg}");
    assert!(msg.contains("restart"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(std::error::Error::source(&err).is_some());
    assert!(path.exists());
}

#[test]
fn newer_schema_is_an_error_not_a_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifecert.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Migrate { .. }), "{err}");
    assert!(err.to_string().contains("do not delete"));
    assert!(path.exists());
}

#[test]
fn enqueue_with_builds_the_payload_from_the_id_and_seq() {
    let (_dir, _path, mut store) = new_store();
    enqueue_n(&mut store, 2, T0);
    let done = store
        .enqueue_with(
            &record("k", T0),
            "certification",
            |id, seq| Ok::<_, String>(format!("{id}/{seq}").into_bytes()),
            T0,
        )
        .unwrap();
    assert_eq!(done.seq, 3);
    let items = store.due_batch(T0, 10).unwrap();
    assert_eq!(items[2].payload, format!("{}/3", done.id).into_bytes());
}

#[test]
fn enqueue_with_writes_nothing_when_the_payload_fails() {
    let (_dir, _path, mut store) = new_store();
    enqueue_n(&mut store, 1, T0);
    let err = store
        .enqueue_with(
            &record("failing", T0),
            "certification",
            |_, _| Err::<Vec<u8>, _>("cannot seal".to_string()),
            T0,
        )
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::Payload(ref e) if e == "cannot seal"),
        "{err}"
    );
    let status = store.queue_status(T0).unwrap();
    assert_eq!(status.pending, 1, "no outbox row");
    assert!(
        store.records_for("failing").unwrap().is_empty(),
        "no record"
    );
    // The seq is not burnt: the next item gets 2.
    assert_eq!(enqueue_n(&mut store, 1, T0)[0].seq, 2);
}

#[test]
fn mark_acked_many_is_one_all_or_nothing_transaction() {
    let (_dir, _path, mut store) = new_store();
    let now = OffsetDateTime::now_utc();
    let items = enqueue_n(&mut store, 5, now);
    let ids: Vec<Uuid> = items.iter().map(|e| e.id).collect();
    // An unknown id among them: nothing is marked.
    let mut with_unknown = ids[..3].to_vec();
    with_unknown.push(Uuid::now_v7());
    assert!(matches!(
        store.mark_acked_many(&with_unknown, now),
        Err(StoreError::UnknownOutboxId { .. })
    ));
    assert_eq!(store.queue_status(now).unwrap().acked, 0);
    store.mark_acked_many(&ids[..3], now).unwrap();
    let status = store.queue_status(now).unwrap();
    assert_eq!((status.pending, status.acked), (2, 3));
    store.mark_acked_many(&[], now).unwrap();
    // Acking again is harmless (a resend answered Duplicate).
    store.mark_acked_many(&ids, now).unwrap();
    assert_eq!(store.queue_status(now).unwrap().acked, 5);
}
