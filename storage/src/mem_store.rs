//! [`MemStore`]: the in-memory twin of [`SledStore`](crate::SledStore), built on
//! `BTreeMap`s, with a model of crash semantics.
//!
//! Writes go to a *live* view that reads see; [`Store::flush`] copies it to the
//! *durable* view. [`MemStore::crash`] throws the live view away and keeps only what was
//! flushed; [`MemStore::reopen`] models a clean close and open (flush first). A real
//! sled database may keep more than the durable view after a crash (its background
//! flush), never less.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::StoreError;
use crate::export::Export;
use crate::keys;
use crate::proof::ProofRecord;
use crate::records::Versioned;
use crate::records::{
    Changes, DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, OrderRecord,
    OrderStatusRecord, RouteRecord, TrailPointRecord,
};
use crate::store::Store;
use crate::verify::OPEN_ORDERS_TREE;

/// One copy of every tree.
#[derive(Debug, Clone, Default)]
struct Tables {
    /// Registrations by id (`drivers` tree).
    drivers: BTreeMap<String, DriverRecord>,
    /// Latest state by id (`driver_state` tree).
    states: BTreeMap<String, DriverStateRecord>,
    /// Event log by sequence number (`events` tree).
    events: BTreeMap<u64, EventRecord>,
    /// Orders by id (`orders` tree).
    orders: BTreeMap<String, OrderRecord>,
    /// Ids of orders whose status is not terminal (`open_orders` tree).
    open_orders: BTreeSet<String>,
    /// Current route by driver id (`routes` tree).
    routes: BTreeMap<String, RouteRecord>,
    /// Position history by (driver id, fix time) (`trails` tree; ids hold no 0 byte,
    /// so this order is the sled key order).
    trails: BTreeMap<(String, u64), TrailPointRecord>,
    /// Proof-of-delivery images by order id (`proofs` tree).
    proofs: BTreeMap<String, ProofRecord>,
}

impl Tables {
    /// Next sequence number, derived like `SledStore` does at open: last key + 1.
    fn next_seq(&self) -> u64 {
        self.events.last_key_value().map_or(1, |(seq, _)| seq + 1)
    }

    fn snapshot(&self, driver: &DriverRecord) -> DriverSnapshot {
        DriverSnapshot {
            driver: driver.clone(),
            state: self.states.get(&driver.id).cloned(),
        }
    }
}

#[derive(Debug, Default)]
struct Views {
    /// What reads see: every write so far.
    live: Tables,
    /// What survives a crash: the live view as of the last flush.
    durable: Tables,
}

/// In-memory [`Store`] for tests; same results as `SledStore` for the same operations.
#[derive(Debug, Default)]
pub struct MemStore {
    /// Live and durable views, under one lock so a flush copies a consistent state.
    views: Mutex<Views>,
    /// Successful flushes so far, for tests of flush sharing.
    flushes: AtomicU64,
    /// When set, `flush` fails without making anything durable (error-path tests).
    fail_flushes: AtomicBool,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Models a clean close and reopen: flushes, then continues from the durable view.
    pub fn reopen(&self) -> Result<(), StoreError> {
        self.flush()?;
        self.crash();
        Ok(())
    }

    /// Models a crash and restart: everything not flushed is lost.
    pub fn crash(&self) {
        let mut views = self.lock();
        views.live = views.durable.clone();
    }

