//! `RegionActor`: owns the spatial index of one grid cell. Positions arrive through a
//! coalescing inbox (lossy-latest); queries and snapshots are awaited messages. Every
//! `publish_ms` it publishes the drivers that changed to the console feed.

use super::inbox::LatestInbox;
use crate::core::grid::RegionKey;
use crate::core::region_index::{in_bbox, DriverPoint, Nearby, RegionIndex, StatusFilter};
use crate::telemetry;
use actix::prelude::*;
use dispatch_protocol::DriverUpdate;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
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

/// What other parts of the engine hold to reach a region.
#[derive(Clone)]
pub struct RegionHandle {
    pub key: RegionKey,
    pub addr: Addr<RegionActor>,
    inbox: Arc<LatestInbox<String, RegionOp>>,
}

impl RegionHandle {
    /// Queues the latest op for a driver and wakes the region if needed.
    pub fn offer(&self, driver_id: &str, op: RegionOp) {
        let offered = self.inbox.offer(driver_id.to_string(), op);
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

pub struct RegionActor {
    key: RegionKey,
    index: RegionIndex,
    inbox: Arc<LatestInbox<String, RegionOp>>,
    /// Drivers changed since the last publish, latest state each.
    dirty: HashMap<String, DriverUpdate>,
    feed: Feed,
    publish_every: Duration,
    label: String,
}

impl RegionActor {
    pub fn spawn(
        arbiter: &ArbiterHandle,
        key: RegionKey,
        origin_lat: f64,
        feed: Feed,
        publish_every: Duration,
        mailbox: usize,
    ) -> RegionHandle {
        let inbox: Arc<LatestInbox<String, RegionOp>> = Arc::default();
        let actor_inbox = inbox.clone();
        let addr = RegionActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(mailbox);
            RegionActor {
                key,
                index: RegionIndex::new(origin_lat),
                inbox: actor_inbox,
                dirty: HashMap::new(),
                feed,
                publish_every,
                label: key.to_string(),
            }
        });
        RegionHandle { key, addr, inbox }
    }

    fn apply_pending(&mut self) {
        let batch = self.inbox.drain();
        if batch.is_empty() {
            return;
        }
        let mut applied = 0u64;
        for (id, op) in batch {
            match op {
                RegionOp::Upsert(point) => {
                    self.dirty.insert(
                        id.clone(),
                        DriverUpdate {
                            id: id.clone(),
                            lat: point.lat,
                            lon: point.lon,
                            status: point.status,
                            ts_ms: point.ts_ms,
                        },
                    );
                    self.index.upsert(&id, point);
                    applied += 1;
                }
                RegionOp::Remove => {
                    self.index.remove(&id);
                    self.dirty.remove(&id);
                }
            }
        }
        metrics::counter!(telemetry::POSITIONS_APPLIED).increment(applied);
    }

    fn publish(&mut self) {
        self.apply_pending();
        metrics::gauge!(telemetry::REGION_DRIVERS, "region" => self.label.clone())
            .set(self.index.len() as f64);
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
        ctx.run_interval(self.publish_every, |actor, _| actor.publish());
    }
}

/// Wake: apply the coalesced inbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for RegionActor {
    type Result = ();
    fn handle(&mut self, _: Drain, _: &mut Self::Context) {
        self.apply_pending();
    }
}

/// k nearest drivers of this region to a point.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Vec<Nearby>")]
pub struct Nearest {
    pub lat: f64,
    pub lon: f64,
    pub k: usize,
    pub filter: StatusFilter,
    pub radius_m: Option<f64>,
}

impl Handler<Nearest> for RegionActor {
    type Result = MessageResult<Nearest>;
    fn handle(&mut self, q: Nearest, _: &mut Self::Context) -> Self::Result {
        // Answer from the freshest state: apply what is queued first.
        self.apply_pending();
        MessageResult(self.index.nearest(q.lat, q.lon, q.k, q.filter, q.radius_m))
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
        self.apply_pending();
        MessageResult(self.index.within(q.bbox))
    }
}

/// A serialisable snapshot of the actor, for tests and the admin view.
#[derive(Debug, Clone, Serialize)]
pub struct RegionView {
    pub key: RegionKey,
    pub drivers: usize,
}

#[derive(Message)]
#[rtype(result = "RegionView")]
pub struct Observe;

impl Handler<Observe> for RegionActor {
    type Result = MessageResult<Observe>;
    fn handle(&mut self, _: Observe, _: &mut Self::Context) -> Self::Result {
        self.apply_pending();
        MessageResult(RegionView {
            key: self.key,
            drivers: self.index.len(),
        })
    }
}

/// Whether an update falls in a watcher's box.
pub fn update_in_bbox(u: &DriverUpdate, bbox: &Option<[f64; 4]>) -> bool {
    bbox.as_ref().is_none_or(|b| in_bbox(b, u.lat, u.lon))
}
