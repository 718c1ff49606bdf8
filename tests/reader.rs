//! The ID card reader adapter against the real simulator binary over a pty:
//! `lifecert simulate id-reader` on one end, `peripherals::reader::spawn` on
//! the other, the SAM protocol bytes in between.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use lifecert::config::{SerialDeviceConfig, SerialPort};
use lifecert::peripherals::reader::{self, ReaderHandle, ReaderStatus};
use lifecert_core::reader::{CardType, ReaderEvent, Sw3, Validity};

use common::sim::Sim;

const BIN: &str = env!("CARGO_BIN_EXE_lifecert");

/// Starts `lifecert simulate id-reader --link LINK ARGS…` and waits for `ready`.
fn start_sim(link: &Path, args: &[&str]) -> Sim {
    Sim::start("id-reader", link, args)
}

/// The adapter with its events on a channel.
struct Adapter {
    handle: ReaderHandle,
    events: Receiver<ReaderEvent>,
    seen: Vec<String>,
}

impl Adapter {
    fn spawn(link: &Path) -> Adapter {
        // The adapter's logs on stderr (LIFECERT_LOG=debug for detail).
        lifecert::logging::init_stderr();
        let cfg = SerialDeviceConfig {
            port: SerialPort::Device(link.to_str().unwrap().to_owned()),
            baud: 115_200,
            usb_vid: None,
            usb_pid: None,
        };
        let (tx, events) = mpsc::channel();
        let handle = reader::spawn(
            cfg,
            Box::new(move |e| {
                let _ = tx.send(e);
            }),
        )
        .unwrap();
        Adapter {
            handle,
            events,
            seen: Vec::new(),
        }
    }

