//! `DriverActor`: one per registered driver. Owns the driver's sessions (fan-out of
//! server messages), status, last position, and route: every change of the route goes
//! through here. The rules of a change (proposals on their version, stop_done, cancel,
//! release, give back, ETA refresh) are pure functions in `core::route` that return a
//! change set; the actor commits it (one atomic store write), makes it its plan, and
//! pushes it to the driver's sockets and the consoles only once a flush made it
//! durable. Positions arrive through a one-slot coalescing inbox; every other message
//! is lossless.

mod commands;
mod init;
mod outbox;

pub use commands::{stops_from_record, CancelOrder, Propose, Refusal, Release, StopDone, Withdraw};
pub use init::DriverInit;

use super::inbox::LatestInbox;
use super::mailbox::{Depth, Mailbox};
use super::region::{RegionHandle, RegionOp, SupplyChanged};
use crate::core::geo_util::haversine_m;
use crate::core::region_index::DriverPoint;
use crate::core::route::RoutePlan;
use crate::persist::PositionWriter;
use crate::planning::{etas, DriverPlan, LiveStop};
use crate::router::Regions;
use crate::shared::Shared;
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, Millis, Route, RouteStop, ServerMessage, StopKind};
use dispatch_storage::{DriverRecord, DriverStateRecord, EventKind, EventRecord, TrailPointRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// A position as a driver reported it (validated by the session).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionReport {
    pub lat: f64,
    pub lon: f64,
    pub ts_ms: Millis,
}

/// A stop of a route (its order and kind), to notice when the first stop changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StopKey(Arc<str>, StopKind);

impl StopKey {
    fn of(s: &LiveStop) -> Self {
        Self(s.order_id.clone(), s.kind)
    }
}

/// The route as regions read it when they plan: published after every change.
#[derive(Debug, Clone, Default)]
pub struct RouteSnapshot {
    pub version: u64,
    pub capacity: u32,
    pub stops: Arc<[LiveStop]>,
    /// The driver's latest position as the actor applied it: matchers plan from here,
    /// so they pin the stop being served exactly as the actor checks proposals (the
    /// region's index lags it by a moment).
    pub position: Option<(f64, f64)>,
    /// When the driver reached its first stop (see [`DriverActor::track_arrival`]).
    pub arrived_ms: Option<Millis>,
}

/// What sessions, regions and HTTP handlers hold to reach a driver.
#[derive(Clone)]
pub struct DriverHandle {
    pub id: Arc<str>,
    pub addr: Mailbox<DriverActor>,
    slot: Arc<LatestInbox<(), PositionReport>>,
    route: Arc<RwLock<RouteSnapshot>>,
    /// The driver's status as the actor last set it (`status as u8`),
    /// for fleet counts that must not queue behind actor mailboxes.
    status: Arc<AtomicU8>,
    /// Open sockets as the actor last counted them, for matchers.
    sockets: Arc<AtomicUsize>,
}

impl DriverHandle {
    pub fn status(&self) -> DriverStatus {
        let i = usize::from(self.status.load(Ordering::Relaxed));
        DriverStatus::ALL
            .into_iter()
            .find(|s| *s as usize == i)
            .unwrap_or(DriverStatus::Offline)
    }

    /// Whether a socket of the driver is open: one that is not (inside its disconnect
    /// grace period) would only hear of new work when it is back, so matchers skip it.
    pub fn connected(&self) -> bool {
        self.sockets.load(Ordering::Relaxed) > 0
    }

    /// Whether the published route has stops.
    pub fn has_stops(&self) -> bool {
        !self
            .route
            .read()
            .expect("route snapshot lock")
            .stops
            .is_empty()
    }

    /// Lossy-latest: replaces a position not yet applied and wakes the actor if needed.
    pub fn offer_position(&self, p: PositionReport) {
        let offered = self.slot.offer((), p);
        if offered.coalesced {
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "coalesced").increment(1);
        }
        if offered.wake && self.addr.try_send(PositionWake).is_err() {
            self.slot.wake_failed();
            metrics::counter!(telemetry::MAILBOX_FULL, "actor" => "driver").increment(1);
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "mailbox_full")
                .increment(1);
        }
    }

    /// The driver's plan for a matcher, from the actor's latest position (`fallback`,
    /// the region's view, before the actor has applied one).
    pub fn plan_at(&self, fallback: (f64, f64)) -> DriverPlan {
        let r = self.route.read().expect("route snapshot lock").clone();
        DriverPlan {
            driver_id: self.id.clone(),
            version: r.version,
            capacity: r.capacity,
            position: r.position.unwrap_or(fallback),
            stops: r.stops.to_vec(),
            arrived_ms: r.arrived_ms,
        }
    }
}

