//! Bad client input and the `DecodeError` each one must produce. The engine maps these to
//! `invalid_argument` / `too_large` error frames, so the variant (and for validation
//! errors, the field path) is part of what clients see.

use dispatch_protocol::validate::{MAX_ID_LEN, MAX_STOP_ID_LEN, MAX_TEXT_LEN};
use dispatch_protocol::{
    decode_client, decode_raw, encode, ClientFrame, ConsoleMessage, DecodeError, DriverMessage,
    Encoded, Encoding, ServerFrame, DEFAULT_MAX_FRAME_BYTES,
};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum Expect {
    TooLarge,
    Malformed,
    UnknownType(&'static str),
    /// A validation error on this field path.
    Invalid(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum Socket {
    Driver,
    Console,
}

fn check(socket: Socket, enc: Encoding, name: &str, bytes: &[u8], expect: Expect) {
    check_with_limit(socket, enc, name, bytes, DEFAULT_MAX_FRAME_BYTES, expect);
}

fn check_with_limit(
    socket: Socket,
    enc: Encoding,
    name: &str,
    bytes: &[u8],
    max: usize,
    expect: Expect,
) {
    let got = match socket {
        Socket::Driver => decode_client::<DriverMessage>(enc, bytes, max).map(|f| format!("{f:?}")),
        Socket::Console => {
            decode_client::<ConsoleMessage>(enc, bytes, max).map(|f| format!("{f:?}"))
        }
    };
    let ok = match (&got, expect) {
        (Err(DecodeError::TooLarge { len, max: m }), Expect::TooLarge) => {
            *len == bytes.len() && *m == max
        }
        (Err(DecodeError::Malformed { encoding, .. }), Expect::Malformed) => {
            *encoding
                == match enc {
                    Encoding::Json => "json",
                    Encoding::Bincode => "bincode",
                }
        }
        (Err(DecodeError::UnknownType(t)), Expect::UnknownType(want)) => t == want,
        (Err(DecodeError::Invalid(e)), Expect::Invalid(field)) => e.field == field,
        _ => false,
    };
    assert!(ok, "{name}: expected {expect:?}, got {got:?}");
}

use Expect::*;
use Socket::*;

const JSON_DRIVER: &[(&str, &str, Expect)] = &[
    // Not JSON, or not an object.
    ("empty", "", Malformed),
    ("truncated", r#"{"type":"hello""#, Malformed),
    ("garbage", "{not json", Malformed),
    ("array", r#"[{"type":"hello"}]"#, Malformed),
    ("null", "null", Malformed),
    ("string", r#""hello""#, Malformed),
    ("trailing", r#"{"type":"hello"} {}"#, Malformed),
    (
        "bad utf8 escape",
        r#"{"type":"stop_done","stop_id":"\ud800","outcome":"failed","ts_ms":1}"#,
        Malformed,
    ),
    // The tag.
    (
        "unknown type",
        r#"{"type":"teleport","lat":1}"#,
        UnknownType("teleport"),
    ),
    (
        "console type on driver socket",
        r#"{"type":"subscribe"}"#,
        UnknownType("subscribe"),
    ),
    (
        "server type on driver socket",
        r#"{"type":"ack","ref":1}"#,
        UnknownType("ack"),
    ),
    (
        "type case matters",
        r#"{"type":"Hello"}"#,
        UnknownType("Hello"),
    ),
    ("missing type", r#"{"lat":1,"lon":2,"ts_ms":3}"#, Malformed),
    ("type not a string", r#"{"type":7}"#, Malformed),
    // Missing fields.
    (
        "position without lon",
        r#"{"type":"position","lat":1,"ts_ms":3}"#,
        Malformed,
    ),
    (
        "position without ts_ms",
        r#"{"type":"position","lat":1,"lon":2}"#,
        Malformed,
    ),
    ("status without status", r#"{"type":"status"}"#, Malformed),
    (
        "stop_done without stop_id",
        r#"{"type":"stop_done","outcome":"delivered","ts_ms":1}"#,
        Malformed,
    ),
    (
        "stop_done without outcome",
        r#"{"type":"stop_done","stop_id":"s","ts_ms":1}"#,
        Malformed,
    ),
    // Wrong field types.
    (
        "lat as string",
        r#"{"type":"position","lat":"60","lon":24,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "lat null",
        r#"{"type":"position","lat":null,"lon":24,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "negative ts",
        r#"{"type":"position","lat":60,"lon":24,"ts_ms":-1}"#,
        Malformed,
    ),
    (
        "fractional ts",
        r#"{"type":"position","lat":60,"lon":24,"ts_ms":1.5}"#,
        Malformed,
    ),
    (
        "ts beyond u64",
        r#"{"type":"position","lat":60,"lon":24,"ts_ms":18446744073709551616}"#,
        Malformed,
    ),
    ("seq as string", r#"{"type":"hello","seq":"1"}"#, Malformed),
    ("negative seq", r#"{"type":"hello","seq":-1}"#, Malformed),
    (
        "resume_seq as bool",
        r#"{"type":"hello","resume_seq":true}"#,
        Malformed,
    ),
    (
        "status value unknown",
        r#"{"type":"status","status":"flying"}"#,
        Malformed,
    ),
    (
        "outcome value unknown",
        r#"{"type":"stop_done","stop_id":"s","outcome":"lost","ts_ms":1}"#,
        Malformed,
    ),
    (
        "stop_id as number",
        r#"{"type":"stop_done","stop_id":1,"outcome":"failed","ts_ms":1}"#,
        Malformed,
    ),
    // Numbers JSON cannot carry as f64.
    (
        "lat 1e999 overflows",
        r#"{"type":"position","lat":1e999,"lon":24,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "lon -1e999 overflows",
        r#"{"type":"position","lat":1,"lon":-1e999,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "NaN literal",
        r#"{"type":"position","lat":NaN,"lon":24,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "Infinity literal",
        r#"{"type":"position","lat":1,"lon":Infinity,"ts_ms":1}"#,
        Malformed,
    ),
    (
        "speed 1e999",
        r#"{"type":"position","lat":1,"lon":1,"ts_ms":1,"speed_mps":1e999}"#,
        Malformed,
    ),
    // In range for JSON, out of range for the contract.
    (
        "lat 91",
        r#"{"type":"position","lat":91,"lon":0,"ts_ms":1}"#,
        Invalid("lat"),
    ),
    (
        "lat -90.000001",
        r#"{"type":"position","lat":-90.000001,"lon":0,"ts_ms":1}"#,
        Invalid("lat"),
    ),
    (
        "lon 180.5",
        r#"{"type":"position","lat":0,"lon":180.5,"ts_ms":1}"#,
        Invalid("lon"),
    ),
    (
        "lon -1e300",
        r#"{"type":"position","lat":0,"lon":-1e300,"ts_ms":1}"#,
        Invalid("lon"),
    ),
    (
        "negative speed",
        r#"{"type":"position","lat":0,"lon":0,"ts_ms":1,"speed_mps":-0.1}"#,
        Invalid("speed_mps"),
    ),
    (
        "heading 360.5",
        r#"{"type":"position","lat":0,"lon":0,"ts_ms":1,"heading_deg":360.5}"#,
        Invalid("heading_deg"),
    ),
    (
        "heading -1",
        r#"{"type":"position","lat":0,"lon":0,"ts_ms":1,"heading_deg":-1}"#,
        Invalid("heading_deg"),
    ),
    // Ids.
    (
        "empty stop_id",
        r#"{"type":"stop_done","stop_id":"","outcome":"failed","ts_ms":1}"#,
        Invalid("stop_id"),
    ),
    (
        "stop_id with space",
        r#"{"type":"stop_done","stop_id":"a b","outcome":"failed","ts_ms":1}"#,
        Invalid("stop_id"),
    ),
    (
        "stop_id with slash",
        r#"{"type":"stop_done","stop_id":"a/b","outcome":"failed","ts_ms":1}"#,
        Invalid("stop_id"),
    ),
    (
        "stop_id non-ascii",
        r#"{"type":"stop_done","stop_id":"é","outcome":"failed","ts_ms":1}"#,
        Invalid("stop_id"),
    ),
    (
        "stop_id NUL",
        r#"{"type":"stop_done","stop_id":"a\u0000","outcome":"failed","ts_ms":1}"#,
        Invalid("stop_id"),
    ),
];

const JSON_CONSOLE: &[(&str, &str, Expect)] = &[
    (
        "driver type on console socket",
        r#"{"type":"position","lat":1,"lon":1,"ts_ms":1}"#,
        UnknownType("position"),
    ),
    (
        "unknown type",
        r#"{"type":"reassign_order","id":"o1"}"#,
        UnknownType("reassign_order"),
    ),
    (
        "create_order without order",
        r#"{"type":"create_order"}"#,
        Malformed,
    ),
    (
        "order without dropoff",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1}}}"#,
        Malformed,
    ),
    (
        "stop without lat",
        r#"{"type":"create_order","order":{"pickup":{"lon":1},"dropoff":{"lat":1,"lon":1}}}"#,
        Malformed,
    ),
    (
        "order is a string",
        r#"{"type":"create_order","order":"o1"}"#,
        Malformed,
    ),
    (
        "negative size",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"size":-1}}"#,
        Malformed,
    ),
    (
        "priority beyond i32",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"priority":2147483648}}"#,
        Malformed,
    ),
    (
        "pickup lat 1e999",
        r#"{"type":"create_order","order":{"pickup":{"lat":1e999,"lon":1},"dropoff":{"lat":1,"lon":1}}}"#,
        Malformed,
    ),
    (
        "bbox of three",
        r#"{"type":"subscribe","bbox":[1,2,3]}"#,
        Malformed,
    ),
    (
        "bbox of five",
        r#"{"type":"subscribe","bbox":[1,2,3,4,5]}"#,
        Malformed,
    ),
    (
        "bbox as object",
        r#"{"type":"subscribe","bbox":{"min_lon":1}}"#,
        Malformed,
    ),
    ("cancel without id", r#"{"type":"cancel_order"}"#, Malformed),
    // Validation.
    (
        "pickup lat 95",
        r#"{"type":"create_order","order":{"pickup":{"lat":95,"lon":1},"dropoff":{"lat":1,"lon":1}}}"#,
        Invalid("order.pickup.lat"),
    ),
    (
        "dropoff lon -181",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":-181}}}"#,
        Invalid("order.dropoff.lon"),
    ),
    (
        "pickup due before ready",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1,"ready_ms":20,"due_ms":10},"dropoff":{"lat":1,"lon":1}}}"#,
        Invalid("order.pickup.due_ms"),
    ),
    (
        "dropoff due before ready",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1,"ready_ms":20,"due_ms":10}}}"#,
        Invalid("order.dropoff.due_ms"),
    ),
    (
        "dropoff due before pickup ready",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1,"ready_ms":20},"dropoff":{"lat":1,"lon":1,"due_ms":10}}}"#,
        Invalid("order.dropoff.due_ms"),
    ),
    (
        "service over a day",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1,"service_s":86401},"dropoff":{"lat":1,"lon":1}}}"#,
        Invalid("order.pickup.service_s"),
    ),
    (
        "size 0",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"size":0}}"#,
        Invalid("order.size"),
    ),
    (
        "size too big",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"size":1000001}}"#,
        Invalid("order.size"),
    ),
    (
        "order id bad chars",
        r#"{"type":"create_order","order":{"id":"a b","pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1}}}"#,
        Invalid("order.id"),
    ),
    (
        "order id empty",
        r#"{"type":"create_order","order":{"id":"","pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1}}}"#,
        Invalid("order.id"),
    ),
    (
        "cancel id bad chars",
        r#"{"type":"cancel_order","id":"o1;drop"}"#,
        Invalid("id"),
    ),
    (
        "bbox min lon > max lon",
        r#"{"type":"subscribe","bbox":[25,60,24,61]}"#,
        Invalid("bbox"),
    ),
    (
        "bbox min lat > max lat",
        r#"{"type":"subscribe","bbox":[24,61,25,60]}"#,
        Invalid("bbox"),
    ),
    (
        "bbox lat 91",
        r#"{"type":"subscribe","bbox":[24,60,25,91]}"#,
        Invalid("bbox.lat"),
    ),
    (
        "bbox lon -181",
        r#"{"type":"subscribe","bbox":[-181,60,25,61]}"#,
        Invalid("bbox.lon"),
    ),
];

