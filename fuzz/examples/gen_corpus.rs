//! Writes the committed seed corpus: every client message type, valid and near-valid,
//! in JSON (text frames, HTTP bodies) and bincode (binary frames, made with the
//! protocol's own `encode`, so they are exactly what a client library sends).
//!
//!     cd fuzz && cargo run --example gen_corpus
//!
//! Idempotent: it rewrites the same files with the same names. Files it did not write
//! (say, interesting inputs saved from a fuzz run) are left alone.

use dispatch_protocol::{
    encode, ClientFrame, ConsoleMessage, DriverMessage, DriverStatus, Encoded, Encoding, NewOrder,
    Stop, StopOutcome,
};
use std::path::Path;

fn stop(lat: f64, lon: f64) -> Stop {
    Stop {
        lat,
        lon,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    }
}

fn order_min() -> NewOrder {
    NewOrder {
        id: None,
        pickup: stop(60.1702, 24.939),
        dropoff: stop(60.165, 24.93),
        size: 1,
        priority: 0,
        details: Default::default(),
    }
}

fn order_full() -> NewOrder {
    NewOrder {
        id: Some("o-1.a:B_9".into()),
        pickup: Stop {
            lat: 60.1702,
            lon: 24.939,
            ready_ms: Some(1_764_140_000_000),
            due_ms: Some(1_764_140_600_000),
            service_s: 120,
        },
        dropoff: Stop {
            lat: -33.8688,
            lon: 151.2093,
            ready_ms: Some(1_764_140_300_000),
            due_ms: Some(1_764_141_800_000),
            service_s: 0,
        },
        size: 3,
        priority: -2,
        details: Default::default(),
    }
}

fn driver_frames() -> Vec<(&'static str, ClientFrame<DriverMessage>)> {
    let f = |seq, msg| ClientFrame { seq, msg };
    let position = |lat, lon, speed_mps, heading_deg| DriverMessage::Position {
        lat,
        lon,
        ts_ms: 1_764_140_000_000,
        speed_mps,
        heading_deg,
    };
    let done = |stop_id: &str, outcome, note: Option<&str>| DriverMessage::StopDone {
        stop_id: stop_id.into(),
        outcome,
        ts_ms: 1_764_140_000_000,
        note: note.map(Into::into),
    };
    vec![
        ("hello", f(None, DriverMessage::Hello { resume_seq: None })),
        (
            "hello_resume_seq",
            f(
                Some(1),
                DriverMessage::Hello {
                    resume_seq: Some(12),
                },
            ),
        ),
        (
            "position_min",
            f(None, position(60.1699, 24.9384, None, None)),
        ),
        (
            "position_full",
            f(Some(7), position(60.1699, 24.9384, Some(8.2), Some(90.0))),
        ),
        (
            "position_edges",
            f(
                Some(u64::MAX),
                position(-90.0, 180.0, Some(0.0), Some(360.0)),
            ),
        ),
        (
            "status_available",
            f(
                None,
                DriverMessage::Status {
                    status: DriverStatus::Available,
                },
            ),
        ),
        (
            "status_offline",
            f(
                Some(2),
                DriverMessage::Status {
                    status: DriverStatus::Offline,
                },
            ),
        ),
        (
            "status_break",
            f(
                None,
                DriverMessage::Status {
                    status: DriverStatus::Break,
                },
            ),
        ),
        (
            "stop_done_picked_up",
            f(Some(5), done("p:o1", StopOutcome::PickedUp, None)),
        ),
        (
            "stop_done_delivered_note",
            f(
                None,
                done("d:o1", StopOutcome::Delivered, Some("left at door \"é\"\n")),
            ),
        ),
        (
            "stop_done_failed",
            f(None, done("p:o-2", StopOutcome::Failed, Some(""))),
        ),
        // Near-valid: decode, then fail validation.
        ("bad_lat", f(Some(3), position(90.5, 0.0, None, None))),
        ("bad_lon", f(None, position(0.0, -180.25, None, None))),
        ("bad_speed", f(None, position(1.0, 1.0, Some(-1.0), None))),
        (
            "bad_heading",
            f(None, position(1.0, 1.0, None, Some(360.5))),
        ),
        (
            "bad_stop_id",
            f(None, done("p:o 1", StopOutcome::PickedUp, None)),
        ),
    ]
}

