//! Golden bytes: the exact bincode encoding of every message variant, as it travels
//! (`ClientFrame<DriverMessage>`, `ClientFrame<ConsoleMessage>`, `ServerFrame`), and the
//! exact JSON text of a few messages. Outside clients decode these bytes, so any change
//! here is a wire-format change.
//!
//! # Updating a golden deliberately
//! Only after deciding that the wire format changes (and for bincode, only by appending
//! variants and fields at the end, see `message.rs`):
//! 1. run `cargo test -p dispatch-protocol --test golden`; every mismatch panics with
//!    `golden <name> changed` and prints the new hex (or JSON) as `actual`;
//! 2. check that only the cases you meant to change fail, and that the difference is the
//!    one you intended (two hex digits per byte; integers are varints, enum variants
//!    are their index as a varint, `Option` is a `00`/`01` tag, f64 is 8 bytes LE);
//! 3. paste the new literal, mention the wire change in the commit message and in
//!    docs/protocol.md, and bump the protocol version if old clients would break.
//!
//! Every case also decodes its golden bytes and compares with the value, so a golden
//! pins both directions.

use dispatch_protocol::{
    decode_raw, encode, ClientFrame, ConsoleMessage, DriverCounts, DriverMessage, DriverProfile,
    DriverStatus, DriverUpdate, Encoded, Encoding, ErrorCode, LatencySummary, NewOrder, Order,
    OrderCounts, OrderDetails, OrderStatus, Route, RouteStop, ServerFrame, ServerMessage, Stats,
    StatusChange, Stop, StopKind, StopOutcome,
};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

const BIG: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ascii hex");
            assert_eq!(pair.len(), 2, "odd hex length");
            u8::from_str_radix(pair, 16).expect("hex digit")
        })
        .collect()
}

/// Asserts that `value` encodes to exactly `golden` (hex) in bincode and that the golden
/// bytes decode back to `value`.
fn check_bincode<T>(name: &str, golden: &str, value: &T)
where
    T: Serialize + bincode::Encode + DeserializeOwned + bincode::Decode<()> + PartialEq + Debug,
{
    let Encoded::Binary(bytes) = encode(Encoding::Bincode, value) else {
        panic!("bincode must give a binary frame");
    };
    let actual = hex(&bytes);
    assert_eq!(
        actual,
        golden.split_whitespace().collect::<String>(),
        "golden {name} changed; actual = \"{actual}\""
    );
    let back: T = decode_raw(Encoding::Bincode, &unhex(golden), BIG)
        .unwrap_or_else(|e| panic!("golden {name} does not decode: {e}"));
    assert_eq!(&back, value, "golden {name} decodes to another value");
}

/// Asserts the exact JSON text of `value` and that the text decodes back to `value`.
fn check_json<T>(name: &str, golden: &str, value: &T)
where
    T: Serialize + bincode::Encode + DeserializeOwned + bincode::Decode<()> + PartialEq + Debug,
{
    let Encoded::Text(text) = encode(Encoding::Json, value) else {
        panic!("json must give a text frame");
    };
    assert_eq!(text, golden, "golden {name} changed; actual = {text}");
    let back: T = decode_raw(Encoding::Json, golden.as_bytes(), BIG)
        .unwrap_or_else(|e| panic!("golden {name} does not decode: {e}"));
    assert_eq!(&back, value, "golden {name} decodes to another value");
}

fn driver(seq: Option<u64>, msg: DriverMessage) -> ClientFrame<DriverMessage> {
    ClientFrame { seq, msg }
}

fn console(seq: Option<u64>, msg: ConsoleMessage) -> ClientFrame<ConsoleMessage> {
    ClientFrame { seq, msg }
}

fn server(seq: u64, msg: ServerMessage) -> ServerFrame {
    ServerFrame { seq, msg }
}

const T0: u64 = 1_700_000_000_000;

