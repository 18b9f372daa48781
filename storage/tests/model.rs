//! Model test: the same random operation sequences, with flushes and clean reopens,
//! run against `SledStore` (in a temp dir) and `MemStore`; every read is compared after
//! every step. Proptest prints the failing case and seed and shrinks it.

use dispatch_storage::{
    Changes, DriverRecord, DriverStateRecord, DriverStatusRecord, EventKind, EventRecord, MemStore,
    OrderRecord, OrderStatusRecord, RouteRecord, RouteStopRecord, SledStore, StatusChangeRecord,
    StopKindRecord, StopRecord, Store,
};
use proptest::prelude::*;

/// Ids chosen to make byte order matter: "d10" < "d2", "Z" < "a", "é" after ASCII.
const IDS: &[&str] = &["a", "b", "d1", "d10", "d2", "Z", "é"];

/// Order ids, again with byte order traps ("o10" < "o2", "O" < "o", "o1é" after "o10").
const ORDER_IDS: &[&str] = &["O", "o1", "o10", "o1é", "o2", "é"];

/// `list_orders` cursors: every order id plus ids that are never stored, before,
/// between and after them.
const CURSORS: &[&str] = &[
    "", "O", "o", "o1", "o10", "o1é", "o15", "o2", "zz", "é", "ê",
];

#[derive(Debug, Clone)]
enum Op {
    PutDriver(DriverRecord),
    PutStates(Vec<(String, DriverStateRecord)>),
    Append(EventRecord),
    ReadEvents {
        from: u64,
        limit: usize,
    },
    Apply(Changes),
    GetOrder(String),
    ListOrders {
        after: Option<String>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    },
    Flush,
    Reopen,
}

fn id() -> impl Strategy<Value = String> {
    prop::sample::select(IDS).prop_map(str::to_owned)
}

fn status() -> impl Strategy<Value = DriverStatusRecord> {
    prop_oneof![
        Just(DriverStatusRecord::Available),
        Just(DriverStatusRecord::Offline),
        Just(DriverStatusRecord::Break),
    ]
}

fn driver() -> impl Strategy<Value = DriverRecord> {
    (
        id(),
        prop::option::of("[a-zA-Z ]{0,8}"),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(id, name, capacity, created_ms)| DriverRecord {
            id,
            name,
            capacity,
            created_ms,
        })
}

