//! Persisted record types and their versioned encoding.
//!
//! These are *not* the wire types of `dispatch-protocol`: the engine maps between the two,
//! so the wire can change without rewriting the database and vice versa.
//!
//! Every stored value is `[version byte][bincode 2 body]` (standard config: little
//! endian, varint integers). Decoding checks the version byte first and fails with
//! [`StoreError::UnknownVersion`] for versions this build does not know. To change a
//! record: freeze the current struct as `FooV1` (keep its decoder), bump the `VERSION`
//! constant, and convert old bodies on read. Enum variants inside a body are encoded
//! by index: add new variants at the end only, never reorder or remove them. The
//! golden-bytes tests below make any accidental change to the encoding fail.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Decoding refuses claims of more than this many bytes, so a corrupt length prefix
/// cannot make the reader allocate gigabytes.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// The one bincode configuration used for every stored body.
const CODEC: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_RECORD_BYTES>,
> = bincode::config::standard().with_limit::<MAX_RECORD_BYTES>();

/// A driver's registration: who they are and what their vehicle carries.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct DriverRecord {
    /// Stable driver id chosen by the operator; also the key in the `drivers` tree.
    pub id: String,
    /// Display name for consoles; optional because the registration API does not
    /// require it.
    pub name: Option<String>,
    /// Vehicle capacity in load units; the planner's capacity constraint.
    pub capacity: u32,
    /// When the driver was registered (ms since the Unix epoch), for audits and for
    /// telling a re-registration from the original.
    pub created_ms: u64,
}

/// A driver's availability as stored; the engine maps it to and from the wire status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub enum DriverStatusRecord {
    /// Can receive new work.
    Available,
    /// Not connected or signed off; never assigned.
    Offline,
    /// Connected but pausing; keeps the current route, gets nothing new.
    Break,
}

/// The latest known state of a driver: last position and status. Overwritten in place,
/// never kept as history (the store holds one row per driver).
#[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct DriverStateRecord {
    /// Latitude of the last position, degrees (WGS 84); meaningless unless
    /// `has_position`.
    pub lat: f64,
    /// Longitude of the last position, degrees (WGS 84); meaningless unless
    /// `has_position`.
    pub lon: f64,
    /// When the device took the fix (ms since the Unix epoch), so recovery can tell
    /// how stale the position is.
    pub ts_ms: u64,
    /// Status at the time of the write, so recovery restores it without replaying
    /// events.
    pub status: DriverStatusRecord,
    /// When the engine wrote this row (ms since the Unix epoch); differs from `ts_ms`
    /// when a status change is stored without a new fix.
    pub updated_ms: u64,
    /// False until the driver has reported a position at all (a status change can be
    /// stored before the first fix); avoids a sentinel coordinate.
    pub has_position: bool,
}

/// What happened, in the event log. One variant per kind of state change.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub enum EventKind {
    /// A driver registered (or re-registered).
    DriverRegistered {
        /// The driver's id.
        id: String,
    },
    /// A driver's status changed.
    DriverStatusChanged {
        /// The driver's id.
        id: String,
        /// Status before the change, so a reader needs no earlier event.
        old: DriverStatusRecord,
        /// Status after the change.
        new: DriverStatusRecord,
    },
}

/// One entry of the append-only event log; its sequence number is the key, not a field.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EventRecord {
    /// When the change happened (ms since the Unix epoch); the log's order is the
    /// sequence number, this is for humans and replays.
    pub at_ms: u64,
    /// What happened.
    pub kind: EventKind,
}

/// Everything recovery needs about one driver: the registration and, if one was ever
/// stored, the latest state. Returned by loads, never stored as such.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverSnapshot {
    /// The registration.
    pub driver: DriverRecord,
    /// Latest stored position and status; `None` if none was ever written.
    pub state: Option<DriverStateRecord>,
}

/// A type stored as a value in one tree, with a version byte in front.
pub trait Versioned: Sized {
    /// Name of the tree that holds these records (used in errors).
    const TREE: &'static str;
    /// Version byte written by this build.
    const VERSION: u8;

    /// Encodes as `[VERSION][body]`.
    fn to_bytes(&self) -> Vec<u8>;

    /// Decodes `[version][body]`; `key` is the record's key rendered for error messages.
    fn from_bytes(key: &str, bytes: &[u8]) -> Result<Self, StoreError>;
}

macro_rules! versioned_v1 {
    ($ty:ty, $tree:literal) => {
        impl Versioned for $ty {
            const TREE: &'static str = $tree;
            const VERSION: u8 = 1;

            fn to_bytes(&self) -> Vec<u8> {
                encode_versioned(Self::VERSION, self)
            }

            fn from_bytes(key: &str, bytes: &[u8]) -> Result<Self, StoreError> {
                let (version, body) = split_version(Self::TREE, key, bytes)?;
                match version {
                    1 => decode_body(Self::TREE, key, body),
                    version => Err(StoreError::UnknownVersion {
                        tree: Self::TREE,
                        version,
                    }),
                }
            }
        }
    };
}

versioned_v1!(DriverRecord, "drivers");
versioned_v1!(DriverStateRecord, "driver_state");
versioned_v1!(EventRecord, "events");

