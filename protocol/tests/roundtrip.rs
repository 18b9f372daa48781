//! Property tests of the codecs: every message round-trips through JSON and bincode,
//! random bytes never panic a decoder, valid input passes validation and an
//! out-of-range coordinate never does.
//!
//! Floats: bincode carries any f64 bit pattern (NaN and infinities included), so its
//! round-trip is compared bitwise (by re-encoding, which writes the raw bits); JSON
//! cannot represent NaN or infinities, so JSON strategies use finite floats only.

use dispatch_protocol::validate::{MAX_ID_LEN, MAX_SERVICE_S, MAX_SIZE, MAX_TEXT_LEN};
use dispatch_protocol::{
    decode_client, decode_raw, encode, ClientFrame, ConsoleMessage, DecodeError, DriverCounts,
    DriverMessage, DriverProfile, DriverStatus, DriverUpdate, Encoded, Encoding, ErrorCode,
    LatencySummary, NewOrder, Order, OrderCounts, OrderDetails, OrderStatus, Route, RouteStop,
    ServerFrame, ServerMessage, Stats, StatusChange, Stop, StopKind, StopOutcome, Validate,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

const BIG: usize = 16 << 20;

// ---------------------------------------------------------------- float domains

/// Which floats a strategy may produce.
#[derive(Debug, Clone, Copy)]
enum Floats {
    /// Finite values only (JSON).
    Finite,
    /// Any bit pattern's class: NaN, ±inf, subnormals, ±0 (bincode).
    Any,
}

fn float(f: Floats) -> BoxedStrategy<f64> {
    use proptest::num::f64 as pf;
    match f {
        Floats::Finite => {
            (pf::POSITIVE | pf::NEGATIVE | pf::NORMAL | pf::SUBNORMAL | pf::ZERO).boxed()
        }
        Floats::Any => prop_oneof![
            4 => any::<f64>(),
            1 => select(vec![f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0]),
        ]
        .boxed(),
    }
}

// ---------------------------------------------------------------- arbitrary messages

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including quotes, escapes and control characters.
    ".{0,24}"
}

fn stop(f: Floats) -> impl Strategy<Value = Stop> {
    (
        float(f),
        float(f),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        any::<u32>(),
    )
        .prop_map(|(lat, lon, ready_ms, due_ms, service_s)| Stop {
            lat,
            lon,
            ready_ms,
            due_ms,
            service_s,
        })
}

fn details() -> impl Strategy<Value = OrderDetails> {
    (
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
    )
        .prop_map(
            |(recipient_name, recipient_phone, address, notes)| OrderDetails {
                recipient_name,
                recipient_phone,
                address,
                notes,
            },
        )
}

fn new_order(f: Floats) -> impl Strategy<Value = NewOrder> {
    (
        option::of(text()),
        stop(f),
        stop(f),
        any::<u32>(),
        any::<i32>(),
        details(),
    )
        .prop_map(|(id, pickup, dropoff, size, priority, details)| NewOrder {
            id,
            pickup,
            dropoff,
            size,
            priority,
            details,
        })
}

fn order_status() -> impl Strategy<Value = OrderStatus> {
    select(OrderStatus::ALL.to_vec())
}

fn driver_status() -> impl Strategy<Value = DriverStatus> {
    select(DriverStatus::ALL.to_vec())
}

fn order(f: Floats) -> impl Strategy<Value = Order> {
    (
        (text(), stop(f), stop(f), any::<u32>(), any::<i32>()),
        (
            order_status(),
            option::of(text()),
            option::of(any::<u64>()),
            option::of(any::<u64>()),
            any::<u64>(),
        ),
        vec(
            (
                order_status(),
                any::<u64>(),
                option::of(text()),
                option::of(text()),
            )
                .prop_map(|(status, at_ms, reason, note)| StatusChange {
                    status,
                    at_ms,
                    reason,
                    note,
                }),
            0..4,
        ),
        details(),
    )
        .prop_map(
            |(
                (id, pickup, dropoff, size, priority),
                (status, driver_id, pickup_eta_ms, dropoff_eta_ms, created_ms),
                history,
                details,
            )| Order {
                id,
                pickup,
                dropoff,
                size,
                priority,
                status,
                driver_id,
                pickup_eta_ms,
                dropoff_eta_ms,
                created_ms,
                history,
                details,
            },
        )
}

