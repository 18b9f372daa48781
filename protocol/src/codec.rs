//! Frame codecs: JSON in WebSocket text frames, bincode 2 in binary frames. The server
//! answers in the encoding the client last used, so decoding reports which one it saw.

use crate::message::ClientFrame;
use crate::validate::{Validate, ValidationError};
use bincode::{Decode, Encode};
use serde::{de::DeserializeOwned, Serialize};
use thiserror::Error;

/// Default largest frame accepted from a client (64 KiB); the engine makes it configurable.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

/// Hard cap on what a bincode length prefix may claim, whatever the frame limit: a
/// hostile prefix must not make the decoder allocate.
const BINCODE_CLAIM_LIMIT: usize = 16 * 1024 * 1024;

/// bincode allocates a container as soon as its length prefix passes the limit, before
/// reading the elements, so a limit well above the frame size lets a few bytes claiming
/// megabytes allocate them. Claims count memory (elements × `size_of`), and every
/// element takes wire bytes, so a well-formed frame claims less than this many bytes per
/// byte of frame (the densest, an order's `StatusChange`, is 40 bytes in memory from 3 on
/// the wire; `tests/bad_input.rs` checks the densest frames still decode).
const CLAIM_PER_FRAME_BYTE: usize = 16;

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<BINCODE_CLAIM_LIMIT>()
}

/// Decodes with the smallest claim limit (a const generic in bincode, hence the tiers)
/// that a well-formed frame of this length can need.
fn bincode_decode<T: Decode<()>>(bytes: &[u8]) -> Result<(T, usize), bincode::error::DecodeError> {
    let standard = bincode::config::standard();
    let need = bytes.len().saturating_mul(CLAIM_PER_FRAME_BYTE);
    if need <= 4 * 1024 {
        bincode::decode_from_slice(bytes, standard.with_limit::<{ 4 * 1024 }>())
    } else if need <= 64 * 1024 {
        bincode::decode_from_slice(bytes, standard.with_limit::<{ 64 * 1024 }>())
    } else if need <= 1024 * 1024 {
        bincode::decode_from_slice(bytes, standard.with_limit::<{ 1024 * 1024 }>())
    } else {
        bincode::decode_from_slice(bytes, bincode_config())
    }
}

/// Which of the two wire encodings a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Text frames, JSON objects tagged by `"type"`.
    #[default]
    Json,
    /// Binary frames, bincode 2 (standard config: varint integers, little endian).
    Bincode,
}

/// An encoded frame, ready to become a WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    Text(String),
    Binary(Vec<u8>),
}

