//! The serial peripherals wired into the kiosk: card-reader events become
//! flow events; each device's thread state becomes a health state.

use lifecert_core::flow::Event;
use lifecert_core::id::IdNumber;
use lifecert_core::reader::{CardType, ReaderEvent};

use super::EventSink;
use super::health::{DeviceState, PartState};
use crate::config::{Config, SerialPort};
use crate::peripherals::reader::{self, ReaderHandle};

/// Shown when a card was read but cannot identify a pensioner here.
pub const UNSUPPORTED_CARD: &str =
    "这张证件不能用于自助认证，请用键盘输入身份证号码，或到社保窗口办理";

/// The flow event for a reader event (`None`: health only).
pub fn card_event(event: ReaderEvent) -> Option<Event> {
    match event {
        ReaderEvent::CardRead(text) => {
            // Resident cards, HK/Macau/Taiwan residence permits and the 2023
            // foreigner card carry an 18-character GB 11643 number; the 2017
            // foreigner card's 15-character PR number identifies no pensioner
            // record, so it is refused with plain words.
            let parsed = match text.card_type {
                CardType::ForeignerPermanent => None,
                _ => IdNumber::parse(&text.number).ok(),
            };
            match parsed {
                Some(id) => {
                    tracing::info!(card = ?text.card_type, id = %id.masked(), "card read");
                    Some(Event::CardRead(id))
                }
                None => {
                    tracing::warn!(card = ?text.card_type, "card read, but its number cannot be used here");
                    Some(Event::CardProblem(UNSUPPORTED_CARD))
                }
            }
        }
        ReaderEvent::CardRemoved => Some(Event::CardRemoved),
        ReaderEvent::ReadFailed { message, .. } => Some(Event::CardProblem(message)),
        ReaderEvent::Online | ReaderEvent::Fault(_) => None,
    }
}

/// Starts the card reader thread when one is configured; its events go to
/// the flow. Returns what the health probe reads (and keeps the thread's
/// handle alive), or `None` when no reader is configured.
pub fn start_card_reader(config: &Config, sink: &EventSink) -> Option<DeviceState> {
    let cfg = config.peripherals.card_reader.clone();
    if cfg.port == SerialPort::Disabled {
        return None;
    }
    let sink = sink.clone();
    let started = reader::spawn(
        cfg,
        Box::new(move |event| {
            if let Some(event) = card_event(event) {
                sink.flow(event);
            }
        }),
    );
    Some(match started {
        Ok(handle) => Box::new(move || reader_state(&handle)),
        Err(e) => {
            tracing::error!(error = %e, "the card reader thread did not start");
            Box::new(move || PartState::Faulty(format!("读卡线程未能启动：{e}")))
        }
    })
}

fn reader_state(handle: &ReaderHandle) -> PartState {
    let status = handle.status();
    // Line trouble stays visible to staff while the reader works.
    let mut text = status.detail;
    let noise = status.garbage_bytes + status.bad_frames;
    if status.cards_read > 0 || noise > 0 || status.timeouts > 0 {
        text.push_str(&format!("；已读卡 {} 次", status.cards_read));
    }
    if noise > 0 || status.timeouts > 0 {
        text.push_str(&format!(
            "，线路干扰 {} 字节/{} 帧，超时 {} 次",
            status.garbage_bytes, status.bad_frames, status.timeouts
        ));
    }
    // Still connecting is not a fault (no out-of-service flicker at start).
    if status.faulty {
        PartState::Faulty(text)
    } else {
        PartState::Ok(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use lifecert_core::reader::{CardText, Sw3};

    /// The demo card with another type and number.
    fn card(card_type: CardType, number: &str) -> CardText {
        CardText {
            card_type,
            number: number.into(),
            ..CardText::demo()
        }
    }

    #[test]
    fn cards_with_a_citizen_number_fill_the_identity() {
        for t in [
            CardType::Resident,
            CardType::HkMacauTaiwan,
            CardType::ForeignerPermanent2023,
        ] {
            let number = if t == CardType::ForeignerPermanent2023 {
                "932682198501010017"
            } else {
                "110105195203150013"
            };
            let event = card_event(ReaderEvent::CardRead(card(t, number)));
            assert_eq!(
                event,
                Some(Event::CardRead(IdNumber::parse(number).unwrap())),
                "{t:?}"
            );
        }
    }

    #[test]
    fn unusable_cards_and_failed_reads_say_why() {
        assert_eq!(
            card_event(ReaderEvent::CardRead(card(
                CardType::ForeignerPermanent,
                "CAN110000000000"
            ))),
            Some(Event::CardProblem(UNSUPPORTED_CARD))
        );
        assert_eq!(
            card_event(ReaderEvent::ReadFailed {
                sw3: Some(Sw3::ReadFailed),
                message: Sw3::ReadFailed.user_message(),
            }),
            Some(Event::CardProblem(Sw3::ReadFailed.user_message()))
        );
        assert_eq!(
            card_event(ReaderEvent::CardRemoved),
            Some(Event::CardRemoved)
        );
        assert_eq!(card_event(ReaderEvent::Online), None);
        assert_eq!(card_event(ReaderEvent::Fault("x".into())), None);
    }
}
