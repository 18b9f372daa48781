//! The driver's route changes: proposals and releases from regions, stop completions
//! and cancellations from sockets and the API. Each asks the rules in `core::route`
//! for a change, commits it through the ledger and delivers it once durable.

use super::{DriverActor, RouteSnapshot};
use crate::actors::region::Enqueue;
use crate::core::grid::RegionKey;
use crate::core::route::{self, Proposal, RouteChange, RoutePlan};
use crate::orders::book::Owner;
use crate::orders::ledger::{ChangeSet, Written};
use crate::orders::model::live_stop;
use crate::planning::LiveStop;
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{
    DriverStatus, ErrorCode, Millis, Order, Route, ServerMessage, StopKind, StopOutcome,
};
use dispatch_storage::{RouteRecord, RouteStopRecord, StopKindRecord};
use std::sync::Arc;
use std::time::Duration;

/// What a committed change delivers once durable and published.
pub(super) struct Delivery {
    route: Route,
    /// Orders handed back to their pickup region (the `Arc`s the book publishes).
    requeue: Vec<Arc<Order>>,
    /// Creation times of orders assigned for the first time (created → pushed latency).
    added: Vec<Millis>,
}

impl DriverActor {
    /// Commits a change: ETAs recomputed, the next route and every order on it (plus
    /// those that left it) written as one atomic change; only then is it this actor's
    /// plan and the snapshot regions plan on republished, so a failed write leaves
    /// nothing to undo. Announced once durable.
    pub(super) fn commit(
        &mut self,
        change: RouteChange,
    ) -> Result<Pending, dispatch_storage::StoreError> {
        self.commit_owned(change, None)
    }

    /// [`commit`](Self::commit), the orders handed back owned by `requeue_to` rather than
    /// by their pickup regions (a re-optimising region holds the orders it withdraws).
    fn commit_owned(
        &mut self,
        change: RouteChange,
        requeue_to: Option<RegionKey>,
    ) -> Result<Pending, dispatch_storage::StoreError> {
        let RouteChange {
            reason,
            mut next,
            finished,
            requeue,
            first_assigned,
        } = change;
        let etas = self.compute_etas(&next.stops, now_ms());
        for (s, &eta) in next.stops.iter().zip(&etas) {
            if let Some(o) = next.orders.get_mut(&s.order_id) {
                match s.kind {
                    StopKind::Pickup => o.pickup_eta_ms = Some(eta),
                    StopKind::Dropoff => o.dropoff_eta_ms = Some(eta),
                }
            }
        }
        let me: Arc<str> = Arc::from(self.id());
        let grid = self.regions.grid();
        let mut orders: Vec<(Arc<Order>, Option<Owner>)> = next
            .orders
            .values()
            .map(|o| (Arc::new(o.clone()), Some(Owner::Driver(me.clone()))))
            .collect();
        orders.extend(finished.into_iter().map(|o| (Arc::new(o), None)));
        let requeue: Vec<Arc<Order>> = requeue.into_iter().map(Arc::new).collect();
        orders.extend(requeue.iter().map(|o| {
            let key = requeue_to.unwrap_or_else(|| grid.key(o.pickup.lat, o.pickup.lon));
            (o.clone(), Some(Owner::Region(key)))
        }));
        let set = ChangeSet {
            orders,
            route: Some((self.record.id.clone(), route_record(&next, &etas))),
        };
        // Nothing written on an error: the plan keeps its version (regions plan on it).
        let written = self.shared.ledger.write(set)?;
        (self.plan, self.etas) = (next, etas);
        let arrived_ms = self.track_arrival(now_ms());
        *self.published.write().expect("route snapshot lock") = RouteSnapshot {
            version: self.plan.version,
            capacity: self.record.capacity,
            stops: self.plan.stops.clone().into(),
            position: self.position.map(|p| (p.lat, p.lon)),
            arrived_ms,
        };
        metrics::counter!(telemetry::REPLANS, "reason" => reason).increment(1);
        Ok((
            written,
            Delivery {
                route: self.wire_route(),
                requeue,
                added: first_assigned,
            },
        ))
    }

    /// Once the change is durable and its orders published (the ledger's order: whoever
    /// hears of the route finds the orders in the state it shows): hand back requeued
    /// orders to their regions, push the route.
    fn deliver(&mut self, d: Delivery) {
        for o in d.requeue {
            let key = self.regions.grid().key(o.pickup.lat, o.pickup.lon);
            self.regions.get_or_create(key).addr.do_send(Enqueue(o));
        }
        let now = now_ms();
        self.delivered = d.route.clone();
        self.fan_out(&ServerMessage::Route { route: d.route });
        for created in d.added {
            let took = now.saturating_sub(created);
            metrics::histogram!(telemetry::ORDER_PUSH_SECONDS).record(took as f64 / 1000.0);
            self.shared.stats.route.record(Duration::from_millis(took));
        }
    }

