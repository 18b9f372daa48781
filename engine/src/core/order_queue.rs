//! A region's queue of orders waiting for a driver, split in two so that matching costs
//! work in proportion to what can change, not to the backlog:
//! - *waiting* orders are matched at the next round (new, given back, recovered, or
//!   woken);
//! - *parked* orders are unassignable: no candidate could take them, and none will
//!   until supply changes. They are not looked at by a round until woken, either near
//!   new supply ([`OrderQueue::wake_near`]: the nearest few to a driver that became
//!   available or freed capacity) or in turn by the periodic backstop
//!   ([`OrderQueue::wake_in_turn`]: a bounded slice, oldest rank first, round robin).
//!
//! Pure: the region actor owns one and decides when to wake what.
//!
//! Memory: an open order is held once, as the `Arc<Order>` the order book publishes
//! (the region changes an order rarely and then makes a new one, `Arc::make_mut`); its
//! id is allocated once more here, an `Arc<str>` shared by the map key, the rank and
//! the parked pickup.

use super::geo_util::LocalProjection;
use dispatch_protocol::{Millis, Order};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// An order in the queue: the same `Arc` as the order book's entry while neither
/// changed it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub order: Arc<Order>,
    /// When it entered this queue.
    pub queued_ms: Millis,
}

/// Matching order: priority first (higher first), then age, then id.
type Rank = (Reverse<i32>, Millis, Arc<str>);

fn rank(order: &Order, id: &Arc<str>) -> Rank {
    (Reverse(order.priority), order.created_ms, id.clone())
}

/// A parked order's pickup in the region's projection, for the nearest-to-supply wake.
type Pickup = GeomWithData<[f64; 2], Arc<str>>;

#[derive(Debug)]
pub struct OrderQueue {
    projection: LocalProjection,
    /// By id; the key is the one allocation of the id the ranks and pickups share.
    orders: HashMap<Arc<str>, Queued>,
    /// The ids of the orders not parked.
    waiting: BTreeSet<Rank>,
    /// Parked orders by rank (for the backstop) and by pickup (for new supply).
    parked: BTreeSet<Rank>,
    pickups: RTree<Pickup>,
    /// Where the backstop's last slice ended: the next starts after it.
    cursor: Option<Rank>,
}

