//! The store's write path without flushes: what every order change and position batch
//! costs before the shared fsync (`cargo bench -p dispatch-storage`). The flush itself
//! is the disk's; group commit shares it.

use criterion::{criterion_group, criterion_main, Criterion};
use dispatch_storage::{
    Changes, DriverStateRecord, DriverStatusRecord, OrderRecord, OrderStatusRecord, SledOptions,
    SledStore, StopRecord, Store,
};

fn order(id: String) -> OrderRecord {
    let stop = StopRecord {
        lat: 60.17,
        lon: 24.94,
        ready_ms: None,
        due_ms: None,
        service_s: 60,
    };
    OrderRecord {
        id,
        pickup: stop,
        dropoff: stop,
        size: 1,
        priority: 0,
        status: OrderStatusRecord::Pending,
        driver_id: None,
        pickup_eta_ms: None,
        dropoff_eta_ms: None,
        created_ms: 0,
        history: vec![],
        details: Default::default(),
    }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = SledOptions {
        flush_every_ms: None,
        ..SledOptions::default()
    };
    let store = SledStore::open_with(dir.path(), &opts).unwrap();
    let mut n = 0u64;
    c.bench_function("store/apply_one_new_order", |b| {
        b.iter(|| {
            n += 1;
            let changes = Changes {
                orders: vec![order(format!("o{n}"))],
                routes: vec![],
            };
            store.apply(&changes).unwrap();
        });
    });
    let states: Vec<(String, DriverStateRecord)> = (0..100)
        .map(|i| {
            let s = DriverStateRecord {
                status: DriverStatusRecord::Available,
                lat: 60.17,
                lon: 24.94,
                ts_ms: i,
                updated_ms: i,
                has_position: true,
            };
            (format!("d{i}"), s)
        })
        .collect();
    c.bench_function("store/put_100_driver_states", |b| {
        b.iter(|| store.put_driver_states(&states).unwrap());
    });
}

criterion_group!(store, benches);
criterion_main!(store);
