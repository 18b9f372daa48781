//! Group commit: flushes are shared, never early, and shutdown completes waiters.
//!
//! Synchronisation is by channels only: a `GatedStore` reports each flush start and
//! holds the flush until the test releases it, so "what happens while a flush runs" is
//! deterministic rather than timed.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dispatch_storage::{
    Changes, DriverRecord, GroupCommit, MemStore, OrderRecord, OrderStatusRecord, RouteRecord,
    SledStore, Store, StoreError,
};

/// Bound on every channel wait, so a bug fails the test instead of hanging it.
const BOUND: Duration = Duration::from_secs(20);

/// A `MemStore` whose flushes announce themselves and wait for a release token.
struct GatedStore {
    inner: MemStore,
    /// Receives the flush number (1-based) when a flush starts.
    started: Mutex<Sender<u64>>,
    /// One token per flush; once the sender is dropped, flushes run freely.
    release: Mutex<Receiver<()>>,
    count: Mutex<u64>,
}

struct Gate {
    started: Receiver<u64>,
    release: Option<Sender<()>>,
}

impl Gate {
    fn wait_started(&self) -> u64 {
        self.started
            .recv_timeout(BOUND)
            .expect("flush did not start")
    }
    fn release_one(&self) {
        self.release.as_ref().unwrap().send(()).unwrap();
    }
    /// Lets every flush from now on run without waiting.
    fn open(&mut self) {
        self.release = None;
    }
}

fn gated() -> (Arc<GatedStore>, Gate) {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let store = Arc::new(GatedStore {
        inner: MemStore::new(),
        started: Mutex::new(started_tx),
        release: Mutex::new(release_rx),
        count: Mutex::new(0),
    });
    (
        store,
        Gate {
            started: started_rx,
            release: Some(release_tx),
        },
    )
}

impl Store for GatedStore {
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        self.inner.put_driver(rec)
    }
    fn get_driver(&self, id: &str) -> Result<Option<dispatch_storage::DriverSnapshot>, StoreError> {
        self.inner.get_driver(id)
    }
    fn put_driver_states(
        &self,
        batch: &[(String, dispatch_storage::DriverStateRecord)],
    ) -> Result<(), StoreError> {
        self.inner.put_driver_states(batch)
    }
    fn load_drivers(&self) -> Result<Vec<dispatch_storage::DriverSnapshot>, StoreError> {
        self.inner.load_drivers()
    }
    fn append_event(&self, ev: &dispatch_storage::EventRecord) -> Result<u64, StoreError> {
        self.inner.append_event(ev)
    }
    fn events_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, dispatch_storage::EventRecord)>, StoreError> {
        self.inner.events_from(from_seq, limit)
    }
    fn trim_events(&self, keep: u64) -> Result<u64, StoreError> {
        self.inner.trim_events(keep)
    }
    fn export(&self) -> Result<dispatch_storage::Export, StoreError> {
        self.inner.export()
    }
    fn put_proof(
        &self,
        order_id: &str,
        proof: &dispatch_storage::ProofRecord,
    ) -> Result<(), StoreError> {
        self.inner.put_proof(order_id, proof)
    }
    fn get_proof(
        &self,
        order_id: &str,
    ) -> Result<Option<dispatch_storage::ProofRecord>, StoreError> {
        self.inner.get_proof(order_id)
    }
    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        self.inner.apply(changes)
    }
    fn get_order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.inner.get_order(id)
    }
    fn list_orders(
        &self,
        after: Option<&str>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.inner.list_orders(after, limit, status)
    }
    fn load_open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.inner.load_open_orders()
    }
    fn put_trail_points(
        &self,
        batch: &[(String, dispatch_storage::TrailPointRecord)],
    ) -> Result<(), StoreError> {
        self.inner.put_trail_points(batch)
    }
    fn trail_points(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<dispatch_storage::TrailPointRecord>, StoreError> {
        self.inner.trail_points(driver, from_ms, to_ms, limit)
    }
    fn trim_trail(&self, driver: &str, before_ms: u64, at_least: u64) -> Result<u64, StoreError> {
        self.inner.trim_trail(driver, before_ms, at_least)
    }
    fn trail_len(&self, driver: &str) -> Result<u64, StoreError> {
        self.inner.trail_len(driver)
    }
    fn trail_drivers(&self) -> Result<Vec<String>, StoreError> {
        self.inner.trail_drivers()
    }
    fn load_routes(&self) -> Result<Vec<(String, RouteRecord)>, StoreError> {
        self.inner.load_routes()
    }
    fn flush(&self) -> Result<(), StoreError> {
        let n = {
            let mut c = self.count.lock().unwrap();
            *c += 1;
            *c
        };
        let _ = self.started.lock().unwrap().send(n);
        // Err means the gate was opened (sender dropped): run freely.
        let _ = self.release.lock().unwrap().recv();
        self.inner.flush()
    }
}

fn driver(i: usize) -> DriverRecord {
    DriverRecord {
        id: format!("d{i:03}"),
        name: None,
        capacity: 2,
        created_ms: 1,
    }
}

