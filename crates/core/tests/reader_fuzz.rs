//! Stable-toolchain fuzzing of the card-reader codec with proptest: byte
//! streams mixing random bytes, preambles, valid frames (requests, responses,
//! 30 01 reads with valid and damaged text blocks), truncated frames, bad
//! checksums and huge lengths go through the Deframer, Payload decoding,
//! parse_read / decode_text / sam_id and the Poller.
//!
//! Asserts: nothing panics; after draining, at most one incomplete frame is
//! buffered; every frame returned really was in the input with a correct
//! XOR; the counters only grow. (The long-running variant is
//! `cargo bench -p lifecert-core --bench reader_fuzz`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/stream_gen.rs"]
mod stream_gen;

use lifecert_core::reader::frame::{MAX_LEN, PREAMBLE};
use lifecert_core::reader::text::{build_read, decode_text, encode_text, parse_read, sam_id};
use lifecert_core::reader::{CardText, request_frame, response_frame};
use proptest::prelude::*;
use stream_gen::{COMMANDS, Choices, SW3S, drive, samples};

/// One piece of the stream.
#[derive(Debug, Clone)]
enum Segment {
    Random(Vec<u8>),
    Preamble,
    Request(u8),
    Response {
        sw3: u8,
        data: Vec<u8>,
    },
    /// A 30 01 answer with a sample card, `flips` (position, xor) applied to its data.
    Read {
        card: usize,
        flips: Vec<(usize, u8)>,
        photo: usize,
    },
    Truncated {
        cut: usize,
        data: Vec<u8>,
    },
    BadChecksum {
        data: Vec<u8>,
        xor: u8,
    },
    HugeLen {
        len: u16,
        tail: Vec<u8>,
    },
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![4 => any::<u8>(), 1 => Just(0xAA), 1 => Just(0x96), 1 => Just(0x69)],
        0..max,
    )
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        3 => bytes(120).prop_map(Segment::Random),
        1 => Just(Segment::Preamble),
        2 => any::<u8>().prop_map(Segment::Request),
        4 => (prop_oneof![proptest::sample::select(SW3S.to_vec()), any::<u8>()], bytes(40))
            .prop_map(|(sw3, data)| Segment::Response { sw3, data }),
        3 => (
            0usize..4,
            proptest::collection::vec((0usize..1400, 1u8..=255), 0..4),
            prop_oneof![Just(1024usize), 0usize..1100],
        )
            .prop_map(|(card, flips, photo)| Segment::Read { card, flips, photo }),
        2 => (any::<usize>(), bytes(300)).prop_map(|(cut, data)| Segment::Truncated { cut, data }),
        2 => (bytes(100), 1u8..=255).prop_map(|(data, xor)| Segment::BadChecksum { data, xor }),
        1 => (((MAX_LEN as u16) + 1)..=u16::MAX, bytes(60))
            .prop_map(|(len, tail)| Segment::HugeLen { len, tail }),
        1 => (0u16..3, bytes(10)).prop_map(|(len, tail)| Segment::HugeLen { len, tail }),
    ]
}

fn render(segments: &[Segment], cards: &[CardText]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in segments {
        match s {
            Segment::Random(b) => out.extend(b),
            Segment::Preamble => out.extend(PREAMBLE),
            Segment::Request(i) => {
                out.extend(request_frame(COMMANDS[usize::from(*i) % COMMANDS.len()]));
            }
            Segment::Response { sw3, data } => out.extend(response_frame(0, 0, *sw3, data)),
            Segment::Read { card, flips, photo } => {
                let mut data = build_read(&cards[*card], &vec![0x5A; *photo]).unwrap();
                for (at, x) in flips {
                    let n = data.len();
                    data[at % n] ^= x;
                }
                out.extend(response_frame(0, 0, 0x90, &data));
            }
            Segment::Truncated { cut, data } => {
                let f = response_frame(0, 0, 0x90, data);
                out.extend(&f[..cut % f.len()]);
            }
            Segment::BadChecksum { data, xor } => {
                let mut f = response_frame(0, 0, 0x41, data);
                let last = f.len() - 1;
                f[last] ^= xor;
                out.extend(f);
            }
            Segment::HugeLen { len, tail } => {
                out.extend(PREAMBLE);
                out.extend(len.to_be_bytes());
                out.extend(tail);
            }
        }
    }
    out
}

/// Chunk sizes and poller perturbations drawn in turn from generated lists.
struct Lists<'a> {
    cuts: std::iter::Cycle<std::slice::Iter<'a, usize>>,
    ops: std::iter::Cycle<std::slice::Iter<'a, u8>>,
}

impl Choices for Lists<'_> {
    fn chunk(&mut self) -> usize {
        *self.cuts.next().unwrap()
    }

    fn perturb(&mut self) -> usize {
        usize::from(self.ops.next().copied().unwrap_or(0))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // ~25 s in the test profile on this 2-core machine.
        cases: 40_000,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn reader_codec_never_panics(
        segments in proptest::collection::vec(segment(), 1..24),
        cuts in proptest::collection::vec(1usize..700, 1..16),
        ops in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let cards = samples();
        let stream = render(&segments, &cards);
        drive(
            &stream,
            &mut Lists {
                cuts: cuts.iter().cycle(),
                ops: ops.iter().cycle(),
            },
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn damaged_text_blocks_never_panic(
        card in 0usize..4,
        flips in proptest::collection::vec((0usize..256, any::<u8>()), 0..8),
        random in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let cards = samples();
        let mut block = encode_text(&cards[card]).unwrap();
        for (at, x) in flips {
            block[at] ^= x;
        }
        if let Ok(text) = decode_text(&block) {
            // Whatever decodes re-encodes to a block that decodes the same.
            if let Ok(again) = encode_text(&text) {
                prop_assert!(decode_text(&again).unwrap() == text);
            }
        }
        let _ = decode_text(&random);
        let _ = parse_read(&random);
        let _ = sam_id(&random);
    }
}
