//! Re-optimisation of a group of drivers' plans: their not-yet-started work (orders
//! not picked up) as free requests, goods on board restricted to their driver, each
//! driver starting where and when it is now (a stop it is committed to, within the
//! commit radius, folded into its start), searched from the current plan with the
//! planner's route minimisation and ruin-and-recreate. The result is a set of per-driver
//! route changes, taken only if the objective falls by enough for the orders it moves.
//! Pure code: the region actor runs it on a worker thread and proposes the changes.

use super::builder::{Builder, LiveProblem};
use super::objective::{of_solution, Cost};
use super::travel::Travel;
use super::{DriverPlan, LiveStop, Params};
use crate::config::{ObjectiveConfig, ReoptConfig};
use dispatch_plan::check::check_solution;
use dispatch_plan::route::Solution;
use dispatch_plan::search::{improve, Budget, SearchParams, SearchStats};
use dispatch_protocol::{Millis, StopKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Time from a search's end to its routes on the drivers (withdrawals, durable writes,
/// proposals), added to its budget as the time a plan is made for.
pub const LANDING_MS: Millis = 50;

/// Everything one search needs, owned (it runs on another thread).
pub struct ReoptInput {
    pub drivers: Vec<Arc<DriverPlan>>,
    /// When the drivers' positions were read.
    pub read_ms: Millis,
    /// When the plan will land on the drivers (the search's budget later): each driver
    /// is planned from where it will be then, on its way to its next stop.
    pub now_ms: Millis,
    pub travel: Travel,
    pub params: Params,
    pub objective: ObjectiveConfig,
    pub reopt: ReoptConfig,
    /// `None`: the configured wall-clock budget; tests pass an iteration count.
    pub iterations: Option<u64>,
}

/// One driver's new route.
#[derive(Debug, Clone, PartialEq)]
pub struct Replan {
    /// Index into [`ReoptInput::drivers`].
    pub driver: usize,
    /// The whole new stop list (the committed stop, if any, first).
    pub stops: Vec<LiveStop>,
    /// Orders that come from other drivers.
    pub gains: Vec<Arc<str>>,
    /// Orders that go to other drivers.
    pub loses: Vec<Arc<str>>,
}

/// A plan worth proposing.
#[derive(Debug, Clone)]
pub struct Reoptimised {
    pub changes: Vec<Replan>,
    pub before: Cost,
    pub after: Cost,
    /// Orders that change driver.
    pub moved: usize,
    pub searched: Searched,
}

/// The size of a search and what it did.
#[derive(Debug, Clone, Copy)]
pub struct Searched {
    /// Orders (requests) in the problem: those not picked up, and goods on board.
    pub orders: usize,
    pub stats: SearchStats,
}

/// What a search found: a plan worth proposing, or why not.
#[derive(Debug)]
pub enum Outcome {
    Improved(Reoptimised),
    /// Nothing cheaper (or not cheaper by enough for the orders it would move).
    NoGain {
        before: Cost,
        after: Cost,
        searched: Searched,
    },
    /// The plans could not be rebuilt as a planner problem (they are data: a driver
    /// beyond capacity, say); nothing is proposed.
    Unplannable,
}

/// Searches `input.drivers`' plans for a cheaper one.
pub fn reoptimise(input: &ReoptInput) -> Outcome {
    let params = Params {
        pin_radius_m: input.params.pin_radius_m.max(input.reopt.commit_radius()),
        ..input.params
    };
    let all: Vec<usize> = (0..input.drivers.len()).collect();
    let ahead: Vec<Arc<DriverPlan>> = input
        .drivers
        .iter()
        .map(|d| {
            let on = driven_on(d, input.read_ms, input.now_ms, &input.travel);
            let margin = input.reopt.window_margin_ms;
            Arc::new(with_margin(on, input.now_ms, margin, &input.travel))
        })
        .collect();
    let (b, _) = Builder::with_drivers(&ahead, &all, input.now_ms, &input.travel, &params);
    let Some(lp) = b.finish_for(true) else {
        return Outcome::Unplannable;
    };
    let Some(routes) = lp.routes.iter().cloned().collect::<Option<Vec<_>>>() else {
        return Outcome::Unplannable;
    };
    let start = Solution::from_routes(&lp.problem, routes);
    if !start.unassigned.is_empty() {
        return Outcome::Unplannable;
    }
    let orders = lp.problem.requests.len();
    let budget = match input.iterations {
        Some(n) => Budget::Iterations(n),
        None => input.reopt.search_budget(orders),
    };
    let seed = input.params.seed ^ input.now_ms;
    let (best, stats) = improve(&lp.problem, start.clone(), &SearchParams::new(budget, seed));
    let searched = Searched { orders, stats };
    // The planner's own independent checker: a plan it rejects is never proposed.
    if let Err(v) = check_solution(&lp.problem, &best.plans(), false) {
        tracing::error!(violation = ?v, "re-optimised plan fails the checker; not proposed");
        return Outcome::Unplannable;
    }
    let before = of_solution(&lp, &start, input.now_ms, &input.objective);
    let after = of_solution(&lp, &best, input.now_ms, &input.objective);
    let mut changes = changes(&lp, &best, &input.drivers);
    restore_windows(&mut changes, &input.drivers);
    let moved: usize = changes.iter().map(|c| c.gains.len()).sum();
    let needed = (input.reopt.min_saving_per_move * moved as f64).max(1e-6);
    if changes.is_empty() || !best.unassigned.is_empty() || before.total - after.total < needed {
        return Outcome::NoGain {
            before,
            after,
            searched,
        };
    }
    Outcome::Improved(Reoptimised {
        changes,
        before,
        after,
        moved,
        searched,
    })
}

/// `d` at `to_ms`, having driven since `from_ms` towards its next stop (at most to it).
pub(super) fn driven_on(
    d: &DriverPlan,
    from_ms: Millis,
    to_ms: Millis,
    travel: &Travel,
) -> DriverPlan {
    let mut plan = d.clone();
    let Some(next) = d.stops.first() else {
        return plan;
    };
    let target = (next.lat, next.lon);
    let left_s = travel.duration_s(d.position, target, from_ms);
    let driven_s = to_ms.saturating_sub(from_ms) as f64 / 1000.0;
    let f = if left_s > driven_s {
        driven_s / left_s
    } else {
        1.0
    };
    plan.position = (
        d.position.0 + (target.0 - d.position.0) * f,
        d.position.1 + (target.1 - d.position.1) * f,
    );
    plan
}

/// `d` with every window closing `margin_ms` earlier, but never before the stop's
/// expected start in the plan as it is (that plan stays feasible: the search starts
/// from it).
fn with_margin(
    mut d: DriverPlan,
    now_ms: Millis,
    margin_ms: Millis,
    travel: &Travel,
) -> DriverPlan {
    if margin_ms == 0 {
        return d;
    }
    let etas = super::etas(d.position, &d.stops, now_ms, travel);
    for (s, eta) in d.stops.iter_mut().zip(etas) {
        if let Some(due) = s.due_ms {
            s.due_ms = Some(due.min(due.saturating_sub(margin_ms).max(eta)));
        }
    }
    d
}

/// Puts the windows the search planned with (narrowed by the margin) back to the
/// orders' own: a proposed route carries the stops as they are.
fn restore_windows(changes: &mut [Replan], drivers: &[Arc<DriverPlan>]) {
    let own: HashMap<(&str, StopKind), &LiveStop> = drivers
        .iter()
        .flat_map(|d| d.stops.iter())
        .map(|s| ((&*s.order_id, s.kind), s))
        .collect();
    for c in changes {
        for s in &mut c.stops {
            if let Some(o) = own.get(&(&*s.order_id, s.kind)) {
                s.due_ms = o.due_ms;
            }
        }
    }
}

/// The route of every driver whose stops differ in `sol` from its plan now.
fn changes(lp: &LiveProblem, sol: &Solution, drivers: &[Arc<DriverPlan>]) -> Vec<Replan> {
    let key = |s: &LiveStop| (s.order_id.clone(), s.kind);
    // Order → driver whose plan picks it up now.
    let mut holder: HashMap<Arc<str>, usize> = HashMap::new();
    for (d, plan) in drivers.iter().enumerate() {
        for s in plan.stops.iter().filter(|s| s.kind == StopKind::Pickup) {
            holder.insert(s.order_id.clone(), d);
        }
    }
    let mut out = Vec::new();
    for (v, route) in sol.routes.iter().enumerate() {
        let d = lp.driver_of[v];
        let stops = lp.stops_of(v, route);
        let old = &drivers[d].stops;
        if stops.len() == old.len() && stops.iter().map(key).eq(old.iter().map(key)) {
            continue;
        }
        let gains = stops
            .iter()
            .filter(|s| s.kind == StopKind::Pickup && holder.get(&s.order_id) != Some(&d))
            .map(|s| s.order_id.clone())
            .collect();
        let loses = old
            .iter()
            .filter(|s| s.kind == StopKind::Pickup && !stops.iter().any(|n| key(n) == key(s)))
            .map(|s| s.order_id.clone())
            .collect();
        out.push(Replan {
            driver: d,
            stops,
            gains,
            loses,
        });
    }
    out
}

/// Searches running at once, all regions together (`dispatch.reoptimise.workers`), each
/// worker resting after a search so that it searches `cpu_share` of the time at most.
pub struct Slots {
    /// When each free worker may search again.
    free: Mutex<Vec<Instant>>,
    /// Rest per second of search: (1 − share) / share.
    rest_per_search: f64,
}

impl Slots {
    pub fn new(workers: usize, cpu_share: f64) -> Self {
        let share = cpu_share.clamp(1e-3, 1.0);
        Self {
            free: Mutex::new(vec![Instant::now(); workers]),
            rest_per_search: (1.0 - share) / share,
        }
    }

    /// A worker, or `None` when every one is searching or resting (the region tries
    /// again at its next tick).
    pub fn try_take(self: &Arc<Self>) -> Option<OwnedSlot> {
        self.take_at(Instant::now())
    }

    fn take_at(self: &Arc<Self>, now: Instant) -> Option<OwnedSlot> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let i = free.iter().position(|&ready| ready <= now)?;
        free.swap_remove(i);
        Some(OwnedSlot {
            slots: self.clone(),
            taken: now,
            given_back: false,
        })
    }
}