    /// Publishes and delivers a committed change once durable, after every change
    /// before it (`outbox.rs`); the mailbox goes on meanwhile.
    pub(super) fn deliver_when_durable(&mut self, ctx: &mut Context<Self>, (written, d): Pending) {
        self.after_durable(ctx, written, move |act, res| match res {
            Ok(()) => act.deliver(d),
            Err(e) => {
                tracing::error!(driver = %act.id(), error = %e, "route change not durable")
            }
        });
    }
    /// Gives back every order not yet picked up (driver offline or silent): they go
    /// back to pending in their pickup region. Picked-up orders stay.
    pub(super) fn give_back(&mut self, ctx: &mut Context<Self>, why: &'static str) {
        let Some(change) = route::give_back(&self.plan, why, now_ms()) else {
            return;
        };
        let n = change.requeue.len();
        match self.commit(change) {
            Ok(w) => {
                metrics::counter!(telemetry::GIVEN_BACK).increment(n as u64);
                tracing::info!(driver = %self.id(), orders = n, why, "orders given back");
                self.deliver_when_durable(ctx, w);
            }
            // Still on this route as far as the store knows: they stay here.
            Err(e) => tracing::error!(driver = %self.id(), error = %e, "give back not written"),
        }
    }

    /// Pushes the route again when the ETAs drifted past `dispatch.eta_push_threshold_s`.
    pub(super) fn check_etas(&mut self, ctx: &mut Context<Self>) {
        if self.plan.stops.is_empty() || self.position.is_none() {
            return;
        }
        let fresh = self.compute_etas(&self.plan.stops, now_ms());
        let threshold = self.shared.config.eta_push_threshold_s * 1000;
        if !route::etas_drifted(&self.etas, &fresh, threshold) {
            return;
        }
        match self.commit(route::refresh_etas(&self.plan)) {
            Ok(w) => self.deliver_when_durable(ctx, w),
            Err(e) => tracing::error!(driver = %self.id(), error = %e, "eta update not written"),
        }
    }
}

/// A region's assignment: the new stop list computed on route `base_version`, and the
/// orders it adds. Accepted only if the route is still at that version and the driver
/// still takes work.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Propose(pub Proposal);

impl Handler<Propose> for DriverActor {
    type Result = bool;
    fn handle(&mut self, Propose(proposal): Propose, ctx: &mut Self::Context) -> bool {
        self.depth.took();
        let available = self.status == DriverStatus::Available;
        let now = now_ms();
        let change = match route::propose(
            &self.plan,
            self.id(),
            available,
            self.pinned(),
            proposal,
            now,
        ) {
            Ok(change) => change,
            Err(why) => {
                metrics::counter!(telemetry::PROPOSALS_REJECTED, "reason" => why.label())
                    .increment(1);
                return false;
            }
        };
        // The book follows the order before the write, so a cancel racing the
        // proposal is sent here (and waits behind it) rather than to the region.
        let added: Vec<Arc<str>> = change
            .next
            .orders
            .keys()
            .filter(|id| !self.plan.orders.contains_key(*id))
            .cloned()
            .collect();
        let me: Arc<str> = Arc::from(self.id());
        for id in &added {
            self.shared.book.set_owner(id, Owner::Driver(me.clone()));
        }
        let first_assigned = change.first_assigned.clone();
        match self.commit(change) {
            Ok(w) => {
                metrics::counter!(telemetry::PROPOSALS_ACCEPTED).increment(1);
                for created in first_assigned {
                    let took = now.saturating_sub(created);
                    metrics::histogram!(telemetry::ORDER_ASSIGN_SECONDS)
                        .record(took as f64 / 1000.0);
                    self.shared.stats.assign.record(Duration::from_millis(took));
                }
                self.deliver_when_durable(ctx, w);
                true
            }
            Err(_) => {
                for id in &added {
                    if let Some(o) = self.shared.book.get(id).map(|(o, _)| o) {
                        let key = self.regions.grid().key(o.pickup.lat, o.pickup.lon);
                        self.shared.book.set_owner(id, Owner::Region(key));
                    }
                }
                false
            }
        }
    }
}

/// The region's rebalance takes an order back (to give it to a driver who serves it
/// cheaper). Granted only on the route version the move was computed on, for an order
/// not picked up whose pickup is not where the driver is heading next.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Release {
    pub order_id: String,
    pub base_version: u64,
}

