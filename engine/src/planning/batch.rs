//! Joint assignment of a batch of jobs: regret-2 insertion (the job that would lose
//! most by waiting goes first, priority weighing in), then improvement of every route
//! that changed.

use super::builder::{Builder, LiveProblem};
use super::polish::polish;
use super::reopt::{driven_on, LANDING_MS};
use super::{BatchOutcome, DriverPlan, Job, NewRoute, NoDriver, Params};
use crate::planning::travel::Travel;
use dispatch_plan::insert::{apply, best_in_route, Insertion};
use dispatch_plan::local_search::improve_route;
use dispatch_plan::model::Request;
use dispatch_protocol::Millis;
use std::sync::Arc;

const PRIORITY_WEIGHT_M: f64 = 1_000.0;
const ONLY_CHOICE: f64 = 1e9;

/// Assigns `jobs` jointly to `drivers`; `candidates[j]` lists the drivers job `j` may
/// go to. Deterministic for the same input.
pub fn assign_batch(
    drivers: &[Arc<DriverPlan>],
    jobs: &[Job],
    candidates: &[Vec<usize>],
    now_ms: Millis,
    travel: &Travel,
    params: &Params,
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    let live_jobs = triage(jobs, candidates, now_ms, &mut out.unassigned);
    if live_jobs.is_empty() {
        return out;
    }
    let mut used: Vec<usize> = live_jobs
        .iter()
        .flat_map(|&j| candidates[j].iter().copied())
        .collect();
    used.sort_unstable();
    used.dedup();
    // A batch to be searched as a whole is planned, insertion included, for when its
    // routes land after the search. Only over idle drivers: a route being driven changes
    // version meanwhile (a stop done) and the whole search would be refused.
    let searched = params.batch_search_ms > 0
        && live_jobs.len() >= params.batch_search_min_orders
        && used.iter().all(|&d| drivers[d].stops.is_empty());
    let (ahead, now_ms) = if searched {
        let lands = now_ms + params.batch_search_ms + LANDING_MS;
        let ahead: Vec<Arc<DriverPlan>> = drivers
            .iter()
            .map(|d| Arc::new(driven_on(d, now_ms, lands, travel)))
            .collect();
        (ahead, lands)
    } else {
        (drivers.to_vec(), now_ms)
    };
    let drivers = &ahead[..];
    let (mut b, vehicle_of) = Builder::with_drivers(drivers, &used, now_ms, travel, params);
    let mut job_nodes = vec![(0usize, 0usize); jobs.len()];
    for &j in &live_jobs {
        job_nodes[j] = b.add_job(&jobs[j]);
    }
    let Some(lp) = b.finish() else {
        // Cannot happen for validated input; never assign on a problem we cannot trust.
        for j in live_jobs {
            out.unassigned.push((j, NoDriver::Windows));
        }
        return out;
    };
    let mut regret = Regret::new(
        lp,
        jobs,
        &job_nodes,
        candidates,
        &vehicle_of,
        live_jobs,
        params.activation_m,
    );
    regret.run(drivers, &mut out.unassigned);
    out.routes = regret.improved_routes(params);
    if searched {
        let polished = polish(drivers, &used, jobs, &out.routes, now_ms, travel, params);
        if let Some(routes) = polished {
            out.routes = routes;
        }
    }
    out.unassigned.sort_by_key(|(j, _)| *j);
    out
}

/// The jobs that may be planned; the others go to `unassigned` (window already closed,
/// or no candidate driver).
fn triage(
    jobs: &[Job],
    candidates: &[Vec<usize>],
    now_ms: Millis,
    unassigned: &mut Vec<(usize, NoDriver)>,
) -> Vec<usize> {
    let rel = |ms: Millis| (ms as f64 - now_ms as f64) / 1000.0;
    let mut live_jobs = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        if job.dropoff.due_ms.is_some_and(|d| rel(d) < 0.0)
            || job.pickup.due_ms.is_some_and(|d| rel(d) < 0.0)
        {
            unassigned.push((j, NoDriver::WindowClosed));
        } else if candidates[j].is_empty() {
            unassigned.push((j, NoDriver::NoneNearby));
        } else {
            live_jobs.push(j);
        }
    }
    live_jobs
}

/// The request of job `j` from its (pickup, dropoff) nodes.
fn request(job_nodes: &[(usize, usize)], j: usize) -> Request {
    Request {
        first: job_nodes[j].0,
        second: Some(job_nodes[j].1),
    }
}

/// Regret-2 insertion with cached per-(job, vehicle) costs, refreshed for the one route
/// that changed after each step.
struct Regret<'a> {
    lp: LiveProblem,
    jobs: &'a [Job],
    job_nodes: &'a [(usize, usize)],
    candidates: &'a [Vec<usize>],
    /// Per job: (vehicle, best insertion there) for each candidate with a route.
    cost: Vec<Vec<(usize, Option<Insertion>)>>,
    /// Jobs not yet placed nor given up.
    open: Vec<usize>,
    /// Metres an idle driver's first job costs on top of its detour.
    activation_m: f64,
    /// Per vehicle: the jobs placed on it, in order.
    added: Vec<Vec<usize>>,
}