#[test]
fn json_driver_table() {
    for (name, text, expect) in JSON_DRIVER {
        check(Driver, Encoding::Json, name, text.as_bytes(), *expect);
    }
}

#[test]
fn json_console_table() {
    for (name, text, expect) in JSON_CONSOLE {
        check(Console, Encoding::Json, name, text.as_bytes(), *expect);
    }
}

#[test]
fn json_lengths_at_the_limits() {
    let stop_done = |id: &str, note: &str| {
        format!(
            r#"{{"type":"stop_done","stop_id":"{id}","outcome":"failed","ts_ms":1,"note":"{note}"}}"#
        )
    };
    // Stop ids are `p:`/`d:` + an order id, so they may be two characters longer.
    let ok = stop_done(&"i".repeat(MAX_STOP_ID_LEN), &"n".repeat(MAX_TEXT_LEN));
    assert!(decode_client::<DriverMessage>(Encoding::Json, ok.as_bytes(), 1 << 20).is_ok());
    let long_id = stop_done(&"i".repeat(MAX_STOP_ID_LEN + 1), "");
    check(
        Driver,
        Encoding::Json,
        "id too long",
        long_id.as_bytes(),
        Invalid("stop_id"),
    );
    let long_note = stop_done("s", &"n".repeat(MAX_TEXT_LEN + 1));
    check(
        Driver,
        Encoding::Json,
        "note too long",
        long_note.as_bytes(),
        Invalid("note"),
    );
    let cancel = format!(
        r#"{{"type":"cancel_order","id":"{}"}}"#,
        "o".repeat(MAX_ID_LEN + 1)
    );
    check(
        Console,
        Encoding::Json,
        "cancel id too long",
        cancel.as_bytes(),
        Invalid("id"),
    );
}

