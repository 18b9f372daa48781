//! The `Store` trait: the only way the engine reads or writes durable state.

use crate::error::StoreError;
use crate::export::Export;
use crate::proof::ProofRecord;
use crate::records::{
    Changes, DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, OrderRecord,
    OrderStatusRecord, RouteRecord, TrailPointRecord,
};

/// What recovery reads: see [`Store::load_recovery`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    /// Every registered driver with its latest state, in id order.
    pub drivers: Vec<DriverSnapshot>,
    /// Every order whose status is not terminal, in id order.
    pub open_orders: Vec<OrderRecord>,
    /// Every stored route as `(driver id, route)`, in driver id order.
    pub routes: Vec<(String, RouteRecord)>,
}

/// The durable truth of the engine.
///
/// Writes become durable only at the next [`flush`](Store::flush) (or, for sled, at its
/// background flush): callers that must not acknowledge before the data is on disk
/// write, then wait on [`GroupCommit::durable`](crate::GroupCommit::durable). Every
/// method is blocking (fsync, disk reads): call it off async threads.
///
/// Implementations: [`SledStore`](crate::SledStore) (the real one) and
/// [`MemStore`](crate::MemStore) (in-memory twin with the same results, for tests).
pub trait Store: Send + Sync + 'static {
    /// Stores a driver's registration, replacing any earlier one with the same id.
    fn put_driver(&self, rec: &DriverRecord) -> Result<(), StoreError>;

    /// Registration and latest state of one driver; `None` if the driver is not
    /// registered (a stored state without a registration is not returned).
    fn get_driver(&self, id: &str) -> Result<Option<DriverSnapshot>, StoreError>;

    /// Overwrites the latest state of each listed driver, as one atomic batch: after a
    /// crash either the whole batch is there or none of it. If an id appears twice,
    /// the later entry wins. States of unregistered drivers are stored but only
    /// returned once the driver registers.
    fn put_driver_states(&self, batch: &[(String, DriverStateRecord)]) -> Result<(), StoreError>;

    /// Every registered driver with its latest state, in id order (byte order of the
    /// UTF-8 id, which equals `str` order). This is what recovery loads.
    fn load_drivers(&self) -> Result<Vec<DriverSnapshot>, StoreError>;

    /// Appends an event and returns its sequence number. Numbers start at 1 and rise by
    /// one per append, also across reopens. After a crash, numbers of events that were
    /// never flushed are handed out again (those events were never durable).
    fn append_event(&self, ev: &EventRecord) -> Result<u64, StoreError>;

    /// Drops the oldest events so that at most `keep` remain (at least the newest one
    /// always stays, so sequence numbers keep rising across reopens); returns how many
    /// were dropped. The event log is a bounded journal, not an archive.
    fn trim_events(&self, keep: u64) -> Result<u64, StoreError>;

    /// Up to `limit` events with sequence number `>= from_seq`, in sequence order.
    fn events_from(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventRecord)>, StoreError>;

    /// Writes every order and route in `changes` (insert or overwrite) as one atomic
    /// unit: after a crash either all of it is there or none of it. Also maintains the
    /// set of open orders (status not terminal): an order written with a terminal status
    /// leaves it, one written with a non-terminal status (re-)enters it. If an id
    /// appears twice, the later entry wins. Durable like any write: at the next flush.
    /// There is no delete: orders stay stored once written.
    ///
    /// A scan running concurrently (`list_orders`, `load_*`) is not a snapshot: it may
    /// see some rows from before and some from after an `apply`.
    fn apply(&self, changes: &Changes) -> Result<(), StoreError>;

    /// One order by id; `None` if it was never written.
    fn get_order(&self, id: &str) -> Result<Option<OrderRecord>, StoreError>;

    /// Up to `limit` orders with id strictly greater than `after` (all when `None`), in
    /// id order (byte order of UTF-8 ids), only those with `status` when given. The scan
    /// stops as soon as `limit` matching orders are found; `limit == 0` reads nothing.
    /// To page, pass the last id of one page as `after` of the next.
    fn list_orders(
        &self,
        after: Option<&str>,
        limit: usize,
        status: Option<OrderStatusRecord>,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// Every order whose status is not terminal, in id order; recovery re-queues them.
    /// Reads a separate index of open ids, so its cost follows the number of open
    /// orders, not of all orders ever stored. Never returns a terminal order, even when
    /// one closes while the scan runs.
    fn load_open_orders(&self) -> Result<Vec<OrderRecord>, StoreError>;

    /// The stored route of every driver that has one, as `(driver id, route)`, in
    /// driver id order. Routes are kept for any id given to `apply`, registered or not,
    /// and never deleted: a driver with nothing left to do keeps an empty route.
    fn load_routes(&self) -> Result<Vec<(String, RouteRecord)>, StoreError>;

    /// Everything recovery reads, as [`load_drivers`](Store::load_drivers),
    /// [`load_open_orders`](Store::load_open_orders) and
    /// [`load_routes`](Store::load_routes) return it. [`SledStore`](crate::SledStore)
    /// hands over, the first time and only while no driver, driver state, order or
    /// route was written since its open, what its verification at open decoded anyway
    /// (so recovery does not read those records a second time); otherwise, and by
    /// default, the three loads.
    fn load_recovery(&self) -> Result<Recovery, StoreError> {
        Ok(Recovery {
            drivers: self.load_drivers()?,
            open_orders: self.load_open_orders()?,
            routes: self.load_routes()?,
        })
    }

    /// Stores trail points `(driver id, point)` as one batch (positions' history, lossy
    /// like driver states: durable at the next flush). A point at the same driver and
    /// time as a stored one replaces it. Not counted by the manifest: trails are
    /// trimmed continuously, so a count could not tell a loss from a trim.
    fn put_trail_points(&self, batch: &[(String, TrailPointRecord)]) -> Result<(), StoreError>;

    /// Up to `limit` points of `driver` with `from_ms <= ts_ms <= to_ms`, oldest first.
    fn trail_points(
        &self,
        driver: &str,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<Vec<TrailPointRecord>, StoreError>;

    /// Drops `driver`'s points taken before `before_ms`, then more of its oldest ones
    /// until at least `at_least` were dropped in all (or none is left); returns how
    /// many were dropped. Both bounds of a trail in one pass over its oldest points.
    fn trim_trail(&self, driver: &str, before_ms: u64, at_least: u64) -> Result<u64, StoreError>;

    /// How many trail points `driver` has (a scan of its keys).
    fn trail_len(&self, driver: &str) -> Result<u64, StoreError>;

    /// Every driver id with at least one trail point, in id order (one seek per driver).
    fn trail_drivers(&self) -> Result<Vec<String>, StoreError>;

    /// Stores the proof-of-delivery image of order `order_id`, replacing any earlier
    /// one. Durable like any write: at the next flush (the engine answers the upload
    /// only after [`GroupCommit::durable`](crate::GroupCommit::durable)). Not counted by
    /// the manifest; decoded by every verification like the other records.
    fn put_proof(&self, order_id: &str, proof: &ProofRecord) -> Result<(), StoreError>;

    /// The proof-of-delivery image of order `order_id`, if one was stored.
    fn get_proof(&self, order_id: &str) -> Result<Option<ProofRecord>, StoreError>;

    /// A copy of every record, taken while no write runs: one consistent state that
    /// holds every write that returned before the call (acknowledged ones included)
    /// and wholly or not at all each one that ran alongside. Writes wait while it reads,
    /// so its cost (a scan of the store) is a pause for writers.
    fn export(&self) -> Result<Export, StoreError>;

    /// Durability barrier: when it returns `Ok`, everything written before the call is
    /// on disk (fsync). Slow (milliseconds): share it through
    /// [`GroupCommit`](crate::GroupCommit).
    fn flush(&self) -> Result<(), StoreError>;
}