impl<'a> Regret<'a> {
    fn new(
        lp: LiveProblem,
        jobs: &'a [Job],
        job_nodes: &'a [(usize, usize)],
        candidates: &'a [Vec<usize>],
        vehicle_of: &[usize],
        live_jobs: Vec<usize>,
        activation_m: f64,
    ) -> Self {
        let mut r = Regret {
            cost: vec![Vec::new(); jobs.len()],
            added: vec![Vec::new(); lp.routes.len()],
            lp,
            jobs,
            job_nodes,
            candidates,
            open: live_jobs,
            activation_m,
        };
        for &j in &r.open {
            r.cost[j] = candidates[j]
                .iter()
                .filter_map(|&d| {
                    let v = vehicle_of[d];
                    r.lp.routes[v].as_ref()?;
                    Some((v, r.insertion(v, j)))
                })
                .collect();
        }
        r
    }

    /// The cheapest insertion of job `j` on vehicle `v`, its cost in metres plus, on a
    /// driver with nothing to do yet, the cost of putting one more driver to work
    /// (`Params::activation_m`): the objective's fixed cost per driver.
    fn insertion(&self, v: usize, j: usize) -> Option<Insertion> {
        let route = self.lp.routes[v].as_ref()?;
        let mut ins = best_in_route(&self.lp.problem, route, request(self.job_nodes, j), None)?;
        if route.stops().is_empty() && self.lp.head[v].is_none() {
            ins.cost += self.activation_m;
        }
        Some(ins)
    }

    /// Places jobs one at a time until none is open; those that fit nowhere go to
    /// `unassigned`.
    fn run(&mut self, drivers: &[Arc<DriverPlan>], unassigned: &mut Vec<(usize, NoDriver)>) {
        while !self.open.is_empty() {
            self.drop_unplaceable(drivers, unassigned);
            let Some((k, v, ins)) = self.pick() else {
                break;
            };
            self.place(k, v, &ins);
        }
    }

    /// Jobs that fit nowhere any more leave the batch.
    fn drop_unplaceable(
        &mut self,
        drivers: &[Arc<DriverPlan>],
        unassigned: &mut Vec<(usize, NoDriver)>,
    ) {
        let mut k = 0;
        while k < self.open.len() {
            let j = self.open[k];
            if self.cost[j].iter().any(|(_, c)| c.is_some()) {
                k += 1;
                continue;
            }
            self.open.swap_remove(k);
            let size = self.jobs[j].pickup.size;
            let fits = self.candidates[j]
                .iter()
                .any(|&d| drivers[d].capacity >= size);
            unassigned.push((
                j,
                if fits {
                    NoDriver::Windows
                } else {
                    NoDriver::TooLarge
                },
            ));
        }
    }

    /// The open job with the highest regret (difference between its best and second
    /// best vehicle, plus priority; ties to the cheaper best): (index in `open`,
    /// vehicle, insertion).
    fn pick(&self) -> Option<(usize, usize, Insertion)> {
        let mut pick: Option<(f64, usize, usize, Insertion)> = None;
        for (k, &j) in self.open.iter().enumerate() {
            let mut feasible: Vec<(usize, Insertion)> = self.cost[j]
                .iter()
                .filter_map(|(v, c)| c.map(|c| (*v, c)))
                .collect();
            feasible.sort_by(|a, b| a.1.cost.total_cmp(&b.1.cost).then(a.0.cmp(&b.0)));
            let (v, best) = feasible[0];
            let regret = feasible
                .get(1)
                .map_or(ONLY_CHOICE, |s| s.1.cost - best.cost)
                + f64::from(self.jobs[j].priority) * PRIORITY_WEIGHT_M
                - best.cost * 1e-6;
            if pick.as_ref().is_none_or(|(r, ..)| regret > *r) {
                pick = Some((regret, k, v, best));
            }
        }
        pick.map(|(_, k, v, ins)| (k, v, ins))
    }

    /// Inserts `open[k]` on vehicle `v` and refreshes the other open jobs' costs there.
    fn place(&mut self, k: usize, v: usize, ins: &Insertion) {
        let j = self.open.swap_remove(k);
        let req = request(self.job_nodes, j);
        let route = self.lp.routes[v].as_mut().expect("candidate routes exist");
        apply(&self.lp.problem, route, req, ins);
        self.added[v].push(j);
        for k in 0..self.open.len() {
            let o = self.open[k];
            let ins = self.insertion(v, o);
            for entry in self.cost[o].iter_mut().filter(|(w, _)| *w == v) {
                entry.1 = ins;
            }
        }
    }

    /// Every route that got jobs, improved within `params.improve_iterations`, as the
    /// driver's whole new stop list.
    fn improved_routes(mut self, params: &Params) -> Vec<NewRoute> {
        let mut routes = Vec::new();
        for (v, jobs_added) in std::mem::take(&mut self.added).into_iter().enumerate() {
            if jobs_added.is_empty() {
                continue;
            }
            let lp = &mut self.lp;
            let route = lp.routes[v].as_mut().expect("changed routes exist");
            improve_route(
                &lp.problem,
                route,
                params.improve_iterations,
                params.seed ^ v as u64,
            );
            let route = lp.routes[v].as_ref().expect("changed routes exist");
            let stops = lp.stops_of(v, route);
            routes.push(NewRoute {
                driver: lp.driver_of[v],
                stops,
                jobs: jobs_added,
            });
        }
        routes
    }
}
