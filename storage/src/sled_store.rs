//! [`SledStore`]: the [`Store`] on sled 0.34. The only file of the workspace that
//! imports sled.
//!
//! Trees: `drivers` (id → [`DriverRecord`]), `driver_state` (id →
//! [`DriverStateRecord`], overwritten), `events` (big-endian seq → [`EventRecord`]) and
//! `meta` (`format` → on-disk layout version). sled makes a write durable only at a
//! flush; [`Store::flush`] calls `Db::flush`, which covers every tree (they share one
//! log).

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::error::StoreError;
use crate::keys;
use crate::records::{DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, Versioned};
use crate::store::Store;

/// Version of the tree layout, stored under `meta/format`. Bump it when trees or key
/// encodings change; a database with a newer layout is refused at open.
const FORMAT_VERSION: u8 = 1;
const META_FORMAT_KEY: &[u8] = b"format";

/// Settings of [`SledStore::open_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    /// Bytes of sled's page cache. Memory grows with it; 64 MiB holds the drivers and
    /// recent events of a metro comfortably.
    pub cache_capacity_bytes: u64,
    /// sled's background flush period. It bounds what an unflushed write can lose
    /// (positions rely on it and on explicit flushes); `None` turns it off.
    pub flush_every_ms: Option<u64>,
    /// How long `open` keeps retrying while another handle still holds the database's
    /// file lock. sled releases the lock asynchronously after the last handle drops
    /// (epoch-based reclamation frees the file later, possibly on another thread), so
    /// an immediate reopen in the same process can briefly fail; a second process on
    /// the same directory still fails once this runs out. `Duration::ZERO`: one try.
    pub lock_wait: Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: 64 * 1024 * 1024,
            flush_every_ms: Some(500),
            lock_wait: Duration::from_secs(2),
        }
    }
}

/// The sled-backed [`Store`].
pub struct SledStore {
    /// The database; flushed by [`Store::flush`], kept for `close`.
    db: sled::Db,
    /// Registrations, keyed by driver id.
    drivers: sled::Tree,
    /// Latest state per driver, keyed by driver id.
    states: sled::Tree,
    /// Event log, keyed by big-endian sequence number.
    events: sled::Tree,
    /// Next event sequence number. The lock is held across allocation *and* insert so
    /// events land in the tree in sequence order: a concurrent reader never sees
    /// event n+1 without event n.
    next_seq: Mutex<u64>,
}

impl SledStore {
    /// Opens (or creates) the database in `dir` with [`SledOptions::default`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &SledOptions::default())
    }

    /// Opens (or creates) the database in `dir`.
    pub fn open_with(dir: &Path, opts: &SledOptions) -> Result<Self, StoreError> {
        let db = open_db_retrying(dir, opts)?;
        let meta = db.open_tree("meta")?;
        check_format(&meta)?;
        let drivers = db.open_tree("drivers")?;
        let states = db.open_tree("driver_state")?;
        let events = db.open_tree("events")?;
        let next_seq = match events.last()? {
            Some((key, _)) => {
                keys::event_seq(&key)?
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Corrupt {
                        tree: "events",
                        key: u64::MAX.to_string(),
                        reason: "event sequence exhausted".to_owned(),
                    })?
            }
            None => 1,
        };
        info!(dir = %dir.display(), next_seq, "sled store opened");
        Ok(Self {
            db,
            drivers,
            states,
            events,
            next_seq: Mutex::new(next_seq),
        })
    }

    /// Flushes and closes. The file lock may outlive this call by a moment (see
    /// [`SledOptions::lock_wait`]); a later `open` in the same process waits for it.
    pub fn close(self) -> Result<(), StoreError> {
        self.db.flush()?;
        drop(self);
        Ok(())
    }

    fn snapshot(&self, driver: DriverRecord) -> Result<DriverSnapshot, StoreError> {
        let state = self
            .states
            .get(keys::driver_key(&driver.id))?
            .map(|v| DriverStateRecord::from_bytes(&driver.id, &v))
            .transpose()?;
        Ok(DriverSnapshot { driver, state })
    }
}

impl Store for SledStore {
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        self.drivers
            .insert(keys::driver_key(&rec.id), rec.to_bytes())?;
        Ok(())
    }

    fn get_driver(&self, id: &str) -> Result<Option<DriverSnapshot>, StoreError> {
        match self.drivers.get(keys::driver_key(id))? {
            Some(v) => Ok(Some(self.snapshot(DriverRecord::from_bytes(id, &v)?)?)),
            None => Ok(None),
        }
    }

    fn put_driver_states(&self, batch: &[(String, DriverStateRecord)]) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (id, state) in batch {
            b.insert(keys::driver_key(id), state.to_bytes());
        }
        self.states.apply_batch(b)?;
        Ok(())
    }

    fn load_drivers(&self) -> Result<Vec<DriverSnapshot>, StoreError> {
        let mut out = Vec::new(); // no `len()`: sled counts by scanning the tree
        for entry in self.drivers.iter() {
            let (key, value) = entry?;
            let id = keys::driver_id(DriverRecord::TREE, &key)?;
            let driver = DriverRecord::from_bytes(&id, &value)?;
            if driver.id != id {
                return Err(StoreError::Corrupt {
                    tree: DriverRecord::TREE,
                    key: id,
                    reason: format!("record holds id {:?}", driver.id),
                });
            }
            out.push(self.snapshot(driver)?);
        }
        Ok(out)
    }

    fn append_event(&self, ev: &EventRecord) -> Result<u64, StoreError> {
        let mut next = self.next_seq.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = *next;
        self.events.insert(keys::event_key(seq), ev.to_bytes())?;
        *next = seq + 1;
        Ok(seq)
    }

    fn events_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventRecord)>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for entry in self.events.range(keys::event_key(from_seq)..) {
            let (key, value) = entry?;
            let seq = keys::event_seq(&key)?;
            out.push((seq, EventRecord::from_bytes(&seq.to_string(), &value)?));
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let bytes = self.db.flush()?;
        debug!(bytes, "sled flushed");
        Ok(())
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::Io(io.to_string()),
            other => StoreError::Sled(other.to_string()),
        }
    }
}

