//! `RegionActor`: owns the spatial index of one grid cell and the pending orders whose
//! pickup lies in it. Positions arrive through a coalescing inbox (lossy-latest);
//! queries, orders and snapshots are lossless messages. Every `publish_ms` it
//! publishes the drivers that changed to the console feed and its available drivers
//! for its neighbours; every `dispatch.tick_ms` it matches its pending orders as one
//! batch and proposes the result to the drivers.
//!
//! Its spatial index is shared for reading (`RegionHandle::nearest`): the actor is the
//! only writer and holds the write lock while it drains its inbox and applies the
//! batch, so a reader that holds the read lock and finds the inbox empty sees every
//! op offered before its query, with no message to the actor.

mod arriving;
mod cancel;
mod in_flight;
mod matching;
mod reopt;
mod timers;
pub use arriving::{Arrival, Arrived, Expect, Forget};
pub use cancel::CancelPending;
use in_flight::InFlight;

use super::inbox::LatestInbox;
use super::mailbox::{Depth, Mailbox};
use super::Fleet;
use crate::core::grid::RegionKey;
use crate::core::nearest::Query;
use crate::core::order_queue::OrderQueue;
use crate::core::region_index::{in_bbox, DriverPoint, Nearby, RegionIndex};
use crate::core::FastMap;
use crate::shared::Shared;
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, DriverUpdate, Millis, Order, OrderStatus};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// What a driver actor tells its region about one driver.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionOp {
    Upsert(DriverPoint),
    /// The driver left this region (handed off to a neighbour).
    Remove,
}

/// Batches of changed drivers, shared by every console watcher.
pub type Feed = broadcast::Sender<Arc<Vec<DriverUpdate>>>;

/// Available, connected drivers of a region as its neighbours read them (refreshed every
/// `publish_ms`), so matching near a border needs no message to the neighbour.
pub type Available = Arc<RwLock<Arc<Vec<DriverUpdate>>>>;

/// The region's index as the actor publishes it for readers: written by the actor
/// alone, under the write lock for a whole inbox drain (see the module's doc).
pub type SharedIndex = Arc<RwLock<RegionIndex>>;

/// What other parts of the engine hold to reach a region.
#[derive(Clone)]
pub struct RegionHandle {
    pub key: RegionKey,
    pub addr: Mailbox<RegionActor>,
    inbox: Arc<LatestInbox<Arc<str>, RegionOp>>,
    available: Available,
    index: SharedIndex,
}

impl RegionHandle {
    /// Queues the latest op for a driver and wakes the region if needed.
    pub fn offer(&self, driver_id: &Arc<str>, op: RegionOp) {
        let offered = self.inbox.offer(driver_id.clone(), op);
        if offered.coalesced {
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "coalesced").increment(1);
        }
        if offered.wake && self.addr.try_send(Drain).is_err() {
            // The region's publish tick drains the inbox anyway; nothing is lost.
            self.inbox.wake_failed();
            metrics::counter!(telemetry::MAILBOX_FULL, "actor" => "region").increment(1);
        }
    }
}

impl RegionHandle {
    pub fn available(&self) -> Arc<Vec<DriverUpdate>> {
        self.available.read().expect("available lock").clone()
    }

    /// The `k` nearest drivers of this region (see [`RegionIndex::nearest`]), as fresh
    /// as the actor's own answer: every op offered to the region before the call is in
    /// it. Read from the shared index when nothing offered is left unapplied, else
    /// asked of the actor, which applies its inbox first. `None`: the actor is gone.
    pub async fn nearest(&self, q: Query) -> Option<Vec<Nearby>> {
        if let Some(found) = self.read_nearest(&q) {
            return Some(found);
        }
        self.addr.send(Nearest(q)).await.ok()
    }

    /// [`nearest`](Self::nearest) from the shared index, without a message; `None`
    /// when the inbox holds ops not applied yet or the actor is applying a batch now
    /// (the caller asks the actor then). The inbox is checked under the read lock: the
    /// actor drains it only under the write lock, so an empty inbox here means every
    /// op offered before was drained by a batch already applied.
    pub fn read_nearest(&self, q: &Query) -> Option<Vec<Nearby>> {
        let index = self.index.try_read().ok()?;
        if !self.inbox.is_empty() {
            return None;
        }
        Some(q.ask(&index))
    }
}