fn route(f: Floats) -> impl Strategy<Value = Route> {
    let stop = (
        text(),
        text(),
        select(vec![StopKind::Pickup, StopKind::Dropoff]),
        float(f),
        float(f),
        any::<u64>(),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(text()),
    )
        .prop_map(
            |(stop_id, order_id, kind, lat, lon, eta_ms, ready_ms, due_ms, path)| RouteStop {
                stop_id,
                order_id,
                kind,
                lat,
                lon,
                eta_ms,
                ready_ms,
                due_ms,
                path,
            },
        );
    (any::<u64>(), vec(stop, 0..5)).prop_map(|(version, stops)| Route { version, stops })
}

fn driver_update(f: Floats) -> impl Strategy<Value = DriverUpdate> {
    (text(), float(f), float(f), driver_status(), any::<u64>()).prop_map(
        |(id, lat, lon, status, ts_ms)| DriverUpdate {
            id,
            lat,
            lon,
            status,
            ts_ms,
        },
    )
}

fn driver_message(f: Floats) -> impl Strategy<Value = DriverMessage> {
    prop_oneof![
        option::of(any::<u64>()).prop_map(|resume_seq| DriverMessage::Hello { resume_seq }),
        (
            float(f),
            float(f),
            any::<u64>(),
            option::of(float(f)),
            option::of(float(f))
        )
            .prop_map(|(lat, lon, ts_ms, speed_mps, heading_deg)| {
                DriverMessage::Position {
                    lat,
                    lon,
                    ts_ms,
                    speed_mps,
                    heading_deg,
                }
            }),
        driver_status().prop_map(|status| DriverMessage::Status { status }),
        (
            text(),
            select(vec![
                StopOutcome::PickedUp,
                StopOutcome::Delivered,
                StopOutcome::Failed
            ]),
            any::<u64>(),
            option::of(text())
        )
            .prop_map(|(stop_id, outcome, ts_ms, note)| DriverMessage::StopDone {
                stop_id,
                outcome,
                ts_ms,
                note,
            }),
    ]
}

fn console_message(f: Floats) -> impl Strategy<Value = ConsoleMessage> {
    prop_oneof![
        option::of([float(f), float(f), float(f), float(f)])
            .prop_map(|bbox| ConsoleMessage::Subscribe { bbox }),
        new_order(f).prop_map(|order| ConsoleMessage::CreateOrder { order }),
        text().prop_map(|id| ConsoleMessage::CancelOrder { id }),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    select(vec![
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
    ])
}

fn server_message(f: Floats) -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (text(), route(f))
            .prop_map(|(driver_id, route)| ServerMessage::Welcome { driver_id, route }),
        route(f).prop_map(|route| ServerMessage::Route { route }),
        (option::of(any::<u64>()), option::of(text()))
            .prop_map(|(reference, stop_id)| ServerMessage::Ack { reference, stop_id }),
        (error_code(), text(), option::of(any::<u64>())).prop_map(|(code, message, reference)| {
            ServerMessage::Error {
                code,
                message,
                reference,
            }
        }),
        (vec(driver_update(f), 0..4), vec(order(f), 0..3))
            .prop_map(|(drivers, orders)| ServerMessage::Snapshot { drivers, orders }),
        (vec(driver_update(f), 0..6), any::<u64>())
            .prop_map(|(updates, dropped)| ServerMessage::Drivers { updates, dropped }),
        order(f).prop_map(|order| ServerMessage::Order { order }),
        stats(f).prop_map(|stats| ServerMessage::Stats { stats }),
        vec(
            (text(), option::of(text()), any::<u32>())
                .prop_map(|(id, name, capacity)| { DriverProfile { id, name, capacity } }),
            0..4,
        )
        .prop_map(|drivers| ServerMessage::DriverInfo { drivers }),
    ]
}