fn state() -> impl Strategy<Value = DriverStateRecord> {
    (
        -90.0..90.0f64,
        -180.0..180.0f64,
        any::<u64>(),
        status(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(lat, lon, ts_ms, status, updated_ms, has_position)| DriverStateRecord {
                lat,
                lon,
                ts_ms,
                status,
                updated_ms,
                has_position,
            },
        )
}

fn event() -> impl Strategy<Value = EventRecord> {
    let kind = prop_oneof![
        id().prop_map(|id| EventKind::DriverRegistered { id }),
        (id(), status(), status()).prop_map(|(id, old, new)| EventKind::DriverStatusChanged {
            id,
            old,
            new
        }),
    ];
    (any::<u64>(), kind).prop_map(|(at_ms, kind)| EventRecord { at_ms, kind })
}

fn order_id() -> impl Strategy<Value = String> {
    prop::sample::select(ORDER_IDS).prop_map(str::to_owned)
}

fn order_status() -> impl Strategy<Value = OrderStatusRecord> {
    prop::sample::select(
        &[
            OrderStatusRecord::Pending,
            OrderStatusRecord::Assigned,
            OrderStatusRecord::PickedUp,
            OrderStatusRecord::Delivered,
            OrderStatusRecord::Cancelled,
            OrderStatusRecord::Failed,
            OrderStatusRecord::Unassignable,
        ][..],
    )
}

fn stop() -> impl Strategy<Value = StopRecord> {
    (
        -90.0..90.0f64,
        -180.0..180.0f64,
        prop::option::of(any::<u64>()),
        prop::option::of(any::<u64>()),
        any::<u32>(),
    )
        .prop_map(|(lat, lon, ready_ms, due_ms, service_s)| StopRecord {
            lat,
            lon,
            ready_ms,
            due_ms,
            service_s,
        })
}

fn order() -> impl Strategy<Value = OrderRecord> {
    let change = (
        order_status(),
        any::<u64>(),
        prop::option::of("[a-z ]{0,6}"),
    )
        .prop_map(|(status, at_ms, reason)| StatusChangeRecord {
            status,
            at_ms,
            reason,
            note: None,
        });
    (
        (order_id(), stop(), stop(), any::<u32>(), any::<i32>()),
        (
            order_status(),
            prop::option::of(id()),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            any::<u64>(),
            prop::collection::vec(change, 0..3),
        ),
    )
        .prop_map(
            |(
                (id, pickup, dropoff, size, priority),
                (status, driver_id, pickup_eta_ms, dropoff_eta_ms, created_ms, history),
            )| OrderRecord {
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
                details: Default::default(),
            },
        )
}

fn route() -> impl Strategy<Value = RouteRecord> {
    let stop = (
        (order_id(), any::<bool>(), -90.0..90.0f64, -180.0..180.0f64),
        (
            any::<u64>(),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            any::<u32>(),
            any::<u32>(),
        ),
    )
        .prop_map(
            |((order_id, pickup, lat, lon), (eta_ms, ready_ms, due_ms, service_s, size))| {
                RouteStopRecord {
                    stop_id: format!("{order_id}-{}", if pickup { "p" } else { "d" }),
                    order_id,
                    kind: if pickup {
                        StopKindRecord::Pickup
                    } else {
                        StopKindRecord::Dropoff
                    },
                    lat,
                    lon,
                    eta_ms,
                    ready_ms,
                    due_ms,
                    service_s,
                    size,
                }
            },
        );
    (any::<u64>(), prop::collection::vec(stop, 0..4))
        .prop_map(|(version, stops)| RouteRecord { version, stops })
}

fn changes() -> impl Strategy<Value = Changes> {
    (
        prop::collection::vec(order(), 0..5),
        prop::collection::vec((id(), route()), 0..3),
    )
        .prop_map(|(orders, routes)| Changes { orders, routes })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => driver().prop_map(Op::PutDriver),
        3 => prop::collection::vec((id(), state()), 0..5).prop_map(Op::PutStates),
        3 => event().prop_map(Op::Append),
        2 => (0u64..15, 0usize..6).prop_map(|(from, limit)| Op::ReadEvents { from, limit }),
        5 => changes().prop_map(Op::Apply),
        1 => prop::sample::select(CURSORS).prop_map(|id| Op::GetOrder(id.to_owned())),
        3 => (
            prop::option::of(prop::sample::select(CURSORS).prop_map(str::to_owned)),
            0usize..5,
            prop::option::of(order_status()),
        )
            .prop_map(|(after, limit, status)| Op::ListOrders { after, limit, status }),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

/// A `SledStore` that can be closed and reopened in place.
struct Sled {
    dir: tempfile::TempDir,
    store: Option<SledStore>,
}

impl Sled {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Some(SledStore::open(dir.path()).unwrap());
        Self { dir, store }
    }

    fn get(&self) -> &SledStore {
        self.store.as_ref().unwrap()
    }

    fn reopen(&mut self) {
        self.store.take().unwrap().close().unwrap();
        // `open` waits (bounded) for sled to release the file lock of the closed handle.
        self.store = Some(SledStore::open(self.dir.path()).unwrap());
    }
}

/// Compares every read of the two stores.
fn assert_same_reads(sled: &SledStore, mem: &MemStore, step: usize) -> Result<(), TestCaseError> {
    for id in IDS {
        prop_assert_eq!(
            sled.get_driver(id),
            mem.get_driver(id),
            "get_driver({}) at step {}",
            id,
            step
        );
    }
    prop_assert_eq!(
        sled.load_drivers(),
        mem.load_drivers(),
        "load_drivers at step {}",
        step
    );
    prop_assert_eq!(
        sled.events_from(0, usize::MAX),
        mem.events_from(0, usize::MAX),
        "events_from(0) at step {}",
        step
    );
    for id in ORDER_IDS {
        prop_assert_eq!(
            sled.get_order(id),
            mem.get_order(id),
            "get_order({}) at step {}",
            id,
            step
        );
    }
    let all = sled.list_orders(None, usize::MAX, None);
    prop_assert_eq!(
        &all,
        &mem.list_orders(None, usize::MAX, None),
        "list_orders(all) at step {}",
        step
    );
    let open = sled.load_open_orders();
    prop_assert_eq!(
        &open,
        &mem.load_open_orders(),
        "load_open_orders at step {}",
        step
    );
    // The open index must hold exactly the non-terminal orders.
    let expected_open: Vec<OrderRecord> = all
        .unwrap()
        .into_iter()
        .filter(|o| !o.status.is_terminal())
        .collect();
    prop_assert_eq!(open.unwrap(), expected_open, "open set at step {}", step);
    prop_assert_eq!(
        sled.load_routes(),
        mem.load_routes(),
        "load_routes at step {}",
        step
    );
    // Byte for byte: what a backup of either would carry.
    prop_assert_eq!(sled.export(), mem.export(), "export at step {}", step);
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut sled = Sled::new();
    let mem = MemStore::new();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::PutDriver(rec) => {
                prop_assert_eq!(sled.get().put_driver(rec), mem.put_driver(rec));
            }
            Op::PutStates(batch) => {
                prop_assert_eq!(
                    sled.get().put_driver_states(batch),
                    mem.put_driver_states(batch)
                );
            }
            Op::Append(ev) => {
                prop_assert_eq!(
                    sled.get().append_event(ev),
                    mem.append_event(ev),
                    "seq at step {}",
                    step
                );
            }
            Op::ReadEvents { from, limit } => {
                prop_assert_eq!(
                    sled.get().events_from(*from, *limit),
                    mem.events_from(*from, *limit),
                    "events_from({}, {}) at step {}",
                    from,
                    limit,
                    step
                );
            }
            Op::Apply(changes) => {
                prop_assert_eq!(sled.get().apply(changes), mem.apply(changes));
            }
            Op::GetOrder(id) => {
                prop_assert_eq!(
                    sled.get().get_order(id),
                    mem.get_order(id),
                    "get_order({}) at step {}",
                    id,
                    step
                );
            }
            Op::ListOrders {
                after,
                limit,
                status,
            } => {
                prop_assert_eq!(
                    sled.get().list_orders(after.as_deref(), *limit, *status),
                    mem.list_orders(after.as_deref(), *limit, *status),
                    "list_orders({:?}, {}, {:?}) at step {}",
                    after,
                    limit,
                    status,
                    step
                );
            }
            Op::Flush => {
                prop_assert_eq!(sled.get().flush(), mem.flush());
            }
            Op::Reopen => {
                sled.reopen();
                mem.reopen().unwrap();
            }
        }
        assert_same_reads(sled.get(), &mem, step)?;
    }
    sled.store.take().unwrap().close().unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn sled_matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops)?;
    }
}
