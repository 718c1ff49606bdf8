//! Property tests of the card-reader codec: frames, the streaming parser and
//! the text block round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifecert_core::reader::frame::{Baud, MAX_LEN, PREAMBLE};
use lifecert_core::reader::nation::NATIONS;
use lifecert_core::reader::text::{build_read, decode_text, encode_text, parse_read};
use lifecert_core::reader::{
    CardText, CardType, Command, Deframer, Gender, Payload, Photo, Response, Sw3, Validity,
    request_frame, response_frame,
};
use proptest::prelude::*;
use time::{Date, Month};

fn baud() -> impl Strategy<Value = Baud> {
    prop_oneof![
        Just(Baud::B115200),
        Just(Baud::B57600),
        Just(Baud::B38400),
        Just(Baud::B19200),
        Just(Baud::B9600),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Reset),
        Just(Command::SamStatus),
        Just(Command::SamId),
        Just(Command::FindCard),
        Just(Command::SelectCard),
        Just(Command::ReadTextPhoto),
        baud().prop_map(Command::SetBaud),
        any::<u8>().prop_map(Command::SetRfBytes),
    ]
}

/// Drain every frame the parser has.
fn drain(d: &mut Deframer) -> Vec<Result<Payload, lifecert_core::reader::FrameError>> {
    std::iter::from_fn(|| d.next_frame()).collect()
}

/// A frame of either direction with small data, as (frame bytes, body).
fn any_frame() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    prop_oneof![
        command().prop_map(|c| {
            let f = request_frame(c);
            let body = f[7..f.len() - 1].to_vec();
            (f, body)
        }),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(a, b, c, data)| {
                let f = response_frame(a, b, c, &data);
                let mut body = vec![a, b, c];
                body.extend(data);
                (f, body)
            }),
    ]
}

/// Bytes that are often preamble bytes, without a whole preamble.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![any::<u8>(), Just(0xAA), Just(0x96), Just(0x69)],
        0..40,
    )
    .prop_filter("no preamble in garbage", |g| {
        !g.windows(PREAMBLE.len()).any(|w| w == PREAMBLE)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_command_round_trips(cmd in command()) {
        let mut d = Deframer::new();
        d.push(&request_frame(cmd));
        let payload = d.next_frame().unwrap().unwrap();
        prop_assert_eq!(payload.request().unwrap(), cmd);
        let (c, p) = cmd.cmd_para();
        prop_assert_eq!(Command::from_parts(c, p, &cmd.data()), Some(cmd));
        prop_assert!(d.next_frame().is_none());
        prop_assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn any_response_round_trips(
        sw1 in any::<u8>(),
        sw2 in any::<u8>(),
        sw3 in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..=MAX_LEN - 4),
    ) {
        let frame = response_frame(sw1, sw2, sw3, &data);
        prop_assert_eq!(frame.len(), 7 + 3 + data.len() + 1);
        let mut d = Deframer::new();
        d.push(&frame);
        let got = d.next_frame().unwrap().unwrap().response().unwrap();
        let want = Response { sw1, sw2, sw3: Sw3::from_code(sw3), data };
        prop_assert!(got == want);
        prop_assert_eq!(got.sw3.code(), sw3);
        prop_assert!(d.next_frame().is_none());
        prop_assert_eq!(d.bad_frames(), 0);
        prop_assert_eq!(d.garbage_bytes(), 0);
    }

    #[test]
    fn split_frames_with_garbage_yield_exactly_the_frames(
        parts in proptest::collection::vec((garbage(), any_frame()), 1..8),
        tail in garbage(),
        cuts in proptest::collection::vec(1usize..64, 1..200),
    ) {
        let mut stream = Vec::new();
        let mut bodies = Vec::new();
        let mut garbage_len = tail.len();
        for (g, (frame, body)) in &parts {
            stream.extend(g);
            stream.extend(frame);
            bodies.push(body.clone());
            garbage_len += g.len();
        }
        stream.extend(&tail);

        let mut d = Deframer::new();
        let mut got = Vec::new();
        let mut rest = stream.as_slice();
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let (chunk, more) = rest.split_at(n);
            d.push(chunk);
            rest = more;
            for f in drain(&mut d) {
                got.push(f.unwrap().0);
            }
            prop_assert!(d.buffered() < 7 + MAX_LEN);
        }
        prop_assert_eq!(got, bodies);
        prop_assert_eq!(d.bad_frames(), 0);
        // Trailing bytes that may start a preamble are still waiting.
        prop_assert_eq!(d.garbage_bytes() + d.buffered() as u64, garbage_len as u64);
    }
}

// ---- CardText ----

fn date() -> impl Strategy<Value = Date> {
    (1900i32..=2099, 1u8..=12, 1u8..=28)
        .prop_map(|(y, m, d)| Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap())
}

fn validity() -> impl Strategy<Value = Validity> {
    prop_oneof![Just(Validity::LongTerm), date().prop_map(Validity::Until)]
}

fn gender() -> impl Strategy<Value = Gender> {
    prop_oneof![
        Just(Gender::Male),
        Just(Gender::Female),
        Just(Gender::Unknown),
        Just(Gender::Unspecified),
    ]
}