#[test]
fn fifty_writer_threads_share_flushes() {
    let (store, mut gate) = gated();
    let gc = GroupCommit::start(store.clone());
    let (registered_tx, registered_rx) = mpsc::channel();
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let (gc, store, registered) = (gc.clone(), store.clone(), registered_tx.clone());
            std::thread::spawn(move || {
                store.put_driver(&driver(i)).unwrap();
                let durable = gc.durable();
                registered.send(()).unwrap();
                durable.wait()
            })
        })
        .collect();
    // The first flush is held until every writer has asked for durability, so at most
    // two flushes (the held one, and one for everyone who came during it) are needed.
    for _ in 0..50 {
        registered_rx.recv_timeout(BOUND).unwrap();
    }
    gate.open();
    for w in writers {
        assert_eq!(w.join().unwrap(), Ok(()));
    }
    let flushes = gc.flushes();
    assert!(
        (1..=2).contains(&flushes),
        "{flushes} flushes for 50 writers"
    );
    gc.shutdown().unwrap();
    // Everything acknowledged is in the durable view.
    store.inner.crash();
    assert_eq!(store.inner.load_drivers().unwrap().len(), 50);
}

#[tokio::test(flavor = "current_thread")]
async fn fifty_writer_tasks_share_flushes() {
    let (store, mut gate) = gated();
    let gc = GroupCommit::start(store.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(51));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (gc, store, barrier) = (gc.clone(), store.clone(), barrier.clone());
            tokio::spawn(async move {
                store.put_driver(&driver(i)).unwrap();
                let durable = gc.durable();
                barrier.wait().await;
                durable.await
            })
        })
        .collect();
    barrier.wait().await;
    gate.open();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(()));
    }
    let flushes = gc.flushes();
    assert!(
        (1..=2).contains(&flushes),
        "{flushes} flushes for 50 writers"
    );
    gc.shutdown().unwrap();
    store.inner.crash();
    assert_eq!(store.inner.load_drivers().unwrap().len(), 50);
}

#[test]
fn waiter_needs_a_flush_that_started_after_its_request() {
    let (store, gate) = gated();
    let gc = GroupCommit::start(store.clone());

    let first = gc.durable();
    assert_eq!(gate.wait_started(), 1);
    // Flush 1 is running; this request came after it started, so flush 1 must not
    // complete it.
    let mut second = gc.durable();
    gate.release_one();
    assert_eq!(first.wait(), Ok(()));
    assert_eq!(
        second.try_wait(),
        None,
        "resolved by a flush that started before it"
    );
    assert_eq!(gate.wait_started(), 2);
    assert_eq!(
        second.try_wait(),
        None,
        "resolved before its flush finished"
    );
    gate.release_one();
    assert_eq!(second.wait(), Ok(()));
    assert_eq!(gc.flushes(), 2);

    // request_flush asks for a flush nobody waits on.
    gc.request_flush();
    assert_eq!(gate.wait_started(), 3);
    gate.release_one();

    drop(gate); // lets the final flush of shutdown through
    gc.shutdown().unwrap();
}

#[test]
fn shutdown_completes_pending_waiters_and_refuses_new_ones() {
    let (store, gate) = gated();
    let gc = GroupCommit::start(store.clone());
    let first = gc.durable();
    assert_eq!(gate.wait_started(), 1);
    let second = gc.durable();

    let stopper = {
        let gc = gc.clone();
        std::thread::spawn(move || gc.shutdown())
    };
    gate.release_one(); // flush 1: completes `first`
    assert_eq!(first.wait(), Ok(()));
    // Flush 2 covers `second` (requested during flush 1).
    assert_eq!(gate.wait_started(), 2);
    gate.release_one();
    assert_eq!(second.wait(), Ok(()));
    // The shutdown's own request was covered by flush 2 or needs a flush 3, depending
    // on when the stopper thread ran: let any further flush through.
    drop(gate);
    assert_eq!(stopper.join().unwrap(), Ok(()));
    assert!((2..=3).contains(&gc.flushes()));

    assert_eq!(gc.durable_blocking(), Err(StoreError::Closed));
    assert_eq!(gc.shutdown(), Ok(()));
}

#[test]
fn shutdown_with_nothing_pending_still_flushes() {
    let store = Arc::new(MemStore::new());
    let gc = GroupCommit::start(store.clone());
    store.put_driver(&driver(1)).unwrap();
    gc.shutdown().unwrap();
    assert_eq!(gc.flushes(), 1);
    store.crash();
    assert_eq!(store.load_drivers().unwrap().len(), 1);
}

#[test]
fn dropping_the_last_handle_flushes_and_stops() {
    let store = Arc::new(MemStore::new());
    let gc = GroupCommit::start(store.clone());
    store.put_driver(&driver(1)).unwrap();
    drop(gc.clone());
    assert_eq!(
        store.flush_count(),
        0,
        "a clone's drop must not stop the committer"
    );
    drop(gc);
    assert_eq!(store.flush_count(), 1);
    // The thread has released its reference to the store.
    assert_eq!(Arc::strong_count(&store), 1);
}

