//! `OrderBook`: the directory of open orders — who owns each one now (the region that
//! queues it, or the driver whose route holds it) and its latest published state — plus
//! the feed of order changes that consoles watch. It holds no decisions: owners change
//! an order (after persisting it) and then publish it here. Finished orders leave the
//! book; reads of them go to the store.

use super::model::is_terminal;
use crate::core::grid::RegionKey;
use crate::core::region_index::in_bbox;
use crate::telemetry;
use dispatch_protocol::{Order, OrderCounts, OrderStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Region(RegionKey),
    Driver(Arc<str>),
}

struct Entry {
    order: Arc<Order>,
    owner: Owner,
}

pub struct OrderBook {
    map: RwLock<HashMap<String, Entry>>,
    feed: broadcast::Sender<Arc<Order>>,
    /// Per status (`status as usize`): open orders now, finished ones since start.
    counts: [AtomicI64; OrderStatus::ALL.len()],
}

impl OrderBook {
    pub fn new(feed_capacity: usize) -> Self {
        let (feed, _) = broadcast::channel(feed_capacity);
        Self {
            map: RwLock::default(),
            feed,
            counts: Default::default(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Order>> {
        self.feed.subscribe()
    }

    pub fn get(&self, id: &str) -> Option<(Arc<Order>, Owner)> {
        let map = self.map.read().expect("order book lock");
        map.get(id).map(|e| (e.order.clone(), e.owner.clone()))
    }

    pub fn owner(&self, id: &str) -> Option<Owner> {
        self.get(id).map(|(_, o)| o)
    }

    /// Hands an open order to a new owner (before the new owner acknowledges it, so
    /// cancellations find it).
    pub fn set_owner(&self, id: &str, owner: Owner) {
        if let Some(e) = self.map.write().expect("order book lock").get_mut(id) {
            e.owner = owner;
        }
    }

    /// Records an order's new state (already persisted) and tells the consoles. A
    /// finished order leaves the book. `owner` None keeps the current owner. The book
    /// keeps the `Arc` it is given (the owner's, when the owner shares it).
    pub fn publish(&self, order: impl Into<Arc<Order>>, owner: Option<Owner>) {
        let order: Arc<Order> = order.into();
        {
            let mut map = self.map.write().expect("order book lock");
            let old = if is_terminal(order.status) {
                map.remove(&order.id).map(|e| e.order.status)
            } else {
                match map.get_mut(&order.id) {
                    Some(e) => {
                        let old = e.order.status;
                        e.order = order.clone();
                        if let Some(o) = owner {
                            e.owner = o;
                        }
                        Some(old)
                    }
                    None => {
                        let Some(owner) = owner else {
                            tracing::warn!(order = %order.id, "published an unknown order without an owner");
                            return;
                        };
                        map.insert(
                            order.id.clone(),
                            Entry {
                                order: order.clone(),
                                owner,
                            },
                        );
                        None
                    }
                }
            };
            self.count_transition(old, order.status);
        }
        // No console watching is the normal idle case.
        let _ = self.feed.send(order);
    }

    /// Recovery: open orders as the store holds them, with their owners, under one
    /// lock. Nothing goes to the feed: no console watches before the engine is ready.
    pub fn restore_all(&self, orders: Vec<(Arc<Order>, Owner)>) {
        let mut added = [0i64; OrderStatus::ALL.len()];
        let mut map = self.map.write().expect("order book lock");
        map.reserve(orders.len());
        for (order, owner) in orders {
            if is_terminal(order.status) {
                continue;
            }
            added[order.status as usize] += 1;
            let entry = Entry { order, owner };
            if let Some(old) = map.insert(entry.order.id.clone(), entry) {
                added[old.order.status as usize] -= 1;
            }
        }
        for status in OrderStatus::ALL {
            let n = added[status as usize];
            if n != 0 {
                self.counts[status as usize].fetch_add(n, Ordering::Relaxed);
                metrics::gauge!(telemetry::ORDERS_OPEN, "status" => status_label(status))
                    .increment(n as f64);
            }
        }
    }

    /// Open orders with a stop inside the box (console snapshots).
    pub fn open_orders(&self, bbox: Option<[f64; 4]>) -> Vec<Order> {
        let map = self.map.read().expect("order book lock");
        let mut out: Vec<Order> = map
            .values()
            .filter(|e| order_in_bbox(&e.order, &bbox))
            .map(|e| (*e.order).clone())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Open orders by status now; delivered, cancelled and failed since the engine
    /// started.
    pub fn counts(&self) -> OrderCounts {
        let n = |s: OrderStatus| self.counts[s as usize].load(Ordering::Relaxed).max(0) as u64;
        OrderCounts {
            pending: n(OrderStatus::Pending),
            assigned: n(OrderStatus::Assigned),
            picked_up: n(OrderStatus::PickedUp),
            unassignable: n(OrderStatus::Unassignable),
            delivered: n(OrderStatus::Delivered),
            cancelled: n(OrderStatus::Cancelled),
            failed: n(OrderStatus::Failed),
        }
    }

    /// Open orders by status (gauge and count) and finished orders by outcome (counter
    /// and count). Called under the map's write lock, so counts follow the map.
    fn count_transition(&self, old: Option<OrderStatus>, new: OrderStatus) {
        if old == Some(new) {
            return;
        }
        if let Some(old) = old {
            if !is_terminal(old) {
                metrics::gauge!(telemetry::ORDERS_OPEN, "status" => status_label(old))
                    .decrement(1.0);
                self.counts[old as usize].fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.counts[new as usize].fetch_add(1, Ordering::Relaxed);
        if is_terminal(new) {
            metrics::counter!(telemetry::ORDERS_FINISHED, "status" => status_label(new))
                .increment(1);
        } else {
            metrics::gauge!(telemetry::ORDERS_OPEN, "status" => status_label(new)).increment(1.0);
        }
    }

    pub fn len(&self) -> usize {
        self.map.read().expect("order book lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a console watching `bbox` sees the order (pickup or dropoff inside).
pub fn order_in_bbox(o: &Order, bbox: &Option<[f64; 4]>) -> bool {
    bbox.as_ref().is_none_or(|b| {
        in_bbox(b, o.pickup.lat, o.pickup.lon) || in_bbox(b, o.dropoff.lat, o.dropoff.lon)
    })
}

fn status_label(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Assigned => "assigned",
        OrderStatus::PickedUp => "picked_up",
        OrderStatus::Delivered => "delivered",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Failed => "failed",
        OrderStatus::Unassignable => "unassignable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::model::{created, set_status};
    use dispatch_protocol::{NewOrder, Stop};

    fn order(id: &str) -> Order {
        let stop = |lat| Stop {
            lat,
            lon: 24.9,
            ready_ms: None,
            due_ms: None,
            service_s: 60,
        };
        created(
            id.into(),
            NewOrder {
                id: None,
                pickup: stop(60.1),
                dropoff: stop(60.2),
                size: 1,
                priority: 0,
                details: Default::default(),
            },
            1,
        )
    }

    #[test]
    fn owners_and_terminal_orders() {
        let book = OrderBook::new(16);
        let mut rx = book.subscribe();
        let key = RegionKey { row: 1, col: 2 };
        book.publish(order("a"), Some(Owner::Region(key)));
        assert_eq!(book.owner("a"), Some(Owner::Region(key)));
        book.set_owner("a", Owner::Driver("d1".into()));
        let mut o = order("a");
        set_status(&mut o, OrderStatus::Assigned, 2, None);
        book.publish(o.clone(), None);
        assert_eq!(book.owner("a"), Some(Owner::Driver("d1".into())));
        assert_eq!(book.open_orders(Some([24.0, 60.15, 25.0, 60.25])).len(), 1);
        assert!(book.open_orders(Some([0.0, 0.0, 1.0, 1.0])).is_empty());
        assert_eq!(book.counts().assigned, 1);
        assert_eq!(book.counts().pending, 0);
        set_status(&mut o, OrderStatus::Delivered, 3, None);
        book.publish(o, None);
        assert!(book.get("a").is_none());
        let counts = book.counts();
        assert_eq!((counts.assigned, counts.delivered), (0, 1));
        assert_eq!(rx.try_recv().unwrap().status, OrderStatus::Pending);
        assert_eq!(rx.try_recv().unwrap().status, OrderStatus::Assigned);
        assert_eq!(rx.try_recv().unwrap().status, OrderStatus::Delivered);
    }

    #[test]
    fn the_book_keeps_the_arc_it_is_given() {
        let book = OrderBook::new(16);
        let o = Arc::new(order("a"));
        book.publish(o.clone(), Some(Owner::Region(RegionKey { row: 1, col: 2 })));
        assert!(Arc::ptr_eq(&book.get("a").unwrap().0, &o));
    }

    #[test]
    fn restore_all_counts_like_publishing_one_by_one() {
        let (one, all) = (OrderBook::new(16), OrderBook::new(16));
        let key = RegionKey { row: 1, col: 2 };
        let mut b = order("b");
        set_status(&mut b, OrderStatus::Assigned, 2, None);
        let mut done = order("c");
        set_status(&mut done, OrderStatus::Delivered, 3, None);
        let orders = vec![
            (order("a"), Owner::Region(key)),
            (b, Owner::Driver("d1".into())),
            (done, Owner::Region(key)),
            (order("a"), Owner::Region(key)),
        ];
        for (o, owner) in orders.clone() {
            one.publish(o, Some(owner));
        }
        all.restore_all(orders.into_iter().map(|(o, w)| (Arc::new(o), w)).collect());
        assert_eq!(all.len(), 2);
        assert_eq!(all.owner("b"), Some(Owner::Driver("d1".into())));
        let (c1, c2) = (one.counts(), all.counts());
        assert_eq!((c2.pending, c2.assigned), (c1.pending, c1.assigned));
        assert_eq!((c2.pending, c2.assigned, c2.delivered), (1, 1, 0));
    }
}
