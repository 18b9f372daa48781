//! The wire protocol of the dispatch engine: every WebSocket message as serde and
//! bincode types, the two frame codecs, and the validation rules for client input.
//! Shared by the engine, the simulator and tests, so they speak exactly the same
//! messages. No async runtime, actor system or storage here.
//!
//! # Layout
//! - `message`: the message types (driver, console and server frames, orders, routes).
//! - `codec`: JSON text frames and bincode binary frames, with a frame-size limit.
//! - `validate`: field rules (coordinates, ids, windows, sizes) as typed errors.

pub mod codec;
pub mod message;
pub mod validate;

pub use codec::{
    decode_client, decode_raw, encode, DecodeError, Encoded, Encoding, DEFAULT_MAX_FRAME_BYTES,
};
pub use message::*;
pub use validate::{validate_coords, validate_id, Validate, ValidationError};
