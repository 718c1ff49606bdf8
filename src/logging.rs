//! Logging: tracing to stderr and to a daily rolling file in the log directory.
//!
//! The filter comes from `LIFECERT_LOG` (same syntax as `RUST_LOG`, default
//! `info`). Privacy rule: never log names, full ID numbers, images or
//! embeddings. The types help: `IdNumber`'s `Debug` and `Display` print only the
//! masked form, so `tracing::info!(id = %person)` is safe by construction.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt};

/// The environment variable holding the log filter.
pub const FILTER_ENV: &str = "LIFECERT_LOG";
/// The log file name prefix (`lifecert.2026-11-22.log`).
pub const FILE_PREFIX: &str = "lifecert";

/// Keeps the file writer flushing; drop it last, at exit.
#[must_use = "dropping the guard stops the log file writer"]
pub struct LogGuard {
    _file: Option<WorkerGuard>,
    /// Where the log file goes, if it could be opened.
    pub file_dir: Option<PathBuf>,
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Builds the file layer's writer, or says why it cannot.
fn file_writer(
    dir: &Path,
    keep_files: usize,
) -> Result<(tracing_appender::non_blocking::NonBlocking, WorkerGuard), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(keep_files.max(1))
        .build(dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))?;
    Ok(tracing_appender::non_blocking(appender))
}

/// Logs to stderr and to a rolling file in `dir`, keeping `keep_files` files.
///
/// A log directory that cannot be used is not fatal: the kiosk must keep
/// serving. It logs to stderr only and says so once.
pub fn init(dir: &Path, keep_files: usize) -> LogGuard {
    let stderr = fmt::layer().with_writer(std::io::stderr).with_target(false);
    match file_writer(dir, keep_files) {
        Ok((writer, guard)) => {
            let file = fmt::layer().with_writer(writer).with_ansi(false);
            let _ = Registry::default()
                .with(stderr.and_then(file).with_filter(filter()))
                .try_init();
            LogGuard {
                _file: Some(guard),
                file_dir: Some(dir.to_path_buf()),
            }
        }
        Err(why) => {
            let _ = Registry::default()
                .with(stderr.with_filter(filter()))
                .try_init();
            tracing::warn!("logging to stderr only: {why}; check storage.log_dir");
            LogGuard {
                _file: None,
                file_dir: None,
            }
        }
    }
}

/// Logs to stderr only (command-line tools that must not touch the log dir).
pub fn init_stderr() {
    let _ = Registry::default()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_filter(filter()),
        )
        .try_init();
}

/// Formats an error with its whole source chain (`a: b: c`), for logs.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecert_core::id::IdNumber;

    #[test]
    fn file_log_shows_id_numbers_masked_only() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, guard) = file_writer(dir.path(), 3).unwrap();
        let subscriber =
            Registry::default().with(fmt::layer().with_writer(writer).with_ansi(false));
        let id = IdNumber::parse("11010519491231002X").unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(person = %id, debug = ?id, "eligibility checked");
        });
        drop(guard);
        let mut text = String::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        assert!(text.contains("eligibility checked"), "{text}");
        assert!(text.contains("1101**********002X"), "{text}");
        assert!(!text.contains("11010519491231002X"), "{text}");
    }

    #[test]
    fn unusable_log_dir_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let err = file_writer(&file.join("logs"), 3).unwrap_err();
        assert!(err.contains("not-a-dir"), "{err}");
    }

    #[test]
    fn chain_includes_sources() {
        let inner = std::io::Error::other("disk full");
        let outer = std::io::Error::other(inner);
        assert!(chain(&outer).contains("disk full"));
    }
}
