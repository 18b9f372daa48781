//! A region's dispatch: candidates for an order (its own drivers and the published
//! snapshots of the cells around, ring by ring), the matching round (gather the batch,
//! call the dispatch policy, mark the unplaced unassignable, propose the routes) and the
//! periodic rebalance.

use super::RegionActor;
use crate::actors::driver::{DriverHandle, Propose, Release};
use crate::core::geo_util::haversine_m;
use crate::core::order_queue::Queued;
use crate::core::region_index::{Nearby, StatusFilter};
use crate::core::route::Proposal;
use crate::orders::ledger::ChangeSet;
use crate::orders::model::{job, set_status};
use crate::planning::matcher::MatchInput;
use crate::planning::{
    postpone, rebalance, BatchOutcome, DriverPlan, Job, Move, NewRoute, NoDriver,
};
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, DriverUpdate, Millis, Order, OrderStatus};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl RegionActor {
    /// The candidates for an order picked up at a point: the `dispatch.candidates`
    /// nearest available drivers, plus the `dispatch.idle_candidates` nearest of them
    /// with an empty route. Without the second tier a hotspot where loaded drivers
    /// pass all the time hides the idle ones waiting a little farther away, and orders
    /// pile onto full routes (or end unassignable) while the idle fleet waits.
    /// A driver with no open socket (in its disconnect grace period) is no candidate:
    /// its route would reach it only when it is back, if it comes back.
    fn candidates(&self, lat: f64, lon: f64) -> Vec<Nearby> {
        if self.shared.connected_drivers.load(Ordering::Relaxed) == 0 {
            // After a restart, until the apps reconnect: every driver would be looked
            // at and refused.
            return Vec::new();
        }
        let c = &self.shared.config;
        let fleet = &self.fleet;
        let connected = |id: &str| fleet.driver_holds(id, &DriverHandle::connected);
        let mut found = self.nearest_available(lat, lon, c.candidates, connected);
        if c.idle_candidates > 0 {
            let idle = |id: &str| {
                fleet.driver_holds(id, &|h: &DriverHandle| h.connected() && !h.has_stops())
            };
            for n in self.nearest_available(lat, lon, c.idle_candidates, idle) {
                if !found.iter().any(|f| f.id == n.id) {
                    found.push(n);
                }
            }
        }
        found
    }

    /// The `k` nearest available drivers `accept` takes: this region's live index plus
    /// the published snapshots of the cells around it, ring by ring, as far as the
    /// candidate radius reaches.
    fn nearest_available(
        &self,
        lat: f64,
        lon: f64,
        k: usize,
        accept: impl Fn(&str) -> bool,
    ) -> Vec<Nearby> {
        let radius = self.shared.config.candidate_radius_m;
        let mut found = self.index().nearest_where(
            lat,
            lon,
            k,
            StatusFilter::Only(DriverStatus::Available),
            Some(radius),
            &accept,
        );
        let grid = self.fleet.grid();
        // Ring by ring outwards, as far as the candidate radius reaches; a ring none of
        // whose cells can hold a closer driver than the k-th found ends the search.
        found.sort_by(nearest_first);
        for r in 1..=grid.rings_within(self.key, radius) {
            let bound = kth_distance(&found, k, radius);
            let mut reachable = false;
            for key in grid.ring(self.key, r) {
                if grid.min_distance_m(key, lat, lon) > bound {
                    continue;
                }
                reachable = true;
                if let Some(region) = self.fleet.region(key) {
                    let snapshot = region.available();
                    merge_nearest(&mut found, k, radius, (lat, lon), &snapshot, &accept);
                }
            }
            if !reachable {
                break;
            }
        }
        found
    }

    /// Matches after the batch window unless a run is already scheduled.
    pub(super) fn match_soon(&mut self, ctx: &mut Context<Self>) {
        let window = self.shared.config.batch_window_ms;
        if window > 0 {
            self.match_after(ctx, Duration::from_millis(window));
        }
    }

    /// Matches after `delay` unless a run is already scheduled.
    pub(super) fn match_after(&mut self, ctx: &mut Context<Self>, delay: Duration) {
        if self.match_scheduled {
            return;
        }
        self.match_scheduled = true;
        ctx.run_later(delay, |act, ctx| {
            act.match_scheduled = false;
            act.tick(ctx);
        });
    }

    /// One matching round: the eligible pending orders as a batch, handed with their
    /// candidates' snapshots to the dispatch policy, its routes proposed to the
    /// drivers. The proposed orders leave the queue until answered (`in_flight.rs`:
    /// a cancellation waits for the answer), and the region goes on meanwhile.
    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        self.apply_pending();
        let now = now_ms();
        let started = Instant::now();
        let Some(batch) = self.gather(now) else {
            return;
        };
        let mut outcome = self.shared.matcher.assign(&MatchInput {
            drivers: &batch.plans,
            jobs: &batch.jobs,
            candidates: &batch.candidates,
            now_ms: now,
            travel: &self.shared.travel,
            params: &self.shared.params,
        });
        metrics::histogram!(telemetry::MATCH_BATCH_ORDERS).record(batch.jobs.len() as f64);
        self.mark_unassignable(ctx, &batch, &outcome.unassigned, now);
        self.postpone(&batch, &mut outcome, now);
        metrics::histogram!(telemetry::MATCH_TICK_SECONDS).record(started.elapsed().as_secs_f64());
        if batch.left_out {
            self.match_soon(ctx);
        }
        self.propose(ctx, batch, outcome.routes);
    }

    /// Holds back the orders that may still wait (`dispatch.postpone_ms`) rather than
    /// put an idle driver to work now; they stay waiting for the next round.
    fn postpone(&self, batch: &Batch, outcome: &mut BatchOutcome, now: Millis) {
        let c = &self.shared.config;
        if c.postpone_ms == 0 {
            return;
        }
        let may_wait: Vec<bool> = batch
            .orders
            .iter()
            .map(|o| now.saturating_sub(o.created_ms) < c.postpone_ms)
            .collect();
        let retry_ms = now + c.tick_ms;
        let held = postpone::hold_back(
            &batch.plans,
            outcome,
            &may_wait,
            retry_ms,
            &self.shared.travel,
        );
        metrics::counter!(telemetry::POSTPONED).increment(held.len() as u64);
    }

    /// The batch of this round: the waiting orders by priority then age, up to
    /// `dispatch.max_batch`, growing while the planning problem stays within
    /// `dispatch.max_plan_nodes`; each with its candidates. First the parked
    /// (unassignable) orders nearest to new supply are woken, and the backstop's next
    /// slice when its time came.
    fn gather(&mut self, now: Millis) -> Option<Batch> {
        self.wake_parked(now);
        let eligible = self.pending.due(self.shared.config.max_batch);
        if eligible.is_empty() {
            return None;
        }
        let budget = self.shared.config.max_plan_nodes;
        let mut batch = Batch::default();
        let mut index_of: HashMap<String, usize> = HashMap::new();
        let mut nodes = 0usize;
        for p in eligible {
            let o = &p.order;
            let found = self.candidates(o.pickup.lat, o.pickup.lon);
            let mut extra = 2;
            let mut fresh = Vec::new();
            for n in &found {
                if index_of.contains_key(&n.id) || self.in_flight.asked(&n.id) {
                    continue;
                }
                if let Some(h) = self.fleet.driver(&n.id) {
                    let plan = h.plan_at((n.lat, n.lon));
                    extra += 1 + plan.stops.len();
                    fresh.push((n.id.clone(), h, plan));
                }
            }
            if !batch.orders.is_empty() && nodes + extra > budget {
                batch.left_out = true;
                break;
            }
            nodes += extra;
            for (id, h, plan) in fresh {
                batch.plans.push(Arc::new(plan));
                batch.handles.push(h);
                index_of.insert(id, batch.plans.len() - 1);
            }
            batch.candidates.push(
                found
                    .iter()
                    .filter_map(|n| index_of.get(&n.id).copied())
                    .collect(),
            );
            batch.jobs.push(job(o));
            batch.orders.push(p.order.clone());
        }
        Some(batch)
    }

    /// Wakes parked orders: the `dispatch.retry_per_supply` nearest to each place where
    /// supply changed, and every `dispatch.unassignable_retry_ms` the backstop's next
    /// `dispatch.max_batch` in turn (not while no driver is connected: none could take
    /// them).
    fn wake_parked(&mut self, now: Millis) {
        let c = &self.shared.config;
        let mut supply = std::mem::take(&mut self.supply);
        // One driver's change arrives twice (its region's index, its own actor).
        supply.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        supply.dedup();
        for (lat, lon) in supply {
            self.pending
                .wake_near(lat, lon, c.retry_per_supply, c.candidate_radius_m);
        }
        if self.shared.connected_drivers.load(Ordering::Relaxed) > 0
            && now >= self.backstop_at_ms
            && self.pending.parked() > 0
        {
            self.pending.wake_in_turn(c.max_batch);
            self.backstop_at_ms = now + c.unassignable_retry_ms;
        }
    }

    /// Orders no driver can take now: unassignable, parked until supply near them
    /// changes (or the backstop's turn). Until the neighbours' snapshots have been
    /// refreshed once since the order arrived, it only waits for the next round: a
    /// driver just across the border may not be visible yet.
    fn mark_unassignable(
        &mut self,
        ctx: &mut Context<Self>,
        batch: &Batch,
        unassigned: &[(usize, NoDriver)],
        now: Millis,
    ) {
        let settled = now.saturating_sub(self.publish_every.as_millis() as u64);
        let mut changed = Vec::new();
        for (j, why) in unassigned {
            let id = &batch.orders[*j].id;
            let Some(p) = self.pending.get_mut(id) else {
                continue;
            };
            if p.queued_ms > settled {
                continue;
            }
            if p.order.status != OrderStatus::Unassignable
                || p.order.history.last().and_then(|h| h.reason.as_deref()) != Some(why.reason())
            {
                // A new order (the book's stays as published until this one is).
                set_status(
                    Arc::make_mut(&mut p.order),
                    OrderStatus::Unassignable,
                    now,
                    Some(why.reason()),
                );
                metrics::counter!(telemetry::UNASSIGNABLE).increment(1);
                changed.push((p.order.clone(), None));
            }
            self.pending.park(id);
        }
        if changed.is_empty() {
            return;
        }
        // Published once durable, before this region proposes anything else, so the
        // book never shows "unassignable" after a later assignment.
        if let Ok(written) = self.shared.ledger.write(ChangeSet::orders(changed)) {
            ctx.wait(written.publish().into_actor(self).map(|res, _, _| {
                if let Err(e) = res {
                    tracing::error!(error = %e, "unassignable orders not durable");
                }
            }));
        }
    }

    /// Proposes each new route to its driver on the version it was planned on; the
    /// orders wait out of the queue for the answer: accepted ones are gone, refused
    /// ones are queued again (as old as they were) and matched right away on fresh
    /// snapshots.
    fn propose(&mut self, ctx: &mut Context<Self>, batch: Batch, routes: Vec<NewRoute>) {
        if routes.is_empty() {
            return;
        }
        let mut asks = Vec::with_capacity(routes.len());
        for r in routes {
            let orders: Vec<Order> = r
                .jobs
                .iter()
                .map(|&j| Order::clone(&batch.orders[j]))
                .collect();
            let driver = batch.plans[r.driver].driver_id.clone();
            let queued: Vec<Queued> = orders
                .iter()
                .filter_map(|o| self.pending.remove(&o.id))
                .collect();
            for q in &queued {
                self.in_flight.propose(&q.order.id, &driver);
            }
            let propose = Propose(Proposal {
                base_version: batch.plans[r.driver].version,
                stops: r.stops,
                orders,
            });
            let addr = batch.handles[r.driver].addr.clone();
            asks.push(async move { (addr.send(propose).await.unwrap_or(false), queued, driver) });
        }
        let answers = futures_util::future::join_all(asks);
        let sent = Instant::now();
        ctx.spawn(answers.into_actor(self).map(move |answers, act, ctx| {
            metrics::histogram!(telemetry::MATCH_ANSWERS_SECONDS)
                .record(sent.elapsed().as_secs_f64());
            let mut refused = false;
            let mut assigned = false;
            for (accepted, queued, driver) in answers {
                act.in_flight.driver_answered(&driver);
                if accepted {
                    assigned = true;
                } else {
                    refused = true;
                    for q in &queued {
                        act.pending.insert(q.order.clone(), q.queued_ms, false);
                    }
                }
                for q in &queued {
                    act.in_flight.answered(&q.order.id);
                }
            }
            if refused {
                // Queued again: the timers run while orders wait.
                act.wake(ctx);
                act.match_soon(ctx);
            }
            if assigned {
                act.reoptimise_soon(ctx);
            }
        }));
    }
}