impl Encoded {
    pub fn len(&self) -> usize {
        match self {
            Self::Text(s) => s.len(),
            Self::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a client frame could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed {encoding} frame: {reason}")]
    Malformed {
        encoding: &'static str,
        reason: String,
    },
    #[error("unknown message type: {0}")]
    UnknownType(String),
    #[error("invalid message: {0}")]
    Invalid(#[from] ValidationError),
}

/// Encodes any server or client value in the given encoding.
pub fn encode<T: Serialize + Encode>(encoding: Encoding, value: &T) -> Encoded {
    match encoding {
        Encoding::Json => Encoded::Text(
            serde_json::to_string(value).expect("protocol types always serialise to JSON"),
        ),
        Encoding::Bincode => Encoded::Binary(
            bincode::encode_to_vec(value, bincode_config())
                .expect("protocol types always encode with bincode"),
        ),
    }
}

/// Decodes one value without validating it (used by clients for server frames).
pub fn decode_raw<T: DeserializeOwned + Decode<()>>(
    encoding: Encoding,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max_bytes {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    match encoding {
        Encoding::Json => serde_json::from_slice(bytes).map_err(|e| json_error(e, bytes)),
        Encoding::Bincode => {
            let (value, read) = bincode_decode(bytes).map_err(|e| DecodeError::Malformed {
                encoding: "bincode",
                reason: e.to_string(),
            })?;
            if read != bytes.len() {
                return Err(DecodeError::Malformed {
                    encoding: "bincode",
                    reason: format!("{} trailing bytes", bytes.len() - read),
                });
            }
            Ok(value)
        }
    }
}

/// Decodes and validates one client frame: the size limit, the encoding, then every field.
pub fn decode_client<M>(
    encoding: Encoding,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<ClientFrame<M>, DecodeError>
where
    M: DeserializeOwned + Decode<()> + Validate,
{
    let frame: ClientFrame<M> = decode_raw(encoding, bytes, max_bytes)?;
    frame.validate()?;
    Ok(frame)
}

fn json_error(e: serde_json::Error, bytes: &[u8]) -> DecodeError {
    let reason = e.to_string();
    // serde reports an unrecognised `"type"` tag as an unknown variant, but also an
    // unrecognised value of any enum field (`"status":"flying"`): only the former is an
    // unknown message type.
    if let Some(rest) = reason.strip_prefix("unknown variant `") {
        let name = rest.split('`').next().unwrap_or_default();
        if type_tag(bytes).as_deref() == Some(name) {
            return DecodeError::UnknownType(name.to_string());
        }
    }
    DecodeError::Malformed {
        encoding: "json",
        reason,
    }
}

/// The top-level `"type"` string of a JSON object, if there is one.
fn type_tag(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Tag {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Tag>(bytes).ok()?.kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DriverMessage, ServerFrame, ServerMessage};

    fn json(s: &str) -> Result<ClientFrame<DriverMessage>, DecodeError> {
        decode_client(Encoding::Json, s.as_bytes(), DEFAULT_MAX_FRAME_BYTES)
    }

    #[test]
    fn json_position_with_seq() {
        let f = json(r#"{"type":"position","lat":60.1,"lon":24.9,"ts_ms":5,"seq":7}"#).unwrap();
        assert_eq!(f.seq, Some(7));
        assert!(matches!(f.msg, DriverMessage::Position { ts_ms: 5, .. }));
    }

    #[test]
    fn json_errors_are_typed() {
        assert_eq!(
            json(r#"{"type":"teleport"}"#).unwrap_err(),
            DecodeError::UnknownType("teleport".into())
        );
        assert!(matches!(
            json("{not json").unwrap_err(),
            DecodeError::Malformed { .. }
        ));
        assert!(matches!(
            json(r#"{"lat":1}"#).unwrap_err(),
            DecodeError::Malformed { .. }
        ));
        assert!(matches!(
            json(r#"{"type":"position","lat":91,"lon":0,"ts_ms":1}"#).unwrap_err(),
            DecodeError::Invalid(_)
        ));
        let big = format!(r#"{{"type":"hello","pad":"{}"}}"#, "x".repeat(100));
        assert!(matches!(
            decode_client::<DriverMessage>(Encoding::Json, big.as_bytes(), 64).unwrap_err(),
            DecodeError::TooLarge { max: 64, .. }
        ));
    }

    #[test]
    fn bincode_rejects_garbage_and_trailing_bytes() {
        for garbage in [
            &[0xffu8, 0xff, 0xff][..],
            &[],
            &[42],
            &[1, 250, 255, 255, 255, 255],
        ] {
            assert!(decode_client::<DriverMessage>(Encoding::Bincode, garbage, 1024).is_err());
        }
        let Encoded::Binary(mut bytes) = encode(
            Encoding::Bincode,
            &ClientFrame {
                seq: None,
                msg: DriverMessage::Hello { resume_seq: None },
            },
        ) else {
            unreachable!()
        };
        bytes.push(0);
        assert!(matches!(
            decode_client::<DriverMessage>(Encoding::Bincode, &bytes, 1024).unwrap_err(),
            DecodeError::Malformed { .. }
        ));
    }

    #[test]
    fn server_frame_json_is_flat() {
        let f = ServerFrame {
            seq: 3,
            msg: ServerMessage::Ack {
                reference: Some(9),
                stop_id: None,
            },
        };
        let Encoded::Text(s) = encode(Encoding::Json, &f) else {
            unreachable!()
        };
        assert_eq!(s, r#"{"seq":3,"type":"ack","ref":9}"#);
    }
}