pub struct RegionActor {
    key: RegionKey,
    /// Written here only (see [`SharedIndex`]); the actor's own reads take the read
    /// lock, which never waits: no other thread writes.
    index: SharedIndex,
    inbox: Arc<LatestInbox<Arc<str>, RegionOp>>,
    /// Drivers changed since the last publish, latest state each.
    dirty: FastMap<Arc<str>, DriverUpdate>,
    feed: Feed,
    publish_every: Duration,
    label: String,
    available: Available,
    /// Other regions and the drivers, through the router.
    fleet: Arc<dyn Fleet>,
    shared: Arc<Shared>,
    /// The orders waiting for a driver here; the unassignable ones parked until supply
    /// near them changes (or the backstop's turn comes).
    pending: OrderQueue,
    /// Where a driver became available or freed capacity since the last round: the
    /// unassignable orders nearest to each are retried.
    supply: Vec<(f64, f64)>,
    /// Where drivers became available here since the last publish: the neighbours are
    /// told (after the snapshot they read is refreshed), so their border orders retry
    /// too.
    tell_neighbours: Vec<(f64, f64)>,
    /// When the backstop next wakes a slice of the parked orders.
    backstop_at_ms: Millis,
    /// The tick and publish timers, while the region has work (see `timers.rs`).
    timers: Option<timers::Timers>,
    /// A match is scheduled within the batch window.
    match_scheduled: bool,
    /// The region mailboxes' depth gauge (every handler takes its message off).
    depth: Depth,
    /// Re-optimisation: whether a search runs, and recent changes per driver.
    reopt: reopt::ReoptState,
    /// Orders out of the queue while drivers are asked to take them.
    in_flight: InFlight,
    /// Orders written for this region whose flush is not done (`arriving.rs`).
    arriving: HashMap<String, Arc<Order>>,
}

/// How a region is made (everything but its key).
#[derive(Clone)]
pub struct RegionSetup {
    pub feed: Feed,
    pub publish_every: Duration,
    pub mailbox: usize,
    pub shared: Arc<Shared>,
}

