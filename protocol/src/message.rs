//! Every WebSocket message of the contract (`shared/spec/API.md`), as one set of types
//! that serialise to JSON (serde, `"type"` tag) and to bincode 2 (its own derive, which
//! encodes enum variants by index and ignores the serde attributes).
//!
//! Variant order is part of the bincode wire format: append new variants and fields at
//! the end, and update the golden-bytes tests deliberately.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// Unix epoch milliseconds.
pub type Millis = u64;

/// A driver's availability as the driver (or the engine) sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum DriverStatus {
    Available,
    Offline,
    Break,
}

impl DriverStatus {
    pub const ALL: [DriverStatus; 3] = [Self::Available, Self::Offline, Self::Break];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Offline => "offline",
            Self::Break => "break",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What happened at a stop, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    PickedUp,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Pickup,
    Dropoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Assigned,
    PickedUp,
    Delivered,
    Cancelled,
    Failed,
    Unassignable,
}

impl OrderStatus {
    /// Every status in declaration order (a status's position is `status as usize`).
    pub const ALL: [OrderStatus; 7] = [
        Self::Pending,
        Self::Assigned,
        Self::PickedUp,
        Self::Delivered,
        Self::Cancelled,
        Self::Failed,
        Self::Unassignable,
    ];
}

/// One location of an order with its time window. In JSON it must be an object with
/// known fields only: an array (GeoJSON's `[lon, lat]` would silently swap the
/// coordinates) or a misspelled field (`servise_s`) is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Encode, Decode)]
pub struct Stop {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<Millis>,
    /// Time spent at the stop; the contract's default is 60 s.
    #[serde(default = "default_service_s")]
    pub service_s: u32,
}

fn default_service_s() -> u32 {
    60
}

/// The fields of a [`Stop`] as JSON spells them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopFields {
    lat: f64,
    lon: f64,
    #[serde(default)]
    ready_ms: Option<Millis>,
    #[serde(default)]
    due_ms: Option<Millis>,
    #[serde(default = "default_service_s")]
    service_s: u32,
}

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> serde::de::Visitor<'de> for ObjectOnly {
            type Value = StopFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a stop object {\"lat\", \"lon\", …}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<StopFields, A::Error> {
                StopFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let f = d.deserialize_map(ObjectOnly)?;
        Ok(Stop {
            lat: f.lat,
            lon: f.lon,
            ready_ms: f.ready_ms,
            due_ms: f.due_ms,
            service_s: f.service_s,
        })
    }
}
fn default_size() -> u32 {
    1
}

/// An order as a client submits it (HTTP body or console `create_order`). Unknown
/// fields (`prio` for `priority`) are an error, not silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Client-chosen id for idempotent retries; the server makes one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub pickup: Stop,
    pub dropoff: Stop,
    #[serde(default = "default_size")]
    pub size: u32,
    #[serde(default)]
    pub priority: i32,
    /// Who receives the order and where (*ext*; all optional, flat in JSON).
    #[serde(flatten)]
    pub details: OrderDetails,
}

/// What a dispatcher needs to know about an order beyond its stops (*ext*): who
/// receives it, the address as text and free notes. Flat fields of an order in JSON,
/// each left out when absent; one nested value in bincode (appended last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct OrderDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl OrderDetails {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One status change of an order, kept as its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at_ms: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The driver's note with the `stop_done` that made this change (*ext*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An order as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct Order {
    pub id: String,
    pub pickup: Stop,
    pub dropoff: Stop,
    pub size: u32,
    pub priority: i32,
    pub status: OrderStatus,
    #[serde(default)]
    pub driver_id: Option<String>,
    #[serde(default)]
    pub pickup_eta_ms: Option<Millis>,
    #[serde(default)]
    pub dropoff_eta_ms: Option<Millis>,
    pub created_ms: Millis,
    #[serde(default)]
    pub history: Vec<StatusChange>,
    /// Recipient, address text and notes as created (*ext*; flat in JSON).
    #[serde(flatten)]
    pub details: OrderDetails,
}

/// One stop of a driver's planned route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct RouteStop {
    pub stop_id: String,
    pub order_id: String,
    pub kind: StopKind,
    pub lat: f64,
    pub lon: f64,
    pub eta_ms: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<Millis>,
    /// *ext*: on a road network (`travel.model = "roads"`), the road path of the leg that
    /// ends at this stop — from the previous stop, or for the first stop from where the
    /// driver was when the route was made — as an encoded polyline (Google's algorithm,
    /// precision 5: (lat, lon) pairs). Absent without roads or where a leg's end is off
    /// the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A driver's plan; `version` grows with every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct Route {
    pub version: u64,
    pub stops: Vec<RouteStop>,
}

/// A driver as consoles see it (snapshot entries and live updates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct DriverUpdate {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub status: DriverStatus,
    pub ts_ms: Millis,
}

/// A driver's registration as consoles see it (*ext*, `driver_info`): the name to show
/// and the capacity to measure the load against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct DriverProfile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub capacity: u32,
}