fn latency(f: Floats) -> impl Strategy<Value = LatencySummary> {
    (any::<u64>(), float(f), float(f), float(f), float(f)).prop_map(
        |(count, p50_ms, p90_ms, p99_ms, max_ms)| LatencySummary {
            count,
            p50_ms,
            p90_ms,
            p99_ms,
            max_ms,
        },
    )
}

fn stats(f: Floats) -> impl Strategy<Value = Stats> {
    (
        any::<u64>(),
        vec(any::<u64>(), 5),
        vec(any::<u64>(), 7),
        latency(f),
        latency(f),
        any::<u32>(),
    )
        .prop_map(
            |(ts_ms, d, o, assign_latency, route_latency, window_s)| Stats {
                ts_ms,
                drivers: DriverCounts {
                    total: d[0],
                    available: d[1],
                    on_route: d[2],
                    on_break: d[3],
                    offline: d[4],
                },
                orders: OrderCounts {
                    pending: o[0],
                    assigned: o[1],
                    picked_up: o[2],
                    unassignable: o[3],
                    delivered: o[4],
                    cancelled: o[5],
                    failed: o[6],
                },
                assign_latency,
                route_latency,
                window_s,
            },
        )
}

fn driver_frame(f: Floats) -> impl Strategy<Value = ClientFrame<DriverMessage>> {
    (option::of(any::<u64>()), driver_message(f)).prop_map(|(seq, msg)| ClientFrame { seq, msg })
}

fn console_frame(f: Floats) -> impl Strategy<Value = ClientFrame<ConsoleMessage>> {
    (option::of(any::<u64>()), console_message(f)).prop_map(|(seq, msg)| ClientFrame { seq, msg })
}

fn server_frame(f: Floats) -> impl Strategy<Value = ServerFrame> {
    (any::<u64>(), server_message(f)).prop_map(|(seq, msg)| ServerFrame { seq, msg })
}

// ---------------------------------------------------------------- helpers

fn bytes_of(e: Encoded) -> Vec<u8> {
    match e {
        Encoded::Text(s) => s.into_bytes(),
        Encoded::Binary(b) => b,
    }
}

fn json_roundtrip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + bincode::Encode + DeserializeOwned + bincode::Decode<()> + PartialEq + Debug,
{
    let Encoded::Text(text) = encode(Encoding::Json, value) else {
        return Err(TestCaseError::fail("json gave a binary frame"));
    };
    let back: T = decode_raw(Encoding::Json, text.as_bytes(), BIG)
        .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
    prop_assert_eq!(&back, value, "json text: {}", text);
    Ok(())
}

fn bincode_roundtrip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + bincode::Encode + DeserializeOwned + bincode::Decode<()> + PartialEq + Debug,
{
    let bytes = bytes_of(encode(Encoding::Bincode, value));
    let back: T = decode_raw(Encoding::Bincode, &bytes, BIG)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Bitwise: bincode writes each f64's raw bits, so equal encodings mean equal bits
    // (NaN payloads and signed zeros included).
    prop_assert_eq!(bytes_of(encode(Encoding::Bincode, &back)), bytes);
    // Without NaN (the only value unequal to itself), `PartialEq` must agree as well.
    #[allow(clippy::eq_op)]
    let no_nan = value == value;
    if no_nan {
        prop_assert_eq!(&back, value);
    }
    Ok(())
}

// ---------------------------------------------------------------- round trips