/// One matching round's inputs.
#[derive(Default)]
struct Batch {
    /// Shared with the queue (and the book).
    orders: Vec<Arc<Order>>,
    jobs: Vec<Job>,
    /// Candidate drivers' plans, and their handles at the same indices.
    plans: Vec<Arc<DriverPlan>>,
    handles: Vec<DriverHandle>,
    /// Per order: indices into `plans`, nearest first.
    candidates: Vec<Vec<usize>>,
    /// The node budget cut the batch short: match the rest right after.
    left_out: bool,
}

impl RegionActor {
    /// The periodic rebalance: orders not yet picked up on this region's drivers move
    /// to a driver who serves them cheaper (by more than the margin). A move takes the
    /// order back from its driver (on the version it was computed on); the next tick
    /// assigns it, so the usual proposal rules keep it on one route at a time.
    pub(super) fn rebalance(&mut self, ctx: &mut Context<Self>) {
        self.apply_pending();
        let c = &self.shared.config;
        let (margin, max_moves) = (c.rebalance_margin_m, c.rebalance_max_moves);
        let budget = c.max_plan_nodes;
        let mut plans: Vec<Arc<DriverPlan>> = Vec::new();
        let mut handles = Vec::new();
        let mut index_of: HashMap<String, usize> = HashMap::new();
        let mut slot =
            |id: &str, at: (f64, f64), plans: &mut Vec<Arc<DriverPlan>>| -> Option<usize> {
                if let Some(&i) = index_of.get(id) {
                    return Some(i);
                }
                let h = self.fleet.driver(id)?;
                plans.push(Arc::new(h.plan_at(at)));
                handles.push(h);
                index_of.insert(id.to_string(), plans.len() - 1);
                Some(plans.len() - 1)
            };
        let mut movable = Vec::new();
        // Copied out, so no lock is held while candidates are searched.
        let drivers = self.index().within(None);
        'drivers: for d in drivers {
            if d.status != DriverStatus::Available {
                continue;
            }
            let Some(i) = slot(&d.id, (d.lat, d.lon), &mut plans) else {
                continue;
            };
            let pickups: Vec<_> = plans[i]
                .stops
                .iter()
                .filter(|s| s.kind == dispatch_protocol::StopKind::Pickup)
                .map(|s| (s.order_id.clone(), s.lat, s.lon))
                .collect();
            for (order_id, lat, lon) in pickups {
                let receivers: Vec<usize> = self
                    .candidates(lat, lon)
                    .into_iter()
                    .filter_map(|n| slot(&n.id, (n.lat, n.lon), &mut plans))
                    .collect();
                movable.push((i, order_id, receivers));
                let nodes: usize = plans.iter().map(|p| 1 + p.stops.len()).sum();
                if movable.len() >= 64 || nodes >= budget {
                    break 'drivers;
                }
            }
        }
        if movable.is_empty() {
            return;
        }
        let moves = rebalance(
            &plans,
            &movable,
            now_ms(),
            &self.shared.travel,
            &self.shared.params,
            margin,
            max_moves,
        );
        self.release(ctx, moves, &plans, &handles);
    }

    /// Sends the rebalance's releases: one per driver per round (a second would hold a
    /// stale version).
    fn release(
        &mut self,
        ctx: &mut Context<Self>,
        moves: Vec<Move>,
        plans: &[Arc<DriverPlan>],
        handles: &[DriverHandle],
    ) {
        let mut asks = Vec::new();
        let mut seen = Vec::new();
        for m in moves {
            if seen.contains(&m.from) {
                continue;
            }
            seen.push(m.from);
            let release = Release {
                order_id: m.order_id.to_string(),
                base_version: plans[m.from].version,
            };
            let addr = handles[m.from].addr.clone();
            asks.push(async move { addr.send(release).await.unwrap_or(false) });
        }
        let answers = futures_util::future::join_all(asks);
        ctx.wait(answers.into_actor(self).map(|answers, _, _| {
            let moved = answers.into_iter().filter(|a| *a).count();
            metrics::counter!(telemetry::REBALANCED).increment(moved as u64);
        }));
    }
}

