//! What both simulators (`sim_reader`, `sim_printer`) do the same way: the
//! pty link, standard-input commands on a thread, `ready <link>` on standard
//! output, and the read loop that waits out a closed kiosk side.

use std::io::{BufRead, ErrorKind, Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Duration;

use anyhow::Context;

use super::serial::PtyLink;

/// Pause when the kiosk side is not open (EIO / hang-up on the master).
const NO_PEER_PAUSE: Duration = Duration::from_millis(50);
/// Read timeout on the master: how often stdin commands are looked at.
const POLL: Duration = Duration::from_millis(20);

/// A simulated device: its standard-input commands and what it does with
/// the kiosk's bytes.
pub(crate) trait Simulated {
    /// A standard-input command.
    type Control;

    /// Applies a stdin command (other than the one that quits).
    fn on_control(&mut self, control: Self::Control) -> anyhow::Result<()>;

    /// Handles bytes from the kiosk side; answers go to `master`.
    fn on_bytes(&mut self, master: &mut serialport::TTYPort, bytes: &[u8]) -> anyhow::Result<()>;

    /// The kiosk side is not open (EIO / hang-up / 0-byte read): drop what
    /// is half received. Called on every such read, before a short pause.
    fn on_no_peer(&mut self);
}

/// A simulator's end of the pty link and its stdin commands.
pub(crate) struct Session<C> {
    /// Removes the link when dropped.
    pty: PtyLink,
    controls: Receiver<C>,
    /// The command that stops the simulator.
    quit: C,
}

impl<C: PartialEq + Send + 'static> Session<C> {
    /// Creates the pty and its symlink at `link`, starts reading standard
    /// input (each trimmed, non-empty line through `parse`, whose errors are
    /// logged), then prints `ready <link>` on standard output. `quit` (or
    /// the end of input) stops `serve`.
    pub(crate) fn open(
        link: &Path,
        parse: fn(&str) -> Result<C, String>,
        quit: C,
    ) -> anyhow::Result<Session<C>> {
        let mut pty = PtyLink::create(link).map_err(anyhow::Error::msg)?;
        serialport::SerialPort::set_timeout(&mut pty.master, POLL)
            .context("cannot set the pty read timeout")?;

        let (tx, controls) = mpsc::channel();
        std::thread::Builder::new()
            .name("sim-stdin".into())
            .spawn(move || read_stdin(&tx, parse))
            .context("cannot start the stdin thread")?;

        let mut out = std::io::stdout().lock();
        writeln!(out, "ready {}", link.display())?;
        out.flush()?;
        Ok(Session {
            pty,
            controls,
            quit,
        })
    }

    /// Serves the kiosk side until `quit` or the end of standard input.
    pub(crate) fn serve<S: Simulated<Control = C>>(
        &mut self,
        device: &mut S,
    ) -> anyhow::Result<()> {
        let master = &mut self.pty.master;
        let mut buf = [0u8; 4096];
        loop {
            loop {
                match self.controls.try_recv() {
                    Ok(control) if control == self.quit => return Ok(()),
                    Ok(control) => device.on_control(control)?,
                    Err(TryRecvError::Disconnected) => return Ok(()),
                    Err(TryRecvError::Empty) => break,
                }
            }
            match master.read(&mut buf) {
                Ok(n) if n > 0 => device.on_bytes(master, buf.get(..n).unwrap_or_default())?,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::WouldBlock
                    ) => {}
                // EIO / hang-up / end of file: the kiosk side is closed (not
                // yet opened, or closed after an error). Wait for it to come back.
                Ok(_) | Err(_) => {
                    device.on_no_peer();
                    std::thread::sleep(NO_PEER_PAUSE);
                }
            }
        }
    }
}

/// Forwards stdin lines as commands; bad lines are logged with what is
/// allowed. Returns (closing the channel, which stops `serve` once the
/// commands before it are applied) at the end of input.
fn read_stdin<C>(tx: &Sender<C>, parse: fn(&str) -> Result<C, String>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match parse(line) {
            Ok(control) => {
                if tx.send(control).is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
}
