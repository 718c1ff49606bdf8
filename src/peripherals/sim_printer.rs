//! `lifecert simulate printer`: an ESC/POS receipt printer on a pty.
//!
//! It answers `DLE EOT 1/2/4` status requests like a real printer and
//! decodes everything else (`escpos_decode`). Standard output carries one
//! line per event, flushed at once:
//!
//! - `ready <link>` once the pty is listening;
//! - `{"receipt": {…}}` for each receipt, at its cut (the decoded lines,
//!   QR codes, raster images and cut; see `escpos_decode::DecodedReceipt`);
//! - `{"dropped": "<reason>"}` for a receipt that arrived while the
//!   printer could not print (paper out, cover open);
//! - `{"error": "<message>"}` for bytes that do not decode (the pending
//!   data is discarded);
//! - `{"state": {…}}` after each standard-input command, once applied.
//!
//! Commands on standard input, one per line: `paper out`, `paper low`,
//! `paper ok`, `cover open`, `cover closed`, `silent` (stop answering status
//! requests), `answer`, `quit`. End of input quits.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use super::escpos_decode::{Decoder, Event};
use super::printer::bits;
use super::sim_common::{Session, Simulated};

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    pub link: PathBuf,
    pub paper_out: bool,
}

/// The paper roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paper {
    Ok,
    Low,
    Out,
}

/// The simulated printer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    paper: Paper,
    cover_open: bool,
    answering: bool,
}

impl State {
    /// The answer to `DLE EOT n`.
    fn status(&self, n: u8) -> u8 {
        let out = self.paper == Paper::Out;
        let offline = out || self.cover_open;
        bits::FIXED
            | match n {
                1 if offline => bits::OFFLINE,
                2 => {
                    (if self.cover_open { bits::COVER_OPEN } else { 0 })
                        | (if out { bits::PAPER_END_STOP } else { 0 })
                }
                4 => match self.paper {
                    Paper::Ok => 0,
                    Paper::Low => bits::NEAR_END,
                    Paper::Out => bits::NEAR_END | bits::PAPER_END,
                },
                _ => 0,
            }
    }

    /// Why a receipt cannot be printed now.
    fn blocked(&self) -> Option<&'static str> {
        if self.paper == Paper::Out {
            Some("paper out")
        } else if self.cover_open {
            Some("cover open")
        } else {
            None
        }
    }

    fn to_json(self) -> serde_json::Value {
        json!({
            "paper": match self.paper {
                Paper::Ok => "ok",
                Paper::Low => "low",
                Paper::Out => "out",
            },
            "cover": if self.cover_open { "open" } else { "closed" },
            "answering": self.answering,
        })
    }
}

/// A stdin command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Paper(Paper),
    Cover { open: bool },
    Silent,
    Answer,
    Quit,
}

fn parse_control(line: &str) -> Result<Control, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["paper", "out"] => Ok(Control::Paper(Paper::Out)),
        ["paper", "low"] => Ok(Control::Paper(Paper::Low)),
        ["paper", "ok"] => Ok(Control::Paper(Paper::Ok)),
        ["cover", "open"] => Ok(Control::Cover { open: true }),
        ["cover", "closed"] => Ok(Control::Cover { open: false }),
        ["silent"] => Ok(Control::Silent),
        ["answer"] => Ok(Control::Answer),
        ["quit"] => Ok(Control::Quit),
        _ => Err(format!(
            "unknown command {line:?}; use paper out, paper low, paper ok, cover open, \
             cover closed, silent, answer or quit"
        )),
    }
}

