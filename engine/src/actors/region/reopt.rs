//! A region's continuous re-optimisation: its drivers' plans go to a search on an
//! idle-priority thread (`actors/background.rs`; the mailbox keeps flowing meanwhile); a
//! plan that saves enough comes back as per-driver changes, proposed in two steps so that
//! an order is never on two routes:
//! 1. every driver losing orders is asked to withdraw them (on the version the plan was
//!    computed on; answered once durable and published, the orders then owned by this
//!    region);
//! 2. every driver whose route changes is proposed its new route on its version after
//!    step 1, with the withdrawn orders it gains.
//!
//! The landing does not hold the mailbox: matching rounds, positions and cancels go on
//! while drivers answer (a withdrawal waits for a flush). Meanwhile the withdrawn orders
//! are in the region's [`InFlight`](super::in_flight::InFlight): a cancel takes one not
//! yet proposed, and waits for the answer about one proposed. A driver refusing either
//! step keeps its route (a matching round that changed it meanwhile makes it refuse);
//! orders withdrawn but not taken by the driver they were planned for go back to their
//! pickup region's queue.

use super::{Enqueue, RegionActor};
use crate::actors::background;
use crate::actors::driver::{DriverHandle, Propose, Withdraw};
use crate::core::route::Proposal;
use crate::orders::book::Owner;
use crate::planning::reopt::{reoptimise, Outcome, ReoptInput, Reoptimised, LANDING_MS};
use crate::planning::{DriverPlan, LiveStop};
use crate::telemetry;
use crate::time::now_ms;
use actix::prelude::*;
use dispatch_protocol::{DriverStatus, Millis, Order, StopKind};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

const HOUR_MS: Millis = 3_600_000;

/// What a region remembers between searches.
#[derive(Default)]
pub(super) struct ReoptState {
    /// A search or its landing is under way (one at a time).
    running: bool,
    last_started: Option<Instant>,
    /// Per driver: when re-optimisation changed its route within the last hour.
    changes: HashMap<Arc<str>, VecDeque<Millis>>,
    /// The drivers and route versions of the last search that found nothing to gain.
    /// The same plans are not searched again: time passing alone seldom opens a saving,
    /// and a search takes a core for its budget (most regions, most seconds).
    settled: Option<Vec<(Arc<str>, u64)>>,
}

/// The drivers of one search, at the indices the plan refers to.
struct Group {
    plans: Vec<Arc<DriverPlan>>,
    handles: Vec<DriverHandle>,
}

impl RegionActor {
    /// After a matching round that assigned orders: a search unless one started within
    /// the last quarter of `dispatch.reoptimise.every_ms`.
    pub(super) fn reoptimise_soon(&mut self, ctx: &mut Context<Self>) {
        let every = self.shared.config.reoptimise.every_ms;
        let recent = self
            .reopt
            .last_started
            .is_some_and(|t| t.elapsed().as_millis() < u128::from(every / 4));
        if every > 0 && !recent {
            self.reoptimise(ctx);
        }
    }