fn sample_route() -> Route {
    Route {
        version: 7,
        stops: vec![
            RouteStop {
                stop_id: "o1:p".into(),
                order_id: "o1".into(),
                kind: StopKind::Pickup,
                lat: 60.1699,
                lon: 24.9384,
                eta_ms: T0 + 60_000,
                ready_ms: Some(T0),
                due_ms: None,
                path: None,
            },
            RouteStop {
                stop_id: "o1:d".into(),
                order_id: "o1".into(),
                kind: StopKind::Dropoff,
                lat: 60.2055,
                lon: 24.6559,
                eta_ms: T0 + 900_000,
                ready_ms: None,
                due_ms: Some(T0 + 3_600_000),
                path: Some("_p~iF~ps|U_ulLnnqC".into()),
            },
        ],
    }
}

fn sample_new_order(id: Option<&str>) -> NewOrder {
    NewOrder {
        id: id.map(Into::into),
        pickup: Stop {
            lat: 60.1699,
            lon: 24.9384,
            ready_ms: Some(T0),
            due_ms: Some(T0 + 600_000),
            service_s: 60,
        },
        dropoff: Stop {
            lat: -33.8688,
            lon: 151.2093,
            ready_ms: None,
            due_ms: None,
            service_s: 120,
        },
        size: 2,
        priority: -1,
        details: Default::default(),
    }
}

fn sample_order() -> Order {
    Order {
        id: "o1".into(),
        pickup: sample_new_order(None).pickup,
        dropoff: sample_new_order(None).dropoff,
        size: 1,
        priority: 5,
        status: OrderStatus::Assigned,
        driver_id: Some("d1".into()),
        pickup_eta_ms: Some(T0 + 60_000),
        dropoff_eta_ms: None,
        created_ms: T0,
        history: vec![
            StatusChange {
                status: OrderStatus::Pending,
                at_ms: T0,
                reason: None,
                note: None,
            },
            StatusChange {
                status: OrderStatus::Assigned,
                at_ms: T0 + 1,
                reason: Some("nearest".into()),
                note: None,
            },
        ],
        details: Default::default(),
    }
}

fn sample_update(id: &str, status: DriverStatus) -> DriverUpdate {
    DriverUpdate {
        id: id.into(),
        lat: 60.1699,
        lon: 24.9384,
        status,
        ts_ms: T0,
    }
}

// ---------------------------------------------------------------- driver -> server

#[test]
fn driver_hello() {
    check_bincode(
        "hello/none",
        "000000",
        &driver(None, DriverMessage::Hello { resume_seq: None }),
    );
    check_bincode(
        "hello/resume",
        "01010001fb2c01",
        &driver(
            Some(1),
            DriverMessage::Hello {
                resume_seq: Some(300),
            },
        ),
    );
}

#[test]
fn driver_position() {
    check_bincode(
        "position/min",
        "000192cb7f48bf154e4000917efb3af03840fd0068e5cf8b0100000000",
        &driver(
            None,
            DriverMessage::Position {
                lat: 60.1699,
                lon: 24.9384,
                ts_ms: T0,
                speed_mps: None,
                heading_deg: None,
            },
        ),
    );
    check_bincode(
        "position/full",
        "01fc000001000100000000008056c0000000000080664000010000000000002940010000000000e07040",
        &driver(
            Some(65_536),
            DriverMessage::Position {
                lat: -90.0,
                lon: 180.0,
                ts_ms: 0,
                speed_mps: Some(12.5),
                heading_deg: Some(270.0),
            },
        ),
    );
}

#[test]
fn driver_status_every_value() {
    check_bincode(
        "status/available",
        "000200",
        &driver(
            None,
            DriverMessage::Status {
                status: DriverStatus::Available,
            },
        ),
    );
    check_bincode(
        "status/offline",
        "01020201",
        &driver(
            Some(2),
            DriverMessage::Status {
                status: DriverStatus::Offline,
            },
        ),
    );
    check_bincode(
        "status/break",
        "000202",
        &driver(
            None,
            DriverMessage::Status {
                status: DriverStatus::Break,
            },
        ),
    );
}

