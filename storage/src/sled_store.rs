//! [`SledStore`]: the [`Store`] on sled 0.34. The only file of the workspace that
//! imports sled — one file because that boundary stays greppable; what needs no sled
//! (manifest, witness, judgement, record scan) lives in `integrity.rs` and `verify.rs`.
//!
//! Trees:
//! - `drivers`: driver id → [`DriverRecord`].
//! - `driver_state`: driver id → [`DriverStateRecord`], overwritten.
//! - `events`: big-endian seq → [`EventRecord`].
//! - `orders`: order id → [`OrderRecord`], overwritten, never deleted.
//! - `open_orders`: order id → empty value, for every stored order whose status is not
//!   terminal; the index [`Store::load_open_orders`] walks instead of all orders.
//! - `routes`: driver id → [`RouteRecord`], overwritten.
//! - `trails`: driver id, 0, big-endian fix time → [`TrailPointRecord`]: position
//!   history, trimmed by the engine (age, count per driver); not in the manifest.
//! - `proofs`: order id → [`ProofRecord`](crate::ProofRecord): proof-of-delivery
//!   images, overwritten; not in the manifest.
//! - `meta`: `format` → on-disk layout version; `manifest` → the
//!   [`Manifest`](crate::integrity::Manifest) (generation, record counts).
//!
//! [`Store::apply`] writes `orders`, `open_orders` and `routes` in one sled transaction,
//! so the index never disagrees with the orders after a crash. sled makes a write
//! durable only at a flush; [`Store::flush`] calls `Db::flush`, which covers every tree
//! (they share one log).
//!
//! Integrity (see `integrity.rs`): `open` reads every record and judges the counts
//! against the manifest and the witness file beside the database; a damaged store is
//! [`StoreError::Damaged`], never opened with acknowledged data missing. Every write
//! holds the read side of a gate that [`Store::export`] takes exclusively.

use std::convert::Infallible;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sled::transaction::TransactionError;
use sled::Transactional;
use tracing::{debug, info, warn};

use crate::error::StoreError;
use crate::export::Export;
use crate::integrity::{judge, Counts, Delta, Manifest, Report, Tracker, Witness};
use crate::keys;
use crate::proof::ProofRecord;
use crate::records::{
    Changes, DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, OrderRecord,
    OrderStatusRecord, RouteRecord, TrailPointRecord, Versioned,
};
use crate::store::{Recovery, Store};
use crate::verify::{scan, RawTrees, Visit, DATA_TREES, OPEN_ORDERS_TREE};

/// Version of the tree layout, stored under `meta/format`. Bump it when trees or key
/// encodings change incompatibly; a database with a newer layout is refused at open.
///
/// The `orders`, `open_orders` and `routes` trees came without a bump: new trees are
/// additive. This build opening an older database finds them empty, which is their
/// true content (no order or route was ever written there); an older build opening a
/// newer database never opens them, so it neither reads nor breaks them.
const FORMAT_VERSION: u8 = 1;
const META_FORMAT_KEY: &[u8] = b"format";
const META_MANIFEST_KEY: &[u8] = b"manifest";

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
    /// The witness file, outside the database directory (the engine puts it in the data
    /// dir): checked at open, rewritten after every flush. `None`: no witness (tests).
    pub witness: Option<PathBuf>,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self {
            cache_capacity_bytes: 64 * 1024 * 1024,
            flush_every_ms: Some(500),
            lock_wait: Duration::from_secs(2),
            witness: None,
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
    /// Orders, keyed by order id.
    orders: sled::Tree,
    /// Ids of the orders whose status is not terminal (empty values), so recovery
    /// reads only those; written only together with `orders`, in one transaction.
    open_orders: sled::Tree,
    /// Current route per driver, keyed by driver id.
    routes: sled::Tree,
    /// Position history, keyed by driver id, 0, big-endian fix time.
    trails: sled::Tree,
    /// Proof-of-delivery images, keyed by order id.
    proofs: sled::Tree,
    /// Next event sequence number. The lock is held across allocation *and* insert so
    /// events land in the tree in sequence order: a concurrent reader never sees
    /// event n+1 without event n.
    next_seq: Mutex<u64>,
    /// Holds the manifest.
    meta: sled::Tree,
    /// Writes hold it shared, [`Store::export`] exclusively: an export sees no write
    /// half done.
    gate: RwLock<()>,
    /// Generation and record counts, for the manifest.
    tracker: Tracker,
    /// Where the witness goes, and the generation it (or the manifest) last recorded.
    witness: Option<PathBuf>,
    recorded: Mutex<Recorded>,
    /// What the verification at open found.
    report: Report,
    /// What recovery reads, as the verification at open decoded it: handed over once
    /// by [`Store::load_recovery`], if `recovery_writes` is still 0.
    recovery: Mutex<Option<Recovery>>,
    /// Writes of drivers, driver states, orders or routes since the open.
    recovery_writes: AtomicU64,
    /// Set by `close`, so `Drop` does not record a second time.
    closed: bool,
}