pub struct DriverActor {
    record: DriverRecord,
    /// `record.id`, shared with the region inboxes and the position writer (their maps
    /// hold this, not a copy per position).
    key: Arc<str>,
    /// The last point of this driver its trail kept (the sampler's state, owned here).
    trail_last: Option<TrailPointRecord>,
    status: DriverStatus,
    position: Option<PositionReport>,
    /// When the engine last changed this driver's state (position or status).
    updated_ms: Millis,
    /// When a socket of this driver last sent anything.
    last_seen_ms: Millis,
    /// The region whose index holds this driver, once it has a position (kept so the
    /// position path needs no registry lookup while the driver stays in its cell).
    region: Option<RegionHandle>,
    /// Open sockets of this driver, by session id; a full outbox drops the session.
    sessions: HashMap<u64, SessionOutbox>,
    /// Bumped on every attach, so a disconnect timer knows whether it is stale.
    attach_epoch: u64,
    slot: Arc<LatestInbox<(), PositionReport>>,
    /// The route as last committed (and announced, or about to be once durable).
    plan: RoutePlan,
    /// ETAs of `plan.stops` as announced.
    etas: Vec<Millis>,
    /// Committed changes waiting for their flush, delivered in order.
    outbox: outbox::Outbox,
    /// The route as last delivered (durable): what sockets and the API are shown.
    delivered: Route,
    /// The first stop of `plan` and when the driver came within `pin_radius_m` of it.
    arrived: Option<(StopKey, Millis)>,
    published: Arc<RwLock<RouteSnapshot>>,
    status_cell: Arc<AtomicU8>,
    sockets_cell: Arc<AtomicUsize>,
    regions: Arc<Regions>,
    writer: Arc<PositionWriter>,
    shared: Arc<Shared>,
    /// The driver mailboxes' depth gauge (every handler takes its message off).
    depth: Depth,
}

impl DriverActor {
    fn id(&self) -> &str {
        &self.record.id
    }

    fn point(&self) -> Option<DriverPoint> {
        self.position.map(|p| DriverPoint {
            lat: p.lat,
            lon: p.lon,
            status: self.status,
            ts_ms: p.ts_ms,
        })
    }

    /// Puts the driver in the index of the region its position falls in, handing it off
    /// from the previous region when it crossed a border.
    fn publish_to_region(&mut self) {
        let Some(point) = self.point() else {
            return;
        };
        let key = self.regions.grid().key(point.lat, point.lon);
        let region = match self.region.take() {
            Some(current) if current.key == key => current,
            previous => {
                if let Some(old) = previous {
                    old.offer(&self.key, RegionOp::Remove);
                    metrics::counter!(telemetry::HANDOFFS).increment(1);
                }
                self.regions.get_or_create(key)
            }
        };
        region.offer(&self.key, RegionOp::Upsert(point));
        self.region = Some(region);
    }

    fn state_record(&self) -> DriverStateRecord {
        let p = self.position.unwrap_or(PositionReport {
            lat: 0.0,
            lon: 0.0,
            ts_ms: 0,
        });
        DriverStateRecord {
            lat: p.lat,
            lon: p.lon,
            ts_ms: p.ts_ms,
            status: crate::persist::status_to_record(self.status),
            updated_ms: self.updated_ms,
            has_position: self.position.is_some(),
        }
    }

    fn persist_state(&self) {
        self.writer.mark(&self.key, self.state_record());
    }