/// A taken worker (it moves to the search's thread); free again when dropped, after
/// its rest.
pub struct OwnedSlot {
    slots: Arc<Slots>,
    taken: Instant,
    given_back: bool,
}

impl OwnedSlot {
    fn give_back_at(&mut self, now: Instant) {
        if std::mem::replace(&mut self.given_back, true) {
            return;
        }
        let rest = now
            .saturating_duration_since(self.taken)
            .mul_f64(self.slots.rest_per_search);
        let mut free = self.slots.free.lock().unwrap_or_else(|e| e.into_inner());
        free.push(now + rest);
    }
}

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.give_back_at(Instant::now());
    }
}

#[cfg(test)]
mod slot_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_worker_rests_so_that_it_searches_its_share_of_the_time() {
        let slots = Arc::new(Slots::new(1, 0.25));
        let t0 = Instant::now();
        let mut slot = slots.take_at(t0).expect("a free worker");
        assert!(slots.take_at(t0).is_none(), "one worker: taken");
        let ms = Duration::from_millis;
        slot.give_back_at(t0 + ms(100));
        // 100 ms of search at a quarter of the time: 300 ms of rest.
        assert!(slots.take_at(t0 + ms(399)).is_none());
        let mut again = slots.take_at(t0 + ms(400)).expect("rested");
        again.give_back_at(t0 + ms(420));
        drop(again);
        assert!(slots.take_at(t0 + ms(479)).is_none(), "resting again");
        assert!(slots.take_at(t0 + ms(480)).is_some());
    }

    #[test]
    fn a_full_share_gives_the_worker_back_at_once_and_workers_are_counted() {
        let slots = Arc::new(Slots::new(2, 1.0));
        let t0 = Instant::now();
        let mut a = slots.take_at(t0).expect("first");
        let _b = slots.take_at(t0).expect("second");
        assert!(slots.take_at(t0).is_none());
        a.give_back_at(t0 + Duration::from_millis(50));
        drop(a);
        assert!(slots.take_at(t0 + Duration::from_millis(50)).is_some());
    }
}