#[test]
fn flush_failure_reaches_the_waiters_and_later_flushes_recover() {
    let store = Arc::new(MemStore::new());
    let gc = GroupCommit::start(store.clone());
    store.set_fail_flushes(true);
    assert!(matches!(gc.durable_blocking(), Err(StoreError::Io(_))));
    store.set_fail_flushes(false);
    assert_eq!(gc.durable_blocking(), Ok(()));
    gc.shutdown().unwrap();
}

/// A store whose flush panics, as a sled bug might.
struct PanickingStore(MemStore);

impl Store for PanickingStore {
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        self.0.put_driver(rec)
    }
    fn get_driver(&self, id: &str) -> Result<Option<dispatch_storage::DriverSnapshot>, StoreError> {
        self.0.get_driver(id)
    }
    fn put_driver_states(
        &self,
        batch: &[(String, dispatch_storage::DriverStateRecord)],
    ) -> Result<(), StoreError> {
        self.0.put_driver_states(batch)
    }
    fn load_drivers(&self) -> Result<Vec<dispatch_storage::DriverSnapshot>, StoreError> {
        self.0.load_drivers()
    }
    fn append_event(&self, ev: &dispatch_storage::EventRecord) -> Result<u64, StoreError> {
        self.0.append_event(ev)
    }
    fn events_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, dispatch_storage::EventRecord)>, StoreError> {
        self.0.events_from(from_seq, limit)
    }
    fn trim_events(&self, keep: u64) -> Result<u64, StoreError> {
        self.0.trim_events(keep)
    }
    fn export(&self) -> Result<dispatch_storage::Export, StoreError> {
        self.0.export()
    }
    fn put_proof(
        &self,
        order_id: &str,
        proof: &dispatch_storage::ProofRecord,
    ) -> Result<(), StoreError> {
        self.0.put_proof(order_id, proof)
    }
    fn get_proof(
        &self,
        order_id: &str,
    ) -> Result<Option<dispatch_storage::ProofRecord>, StoreError> {
        self.0.get_proof(order_id)
    }
    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        self.0.apply(changes)
    }
    fn get_order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.0.get_order(id)
    }
    fn list_orders(
        &self,
        after: Option<&str>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.0.list_orders(after, limit, status)
    }
    fn load_open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.0.load_open_orders()
    }
    fn put_trail_points(
        &self,
        batch: &[(String, dispatch_storage::TrailPointRecord)],
    ) -> Result<(), StoreError> {
        self.0.put_trail_points(batch)
    }
    fn trail_points(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<dispatch_storage::TrailPointRecord>, StoreError> {
        self.0.trail_points(driver, from_ms, to_ms, limit)
    }
    fn trim_trail(&self, driver: &str, before_ms: u64, at_least: u64) -> Result<u64, StoreError> {
        self.0.trim_trail(driver, before_ms, at_least)
    }
    fn trail_len(&self, driver: &str) -> Result<u64, StoreError> {
        self.0.trail_len(driver)
    }
    fn trail_drivers(&self) -> Result<Vec<String>, StoreError> {
        self.0.trail_drivers()
    }
    fn load_routes(&self) -> Result<Vec<(String, RouteRecord)>, StoreError> {
        self.0.load_routes()
    }
    fn flush(&self) -> Result<(), StoreError> {
        panic!("flush exploded (expected by the test)")
    }
}

#[test]
fn a_dead_flusher_answers_closed_instead_of_hanging() {
    let gc = GroupCommit::start(Arc::new(PanickingStore(MemStore::new())));
    assert_eq!(gc.durable_blocking(), Err(StoreError::Closed));
    // Whether or not the thread has finished unwinding, no request may hang.
    assert_eq!(gc.durable_blocking(), Err(StoreError::Closed));
    assert_eq!(gc.shutdown(), Err(StoreError::Closed));
}

#[tokio::test(flavor = "current_thread")]
async fn durable_blocking_works_on_a_runtime_thread() {
    let store = Arc::new(MemStore::new());
    let gc = GroupCommit::start(store.clone());
    store.put_driver(&driver(1)).unwrap();
    assert_eq!(gc.durable_blocking(), Ok(()));
    assert_eq!(gc.durable().await, Ok(()));
    gc.shutdown().unwrap();
}

#[test]
fn sled_writers_are_durable_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let gc = GroupCommit::start(store.clone());
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let (gc, store) = (gc.clone(), store.clone());
            std::thread::spawn(move || {
                store.put_driver(&driver(i)).unwrap();
                gc.durable_blocking()
            })
        })
        .collect();
    for w in writers {
        assert_eq!(w.join().unwrap(), Ok(()));
    }
    assert!(gc.flushes() <= 50);
    gc.shutdown().unwrap();
    drop(gc);
    let store = Arc::into_inner(store).expect("committer released the store");
    store.close().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.load_drivers().unwrap().len(), 50);
}
