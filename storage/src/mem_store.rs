//! [`MemStore`]: the in-memory twin of [`SledStore`](crate::SledStore), built on
//! `BTreeMap`s, with a model of crash semantics.
//!
//! Writes go to a *live* view that reads see; [`Store::flush`] copies it to the
//! *durable* view. [`MemStore::crash`] throws the live view away and keeps only what was
//! flushed; [`MemStore::reopen`] models a clean close and open (flush first). A real
//! sled database may keep more than the durable view after a crash (its background
//! flush), never less.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::StoreError;
use crate::records::{DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord};
use crate::store::Store;

/// One copy of every tree.
#[derive(Debug, Clone, Default)]
struct Tables {
    /// Registrations by id (`drivers` tree).
    drivers: BTreeMap<String, DriverRecord>,
    /// Latest state by id (`driver_state` tree).
    states: BTreeMap<String, DriverStateRecord>,
    /// Event log by sequence number (`events` tree).
    events: BTreeMap<u64, EventRecord>,
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

impl Store for MemStore {
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        self.lock().live.drivers.insert(rec.id.clone(), rec.clone());
        Ok(())
    }

    fn get_driver(&self, id: &str) -> Result<Option<DriverSnapshot>, StoreError> {
        let views = self.lock();
        Ok(views.live.drivers.get(id).map(|d| views.live.snapshot(d)))
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
    use crate::records::EventKind;

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
}
