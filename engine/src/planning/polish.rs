//! A large batch searched as a whole before anything is proposed: regret insertion
//! places each job where it is cheapest *now*, which for a batch known in advance (a
//! morning's bulk import, a replay with every request at time 0) opens more routes
//! than needed; nobody has moved yet, so the planner's route minimisation and
//! ruin-and-recreate may still regroup the batch's jobs (the drivers' existing work
//! stays where it is) within `dispatch.reoptimise.batch_budget_ms`.

use super::builder::{Builder, LiveProblem};
use super::travel::Travel;
use super::{DriverPlan, Job, NewRoute, Params};
use dispatch_plan::check::check_solution;
use dispatch_plan::route::{Route, Solution};
use dispatch_plan::search::{improve, Budget, SearchParams};
use dispatch_protocol::{Millis, StopKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// `routes` (the regret assignment of `jobs` over `drivers[used]`, planned for when they
/// will land), improved as a whole; `None` when the search could not place every
/// job or the problem could not be rebuilt (the regret routes are proposed then).
pub(super) fn polish(
    drivers: &[Arc<DriverPlan>],
    used: &[usize],
    jobs: &[Job],
    routes: &[NewRoute],
    now_ms: Millis,
    travel: &Travel,
    params: &Params,
) -> Option<Vec<NewRoute>> {
    // `drivers` and `now_ms` are already as of when the routes land (see
    // `assign_batch`), so the regret routes are feasible starts.
    let (mut b, vehicle_of) = Builder::with_drivers(drivers, used, now_ms, travel, params);
    b.keep_existing();
    let mut job_of_pickup: HashMap<usize, usize> = HashMap::new();
    for j in routes.iter().flat_map(|r| r.jobs.iter().copied()) {
        let (p, _) = b.add_job(&jobs[j]);
        job_of_pickup.insert(p, j);
    }
    let lp = b.finish_for(true)?;
    let start = regret_routes(&lp, routes)?;
    let start = Solution::from_routes(&lp.problem, start);
    let budget = match params.batch_search_iterations {
        Some(n) => Budget::Iterations(n),
        None => Budget::Time(Duration::from_millis(params.batch_search_ms)),
    };
    let (best, _) = improve(
        &lp.problem,
        start.clone(),
        &SearchParams::new(budget, params.seed),
    );
    if !best.unassigned.is_empty() || check_solution(&lp.problem, &best.plans(), true).is_err() {
        return None;
    }
    let mut out = Vec::new();
    for (v, route) in best.routes.iter().enumerate() {
        let added: Vec<usize> = route
            .stops()
            .iter()
            .filter_map(|n| job_of_pickup.get(n).copied())
            .collect();
        if added.is_empty() {
            continue;
        }
        let stops = lp.stops_of(v, route);
        out.push(NewRoute {
            driver: lp.driver_of[v],
            stops,
            jobs: added,
        });
    }
    debug_assert!(vehicle_of.len() == drivers.len());
    Some(out)
}

/// The regret assignment as planner routes of `lp`, one per vehicle; a route no longer
/// feasible at the later plan time falls back to the driver's own work.
fn regret_routes(lp: &LiveProblem, routes: &[NewRoute]) -> Option<Vec<Route>> {
    let node_of: HashMap<(Arc<str>, StopKind), usize> = lp
        .node_stop
        .iter()
        .enumerate()
        .filter_map(|(n, s)| s.as_ref().map(|s| ((s.order_id.clone(), s.kind), n)))
        .collect();
    // The regret solution as the start: every vehicle's route, with its new stops.
    let mut start = Vec::with_capacity(lp.routes.len());
    for (v, route) in lp.routes.iter().enumerate() {
        let d = lp.driver_of[v];
        let Some(placed) = routes.iter().find(|r| r.driver == d) else {
            start.push(route.clone()?);
            continue;
        };
        let skip = usize::from(lp.head[v].is_some());
        let nodes: Option<Vec<usize>> = placed.stops[skip..]
            .iter()
            .map(|s| node_of.get(&(s.order_id.clone(), s.kind)).copied())
            .collect();
        // Later by the search's budget, the regret route may no longer be feasible:
        // then the driver starts from its own work and the search places the jobs.
        match nodes.and_then(|n| Route::from_stops(&lp.problem, v, &n)) {
            Some(r) => start.push(r),
            None => start.push(route.clone()?),
        }
    }
    Some(start)
}
