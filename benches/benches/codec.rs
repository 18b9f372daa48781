//! Encode and decode cost of each hot message in both wire encodings.
//! Ids: `codec/{json,bincode}/{encode,decode}/<message>`. Client messages decode through
//! `decode_client` (parse + validation, what the engine runs per frame); server messages
//! through `decode_raw` (what clients and the simulator run).
//!
//! `cargo bench -p dispatch-benches --bench codec`

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use dispatch_protocol::{
    decode_client, decode_raw, encode, ClientFrame, ConsoleMessage, DriverMessage, DriverStatus,
    DriverUpdate, Encoded, Encoding, NewOrder, Order, OrderStatus, Route, RouteStop, ServerFrame,
    ServerMessage, StatusChange, Stop, StopKind, StopOutcome,
};
use std::hint::black_box;
use std::time::Duration;

const MAX: usize = 16 << 20;
const T0: u64 = 1_700_000_000_000;

fn lat(i: usize) -> f64 {
    60.1 + (i as f64) * 0.000_731
}

fn lon(i: usize) -> f64 {
    24.9 + (i as f64) * 0.000_577
}

fn position() -> ClientFrame<DriverMessage> {
    ClientFrame {
        seq: Some(1234),
        msg: DriverMessage::Position {
            lat: 60.169_856_3,
            lon: 24.938_379_1,
            ts_ms: T0,
            speed_mps: Some(8.333_333),
            heading_deg: Some(271.5),
        },
    }
}

fn hello() -> ClientFrame<DriverMessage> {
    ClientFrame {
        seq: Some(1),
        msg: DriverMessage::Hello {
            resume_seq: Some(4567),
        },
    }
}

fn stop_done() -> ClientFrame<DriverMessage> {
    ClientFrame {
        seq: Some(77),
        msg: DriverMessage::StopDone {
            stop_id: "order-000123:d".into(),
            outcome: StopOutcome::Delivered,
            ts_ms: T0,
            note: Some("left with the concierge".into()),
        },
    }
}

fn stop(i: usize) -> Stop {
    Stop {
        lat: lat(i),
        lon: lon(i),
        ready_ms: Some(T0),
        due_ms: Some(T0 + 3_600_000),
        service_s: 60,
    }
}

fn create_order() -> ClientFrame<ConsoleMessage> {
    ClientFrame {
        seq: Some(9),
        msg: ConsoleMessage::CreateOrder {
            order: NewOrder {
                id: Some("order-000123".into()),
                pickup: stop(1),
                dropoff: stop(2),
                size: 2,
                priority: 1,
                details: Default::default(),
            },
        },
    }
}

fn route(stops: usize) -> ServerFrame {
    ServerFrame {
        seq: 42,
        msg: ServerMessage::Route {
            route: Route {
                version: 17,
                stops: (0..stops)
                    .map(|i| RouteStop {
                        stop_id: format!(
                            "order-{:06}:{}",
                            i / 2,
                            if i % 2 == 0 { "p" } else { "d" }
                        ),
                        order_id: format!("order-{:06}", i / 2),
                        kind: if i % 2 == 0 {
                            StopKind::Pickup
                        } else {
                            StopKind::Dropoff
                        },
                        lat: lat(i),
                        lon: lon(i),
                        eta_ms: T0 + i as u64 * 300_000,
                        ready_ms: (i % 2 == 0).then_some(T0),
                        due_ms: (i % 2 == 1).then_some(T0 + 7_200_000),
                        path: None,
                    })
                    .collect(),
            },
        },
    }
}

fn update(i: usize) -> DriverUpdate {
    DriverUpdate {
        id: format!("driver-{i:05}"),
        lat: lat(i),
        lon: lon(i),
        status: DriverStatus::ALL[i % 3],
        ts_ms: T0 + i as u64,
    }
}

fn drivers(n: usize) -> ServerFrame {
    ServerFrame {
        seq: 1000,
        msg: ServerMessage::Drivers {
            updates: (0..n).map(update).collect(),
            dropped: 0,
        },
    }
}

fn order(i: usize) -> Order {
    Order {
        id: format!("order-{i:06}"),
        pickup: stop(i),
        dropoff: stop(i + 1),
        size: 1,
        priority: 0,
        status: OrderStatus::Assigned,
        driver_id: Some(format!("driver-{:05}", i % 100)),
        pickup_eta_ms: Some(T0 + 600_000),
        dropoff_eta_ms: Some(T0 + 1_800_000),
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
                at_ms: T0 + 150,
                reason: None,
                note: None,
            },
        ],
        details: Default::default(),
    }
}

/// A console's first frame on a mid-size city: 100 drivers, 50 open orders.
fn snapshot() -> ServerFrame {
    ServerFrame {
        seq: 1,
        msg: ServerMessage::Snapshot {
            drivers: (0..100).map(update).collect(),
            orders: (0..50).map(order).collect(),
        },
    }
}

fn bytes(e: Encoded) -> Vec<u8> {
    match e {
        Encoded::Text(s) => s.into_bytes(),
        Encoded::Binary(b) => b,
    }
}

fn name(enc: Encoding) -> &'static str {
    match enc {
        Encoding::Json => "json",
        Encoding::Bincode => "bincode",
    }
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(50);
}

fn bench_encode(c: &mut Criterion) {
    for enc in [Encoding::Json, Encoding::Bincode] {
        let mut g = c.benchmark_group(format!("codec/{}/encode", name(enc)));
        configure(&mut g);
        macro_rules! case {
            ($id:literal, $value:expr) => {{
                let value = $value;
                g.throughput(Throughput::Bytes(bytes(encode(enc, &value)).len() as u64));
                g.bench_function($id, |b| b.iter(|| encode(enc, black_box(&value))));
            }};
        }
        case!("position", position());
        case!("hello", hello());
        case!("stop_done", stop_done());
        case!("create_order", create_order());
        case!("route_20", route(20));
        case!("drivers_100", drivers(100));
        case!("snapshot", snapshot());
        g.finish();
    }
}

fn bench_decode(c: &mut Criterion) {
    for enc in [Encoding::Json, Encoding::Bincode] {
        let mut g = c.benchmark_group(format!("codec/{}/decode", name(enc)));
        configure(&mut g);
        macro_rules! client {
            ($id:literal, $msg:ty, $value:expr) => {{
                let frame = bytes(encode(enc, &$value));
                assert!(decode_client::<$msg>(enc, &frame, MAX).is_ok());
                g.throughput(Throughput::Bytes(frame.len() as u64));
                g.bench_function($id, |b| {
                    b.iter(|| decode_client::<$msg>(enc, black_box(&frame), MAX))
                });
            }};
        }
        macro_rules! server {
            ($id:literal, $value:expr) => {{
                let frame = bytes(encode(enc, &$value));
                assert!(decode_raw::<ServerFrame>(enc, &frame, MAX).is_ok());
                g.throughput(Throughput::Bytes(frame.len() as u64));
                g.bench_function($id, |b| {
                    b.iter(|| decode_raw::<ServerFrame>(enc, black_box(&frame), MAX))
                });
            }};
        }
        client!("position", DriverMessage, position());
        client!("hello", DriverMessage, hello());
        client!("stop_done", DriverMessage, stop_done());
        client!("create_order", ConsoleMessage, create_order());
        server!("route_20", route(20));
        server!("drivers_100", drivers(100));
        server!("snapshot", snapshot());
        g.finish();
    }
}

criterion_group!(benches, bench_encode, bench_decode);
criterion_main!(benches);