    /// Starts a search over this region's drivers unless one is running, every worker
    /// is busy, or fewer than two drivers could share work.
    pub(super) fn reoptimise(&mut self, ctx: &mut Context<Self>) {
        if self.reopt.running {
            return;
        }
        self.apply_pending();
        let now = now_ms();
        let group = self.reopt_group(now);
        let working = group.plans.iter().filter(|p| !p.stops.is_empty()).count();
        if working == 0 || group.plans.len() < 2 {
            return;
        }
        let mut searched: Vec<(Arc<str>, u64)> = group
            .plans
            .iter()
            .map(|p| (p.driver_id.clone(), p.version))
            .collect();
        searched.sort_unstable();
        if self.reopt.settled.as_ref() == Some(&searched) {
            metrics::counter!(telemetry::REOPT_RUNS, "outcome" => "unchanged").increment(1);
            return;
        }
        let Some(slot) = self.shared.reopt_slots.try_take() else {
            return;
        };
        let c = self.shared.config.reoptimise;
        self.reopt.running = true;
        self.reopt.last_started = Some(Instant::now());
        // Planned as of when it lands (after the search and the proposals): drivers keep
        // driving meanwhile, and a plan computed for `now` would be that much late.
        let lands = now + c.budget_ms + LANDING_MS;
        let input = ReoptInput {
            drivers: group.plans.clone(),
            read_ms: now,
            now_ms: lands,
            travel: self.shared.travel.clone(),
            params: self.shared.params,
            objective: self.shared.config.objective,
            reopt: c,
            iterations: None,
        };
        let job = background::spawn("reopt-search", move || {
            let _slot = slot;
            let started = Instant::now();
            let outcome = reoptimise(&input);
            (outcome, started.elapsed())
        });
        ctx.spawn(job.into_actor(self).map(move |res, act, ctx| {
            let Ok((outcome, took)) = res else {
                tracing::error!("re-optimisation worker failed");
                act.reopt.running = false;
                return;
            };
            metrics::histogram!(telemetry::REOPT_SECONDS).record(took.as_secs_f64());
            let (label, size) = match &outcome {
                Outcome::Improved(plan) => ("improved", Some(plan.searched)),
                Outcome::NoGain { searched, .. } => ("no_gain", Some(*searched)),
                Outcome::Unplannable => ("unplannable", None),
            };
            if let Some(s) = size {
                metrics::histogram!(telemetry::REOPT_ORDERS).record(s.orders as f64);
                metrics::histogram!(telemetry::REOPT_ITERATIONS).record(s.stats.iterations as f64);
            }
            metrics::counter!(telemetry::REOPT_RUNS, "outcome" => label).increment(1);
            match outcome {
                Outcome::Improved(plan) => {
                    act.reopt.settled = None;
                    act.withdraw_then_propose(ctx, plan, group);
                }
                _ => {
                    act.reopt.settled = Some(searched);
                    act.reopt.running = false;
                }
            }
        }));
    }

    /// This region's available, connected drivers (those with work first), without the
    /// ones re-optimisation changed `max_changes_per_driver_hour` times in the last hour.
    fn reopt_group(&mut self, now: Millis) -> Group {
        let c = self.shared.config.reoptimise;
        for times in self.reopt.changes.values_mut() {
            while times.front().is_some_and(|&t| t + HOUR_MS <= now) {
                times.pop_front();
            }
        }
        self.reopt.changes.retain(|_, t| !t.is_empty());
        let limit = c.max_changes_per_driver_hour as usize;
        let mut found: Vec<(Arc<DriverPlan>, DriverHandle)> = Vec::new();
        let drivers = self.index().within(None);
        for d in drivers {
            if d.status != DriverStatus::Available {
                continue;
            }
            let Some(h) = self.fleet.driver(&d.id) else {
                continue;
            };
            let over = self
                .reopt
                .changes
                .get(d.id.as_str())
                .is_some_and(|t| t.len() >= limit);
            if !h.connected() || over {
                continue;
            }
            found.push((Arc::new(h.plan_at((d.lat, d.lon))), h));
        }
        // With work first, then by id: deterministic for the same fleet.
        found.sort_by(|a, b| {
            (a.0.stops.is_empty(), &a.0.driver_id).cmp(&(b.0.stops.is_empty(), &b.0.driver_id))
        });
        found.truncate(c.max_drivers);
        let (plans, handles) = found.into_iter().unzip();
        Group { plans, handles }
    }

    /// Step 1: the losing drivers withdraw (their orders are this region's from then
    /// on); then step 2.
    fn withdraw_then_propose(&mut self, ctx: &mut Context<Self>, plan: Reoptimised, g: Group) {
        let started = Instant::now();
        let mut asks = Vec::new();
        for c in plan.changes.iter().filter(|c| !c.loses.is_empty()) {
            let ask = Withdraw {
                order_ids: c.loses.clone(),
                base_version: g.plans[c.driver].version,
                to: self.key,
            };
            let (addr, d) = (g.handles[c.driver].addr.clone(), c.driver);
            asks.push(async move { (d, addr.send(ask).await.ok().flatten()) });
        }
        let answers = futures_util::future::join_all(asks);
        ctx.spawn(answers.into_actor(self).map(move |answers, act, ctx| {
            let mut version: HashMap<usize, u64> = HashMap::new();
            let mut refused = Vec::new();
            for (d, answer) in answers {
                match answer {
                    Some((v, orders)) => {
                        version.insert(d, v);
                        for o in orders {
                            act.in_flight.hold(o);
                        }
                    }
                    None => refused.push(d),
                }
            }
            act.propose_replans(ctx, plan, g, version, refused, started);
        }));
    }

