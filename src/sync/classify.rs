//! The ONE place that decides what a sync outcome means (DESIGN.md §4).
//!
//! | outcome | disposition |
//! |---|---|
//! | item `stored` / `duplicate` | Ack |
//! | item `rejected` | Permanent (dead letter, staff see it) |
//! | transport error, timeout, TLS error | Retry |
//! | 5xx (incl. 503), 429 | Retry |
//! | 401 `stale_timestamp` | Retry (and warn: the kiosk clock is off) |
//! | 401 `bad_signature` / `replayed_nonce` | Retry (a fresh nonce and signature) |
//! | 400 / 413 / 422 for an upload | Permanent for the item sent. A refused batch of several items is re-sent one by one by the worker to find the culprit |
//! | 426 `protocol_mismatch`, or an answer with another protocol header | Stop |
//! | 401 `unknown_device` | Stop (not registered: staff must register it) |
//! | 401 `unsigned` | Stop (a kiosk bug: nothing it sends can be accepted) |
//! | any other 4xx | Retry (and warn) |
//!
//! Retry delays: [`backoff`] — base 5 s, doubled per failed attempt, capped at
//! 15 min, with "equal jitter": a uniformly random delay in `[d/2, d]` where
//! `d = min(cap, base·2^attempt)`. It never exceeds the cap, and its lower
//! bound grows with the attempts until the cap.

use std::time::Duration;

use lifecert_protocol::api::{UploadOutcome, codes};

use super::client::ClientError;

/// First retry delay (before jitter).
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);

/// Everything a sync step can end with, as data (pure; see [`classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// One item of an upload answer.
    Item {
        outcome: UploadOutcome,
        code: Option<String>,
    },
    /// No answer: connection, DNS, TLS or I/O failure.
    Transport,
    /// No answer in time.
    Timeout,
    /// An error answer with its code.
    Status { status: u16, code: String },
    /// An answer with another (or no) protocol header.
    ProtocolHeader { got: Option<String> },
    /// A 2xx answer that is not the route's JSON.
    Undecodable,
}

impl SyncOutcome {
    /// The outcome of a failed request.
    pub fn of_error(error: &ClientError) -> SyncOutcome {
        match error {
            ClientError::Timeout { .. } => SyncOutcome::Timeout,
            ClientError::Transport { .. } | ClientError::CaRead { .. } => SyncOutcome::Transport,
            ClientError::CaPem { .. } => SyncOutcome::Transport,
            ClientError::Encode(_) => SyncOutcome::Status {
                status: 400,
                code: codes::BAD_REQUEST.into(),
            },
            ClientError::ProtocolHeader { got, .. } => {
                SyncOutcome::ProtocolHeader { got: got.clone() }
            }
            ClientError::Status { status, body } => SyncOutcome::Status {
                status: *status,
                code: body.code.clone(),
            },
            ClientError::Decode { .. } => SyncOutcome::Undecodable,
        }
    }
}

/// What to do about an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The server has it: mark acked.
    Ack,
    /// Try again after `after`.
    Retry { after: Duration },
    /// Never accepted: dead letter (visible to staff).
    Permanent { reason: String },
    /// Stop syncing until restart and alert staff.
    Stop { reason: String },
}

/// The retry delay after `attempt` failed attempts (0 = the first failure),
/// with `jitter` in `0.0..=1.0` (out-of-range values are clamped).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let exp = 2u32.saturating_pow(attempt.min(31));
    let full = BACKOFF_BASE.saturating_mul(exp).min(BACKOFF_CAP);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = full / 2;
    (half + (full - half).mul_f64(jitter)).min(BACKOFF_CAP)
}

/// A uniform random number in `0.0..1.0` for [`backoff`] (OS randomness; 0.5
/// if there is none).
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Classifies one outcome; `attempt` is how many attempts of the item(s)
/// failed before, `jitter` in `0.0..=1.0` (see [`backoff`]).
pub fn classify(outcome: &SyncOutcome, attempt: u32, jitter: f64) -> Disposition {
    let retry = Disposition::Retry {
        after: backoff(attempt, jitter),
    };
    match outcome {
        SyncOutcome::Item {
            outcome: UploadOutcome::Stored | UploadOutcome::Duplicate,
            ..
        } => Disposition::Ack,
        SyncOutcome::Item {
            outcome: UploadOutcome::Rejected,
            code,
        } => Disposition::Permanent {
            reason: format!(
                "rejected by the server: {}",
                code.as_deref().unwrap_or("no reason given")
            ),
        },
        SyncOutcome::Transport | SyncOutcome::Timeout | SyncOutcome::Undecodable => retry,
        SyncOutcome::ProtocolHeader { got } => Disposition::Stop {
            reason: format!(
                "the server speaks protocol {}, this kiosk {}",
                got.as_deref().unwrap_or("(none)"),
                lifecert_protocol::PROTOCOL_VERSION
            ),
        },
        SyncOutcome::Status { status, code } => match (*status, code.as_str()) {
            (426, _) | (_, codes::PROTOCOL_MISMATCH) => Disposition::Stop {
                reason: format!("{status} {code}: protocol version mismatch"),
            },
            (401, codes::UNKNOWN_DEVICE) => Disposition::Stop {
                reason: "401 unknown_device: this kiosk is not registered (or was revoked)".into(),
            },
            (401, codes::UNSIGNED) => Disposition::Stop {
                reason: "401 unsigned: the server did not see the signature headers".into(),
            },
            (401, _) => retry,
            (400 | 413 | 422, _) => Disposition::Permanent {
                reason: format!("{status} {code}: the server refuses this item"),
            },
            (429, _) => retry,
            (s, _) if s >= 500 => retry,
            _ => retry,
        },
    }
}