proptest! {
    #[test]
    fn json_roundtrip_driver(m in driver_frame(Floats::Finite)) {
        json_roundtrip(&m)?;
    }

    #[test]
    fn json_roundtrip_console(m in console_frame(Floats::Finite)) {
        json_roundtrip(&m)?;
    }

    #[test]
    fn json_roundtrip_server(m in server_frame(Floats::Finite)) {
        json_roundtrip(&m)?;
    }

    #[test]
    fn bincode_roundtrip_driver(m in driver_frame(Floats::Any)) {
        bincode_roundtrip(&m)?;
    }

    #[test]
    fn bincode_roundtrip_console(m in console_frame(Floats::Any)) {
        bincode_roundtrip(&m)?;
    }

    #[test]
    fn bincode_roundtrip_server(m in server_frame(Floats::Any)) {
        bincode_roundtrip(&m)?;
    }
}

// ---------------------------------------------------------------- hostile bytes

fn decode_everything(bytes: &[u8]) {
    for enc in [Encoding::Json, Encoding::Bincode] {
        // Only "returns at all" matters: Ok or Err, never a panic.
        let _ = decode_client::<DriverMessage>(enc, bytes, BIG);
        let _ = decode_client::<ConsoleMessage>(enc, bytes, BIG);
        let _ = decode_raw::<ServerFrame>(enc, bytes, BIG);
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    /// Random bytes rarely get past the first tag; damaging a valid encoding reaches
    /// every field decoder.
    #[test]
    fn damaged_frames_never_panic(
        m in server_frame(Floats::Any),
        d in driver_frame(Floats::Any),
        c in console_frame(Floats::Finite),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        for enc in [Encoding::Json, Encoding::Bincode] {
            for mut bytes in [
                bytes_of(encode(enc, &m)),
                bytes_of(encode(enc, &d)),
                bytes_of(encode(enc, &c)),
            ] {
                decode_everything(&bytes[..cut.index(bytes.len() + 1)]);
                for (at, b) in &edits {
                    let i = at.index(bytes.len());
                    bytes[i] = *b;
                }
                decode_everything(&bytes);
            }
        }
    }
}

// ---------------------------------------------------------------- validation

fn coord(limit: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -limit..=limit,
        1 => select(vec![-limit, limit, 0.0, -0.0]),
    ]
}

fn valid_id() -> impl Strategy<Value = String> {
    let any_len = format!("[A-Za-z0-9_.:-]{{1,{MAX_ID_LEN}}}");
    let longest = format!("[A-Za-z0-9_.:-]{{{MAX_ID_LEN}}}");
    prop_oneof![
        proptest::string::string_regex(&any_len).expect("regex"),
        proptest::string::string_regex(&longest).expect("regex"),
    ]
}

fn valid_stop_pair() -> impl Strategy<Value = (Stop, Stop)> {
    // Windows derived from one base time so every ordering rule holds:
    // pickup.ready ≤ pickup.due, dropoff.ready ≤ dropoff.due, pickup.ready ≤ dropoff.due.
    (
        (coord(90.0), coord(180.0), coord(90.0), coord(180.0)),
        (
            0u64..4_000_000_000_000,
            [0u64..10_000_000, 0..10_000_000, 0..10_000_000],
        ),
        any::<[bool; 4]>(),
        (0..=MAX_SERVICE_S, 0..=MAX_SERVICE_S),
    )
        .prop_map(
            |((plat, plon, dlat, dlon), (t0, [a, b, c]), keep, (ps, ds))| {
                let pick = |k: bool, t: u64| k.then_some(t);
                (
                    Stop {
                        lat: plat,
                        lon: plon,
                        ready_ms: pick(keep[0], t0),
                        due_ms: pick(keep[1], t0 + a),
                        service_s: ps,
                    },
                    Stop {
                        lat: dlat,
                        lon: dlon,
                        ready_ms: pick(keep[2], t0 + b),
                        due_ms: pick(keep[3], t0 + a + b + c),
                        service_s: ds,
                    },
                )
            },
        )
}