/// The last generation the witness (or the manifest) recorded, and the witness file,
/// kept open so each flush overwrites it in place.
struct Recorded {
    generation: u64,
    file: Option<std::fs::File>,
}

/// A store dropped without `close` (the engine's last `Arc`) still records a clean
/// manifest, so the next open can check exact counts.
impl Drop for SledStore {
    fn drop(&mut self) {
        if !self.closed {
            if let Err(e) = self.record(true, true) {
                warn!(error = %e, "recording the store manifest at close failed");
            }
        }
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir` with [`SledOptions::default`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &SledOptions::default())
    }

    /// Opens (or creates) the database in `dir`, verifying it first: every record
    /// decodes and the counts agree with the manifest and the witness; otherwise
    /// [`StoreError::Damaged`] says why. A database held by another process is
    /// [`StoreError::Locked`] once `opts.lock_wait` ran out.
    pub fn open_with(dir: &Path, opts: &SledOptions) -> Result<Self, StoreError> {
        Self::open_verified(dir, opts, true)
    }

    /// [`SledStore::open_with`]; `keep`: keep what recovery reads from the scan.
    fn open_verified(dir: &Path, opts: &SledOptions, keep: bool) -> Result<Self, StoreError> {
        let (db, meta, report, recovery) = verify_open(dir, opts, keep)?;
        let events = db.open_tree(EventRecord::TREE)?;
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
        let store = Self {
            drivers: db.open_tree(DriverRecord::TREE)?,
            states: db.open_tree(DriverStateRecord::TREE)?,
            events,
            orders: db.open_tree(OrderRecord::TREE)?,
            open_orders: db.open_tree(OPEN_ORDERS_TREE)?,
            routes: db.open_tree(RouteRecord::TREE)?,
            trails: db.open_tree(TrailPointRecord::TREE)?,
            proofs: db.open_tree(ProofRecord::TREE)?,
            db,
            next_seq: Mutex::new(next_seq),
            meta,
            gate: RwLock::new(()),
            tracker: Tracker::new(report.generation, report.counts),
            witness: opts.witness.clone(),
            recorded: Mutex::new(Recorded {
                generation: report.generation,
                file: None,
            }),
            report,
            recovery: Mutex::new(recovery),
            recovery_writes: AtomicU64::new(0),
            closed: false,
        };
        // From here on the manifest no longer claims a clean close.
        store.record(false, true)?;
        info!(dir = %dir.display(), next_seq, generation = store.report.generation, "sled store opened and verified");
        Ok(store)
    }

    /// Verifies the database in `dir` as [`SledStore::open_with`] does, without
    /// writing records or the witness (`dispatch store check`). Needs the file lock,
    /// so the engine must not be running on it.
    pub fn check(dir: &Path, opts: &SledOptions) -> Result<Report, StoreError> {
        if !dir.exists() {
            return Err(damaged(dir, "there is no database here".to_owned()));
        }
        let (_db, _meta, report, _) = verify_open(dir, opts, false)?;
        Ok(report)
    }

    /// Creates a database in `dir`, which must not exist or be empty, from `export`;
    /// verifies it as any open does and closes it cleanly (with its witness, when
    /// `opts` names one). What a backup and a restore write.
    pub fn create_from(
        dir: &Path,
        export: &Export,
        opts: &SledOptions,
    ) -> Result<Report, StoreError> {
        let used = std::fs::read_dir(dir).map(|mut d| d.next().is_some());
        if used.unwrap_or(false) {
            return Err(StoreError::Io(format!("{} is not empty", dir.display())));
        }
        {
            let db = open_db_retrying(dir, opts)?;
            for (name, pairs) in &export.trees {
                let mut batch = sled::Batch::default();
                for (key, value) in pairs {
                    batch.insert(key.as_slice(), value.as_slice());
                }
                db.open_tree(name)?.apply_batch(batch)?;
            }
            db.flush()?;
        }
        let store = Self::open_verified(dir, opts, false)?;
        let report = store.report.clone();
        store.close()?;
        Ok(report)
    }

    /// Verifies the database in `dir` like [`SledStore::check`] and copies every
    /// record, writing nothing: a restore reads a backup this way.
    pub fn export_from(dir: &Path, opts: &SledOptions) -> Result<(Export, Report), StoreError> {
        if !dir.exists() {
            return Err(damaged(dir, "there is no database here".to_owned()));
        }
        let (db, _meta, report, _) = verify_open(dir, opts, false)?;
        Ok((export_db(&db)?, report))
    }

    /// What the verification at open found.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Flushes and closes, recording a clean manifest (exact counts). The file lock
    /// may outlive this call by a moment (see [`SledOptions::lock_wait`]); a later
    /// `open` in the same process waits for it.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.closed = true;
        self.record(true, true)
    }

    /// Writes the manifest, flushes, then the witness, so the witness never claims
    /// more than is durable. `clean`: no writer is left, the counts are exact;
    /// `sync`: fsync the witness, and write it even if the generation did not move.
    fn record(&self, clean: bool, sync: bool) -> Result<(), StoreError> {
        let (generation, counts) = self.tracker.snapshot();
        let manifest = Manifest {
            generation,
            clean,
            counts,
        };
        self.meta.insert(META_MANIFEST_KEY, manifest.to_bytes())?;
        self.db.flush()?;
        self.witness_at(generation, counts, sync);
        Ok(())
    }

    /// Rewrites the witness unless a newer generation is already there. A failed
    /// write leaves an older witness, which only weakens the next check: logged.
    /// `sync`: fsync it, and write it even when the generation did not move.
    fn witness_at(&self, generation: u64, counts: Counts, sync: bool) {
        let mut recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        if generation < recorded.generation || (generation == recorded.generation && !sync) {
            return;
        }
        recorded.generation = generation;
        let Some(path) = &self.witness else { return };
        let written = match &recorded.file {
            Some(file) => Ok(file),
            None => Witness::open_for_overwrite(path).map(|f| &*recorded.file.insert(f)),
        }
        .and_then(|file| (Witness { generation, counts }).overwrite(file, sync));
        if let Err(e) = written {
            warn!(path = %path.display(), error = %e, "writing the store witness failed");
            // Reopened at the next flush: the file may have been replaced or removed.
            recorded.file = None;
        }
    }

    /// Counts one committed write for the manifest.
    fn wrote(&self, delta: &Delta) {
        self.tracker.commit(delta);
    }

    /// Counts a write that changes what recovery reads.
    fn changed_recovery(&self) {
        self.recovery_writes.fetch_add(1, Ordering::Release);
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

/// Decodes an `orders` value stored under `id`, refusing one that names another order.
fn decode_order(id: String, value: &[u8]) -> Result<OrderRecord, StoreError> {
    let order = OrderRecord::from_bytes(&id, value)?;
    if order.id != id {
        return Err(StoreError::Corrupt {
            tree: OrderRecord::TREE,
            key: id,
            reason: format!("record holds id {:?}", order.id),
        });
    }
    Ok(order)
}

/// Maps the outcome of an [`Store::apply`] transaction. The closure never aborts
/// (everything that can fail is encoded before it runs), hence `Infallible`.
fn from_transaction(e: TransactionError<Infallible>) -> StoreError {
    match e {
        TransactionError::Abort(never) => match never {},
        TransactionError::Storage(e) => e.into(),
    }
}

impl Store for SledStore {
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError> {
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        let old = self
            .drivers
            .insert(keys::driver_key(&rec.id), rec.to_bytes())?;
        let mut d = Delta::default();
        d.added.drivers = u64::from(old.is_none());
        self.wrote(&d);
        self.changed_recovery();
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
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        self.states.apply_batch(b)?;
        self.wrote(&Delta::default());
        self.changed_recovery();
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
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        let mut next = self.next_seq.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = *next;
        let old = self.events.insert(keys::event_key(seq), ev.to_bytes())?;
        *next = seq + 1;
        let mut d = Delta::default();
        d.added.events = u64::from(old.is_none());
        self.wrote(&d);
        Ok(seq)
    }

    fn trim_events(&self, keep: u64) -> Result<u64, StoreError> {
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        let next = *self.next_seq.lock().unwrap_or_else(PoisonError::into_inner);
        let cutoff = next.saturating_sub(keep.max(1));
        let mut batch = sled::Batch::default();
        let mut dropped = 0;
        for key in self.events.range(..keys::event_key(cutoff)).keys() {
            batch.remove(key?);
            dropped += 1;
        }
        if dropped > 0 {
            self.events.apply_batch(batch)?;
            let mut d = Delta::default();
            d.removed.events = dropped;
            self.wrote(&d);
        }
        Ok(dropped)
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

    fn apply(&self, changes: &Changes) -> Result<(), StoreError> {
        // Encode before the transaction: sled re-runs the closure on conflicts, and the
        // closure then only copies bytes.
        let orders: Vec<(&[u8], Vec<u8>, bool)> = changes
            .orders
            .iter()
            .map(|o| (keys::order_key(&o.id), o.to_bytes(), o.status.is_terminal()))
            .collect();
        let routes: Vec<(&[u8], Vec<u8>)> = changes
            .routes
            .iter()
            .map(|(driver, route)| (keys::driver_key(driver), route.to_bytes()))
            .collect();
        // Writes inside one transaction are applied in call order per key, so a later
        // entry for the same id wins, in `orders` and in the index alike.
        // The closure counts what it added and removed, for the manifest; sled may
        // re-run it, so only the count of the run that committed is kept.
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        let result: Result<Delta, TransactionError<Infallible>> =
            (&self.orders, &self.open_orders, &self.routes).transaction(
                |(tx_orders, tx_open, tx_routes)| {
                    let mut d = Delta::default();
                    for (key, value, terminal) in &orders {
                        let new = tx_orders.insert(*key, value.as_slice())?.is_none();
                        d.added.orders += u64::from(new);
                        if *terminal {
                            let was = tx_open.remove(*key)?.is_some();
                            d.removed.open_orders += u64::from(was);
                        } else {
                            let new = tx_open.insert(*key, &[] as &[u8])?.is_none();
                            d.added.open_orders += u64::from(new);
                        }
                    }
                    for (key, value) in &routes {
                        let new = tx_routes.insert(*key, value.as_slice())?.is_none();
                        d.added.routes += u64::from(new);
                    }
                    Ok(d)
                },
            );
        self.wrote(&result.map_err(from_transaction)?);
        self.changed_recovery();
        Ok(())
    }

    fn get_order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.orders
            .get(keys::order_key(id))?
            .map(|v| decode_order(id.to_owned(), &v))
            .transpose()
    }

    fn list_orders(
        &self,
        after: Option<&str>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let start = match after {
            Some(after) => Bound::Excluded(keys::order_key(after)),
            None => Bound::Unbounded,
        };
        for entry in self.orders.range::<&[u8], _>((start, Bound::Unbounded)) {
            let (key, value) = entry?;
            let order = decode_order(keys::order_id(OrderRecord::TREE, &key)?, &value)?;
            if status.is_none_or(|s| s == order.status) {
                out.push(order);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn load_open_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self.open_orders.iter() {
            let (key, _) = entry?;
            let id = keys::order_id(OPEN_ORDERS_TREE, &key)?;
            let Some(value) = self.orders.get(&key)? else {
                // Orders are never deleted, and `apply` writes both trees together.
                return Err(StoreError::Corrupt {
                    tree: OPEN_ORDERS_TREE,
                    key: id,
                    reason: "open order is missing from `orders`".to_owned(),
                });
            };
            let order = decode_order(id, &value)?;
            // Terminal here means an `apply` closed it between the two reads (the scan
            // is no snapshot); it is no longer open, so it is left out.
            if !order.status.is_terminal() {
                out.push(order);
            }
        }
        Ok(out)
    }

    fn load_routes(&self) -> Result<Vec<(String, RouteRecord)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.routes.iter() {
            let (key, value) = entry?;
            let driver = keys::driver_id(RouteRecord::TREE, &key)?;
            let route = RouteRecord::from_bytes(&driver, &value)?;
            out.push((driver, route));
        }
        Ok(out)
    }

    fn load_recovery(&self) -> Result<Recovery, StoreError> {
        let kept = self
            .recovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match kept {
            Some(r) if self.recovery_writes.load(Ordering::Acquire) == 0 => Ok(r),
            _ => Ok(Recovery {
                drivers: self.load_drivers()?,
                open_orders: self.load_open_orders()?,
                routes: self.load_routes()?,
            }),
        }
    }

    fn put_trail_points(&self, batch: &[(String, TrailPointRecord)]) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (id, point) in batch {
            b.insert(keys::trail_key(id, point.ts_ms), point.to_bytes());
        }
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        self.trails.apply_batch(b)?;
        self.wrote(&Delta::default());
        Ok(())
    }

    fn trail_points(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<TrailPointRecord>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 || from_ms > to_ms {
            return Ok(out);
        }
        let range = keys::trail_key(driver, from_ms)..=keys::trail_key(driver, to_ms);
        for entry in self.trails.range(range) {
            let (key, value) = entry?;
            let (id, _) = keys::trail_parts(&key)?;
            out.push(TrailPointRecord::from_bytes(&id, &value)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    fn trim_trail(&self, driver: &str, before_ms: u64, at_least: u64) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut dropped = 0;
        for key in self.trails.scan_prefix(keys::trail_prefix(driver)).keys() {
            let key = key?;
            let (_, ts) = keys::trail_parts(&key)?;
            if ts >= before_ms && dropped >= at_least {
                break;
            }
            batch.remove(key);
            dropped += 1;
        }
        if dropped > 0 {
            let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
            self.trails.apply_batch(batch)?;
            self.wrote(&Delta::default());
        }
        Ok(dropped)
    }

    fn trail_len(&self, driver: &str) -> Result<u64, StoreError> {
        let mut n = 0;
        for key in self.trails.scan_prefix(keys::trail_prefix(driver)).keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }

    fn trail_drivers(&self) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        while let Some((key, _)) = self.trails.range(from.as_slice()..).next().transpose()? {
            let (id, _) = keys::trail_parts(&key)?;
            // Past every key of this driver: its id, then a byte above the 0 separator.
            from = id.as_bytes().to_vec();
            from.push(1);
            out.push(id);
        }
        Ok(out)
    }

    fn put_proof(&self, order_id: &str, proof: &ProofRecord) -> Result<(), StoreError> {
        let _write = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        self.proofs
            .insert(keys::order_key(order_id), proof.to_bytes())?;
        self.wrote(&Delta::default());
        Ok(())
    }

    fn get_proof(&self, order_id: &str) -> Result<Option<ProofRecord>, StoreError> {
        self.proofs
            .get(keys::order_key(order_id))?
            .map(|v| ProofRecord::from_bytes(order_id, &v))
            .transpose()
    }

    fn export(&self) -> Result<Export, StoreError> {
        let _paused = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        export_db(&self.db)
    }

    /// Writes the manifest when the generation moved, flushes (covering it and every
    /// write counted in it), then the witness.
    fn flush(&self) -> Result<(), StoreError> {
        let (generation, counts) = self.tracker.snapshot();
        let moved = generation
            > self
                .recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .generation;
        if moved {
            let manifest = Manifest {
                generation,
                clean: false,
                counts,
            };
            self.meta.insert(META_MANIFEST_KEY, manifest.to_bytes())?;
        }
        let bytes = self.db.flush()?;
        debug!(bytes, "sled flushed");
        if moved {
            self.witness_at(generation, counts, false);
        }
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
            Err(e) if is_lock_error(&e) => {
                return Err(StoreError::Locked {
                    dir: dir.display().to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Every data tree of `db`, raw.
fn export_db(db: &sled::Db) -> Result<Export, StoreError> {
    let mut trees = Vec::with_capacity(DATA_TREES.len());
    for name in DATA_TREES {
        let mut pairs = Vec::new();
        DbTrees(db).each(name, &mut |key, value| {
            pairs.push((key.to_vec(), value.to_vec()));
            Ok(())
        })?;
        trees.push((name, pairs));
    }
    Ok(Export { trees })
}

/// A [`StoreError::Damaged`] for `dir`.
fn damaged(dir: &Path, reason: String) -> StoreError {
    StoreError::Damaged {
        dir: dir.display().to_string(),
        reason,
    }
}

/// The database's trees, for [`scan`] and [`Store::export`].
struct DbTrees<'a>(&'a sled::Db);

impl RawTrees for DbTrees<'_> {
    type Bytes = sled::IVec;

    fn each(&self, tree: &'static str, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        for entry in self.0.open_tree(tree)?.iter() {
            let (key, value) = entry?;
            visit(&key, &value)?;
        }
        Ok(())
    }

    fn each_batch(
        &self,
        tree: &'static str,
        size: usize,
        visit: &mut dyn FnMut(Vec<(sled::IVec, sled::IVec)>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(size);
        for entry in self.0.open_tree(tree)?.iter() {
            batch.push(entry?);
            if batch.len() == size {
                visit(std::mem::replace(&mut batch, Vec::with_capacity(size)))?;
            }
        }
        if !batch.is_empty() {
            visit(batch)?;
        }
        Ok(())
    }
}

/// Opens the database and verifies it (module docs): the witness beside it first
/// (a missing database it vouches for is refused before sled would create an empty
/// one), then sled's own recovery, then every record against manifest and witness.
/// With `keep`, also what recovery reads.
#[allow(clippy::type_complexity)]
fn verify_open(
    dir: &Path,
    opts: &SledOptions,
    keep: bool,
) -> Result<(sled::Db, sled::Tree, Report, Option<Recovery>), StoreError> {
    let mut notes = Vec::new();
    let witness = match opts.witness.as_deref().map(Witness::read) {
        Some(Ok(w)) => w.map(|w| (w, opts.witness.clone().unwrap_or_default())),
        Some(Err(e)) => {
            notes.push(format!("witness file unreadable ({e}); checked without it"));
            None
        }
        None => None,
    };
    if let (Some((w, path)), false) = (&witness, dir.exists()) {
        let reason = format!(
            "the database directory is missing, but {} records generation {} with {} orders",
            path.display(),
            w.generation,
            w.counts.orders
        );
        return Err(damaged(dir, reason));
    }
    let started = Instant::now();
    let db = open_db_retrying(dir, opts)?;
    info!(dir = %dir.display(), took_ms = started.elapsed().as_millis(), "sled opened");
    let meta = db.open_tree("meta")?;
    check_format(&meta)?;
    let started = Instant::now();
    let scanned = scan(&DbTrees(&db), keep).map_err(|e| damaged(dir, e.to_string()))?;
    info!(
        dir = %dir.display(),
        orders = scanned.counts.orders,
        took_ms = started.elapsed().as_millis(),
        "every record decoded and checked"
    );
    let manifest = meta
        .get(META_MANIFEST_KEY)?
        .map(|v| Manifest::from_bytes(&v))
        .transpose()
        .map_err(|e| damaged(dir, e))?;
    judge(
        &scanned.counts,
        manifest.as_ref(),
        witness.as_ref().map(|(w, p)| (w, p)),
    )
    .map_err(|e| damaged(dir, e))?;
    if manifest.is_none() && scanned.counts != Counts::default() {
        notes.push("no manifest yet: built from the records found (first open after an upgrade, or a restore)".to_owned());
    }
    let report = Report {
        counts: scanned.counts,
        driver_states: scanned.driver_states,
        trail_points: scanned.trail_points,
        proofs: scanned.proofs,
        generation: manifest.map_or(0, |m| m.generation),
        notes,
    };
    for note in &report.notes {
        warn!(dir = %dir.display(), "{note}");
    }
    Ok((db, meta, report, scanned.recovery))
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
    use crate::records::{
        DriverStatusRecord, EventKind, OrderStatusRecord as S, RouteStopRecord, StatusChangeRecord,
        StopKindRecord, StopRecord,
    };

    fn order(id: &str, status: S) -> OrderRecord {
        let stop = StopRecord {
            lat: 1.0,
            lon: 2.0,
            ready_ms: None,
            due_ms: Some(9),
            service_s: 60,
        };
        OrderRecord {
            id: id.into(),
            pickup: stop,
            dropoff: StopRecord { lat: 3.0, ..stop },
            size: 1,
            priority: 0,
            status,
            driver_id: None,
            pickup_eta_ms: None,
            dropoff_eta_ms: None,
            created_ms: 5,
            history: vec![StatusChangeRecord {
                status,
                at_ms: 6,
                reason: None,
                note: None,
            }],
            details: Default::default(),
        }
    }

    fn route(version: u64, order_ids: &[&str]) -> RouteRecord {
        RouteRecord {
            version,
            stops: order_ids
                .iter()
                .map(|o| RouteStopRecord {
                    stop_id: format!("{o}-p"),
                    order_id: (*o).into(),
                    kind: StopKindRecord::Pickup,
                    lat: 1.0,
                    lon: 2.0,
                    eta_ms: 10,
                    ready_ms: None,
                    due_ms: None,
                    service_s: 60,
                    size: 1,
                })
                .collect(),
        }
    }

    fn orders(changes: &[OrderRecord]) -> Changes {
        Changes {
            orders: changes.to_vec(),
            routes: Vec::new(),
        }
    }

    fn ids(orders: &[OrderRecord]) -> Vec<&str> {
        orders.iter().map(|o| o.id.as_str()).collect()
    }

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

    /// What the three loads return, as one value.
    fn loaded(store: &SledStore) -> Recovery {
        Recovery {
            drivers: store.load_drivers().unwrap(),
            open_orders: store.load_open_orders().unwrap(),
            routes: store.load_routes().unwrap(),
        }
    }

    #[test]
    fn recovery_kept_at_open_equals_the_loads_and_is_not_used_after_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for id in ["b", "a", "c"] {
            store.put_driver(&driver(id)).unwrap();
        }
        // A state for "a" and "c", and one for a driver never registered.
        let states = [("c", 3.0), ("zz", 9.0), ("a", 1.0)];
        let states: Vec<_> = states
            .iter()
            .map(|(i, l)| (i.to_string(), state(*l)))
            .collect();
        store.put_driver_states(&states).unwrap();
        let mut closed = order("o2", S::Delivered);
        closed.driver_id = Some("a".into());
        store
            .apply(&Changes {
                orders: vec![order("o3", S::Assigned), closed, order("o1", S::Pending)],
                routes: vec![("c".into(), route(2, &["o3"])), ("a".into(), route(1, &[]))],
            })
            .unwrap();
        store.close().unwrap();

        let store = SledStore::open(dir.path()).unwrap();
        let expected = loaded(&store);
        assert_eq!(ids(&expected.open_orders), ["o1", "o3"]);
        assert_eq!(expected.drivers.len(), 3);
        assert!(
            expected.drivers[1].state.is_none(),
            "{:?}",
            expected.drivers
        );
        assert_eq!(store.load_recovery().unwrap(), expected);
        // Handed over once; then read again, with what was written since.
        store.apply(&orders(&[order("o4", S::Pending)])).unwrap();
        let after = store.load_recovery().unwrap();
        assert_eq!(ids(&after.open_orders), ["o1", "o3", "o4"]);
        assert_eq!(after, loaded(&store));
        store.close().unwrap();

        // A write between the open and the first call: the kept copy is stale.
        let store = SledStore::open(dir.path()).unwrap();
        store.put_driver(&driver("d")).unwrap();
        assert_eq!(store.load_recovery().unwrap().drivers.len(), 4);
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
    fn trimmed_events_keep_the_newest_and_numbering_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 1..=10 {
            assert_eq!(store.append_event(&ev(i)).unwrap(), i);
        }
        assert_eq!(store.trim_events(3).unwrap(), 7);
        assert_eq!(store.trim_events(3).unwrap(), 0);
        // Even keep = 0 leaves the newest, which carries the numbering over a reopen.
        assert_eq!(store.trim_events(0).unwrap(), 2);
        store.close().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.append_event(&ev(11)).unwrap(), 11);
        let seqs: Vec<u64> = store
            .events_from(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(seqs, [10, 11]);
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
            Err(StoreError::Locked { dir: d }) if d == dir.path().display().to_string()
        ));
        drop(store);
    }

    #[test]
    fn a_database_without_manifest_gets_one_built_from_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.apply(&orders(&[order("o1", S::Pending)])).unwrap();
        store.close().unwrap();
        {
            // What a database written by a build without manifests looks like.
            let db = open_db_retrying(dir.path(), &SledOptions::default()).unwrap();
            db.open_tree("meta")
                .unwrap()
                .remove(META_MANIFEST_KEY)
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.report().counts.orders, 1);
        assert!(store.report().notes[0].contains("no manifest yet"));
        store.close().unwrap();
        let again = SledStore::open(dir.path()).unwrap();
        assert!(
            again.report().notes.is_empty(),
            "{:?}",
            again.report().notes
        );
    }

    #[test]
    fn open_refuses_records_that_disagree_with_the_manifest_or_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.apply(&orders(&[order("o1", S::Pending)])).unwrap();
        store.close().unwrap();
        let tamper = |f: &dyn Fn(&sled::Db)| {
            let db = open_db_retrying(dir.path(), &SledOptions::default()).unwrap();
            f(&db);
            db.flush().unwrap();
        };
        // A record gone behind sled's back: the clean manifest counted it.
        tamper(&|db| {
            db.open_tree(OrderRecord::TREE)
                .unwrap()
                .remove("o1")
                .unwrap();
            db.open_tree(OPEN_ORDERS_TREE)
                .unwrap()
                .remove("o1")
                .unwrap();
        });
        let err = SledStore::open(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("`orders` holds 0 records, its manifest records 1"),
            "{err}"
        );
        // An index entry without its open order.
        tamper(&|db| {
            let o1 = order("o1", S::Pending).to_bytes();
            db.open_tree(OrderRecord::TREE)
                .unwrap()
                .insert("o1", o1)
                .unwrap();
            db.open_tree(OPEN_ORDERS_TREE)
                .unwrap()
                .insert("ghost", &[])
                .unwrap();
        });
        let err = SledStore::open(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("ghost") && err.contains("not an open order"),
            "{err}"
        );
    }

    #[test]
    fn counts_stay_exact_across_writes_trims_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.put_driver(&driver("d1")).unwrap();
        store.put_driver(&driver("d1")).unwrap();
        for at in 0..5 {
            store.append_event(&ev(at)).unwrap();
        }
        store.trim_events(2).unwrap();
        store
            .apply(&orders(&[order("o1", S::Pending), order("o2", S::Pending)]))
            .unwrap();
        store.apply(&orders(&[order("o1", S::Delivered)])).unwrap();
        store
            .apply(&Changes {
                orders: vec![],
                routes: vec![("d1".into(), route(1, &["o2"]))],
            })
            .unwrap();
        store.close().unwrap();
        // The clean manifest must match exactly, or this open fails.
        let store = SledStore::open(dir.path()).unwrap();
        let c = store.report().counts;
        assert_eq!(
            (c.drivers, c.orders, c.open_orders, c.routes, c.events),
            (1, 2, 1, 1, 2)
        );
    }

    #[test]
    fn orders_get_and_list_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .apply(&orders(&[
                order("o2", S::Pending),
                order("o10", S::Delivered),
                order("a", S::Assigned),
                order("o1", S::Pending),
                order("é", S::Pending),
            ]))
            .unwrap();
        assert_eq!(
            store.get_order("o10").unwrap(),
            Some(order("o10", S::Delivered))
        );
        assert_eq!(store.get_order("o3").unwrap(), None);

        let all = store.list_orders(None, usize::MAX, None).unwrap();
        assert_eq!(ids(&all), ["a", "o1", "o10", "o2", "é"]);
        let page = |after, limit, status| {
            ids(&store.list_orders(after, limit, status).unwrap())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(page(Some("o1"), 10, None), ["o10", "o2", "é"]);
        assert_eq!(page(Some("o1"), 2, None), ["o10", "o2"]);
        // A cursor that is not a stored id works too.
        assert_eq!(page(Some("o"), 1, None), ["o1"]);
        assert_eq!(page(Some("é"), 10, None), Vec::<String>::new());
        assert_eq!(page(None, 0, None), Vec::<String>::new());
        assert_eq!(page(None, 10, Some(S::Pending)), ["o1", "o2", "é"]);
        assert_eq!(page(Some("o1"), 1, Some(S::Pending)), ["o2"]);
        assert_eq!(page(None, 10, Some(S::Failed)), Vec::<String>::new());
    }

    #[test]
    fn open_set_follows_status() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let open = |store: &SledStore| {
            ids(&store.load_open_orders().unwrap())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        store
            .apply(&orders(&[
                order("o1", S::Pending),
                order("o2", S::Unassignable),
                order("o3", S::Cancelled),
            ]))
            .unwrap();
        assert_eq!(open(&store), ["o1", "o2"]);

        store.apply(&orders(&[order("o1", S::Assigned)])).unwrap();
        store.apply(&orders(&[order("o1", S::PickedUp)])).unwrap();
        assert_eq!(open(&store), ["o1", "o2"]);
        assert_eq!(store.load_open_orders().unwrap()[0].status, S::PickedUp);
        store.apply(&orders(&[order("o1", S::Delivered)])).unwrap();
        assert_eq!(open(&store), ["o2"]);
        assert_eq!(store.get_order("o1").unwrap().unwrap().status, S::Delivered);

        // Within one `Changes` the later entry wins, for the order and for the index.
        store
            .apply(&orders(&[
                order("o4", S::Pending),
                order("o4", S::Failed),
                order("o5", S::Cancelled),
                order("o5", S::Pending),
            ]))
            .unwrap();
        assert_eq!(open(&store), ["o2", "o5"]);
        assert_eq!(store.get_order("o4").unwrap().unwrap().status, S::Failed);
        // The index holds only open ids: terminal orders are not even scanned.
        assert_eq!(store.open_orders.len(), 2);
        assert_eq!(store.orders.len(), 5);
    }

    #[test]
    fn routes_are_overwritten_and_load_in_driver_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .apply(&Changes {
                orders: vec![order("o1", S::Assigned)],
                routes: vec![
                    ("d2".into(), route(1, &["o1"])),
                    ("d10".into(), route(1, &[])),
                ],
            })
            .unwrap();
        store
            .apply(&Changes {
                orders: Vec::new(),
                routes: vec![
                    ("d2".into(), route(2, &["o1", "o2"])),
                    ("d1".into(), route(7, &["x"])),
                    ("d1".into(), route(8, &["y"])),
                ],
            })
            .unwrap();
        assert_eq!(
            store.load_routes().unwrap(),
            [
                ("d1".to_owned(), route(8, &["y"])),
                ("d10".to_owned(), route(1, &[])),
                ("d2".to_owned(), route(2, &["o1", "o2"])),
            ]
        );
        store.apply(&Changes::default()).unwrap();
        assert_eq!(store.load_routes().unwrap().len(), 3);
    }

    #[test]
    fn reopen_keeps_orders_index_and_routes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .apply(&Changes {
                orders: vec![order("o1", S::Pending), order("o2", S::Delivered)],
                routes: vec![("d1".into(), route(3, &["o1"]))],
            })
            .unwrap();
        let before = (
            store.list_orders(None, usize::MAX, None).unwrap(),
            store.load_open_orders().unwrap(),
            store.load_routes().unwrap(),
        );
        store.close().unwrap();

        let store = SledStore::open(dir.path()).unwrap();
        let after = (
            store.list_orders(None, usize::MAX, None).unwrap(),
            store.load_open_orders().unwrap(),
            store.load_routes().unwrap(),
        );
        assert_eq!(after, before);
        assert_eq!(ids(&after.1), ["o1"]);
        store.close().unwrap();
    }

    #[test]
    fn mismatched_or_dangling_orders_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .orders
            .insert("o1", order("other", S::Pending).to_bytes())
            .unwrap();
        let corrupt_order = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Corrupt { tree: "orders", key, .. }) if key == "o1");
        assert!(corrupt_order(store.get_order("o1").map(|_| ())));
        assert!(corrupt_order(store.list_orders(None, 10, None).map(|_| ())));
        store.orders.remove("o1").unwrap();

        store.open_orders.insert("ghost", &[]).unwrap();
        assert!(matches!(
            store.load_open_orders(),
            Err(StoreError::Corrupt { tree: "open_orders", key, .. }) if key == "ghost"
        ));
        store.open_orders.remove("ghost").unwrap();

        store.routes.insert("d1", &[1u8, 0xff][..]).unwrap();
        assert!(matches!(
            store.load_routes(),
            Err(StoreError::Corrupt { tree: "routes", key, .. }) if key == "d1"
        ));
    }
}