#[test]
fn json_unknown_fields_are_ignored() {
    // The contract lets clients add fields; the server ignores them.
    let text = r#"{"type":"position","lat":1,"lon":2,"ts_ms":3,"accuracy_m":5,"extra":{"a":[1]}}"#;
    assert!(decode_client::<DriverMessage>(Encoding::Json, text.as_bytes(), 1024).is_ok());
}

#[test]
fn oversized_frames() {
    let hello = r#"{"type":"hello"}"#.as_bytes();
    // Exactly at the limit is fine, one byte over is not, whatever the content.
    assert!(decode_client::<DriverMessage>(Encoding::Json, hello, hello.len()).is_ok());
    for enc in [Encoding::Json, Encoding::Bincode] {
        check_with_limit(Driver, enc, "one over", hello, hello.len() - 1, TooLarge);
        let huge = vec![b' '; DEFAULT_MAX_FRAME_BYTES + 1];
        check(Driver, enc, "default limit", &huge, TooLarge);
        check(Console, enc, "default limit", &huge, TooLarge);
        assert!(matches!(
            decode_raw::<ServerFrame>(enc, &huge, DEFAULT_MAX_FRAME_BYTES),
            Err(DecodeError::TooLarge { .. })
        ));
    }
    // The size check comes before parsing: a huge frame of garbage is TooLarge, not Malformed.
    let padded = format!(
        r#"{{"type":"hello","pad":"{}"}}"#,
        "x".repeat(DEFAULT_MAX_FRAME_BYTES)
    );
    check(
        Driver,
        Encoding::Json,
        "padded hello",
        padded.as_bytes(),
        TooLarge,
    );
}

