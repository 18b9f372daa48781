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

/// One point of a driver's trail: where the driver was at `ts_ms`. Kept as history
/// (downsampled by the engine, trimmed by age and count), keyed by driver and time.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct TrailPointRecord {
    /// When the device took the fix (ms since the Unix epoch); also in the key, so a
    /// record that disagrees with its key is corrupt.
    pub ts_ms: u64,
    /// Latitude, degrees (WGS 84).
    pub lat: f64,
    /// Longitude, degrees (WGS 84).
    pub lon: f64,
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

/// Stored twin of the wire order status. Encoded by variant index, so this order *is*
/// the on-disk encoding: add variants at the end only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
pub enum OrderStatusRecord {
    /// Accepted, waiting for a driver.
    Pending,
    /// On a driver's route, not yet picked up.
    Assigned,
    /// In the vehicle, on the way to the drop-off.
    PickedUp,
    /// Handed over; terminal.
    Delivered,
    /// Withdrawn by the client or an operator; terminal.
    Cancelled,
    /// The driver could not complete it; terminal.
    Failed,
    /// No driver can serve it right now; not terminal, because recovery and later
    /// planning rounds retry it.
    Unassignable,
}

impl OrderStatusRecord {
    /// Whether the order is finished for good (`Delivered`, `Cancelled` or `Failed`).
    /// Terminal orders leave the `open_orders` index and are never re-queued by recovery.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled | Self::Failed)
    }
}

/// One location of an order with its time window, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct StopRecord {
    /// Latitude, degrees (WGS 84); where the driver has to go.
    pub lat: f64,
    /// Longitude, degrees (WGS 84).
    pub lon: f64,
    /// Earliest time service may start (ms since the Unix epoch); `None`: any time.
    /// The planner's time-window lower bound.
    pub ready_ms: Option<u64>,
    /// Latest promised arrival (ms since the Unix epoch); `None`: no deadline. The
    /// planner's time-window upper bound.
    pub due_ms: Option<u64>,
    /// Seconds spent at the stop (parking, hand-over); adds to every later ETA.
    pub service_s: u32,
}

/// One entry of an order's status history.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct StatusChangeRecord {
    /// Status the order entered.
    pub status: OrderStatusRecord,
    /// When it entered it (ms since the Unix epoch), for audits and the order API.
    pub at_ms: u64,
    /// Why, when there is more to say than the status (a failure cause, who cancelled).
    pub reason: Option<String>,
    /// The driver's note with the `stop_done` that made this change (record version 2).
    #[serde(default)]
    pub note: Option<String>,
}

/// Who receives an order and where, as the client gave it (record version 2; all
/// absent in orders stored by version 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct OrderDetailsRecord {
    /// The recipient's name, for the driver and the dispatcher.
    pub recipient_name: Option<String>,
    /// The recipient's phone number as given.
    pub recipient_phone: Option<String>,
    /// The address as text (the stops hold the coordinates).
    pub address: Option<String>,
    /// Free notes (door codes, where to leave the goods).
    pub notes: Option<String>,
}

/// An order with its current status and assignment. Overwritten on every change; the
/// history travels inside the record so a read needs no second lookup.
#[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Order id (client-chosen or server-made); also the key in the `orders` tree.
    pub id: String,
    /// Where the goods are collected.
    pub pickup: StopRecord,
    /// Where the goods are delivered.
    pub dropoff: StopRecord,
    /// Load units the order occupies between pickup and drop-off; counted against the
    /// driver's capacity.
    pub size: u32,
    /// Client-given rank, stored as given so the planner can weigh it after recovery.
    pub priority: i32,
    /// Current status; decides membership of the `open_orders` index.
    pub status: OrderStatusRecord,
    /// Driver whose route holds the order; `None` while unassigned.
    pub driver_id: Option<String>,
    /// Planned pickup time (ms since the Unix epoch) as last promised to the client;
    /// `None` while unassigned or once picked up.
    pub pickup_eta_ms: Option<u64>,
    /// Planned drop-off time (ms since the Unix epoch) as last promised to the client;
    /// `None` while unassigned.
    pub dropoff_eta_ms: Option<u64>,
    /// When the order was accepted (ms since the Unix epoch); for audits and waiting
    /// time metrics.
    pub created_ms: u64,
    /// Every status change so far, oldest first.
    pub history: Vec<StatusChangeRecord>,
    /// Recipient, address text and notes (record version 2).
    #[serde(default)]
    pub details: OrderDetailsRecord,
}

/// What a route stop does with its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
pub enum StopKindRecord {
    /// Collect the goods (load grows by `size`).
    Pickup,
    /// Hand them over (load shrinks by `size`).
    Dropoff,
}