    /// Number of successful flushes.
    pub fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::SeqCst)
    }

    /// Makes every following `flush` fail with [`StoreError::Io`] (or succeed again).
    pub fn set_fail_flushes(&self, fail: bool) {
        self.fail_flushes.store(fail, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Views> {
        self.views.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keys of one driver's trail, oldest first.
fn trail_of<'a>(
    trails: &'a BTreeMap<(String, u64), TrailPointRecord>,
    driver: &str,
) -> impl Iterator<Item = (String, u64)> + 'a {
    let range = (driver.to_owned(), 0)..=(driver.to_owned(), u64::MAX);
    trails.range(range).map(|(key, _)| key.clone())
}

/// Encodes one table as the sled tree of the same name would hold it.
fn raw<K, V>(
    map: &BTreeMap<K, V>,
    key: impl Fn(&K) -> Vec<u8>,
    value: impl Fn(&V) -> Vec<u8>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.iter().map(|(k, v)| (key(k), value(v))).collect()
}

impl Tables {
    /// The tables in the raw form of [`Store::export`].
    fn export(&self) -> Export {
        let id = |k: &String| k.as_bytes().to_vec();
        let open = self
            .open_orders
            .iter()
            .map(|k| (id(k), Vec::new()))
            .collect();
        Export {
            trees: vec![
                (
                    DriverRecord::TREE,
                    raw(&self.drivers, id, Versioned::to_bytes),
                ),
                (
                    DriverStateRecord::TREE,
                    raw(&self.states, id, Versioned::to_bytes),
                ),
                (
                    EventRecord::TREE,
                    raw(
                        &self.events,
                        |s| keys::event_key(*s).to_vec(),
                        Versioned::to_bytes,
                    ),
                ),
                (
                    OrderRecord::TREE,
                    raw(&self.orders, id, Versioned::to_bytes),
                ),
                (OPEN_ORDERS_TREE, open),
                (
                    RouteRecord::TREE,
                    raw(&self.routes, id, Versioned::to_bytes),
                ),
                (
                    TrailPointRecord::TREE,
                    raw(
                        &self.trails,
                        |(d, ts)| keys::trail_key(d, *ts),
                        Versioned::to_bytes,
                    ),
                ),
                (
                    ProofRecord::TREE,
                    raw(&self.proofs, id, Versioned::to_bytes),
                ),
            ],
        }
    }
}

impl Store for MemStore {
    fn export(&self) -> Result<Export, StoreError> {
        Ok(self.lock().live.export())
    }

    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        self.lock().live.drivers.insert(rec.id.clone(), rec.clone());
        Ok(())
    }

    fn get_driver(&self, id: &str) -> Result<Option<DriverSnapshot>, StoreError> {
        let views = self.lock();
        Ok(views.live.drivers.get(id).map(|d| views.live.snapshot(d)))
    }

    fn put_proof(&self, order_id: &str, proof: &ProofRecord) -> Result<(), StoreError> {
        let mut views = self.lock();
        views.live.proofs.insert(order_id.to_owned(), proof.clone());
        Ok(())
    }

    fn get_proof(&self, order_id: &str) -> Result<Option<ProofRecord>, StoreError> {
        Ok(self.lock().live.proofs.get(order_id).cloned())
    }

    fn put_trail_points(&self, batch: &[(String, TrailPointRecord)]) -> Result<(), StoreError> {
        let mut views = self.lock();
        for (id, point) in batch {
            views.live.trails.insert((id.clone(), point.ts_ms), *point);
        }
        Ok(())
    }

    fn trail_points(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<TrailPointRecord>, StoreError> {
        if from_ms > to_ms {
            return Ok(Vec::new());
        }
        let range = (driver.to_owned(), from_ms)..=(driver.to_owned(), to_ms);
        let views = self.lock();
        Ok(views
            .live
            .trails
            .range(range)
            .map(|(_, p)| *p)
            .take(limit)
            .collect())
    }

    fn trim_trail(&self, driver: &str, before_ms: u64, at_least: u64) -> Result<u64, StoreError> {
        let mut views = self.lock();
        let doomed: Vec<(String, u64)> = trail_of(&views.live.trails, driver)
            .enumerate()
            .take_while(|(i, (_, ts))| *ts < before_ms || (*i as u64) < at_least)
            .map(|(_, key)| key)
            .collect();
        for key in &doomed {
            views.live.trails.remove(key);
        }
        Ok(doomed.len() as u64)
    }

    fn trail_len(&self, driver: &str) -> Result<u64, StoreError> {
        Ok(trail_of(&self.lock().live.trails, driver).count() as u64)
    }

    fn trail_drivers(&self) -> Result<Vec<String>, StoreError> {
        let views = self.lock();
        let mut ids: Vec<String> = views.live.trails.keys().map(|(d, _)| d.clone()).collect();
        ids.dedup();
        Ok(ids)
    }

    fn put_driver_states(&self, batch: &[(String, DriverStateRecord)]) -> Result<(), StoreError> {
        let mut views = self.lock();
        for (id, state) in batch {
            views.live.states.insert(id.clone(), state.clone());
        }
        Ok(())
    }

    fn load_drivers(&self) -> Result<Vec<DriverSnapshot>, StoreError> {
        let views = self.lock();
        Ok(views
            .live
            .drivers
            .values()
            .map(|d| views.live.snapshot(d))
            .collect())
    }

    fn append_event(&self, ev: &EventRecord) -> Result<u64, StoreError> {
        let mut views = self.lock();
        let seq = views.live.next_seq();
        views.live.events.insert(seq, ev.clone());
        Ok(seq)
    }

    fn trim_events(&self, keep: u64) -> Result<u64, StoreError> {
        let mut views = self.lock();
        let cutoff = views.live.next_seq().saturating_sub(keep.max(1));
        let kept = views.live.events.split_off(&cutoff);
        let dropped = std::mem::replace(&mut views.live.events, kept).len();
        Ok(dropped as u64)
    }

    fn events_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventRecord)>, StoreError> {
        let views = self.lock();
        Ok(views
            .live
            .events
            .range(from_seq..)
            .take(limit)
            .map(|(seq, ev)| (*seq, ev.clone()))
            .collect())
    }

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        // One lock for the whole change: a flush or crash sees all of it or none.
        let mut views = self.lock();
        let live = &mut views.live;
        for order in &changes.orders {
            if order.status.is_terminal() {
                live.open_orders.remove(&order.id);
            } else {
                live.open_orders.insert(order.id.clone());
            }
            live.orders.insert(order.id.clone(), order.clone());
        }
        for (driver, route) in &changes.routes {
            live.routes.insert(driver.clone(), route.clone());
        }
        Ok(())
    }

    fn get_order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.lock().live.orders.get(id).cloned())
    }

    fn list_orders(
        &self,
        after: Option<&str>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let views = self.lock();
        Ok(views
            .live
            .orders
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, order)| order)
            .filter(|order| status.is_none_or(|s| s == order.status))
            .take(limit)
            .cloned()
            .collect())
    }

    fn load_open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let views = self.lock();
        views
            .live
            .open_orders
            .iter()
            .map(|id| {
                // `apply` keeps both maps in step; mirror SledStore's check anyway.
                views
                    .live
                    .orders
                    .get(id)
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt {
                        tree: "open_orders",
                        key: id.clone(),
                        reason: "open order is missing from `orders`".to_owned(),
                    })
            })
            .collect()
    }

    fn load_routes(&self) -> Result<Vec<(String, RouteRecord)>, StoreError> {
        let views = self.lock();
        Ok(views
            .live
            .routes
            .iter()
            .map(|(driver, route)| (driver.clone(), route.clone()))
            .collect())
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.fail_flushes.load(Ordering::SeqCst) {
            return Err(StoreError::Io("injected flush failure".to_owned()));
        }
        let mut views = self.lock();
        views.durable = views.live.clone();
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{EventKind, OrderStatusRecord as S, StopRecord};

    fn order(id: &str, status: S) -> OrderRecord {
        let stop = StopRecord {
            lat: 0.0,
            lon: 0.0,
            ready_ms: None,
            due_ms: None,
            service_s: 0,
        };
        OrderRecord {
            id: id.into(),
            pickup: stop,
            dropoff: stop,
            size: 1,
            priority: 0,
            status,
            driver_id: None,
            pickup_eta_ms: None,
            dropoff_eta_ms: None,
            created_ms: 0,
            history: Vec::new(),
            details: Default::default(),
        }
    }

    fn route(version: u64) -> RouteRecord {
        RouteRecord {
            version,
            stops: Vec::new(),
        }
    }

    /// Everything `apply` touches, as the reads see it.
    type Visible = (
        Vec<OrderRecord>,
        Vec<OrderRecord>,
        Vec<(String, RouteRecord)>,
    );

    fn visible(store: &MemStore) -> Visible {
        (
            store.list_orders(None, usize::MAX, None).unwrap(),
            store.load_open_orders().unwrap(),
            store.load_routes().unwrap(),
        )
    }

    fn ev(id: &str) -> EventRecord {
        EventRecord {
            at_ms: 1,
            kind: EventKind::DriverRegistered { id: id.into() },
        }
    }

    fn driver(id: &str) -> DriverRecord {
        DriverRecord {
            id: id.into(),
            name: Some(id.to_uppercase()),
            capacity: 1,
            created_ms: 2,
        }
    }

    #[test]
    fn crash_keeps_only_flushed_writes() {
        let store = MemStore::new();
        store.put_driver(&driver("a")).unwrap();
        assert_eq!(store.append_event(&ev("a")).unwrap(), 1);
        store.flush().unwrap();
        store.put_driver(&driver("b")).unwrap();
        assert_eq!(store.append_event(&ev("b")).unwrap(), 2);
        store.crash();
        assert!(store.get_driver("a").unwrap().is_some());
        assert!(store.get_driver("b").unwrap().is_none());
        // The lost event's number is handed out again, as sled would after a crash.
        assert_eq!(store.append_event(&ev("c")).unwrap(), 2);
        store.reopen().unwrap();
        assert_eq!(store.events_from(0, 10).unwrap().len(), 2);
        assert_eq!(store.trim_events(1).unwrap(), 1);
        assert_eq!(store.events_from(0, 10).unwrap()[0].0, 2);
        assert_eq!(store.flush_count(), 2);
    }

    #[test]
    fn injected_flush_failure_makes_nothing_durable() {
        let store = MemStore::new();
        store.put_driver(&driver("a")).unwrap();
        store.set_fail_flushes(true);
        assert!(matches!(store.flush(), Err(StoreError::Io(_))));
        store.crash();
        assert!(store.load_drivers().unwrap().is_empty());
    }

    #[test]
    fn crash_keeps_whole_flushed_changes_and_drops_unflushed_ones() {
        let store = MemStore::new();
        let first = Changes {
            orders: vec![order("o1", S::Pending), order("o2", S::Assigned)],
            routes: vec![("d1".into(), route(1))],
        };
        store.apply(&first).unwrap();
        store.crash();
        assert_eq!(visible(&store), (vec![], vec![], vec![]), "unflushed: gone");

        store.apply(&first).unwrap();
        store.flush().unwrap();
        store.crash();
        let kept = visible(&store);
        assert_eq!(kept.0, first.orders, "flushed: kept");
        assert_eq!(kept.1, first.orders);
        assert_eq!(kept.2, first.routes);

        // A second change touches every table; unflushed, a crash takes all of it back.
        let second = Changes {
            orders: vec![order("o1", S::Delivered), order("o3", S::Pending)],
            routes: vec![("d1".into(), route(2)), ("d2".into(), route(1))],
        };
        store.apply(&second).unwrap();
        assert_eq!(store.load_open_orders().unwrap().len(), 2);
        store.crash();
        assert_eq!(visible(&store), kept, "none of the unflushed change");

        // Flushed, all of it survives, including the open set's update.
        store.apply(&second).unwrap();
        store.flush().unwrap();
        store.crash();
        let (all, open, routes) = visible(&store);
        assert_eq!(
            all,
            [
                order("o1", S::Delivered),
                order("o2", S::Assigned),
                order("o3", S::Pending)
            ]
        );
        assert_eq!(open, [order("o2", S::Assigned), order("o3", S::Pending)]);
        assert_eq!(routes, [("d1".into(), route(2)), ("d2".into(), route(1))]);
    }
}