fn nation() -> impl Strategy<Value = String> {
    proptest::sample::select(
        NATIONS
            .iter()
            .map(|(c, _)| (*c).to_owned())
            .collect::<Vec<_>>(),
    )
}

/// Chinese text (CJK unified ideographs, middle dot, digits), no spaces, up to `max` chars.
fn zh(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::range('\u{4E00}', '\u{9FA5}'),
            1 => Just('·'),
            1 => proptest::char::range('0', '9'),
        ],
        0..=max,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// A Latin name of up to `max` characters, inner spaces only.
fn latin(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        9 => proptest::string::string_regex(&format!("[A-Z]([A-Z ,.'-]{{0,{}}}[A-Z])?", max - 2))
            .unwrap(),
    ]
}

fn resident() -> impl Strategy<Value = CardText> {
    (
        zh(15),
        gender(),
        nation(),
        date(),
        zh(35),
        "[0-9]{17}[0-9X]",
        zh(15),
        date(),
        validity(),
    )
        .prop_map(
            |(name, gender, nation, birth, address, number, authority, from, to)| CardText {
                card_type: CardType::Resident,
                name,
                english_name: None,
                gender,
                nation: Some(nation),
                birth,
                address: Some(address),
                number,
                authority: Some(authority),
                valid_from: from,
                valid_to: to,
                pass_number: None,
                issue_count: None,
                nationality: None,
                card_version: None,
            },
        )
}

fn permit() -> impl Strategy<Value = CardText> {
    (
        (zh(15), gender(), date(), zh(35), "8[123][0-9]{15}[0-9X]"),
        (zh(15), date(), validity(), "[HM][0-9]{8}", "[0-9]{2}"),
    )
        .prop_map(
            |((name, gender, birth, address, number), (authority, from, to, pass, count))| {
                CardText {
                    card_type: CardType::HkMacauTaiwan,
                    name,
                    english_name: None,
                    gender,
                    nation: None,
                    birth,
                    address: Some(address),
                    number,
                    authority: Some(authority),
                    valid_from: from,
                    valid_to: to,
                    pass_number: Some(pass),
                    issue_count: Some(count),
                    nationality: None,
                    card_version: None,
                }
            },
        )
}

fn foreigner_2017() -> impl Strategy<Value = CardText> {
    (
        (latin(60), gender(), "[A-Z]{3}[0-9]{12}", "[A-Z]{3}", zh(15)),
        (date(), validity(), date(), "[0-9]{2}", "[0-9]{4}"),
    )
        .prop_map(
            |((english, gender, number, nationality, name), (from, to, birth, version, auth))| {
                CardText {
                    card_type: CardType::ForeignerPermanent,
                    name,
                    english_name: Some(english),
                    gender,
                    nation: None,
                    birth,
                    address: None,
                    number,
                    authority: Some(auth),
                    valid_from: from,
                    valid_to: to,
                    pass_number: None,
                    issue_count: None,
                    nationality: Some(nationality),
                    card_version: Some(version),
                }
            },
        )
}

fn foreigner_2023() -> impl Strategy<Value = CardText> {
    (
        (zh(15), gender(), "[0-9]{2}", date(), latin(46)),
        ("9[0-9]{16}[0-9X]", date(), validity(), "[A-Z]{3}"),
    )
        .prop_map(
            |((name, gender, count, birth, english), (number, from, to, nationality))| CardText {
                card_type: CardType::ForeignerPermanent2023,
                name,
                english_name: Some(english),
                gender,
                nation: None,
                birth,
                address: None,
                number,
                authority: None,
                valid_from: from,
                valid_to: to,
                pass_number: None,
                issue_count: Some(count),
                nationality: Some(nationality),
                card_version: None,
            },
        )
}

fn card_text() -> impl Strategy<Value = CardText> {
    prop_oneof![resident(), permit(), foreigner_2017(), foreigner_2023()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn card_text_round_trips(text in card_text()) {
        let block = encode_text(&text).unwrap();
        let back = decode_text(&block).unwrap();
        prop_assert!(back == text, "{:?} != {:?}", back, text);
        prop_assert_eq!(encode_text(&back).unwrap(), block);
        // The type flag is where the standard puts it.
        prop_assert_eq!(
            u16::from_le_bytes([block[248], block[249]]),
            text.card_type.flag() as u16
        );
        // Debug never shows the number or name.
        let debug = format!("{text:?}");
        prop_assert!(!debug.contains(&text.number), "{}", debug);
        if text.name.chars().any(|c| c >= '\u{4E00}') {
            prop_assert!(!debug.contains(&text.name), "{}", debug);
        }
    }

    #[test]
    fn read_payload_round_trips(
        text in card_text(),
        photo in proptest::collection::vec(any::<u8>(), 0..=1024),
    ) {
        let data = build_read(&text, &photo).unwrap();
        let frame = response_frame(0, 0, 0x90, &data);
        let mut d = Deframer::new();
        d.push(&frame);
        let resp = d.next_frame().unwrap().unwrap().response().unwrap();
        let (back, p) = parse_read(&resp.data).unwrap();
        prop_assert!(back == text);
        prop_assert!(p == Photo::new(photo));
    }
}