#[test]
fn driver_stop_done_every_outcome() {
    check_bincode(
        "stop_done/picked_up",
        "010903046f313a7000fd0068e5cf8b01000000",
        &driver(
            Some(9),
            DriverMessage::StopDone {
                stop_id: "o1:p".into(),
                outcome: StopOutcome::PickedUp,
                ts_ms: T0,
                note: None,
            },
        ),
    );
    check_bincode(
        "stop_done/delivered",
        "0003046f313a6401fd0168e5cf8b010000010c6c65667420617420646f6f72",
        &driver(
            None,
            DriverMessage::StopDone {
                stop_id: "o1:d".into(),
                outcome: StopOutcome::Delivered,
                ts_ms: T0 + 1,
                note: Some("left at door".into()),
            },
        ),
    );
    check_bincode(
        "stop_done/failed",
        "0003046f323a6402fa0102c3b1",
        &driver(
            None,
            DriverMessage::StopDone {
                stop_id: "o2:d".into(),
                outcome: StopOutcome::Failed,
                ts_ms: 250,
                note: Some("ñ".into()),
            },
        ),
    );
}

// ---------------------------------------------------------------- console -> server

#[test]
fn console_subscribe() {
    check_bincode(
        "subscribe/all",
        "000000",
        &console(None, ConsoleMessage::Subscribe { bbox: None }),
    );
    check_bincode(
        "subscribe/bbox",
        "0101000100000000008038400000000000004e4000000000008039400000000000404e40",
        &console(
            Some(1),
            ConsoleMessage::Subscribe {
                bbox: Some([24.5, 60.0, 25.5, 60.5]),
            },
        ),
    );
}

#[test]
fn console_create_order() {
    check_bincode(
        "create_order/with_id",
        "01030101066578742d343292cb7f48bf154e4000917efb3af0384001fd0068e5cf8b01000001fdc08feecf8b0100003ce561a1d634ef40c0b1e1e995b2e66240000078020100000000",
        &console(
            Some(3),
            ConsoleMessage::CreateOrder {
                order: sample_new_order(Some("ext-42")),
            },
        ),
    );
    check_bincode(
        "create_order/without_id",
        "00010092cb7f48bf154e4000917efb3af0384001fd0068e5cf8b01000001fdc08feecf8b0100003ce561a1d634ef40c0b1e1e995b2e66240000078020100000000",
        &console(
            None,
            ConsoleMessage::CreateOrder {
                order: sample_new_order(None),
            },
        ),
    );
}

#[test]
fn console_cancel_order() {
    check_bincode(
        "cancel_order",
        "010402026f31",
        &console(Some(4), ConsoleMessage::CancelOrder { id: "o1".into() }),
    );
}

// ---------------------------------------------------------------- server -> clients

#[test]
fn server_welcome() {
    check_bincode(
        "welcome/route",
        "01000264310702046f313a70026f310092cb7f48bf154e4000917efb3af03840fd6052e6cf8b01000001fd0068e5cf8b0100000000046f313a64026f3101fca9f1d24d1a4e404772f90fe9a73840fda023f3cf8b0100000001fd80561cd08b01000001125f707e69467e70737c555f756c4c6e6e7143",
        &server(
            1,
            ServerMessage::Welcome {
                driver_id: "d1".into(),
                route: sample_route(),
            },
        ),
    );
    check_bincode(
        "welcome/empty",
        "01000264320000",
        &server(
            1,
            ServerMessage::Welcome {
                driver_id: "d2".into(),
                route: Route::default(),
            },
        ),
    );
}

#[test]
fn server_route() {
    check_bincode(
        "route",
        "02010702046f313a70026f310092cb7f48bf154e4000917efb3af03840fd6052e6cf8b01000001fd0068e5cf8b0100000000046f313a64026f3101fca9f1d24d1a4e404772f90fe9a73840fda023f3cf8b0100000001fd80561cd08b01000001125f707e69467e70737c555f756c4c6e6e7143",
        &server(
            2,
            ServerMessage::Route {
                route: sample_route(),
            },
        ),
    );
}

#[test]
fn server_ack() {
    check_bincode(
        "ack/ref_stop",
        "0302010901046f313a70",
        &server(
            3,
            ServerMessage::Ack {
                reference: Some(9),
                stop_id: Some("o1:p".into()),
            },
        ),
    );
    check_bincode(
        "ack/none",
        "04020000",
        &server(
            4,
            ServerMessage::Ack {
                reference: None,
                stop_id: None,
            },
        ),
    );
}