/// The staff alert (plain Chinese) for a Stop reason.
pub fn stop_alert_zh(outcome: &SyncOutcome) -> String {
    match outcome {
        SyncOutcome::Status { code, .. } if code == codes::UNKNOWN_DEVICE => {
            "本机未在服务器注册（或已被注销），认证结果暂不能上传。请技术人员运行 lifecert register 重新注册".into()
        }
        SyncOutcome::Status { code, .. } if code == codes::UNSIGNED => {
            "服务器收不到本机签名，认证结果暂不能上传，请联系技术人员".into()
        }
        _ => "协议版本不一致，请联系技术人员升级".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn status(s: u16, code: &str) -> SyncOutcome {
        SyncOutcome::Status {
            status: s,
            code: code.into(),
        }
    }

    fn kind(d: &Disposition) -> &'static str {
        match d {
            Disposition::Ack => "ack",
            Disposition::Retry { .. } => "retry",
            Disposition::Permanent { .. } => "permanent",
            Disposition::Stop { .. } => "stop",
        }
    }

    #[rstest]
    #[case::stored(SyncOutcome::Item { outcome: UploadOutcome::Stored, code: None }, "ack")]
    #[case::duplicate(SyncOutcome::Item { outcome: UploadOutcome::Duplicate, code: None }, "ack")]
    #[case::rejected(SyncOutcome::Item { outcome: UploadOutcome::Rejected, code: Some("cannot_open".into()) }, "permanent")]
    #[case::transport(SyncOutcome::Transport, "retry")]
    #[case::timeout(SyncOutcome::Timeout, "retry")]
    #[case::undecodable(SyncOutcome::Undecodable, "retry")]
    #[case::internal(status(500, codes::INTERNAL), "retry")]
    #[case::unavailable(status(503, codes::INTERNAL), "retry")]
    #[case::bad_gateway(status(502, "http_502"), "retry")]
    #[case::rate_limited(status(429, codes::RATE_LIMITED), "retry")]
    #[case::mismatch_426(status(426, codes::PROTOCOL_MISMATCH), "stop")]
    #[case::other_header(SyncOutcome::ProtocolHeader { got: Some("2".into()) }, "stop")]
    #[case::no_header(SyncOutcome::ProtocolHeader { got: None }, "stop")]
    #[case::unknown_device(status(401, codes::UNKNOWN_DEVICE), "stop")]
    #[case::unsigned(status(401, codes::UNSIGNED), "stop")]
    #[case::stale(status(401, codes::STALE_TIMESTAMP), "retry")]
    #[case::bad_signature(status(401, codes::BAD_SIGNATURE), "retry")]
    #[case::replayed(status(401, codes::REPLAYED_NONCE), "retry")]
    #[case::bad_request(status(400, codes::BAD_REQUEST), "permanent")]
    #[case::too_large(status(413, codes::PAYLOAD_TOO_LARGE), "permanent")]
    #[case::invalid(status(422, codes::INVALID), "permanent")]
    #[case::not_found(status(404, codes::NOT_FOUND), "retry")]
    fn every_outcome_has_its_disposition(#[case] outcome: SyncOutcome, #[case] expected: &str) {
        let d = classify(&outcome, 0, 0.5);
        assert_eq!(kind(&d), expected, "{outcome:?} → {d:?}");
    }

    #[test]
    fn stop_alerts_are_plain_chinese() {
        assert!(stop_alert_zh(&status(426, codes::PROTOCOL_MISMATCH)).contains("协议版本不一致"));
        assert!(stop_alert_zh(&status(401, codes::UNKNOWN_DEVICE)).contains("未在服务器注册"));
    }

    #[test]
    fn backoff_grows_from_base_to_cap() {
        assert_eq!(backoff(0, 1.0), BACKOFF_BASE);
        assert_eq!(backoff(1, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(20));
        assert_eq!(backoff(0, 0.0), Duration::from_millis(2500));
        assert_eq!(backoff(7, 1.0), Duration::from_secs(640));
        assert_eq!(backoff(8, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(u32::MAX, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(u32::MAX, 0.0), BACKOFF_CAP / 2);
    }

    #[test]
    fn jittered_backoff_stays_in_bounds_and_grows() {
        let mut previous_floor = Duration::ZERO;
        for attempt in 0..40 {
            let full = BACKOFF_BASE
                .saturating_mul(2u32.saturating_pow(attempt.min(31)))
                .min(BACKOFF_CAP);
            let floor = backoff(attempt, 0.0);
            assert_eq!(floor, full / 2);
            assert!(floor >= previous_floor, "the floor never shrinks");
            previous_floor = floor;
            for j in [0.0, 0.1, 0.5, 0.999, 1.0, -3.0, 7.0, f64::NAN] {
                let d = backoff(attempt, j);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt} jitter {j}: {d:?}"
                );
                assert!(d <= BACKOFF_CAP);
            }
            for _ in 0..50 {
                let d = backoff(attempt, random_jitter());
                assert!(d >= full / 2 && d <= full && d <= BACKOFF_CAP);
            }
        }
        let r: Vec<f64> = (0..100).map(|_| random_jitter()).collect();
        assert!(r.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(r.iter().any(|v| *v != r[0]), "jitter is random");
    }

    #[test]
    fn retry_uses_the_attempt_count() {
        let Disposition::Retry { after } = classify(&SyncOutcome::Transport, 3, 1.0) else {
            panic!("retry expected");
        };
        assert_eq!(after, Duration::from_secs(40));
    }
}
