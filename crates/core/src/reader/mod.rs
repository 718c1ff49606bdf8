//! The second-generation resident ID card reader's SAM serial protocol
//! (DOMAIN.md §1): request frames, a resynchronising response parser, SW3
//! statuses, the 256-byte text block of every card type, and the poll
//! sequence as a pure state machine. No IO: the adapter in the kiosk crate
//! moves the bytes.
//!
//! The photo block (WLT, 1024 bytes) is carried as opaque bytes
//! ([`Photo`]): never decoded, stored or logged. Fingerprints (30 10) are
//! never requested.

pub mod frame;
pub mod nation;
pub mod poll;
pub mod status;
pub mod text;

pub use frame::{Command, Deframer, FrameError, Payload, Response, request_frame, response_frame};
pub use poll::{Poller, ReaderEvent};
pub use status::Sw3;
pub use text::{CardText, CardType, Gender, Photo, TextError, Validity};
