//! Reads every record of a database once: each key and value must decode, each record
//! must name its own key, and the open-order index must hold exactly the stored
//! orders that are not terminal. Works on raw trees ([`RawTrees`]), so it needs no
//! sled; [`SledStore`](crate::SledStore) runs it at open and `dispatch store check`.
//!
//! The orders (most of a store: every order ever taken) are read by one thread and
//! decoded by another while this one reads the other trees and the open-order index;
//! both order trees come back in key order, so the index is checked against the open
//! orders by merging two sorted lists. At open the scan can also keep what recovery
//! needs ([`Recovery`]: drivers with their states, open orders, routes), so the engine
//! does not read those records a second time.

use crate::error::StoreError;
use crate::integrity::Counts;
use crate::keys;
use crate::proof::ProofRecord;
use crate::records::{
    DriverRecord, DriverSnapshot, DriverStateRecord, EventRecord, OrderRecord, RouteRecord,
    TrailPointRecord, Versioned,
};
use crate::store::Recovery;

/// Name of the open-order index tree (it stores no records, so no `Versioned::TREE`).
pub const OPEN_ORDERS_TREE: &str = "open_orders";

/// Every tree holding data, in the order a backup copies them (`meta` is not data:
/// each database writes its own).
pub const DATA_TREES: [&str; 8] = [
    DriverRecord::TREE,
    DriverStateRecord::TREE,
    EventRecord::TREE,
    OrderRecord::TREE,
    OPEN_ORDERS_TREE,
    RouteRecord::TREE,
    TrailPointRecord::TREE,
    ProofRecord::TREE,
];

/// A visitor of one tree's `(key, value)` pairs in key order.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// Raw, in-order access to a database's trees (from several threads at once).
pub trait RawTrees: Sync {
    /// Key and value bytes handed to another thread.
    type Bytes: AsRef<[u8]> + Send;

    /// Calls `visit` with every pair of `tree`, in key order, stopping at its first error.
    fn each(&self, tree: &'static str, visit: &mut Visit<'_>) -> Result<(), StoreError>;