fn console_frames() -> Vec<(&'static str, ClientFrame<ConsoleMessage>)> {
    let f = |seq, msg| ClientFrame { seq, msg };
    let mut due_before_ready = order_full();
    due_before_ready.pickup.due_ms = Some(1);
    let mut size_zero = order_min();
    size_zero.size = 0;
    let mut far_out = order_min();
    far_out.dropoff.lat = 1e300;
    vec![
        (
            "subscribe",
            f(None, ConsoleMessage::Subscribe { bbox: None }),
        ),
        (
            "subscribe_bbox",
            f(
                Some(1),
                ConsoleMessage::Subscribe {
                    bbox: Some([24.0, 60.0, 25.5, 60.5]),
                },
            ),
        ),
        (
            "create_order_min",
            f(None, ConsoleMessage::CreateOrder { order: order_min() }),
        ),
        (
            "create_order_full",
            f(
                Some(9),
                ConsoleMessage::CreateOrder {
                    order: order_full(),
                },
            ),
        ),
        (
            "cancel_order",
            f(Some(4), ConsoleMessage::CancelOrder { id: "o1".into() }),
        ),
        // Near-valid.
        (
            "bad_bbox_inverted",
            f(
                None,
                ConsoleMessage::Subscribe {
                    bbox: Some([25.0, 60.0, 24.0, 61.0]),
                },
            ),
        ),
        (
            "bad_due_before_ready",
            f(
                None,
                ConsoleMessage::CreateOrder {
                    order: due_before_ready,
                },
            ),
        ),
        (
            "bad_size_zero",
            f(None, ConsoleMessage::CreateOrder { order: size_zero }),
        ),
        (
            "bad_far_out",
            f(None, ConsoleMessage::CreateOrder { order: far_out }),
        ),
        (
            "bad_cancel_id",
            f(
                None,
                ConsoleMessage::CancelOrder {
                    id: "o1;drop".into(),
                },
            ),
        ),
    ]
}