// ---------------------------------------------------------------- bincode

fn bin<T: serde::Serialize + bincode::Encode>(value: &T) -> Vec<u8> {
    match encode(Encoding::Bincode, value) {
        Encoded::Binary(b) => b,
        Encoded::Text(_) => unreachable!(),
    }
}

fn position(lat: f64, lon: f64) -> ClientFrame<DriverMessage> {
    ClientFrame {
        seq: Some(1),
        msg: DriverMessage::Position {
            lat,
            lon,
            ts_ms: 1_700_000_000_000,
            speed_mps: Some(3.0),
            heading_deg: None,
        },
    }
}

/// LEB-free bincode varint (standard config): < 251 in one byte, then 251/252/253/254
/// markers for u16/u32/u64/u128 little-endian.
fn varint(v: u64) -> Vec<u8> {
    match v {
        0..=250 => vec![v as u8],
        251..=0xffff => [&[251u8][..], &(v as u16).to_le_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[252u8][..], &(v as u32).to_le_bytes()].concat(),
        _ => [&[253u8][..], &v.to_le_bytes()].concat(),
    }
}

/// A `stop_done` frame whose stop_id claims `claim` bytes and carries `carried` of them.
fn stop_done_claiming(claim: u64, carried: usize) -> Vec<u8> {
    let mut b = vec![0x00, 0x03]; // seq None, variant StopDone
    b.extend(varint(claim));
    b.extend(std::iter::repeat_n(b'a', carried));
    b
}

