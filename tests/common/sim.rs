//! A simulator child process (`lifecert simulate KIND --link LINK ARGS…`)
//! for the peripheral tests: its standard output lines arrive on a channel,
//! commands go to its standard input, and it is killed on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How long a simulator may take to start and print `ready`.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running simulator; killed on drop.
pub struct Sim {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    link: PathBuf,
}

impl Sim {
    /// Starts `lifecert simulate KIND --link LINK ARGS…` (KIND `id-reader` or
    /// `printer`) and waits until it prints exactly `ready LINK`.
    pub fn start(kind: &str, link: &Path, args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lifecert"))
            .args(["simulate", kind, "--link"])
            .arg(link)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {kind} simulator: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sim = Sim {
            child,
            stdin,
            lines,
            link: link.to_path_buf(),
        };
        let ready = sim.line(READY_WITHIN).unwrap_or_else(|| {
            panic!("the {kind} simulator prints `ready` within {READY_WITHIN:?}")
        });
        assert_eq!(ready, format!("ready {}", link.display()));
        sim
    }

    /// The link the simulator listens on.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// The next standard-output line within `timeout`.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// A standard-output line already printed, without waiting.
    pub fn try_line(&self) -> Option<String> {
        self.lines.try_recv().ok()
    }

    /// Sends one standard-input command.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Pulls the plug: SIGKILL, no clean shutdown.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
