//! The receipt printer end to end: the real `SerialPrinter` on one end of a
//! pty, the real `lifecert simulate printer` binary on the other.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use lifecert::config::{SerialDeviceConfig, SerialPort};
use lifecert::kiosk::ReceiptPrinter;
use lifecert::peripherals::PrintError;
use lifecert::peripherals::escpos::ReceiptLayout;
use lifecert::peripherals::printer::SerialPrinter;
use lifecert_core::flow::Receipt;
use lifecert_core::id::IdNumber;
use serde_json::Value;
use time::macros::datetime;

use common::sim::Sim;

/// A full (synthetic, checksum-valid) ID number: it must never reach the printer.
const FULL_ID: &str = "11010519491231002X";
const QR_URL: &str = "https://si.example.cn/verify?id={id}";

/// The printer simulator and its JSON lines.
trait PrinterSim {
    /// Starts `lifecert simulate printer --link LINK EXTRA…`.
    fn printer(link: &Path, extra: &[&str]) -> Sim;
    fn json(&self, timeout: Duration) -> Option<Value>;
    /// Sends a stdin command and waits until the simulator applied it.
    fn command(&mut self, cmd: &str) -> Value;
    /// The next receipt line (panics on any other line).
    fn receipt(&self) -> (String, Value);
}

impl PrinterSim for Sim {
    fn printer(link: &Path, extra: &[&str]) -> Sim {
        Sim::start("printer", link, extra)
    }

    fn json(&self, timeout: Duration) -> Option<Value> {
        self.line(timeout)
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
    }

    fn command(&mut self, cmd: &str) -> Value {
        self.send(cmd);
        let v = self.json(Duration::from_secs(10)).expect("state line");
        v.get("state")
            .cloned()
            .unwrap_or_else(|| panic!("expected a state line, got {v}"))
    }

    fn receipt(&self) -> (String, Value) {
        let line = self.line(Duration::from_secs(10)).expect("a receipt line");
        let v: Value = serde_json::from_str(&line).unwrap();
        let receipt = v
            .get("receipt")
            .cloned()
            .unwrap_or_else(|| panic!("expected a receipt, got {line}"));
        (line, receipt)
    }
}

fn printer(link: &Path) -> SerialPrinter {
    let cfg = SerialDeviceConfig {
        port: SerialPort::Device(link.to_str().unwrap().to_string()),
        baud: 9600,
        usb_vid: None,
        usb_pid: None,
    };
    let layout = ReceiptLayout {
        site: "朝阳区社保所".into(),
        device_id: "KIOSK-07".into(),
        qr_url: Some(QR_URL.into()),
        columns: 32,
    };
    SerialPrinter::new(cfg, layout, None)
}

fn receipt(record_id: &str) -> Receipt {
    let id = IdNumber::parse(FULL_ID).expect("a valid test ID");
    Receipt {
        masked_id: id.masked(),
        masked_name: Some("张*三".into()),
        result_zh: "认证成功".into(),
        at: datetime!(2026-11-23 14:05 +8),
        next_due_zh: Some("下次认证时间：2027年11月30日前".into()),
        record_id: record_id.into(),
    }
}