#[test]
fn bincode_table() {
    let valid = bin(&position(60.0, 24.0));
    let mut trailing = valid.clone();
    trailing.push(0);
    let mut bad_option_tag = valid.clone();
    bad_option_tag[0] = 2; // seq: Option tag must be 0 or 1
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", vec![], Malformed),
        ("trailing byte", trailing, Malformed),
        ("bad option tag", bad_option_tag, Malformed),
        ("unknown variant", vec![0x00, 0x04], Malformed),
        (
            "huge variant",
            [vec![0x00], varint(u64::MAX)].concat(),
            Malformed,
        ),
        ("variant 7 does not exist", vec![0x00, 0x07], Malformed),
        ("bad status value", vec![0x00, 0x02, 0x03], Malformed),
        (
            "bad outcome value",
            [stop_done_claiming(1, 1), vec![0x09, 0x01, 0x00]].concat(),
            Malformed,
        ),
        (
            "invalid utf-8 in stop_id",
            vec![0x00, 0x03, 0x02, 0xc3, 0x28, 0x00, 0x01, 0x00],
            Malformed,
        ),
        (
            "varint marker 255 is reserved",
            vec![0x01, 0xff, 0x00, 0x00],
            Malformed,
        ),
        (
            "u128 marker for a u64",
            [vec![0x01, 0xfe], vec![0; 16], vec![0x00, 0x00]].concat(),
            Malformed,
        ),
        (
            "out of range lat",
            bin(&position(90.5, 0.0)),
            Invalid("lat"),
        ),
        (
            "out of range lon",
            bin(&position(0.0, -180.25)),
            Invalid("lon"),
        ),
        ("NaN lat", bin(&position(f64::NAN, 0.0)), Invalid("lat")),
        (
            "-inf lon",
            bin(&position(0.0, f64::NEG_INFINITY)),
            Invalid("lon"),
        ),
        (
            "stop_id too long",
            [stop_done_claiming(67, 67), vec![0x00, 0x01, 0x00]].concat(),
            Invalid("stop_id"),
        ),
        (
            "stop_id bad chars",
            [
                vec![0x00, 0x03, 0x03],
                b"a b".to_vec(),
                vec![0x00, 0x01, 0x00],
            ]
            .concat(),
            Invalid("stop_id"),
        ),
    ];
    for (name, bytes, expect) in &cases {
        check(Driver, Encoding::Bincode, name, bytes, *expect);
    }

    let order = |pickup_ready: Option<u64>, pickup_due: Option<u64>| ClientFrame {
        seq: None,
        msg: ConsoleMessage::CreateOrder {
            order: dispatch_protocol::NewOrder {
                id: Some("o1".into()),
                pickup: dispatch_protocol::Stop {
                    lat: 1.0,
                    lon: 1.0,
                    ready_ms: pickup_ready,
                    due_ms: pickup_due,
                    service_s: 60,
                },
                dropoff: dispatch_protocol::Stop {
                    lat: 1.0,
                    lon: 1.0,
                    ready_ms: None,
                    due_ms: None,
                    service_s: 60,
                },
                size: 1,
                priority: 0,
                details: Default::default(),
            },
        },
    };
    assert!(decode_client::<ConsoleMessage>(
        Encoding::Bincode,
        &bin(&order(Some(5), Some(5))),
        1024
    )
    .is_ok());
    check(
        Console,
        Encoding::Bincode,
        "due before ready",
        &bin(&order(Some(6), Some(5))),
        Invalid("order.pickup.due_ms"),
    );
    check(
        Console,
        Encoding::Bincode,
        "driver variant 3 on console socket",
        &[0x00, 0x03],
        Malformed,
    );
}