fn encode_versioned<T: Encode>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    // Writing into a Vec cannot fail, and every record type is plain data.
    if let Err(e) = bincode::encode_into_std_write(value, &mut out, CODEC) {
        unreachable!("encoding a record into memory failed: {e}");
    }
    out
}

fn split_version<'a>(
    tree: &'static str,
    key: &str,
    bytes: &'a [u8],
) -> Result<(u8, &'a [u8]), StoreError> {
    match bytes.split_first() {
        Some((version, body)) => Ok((*version, body)),
        None => Err(StoreError::Corrupt {
            tree,
            key: key.to_owned(),
            reason: "empty value (no version byte)".to_owned(),
        }),
    }
}

fn decode_body<T: Decode<()>>(tree: &'static str, key: &str, body: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree,
        key: key.to_owned(),
        reason,
    };
    let (value, used) =
        bincode::decode_from_slice(body, CODEC).map_err(|e| corrupt(e.to_string()))?;
    if used != body.len() {
        return Err(corrupt(format!(
            "{} trailing bytes after the record",
            body.len() - used
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver() -> DriverRecord {
        DriverRecord {
            id: "d1".into(),
            name: Some("Ann".into()),
            capacity: 4,
            created_ms: 1_700_000_000_000,
        }
    }

    fn state() -> DriverStateRecord {
        DriverStateRecord {
            lat: 52.5,
            lon: 13.25,
            ts_ms: 1_700_000_000_500,
            status: DriverStatusRecord::Break,
            updated_ms: 1_700_000_000_600,
            has_position: true,
        }
    }

    fn event() -> EventRecord {
        EventRecord {
            at_ms: 7,
            kind: EventKind::DriverStatusChanged {
                id: "d1".into(),
                old: DriverStatusRecord::Available,
                new: DriverStatusRecord::Offline,
            },
        }
    }

    fn round_trip<T: Versioned + PartialEq + std::fmt::Debug>(value: &T) {
        let bytes = value.to_bytes();
        assert_eq!(bytes[0], T::VERSION);
        assert_eq!(&T::from_bytes("k", &bytes).unwrap(), value);
    }

    #[test]
    fn records_round_trip() {
        round_trip(&driver());
        round_trip(&DriverRecord {
            name: None,
            ..driver()
        });
        round_trip(&state());
        round_trip(&event());
        round_trip(&EventRecord {
            at_ms: u64::MAX,
            kind: EventKind::DriverRegistered { id: "é".into() },
        });
    }

    #[test]
    fn unknown_version_is_rejected_with_a_typed_error() {
        let mut bytes = driver().to_bytes();
        bytes[0] = 2;
        assert_eq!(
            DriverRecord::from_bytes("d1", &bytes),
            Err(StoreError::UnknownVersion {
                tree: "drivers",
                version: 2
            })
        );
        let mut bytes = event().to_bytes();
        bytes[0] = 0;
        assert!(matches!(
            EventRecord::from_bytes("1", &bytes),
            Err(StoreError::UnknownVersion {
                tree: "events",
                version: 0
            })
        ));
    }

    #[test]
    fn truncated_empty_and_padded_values_are_corrupt() {
        let bytes = state().to_bytes();
        for bad in [&bytes[..0], &bytes[..bytes.len() - 1]] {
            assert!(matches!(
                DriverStateRecord::from_bytes("d1", bad),
                Err(StoreError::Corrupt {
                    tree: "driver_state",
                    ..
                })
            ));
        }
        let mut padded = bytes.clone();
        padded.push(0);
        let err = DriverStateRecord::from_bytes("d1", &padded).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }

    #[test]
    fn unknown_enum_tag_is_corrupt() {
        // Version 1, at_ms 7, then variant index 9 which does not exist.
        let err = EventRecord::from_bytes("1", &[1, 7, 9]).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { tree: "events", .. }),
            "{err}"
        );
    }

    /// Pins the on-disk encoding: if one of these fails, the change breaks existing
    /// databases and needs a new record version instead.
    #[test]
    fn golden_bytes() {
        assert_eq!(driver().to_bytes(), GOLDEN_DRIVER);
        assert_eq!(state().to_bytes(), GOLDEN_STATE);
        assert_eq!(event().to_bytes(), GOLDEN_EVENT);
    }

    /// version 1, id "d1", Some("Ann"), capacity 4, created_ms (varint: 253 + u64 LE).
    const GOLDEN_DRIVER: &[u8] = &[
        1, 2, 100, 49, 1, 3, 65, 110, 110, 4, 253, 0, 104, 229, 207, 139, 1, 0, 0,
    ];
    /// version 1, lat and lon as f64 LE, ts_ms, status Break (2), updated_ms, true.
    const GOLDEN_STATE: &[u8] = &[
        1, 0, 0, 0, 0, 0, 64, 74, 64, 0, 0, 0, 0, 0, 128, 42, 64, 253, 244, 105, 229, 207, 139, 1,
        0, 0, 2, 253, 88, 106, 229, 207, 139, 1, 0, 0, 1,
    ];
    /// version 1, at_ms 7, variant DriverStatusChanged (1), id "d1", Available (0),
    /// Offline (1).
    const GOLDEN_EVENT: &[u8] = &[1, 7, 1, 2, 100, 49, 0, 1];
}