impl Handler<Release> for DriverActor {
    type Result = bool;
    fn handle(&mut self, r: Release, ctx: &mut Self::Context) -> bool {
        self.depth.took();
        if self.at_a_pickup_of([r.order_id.as_str()]) {
            return false;
        }
        let Some(change) = route::release(&self.plan, &r.order_id, r.base_version, now_ms()) else {
            return false;
        };
        match self.commit(change) {
            Ok(w) => {
                self.deliver_when_durable(ctx, w);
                true
            }
            Err(_) => false,
        }
    }
}

/// A region's re-optimisation takes orders back to hand them to other drivers at once
/// (on the route version its plan was computed on; all or nothing; never a picked-up
/// order, nor the next stop's once the driver is within the commit radius of it).
/// Answered, once the change is durable and published, with the route's new version and
/// the orders, pending again and owned by the asking region `to` (a cancel goes there):
/// it proposes them on or queues them; the driver queues them nowhere.
#[derive(Message)]
#[rtype(result = "Option<(u64, Vec<Arc<Order>>)>")]
pub struct Withdraw {
    pub order_ids: Vec<Arc<str>>,
    pub base_version: u64,
    pub to: RegionKey,
}

impl Handler<Withdraw> for DriverActor {
    type Result = ResponseFuture<Option<(u64, Vec<Arc<Order>>)>>;
    fn handle(&mut self, w: Withdraw, ctx: &mut Self::Context) -> Self::Result {
        self.depth.took();
        if self.at_a_pickup_of(w.order_ids.iter().map(|id| &**id)) {
            return Box::pin(async { None });
        }
        let committed = self.committed_to_next_stop();
        let change = route::withdraw(
            &self.plan,
            &w.order_ids,
            w.base_version,
            committed,
            now_ms(),
        );
        let Some(Ok((written, mut delivery))) = change.map(|c| self.commit_owned(c, Some(w.to)))
        else {
            return Box::pin(async { None });
        };
        let orders = std::mem::take(&mut delivery.requeue);
        let version = self.plan.version;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Replied to only once published: the orders' next owner publishes after this.
        self.after_durable(ctx, written, move |act, res| match res {
            Ok(()) => {
                act.deliver(delivery);
                let _ = tx.send(Some((version, orders)));
            }
            Err(e) => {
                tracing::error!(driver = %act.id(), error = %e, "withdrawal not durable");
                let _ = tx.send(None);
            }
        });
        Box::pin(async move { rx.await.ok().flatten() })
    }
}

impl DriverActor {
    /// Whether the driver is within the pin radius of the pickup of one of `ids` (see
    /// [`route::at_a_pickup_of`]): rebalance and re-optimisation leave such an order.
    fn at_a_pickup_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> bool {
        let at = self.position.map(|p| (p.lat, p.lon));
        route::at_a_pickup_of(&self.plan, ids, at, self.shared.params.pin_radius_m)
    }

    /// Whether the driver is committed to its next stop (within
    /// `dispatch.reoptimise`'s commit radius — anywhere with `keep_next_stop` — or the
    /// pin radius of it): a re-optimisation leaves that stop first and with it.
    fn committed_to_next_stop(&self) -> bool {
        let c = &self.shared.config.reoptimise;
        let radius = c.commit_radius().max(self.shared.params.pin_radius_m);
        match (self.position, self.plan.stops.first()) {
            (Some(p), Some(s)) => {
                crate::core::geo_util::haversine_m(p.lat, p.lon, s.lat, s.lon) <= radius
            }
            // No position yet: nothing is known to be safe to take away.
            (None, Some(_)) => true,
            _ => false,
        }
    }
}

pub use crate::core::route::Refusal;

/// A written change waiting for its flush, and what to deliver after it.
type Pending = (Written, Delivery);

/// The driver reports a stop as done. Answered once the change is durable.
#[derive(Message)]
#[rtype(result = "Result<(), Refusal>")]
pub struct StopDone {
    pub stop_id: String,
    pub outcome: StopOutcome,
    pub ts_ms: Millis,
    /// The driver's note, kept on the history entry the stop makes.
    pub note: Option<String>,
}

impl DriverActor {
    fn stop_done(&mut self, d: &StopDone) -> Result<Pending, Refusal> {
        let mut change = route::stop_done(&self.plan, &d.stop_id, d.outcome, d.ts_ms, now_ms())?;
        if let Some(note) = d.note.as_deref() {
            keep_stop_note(&mut change, &d.stop_id, note);
        }
        self.commit(change).map_err(storage_failure)
    }