#[test]
fn server_error() {
    check_bincode(
        "error/ref",
        "050300116c61743a206f7574206f662072616e67650107",
        &server(
            5,
            ServerMessage::error(ErrorCode::InvalidArgument, "lat: out of range", Some(7)),
        ),
    );
    check_bincode(
        "error/no_ref",
        "0603090b68656c6c6f20666972737400",
        &server(
            6,
            ServerMessage::error(ErrorCode::FailedPrecondition, "hello first", None),
        ),
    );
}

#[test]
fn server_snapshot() {
    check_bincode(
        "snapshot",
        "01040102643192cb7f48bf154e4000917efb3af0384000fd0068e5cf8b01000001026f3192cb7f48bf154e4000917efb3af0384001fd0068e5cf8b01000001fdc08feecf8b0100003ce561a1d634ef40c0b1e1e995b2e66240000078010a010102643101fd6052e6cf8b01000000fd0068e5cf8b0100000200fd0068e5cf8b010000000001fd0168e5cf8b01000001076e6561726573740000000000",
        &server(
            1,
            ServerMessage::Snapshot {
                drivers: vec![sample_update("d1", DriverStatus::Available)],
                orders: vec![sample_order()],
            },
        ),
    );
    check_bincode(
        "snapshot/empty",
        "01040000",
        &server(
            1,
            ServerMessage::Snapshot {
                drivers: vec![],
                orders: vec![],
            },
        ),
    );
}

#[test]
fn server_drivers() {
    check_bincode(
        "drivers",
        "c8050202643192cb7f48bf154e4000917efb3af0384000fd0068e5cf8b01000002643292cb7f48bf154e4000917efb3af0384002fd0068e5cf8b01000003",
        &server(
            200,
            ServerMessage::Drivers {
                updates: vec![
                    sample_update("d1", DriverStatus::Available),
                    sample_update("d2", DriverStatus::Break),
                ],
                dropped: 3,
            },
        ),
    );
}

#[test]
fn server_order() {
    check_bincode(
        "order",
        "0906026f3192cb7f48bf154e4000917efb3af0384001fd0068e5cf8b01000001fdc08feecf8b0100003ce561a1d634ef40c0b1e1e995b2e66240000078010a010102643101fd6052e6cf8b01000000fd0068e5cf8b0100000200fd0068e5cf8b010000000001fd0168e5cf8b01000001076e6561726573740000000000",
        &server(
            9,
            ServerMessage::Order {
                order: sample_order(),
            },
        ),
    );
}

fn sample_stats() -> Stats {
    Stats {
        ts_ms: 1_700_000_000_000,
        drivers: DriverCounts {
            total: 10,
            available: 6,
            on_route: 4,
            on_break: 1,
            offline: 3,
        },
        orders: OrderCounts {
            pending: 2,
            assigned: 5,
            picked_up: 3,
            unassignable: 1,
            delivered: 40,
            cancelled: 2,
            failed: 1,
        },
        assign_latency: LatencySummary {
            count: 52,
            p50_ms: 12.5,
            p90_ms: 20.0,
            p99_ms: 31.25,
            max_ms: 40.0,
        },
        route_latency: LatencySummary::default(),
        window_s: 60,
    }
}

#[test]
fn server_stats() {
    check_bincode(
        "stats",
        "0c07fd0068e5cf8b0100000a060401030205030128020134000000000000294000000000000034400000000000403f4000000000000044400000000000000000000000000000000000000000000000000000000000000000003c",
        &server(
            12,
            ServerMessage::Stats {
                stats: sample_stats(),
            },
        ),
    );
}