/// Hand-written JSON a typed value cannot produce: wrong types, unknown tags, huge
/// numbers, escapes, extra fields, trailing bytes.
const DRIVER_JSON_EXTRA: &[(&str, &str)] = &[
    ("x_unknown_type", r#"{"type":"teleport","lat":1}"#),
    ("x_no_type", r#"{"lat":60.1,"lon":24.9,"ts_ms":1}"#),
    (
        "x_lat_string",
        r#"{"type":"position","lat":"60.1","lon":24.9,"ts_ms":1}"#,
    ),
    (
        "x_ts_float",
        r#"{"type":"position","lat":60.1,"lon":24.9,"ts_ms":1.5}"#,
    ),
    (
        "x_ts_huge",
        r#"{"type":"position","lat":60.1,"lon":24.9,"ts_ms":18446744073709551616}"#,
    ),
    (
        "x_lat_1e400",
        r#"{"type":"position","lat":1e400,"lon":24.9,"ts_ms":1}"#,
    ),
    (
        "x_lat_exp",
        r#"{"type":"position","lat":6.01E1,"lon":-2.49e+1,"ts_ms":0}"#,
    ),
    ("x_seq_negative", r#"{"seq":-1,"type":"hello"}"#),
    ("x_status_unknown", r#"{"type":"status","status":"flying"}"#),
    (
        "x_extra_fields",
        r#"{"type":"hello","resume_seq":null,"x":{"a":[1,2,{"b":null}]}}"#,
    ),
    (
        "x_escapes",
        r#"{"type":"stop_done","stop_id":"\u0070:o1","outcome":"failed","ts_ms":1,"note":"\ud83d\ude00\t\\"}"#,
    ),
    (
        "x_lone_surrogate",
        r#"{"type":"stop_done","stop_id":"p:o1","outcome":"failed","ts_ms":1,"note":"\ud800"}"#,
    ),
    (
        "x_duplicate_type",
        r#"{"type":"hello","type":"status","status":"break"}"#,
    ),
    ("x_trailing", "{\"type\":\"hello\"} x"),
    (
        "x_whitespace",
        " \n{ \"type\" : \"hello\" ,\t\"seq\" : 3 }\r\n",
    ),
    ("x_array", r#"[{"type":"hello"}]"#),
];

const CONSOLE_JSON_EXTRA: &[(&str, &str)] = &[
    ("x_unknown_type", r#"{"type":"reassign","id":"o1"}"#),
    ("x_bbox_short", r#"{"type":"subscribe","bbox":[1,2,3]}"#),
    ("x_bbox_null", r#"{"type":"subscribe","bbox":null}"#),
    (
        "x_order_ints",
        r#"{"type":"create_order","order":{"pickup":{"lat":60,"lon":24},"dropoff":{"lat":60,"lon":25}}}"#,
    ),
    (
        "x_order_size_neg",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"size":-1}}"#,
    ),
    (
        "x_order_priority_big",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"priority":2147483648}}"#,
    ),
    (
        "x_order_missing_dropoff",
        r#"{"type":"create_order","order":{"pickup":{"lat":1,"lon":1}}}"#,
    ),
    ("x_cancel_number", r#"{"type":"cancel_order","id":7}"#),
    ("x_seq_string", r#"{"seq":"1","type":"subscribe"}"#),
];

const ORDER_JSON_EXTRA: &[(&str, &str)] = &[
    (
        "x_ints",
        r#"{"pickup":{"lat":60,"lon":24},"dropoff":{"lat":60,"lon":25}}"#,
    ),
    (
        "x_nulls",
        r#"{"id":null,"pickup":{"lat":1,"lon":1,"ready_ms":null,"due_ms":null},"dropoff":{"lat":1,"lon":1}}"#,
    ),
    (
        "x_service_max",
        r#"{"pickup":{"lat":1,"lon":1,"service_s":86400},"dropoff":{"lat":1,"lon":1,"service_s":86401}}"#,
    ),
    (
        "x_size_huge",
        r#"{"pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1},"size":4294967296}"#,
    ),
    (
        "x_windows",
        r#"{"pickup":{"lat":1,"lon":1,"ready_ms":50},"dropoff":{"lat":1,"lon":1,"due_ms":40}}"#,
    ),
    (
        "x_id_bad",
        r#"{"id":"a b","pickup":{"lat":1,"lon":1},"dropoff":{"lat":1,"lon":1}}"#,
    ),
    (
        "x_extra",
        r#"{"pickup":{"lat":1,"lon":1,"x":[]},"dropoff":{"lat":1,"lon":1},"note":"hi"}"#,
    ),
    ("x_empty", "{}"),
    ("x_not_object", "[]"),
];

fn write(dir: &Path, name: &str, ext: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(format!("{name}.{ext}")), bytes).expect("write seed");
}

fn bytes_of(e: Encoded) -> Vec<u8> {
    match e {
        Encoded::Text(s) => s.into_bytes(),
        Encoded::Binary(b) => b,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut n = 0;
    let mut put = |target: &str, name: &str, ext: &str, bytes: &[u8]| {
        write(&root.join(target), name, ext, bytes);
        n += 1;
    };
    for (name, frame) in driver_frames() {
        put(
            "decode_driver_json",
            name,
            "json",
            &bytes_of(encode(Encoding::Json, &frame)),
        );
        put(
            "decode_driver_bincode",
            name,
            "bin",
            &bytes_of(encode(Encoding::Bincode, &frame)),
        );
    }
    for (name, text) in DRIVER_JSON_EXTRA {
        put("decode_driver_json", name, "json", text.as_bytes());
    }
    // Bincode oddities: NaN (JSON cannot carry it), a truncated frame, a trailing byte,
    // a wider-than-needed varint (u16 marker for 7), a string claiming 1 MiB.
    let nan = ClientFrame {
        seq: None,
        msg: DriverMessage::Position {
            lat: f64::NAN,
            lon: 0.0,
            ts_ms: 1,
            speed_mps: Some(f64::INFINITY),
            heading_deg: None,
        },
    };
    put(
        "decode_driver_bincode",
        "x_nan",
        "bin",
        &bytes_of(encode(Encoding::Bincode, &nan)),
    );
    let full = bytes_of(encode(Encoding::Bincode, &driver_frames()[3].1));
    put(
        "decode_driver_bincode",
        "x_truncated",
        "bin",
        &full[..full.len() - 3],
    );
    put(
        "decode_driver_bincode",
        "x_trailing",
        "bin",
        &[&full[..], &[0]].concat(),
    );
    put(
        "decode_driver_bincode",
        "x_wide_varint",
        "bin",
        &[0x01, 0xfb, 0x07, 0x00, 0x00, 0x00],
    );
    put(
        "decode_driver_bincode",
        "x_claim_1mib",
        "bin",
        &[0x00, 0x03, 0xfc, 0x00, 0x00, 0x10, 0x00, b'p', b':'],
    );

    for (name, frame) in console_frames() {
        put(
            "decode_console_json",
            name,
            "json",
            &bytes_of(encode(Encoding::Json, &frame)),
        );
        put(
            "decode_console_bincode",
            name,
            "bin",
            &bytes_of(encode(Encoding::Bincode, &frame)),
        );
    }
    for (name, text) in CONSOLE_JSON_EXTRA {
        put("decode_console_json", name, "json", text.as_bytes());
    }
    // A driver message on the console socket (variant 3 does not exist there).
    put(
        "decode_console_bincode",
        "x_driver_variant",
        "bin",
        &[0x00, 0x03],
    );

    for (name, order) in [("min", order_min()), ("full", order_full())] {
        put(
            "order_body",
            name,
            "json",
            &serde_json::to_vec(&order).expect("json"),
        );
    }
    put(
        "order_body",
        "full_pretty",
        "json",
        &serde_json::to_vec_pretty(&order_full()).expect("json"),
    );
    for (name, text) in ORDER_JSON_EXTRA {
        put("order_body", name, "json", text.as_bytes());
    }
    println!("wrote {n} seeds under {}", root.display());
}