    /// Step 2: the new routes, each on the version its driver has now; orders withdrawn
    /// but not taken go back to their pickup region.
    fn propose_replans(
        &mut self,
        ctx: &mut Context<Self>,
        plan: Reoptimised,
        g: Group,
        version: HashMap<usize, u64>,
        refused: Vec<usize>,
        started: Instant,
    ) {
        // Test hook: the landing stops after the withdrawals, their orders held here
        // (engine/tests/reopt.rs cancels one).
        fail::fail_point!("reopt::before_propose", |_| ());
        let mut asks = Vec::new();
        for c in plan.changes {
            let d = c.driver;
            let all_there = c.gains.iter().all(|id| self.in_flight.is_held(id));
            if refused.contains(&d) || !all_there {
                continue;
            }
            let current = after_withdrawal(&g.plans[d].stops, &c.loses);
            if c.gains.is_empty() && same_stops(&current, &c.stops) {
                continue;
            }
            let orders: Vec<Arc<Order>> = c
                .gains
                .iter()
                .filter_map(|id| self.in_flight.propose_held(id))
                .collect();
            let ask = Propose(Proposal {
                base_version: version.get(&d).copied().unwrap_or(g.plans[d].version),
                stops: c.stops,
                orders: orders.iter().map(|o| (**o).clone()).collect(),
            });
            let (addr, id) = (g.handles[d].addr.clone(), g.plans[d].driver_id.clone());
            asks.push(async move { (id, addr.send(ask).await.unwrap_or(false), orders) });
        }
        let left = self.in_flight.take_held();
        self.requeue(ctx, left.into_iter());
        let saved = plan.before.total - plan.after.total;
        let answers = futures_util::future::join_all(asks);
        ctx.spawn(answers.into_actor(self).map(move |answers, act, ctx| {
            let now = now_ms();
            let mut moved = 0;
            let mut changed = 0;
            for (id, accepted, orders) in answers {
                if accepted {
                    moved += orders.len();
                    changed += 1;
                    act.reopt.changes.entry(id).or_default().push_back(now);
                } else {
                    act.requeue(ctx, orders.iter().cloned());
                }
                for o in &orders {
                    act.in_flight.answered(&o.id);
                }
            }
            act.reopt.running = false;
            metrics::histogram!(telemetry::REOPT_LANDING_SECONDS)
                .record(started.elapsed().as_secs_f64());
            metrics::counter!(telemetry::REOPT_MOVED).increment(moved as u64);
            metrics::counter!(telemetry::REOPT_ROUTES).increment(changed);
            if changed > 0 {
                metrics::counter!(telemetry::REOPT_SAVED).increment(saved.max(0.0).round() as u64);
            }
        }));
    }

    /// Orders withdrawn and not taken: back to their pickup region's queue (this one if
    /// that region is gone), which owns them from then on.
    fn requeue(&mut self, ctx: &mut Context<Self>, orders: impl Iterator<Item = Arc<Order>>) {
        for o in orders {
            let key = self.fleet.grid().key(o.pickup.lat, o.pickup.lon);
            match self.fleet.region(key) {
                Some(r) if key != self.key => {
                    self.shared.book.set_owner(&o.id, Owner::Region(key));
                    r.addr.do_send(Enqueue(o));
                }
                _ => self.enqueue(ctx, o),
            }
        }
    }
}

/// A route's stops without the withdrawn orders'.
fn after_withdrawal(stops: &[LiveStop], loses: &[Arc<str>]) -> Vec<LiveStop> {
    stops
        .iter()
        .filter(|s| !loses.contains(&s.order_id))
        .cloned()
        .collect()
}

fn same_stops(a: &[LiveStop], b: &[LiveStop]) -> bool {
    let key = |s: &LiveStop| (s.order_id.clone(), s.kind == StopKind::Pickup);
    a.len() == b.len() && a.iter().map(key).eq(b.iter().map(key))
}