impl RegionActor {
    pub fn spawn(
        arbiter: &ArbiterHandle,
        key: RegionKey,
        center: (f64, f64),
        setup: RegionSetup,
        fleet: Arc<dyn Fleet>,
    ) -> RegionHandle {
        let inbox: Arc<LatestInbox<Arc<str>, RegionOp>> = Arc::default();
        let available: Available = Arc::default();
        let index: SharedIndex = Arc::new(RwLock::new(RegionIndex::new(center.0, center.1)));
        let actor_inbox = inbox.clone();
        let actor_available = available.clone();
        let actor_index = index.clone();
        let depth = Depth::new("region_mailbox");
        let actor_depth = depth.clone();
        let addr = RegionActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(setup.mailbox);
            let backstop_at_ms = now_ms() + setup.shared.config.unassignable_retry_ms;
            RegionActor {
                key,
                index: actor_index,
                inbox: actor_inbox,
                dirty: FastMap::default(),
                feed: setup.feed,
                publish_every: setup.publish_every,
                label: key.to_string(),
                available: actor_available,
                fleet,
                shared: setup.shared,
                pending: OrderQueue::new(center.0, center.1),
                supply: Vec::new(),
                tell_neighbours: Vec::new(),
                backstop_at_ms,
                timers: None,
                match_scheduled: false,
                depth: actor_depth,
                reopt: reopt::ReoptState::default(),
                in_flight: InFlight::default(),
                arriving: HashMap::new(),
            }
        });
        RegionHandle {
            key,
            addr: Mailbox::new(addr, depth),
            inbox,
            available,
            index,
        }
    }

    /// The index for reading (the actor's own reads: never waits, see [`SharedIndex`]).
    fn index(&self) -> std::sync::RwLockReadGuard<'_, RegionIndex> {
        self.index.read().expect("region index lock")
    }

    fn apply_pending(&mut self) {
        if self.inbox.settle_if_empty() {
            return;
        }
        // Drained and applied under one write lock: readers of the shared index rely on
        // an empty inbox meaning "everything offered is applied" (see `read_nearest`).
        let mut index = self.index.write().expect("region index lock");
        let batch = self.inbox.drain();
        if batch.is_empty() {
            return;
        }
        let mut applied = 0u64;
        for (id, op) in batch {
            match op {
                RegionOp::Upsert(point) => {
                    if point.status == DriverStatus::Available
                        && index
                            .get(&id)
                            .is_none_or(|p| p.status != DriverStatus::Available)
                    {
                        self.supply.push((point.lat, point.lon));
                        self.tell_neighbours.push((point.lat, point.lon));
                    }
                    // Updated in place while the driver is already due to be
                    // published: one id copy per driver and publish, not per position.
                    match self.dirty.get_mut(&*id) {
                        Some(u) => {
                            (u.lat, u.lon) = (point.lat, point.lon);
                            (u.status, u.ts_ms) = (point.status, point.ts_ms);
                        }
                        None => {
                            let update = DriverUpdate {
                                id: id.to_string(),
                                lat: point.lat,
                                lon: point.lon,
                                status: point.status,
                                ts_ms: point.ts_ms,
                            };
                            self.dirty.insert(id.clone(), update);
                        }
                    }
                    index.upsert(&id, point);
                    applied += 1;
                }
                RegionOp::Remove => {
                    index.remove(&id);
                    self.dirty.remove(&*id);
                }
            }
        }
        metrics::counter!(telemetry::POSITIONS_APPLIED).increment(applied);
    }

    fn publish(&mut self) {
        self.apply_pending();
        metrics::gauge!(telemetry::REGION_DRIVERS, "region" => self.label.clone())
            .set(self.index().len() as f64);
        metrics::gauge!(telemetry::REGION_PENDING, "region" => self.label.clone())
            .set(self.pending.len() as f64);
        // Only drivers a neighbour's matcher may take: available and connected (a
        // driver reconnecting tells this region, whose next publish shows it and then
        // tells the neighbours).
        // None connected (right after a start): nothing to look at.
        let fleet = &self.fleet;
        let anyone = self.shared.connected_drivers.load(Ordering::Relaxed) > 0;
        let available: Vec<DriverUpdate> = match anyone {
            false => Vec::new(),
            true => self
                .index()
                .within(None)
                .into_iter()
                .filter(|d| {
                    d.status == DriverStatus::Available
                        && fleet.driver_holds(&d.id, &super::DriverHandle::connected)
                })
                .collect(),
        };
        *self.available.write().expect("available lock") = Arc::new(available);
        let at = std::mem::take(&mut self.tell_neighbours);
        if !at.is_empty() {
            // Every region whose orders may take a driver of this cell as a candidate.
            let grid = self.fleet.grid();
            let rings = grid.rings_within(self.key, self.shared.config.candidate_radius_m);
            for key in (1..=rings).flat_map(|r| grid.ring(self.key, r)) {
                if let Some(n) = self.fleet.region(key) {
                    let _ = n.addr.try_send(SupplyChanged {
                        around: false,
                        at: at.clone(),
                    });
                }
            }
        }
        if self.dirty.is_empty() {
            return;
        }
        let updates: Vec<DriverUpdate> = self.dirty.drain().map(|(_, u)| u).collect();
        // No watcher subscribed is the normal idle case.
        let _ = self.feed.send(Arc::new(updates));
    }
}

impl Actor for RegionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.wake(ctx);
        let every = self.shared.config.rebalance_ms;
        if every > 0 {
            ctx.run_interval(Duration::from_millis(every), |actor, ctx| {
                actor.rebalance(ctx)
            });
        }
        let every = self.shared.config.reoptimise.every_ms;
        if every > 0 {
            ctx.run_interval(Duration::from_millis(every), |actor, ctx| {
                actor.reoptimise(ctx)
            });
        }
    }
}

/// An order for this region's queue (new, given back, or recovered): the `Arc` the
/// order book holds, so the queue shares it rather than keeping its own copy.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue(pub Arc<Order>);

impl Handler<Enqueue> for RegionActor {
    type Result = ();
    fn handle(&mut self, Enqueue(order): Enqueue, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        self.enqueue(ctx, order);
    }
}

/// Recovery: the orders of this region's queue, all at once; answered once queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EnqueueAll(pub Vec<Arc<Order>>);

impl Handler<EnqueueAll> for RegionActor {
    type Result = ();
    fn handle(&mut self, EnqueueAll(orders): EnqueueAll, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        self.pending.reserve(orders.len());
        for order in orders {
            self.enqueue(ctx, order);
        }
    }
}

impl RegionActor {
    /// Queues an order; one recovered as unassignable is parked at once (it waits for
    /// supply, as it did before the restart).
    fn enqueue(&mut self, ctx: &mut Context<Self>, order: Arc<Order>) {
        self.match_soon(ctx);
        let parked = order.status == OrderStatus::Unassignable;
        self.pending.insert(order, now_ms(), parked);
    }
}

