//! Reads every record of a database once: each key and value must decode, each record
//! must name its own key, and the open-order index must hold exactly the stored
//! orders that are not terminal. Works on raw trees ([`RawTrees`]), so it needs no
//! sled; [`SledStore`](crate::SledStore) runs it at open and `dispatch store check`.

use std::collections::HashSet;

use crate::error::StoreError;
use crate::integrity::Counts;
use crate::keys;
use crate::records::{
    DriverRecord, DriverStateRecord, EventRecord, OrderRecord, RouteRecord, TrailPointRecord,
    Versioned,
};

/// Name of the open-order index tree (it stores no records, so no `Versioned::TREE`).
pub const OPEN_ORDERS_TREE: &str = "open_orders";

/// Every tree holding data, in the order a backup copies them (`meta` is not data:
/// each database writes its own).
pub const DATA_TREES: [&str; 7] = [
    DriverRecord::TREE,
    DriverStateRecord::TREE,
    EventRecord::TREE,
    OrderRecord::TREE,
    OPEN_ORDERS_TREE,
    RouteRecord::TREE,
    TrailPointRecord::TREE,
];

/// A visitor of one tree's `(key, value)` pairs in key order.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// Raw, in-order access to a database's trees.
pub trait RawTrees {
    /// Calls `visit` with every pair of `tree`, in key order, stopping at its first error.
    fn each(&self, tree: &'static str, visit: &mut Visit<'_>) -> Result<(), StoreError>;
}

/// What [`scan`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Records of the tracked trees.
    pub counts: Counts,
    /// Stored driver states.
    pub driver_states: u64,
    /// Stored trail points (decoded like every record, not tracked by the manifest:
    /// trails are trimmed continuously and lossy like positions).
    pub trail_points: u64,
}

/// Decodes every record; the first one that does not decode or does not fit is the error.
pub fn scan(trees: &dyn RawTrees) -> Result<Scanned, StoreError> {
    let mut s = Scanned::default();
    trees.each(DriverRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(DriverRecord::TREE, key)?;
        let rec = DriverRecord::from_bytes(&id, value)?;
        own_key(DriverRecord::TREE, &id, &rec.id)?;
        s.counts.drivers += 1;
        Ok(())
    })?;
    trees.each(DriverStateRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(DriverStateRecord::TREE, key)?;
        DriverStateRecord::from_bytes(&id, value)?;
        s.driver_states += 1;
        Ok(())
    })?;
    trees.each(EventRecord::TREE, &mut |key, value| {
        let seq = keys::event_seq(key)?;
        EventRecord::from_bytes(&seq.to_string(), value)?;
        s.counts.events += 1;
        Ok(())
    })?;
    trees.each(RouteRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(RouteRecord::TREE, key)?;
        RouteRecord::from_bytes(&id, value)?;
        s.counts.routes += 1;
        Ok(())
    })?;
    trees.each(TrailPointRecord::TREE, &mut |key, value| {
        let (id, ts) = keys::trail_parts(key)?;
        let point = TrailPointRecord::from_bytes(&id, value)?;
        if point.ts_ms != ts {
            return Err(corrupt(
                TrailPointRecord::TREE,
                id,
                &format!("point at {} ms stored under {ts} ms", point.ts_ms),
            ));
        }
        s.trail_points += 1;
        Ok(())
    })?;
    scan_orders(trees, &mut s.counts)?;
    Ok(s)
}

/// Orders and their index: every non-terminal order indexed, nothing else.
fn scan_orders(trees: &dyn RawTrees, counts: &mut Counts) -> Result<(), StoreError> {
    let mut open = HashSet::new();
    trees.each(OrderRecord::TREE, &mut |key, value| {
        let id = keys::order_id(OrderRecord::TREE, key)?;
        let order = OrderRecord::from_bytes(&id, value)?;
        own_key(OrderRecord::TREE, &id, &order.id)?;
        if !order.status.is_terminal() {
            open.insert(id);
        }
        counts.orders += 1;
        Ok(())
    })?;
    trees.each(OPEN_ORDERS_TREE, &mut |key, _| {
        let id = keys::order_id(OPEN_ORDERS_TREE, key)?;
        if !open.remove(&id) {
            return Err(corrupt(
                OPEN_ORDERS_TREE,
                id,
                "indexed order is not an open order",
            ));
        }
        counts.open_orders += 1;
        Ok(())
    })?;
    match open.into_iter().min() {
        Some(id) => Err(corrupt(
            OrderRecord::TREE,
            id,
            "open order missing from the index",
        )),
        None => Ok(()),
    }
}

fn own_key(tree: &'static str, key: &str, held: &str) -> Result<(), StoreError> {
    if key == held {
        Ok(())
    } else {
        Err(corrupt(
            tree,
            key.to_owned(),
            &format!("record holds id {held:?}"),
        ))
    }
}

fn corrupt(tree: &'static str, key: String, reason: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        key,
        reason: reason.to_owned(),
    }
}