/// Opens the database, retrying with a bounded exponential back-off (1 ms doubling,
/// capped at 50 ms, for at most `opts.lock_wait`) while the file lock is held. This is
/// the crate's only timed wait: sled gives no way to be notified when the lock of a
/// dropped `Db` is released.
fn open_db_retrying(dir: &Path, opts: &SledOptions) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(opts.cache_capacity_bytes)
        .flush_every_ms(opts.flush_every_ms);
    let deadline = Instant::now() + opts.lock_wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(e) if is_lock_error(&e) && Instant::now() < deadline => {
                debug!(dir = %dir.display(), ?pause, "sled lock still held, retrying");
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// sled 0.34 reports a held lock as an `Io` error of kind `Other` with this text.
fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

fn check_format(meta: &sled::Tree) -> Result<(), StoreError> {
    match meta.get(META_FORMAT_KEY)? {
        None => {
            meta.insert(META_FORMAT_KEY, &[FORMAT_VERSION])?;
            Ok(())
        }
        Some(v) if v.as_ref() == [FORMAT_VERSION] => Ok(()),
        Some(v) => Err(StoreError::UnknownVersion {
            tree: "meta",
            version: v.first().copied().unwrap_or(0),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{DriverStatusRecord, EventKind};

    fn ev(at_ms: u64) -> EventRecord {
        EventRecord {
            at_ms,
            kind: EventKind::DriverRegistered {
                id: format!("d{at_ms}"),
            },
        }
    }

    fn driver(id: &str) -> DriverRecord {
        DriverRecord {
            id: id.into(),
            name: None,
            capacity: 3,
            created_ms: 1,
        }
    }

    fn state(lat: f64) -> DriverStateRecord {
        DriverStateRecord {
            lat,
            lon: 2.0,
            ts_ms: 3,
            status: DriverStatusRecord::Available,
            updated_ms: 4,
            has_position: true,
        }
    }

    #[test]
    fn event_seq_is_monotonic_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.append_event(&ev(1)).unwrap(), 1);
        assert_eq!(store.append_event(&ev(2)).unwrap(), 2);
        store.close().unwrap();

        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.append_event(&ev(3)).unwrap(), 3);
        let seqs: Vec<u64> = store
            .events_from(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        store.close().unwrap();
    }

    #[test]
    fn events_scan_in_numeric_order_past_one_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 0..300 {
            assert_eq!(store.append_event(&ev(i)).unwrap(), i + 1);
        }
        let got = store.events_from(250, 10).unwrap();
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (250..260).collect::<Vec<_>>());
        assert_eq!(got[0].1, ev(249));
        assert!(store.events_from(301, 10).unwrap().is_empty());
        assert!(store.events_from(1, 0).unwrap().is_empty());
    }

    #[test]
    fn drivers_load_in_id_order_with_latest_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for id in ["d2", "d10", "a", "d1"] {
            store.put_driver(&driver(id)).unwrap();
        }
        store
            .put_driver_states(&[
                ("d1".into(), state(1.0)),
                ("d2".into(), state(2.0)),
                ("d1".into(), state(1.5)),
                ("ghost".into(), state(9.0)),
            ])
            .unwrap();
        store
            .put_driver_states(&[("d2".into(), state(2.5))])
            .unwrap();
        let all = store.load_drivers().unwrap();
        let ids: Vec<&str> = all.iter().map(|s| s.driver.id.as_str()).collect();
        assert_eq!(ids, ["a", "d1", "d10", "d2"]);
        assert_eq!(all[0].state, None);
        assert_eq!(all[1].state, Some(state(1.5)));
        assert_eq!(all[3].state, Some(state(2.5)));
        assert_eq!(store.get_driver("ghost").unwrap(), None);
        assert_eq!(store.get_driver("d1").unwrap(), Some(all[1].clone()));
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .db
            .open_tree("meta")
            .unwrap()
            .insert(META_FORMAT_KEY, &[FORMAT_VERSION + 1])
            .unwrap();
        store.close().unwrap();
        assert!(matches!(
            SledStore::open(dir.path()),
            Err(StoreError::UnknownVersion {
                tree: "meta",
                version: 2
            })
        ));
    }

    #[test]
    fn unknown_record_version_surfaces_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut bytes = driver("d1").to_bytes();
        bytes[0] = 9;
        store.drivers.insert("d1", bytes).unwrap();
        assert_eq!(
            store.get_driver("d1"),
            Err(StoreError::UnknownVersion {
                tree: "drivers",
                version: 9
            })
        );
        assert!(store.load_drivers().is_err());
    }

    #[test]
    fn second_open_while_held_fails_after_lock_wait() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let opts = SledOptions {
            lock_wait: Duration::ZERO,
            ..SledOptions::default()
        };
        assert!(matches!(
            SledStore::open_with(dir.path(), &opts),
            Err(StoreError::Io(msg)) if msg.contains("lock")
        ));
        drop(store);
    }
}