    /// The first event matching `want` within `within`, skipping others.
    fn expect(
        &mut self,
        what: &str,
        within: Duration,
        want: impl Fn(&ReaderEvent) -> bool,
    ) -> ReaderEvent {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if want(&e) => {
                    self.seen.push(short(&e));
                    return e;
                }
                Ok(e) => self.seen.push(short(&e)),
                Err(_) => panic!(
                    "no {what} within {within:?}; events so far: {:?}; status: {:?}",
                    self.seen,
                    self.handle.status()
                ),
            }
        }
    }

    /// No event matching `unwanted` for `during` (other events are fine).
    fn expect_none(
        &mut self,
        what: &str,
        during: Duration,
        unwanted: impl Fn(&ReaderEvent) -> bool,
    ) {
        let deadline = Instant::now() + during;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    assert!(!unwanted(&e), "unexpected {what}; events: {:?}", self.seen);
                    self.seen.push(short(&e));
                }
                Err(_) => return,
            }
        }
    }

    fn card_read(&mut self, within: Duration) -> lifecert_core::reader::CardText {
        match self.expect("CardRead", within, |e| {
            matches!(e, ReaderEvent::CardRead(_))
        }) {
            ReaderEvent::CardRead(card) => card,
            _ => unreachable!(),
        }
    }

    /// Waits until the status satisfies `want`.
    fn status_until(
        &self,
        what: &str,
        within: Duration,
        want: impl Fn(&ReaderStatus) -> bool,
    ) -> ReaderStatus {
        let deadline = Instant::now() + within;
        loop {
            let status = self.handle.status();
            if want(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "status never showed {what} within {within:?}: {status:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An event for failure messages (no card contents).
fn short(e: &ReaderEvent) -> String {
    match e {
        ReaderEvent::CardRead(card) => format!("CardRead({:?})", card.card_type),
        other => format!("{other:?}"),
    }
}

fn is_online(e: &ReaderEvent) -> bool {
    matches!(e, ReaderEvent::Online)
}

fn is_fault(e: &ReaderEvent) -> bool {
    matches!(e, ReaderEvent::Fault(_))
}

fn is_card_read(e: &ReaderEvent) -> bool {
    matches!(e, ReaderEvent::CardRead(_))
}

const SOON: Duration = Duration::from_secs(5);
/// Find every ~1 s, then select and read: 3 s is ample; allow for a busy machine.
const READ_WITHIN: Duration = Duration::from_secs(3);

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("reader");
    (dir, link)
}

fn write_card(dir: &Path, name: &str, json: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path
}

/// A number with a valid MOD 11-2 check digit.
fn with_check(first17: &str) -> String {
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", lifecert_core::id::check_digit(&bytes))
}

#[test]
fn a_placed_card_is_read_once_and_its_removal_reported() {
    let (_dir, link) = setup();
    let mut sim = start_sim(&link, &[]);
    let mut a = Adapter::spawn(&link);
    a.expect("Online", SOON, is_online);
    let status = a.handle.status();
    assert!(status.connected && !status.faulty, "{status:?}");
    assert_eq!(status.port.as_deref(), link.to_str());
    assert_eq!(status.sam_id.as_deref(), Some("0501-20190101-0123456789"));
    assert!(
        status.detail.contains("SAM 0501-20190101-0123456789"),
        "{}",
        status.detail
    );
    // An empty reader: nothing to report.
    a.expect_none("card event", Duration::from_millis(1500), |e| {
        matches!(e, ReaderEvent::CardRead(_) | ReaderEvent::ReadFailed { .. })
    });

    let placed = Instant::now();
    sim.send("place");
    let card = a.card_read(READ_WITHIN);
    eprintln!("card read {:?} after place", placed.elapsed());
    assert_eq!(card.card_type, CardType::Resident);
    assert_eq!(card.name, "测试老人");
    assert_eq!(card.number, "110105195203150013");
    assert_eq!(card.birth, time::macros::date!(1952 - 03 - 15));
    assert_eq!(card.valid_to, Validity::LongTerm);
    assert_eq!(card.nation_name(), Some("汉"));
    assert_eq!(a.handle.status().cards_read, 1);

    // (b) the card stays on the reader: it is not read again.
    a.expect_none("second CardRead", Duration::from_millis(2500), is_card_read);
    assert_eq!(a.handle.status().cards_read, 1);
    sim.send("remove");
    a.expect("CardRemoved", READ_WITHIN, |e| {
        matches!(e, ReaderEvent::CardRemoved)
    });
    // Placed again: a new read.
    sim.send("place");
    a.card_read(READ_WITHIN);
    assert_eq!(a.handle.status().cards_read, 2);
}

#[test]
fn a_card_moved_during_the_read_fails_once_then_reads() {
    let (_dir, link) = setup();
    let mut sim = start_sim(&link, &[]);
    let mut a = Adapter::spawn(&link);
    a.expect("Online", SOON, is_online);
    sim.send("moved");
    sim.send("place");
    let failed = a.expect("ReadFailed", READ_WITHIN, |e| {
        matches!(e, ReaderEvent::ReadFailed { .. } | ReaderEvent::CardRead(_))
    });
    let ReaderEvent::ReadFailed { sw3, message } = failed else {
        panic!("expected the read to fail first, got {}", short(&failed));
    };
    assert_eq!(sw3, Some(Sw3::ReadFailed));
    assert_eq!(message, Sw3::ReadFailed.user_message());
    assert!(message.contains("移动"), "{message}");
    let card = a.card_read(READ_WITHIN);
    assert_eq!(card.number, "110105195203150013");
}

#[test]
fn line_noise_and_bad_checksums_are_counted_and_survived() {
    let (_dir, link) = setup();
    let mut sim = start_sim(&link, &[]);
    let mut a = Adapter::spawn(&link);
    a.expect("Online", SOON, is_online);

    sim.send("badsum");
    let status = a.status_until("a bad frame", SOON, |s| s.bad_frames > 0);
    assert_eq!(status.cards_read, 0);
    sim.send("garbage");
    let status = a.status_until("garbage bytes", SOON, |s| s.garbage_bytes >= 33);
    assert!(status.connected, "one noisy answer is no fault: {status:?}");
    sim.send("place");
    let card = a.card_read(READ_WITHIN);
    assert_eq!(card.card_type, CardType::Resident);

    // Both at once on one answer: noise, then a corrupt frame. The answer is
    // lost (a timeout), the next poll reads the card.
    sim.send("remove");
    a.expect("CardRemoved", READ_WITHIN, |e| {
        matches!(e, ReaderEvent::CardRemoved)
    });
    let before = a.handle.status();
    sim.send("garbage");
    sim.send("badsum");
    sim.send("place");
    a.card_read(Duration::from_secs(6));
    let after = a.handle.status();
    assert!(after.garbage_bytes > before.garbage_bytes, "{after:?}");
    assert!(after.bad_frames > before.bad_frames, "{after:?}");
    assert!(
        after.timeouts >= 1,
        "the corrupt answer timed out: {after:?}"
    );
}

#[test]
fn a_slow_reader_still_reads_and_a_silent_one_is_a_fault_until_it_answers() {
    let (_dir, link) = setup();
    let mut sim = start_sim(&link, &[]);
    let mut a = Adapter::spawn(&link);
    a.expect("Online", SOON, is_online);

    sim.send("slow 300");
    sim.send("place");
    // Four 300 ms answers (find, select, read) plus the find interval.
    a.card_read(Duration::from_secs(5));
    assert_eq!(a.handle.status().timeouts, 0);
    sim.send("slow 0");
    sim.send("remove");
    a.expect("CardRemoved", SOON, |e| {
        matches!(e, ReaderEvent::CardRemoved)
    });

    sim.send("silent");
    let fault = a.expect("Fault", Duration::from_secs(10), is_fault);
    let status = a.handle.status();
    assert!(status.timeouts >= 3, "{status:?}");
    assert!(!status.connected && status.faulty, "{status:?}");
    assert!(status.detail.contains("故障"), "{}", status.detail);
    let ReaderEvent::Fault(reason) = fault else {
        unreachable!()
    };
    assert!(!reason.is_empty());

    sim.send("answer");
    a.expect("Online", SOON, is_online);
    assert!(a.handle.status().connected);
    sim.send("place");
    a.card_read(READ_WITHIN);
}

#[test]
fn an_unplugged_reader_is_a_fault_and_a_new_one_is_picked_up() {
    let (dir, link) = setup();
    let mut sim = start_sim(&link, &[]);
    let mut a = Adapter::spawn(&link);
    a.expect("Online", SOON, is_online);
    assert_eq!(a.handle.status().reconnects, 0);

    sim.kill();
    // The device node goes with the device (as /dev/ttyUSB0 does); this
    // also keeps the adapter off a recycled /dev/pts number meanwhile.
    std::fs::remove_file(&link).unwrap();
    let fault = a.expect("Fault", SOON, is_fault);
    let ReaderEvent::Fault(reason) = fault else {
        unreachable!()
    };
    assert!(reason.contains("未连接"), "{reason}");
    let status = a.handle.status();
    assert!(!status.connected && status.faulty, "{status:?}");
    assert!(status.detail.starts_with("未连接"), "{}", status.detail);

    // Plugged back in (a new pty behind the same path), with a card on it.
    let card = write_card(dir.path(), "card.json", RESIDENT_JSON);
    let _sim = start_sim(&link, &["--card", card.to_str().unwrap()]);
    let plugged = Instant::now();
    a.expect("Online", Duration::from_secs(8), is_online);
    let card = a.card_read(READ_WITHIN);
    eprintln!("reconnected and read after {:?}", plugged.elapsed());
    assert_eq!(card.name, "张三丰");
    let status = a.handle.status();
    assert!(status.connected, "{status:?}");
    assert!(status.reconnects >= 1, "{status:?}");
}

const RESIDENT_JSON: &str = r#"{
  "card_type": "resident",
  "name": "张三丰",
  "gender": "male",
  "nation": "01",
  "birth": "19520315",
  "address": "北京市东城区测试胡同1号",
  "number": "110105195203150013",
  "authority": "北京市公安局东城分局",
  "valid_from": "20100101",
  "valid_to": "长期"
}"#;

#[test]
fn residence_permit_and_foreigner_cards_are_read_with_their_types() {
    let (dir, link) = setup();
    let j_number = with_check("81000019500101002");
    let j_json = format!(
        r#"{{
  "card_type": "hk_macau_taiwan",
  "name": "陈大文",
  "gender": "male",
  "birth": "19500101",
  "address": "广东省深圳市福田区测试路2号",
  "number": "{j_number}",
  "authority": "深圳市公安局",
  "valid_from": "20200101",
  "valid_to": "20250101",
  "pass_number": "H01234567",
  "issue_count": "01"
}}"#
    );
    let y_json = r#"{
  "card_type": "foreigner_permanent2023",
  "name": "约翰",
  "english_name": "SMITH, JOHN",
  "gender": "male",
  "birth": "19850101",
  "number": "932682198501010017",
  "valid_from": "20240101",
  "valid_to": "20340101",
  "issue_count": "00",
  "nationality": "USA"
}"#;
    let j = write_card(dir.path(), "j.json", &j_json);
    let y = write_card(dir.path(), "y.json", y_json);

    let mut sim = start_sim(&link, &["--card", j.to_str().unwrap()]);
    let mut a = Adapter::spawn(&link);
    let card = a.card_read(SOON);
    assert_eq!(card.card_type, CardType::HkMacauTaiwan);
    assert_eq!(card.number, j_number);
    assert_eq!(card.pass_number.as_deref(), Some("H01234567"));
    assert_eq!(
        card.valid_to,
        Validity::Until(time::macros::date!(2025 - 01 - 01))
    );

    sim.send("remove");
    a.expect("CardRemoved", READ_WITHIN, |e| {
        matches!(e, ReaderEvent::CardRemoved)
    });
    sim.send(&format!("place {}", y.display()));
    let card = a.card_read(READ_WITHIN);
    assert_eq!(card.card_type, CardType::ForeignerPermanent2023);
    assert_eq!(card.number, "932682198501010017");
    assert_eq!(card.english_name.as_deref(), Some("SMITH, JOHN"));
    assert_eq!(card.nationality.as_deref(), Some("USA"));
}

#[test]
fn a_card_file_with_a_bad_field_stops_the_simulator_naming_the_field() {
    let (dir, link) = setup();
    let bad = RESIDENT_JSON.replace("\"19520315\"", "\"19521345\"");
    let card = write_card(dir.path(), "bad.json", &bad);
    let out = Command::new(BIN)
        .args(["simulate", "id-reader", "--link"])
        .arg(&link)
        .arg("--card")
        .arg(&card)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("birth"), "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");
    assert!(out.stdout.is_empty(), "never ready: {:?}", out.stdout);
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "no pty is created for a bad card"
    );

    // A missing file is named too.
    let mut child = Command::new(BIN)
        .args(["simulate", "id-reader", "--link"])
        .arg(&link)
        .args(["--card", "/nonexistent/card.json"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(stderr.contains("/nonexistent/card.json"), "{stderr}");
}