fn valid_new_order() -> impl Strategy<Value = NewOrder> {
    (
        option::of(valid_id()),
        valid_stop_pair(),
        1..=MAX_SIZE,
        any::<i32>(),
    )
        .prop_map(|(id, (pickup, dropoff), size, priority)| NewOrder {
            id,
            pickup,
            dropoff,
            size,
            priority,
            details: Default::default(),
        })
}

fn valid_position() -> impl Strategy<Value = DriverMessage> {
    (
        coord(90.0),
        coord(180.0),
        any::<u64>(),
        option::of(prop_oneof![0.0..1_000.0, Just(0.0)]),
        option::of(prop_oneof![0.0..=360.0, Just(360.0)]),
    )
        .prop_map(
            |(lat, lon, ts_ms, speed_mps, heading_deg)| DriverMessage::Position {
                lat,
                lon,
                ts_ms,
                speed_mps,
                heading_deg,
            },
        )
}

fn valid_driver_frame() -> impl Strategy<Value = ClientFrame<DriverMessage>> {
    let msg = prop_oneof![
        option::of(any::<u64>()).prop_map(|resume_seq| DriverMessage::Hello { resume_seq }),
        valid_position(),
        driver_status().prop_map(|status| DriverMessage::Status { status }),
        (
            valid_id(),
            select(vec![
                StopOutcome::PickedUp,
                StopOutcome::Delivered,
                StopOutcome::Failed
            ]),
            any::<u64>(),
            option::of(prop_oneof![".{0,64}", Just("n".repeat(MAX_TEXT_LEN))]),
        )
            .prop_map(|(stop_id, outcome, ts_ms, note)| DriverMessage::StopDone {
                stop_id,
                outcome,
                ts_ms,
                note,
            }),
    ];
    (option::of(any::<u64>()), msg).prop_map(|(seq, msg)| ClientFrame { seq, msg })
}

fn valid_bbox() -> impl Strategy<Value = [f64; 4]> {
    (coord(180.0), coord(180.0), coord(90.0), coord(90.0))
        .prop_map(|(lo1, lo2, la1, la2)| [lo1.min(lo2), la1.min(la2), lo1.max(lo2), la1.max(la2)])
}

fn valid_console_frame() -> impl Strategy<Value = ClientFrame<ConsoleMessage>> {
    let msg = prop_oneof![
        option::of(valid_bbox()).prop_map(|bbox| ConsoleMessage::Subscribe { bbox }),
        valid_new_order().prop_map(|order| ConsoleMessage::CreateOrder { order }),
        valid_id().prop_map(|id| ConsoleMessage::CancelOrder { id }),
    ];
    (option::of(any::<u64>()), msg).prop_map(|(seq, msg)| ClientFrame { seq, msg })
}

/// A coordinate outside its range; non-finite ones only where the encoding carries them.
fn bad_coord(limit: f64, f: Floats) -> BoxedStrategy<f64> {
    let finite = prop_oneof![
        (limit + 1e-9)..1e300,
        -1e300..-(limit + 1e-9),
        select(vec![limit + 1e-9, -limit - 1e-6, f64::MAX, f64::MIN]),
    ];
    match f {
        Floats::Finite => finite.boxed(),
        Floats::Any => prop_oneof![
            3 => finite,
            1 => select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        ]
        .boxed(),
    }
}

fn encodings() -> impl Strategy<Value = (Encoding, Floats)> {
    select(vec![
        (Encoding::Json, Floats::Finite),
        (Encoding::Bincode, Floats::Any),
    ])
}

fn expect_invalid<M>(
    res: Result<ClientFrame<M>, DecodeError>,
    field: &str,
) -> Result<(), TestCaseError>
where
    M: Debug,
{
    match res {
        Err(DecodeError::Invalid(e)) => {
            prop_assert_eq!(e.field, field);
            Ok(())
        }
        other => Err(TestCaseError::fail(format!(
            "expected Invalid({field}), got {other:?}"
        ))),
    }
}

