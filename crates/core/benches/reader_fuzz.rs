//! Time-boxed stream fuzzer of the card-reader codec for the stable toolchain
//! (no cargo-fuzz / nightly needed):
//!
//! ```text
//! cargo bench -p lifecert-core --bench reader_fuzz            # 60 s
//! LIFECERT_FUZZ_SECS=600 cargo bench -p lifecert-core --bench reader_fuzz
//! ```
//!
//! A deterministic xorshift generator builds byte streams from random bytes,
//! preambles, valid request and response frames, 30 01 reads with intact or
//! damaged text blocks, truncated frames, bad checksums and impossible
//! lengths, and delivers them in random chunk sizes to the Deframer; every
//! frame goes through Payload decoding, parse_read / decode_text / sam_id and
//! the Poller. Each execution runs under `catch_unwind`; any panic (or a
//! broken invariant: unbounded buffer, a frame not present in the input with
//! a correct XOR) makes the process exit non-zero.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "../tests/support/stream_gen.rs"]
mod stream_gen;

use lifecert_core::reader::frame::{MAX_LEN, PREAMBLE};
use lifecert_core::reader::text::{build_read, decode_text, encode_text};
use lifecert_core::reader::{CardText, request_frame, response_frame};
use stream_gen::{COMMANDS, Choices, SW3S, Seen, drive, samples};

/// xorshift64* (Vigna): deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        // Preamble bytes are over-represented to provoke false syncs.
        match self.below(7) {
            0 => 0xAA,
            1 => 0x96,
            2 => 0x69,
            _ => self.next() as u8,
        }
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Valid 30 01 payloads of the sample cards (encoded once).
fn read_payloads(cards: &[CardText]) -> Vec<Vec<u8>> {
    cards
        .iter()
        .filter_map(|c| build_read(c, &[0x5A; 1024]).ok())
        .collect()
}

fn stream(rng: &mut Rng, reads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..=rng.below(24) {
        match rng.below(16) {
            0..=2 => out.extend(rng.bytes(120)),
            3 => out.extend(PREAMBLE),
            4 | 5 => out.extend(request_frame(COMMANDS[rng.below(COMMANDS.len())])),
            6..=8 => {
                let sw3 = if rng.below(2) == 0 {
                    SW3S[rng.below(SW3S.len())]
                } else {
                    rng.next() as u8
                };
                let data = rng.bytes(40);
                out.extend(response_frame(0, 0, sw3, &data));
            }
            9 | 10 => {
                let mut data = reads[rng.below(reads.len())].clone();
                for _ in 0..rng.below(4) {
                    let at = rng.below(data.len());
                    data[at] ^= rng.next() as u8;
                }
                if rng.below(4) == 0 {
                    data.truncate(rng.below(data.len() + 1));
                }
                out.extend(response_frame(0, 0, 0x90, &data));
            }
            11 | 12 => {
                let f = response_frame(0, 0, 0x90, &rng.bytes(300));
                out.extend(&f[..rng.below(f.len())]);
            }
            13 | 14 => {
                let mut f = response_frame(0, 0, 0x41, &rng.bytes(100));
                let last = f.len() - 1;
                f[last] ^= 1 + rng.below(255) as u8;
                out.extend(f);
            }
            _ => {
                out.extend(PREAMBLE);
                let len = if rng.below(2) == 0 {
                    MAX_LEN + 1 + rng.below(usize::from(u16::MAX) - MAX_LEN)
                } else {
                    rng.below(3)
                };
                out.extend((len as u16).to_be_bytes());
                out.extend(rng.bytes(60));
            }
        }
    }
    out
}

impl Choices for Rng {
    fn chunk(&mut self) -> usize {
        1 + self.below(700)
    }

    fn perturb(&mut self) -> usize {
        self.below(8)
    }
}

/// One execution: feed `input` in random chunks; panic on a broken invariant.
fn exec(rng: &mut Rng, input: &[u8], cards: &[CardText], totals: &mut Seen) {
    let seen = drive(input, rng);
    totals.frames += seen.frames;
    totals.reads += seen.reads;
    totals.garbage += seen.garbage;
    totals.bad += seen.bad;

    // A damaged text block straight into the decoder; what decodes re-encodes.
    if let Some(card) = cards.get(rng.below(cards.len()))
        && let Ok(mut block) = encode_text(card)
    {
        for _ in 0..rng.below(8) {
            block[rng.below(block.len())] ^= rng.next() as u8;
        }
        if let Ok(text) = decode_text(&block)
            && let Ok(again) = encode_text(&text)
        {
            assert!(
                decode_text(&again).ok() == Some(text),
                "re-encoded text decodes differently"
            );
        }
    }
}

fn main() -> ExitCode {
    let secs = std::env::var("LIFECERT_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(60.0);
    let limit = Duration::from_secs_f64(secs);
    let cards = samples();
    let reads = read_payloads(&cards);
    if reads.len() != cards.len() {
        eprintln!("reader fuzz: sample cards do not encode");
        return ExitCode::FAILURE;
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut totals = Seen::default();
    let (mut execs, mut bytes, mut panics) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < limit {
        // Check the clock every 64 executions.
        for _ in 0..64 {
            let seed = rng.next() | 1;
            let mut local = Rng(seed);
            let input = stream(&mut local, &reads);
            bytes += input.len() as u64;
            let result = catch_unwind(AssertUnwindSafe(|| {
                exec(&mut local, &input, &cards, &mut totals);
            }));
            execs += 1;
            if result.is_err() {
                panics += 1;
                eprintln!("reader fuzz: panic with seed {seed:#018x}");
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "reader fuzz: {execs} execs, {:.1} MB, {elapsed:.1} s, frames {}, garbage {}, {panics} panics",
        bytes as f64 / 1e6,
        totals.frames,
        totals.garbage,
    );
    println!(
        "reader fuzz: bad frames {}, complete card reads {}",
        totals.bad, totals.reads
    );
    if panics == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
