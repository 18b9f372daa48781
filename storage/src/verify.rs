//! Reads every record of a database once: each key and value must decode, each record
//! must name its own key, and the open-order index must hold exactly the stored
//! orders that are not terminal. Works on raw trees ([`RawTrees`]), so it needs no
//! sled; [`SledStore`](crate::SledStore) runs it at open and `dispatch store check`.
//!
//! The orders (most of a store: every order ever taken) are read on a thread of their
//! own while this one reads the other trees. At open the scan can also keep what
//! recovery needs ([`Recovery`]: drivers with their states, open orders, routes), so
//! the engine does not read those records a second time.

use std::collections::HashSet;

use crate::error::StoreError;
use crate::integrity::Counts;
use crate::keys;
use crate::records::{
    DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, OrderRecord, RouteRecord,
    TrailPointRecord, Versioned,
};
use crate::store::Recovery;

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

/// Raw, in-order access to a database's trees (from several threads at once).
pub trait RawTrees: Sync {
    /// Calls `visit` with every pair of `tree`, in key order, stopping at its first error.
    fn each(&self, tree: &'static str, visit: &mut Visit<'_>) -> Result<(), StoreError>;
}

/// What [`scan`] counted.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Records of the tracked trees.
    pub counts: Counts,
    /// Stored driver states.
    pub driver_states: u64,
    /// Stored trail points (decoded like every record, not tracked by the manifest:
    /// trails are trimmed continuously and lossy like positions).
    pub trail_points: u64,
    /// What recovery reads, when the scan was asked to keep it.
    pub recovery: Option<Recovery>,
}

/// Decodes every record; the first one that does not decode or does not fit is the
/// error (in the order drivers, driver states, events, routes, trails, orders). With
/// `keep`, also returns what [`Recovery`] holds.
pub fn scan(trees: &dyn RawTrees, keep: bool) -> Result<Scanned, StoreError> {
    let (rest, orders) = std::thread::scope(|s| {
        let orders = std::thread::Builder::new()
            .name("verify-orders".into())
            .spawn_scoped(s, || scan_orders(trees, keep))
            .map_err(|e| StoreError::Io(format!("start the verification thread: {e}")));
        let rest = scan_rest(trees, keep);
        let orders = orders.and_then(|h| {
            h.join()
                .unwrap_or_else(|_| Err(StoreError::Io("the verification thread panicked".into())))
        });
        (rest, orders)
    });
    let (mut s, drivers, routes) = rest?;
    let (counts, open) = orders?;
    (s.counts.orders, s.counts.open_orders) = (counts.orders, counts.open_orders);
    if keep {
        s.recovery = Some(Recovery {
            drivers,
            open_orders: open,
            routes,
        });
    }
    Ok(s)
}

/// Everything but the orders: counts, and with `keep` the drivers (joined with their
/// states) and the routes.
#[allow(clippy::type_complexity)]
fn scan_rest(
    trees: &dyn RawTrees,
    keep: bool,
) -> Result<(Scanned, Vec<DriverSnapshot>, Vec<(String, RouteRecord)>), StoreError> {
    let mut s = Scanned::default();
    let mut drivers = Vec::new();
    trees.each(DriverRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(DriverRecord::TREE, key)?;
        let rec = DriverRecord::from_bytes(&id, value)?;
        own_key(DriverRecord::TREE, &id, &rec.id)?;
        s.counts.drivers += 1;
        if keep {
            drivers.push(rec);
        }
        Ok(())
    })?;
    let mut states = Vec::new();
    trees.each(DriverStateRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(DriverStateRecord::TREE, key)?;
        let state = DriverStateRecord::from_bytes(&id, value)?;
        s.driver_states += 1;
        if keep {
            states.push((id, state));
        }
        Ok(())
    })?;
    trees.each(EventRecord::TREE, &mut |key, value| {
        let seq = keys::event_seq(key)?;
        EventRecord::from_bytes(&seq.to_string(), value)?;
        s.counts.events += 1;
        Ok(())
    })?;
    let mut routes = Vec::new();
    trees.each(RouteRecord::TREE, &mut |key, value| {
        let id = keys::driver_id(RouteRecord::TREE, key)?;
        let route = RouteRecord::from_bytes(&id, value)?;
        s.counts.routes += 1;
        if keep {
            routes.push((id, route));
        }
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
    Ok((s, join_states(drivers, states), routes))
}

/// Each driver with its state (both lists in key order), as `Store::load_drivers`
/// returns them: states of unregistered drivers are left out.
fn join_states(
    drivers: Vec<DriverRecord>,
    states: Vec<(String, DriverStateRecord)>,
) -> Vec<DriverSnapshot> {
    let mut states = states.into_iter().peekable();
    drivers
        .into_iter()
        .map(|driver| {
            let key = keys::driver_key(&driver.id);
            while states
                .next_if(|(id, _)| keys::driver_key(id) < key)
                .is_some()
            {}
            let state = states
                .next_if(|(id, _)| keys::driver_key(id) == key)
                .map(|(_, s)| s);
            DriverSnapshot { driver, state }
        })
        .collect()
}

/// Orders and their index: every non-terminal order indexed, nothing else. Returns
/// the counts of `orders` and `open_orders`, and with `keep` the open orders in key
/// order.
fn scan_orders(trees: &dyn RawTrees, keep: bool) -> Result<(Counts, Vec<OrderRecord>), StoreError> {
    let mut counts = Counts::default();
    let mut open = HashSet::new();
    let mut kept = Vec::new();
    trees.each(OrderRecord::TREE, &mut |key, value| {
        let id = keys::order_id(OrderRecord::TREE, key)?;
        let order = OrderRecord::from_bytes(&id, value)?;
        own_key(OrderRecord::TREE, &id, &order.id)?;
        if !order.status.is_terminal() {
            open.insert(id);
            if keep {
                kept.push(order);
            }
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
        None => Ok((counts, kept)),
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