    /// Like [`RawTrees::each`], in batches of up to `size` pairs of owned bytes.
    #[allow(clippy::type_complexity)]
    fn each_batch(
        &self,
        tree: &'static str,
        size: usize,
        visit: &mut dyn FnMut(Vec<(Self::Bytes, Self::Bytes)>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Pairs per batch from the reading thread to the decoding one.
const BATCH: usize = 1024;

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
    /// Stored proof-of-delivery images (decoded, not tracked by the manifest).
    pub proofs: u64,
    /// What recovery reads, when the scan was asked to keep it.
    pub recovery: Option<Recovery>,
}

/// Decodes every record; the first one that does not decode or does not fit is the
/// error (in the order drivers, driver states, events, routes, trails, proofs, orders, the
/// open-order index). With `keep`, also returns what [`Recovery`] holds.
pub fn scan<T: RawTrees>(trees: &T, keep: bool) -> Result<Scanned, StoreError> {
    let (rest, index, orders) = std::thread::scope(|s| {
        let orders = std::thread::Builder::new()
            .name("verify-orders".into())
            .spawn_scoped(s, || scan_orders(trees, keep))
            .map_err(|e| StoreError::Io(format!("start the verification thread: {e}")));
        let rest = scan_rest(trees, keep);
        let index = read_index(trees);
        let orders = orders.and_then(|h| {
            h.join()
                .unwrap_or_else(|_| Err(StoreError::Io("the verification thread panicked".into())))
        });
        (rest, index, orders)
    });
    let (mut s, drivers, routes) = rest?;
    let (orders, open_ids, open) = orders?;
    let indexed = index?;
    check_index(&open_ids, &indexed)?;
    (s.counts.orders, s.counts.open_orders) = (orders, indexed.len() as u64);
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
fn scan_rest<T: RawTrees>(
    trees: &T,
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
    trees.each(ProofRecord::TREE, &mut |key, value| {
        let id = keys::order_id(ProofRecord::TREE, key)?;
        ProofRecord::from_bytes(&id, value)?;
        s.proofs += 1;
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

/// Every order, read on a thread of its own and decoded on this one. Returns how
/// many, the ids of the open ones (in key order) and, with `keep`, the open orders.
#[allow(clippy::type_complexity)]
fn scan_orders<T: RawTrees>(
    trees: &T,
    keep: bool,
) -> Result<(u64, Vec<String>, Vec<OrderRecord>), StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(T::Bytes, T::Bytes)>>(16);
    std::thread::scope(|s| {
        let reader = std::thread::Builder::new()
            .name("verify-read".into())
            .spawn_scoped(s, move || {
                trees.each_batch(OrderRecord::TREE, BATCH, &mut |batch| {
                    // Closed only when the decoder stopped at an error of its own.
                    tx.send(batch)
                        .map_err(|_| StoreError::Io("order decoding stopped".into()))
                })
            })
            .map_err(|e| StoreError::Io(format!("start the verification thread: {e}")))?;
        let decoded = decode_orders(rx, keep);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(StoreError::Io("the verification thread panicked".into())));
        // A record that does not decode comes before anything the reader met later.
        let decoded = decoded?;
        read?;
        Ok(decoded)
    })
}

#[allow(clippy::type_complexity)]
fn decode_orders<B: AsRef<[u8]>>(
    batches: std::sync::mpsc::Receiver<Vec<(B, B)>>,
    keep: bool,
) -> Result<(u64, Vec<String>, Vec<OrderRecord>), StoreError> {
    let (mut count, mut open_ids, mut kept) = (0u64, Vec::new(), Vec::new());
    for batch in batches {
        for (key, value) in batch {
            let id = keys::order_id_str(OrderRecord::TREE, key.as_ref())?;
            let order = OrderRecord::from_bytes(id, value.as_ref())?;
            own_key(OrderRecord::TREE, id, &order.id)?;
            if !order.status.is_terminal() {
                open_ids.push(id.to_owned());
                if keep {
                    kept.push(order);
                }
            }
            count += 1;
        }
    }
    Ok((count, open_ids, kept))
}

/// The ids in the open-order index, in key order.
fn read_index<T: RawTrees>(trees: &T) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    trees.each(OPEN_ORDERS_TREE, &mut |key, _| {
        ids.push(keys::order_id(OPEN_ORDERS_TREE, key)?);
        Ok(())
    })?;
    Ok(ids)
}

/// The index must hold exactly the open orders. Both lists are in key order: the
/// first indexed id that is no open order is the error, else the first open order
/// missing from the index.
fn check_index(open: &[String], indexed: &[String]) -> Result<(), StoreError> {
    let mut next = open.iter().peekable();
    let mut missing: Option<&String> = None;
    for id in indexed {
        while let Some(skipped) = next.next_if(|o| *o < id) {
            missing.get_or_insert(skipped);
        }
        if next.next_if(|o| *o == id).is_none() {
            return Err(corrupt(
                OPEN_ORDERS_TREE,
                id.clone(),
                "indexed order is not an open order",
            ));
        }
    }
    match missing.or_else(|| next.next()) {
        Some(id) => Err(corrupt(
            OrderRecord::TREE,
            id.clone(),
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

#[cfg(test)]
mod tests {
    use super::check_index;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_index_must_hold_exactly_the_open_orders() {
        let check = |open: &[&str], indexed: &[&str]| {
            check_index(&ids(open), &ids(indexed))
                .map_err(|e| e.to_string())
                .err()
        };
        assert_eq!(check(&["a", "c"], &["a", "c"]), None);
        assert_eq!(check(&[], &[]), None);
        let stray = check(&["a", "c"], &["a", "b", "c"]).unwrap();
        assert!(
            stray.contains("key b: indexed order is not an open order"),
            "{stray}"
        );
        // A stray index entry is told before an open order missing from the index.
        let stray = check(&["a", "c", "e"], &["c", "d"]).unwrap();
        assert!(stray.contains("key d: indexed"), "{stray}");
        let missing = check(&["a", "b", "c"], &["a", "c"]).unwrap();
        assert!(missing.contains("key b: open order missing"), "{missing}");
        let missing = check(&["a", "b", "c"], &["b"]).unwrap();
        assert!(missing.contains("key a: open order missing"), "{missing}");
        let missing = check(&["a", "b"], &["a"]).unwrap();
        assert!(missing.contains("key b: open order missing"), "{missing}");
    }
}