/// One stop of a driver's planned route, with everything needed to re-plan without
/// reading the order.
#[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct RouteStopRecord {
    /// Stable id of the stop, so a driver app can report on it after a restart.
    pub stop_id: String,
    /// The order this stop serves.
    pub order_id: String,
    /// Pickup or drop-off.
    pub kind: StopKindRecord,
    /// Latitude, degrees (WGS 84).
    pub lat: f64,
    /// Longitude, degrees (WGS 84).
    pub lon: f64,
    /// Planned arrival (ms since the Unix epoch) when the plan was made.
    pub eta_ms: u64,
    /// Earliest service start (ms since the Unix epoch); `None`: any time.
    pub ready_ms: Option<u64>,
    /// Latest arrival (ms since the Unix epoch); `None`: no deadline.
    pub due_ms: Option<u64>,
    /// Seconds spent at the stop.
    pub service_s: u32,
    /// Load units picked up or dropped here, so capacity checks need no order lookup.
    pub size: u32,
}

/// A driver's current plan (stops not yet done), overwritten on every change. Keyed by
/// driver id in the `routes` tree, so it holds no id of its own.
///
/// Decoding refuses records that claim more than 1 MiB of memory (each stop counts 120
/// bytes plus its two ids), which caps a route at about 5,000 stops with 36-character
/// ids. Writes do not check this: keep plans far below it.
#[derive(Debug, Clone, PartialEq, Encode, Decode, Serialize, Deserialize)]
pub struct RouteRecord {
    /// Grows with every change of the plan, so clients and recovery can tell a newer
    /// plan from an older one.
    pub version: u64,
    /// Stops in the order the driver will visit them.
    pub stops: Vec<RouteStopRecord>,
}

/// One atomic write: after a crash either all of it is there or none of it. Passed to
/// [`Store::apply`](crate::Store::apply); never stored as such.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Orders to insert or overwrite; a later entry with the same id wins.
    pub orders: Vec<OrderRecord>,
    /// `(driver id, route)` pairs to insert or overwrite; a later entry for the same
    /// driver wins.
    pub routes: Vec<(String, RouteRecord)>,
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

/// Orders are at version 2 (details and stop notes); version 1 bodies are read as
/// [`OrderRecordV1`] and converted, so a database written before still opens.
impl Versioned for OrderRecord {
    const TREE: &'static str = "orders";
    const VERSION: u8 = 2;

    fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(Self::VERSION, self)
    }

    fn from_bytes(key: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let (version, body) = split_version(Self::TREE, key, bytes)?;
        match version {
            1 => decode_body::<OrderRecordV1>(Self::TREE, key, body).map(OrderRecord::from),
            2 => decode_body(Self::TREE, key, body),
            version => Err(StoreError::UnknownVersion {
                tree: Self::TREE,
                version,
            }),
        }
    }
}
versioned_v1!(RouteRecord, "routes");
versioned_v1!(TrailPointRecord, "trails");

/// [`OrderRecord`] as version 1 stored it: no details, no notes in the history.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct OrderRecordV1 {
    pub id: String,
    pub pickup: StopRecord,
    pub dropoff: StopRecord,
    pub size: u32,
    pub priority: i32,
    pub status: OrderStatusRecord,
    pub driver_id: Option<String>,
    pub pickup_eta_ms: Option<u64>,
    pub dropoff_eta_ms: Option<u64>,
    pub created_ms: u64,
    pub history: Vec<StatusChangeRecordV1>,
}

/// [`StatusChangeRecord`] as version 1 stored it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct StatusChangeRecordV1 {
    pub status: OrderStatusRecord,
    pub at_ms: u64,
    pub reason: Option<String>,
}

impl OrderRecordV1 {
    /// The version 1 encoding (`[1][body]`), for tests that write what an older build
    /// wrote.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(1, self)
    }
}