    fn cancel(&mut self, id: &str) -> Result<Option<(Pending, Order)>, Refusal> {
        let Some(change) = route::cancel(&self.plan, id, now_ms())? else {
            return Ok(None);
        };
        let order = change.finished[0].clone();
        Ok(Some((self.commit(change).map_err(storage_failure)?, order)))
    }
}

/// Puts a `stop_done` note on the history entry the stop made, on the order still on
/// the route (picked up) or the one that left it (delivered, failed).
fn keep_stop_note(change: &mut RouteChange, stop_id: &str, note: &str) {
    let order_id = stop_id.get(2..).unwrap_or_default();
    let order = change
        .finished
        .iter_mut()
        .find(|o| o.id == order_id)
        .or_else(|| change.next.orders.get_mut(order_id));
    if let Some(o) = order {
        crate::orders::model::note_last_change(o, note);
    }
}

fn storage_failure(e: dispatch_storage::StoreError) -> Refusal {
    tracing::error!(error = %e, "route change not written");
    (ErrorCode::Internal, "storage failure".to_string())
}

impl Handler<StopDone> for DriverActor {
    type Result = ResponseFuture<Result<(), Refusal>>;
    fn handle(&mut self, d: StopDone, ctx: &mut Self::Context) -> Self::Result {
        self.depth.took();
        self.last_seen_ms = now_ms();
        match self.stop_done(&d) {
            Err(e) => Box::pin(async { Err(e) }),
            Ok(pending) => self.answer_when_delivered(ctx, pending, (), "stop_done"),
        }
    }
}

impl DriverActor {
    /// A stop_done's or cancel's answer: `ok` once the change is delivered (durable,
    /// published, pushed), a storage failure if its flush failed.
    fn answer_when_delivered<T: 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        (written, delivery): Pending,
        ok: T,
        what: &'static str,
    ) -> ResponseFuture<Result<T, Refusal>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.after_durable(ctx, written, move |act, res| {
            let answer = match res {
                Ok(()) => {
                    act.deliver(delivery);
                    act.tell_region_supply(false);
                    Ok(ok)
                }
                Err(e) => {
                    tracing::error!(error = %e, change = what, "change not durable");
                    Err(storage_failed())
                }
            };
            let _ = tx.send(answer);
        });
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(storage_failed())) })
    }
}

fn storage_failed() -> Refusal {
    (ErrorCode::Internal, "storage failure".into())
}

/// Cancels an order on this route. `Ok(None)`: not on this route (any more).
#[derive(Message)]
#[rtype(result = "Result<Option<Order>, Refusal>")]
pub struct CancelOrder {
    pub id: String,
}

impl Handler<CancelOrder> for DriverActor {
    type Result = ResponseFuture<Result<Option<Order>, Refusal>>;
    fn handle(&mut self, c: CancelOrder, ctx: &mut Self::Context) -> Self::Result {
        self.depth.took();
        match self.cancel(&c.id) {
            Err(e) => Box::pin(async { Err(e) }),
            Ok(None) => Box::pin(async { Ok(None) }),
            Ok(Some((pending, order))) => {
                self.answer_when_delivered(ctx, pending, Some(order), "cancel")
            }
        }
    }
}

/// A route as stored: its stops with their ETAs.
fn route_record(plan: &RoutePlan, etas: &[Millis]) -> RouteRecord {
    RouteRecord {
        version: plan.version,
        stops: plan
            .stops
            .iter()
            .zip(etas)
            .map(|(s, &eta)| RouteStopRecord {
                stop_id: s.stop_id(),
                order_id: s.order_id.to_string(),
                kind: match s.kind {
                    StopKind::Pickup => StopKindRecord::Pickup,
                    StopKind::Dropoff => StopKindRecord::Dropoff,
                },
                lat: s.lat,
                lon: s.lon,
                eta_ms: eta,
                ready_ms: s.ready_ms,
                due_ms: s.due_ms,
                service_s: s.service_s,
                size: s.size,
            })
            .collect(),
    }
}

/// Stops of a stored route, for recovery.
pub fn stops_from_record(r: &RouteRecord) -> Vec<LiveStop> {
    r.stops
        .iter()
        .map(|s| {
            let id: Arc<str> = Arc::from(s.order_id.as_str());
            let kind = match s.kind {
                StopKindRecord::Pickup => StopKind::Pickup,
                StopKindRecord::Dropoff => StopKind::Dropoff,
            };
            live_stop(
                &id,
                kind,
                &dispatch_protocol::Stop {
                    lat: s.lat,
                    lon: s.lon,
                    ready_ms: s.ready_ms,
                    due_ms: s.due_ms,
                    service_s: s.service_s,
                },
                s.size,
            )
        })
        .collect()
}