fn texts(receipt: &Value) -> Vec<String> {
    receipt["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "text")
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

/// No line (receipt or otherwise) arrives within `wait`.
fn assert_quiet(sim: &Sim, wait: Duration) {
    if let Some(line) = sim.line(wait) {
        panic!("the simulator printed something unexpected: {line}");
    }
}

#[test]
fn a_receipt_prints_with_masked_id_qr_url_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let sim = Sim::printer(&link, &[]);
    let mut printer = printer(&link);

    let status = printer.check().unwrap();
    assert_eq!(status, format!("已连接 {}，纸张正常", link.display()));

    printer.print(&receipt("LC-0001")).unwrap();
    let (line, r) = sim.receipt();
    let masked = IdNumber::parse(FULL_ID).unwrap().masked();
    assert!(
        !line.contains(FULL_ID),
        "the full ID reached the printer: {line}"
    );
    assert!(masked.contains('*'));
    let lines = texts(&r);
    assert!(lines.contains(&format!("身份证号：{masked}")), "{lines:?}");
    assert!(
        lines.contains(&"认证结果：认证成功".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"凭条编号：LC-0001".to_string()),
        "{lines:?}"
    );
    assert_eq!(lines[0], "社会保险待遇资格认证凭条");
    assert_eq!(r["init"], true);
    assert_eq!(r["chinese_mode_ok"], true);
    let qrs: Vec<&Value> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "qr")
        .collect();
    assert_eq!(qrs.len(), 1);
    assert_eq!(qrs[0]["data"], "https://si.example.cn/verify?id=LC-0001");
    assert_eq!(qrs[0]["model"], 2);
    assert_eq!(qrs[0]["ec"], "M");
    assert_eq!(r["cut"]["partial"], true);
    assert_eq!(r["cut"]["feed"], 0);

    // A second receipt on the same open port.
    printer.print(&receipt("LC-0002")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0002".to_string()));
}

#[test]
fn paper_out_refuses_to_print_until_paper_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let mut sim = Sim::printer(&link, &[]);
    let mut printer = printer(&link);

    let state = sim.command("paper out");
    assert_eq!(state["paper"], "out");
    assert_eq!(
        printer.print(&receipt("LC-0010")),
        Err(PrintError::PaperOut)
    );
    assert_eq!(printer.check(), Err(PrintError::PaperOut));
    assert_quiet(&sim, Duration::from_millis(500));

    sim.command("paper low");
    let status = printer.check().unwrap();
    assert!(status.contains("纸将用尽"), "{status}");
    printer.print(&receipt("LC-0011")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0011".to_string()));

    sim.command("paper ok");
    printer.print(&receipt("LC-0012")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0012".to_string()));
}

#[test]
fn started_with_paper_out_and_cover_open_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let mut sim = Sim::printer(&link, &["--paper-out"]);
    let mut printer = printer(&link);
    assert_eq!(
        printer.print(&receipt("LC-0020")),
        Err(PrintError::PaperOut)
    );

    sim.command("paper ok");
    sim.command("cover open");
    assert_eq!(
        printer.print(&receipt("LC-0021")),
        Err(PrintError::CoverOpen)
    );
    assert_quiet(&sim, Duration::from_millis(300));

    sim.command("cover closed");
    printer.print(&receipt("LC-0022")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0022".to_string()));
}

#[test]
fn a_silent_printer_times_out_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let mut sim = Sim::printer(&link, &[]);
    let mut printer = printer(&link);

    sim.command("silent");
    let started = Instant::now();
    assert_eq!(printer.print(&receipt("LC-0030")), Err(PrintError::Timeout));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1000),
        "gave up too early: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_quiet(&sim, Duration::from_millis(300));

    sim.command("answer");
    printer.print(&receipt("LC-0031")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0031".to_string()));
}

#[test]
fn a_restarted_printer_is_reconnected_without_a_new_printer_object() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let mut sim = Sim::printer(&link, &[]);
    let mut printer = printer(&link);
    printer.print(&receipt("LC-0040")).unwrap();
    sim.receipt();

    // Unplugged: the simulator dies without cleaning up, and the device
    // node goes away (as /dev/ttyUSB0 does; also keeps a reused pty number
    // of a parallel test from being opened through the stale link).
    sim.kill();
    std::fs::remove_file(&link).unwrap();
    let started = Instant::now();
    let err = printer.print(&receipt("LC-0041")).unwrap_err();
    assert!(
        matches!(err, PrintError::NotConnected(_) | PrintError::Io(_)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // Still unplugged: the port cannot be opened.
    let err = printer.print(&receipt("LC-0042")).unwrap_err();
    assert!(matches!(err, PrintError::NotConnected(_)), "{err:?}");
    drop(sim);

    // Plugged back in on the same path.
    let sim = Sim::printer(&link, &[]);
    printer.print(&receipt("LC-0043")).unwrap();
    let (_, r) = sim.receipt();
    assert!(texts(&r).contains(&"凭条编号：LC-0043".to_string()));
}

#[test]
fn the_simulator_reports_undecodable_bytes() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("printer");
    let sim = Sim::printer(&link, &[]);
    let mut port = serialport::new(link.to_str().unwrap(), 9600)
        .timeout(Duration::from_secs(2))
        .open()
        .unwrap();
    port.write_all(&[0x1B, 0x40, 0x1B, 0x5A]).unwrap();
    let v = sim.json(Duration::from_secs(10)).expect("an error line");
    let err = v["error"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(err.contains("offset 2"), "{err}");
    // It recovers: a status request is still answered.
    port.write_all(&[0x10, 0x04, 0x01]).unwrap();
    let mut b = [0u8; 1];
    port.read_exact(&mut b).unwrap();
    assert_eq!(b[0], 0x12);
}
