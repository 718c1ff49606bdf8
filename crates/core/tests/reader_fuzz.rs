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

use lifecert_core::reader::frame::{MAX_LEN, PREAMBLE};
use lifecert_core::reader::text::{build_read, decode_text, encode_text, parse_read, sam_id};
use lifecert_core::reader::{
    CardText, CardType, Command, Deframer, Gender, Payload, Poller, Validity, request_frame,
    response_frame,
};
use proptest::prelude::*;
use time::macros::date;

/// Sample cards of the four types, the base for damaged text blocks.
fn samples() -> Vec<CardText> {
    let resident = CardText {
        card_type: CardType::Resident,
        name: "张三".into(),
        english_name: None,
        gender: Gender::Male,
        nation: Some("01".into()),
        birth: date!(1952 - 03 - 15),
        address: Some("北京市朝阳区建国路1号".into()),
        number: "110105195203150013".into(),
        authority: Some("北京市公安局朝阳分局".into()),
        valid_from: date!(2010 - 06 - 01),
        valid_to: Validity::LongTerm,
        pass_number: None,
        issue_count: None,
        nationality: None,
        card_version: None,
    };
    let permit = CardText {
        card_type: CardType::HkMacauTaiwan,
        nation: None,
        number: "810000196001010012".into(),
        pass_number: Some("H12345678".into()),
        issue_count: Some("01".into()),
        valid_to: Validity::Until(date!(2030 - 01 - 01)),
        ..resident.clone()
    };
    let pr2017 = CardText {
        card_type: CardType::ForeignerPermanent,
        name: "史密斯".into(),
        english_name: Some("SMITH, JOHN".into()),
        nation: None,
        address: None,
        number: "CAN110000000015".into(),
        authority: Some("1100".into()),
        nationality: Some("CAN".into()),
        card_version: Some("17".into()),
        ..resident.clone()
    };
    let pr2023 = CardText {
        card_type: CardType::ForeignerPermanent2023,
        english_name: Some("VAN DER BERG-SMITHSON, JOHANNES ALEXANDER".into()),
        nation: None,
        address: None,
        authority: None,
        number: "932682198501010017".into(),
        issue_count: Some("00".into()),
        nationality: Some("NLD".into()),
        ..resident.clone()
    };
    vec![resident, permit, pr2017, pr2023]
}

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

const SW3S: [u8; 12] = [
    0x90, 0x9F, 0x80, 0x41, 0x81, 0x10, 0x60, 0x66, 0x31, 0x40, 0x24, 0x91,
];
const COMMANDS: [Command; 8] = [
    Command::Reset,
    Command::SamStatus,
    Command::SamId,
    Command::FindCard,
    Command::SelectCard,
    Command::ReadTextPhoto,
    Command::SetBaud(lifecert_core::reader::frame::Baud::B9600),
    Command::SetRfBytes(0x50),
];

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

/// The whole frame a payload came from, rebuilt with the XOR rule.
fn rebuilt(p: &Payload) -> Vec<u8> {
    let len = u16::try_from(p.0.len() + 1).unwrap();
    let [l1, l2] = len.to_be_bytes();
    let mut f = PREAMBLE.to_vec();
    f.extend([l1, l2]);
    f.extend(&p.0);
    f.push(p.0.iter().fold(l1 ^ l2, |a, b| a ^ b));
    f
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Drive everything with one stream; panics (test failure) on a broken invariant.
fn run(stream: &[u8], cuts: &[usize], ops: &[u8]) {
    let mut d = Deframer::new();
    let mut poller = Poller::new();
    let mut op = ops.iter().cycle();
    let mut cut = cuts.iter().cycle();
    let mut rest = stream;
    let (mut garbage, mut bad) = (0, 0);
    while !rest.is_empty() {
        let n = (*cut.next().unwrap()).clamp(1, rest.len());
        let (chunk, more) = rest.split_at(n);
        rest = more;
        let before = d.buffered();
        d.push(chunk);
        assert!(d.buffered() <= before + chunk.len());
        while let Some(frame) = d.next_frame() {
            let Ok(payload) = frame else { continue };
            assert!(
                contains(stream, &rebuilt(&payload)),
                "a returned frame was not in the input with a correct XOR"
            );
            let _ = payload.request();
            if let Ok(response) = payload.response() {
                let _ = parse_read(&response.data);
                let _ = decode_text(&response.data);
                let _ = sam_id(&response.data);
                match op.next().copied().unwrap_or(0) % 8 {
                    0 => {
                        let _ = poller.on_timeout();
                    }
                    1 => poller.reset(),
                    _ => {}
                }
                let _ = poller.next_command();
                for event in poller.on_response(response) {
                    let _ = format!("{event:?}");
                }
            }
        }
        assert!(d.buffered() < 7 + MAX_LEN, "buffered {}", d.buffered());
        assert!(d.garbage_bytes() >= garbage && d.bad_frames() >= bad);
        garbage = d.garbage_bytes();
        bad = d.bad_frames();
    }
    d.clear();
    assert_eq!(d.buffered(), 0);
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
        run(&stream, &cuts, &ops);
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
