//! The checks behind the fuzz targets, as plain functions so the same code runs under
//! libFuzzer (`fuzz_targets/`, nightly) and over the committed corpus and crash files in
//! an ordinary test (`tests/replay.rs`, stable).
//!
//! Properties, mirroring what the protocol crate's own tests assert (nothing stronger):
//! - Any input: the decoder returns (never panics), and its error formats (the engine
//!   sends `e.to_string()` to the client).
//! - A frame that decodes is valid (`decode_client` validates; `validate()` agrees).
//! - `tests/roundtrip.rs::valid_*_frames_pass`: a valid frame, encoded in either
//!   encoding, decodes back to an equal frame.
//! - `tests/roundtrip.rs::bincode_roundtrip`: bincode re-encoding is bitwise stable
//!   (encode → decode → encode gives the same bytes).
//!
//! Not asserted: that re-encoding gives back the input bytes. Neither encoding is
//! canonical on input (JSON whitespace, key order, escapes, number spellings, unknown
//! fields; bincode varints may use a wider marker than needed).

use dispatch_protocol::{
    decode_client, decode_raw, encode, ClientFrame, ConsoleMessage, DriverMessage, Encoded,
    Encoding, NewOrder, Validate, DEFAULT_MAX_FRAME_BYTES,
};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

/// The frame limit the engine uses by default (`limits.max_frame_bytes`).
pub const MAX_FRAME: usize = DEFAULT_MAX_FRAME_BYTES;

/// Limit for re-decoding our own encodings: a re-encoded frame may be longer than the
/// input (`1` becomes `1.0`), so the input's limit does not apply to it.
const BIG: usize = 16 << 20;

/// Which fuzz target: the name of its corpus directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    DecodeDriverJson,
    DecodeDriverBincode,
    DecodeConsoleJson,
    DecodeConsoleBincode,
    OrderBody,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Self::DecodeDriverJson,
        Self::DecodeDriverBincode,
        Self::DecodeConsoleJson,
        Self::DecodeConsoleBincode,
        Self::OrderBody,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::DecodeDriverJson => "decode_driver_json",
            Self::DecodeDriverBincode => "decode_driver_bincode",
            Self::DecodeConsoleJson => "decode_console_json",
            Self::DecodeConsoleBincode => "decode_console_bincode",
            Self::OrderBody => "order_body",
        }
    }

    /// Runs this target's checks on one input (panics on a violated property); returns
    /// whether the input was accepted (decoded and valid).
    pub fn check(self, data: &[u8]) -> bool {
        match self {
            Self::DecodeDriverJson => client_frame::<DriverMessage>(Encoding::Json, data),
            Self::DecodeDriverBincode => client_frame::<DriverMessage>(Encoding::Bincode, data),
            Self::DecodeConsoleJson => client_frame::<ConsoleMessage>(Encoding::Json, data),
            Self::DecodeConsoleBincode => client_frame::<ConsoleMessage>(Encoding::Bincode, data),
            Self::OrderBody => order_body(data),
        }
    }
}

fn bytes_of(e: Encoded) -> Vec<u8> {
    match e {
        Encoded::Text(s) => s.into_bytes(),
        Encoded::Binary(b) => b,
    }
}

/// What a WebSocket session does with one client frame (`decode_client`, which is the
/// engine's `decode_raw` + `validate`), then the round trips a valid frame must survive.
pub fn client_frame<M>(encoding: Encoding, data: &[u8]) -> bool
where
    M: DeserializeOwned + bincode::Decode<()> + bincode::Encode + Serialize + Validate,
    M: Debug + PartialEq,
{
    let frame = match decode_client::<M>(encoding, data, MAX_FRAME) {
        Ok(frame) => frame,
        Err(e) => {
            // The engine sends this text in the error frame.
            let _ = e.to_string();
            return false;
        }
    };
    assert!(
        frame.validate().is_ok(),
        "decode_client returned an invalid frame: {frame:?}"
    );
    // The engine's own path (net/ws.rs): decode_raw, then validate separately.
    let raw = decode_raw::<ClientFrame<M>>(encoding, data, MAX_FRAME)
        .expect("decode_raw rejects what decode_client accepted");
    same(&raw, &frame, "decode_raw vs decode_client");
    roundtrip(&frame);
    true
}

/// POST /v1/orders: `serde_json::from_slice::<NewOrder>` (net/extract.rs `json_body`),
/// then `Validate::validate` (dispatch/service.rs `create`). A valid order must survive
/// both encodings the way a console `create_order` carries it.
pub fn order_body(data: &[u8]) -> bool {
    let order: NewOrder = match serde_json::from_slice(data) {
        Ok(order) => order,
        Err(e) => {
            let _ = format!("invalid JSON body: {e}");
            return false;
        }
    };
    if let Err(e) = order.validate() {
        let _ = e.to_string();
        return false;
    }
    // The HTTP answer echoes the order; JSON must carry it unchanged.
    let text = serde_json::to_vec(&order).expect("a NewOrder serialises to JSON");
    let back: NewOrder = serde_json::from_slice(&text).expect("our own JSON parses");
    assert_eq!(
        back,
        order,
        "JSON round trip of {}",
        String::from_utf8_lossy(&text)
    );
    roundtrip(&ClientFrame {
        seq: None,
        msg: ConsoleMessage::CreateOrder { order },
    });
    true
}

/// A valid frame encoded in each encoding decodes (and validates) back to itself; the
/// bincode encoding is stable under decode → encode.
fn roundtrip<M>(frame: &ClientFrame<M>)
where
    M: DeserializeOwned + bincode::Decode<()> + bincode::Encode + Serialize + Validate,
    M: Debug + PartialEq,
{
    for encoding in [Encoding::Json, Encoding::Bincode] {
        let bytes = bytes_of(encode(encoding, frame));
        let back = decode_client::<M>(encoding, &bytes, BIG).unwrap_or_else(|e| {
            panic!(
                "{encoding:?} round trip failed: {e}\nframe: {frame:?}\nencoded: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        same(&back, frame, &format!("{encoding:?} round trip"));
        if encoding == Encoding::Bincode {
            assert_eq!(
                bytes_of(encode(Encoding::Bincode, &back)),
                bytes,
                "bincode re-encoding differs for {frame:?}"
            );
        }
    }
}

/// Equality as the protocol tests define it: bitwise through bincode (floats' raw bits),
/// and `PartialEq` unless a NaN makes a value unequal to itself (validated client frames
/// carry none, but the check does not rely on it).
fn same<M>(a: &ClientFrame<M>, b: &ClientFrame<M>, what: &str)
where
    M: bincode::Encode + Serialize + Debug + PartialEq,
{
    #[allow(clippy::eq_op)]
    let no_nan = b == b;
    if no_nan {
        assert_eq!(a, b, "{what}");
    } else {
        assert_eq!(
            bytes_of(encode(Encoding::Bincode, a)),
            bytes_of(encode(Encoding::Bincode, b)),
            "{what}"
        );
    }
}