/// Enum values appear as their variant index: pin every value of every enum.
#[test]
fn enum_indices() {
    for (i, s) in DriverStatus::ALL.into_iter().enumerate() {
        check_bincode(s.as_str(), &format!("{i:02x}"), &s);
    }
    for (i, o) in [
        StopOutcome::PickedUp,
        StopOutcome::Delivered,
        StopOutcome::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        check_bincode("outcome", &format!("{i:02x}"), &o);
    }
    check_bincode("pickup", "00", &StopKind::Pickup);
    check_bincode("dropoff", "01", &StopKind::Dropoff);
    let statuses = [
        OrderStatus::Pending,
        OrderStatus::Assigned,
        OrderStatus::PickedUp,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Failed,
        OrderStatus::Unassignable,
    ];
    for (i, s) in statuses.into_iter().enumerate() {
        check_bincode("order status", &format!("{i:02x}"), &s);
    }
    let codes = [
        ErrorCode::InvalidArgument,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Overloaded,
        ErrorCode::OutOfServiceArea,
        ErrorCode::FailedPrecondition,
        ErrorCode::Internal,
        ErrorCode::DeadlineExceeded,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
    ];
    for (i, c) in codes.into_iter().enumerate() {
        check_bincode(c.as_str(), &format!("{i:02x}"), &c);
        // The JSON name is the code's `as_str`.
        check_json(c.as_str(), &format!("\"{}\"", c.as_str()), &c);
    }
}

// ---------------------------------------------------------------- JSON text

#[test]
fn json_hello() {
    check_json(
        "json/hello",
        r#"{"type":"hello"}"#,
        &driver(None, DriverMessage::Hello { resume_seq: None }),
    );
    check_json(
        "json/hello_resume",
        r#"{"seq":1,"type":"hello","resume_seq":300}"#,
        &driver(
            Some(1),
            DriverMessage::Hello {
                resume_seq: Some(300),
            },
        ),
    );
}

#[test]
fn json_position() {
    check_json(
        "json/position",
        r#"{"seq":12,"type":"position","lat":60.1699,"lon":24.9384,"ts_ms":1700000000000,"speed_mps":12.5}"#,
        &driver(
            Some(12),
            DriverMessage::Position {
                lat: 60.1699,
                lon: 24.9384,
                ts_ms: T0,
                speed_mps: Some(12.5),
                heading_deg: None,
            },
        ),
    );
}

#[test]
fn json_stop_done() {
    check_json(
        "json/stop_done",
        r#"{"type":"stop_done","stop_id":"o1:d","outcome":"picked_up","ts_ms":1700000000000,"note":"left at door"}"#,
        &driver(
            None,
            DriverMessage::StopDone {
                stop_id: "o1:d".into(),
                outcome: StopOutcome::PickedUp,
                ts_ms: T0,
                note: Some("left at door".into()),
            },
        ),
    );
}

#[test]
fn json_create_order() {
    check_json(
        "json/create_order",
        r#"{"seq":3,"type":"create_order","order":{"id":"ext-42","pickup":{"lat":60.1699,"lon":24.9384,"ready_ms":1700000000000,"due_ms":1700000600000,"service_s":60},"dropoff":{"lat":-33.8688,"lon":151.2093,"service_s":120},"size":2,"priority":-1}}"#,
        &console(
            Some(3),
            ConsoleMessage::CreateOrder {
                order: sample_new_order(Some("ext-42")),
            },
        ),
    );
}

#[test]
fn json_welcome_with_route() {
    check_json(
        "json/welcome",
        r#"{"seq":1,"type":"welcome","driver_id":"d1","route":{"version":7,"stops":[{"stop_id":"o1:p","order_id":"o1","kind":"pickup","lat":60.1699,"lon":24.9384,"eta_ms":1700000060000,"ready_ms":1700000000000},{"stop_id":"o1:d","order_id":"o1","kind":"dropoff","lat":60.2055,"lon":24.6559,"eta_ms":1700000900000,"due_ms":1700003600000,"path":"_p~iF~ps|U_ulLnnqC"}]}}"#,
        &server(
            1,
            ServerMessage::Welcome {
                driver_id: "d1".into(),
                route: sample_route(),
            },
        ),
    );
}