/// Drivers at `at` freed capacity or became available: retry the unassignable orders
/// nearest to them. `around`: the regions around this one too, for a change their
/// snapshots of this one do not show (an available driver back on a socket after a
/// disconnect: it was no candidate meanwhile). A change with no position (a driver
/// that never sent one) wakes the backstop's next slice instead.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SupplyChanged {
    pub around: bool,
    pub at: Vec<(f64, f64)>,
}

impl Handler<SupplyChanged> for RegionActor {
    type Result = ();
    fn handle(&mut self, s: SupplyChanged, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        if s.at.is_empty() {
            self.backstop_at_ms = 0;
        }
        if s.around {
            self.tell_neighbours.extend_from_slice(&s.at);
        }
        self.supply.extend(s.at);
    }
}

/// Wake: apply the coalesced inbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for RegionActor {
    type Result = ();
    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.depth.took();
        self.wake(ctx);
        self.apply_pending();
    }
}

/// k nearest drivers of this region to a point.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Vec<Nearby>")]
pub struct Nearest(pub Query);

impl Handler<Nearest> for RegionActor {
    type Result = MessageResult<Nearest>;
    fn handle(&mut self, Nearest(q): Nearest, _: &mut Self::Context) -> Self::Result {
        self.depth.took();
        // Answer from the freshest state: apply what is queued first.
        self.apply_pending();
        MessageResult(q.ask(&self.index()))
    }
}

/// Every driver of this region inside the box (for console snapshots).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Vec<DriverUpdate>")]
pub struct Within {
    pub bbox: Option<[f64; 4]>,
}

impl Handler<Within> for RegionActor {
    type Result = MessageResult<Within>;
    fn handle(&mut self, q: Within, _: &mut Self::Context) -> Self::Result {
        self.depth.took();
        self.apply_pending();
        MessageResult(self.index().within(q.bbox))
    }
}

/// A serialisable snapshot of the actor, for tests and the admin view.
#[derive(Debug, Clone, Serialize)]
pub struct RegionView {
    pub key: RegionKey,
    pub drivers: usize,
    pub pending_orders: usize,
}

#[derive(Message)]
#[rtype(result = "RegionView")]
pub struct Observe;

impl Handler<Observe> for RegionActor {
    type Result = MessageResult<Observe>;
    fn handle(&mut self, _: Observe, _: &mut Self::Context) -> Self::Result {
        self.depth.took();
        self.apply_pending();
        MessageResult(RegionView {
            key: self.key,
            drivers: self.index().len(),
            pending_orders: self.pending.len(),
        })
    }
}

/// Whether an update falls in a watcher's box.
pub fn update_in_bbox(u: &DriverUpdate, bbox: &Option<[f64; 4]>) -> bool {
    bbox.as_ref().is_none_or(|b| in_bbox(b, u.lat, u.lon))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::core::region_index::StatusFilter;
    use std::sync::atomic::AtomicU64;

    /// The read path's guarantee, under a writer that never pauses: a nearest query
    /// (from the shared index, or from the actor when ops wait in its inbox) sees every
    /// position offered to the region before the query began.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nearest_sees_every_position_offered_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (app, commit) = App::for_tests(dir.path());
        let (lat, lon) = (60.1725, 24.9425);
        let region = app.regions.get_or_create(app.regions.grid().key(lat, lon));
        let offered = Arc::new(AtomicU64::new(0));
        const POSITIONS: u64 = 20_000;
        let writer = {
            let (region, offered) = (region.clone(), offered.clone());
            std::thread::spawn(move || {
                let id: Arc<str> = Arc::from("x");
                for ts_ms in 1..=POSITIONS {
                    let point = DriverPoint {
                        lat: lat + (ts_ms % 100) as f64 * 1e-6,
                        lon,
                        status: DriverStatus::Available,
                        ts_ms,
                    };
                    region.offer(&id, RegionOp::Upsert(point));
                    offered.store(ts_ms, Ordering::Release);
                }
            })
        };
        let mut queries = 0;
        loop {
            let before = offered.load(Ordering::Acquire);
            let found = app
                .regions
                .nearest(lat, lon, 1, StatusFilter::Any, None)
                .await;
            queries += 1;
            if before > 0 {
                assert!(
                    found.first().is_some_and(|n| n.ts_ms >= before),
                    "offered up to {before} before the query, answered {found:?}"
                );
            }
            if before == POSITIONS {
                break;
            }
        }
        writer.join().unwrap();
        assert!(queries > 1);
        commit.shutdown().unwrap();
    }
}