proptest! {
    #[test]
    fn valid_driver_frames_pass(m in valid_driver_frame(), enc in select(vec![Encoding::Json, Encoding::Bincode])) {
        prop_assert!(m.validate().is_ok());
        let bytes = bytes_of(encode(enc, &m));
        let back = decode_client::<DriverMessage>(enc, &bytes, BIG);
        prop_assert_eq!(back, Ok(m));
    }

    #[test]
    fn valid_console_frames_pass(m in valid_console_frame(), enc in select(vec![Encoding::Json, Encoding::Bincode])) {
        prop_assert!(m.validate().is_ok());
        let bytes = bytes_of(encode(enc, &m));
        let back = decode_client::<ConsoleMessage>(enc, &bytes, BIG);
        prop_assert_eq!(back, Ok(m));
    }

    #[test]
    fn position_out_of_range_is_invalid(
        m in valid_position(),
        (enc, field, bad) in encodings().prop_flat_map(|(enc, f)| {
            prop_oneof![
                bad_coord(90.0, f).prop_map(move |v| (enc, "lat", v)),
                bad_coord(180.0, f).prop_map(move |v| (enc, "lon", v)),
            ]
        }),
    ) {
        let mut m = m;
        if let DriverMessage::Position { lat, lon, .. } = &mut m {
            *if field == "lat" { lat } else { lon } = bad;
        }
        let bytes = bytes_of(encode(enc, &ClientFrame { seq: Some(1), msg: m }));
        expect_invalid(decode_client::<DriverMessage>(enc, &bytes, BIG), field)?;
    }

    #[test]
    fn order_out_of_range_is_invalid(
        order in valid_new_order(),
        (enc, field, bad) in encodings().prop_flat_map(|(enc, f)| {
            prop_oneof![
                bad_coord(90.0, f).prop_map(move |v| (enc, "order.pickup.lat", v)),
                bad_coord(180.0, f).prop_map(move |v| (enc, "order.pickup.lon", v)),
                bad_coord(90.0, f).prop_map(move |v| (enc, "order.dropoff.lat", v)),
                bad_coord(180.0, f).prop_map(move |v| (enc, "order.dropoff.lon", v)),
            ]
        }),
    ) {
        let mut order = order;
        let slot = match field {
            "order.pickup.lat" => &mut order.pickup.lat,
            "order.pickup.lon" => &mut order.pickup.lon,
            "order.dropoff.lat" => &mut order.dropoff.lat,
            _ => &mut order.dropoff.lon,
        };
        *slot = bad;
        let frame = ClientFrame { seq: None, msg: ConsoleMessage::CreateOrder { order } };
        let bytes = bytes_of(encode(enc, &frame));
        expect_invalid(decode_client::<ConsoleMessage>(enc, &bytes, BIG), field)?;
    }

    #[test]
    fn bbox_out_of_range_is_invalid(
        bbox in valid_bbox(),
        (enc, i, bad) in encodings().prop_flat_map(|(enc, f)| {
            (0usize..4).prop_flat_map(move |i| {
                let limit = if i % 2 == 0 { 180.0 } else { 90.0 };
                bad_coord(limit, f).prop_map(move |v| (enc, i, v))
            })
        }),
    ) {
        let mut bbox = bbox;
        bbox[i] = bad;
        let frame = ClientFrame { seq: None, msg: ConsoleMessage::Subscribe { bbox: Some(bbox) } };
        let bytes = bytes_of(encode(enc, &frame));
        let field = if i % 2 == 0 { "bbox.lon" } else { "bbox.lat" };
        expect_invalid(decode_client::<ConsoleMessage>(enc, &bytes, BIG), field)?;
    }
}