/// Prints one line on stdout and flushes it.
fn emit(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Runs the simulator until `quit` or end of standard input.
pub fn run(opts: Options) -> anyhow::Result<()> {
    let mut session = Session::open(&opts.link, parse_control, Control::Quit)?;
    tracing::info!(link = %opts.link.display(), paper_out = opts.paper_out, "receipt printer simulator ready");

    let mut sim = Sim {
        state: State {
            paper: if opts.paper_out {
                Paper::Out
            } else {
                Paper::Ok
            },
            cover_open: false,
            answering: true,
        },
        decoder: Decoder::default(),
        peer: false,
    };
    session.serve(&mut sim)?;
    tracing::info!("receipt printer simulator stopped");
    Ok(())
}

struct Sim {
    state: State,
    decoder: Decoder,
    /// The kiosk side is open (we have read from it since the last hang-up).
    peer: bool,
}

impl Simulated for Sim {
    type Control = Control;

    fn on_no_peer(&mut self) {
        if self.peer {
            self.peer = false;
            tracing::info!("the kiosk side closed the port");
            if !self.decoder.is_idle() {
                let _ = emit(&json!({"error": "the connection closed in the middle of a receipt; its data was discarded"}).to_string());
            }
            self.decoder.reset();
        }
    }

    fn on_control(&mut self, control: Control) -> anyhow::Result<()> {
        match control {
            Control::Paper(p) => self.state.paper = p,
            Control::Cover { open } => self.state.cover_open = open,
            Control::Silent => self.state.answering = false,
            Control::Answer => self.state.answering = true,
            Control::Quit => {}
        }
        tracing::info!(state = ?self.state, "printer state changed");
        emit(&json!({"state": self.state.to_json()}).to_string())?;
        Ok(())
    }

    fn on_bytes(&mut self, master: &mut serialport::TTYPort, bytes: &[u8]) -> anyhow::Result<()> {
        self.peer = true;
        let events = match self.decoder.push(bytes) {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!("undecodable printer data: {e}");
                emit(&json!({"error": e}).to_string())?;
                self.decoder.reset();
                return Ok(());
            }
        };
        for event in events {
            match event {
                Event::Status(n) => {
                    if self.state.answering {
                        let answer = self.state.status(n);
                        if let Err(e) = master.write_all(&[answer]).and_then(|()| master.flush()) {
                            tracing::warn!("cannot answer a status request: {e}");
                        }
                    } else {
                        tracing::debug!(n, "status request ignored (silent)");
                    }
                }
                Event::Receipt(receipt) => match self.state.blocked() {
                    Some(reason) => emit(&json!({"dropped": reason}).to_string())?,
                    None => emit(&json!({"receipt": receipt}).to_string())?,
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::peripherals::PrintError;
    use crate::peripherals::printer::Status;

    fn state(paper: Paper, cover_open: bool) -> State {
        State {
            paper,
            cover_open,
            answering: true,
        }
    }

    fn interpret(s: State) -> Result<crate::peripherals::printer::Paper, PrintError> {
        Status {
            printer: s.status(1),
            offline: s.status(2),
            paper: s.status(4),
        }
        .interpret()
    }

    #[test]
    fn answers_decode_to_the_simulated_state() {
        use crate::peripherals::printer::Paper as P;
        assert_eq!(interpret(state(Paper::Ok, false)), Ok(P::Ok));
        assert_eq!(interpret(state(Paper::Low, false)), Ok(P::NearEnd));
        assert_eq!(
            interpret(state(Paper::Out, false)),
            Err(PrintError::PaperOut)
        );
        assert_eq!(
            interpret(state(Paper::Ok, true)),
            Err(PrintError::CoverOpen)
        );
        assert_eq!(state(Paper::Ok, false).status(1), 0x12);
        assert_eq!(state(Paper::Out, false).status(4), 0x7E);
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse_control("paper out"), Ok(Control::Paper(Paper::Out)));
        assert_eq!(
            parse_control("  cover   open "),
            Ok(Control::Cover { open: true })
        );
        assert_eq!(parse_control("silent"), Ok(Control::Silent));
        let err = parse_control("paper gone").unwrap_err();
        assert!(err.contains("paper ok"), "{err}");
    }
}