impl From<OrderRecordV1> for OrderRecord {
    fn from(r: OrderRecordV1) -> Self {
        OrderRecord {
            id: r.id,
            pickup: r.pickup,
            dropoff: r.dropoff,
            size: r.size,
            priority: r.priority,
            status: r.status,
            driver_id: r.driver_id,
            pickup_eta_ms: r.pickup_eta_ms,
            dropoff_eta_ms: r.dropoff_eta_ms,
            created_ms: r.created_ms,
            history: r
                .history
                .into_iter()
                .map(|h| StatusChangeRecord {
                    status: h.status,
                    at_ms: h.at_ms,
                    reason: h.reason,
                    note: None,
                })
                .collect(),
            details: OrderDetailsRecord::default(),
        }
    }
}

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

    fn order() -> OrderRecord {
        OrderRecord {
            id: "o1".into(),
            pickup: StopRecord {
                lat: 1.5,
                lon: -2.0,
                ready_ms: Some(100),
                due_ms: None,
                service_s: 60,
            },
            dropoff: StopRecord {
                lat: 0.0,
                lon: 4.0,
                ready_ms: None,
                due_ms: Some(300),
                service_s: 30,
            },
            size: 2,
            priority: -1,
            status: OrderStatusRecord::Assigned,
            driver_id: Some("d1".into()),
            pickup_eta_ms: Some(150),
            dropoff_eta_ms: None,
            created_ms: 5,
            history: vec![
                StatusChangeRecord {
                    status: OrderStatusRecord::Pending,
                    at_ms: 5,
                    reason: None,
                    note: None,
                },
                StatusChangeRecord {
                    status: OrderStatusRecord::Assigned,
                    at_ms: 6,
                    reason: Some("ok".into()),
                    note: None,
                },
            ],
            details: OrderDetailsRecord::default(),
        }
    }

    /// [`order`] with details and a stop note, as version 2 writes it.
    fn detailed_order() -> OrderRecord {
        let mut o = order();
        o.details = OrderDetailsRecord {
            recipient_name: Some("A".into()),
            recipient_phone: None,
            address: None,
            notes: Some("n".into()),
        };
        o.history[1].note = Some("x".into());
        o
    }

    /// [`order`] as version 1 wrote it.
    fn order_v1() -> OrderRecordV1 {
        let o = order();
        OrderRecordV1 {
            id: o.id,
            pickup: o.pickup,
            dropoff: o.dropoff,
            size: o.size,
            priority: o.priority,
            status: o.status,
            driver_id: o.driver_id,
            pickup_eta_ms: o.pickup_eta_ms,
            dropoff_eta_ms: o.dropoff_eta_ms,
            created_ms: o.created_ms,
            history: o
                .history
                .into_iter()
                .map(|h| StatusChangeRecordV1 {
                    status: h.status,
                    at_ms: h.at_ms,
                    reason: h.reason,
                })
                .collect(),
        }
    }

    fn route() -> RouteRecord {
        RouteRecord {
            version: 3,
            stops: vec![RouteStopRecord {
                stop_id: "s1".into(),
                order_id: "o1".into(),
                kind: StopKindRecord::Dropoff,
                lat: 2.0,
                lon: 0.5,
                eta_ms: 200,
                ready_ms: None,
                due_ms: Some(300),
                service_s: 30,
                size: 2,
            }],
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
        round_trip(&order());
        round_trip(&detailed_order());
        round_trip(&OrderRecord {
            driver_id: None,
            history: Vec::new(),
            status: OrderStatusRecord::Unassignable,
            priority: i32::MIN,
            created_ms: u64::MAX,
            ..order()
        });
        round_trip(&route());
        round_trip(&RouteRecord {
            version: 0,
            stops: Vec::new(),
        });
    }

    #[test]
    fn terminal_statuses() {
        use OrderStatusRecord::*;
        let terminal: Vec<OrderStatusRecord> = [
            Pending,
            Assigned,
            PickedUp,
            Delivered,
            Cancelled,
            Failed,
            Unassignable,
        ]
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
        assert_eq!(terminal, [Delivered, Cancelled, Failed]);
    }

    #[test]
    fn truncated_orders_and_routes_are_corrupt() {
        let bytes = order().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                matches!(
                    OrderRecord::from_bytes("o1", &bytes[..len]),
                    Err(StoreError::Corrupt { tree: "orders", .. })
                ),
                "order cut at {len} bytes"
            );
        }
        let bytes = route().to_bytes();
        for len in 0..bytes.len() {
            assert!(
                matches!(
                    RouteRecord::from_bytes("d1", &bytes[..len]),
                    Err(StoreError::Corrupt { tree: "routes", .. })
                ),
                "route cut at {len} bytes"
            );
        }
        let mut padded = bytes;
        padded.push(0);
        assert!(matches!(
            RouteRecord::from_bytes("d1", &padded),
            Err(StoreError::Corrupt { tree: "routes", .. })
        ));
    }

    #[test]
    fn unknown_order_status_and_stop_kind_are_corrupt() {
        // The status byte follows the id, both stops, size and priority; index 7 is one
        // past `Unassignable`.
        let mut bytes = order().to_bytes();
        let status_at = GOLDEN_ORDER_STATUS_AT;
        assert_eq!(bytes[status_at], 1, "Assigned");
        bytes[status_at] = 7;
        assert!(matches!(
            OrderRecord::from_bytes("o1", &bytes),
            Err(StoreError::Corrupt { tree: "orders", .. })
        ));
        let mut bytes = route().to_bytes();
        // version, version 3, one stop, "s1", "o1", then the kind.
        assert_eq!(bytes[9], 1, "Dropoff");
        bytes[9] = 2;
        assert!(matches!(
            RouteRecord::from_bytes("d1", &bytes),
            Err(StoreError::Corrupt { tree: "routes", .. })
        ));
    }

    #[test]
    fn unknown_order_and_route_versions_are_rejected() {
        let mut bytes = order().to_bytes();
        bytes[0] = 3;
        assert_eq!(
            OrderRecord::from_bytes("o1", &bytes),
            Err(StoreError::UnknownVersion {
                tree: "orders",
                version: 3
            })
        );
        let mut bytes = route().to_bytes();
        bytes[0] = 2;
        assert_eq!(
            RouteRecord::from_bytes("d1", &bytes),
            Err(StoreError::UnknownVersion {
                tree: "routes",
                version: 2
            })
        );
    }

    /// The decode limit bounds route length; pin the documented figure so a change to
    /// the stop type that shrinks it does not go unnoticed.
    #[test]
    fn a_route_of_5000_stops_with_uuid_ids_decodes() {
        let stop = route().stops[0].clone();
        let big = RouteRecord {
            version: 1,
            stops: (0..5000)
                .map(|i| RouteStopRecord {
                    stop_id: format!("{i:036}"),
                    order_id: format!("{i:036}"),
                    ..stop.clone()
                })
                .collect(),
        };
        round_trip(&big);
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

    /// An order written by version 1 (before details and stop notes) still reads, with
    /// nothing in the new fields.
    #[test]
    fn version_1_orders_still_read() {
        let read = OrderRecord::from_bytes("o1", GOLDEN_ORDER_V1).unwrap();
        assert_eq!(read, order());
        assert_eq!(read.details, OrderDetailsRecord::default());
        assert!(read.history.iter().all(|h| h.note.is_none()));
        let cut = &GOLDEN_ORDER_V1[..GOLDEN_ORDER_V1.len() - 1];
        assert!(matches!(
            OrderRecord::from_bytes("o1", cut),
            Err(StoreError::Corrupt { tree: "orders", .. })
        ));
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
        assert_eq!(order_v1().to_bytes(), GOLDEN_ORDER_V1);
        assert_eq!(order().to_bytes(), GOLDEN_ORDER);
        assert_eq!(detailed_order().to_bytes(), GOLDEN_DETAILED_ORDER);
        assert_eq!(route().to_bytes(), GOLDEN_ROUTE);
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
    /// version 1, id "o1";
    /// pickup: lat 1.5 and lon -2.0 as f64 LE, Some(100), None, service_s 60;
    /// dropoff: lat 0.0 and lon 4.0, None, Some(300) (varint: 251 + u16 LE), 30;
    /// size 2, priority -1 (zigzag: 1), status Assigned (1), Some("d1"), Some(150),
    /// None, created_ms 5;
    /// history of 2: (Pending (0), 5, None), (Assigned (1), 6, Some("ok")).
    const GOLDEN_ORDER_V1: &[u8] = &[
        1, 2, 111, 49, //
        0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 0, 192, 1, 100, 0, 60, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 64, 0, 1, 251, 44, 1, 30, //
        2, 1, 1, 1, 2, 100, 49, 1, 150, 0, 5, //
        2, 0, 5, 0, 1, 6, 1, 2, 111, 107,
    ];
    /// Version 2: the same body but every history entry ends with its note (None) and
    /// the order with its four details (None).
    const GOLDEN_ORDER: &[u8] = &[
        2, 2, 111, 49, //
        0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 0, 192, 1, 100, 0, 60, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 64, 0, 1, 251, 44, 1, 30, //
        2, 1, 1, 1, 2, 100, 49, 1, 150, 0, 5, //
        2, 0, 5, 0, 0, 1, 6, 1, 2, 111, 107, 0, //
        0, 0, 0, 0,
    ];
    /// Version 2 with a note "x" on the second change, recipient_name "A", notes "n".
    const GOLDEN_DETAILED_ORDER: &[u8] = &[
        2, 2, 111, 49, //
        0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 0, 192, 1, 100, 0, 60, //
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 64, 0, 1, 251, 44, 1, 30, //
        2, 1, 1, 1, 2, 100, 49, 1, 150, 0, 5, //
        2, 0, 5, 0, 0, 1, 6, 1, 2, 111, 107, 1, 1, 120, //
        1, 1, 65, 0, 0, 1, 1, 110,
    ];
    /// Offset of the status byte in `GOLDEN_ORDER`.
    const GOLDEN_ORDER_STATUS_AT: usize = 48;
    /// version 1, version 3, 1 stop: "s1", "o1", Dropoff (1), lat 2.0 and lon 0.5 as
    /// f64 LE, eta_ms 200 (varint: one byte below 251), None, Some(300) (251 + u16 LE),
    /// service_s 30, size 2.
    const GOLDEN_ROUTE: &[u8] = &[
        1, 3, 1, 2, 115, 49, 2, 111, 49, 1, //
        0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 224, 63, //
        200, 0, 1, 251, 44, 1, 30, 2,
    ];
}