#[test]
fn json_error_with_ref() {
    check_json(
        "json/error",
        r#"{"seq":5,"type":"error","code":"invalid_argument","message":"lat: out of range","ref":7}"#,
        &server(
            5,
            ServerMessage::error(ErrorCode::InvalidArgument, "lat: out of range", Some(7)),
        ),
    );
    check_json(
        "json/ack_without_ref",
        r#"{"seq":4,"type":"ack","ref":null}"#,
        &server(
            4,
            ServerMessage::Ack {
                reference: None,
                stop_id: None,
            },
        ),
    );
}

#[test]
fn json_drivers_batch() {
    check_json(
        "json/drivers",
        r#"{"seq":200,"type":"drivers","updates":[{"id":"d1","lat":60.1699,"lon":24.9384,"status":"available","ts_ms":1700000000000},{"id":"d2","lat":60.1699,"lon":24.9384,"status":"break","ts_ms":1700000000000}],"dropped":3}"#,
        &server(
            200,
            ServerMessage::Drivers {
                updates: vec![
                    sample_update("d1", DriverStatus::Available),
                    sample_update("d2", DriverStatus::Break),
                ],
                dropped: 3,
            },
        ),
    );
}

#[test]
fn json_order() {
    check_json(
        "json/order",
        r#"{"seq":9,"type":"order","order":{"id":"o1","pickup":{"lat":60.1699,"lon":24.9384,"ready_ms":1700000000000,"due_ms":1700000600000,"service_s":60},"dropoff":{"lat":-33.8688,"lon":151.2093,"service_s":120},"size":1,"priority":5,"status":"assigned","driver_id":"d1","pickup_eta_ms":1700000060000,"dropoff_eta_ms":null,"created_ms":1700000000000,"history":[{"status":"pending","at_ms":1700000000000},{"status":"assigned","at_ms":1700000000001,"reason":"nearest"}]}}"#,
        &server(
            9,
            ServerMessage::Order {
                order: sample_order(),
            },
        ),
    );
}

#[test]
fn json_stats() {
    check_json(
        "json/stats",
        r#"{"seq":12,"type":"stats","stats":{"ts_ms":1700000000000,"drivers":{"total":10,"available":6,"on_route":4,"break":1,"offline":3},"orders":{"pending":2,"assigned":5,"picked_up":3,"unassignable":1,"delivered":40,"cancelled":2,"failed":1},"assign_latency":{"count":52,"p50_ms":12.5,"p90_ms":20.0,"p99_ms":31.25,"max_ms":40.0},"route_latency":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"window_s":60}}"#,
        &server(
            12,
            ServerMessage::Stats {
                stats: sample_stats(),
            },
        ),
    );
}

/// *ext*: a console's `driver_info` (appended as `ServerMessage` variant 8) and an order
/// with its details and a driver's stop note (fields appended at the end of `Order`,
/// `StatusChange` and `NewOrder`).
#[test]
fn driver_info_and_order_details() {
    let info = server(
        2,
        ServerMessage::DriverInfo {
            drivers: vec![
                DriverProfile {
                    id: "d1".into(),
                    name: Some("Ann".into()),
                    capacity: 4,
                },
                DriverProfile {
                    id: "d2".into(),
                    name: None,
                    capacity: 1,
                },
            ],
        },
    );
    check_bincode("driver_info", "0208020264310103416e6e040264320001", &info);
    check_json(
        "driver_info/json",
        r#"{"seq":2,"type":"driver_info","drivers":[{"id":"d1","name":"Ann","capacity":4},{"id":"d2","capacity":1}]}"#,
        &info,
    );
    let mut order = sample_order();
    order.details = OrderDetails {
        recipient_name: Some("Ann".into()),
        recipient_phone: Some("+1 555".into()),
        address: Some("1 Main St".into()),
        notes: Some("ring".into()),
    };
    order.history[1].note = Some("wet".into());
    check_bincode("order/details", "0906026f3192cb7f48bf154e4000917efb3af0384001fd0068e5cf8b01000001fdc08feecf8b0100003ce561a1d634ef40c0b1e1e995b2e66240000078010a010102643101fd6052e6cf8b01000000fd0068e5cf8b0100000200fd0068e5cf8b010000000001fd0168e5cf8b01000001076e65617265737401037765740103416e6e01062b3120353535010931204d61696e205374010472696e67", &server(9, ServerMessage::Order { order }));
}
