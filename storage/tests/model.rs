//! Model test: the same random operation sequences, with flushes and clean reopens,
//! run against `SledStore` (in a temp dir) and `MemStore`; every read is compared after
//! every step. Proptest prints the failing case and seed and shrinks it.

use dispatch_storage::{
    DriverRecord, DriverStateRecord, DriverStatusRecord, EventKind, EventRecord, MemStore,
    SledStore, Store,
};
use proptest::prelude::*;

/// Ids chosen to make byte order matter: "d10" < "d2", "Z" < "a", "é" after ASCII.
const IDS: &[&str] = &["a", "b", "d1", "d10", "d2", "Z", "é"];

#[derive(Debug, Clone)]
enum Op {
    PutDriver(DriverRecord),
    PutStates(Vec<(String, DriverStateRecord)>),
    Append(EventRecord),
    ReadEvents { from: u64, limit: usize },
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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => driver().prop_map(Op::PutDriver),
        4 => prop::collection::vec((id(), state()), 0..5).prop_map(Op::PutStates),
        4 => event().prop_map(Op::Append),
        2 => (0u64..15, 0usize..6).prop_map(|(from, limit)| Op::ReadEvents { from, limit }),
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