    /// Sends a message to every session; a session whose outbox is full is dropped
    /// (its socket closes with 1013) rather than waited on.
    fn fan_out(&mut self, msg: &ServerMessage) {
        let depth = metrics::gauge!(telemetry::QUEUE_DEPTH, "queue" => "session_outbox");
        self.sessions
            .retain(|_, tx| match tx.try_send(Box::new(msg.clone())) {
                Ok(()) => {
                    depth.increment(1.0);
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!(telemetry::MAILBOX_FULL, "actor" => "session").increment(1);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        self.count_sockets();
    }

    /// Publishes the open-socket count, and the fleet's count of connected drivers
    /// when this driver's changes.
    fn count_sockets(&self) {
        let now = self.sessions.len();
        let before = self.sockets_cell.swap(now, Ordering::Relaxed);
        match (before > 0, now > 0) {
            (false, true) => self
                .shared
                .connected_drivers
                .fetch_add(1, Ordering::Relaxed),
            (true, false) => self
                .shared
                .connected_drivers
                .fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// Where the route starts: the driver's position, else its first stop.
    fn here(&self, stops: &[LiveStop]) -> (f64, f64) {
        match (self.position, stops.first()) {
            (Some(p), _) => (p.lat, p.lon),
            (None, Some(s)) => (s.lat, s.lon),
            (None, None) => (0.0, 0.0),
        }
    }

    fn compute_etas(&self, stops: &[LiveStop], now: Millis) -> Vec<Millis> {
        etas(self.here(stops), stops, now, &self.shared.travel)
    }

    /// Notes when the driver reached its first stop: the first position within
    /// `pin_radius_m` of it (the planner's rule for "serving it") since it became the
    /// first stop. A driver that has been serving for ten minutes of a fifteen-minute
    /// stop is free in five, not in fifteen: the planner starts its route from there.
    /// Answers the arrival, if the driver is at its first stop.
    fn track_arrival(&mut self, now: Millis) -> Option<Millis> {
        let first = self.plan.stops.first().map(StopKey::of);
        self.arrived = match (self.pinned() == 1, first, self.arrived.take()) {
            (true, Some(k), Some((was, t))) if was == k => Some((k, t)),
            (true, Some(k), _) => Some((k, now)),
            _ => None,
        };
        self.arrived.as_ref().map(|a| a.1)
    }

    /// Leading stops a proposal must leave in place: the next stop once the driver is
    /// there (within `dispatch.pin_radius_m`, the rule the planner pins by).
    fn pinned(&self) -> usize {
        match (self.position, self.plan.stops.first()) {
            (Some(p), Some(s))
                if haversine_m(p.lat, p.lon, s.lat, s.lon) <= self.shared.params.pin_radius_m =>
            {
                1
            }
            _ => 0,
        }
    }

    /// The route as sockets and the API show it; on roads each stop carries the road
    /// path of its leg.
    fn wire_route(&self) -> Route {
        let travel = &self.shared.travel;
        let mut from = self.here(&self.plan.stops);
        let stops = self.plan.stops.iter().zip(&self.etas).map(|(s, &eta)| {
            let path = travel.path(from, s.point());
            from = s.point();
            RouteStop {
                stop_id: s.stop_id(),
                order_id: s.order_id.to_string(),
                kind: s.kind,
                lat: s.lat,
                lon: s.lon,
                eta_ms: eta,
                ready_ms: s.ready_ms,
                due_ms: s.due_ms,
                path,
            }
        });
        Route {
            version: self.plan.version,
            stops: stops.collect(),
        }
    }

    fn set_status(&mut self, ctx: &mut Context<Self>, status: DriverStatus) {
        if status == self.status {
            return;
        }
        let old = self.status;
        self.status = status;
        self.status_cell.store(status as u8, Ordering::Relaxed);
        self.updated_ms = now_ms();
        self.publish_to_region();
        self.persist_state();
        self.writer.event(EventRecord {
            at_ms: self.updated_ms,
            kind: EventKind::DriverStatusChanged {
                id: self.record.id.clone(),
                old: crate::persist::status_to_record(old),
                new: crate::persist::status_to_record(status),
            },
        });
        if status == DriverStatus::Offline {
            self.give_back(ctx, "driver went offline");
        }
    }

    /// Silence and drifting ETAs, checked on timers.
    fn check(&mut self, ctx: &mut Context<Self>) {
        let now = now_ms();
        let silent = now.saturating_sub(self.last_seen_ms) > self.shared.config.silent_timeout_ms;
        if silent && self.status != DriverStatus::Offline {
            tracing::info!(driver = %self.id(), "driver silent: offline");
            self.set_status(ctx, DriverStatus::Offline);
        }
    }

    fn view(&self) -> DriverView {
        DriverView {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            capacity: self.record.capacity,
            load: self.plan.load(),
            status: self.status,
            lat: self.position.map(|p| p.lat),
            lon: self.position.map(|p| p.lon),
            ts_ms: self.position.map(|p| p.ts_ms),
            updated_ms: self.updated_ms,
            connected: self.sessions.len(),
            route: self.delivered.clone(),
        }
    }

    fn tell_region_supply(&self, around: bool) {
        if let Some(r) = &self.region {
            let at = self.position.map(|p| (p.lat, p.lon)).into_iter().collect();
            let _ = r.addr.try_send(SupplyChanged { around, at });
        }
    }
}

impl Actor for DriverActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let c = &self.shared.config;
        let every = Duration::from_millis((c.silent_timeout_ms / 4).clamp(50, 5_000));
        ctx.run_interval(every, |act, ctx| act.check(ctx));
        ctx.run_interval(Duration::from_millis(c.eta_check_ms), |act, ctx| {
            act.check_etas(ctx)
        });
    }
}

/// Wake: apply the latest position from the slot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PositionWake;

impl Handler<PositionWake> for DriverActor {
    type Result = ();
    fn handle(&mut self, _: PositionWake, _: &mut Self::Context) {
        self.depth.took();
        let Some(p) = self.slot.drain().remove(&()) else {
            return;
        };
        // A driver never moves back in time: a fix older than the one applied (a
        // tracker's late retry, a buffered point) is dropped.
        if self.position.is_some_and(|at| p.ts_ms < at.ts_ms) {
            metrics::counter!(telemetry::POSITIONS_DROPPED, "reason" => "out_of_order")
                .increment(1);
            return;
        }
        self.position = Some(p);
        let trails = &self.shared.trails;
        trails.offer(&self.record.id, &mut self.trail_last, p.ts_ms, p.lat, p.lon);
        let now = now_ms();
        let arrived_ms = self.track_arrival(now);
        {
            let mut published = self.published.write().expect("route snapshot lock");
            published.position = Some((p.lat, p.lon));
            published.arrived_ms = arrived_ms;
        }
        self.updated_ms = now;
        self.last_seen_ms = self.updated_ms;
        self.publish_to_region();
        self.persist_state();
    }
}

/// The driver set its status.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus(pub DriverStatus);

impl Handler<SetStatus> for DriverActor {
    type Result = ();
    fn handle(&mut self, SetStatus(status): SetStatus, ctx: &mut Self::Context) {
        self.depth.took();
        self.last_seen_ms = now_ms();
        self.set_status(ctx, status);
        if status == DriverStatus::Available {
            self.tell_region_supply(false);
        }
    }
}

/// What a driver actor sends one of its sockets. Boxed: a bounded channel allocates its
/// first block of 32 slots when made, and an idle socket should not hold 32 inline
/// `ServerMessage`s (~10 KiB) for the one route push it may get.
pub type SessionOutbox = mpsc::Sender<Box<ServerMessage>>;

/// A socket said `hello`: it receives this driver's messages from now on. Answers the
/// current route for the `welcome`.
#[derive(Message)]
#[rtype(result = "Route")]
pub struct Attach {
    pub session_id: u64,
    pub outbox: SessionOutbox,
}

impl Handler<Attach> for DriverActor {
    type Result = MessageResult<Attach>;
    fn handle(&mut self, a: Attach, _: &mut Self::Context) -> Self::Result {
        self.depth.took();
        let was_connected = !self.sessions.is_empty();
        self.sessions.insert(a.session_id, a.outbox);
        self.count_sockets();
        self.attach_epoch += 1;
        self.last_seen_ms = now_ms();
        if !was_connected && self.status == DriverStatus::Available {
            // Back within its grace period: matchers here and around may use it again.
            self.tell_region_supply(true);
        }
        MessageResult(self.delivered.clone())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Detach {
    pub session_id: u64,
}

impl Handler<Detach> for DriverActor {
    type Result = ();
    fn handle(&mut self, d: Detach, ctx: &mut Self::Context) {
        self.depth.took();
        self.sessions.remove(&d.session_id);
        self.count_sockets();
        if !self.sessions.is_empty() {
            return;
        }
        // The last socket closed: unless the driver is back within the grace period,
        // it is offline and gives back what it has not picked up.
        let epoch = self.attach_epoch;
        let grace = Duration::from_millis(self.shared.config.disconnect_grace_ms);
        ctx.run_later(grace, move |act, ctx| {
            if act.sessions.is_empty() && act.attach_epoch == epoch {
                tracing::info!(driver = %act.id(), "driver disconnected: offline");
                act.set_status(ctx, DriverStatus::Offline);
            }
        });
    }
}

/// A driver as HTTP and tests read it.
#[derive(Debug, Clone, Serialize)]
pub struct DriverView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub capacity: u32,
    pub load: u32,
    pub status: DriverStatus,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The driver's own timestamp of its last position.
    pub ts_ms: Option<Millis>,
    pub updated_ms: Millis,
    /// Open sockets of this driver.
    pub connected: usize,
    pub route: Route,
}

#[derive(Message)]
#[rtype(result = "DriverView")]
pub struct Observe;

impl Handler<Observe> for DriverActor {
    type Result = MessageResult<Observe>;
    fn handle(&mut self, _: Observe, _: &mut Self::Context) -> Self::Result {
        self.depth.took();
        MessageResult(self.view())
    }
}

/// Pushes a message to every session of the driver.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push(pub ServerMessage);

impl Handler<Push> for DriverActor {
    type Result = ();
    fn handle(&mut self, Push(msg): Push, _: &mut Self::Context) {
        self.depth.took();
        self.fan_out(&msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::orders::model::{job, sample};
    use dispatch_protocol::Order;

    fn order(id: &str) -> Order {
        sample(id, now_ms())
    }

    /// A proposal for `orders` on `base_version`: the orders' stops appended in order.
    fn propose(base_version: u64, orders: &[Order]) -> Propose {
        let stops = orders
            .iter()
            .flat_map(|o| {
                let j = job(o);
                [j.pickup, j.dropoff]
            })
            .collect();
        Propose(crate::core::route::Proposal {
            base_version,
            stops,
            orders: orders.to_vec(),
        })
    }

    /// The rule that keeps an order on one route: a proposal is taken only on the
    /// route version it was computed on, and only from an available driver.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn proposals_are_taken_only_on_their_route_version() {
        let dir = tempfile::tempdir().unwrap();
        let (app, commit) = App::for_tests(dir.path());
        let record = DriverRecord {
            id: "d1".into(),
            name: None,
            capacity: 4,
            created_ms: now_ms(),
        };
        let h = app.spawn_driver(DriverInit::new(record, DriverStatus::Available, now_ms()));
        h.addr
            .send(SetStatus(DriverStatus::Available))
            .await
            .unwrap();
        let v0 = h.plan_at((60.17, 24.94)).version;

        // Computed on a version the route never had: refused, nothing changes.
        let a = order("o-a");
        assert!(!h
            .addr
            .send(propose(v0 + 1, std::slice::from_ref(&a)))
            .await
            .unwrap());
        assert_eq!(h.plan_at((0.0, 0.0)).version, v0);
        assert!(h.plan_at((0.0, 0.0)).stops.is_empty());

        // On the current version: taken, and the published route moves on.
        assert!(h
            .addr
            .send(propose(v0, std::slice::from_ref(&a)))
            .await
            .unwrap());
        let after = h.plan_at((0.0, 0.0));
        assert_eq!(after.version, v0 + 1);
        assert_eq!(after.stops.len(), 2);

        // A second region that planned on the old version is refused: the order it
        // carries never lands on a route computed without the first one.
        let b = order("o-b");
        assert!(!h
            .addr
            .send(propose(v0, std::slice::from_ref(&b)))
            .await
            .unwrap());
        let on_route: Vec<_> = h
            .plan_at((0.0, 0.0))
            .stops
            .iter()
            .map(|s| s.order_id.to_string())
            .collect();
        assert_eq!(on_route, ["o-a", "o-a"]);
        // Retried on the fresh version (as the next tick does), it is taken.
        let mut both = after.stops.clone();
        let j = job(&b);
        both.extend([j.pickup, j.dropoff]);
        let retry = Propose(crate::core::route::Proposal {
            base_version: after.version,
            stops: both,
            orders: vec![b],
        });
        assert!(h.addr.send(retry).await.unwrap());
        assert_eq!(h.plan_at((0.0, 0.0)).stops.len(), 4);

        // An offline driver takes nothing, whatever the version.
        h.addr.send(SetStatus(DriverStatus::Offline)).await.unwrap();
        let current = h.plan_at((0.0, 0.0)).version;
        assert!(!h
            .addr
            .send(propose(current, &[order("o-c")]))
            .await
            .unwrap());
        commit.shutdown().unwrap();
    }
}
