//! Serial peripherals: the resident ID card reader (SAM protocol; codec in
//! `lifecert_core::reader`) and the ESC/POS receipt printer, each on its own
//! thread, plus simulators of both that speak the same bytes over a pty.

pub mod escpos;
pub mod escpos_decode;
pub mod printer;
pub mod reader;
pub mod serial;
// The simulators run on a pty: Unix only.
#[cfg(unix)]
mod sim_common;
#[cfg(unix)]
pub mod sim_printer;
#[cfg(unix)]
pub mod sim_reader;
pub mod udev;

/// Why a receipt did not print. The result is never affected: it is already
/// durably recorded before anything is printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    /// The port cannot be opened / the USB device is missing.
    #[error("printer not connected: {0}")]
    NotConnected(String),
    /// DLE EOT 4: paper roll end.
    #[error("printer out of paper")]
    PaperOut,
    /// DLE EOT 2: cover open.
    #[error("printer cover open")]
    CoverOpen,
    /// DLE EOT 1/2: offline or an error state other than the above.
    #[error("printer offline: {0}")]
    Offline(String),
    /// No answer to the status request in time.
    #[error("printer does not answer (timeout)")]
    Timeout,
    /// Writing failed midway.
    #[error("printer write failed: {0}")]
    Io(String),
}

impl PrintError {
    /// Short Chinese text for the staff panel.
    pub fn staff_zh(&self) -> String {
        match self {
            PrintError::NotConnected(why) => format!("未连接：{why}"),
            PrintError::PaperOut => "缺纸，请装纸".to_string(),
            PrintError::CoverOpen => "纸仓盖打开，请关好".to_string(),
            PrintError::Offline(why) => format!("脱机：{why}"),
            PrintError::Timeout => "无响应（超时），请检查电源和连线".to_string(),
            PrintError::Io(why) => format!("写入失败：{why}"),
        }
    }

    /// Plain words for the screen, short enough for one line next to "the
    /// result is kept" (the result is kept either way).
    pub fn user_message(&self) -> &'static str {
        match self {
            PrintError::PaperOut => "打印机缺纸，凭条未能打印",
            PrintError::CoverOpen => "打印机盖未关好，凭条未能打印",
            PrintError::NotConnected(_) | PrintError::Timeout => "打印机没有响应，凭条未能打印",
            PrintError::Offline(_) | PrintError::Io(_) => "打印机出现故障，凭条未能打印",
        }
    }
}