#[test]
fn bincode_every_truncation_is_malformed() {
    let frames = [
        bin(&position(60.0, 24.0)),
        bin(&ClientFrame {
            seq: Some(300),
            msg: DriverMessage::StopDone {
                stop_id: "o1:d".into(),
                outcome: dispatch_protocol::StopOutcome::Delivered,
                ts_ms: 1_700_000_000_000,
                note: Some("left at door".into()),
            },
        }),
    ];
    for full in frames {
        assert!(decode_client::<DriverMessage>(Encoding::Bincode, &full, 1024).is_ok());
        for n in 0..full.len() {
            check(
                Driver,
                Encoding::Bincode,
                &format!("prefix {n}"),
                &full[..n],
                Malformed,
            );
        }
    }
}

/// A length prefix claiming more than the frame carries must fail at the claim, before
/// the decoder allocates room for it, and fast.
#[test]
fn bincode_huge_claims_fail_fast() {
    let claims = [
        u64::MAX,
        1 << 40,
        16 << 20,       // the absolute cap
        (16 << 20) - 1, // just under it
        1 << 20,        // far more than a small frame can carry
    ];
    let start = Instant::now();
    for _ in 0..200 {
        for &claim in &claims {
            let bytes = stop_done_claiming(claim, 8);
            match decode_client::<DriverMessage>(Encoding::Bincode, &bytes, DEFAULT_MAX_FRAME_BYTES)
            {
                Err(DecodeError::Malformed { reason, .. }) => assert!(
                    reason.contains("LimitExceeded"),
                    "claim {claim}: rejected only after allocating ({reason})"
                ),
                other => panic!("claim {claim}: {other:?}"),
            }
            // Server frames are decoded by clients with the same guard: a snapshot claiming
            // billions of drivers.
            let snapshot = [vec![0x01, 0x04], varint(claim), vec![0; 8]].concat();
            assert!(matches!(
                decode_raw::<ServerFrame>(Encoding::Bincode, &snapshot, DEFAULT_MAX_FRAME_BYTES),
                Err(DecodeError::Malformed { .. })
            ));
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "2000 hostile frames took {:?}",
        start.elapsed()
    );
}

/// The other side of the claim guard: the densest well-formed frames (most memory per
/// wire byte: empty strings, `None`s, small integers) still decode at every size,
/// across the decoder's claim-limit tiers.
#[test]
fn bincode_dense_frames_still_decode() {
    use dispatch_protocol::{
        DriverStatus, DriverUpdate, Order, OrderStatus, Route, RouteStop, ServerMessage,
        StatusChange, Stop, StopKind,
    };
    let stop = Stop {
        lat: 0.0,
        lon: 0.0,
        ready_ms: None,
        due_ms: None,
        service_s: 0,
    };
    let order = |history: usize| Order {
        id: String::new(),
        pickup: stop.clone(),
        dropoff: stop.clone(),
        size: 0,
        priority: 0,
        status: OrderStatus::Pending,
        driver_id: None,
        pickup_eta_ms: None,
        dropoff_eta_ms: None,
        created_ms: 0,
        history: vec![
            StatusChange {
                status: OrderStatus::Pending,
                at_ms: 0,
                reason: None,
                note: None,
            };
            history
        ],
        details: Default::default(),
    };
    let driver = DriverUpdate {
        id: String::new(),
        lat: 0.0,
        lon: 0.0,
        status: DriverStatus::Available,
        ts_ms: 0,
    };
    let route_stop = RouteStop {
        stop_id: String::new(),
        order_id: String::new(),
        kind: StopKind::Pickup,
        lat: 0.0,
        lon: 0.0,
        eta_ms: 0,
        ready_ms: None,
        due_ms: None,
        path: None,
    };
    let sizes = (0..120).chain((120..40_000).step_by(1_499));
    for n in sizes {
        let messages = [
            ServerMessage::Order { order: order(n) },
            ServerMessage::Snapshot {
                drivers: vec![driver.clone(); n / 4],
                orders: vec![order(1); n / 8],
            },
            ServerMessage::Route {
                route: Route {
                    version: 0,
                    stops: vec![route_stop.clone(); n / 4],
                },
            },
        ];
        for msg in messages {
            let frame = ServerFrame { seq: 0, msg };
            let bytes = bin(&frame);
            let back = decode_raw::<ServerFrame>(Encoding::Bincode, &bytes, usize::MAX)
                .unwrap_or_else(|e| panic!("{} of {} bytes: {e}", frame.msg.kind(), bytes.len()));
            assert_eq!(back, frame);
        }
    }
}