/// Nearest first; ties by id, so candidate lists are deterministic.
fn nearest_first(a: &Nearby, b: &Nearby) -> std::cmp::Ordering {
    a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id))
}

/// The distance a driver must beat to enter a sorted candidate list of at most `k`.
fn kth_distance(found: &[Nearby], k: usize, radius_m: f64) -> f64 {
    match k.checked_sub(1).and_then(|i| found.get(i)) {
        Some(kth) => kth.distance_m,
        None => radius_m,
    }
}

/// Adds the drivers of a neighbour's snapshot (those `accept` takes) that belong among
/// the `k` nearest to `at` within `radius_m`. `found` comes sorted nearest first and at most `k` long, and
/// leaves so. Only drivers closer than the current k-th are looked at twice, and the
/// list is cut back whenever it doubles: a cell where hundreds of idle drivers wait at
/// a hotspot costs one distance each, not a scan of every driver already found.
fn merge_nearest(
    found: &mut Vec<Nearby>,
    k: usize,
    radius_m: f64,
    (lat, lon): (f64, f64),
    snapshot: &[DriverUpdate],
    accept: impl Fn(&str) -> bool,
) {
    let mut bound = kth_distance(found, k, radius_m);
    for d in snapshot {
        let distance_m = haversine_m(lat, lon, d.lat, d.lon);
        if distance_m > bound || found.iter().any(|f| f.id == d.id) || !accept(&d.id) {
            continue;
        }
        found.push(Nearby {
            id: d.id.clone(),
            lat: d.lat,
            lon: d.lon,
            distance_m,
            status: d.status,
            ts_ms: d.ts_ms,
        });
        if found.len() >= 2 * k.max(1) {
            found.sort_by(nearest_first);
            found.truncate(k);
            bound = kth_distance(found, k, radius_m);
        }
    }
    found.sort_by(nearest_first);
    found.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn update(i: usize, lat: f64, lon: f64) -> DriverUpdate {
        DriverUpdate {
            id: format!("d{i}"),
            lat,
            lon,
            status: DriverStatus::Available,
            ts_ms: 0,
        }
    }

    proptest! {
        /// Merging snapshot after snapshot gives exactly the k nearest within the
        /// radius of all of them (a brute-force sort), however crowded a cell is.
        #[test]
        fn merge_nearest_keeps_exactly_the_k_nearest(
            cells in proptest::collection::vec(
                proptest::collection::vec((60.10f64..60.25, 24.80f64..25.10), 0..300),
                1..5,
            ),
            k in 1usize..12,
            radius_m in 500.0f64..20_000.0,
        ) {
            let at = (60.17, 24.94);
            let mut n = 0;
            let snapshots: Vec<Vec<DriverUpdate>> = cells
                .iter()
                .map(|c| c.iter().map(|&(lat, lon)| { n += 1; update(n, lat, lon) }).collect())
                .collect();
            let mut found = Vec::new();
            for s in &snapshots {
                merge_nearest(&mut found, k, radius_m, at, s, |_| true);
                // A driver seen again (a hand-off between snapshots) is not added twice.
                merge_nearest(&mut found, k, radius_m, at, s, |_| true);
            }
            let mut all: Vec<Nearby> = snapshots
                .iter()
                .flatten()
                .map(|d| Nearby {
                    id: d.id.clone(),
                    lat: d.lat,
                    lon: d.lon,
                    distance_m: haversine_m(at.0, at.1, d.lat, d.lon),
                    status: d.status,
                    ts_ms: d.ts_ms,
                })
                .filter(|n| n.distance_m <= radius_m)
                .collect();
            all.sort_by(nearest_first);
            all.truncate(k);
            let ids = |v: &[Nearby]| v.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
            prop_assert_eq!(ids(&found), ids(&all));
        }
    }
}