impl OrderQueue {
    /// An empty queue for a region around `(origin_lat, origin_lon)`.
    pub fn new(origin_lat: f64, origin_lon: f64) -> Self {
        Self {
            projection: LocalProjection::new(origin_lat, origin_lon),
            orders: HashMap::new(),
            waiting: BTreeSet::new(),
            parked: BTreeSet::new(),
            pickups: RTree::new(),
            cursor: None,
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// How many wait to be matched.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// How many are parked.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    pub fn reserve(&mut self, n: usize) {
        self.orders.reserve(n);
    }

    /// Queues an order to be matched at the next round (replacing one of the same id);
    /// `parked`: straight into the parked set instead (an order recovered as
    /// unassignable waits for supply as it did before the restart).
    pub fn insert(&mut self, order: impl Into<Arc<Order>>, now: Millis, parked: bool) {
        let order: Arc<Order> = order.into();
        self.remove(&order.id);
        let id: Arc<str> = Arc::from(order.id.as_str());
        let r = rank(&order, &id);
        if parked {
            self.pickups.insert(self.pickup(&order, &id));
            self.parked.insert(r);
        } else {
            self.waiting.insert(r);
        }
        self.orders.insert(
            id,
            Queued {
                order,
                queued_ms: now,
            },
        );
    }

    /// Takes an order out of the queue (assigned, cancelled).
    pub fn remove(&mut self, id: &str) -> Option<Queued> {
        let (id, q) = self.orders.remove_entry(id)?;
        let r = rank(&q.order, &id);
        if self.parked.remove(&r) {
            self.pickups.remove(&self.pickup(&q.order, &id));
        } else {
            self.waiting.remove(&r);
        }
        Some(q)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Queued> {
        self.orders.get_mut(id)
    }

    /// The waiting orders, best rank first, at most `limit` (the parked are not
    /// looked at).
    pub fn due(&self, limit: usize) -> Vec<&Queued> {
        self.waiting
            .iter()
            .take(limit)
            .filter_map(|r| self.orders.get(&r.2))
            .collect()
    }

    /// Parks a waiting order: no round looks at it until it is woken. The caller has
    /// set its status (unassignable). False when it is not queued or already parked.
    pub fn park(&mut self, id: &str) -> bool {
        let Some((id, q)) = self.orders.get_key_value(id) else {
            return false;
        };
        let r = rank(&q.order, id);
        if !self.waiting.remove(&r) {
            return false;
        }
        self.pickups.insert(self.pickup(&q.order, id));
        self.parked.insert(r);
        true
    }

    /// Wakes the `k` parked orders whose pickups are nearest to `(lat, lon)` within
    /// `radius_m` (projected; new supply there may take them). Returns how many.
    pub fn wake_near(&mut self, lat: f64, lon: f64, k: usize, radius_m: f64) -> usize {
        let at = self.projection.project(lat, lon);
        let ids: Vec<Arc<str>> = self
            .pickups
            .nearest_neighbor_iter_with_distance_2(&at)
            .take_while(|(_, d2)| *d2 <= radius_m * radius_m)
            .take(k)
            .map(|(p, _)| p.data.clone())
            .collect();
        ids.iter().filter(|id| self.wake(id)).count()
    }

    /// Wakes the next `n` parked orders by rank after the previous call's last, round
    /// robin: over successive calls every parked order is woken in turn. Returns how
    /// many.
    pub fn wake_in_turn(&mut self, n: usize) -> usize {
        let mut ids: Vec<Arc<str>> = match &self.cursor {
            Some(c) => self
                .parked
                .range((
                    std::ops::Bound::Excluded(c.clone()),
                    std::ops::Bound::Unbounded,
                ))
                .take(n)
                .map(|r| r.2.clone())
                .collect(),
            None => Vec::new(),
        };
        if ids.len() < n {
            // Wrapped around: from the start, up to where this slice began.
            let more: Vec<Arc<str>> = self
                .parked
                .iter()
                .take(n - ids.len())
                .map(|r| r.2.clone())
                .filter(|id| !ids.contains(id))
                .collect();
            ids.extend(more);
        }
        self.cursor = ids
            .last()
            .and_then(|id| self.orders.get_key_value(id))
            .map(|(id, q)| rank(&q.order, id));
        ids.iter().filter(|id| self.wake(id)).count()
    }

    /// Moves a parked order back to waiting.
    fn wake(&mut self, id: &str) -> bool {
        let Some((id, q)) = self.orders.get_key_value(id) else {
            return false;
        };
        let r = rank(&q.order, id);
        if !self.parked.remove(&r) {
            return false;
        }
        let pickup = self.pickup(&q.order, id);
        self.pickups.remove(&pickup);
        self.waiting.insert(r);
        true
    }

    fn pickup(&self, order: &Order, id: &Arc<str>) -> Pickup {
        let at = self.projection.project(order.pickup.lat, order.pickup.lon);
        GeomWithData::new(at, id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dispatch_protocol::{OrderStatus, Stop};
    use proptest::prelude::*;

    fn order(id: &str, lat: f64, lon: f64, priority: i32, created_ms: Millis) -> Order {
        let stop = |lat, lon| Stop {
            lat,
            lon,
            ready_ms: None,
            due_ms: None,
            service_s: 60,
        };
        Order {
            id: id.into(),
            pickup: stop(lat, lon),
            dropoff: stop(lat + 0.01, lon),
            size: 1,
            priority,
            status: OrderStatus::Pending,
            driver_id: None,
            pickup_eta_ms: None,
            dropoff_eta_ms: None,
            created_ms,
            history: Vec::new(),
            details: Default::default(),
        }
    }

    #[test]
    fn due_orders_come_by_priority_then_age_and_parked_ones_not_at_all() {
        let mut q = OrderQueue::new(60.17, 24.94);
        q.insert(order("old", 60.17, 24.94, 0, 1), 0, false);
        q.insert(order("urgent", 60.17, 24.94, 5, 9), 0, false);
        q.insert(order("new", 60.17, 24.94, 0, 5), 0, false);
        q.insert(order("stuck", 60.17, 24.94, 9, 0), 0, false);
        assert!(q.park("stuck"));
        assert!(!q.park("stuck"));
        let ids: Vec<&str> = q.due(10).iter().map(|o| o.order.id.as_str()).collect();
        assert_eq!(ids, ["urgent", "old", "new"]);
        let ids: Vec<&str> = q.due(1).iter().map(|o| o.order.id.as_str()).collect();
        assert_eq!(ids, ["urgent"]);
        assert_eq!((q.len(), q.parked()), (4, 1));
        assert!(q.remove("stuck").is_some());
        assert_eq!((q.len(), q.parked()), (3, 0));
    }

    #[test]
    fn the_queue_shares_the_order_it_is_given() {
        let mut q = OrderQueue::new(60.17, 24.94);
        let o = Arc::new(order("a", 60.17, 24.94, 0, 1));
        q.insert(o.clone(), 0, false);
        assert!(q.park("a"));
        assert_eq!(q.wake_in_turn(1), 1);
        assert!(Arc::ptr_eq(&q.due(1)[0].order, &o));
        assert!(Arc::ptr_eq(&q.remove("a").unwrap().order, &o));
        assert!(q.is_empty());
    }

    #[test]
    fn new_supply_wakes_the_nearest_parked_orders_within_the_radius() {
        let mut q = OrderQueue::new(60.17, 24.94);
        // Pickups 0, 1, 2, ... km north of the driver.
        for i in 0..10 {
            let id = format!("o{i}");
            q.insert(
                order(&id, 60.17 + f64::from(i) * 0.009, 24.94, 0, 0),
                0,
                false,
            );
            q.park(&id);
        }
        assert!(q.due(100).is_empty());
        assert_eq!(q.wake_near(60.17, 24.94, 3, 50_000.0), 3);
        let mut ids: Vec<&str> = q.due(100).iter().map(|o| o.order.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["o0", "o1", "o2"]);
        // Only within the radius: o3 is ~3 km away, o4 ~4 km.
        assert_eq!(q.wake_near(60.17, 24.94, 10, 3_500.0), 1);
        assert_eq!(q.parked(), 6);
    }

    proptest! {
        /// The backstop wakes every parked order once per full turn, whatever was
        /// parked, woken or removed in between.
        #[test]
        fn the_backstop_wakes_every_parked_order_in_turn(
            n in 1usize..60,
            slice in 1usize..20,
            removed in prop::collection::vec(0usize..60, 0..10),
        ) {
            let mut q = OrderQueue::new(60.17, 24.94);
            for i in 0..n {
                let id = format!("o{i:02}");
                q.insert(order(&id, 60.17, 24.94, (i % 3) as i32, i as u64), 0, true);
            }
            for r in &removed {
                q.remove(&format!("o{:02}", r % n));
            }
            let left = q.parked();
            let mut woken = 0;
            let mut calls = 0;
            while q.parked() > 0 {
                let w = q.wake_in_turn(slice);
                prop_assert!(w <= slice);
                prop_assert!(w > 0);
                woken += w;
                calls += 1;
            }
            prop_assert_eq!(woken, left);
            prop_assert_eq!(calls, left.div_ceil(slice));
            prop_assert_eq!(q.due(usize::MAX).len(), left);
        }
    }
}