/// Registered drivers by status (all of them, not only a console's box).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct DriverCounts {
    pub total: u64,
    pub available: u64,
    /// Available drivers with at least one stop on their route (counted in `available`).
    pub on_route: u64,
    #[serde(rename = "break")]
    pub on_break: u64,
    pub offline: u64,
}

/// Orders by status: the open ones now, the finished ones since the engine started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct OrderCounts {
    pub pending: u64,
    pub assigned: u64,
    pub picked_up: u64,
    pub unassignable: u64,
    pub delivered: u64,
    pub cancelled: u64,
    pub failed: u64,
}

/// Percentiles of one latency over the stats window, in milliseconds (0 when `count` is 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The engine's live totals, for dispatch consoles (`stats`) and `GET /v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct Stats {
    pub ts_ms: Millis,
    pub drivers: DriverCounts,
    pub orders: OrderCounts,
    /// Order created → assigned to a driver, over the last `window_s` seconds.
    pub assign_latency: LatencySummary,
    /// Order created → route holding it pushed to the driver, over the same window.
    pub route_latency: LatencySummary,
    pub window_s: u32,
}

/// Messages a driver app sends on `/ws/driver`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DriverMessage {
    Hello {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_seq: Option<u64>,
    },
    Position {
        lat: f64,
        lon: f64,
        ts_ms: Millis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speed_mps: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heading_deg: Option<f64>,
    },
    Status {
        status: DriverStatus,
    },
    StopDone {
        stop_id: String,
        outcome: StopOutcome,
        ts_ms: Millis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

impl DriverMessage {
    /// The `type` tag, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Position { .. } => "position",
            Self::Status { .. } => "status",
            Self::StopDone { .. } => "stop_done",
        }
    }
}

/// Messages a dispatch console sends on `/ws/console`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleMessage {
    Subscribe {
        /// `[min_lon, min_lat, max_lon, max_lat]`; absent means the whole fleet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bbox: Option<[f64; 4]>,
    },
    CreateOrder {
        order: NewOrder,
    },
    CancelOrder {
        id: String,
    },
}

impl ConsoleMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Subscribe { .. } => "subscribe",
            Self::CreateOrder { .. } => "create_order",
            Self::CancelOrder { .. } => "cancel_order",
        }
    }
}

/// A client message with the optional client sequence number that errors and acks
/// echo back as `ref`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct ClientFrame<M> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub msg: M,
}

/// Error codes shared by HTTP bodies and WebSocket error frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    Conflict,
    TooLarge,
    RateLimited,
    Overloaded,
    OutOfServiceArea,
    /// A message that is valid on its own but not in this state (a position before `hello`).
    FailedPrecondition,
    Internal,
    /// The client took too long to send its request (HTTP 408; *ext*).
    DeadlineExceeded,
    /// The endpoint exists but not with this method (HTTP 405; *ext*).
    MethodNotAllowed,
    /// A body of a type the endpoint does not take (HTTP 415; *ext*: a proof image
    /// that is not JPEG, PNG or WebP).
    UnsupportedMediaType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::OutOfServiceArea => "out_of_service_area",
            Self::FailedPrecondition => "failed_precondition",
            Self::Internal => "internal",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// The HTTP status the contract pairs with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::OutOfServiceArea | Self::FailedPrecondition => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::DeadlineExceeded => 408,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited => 429,
            Self::Overloaded => 503,
            Self::Internal => 500,
        }
    }
}

/// Messages the server sends on either socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        driver_id: String,
        route: Route,
    },
    Route {
        route: Route,
    },
    Ack {
        /// The client's `seq` of the acknowledged message, when it sent one.
        #[serde(rename = "ref", default)]
        reference: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop_id: Option<String>,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(rename = "ref", default)]
        reference: Option<u64>,
    },
    Snapshot {
        drivers: Vec<DriverUpdate>,
        orders: Vec<Order>,
    },
    Drivers {
        updates: Vec<DriverUpdate>,
        /// Batches this watcher missed because it fell behind (0 when it kept up).
        #[serde(default)]
        dropped: u64,
    },
    Order {
        order: Order,
    },
    /// Fleet and dispatch totals, to subscribed consoles about every second.
    Stats {
        stats: Stats,
    },
    /// Registrations of drivers a console is about to see (*ext*): sent once per
    /// driver and connection, before the first snapshot or batch that holds it.
    DriverInfo {
        drivers: Vec<DriverProfile>,
    },
}

impl ServerMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::Route { .. } => "route",
            Self::Ack { .. } => "ack",
            Self::Error { .. } => "error",
            Self::Snapshot { .. } => "snapshot",
            Self::Drivers { .. } => "drivers",
            Self::Order { .. } => "order",
            Self::Stats { .. } => "stats",
            Self::DriverInfo { .. } => "driver_info",
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>, reference: Option<u64>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            reference,
        }
    }
}

/// A server message with its per-connection sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct ServerFrame {
    pub seq: u64,
    #[serde(flatten)]
    pub msg: ServerMessage,
}
