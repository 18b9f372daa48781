//! Live planning on top of `dispatch-plan`: turns drivers' current plans and a batch of
//! new orders into one planner problem, assigns the batch jointly (regret insertion:
//! the order that would lose most by waiting goes first), improves every route that
//! changed within a small budget, and maps the result back to stops. Pure code: the
//! region actor calls it on published driver snapshots.
//!
//! Modelling choices:
//! - Time is seconds from `now`; a driver's route starts at its position now.
//! - A driver's next stop is pinned once the driver is there (within `pin_radius_m`:
//!   service is in progress): it is folded into the route's start (its place, the time
//!   service there ends, the load after it), so nothing is planned before it. Stops
//!   done are not on the plan at all.
//! - Goods on board (a dropoff without its pickup on the plan) are single stops with a
//!   negative demand, restricted to their driver.
//! - A stop already running late keeps its window "as late as it is now": inserting
//!   before it may not make it later still.

use super::travel::Travel;
use dispatch_plan::insert::{apply, best_in_route, Insertion};
use dispatch_plan::local_search::improve_route;
use dispatch_plan::model::{Node, NodeKind, Problem, Request, Vehicle};
use dispatch_plan::route::Route;
use dispatch_plan::travel::{LatLon, Matrix};
use dispatch_protocol::{Millis, StopKind};
use std::sync::Arc;

/// One stop of a driver's plan, with what the planner needs to schedule it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStop {
    pub order_id: Arc<str>,
    pub kind: StopKind,
    pub lat: f64,
    pub lon: f64,
    pub ready_ms: Option<Millis>,
    pub due_ms: Option<Millis>,
    pub service_s: u32,
    pub size: u32,
}

impl LiveStop {
    /// The stop id drivers report in `stop_done`: `p:<order id>` or `d:<order id>`.
    pub fn stop_id(&self) -> String {
        stop_id(&self.order_id, self.kind)
    }

    fn point(&self) -> (f64, f64) {
        (self.lat, self.lon)
    }
}

pub fn stop_id(order_id: &str, kind: StopKind) -> String {
    match kind {
        StopKind::Pickup => format!("p:{order_id}"),
        StopKind::Dropoff => format!("d:{order_id}"),
    }
}

/// Parses a stop id back into its order id and kind.
pub fn parse_stop_id(stop_id: &str) -> Option<(&str, StopKind)> {
    let (prefix, order) = stop_id.split_at_checked(2)?;
    let kind = match prefix {
        "p:" => StopKind::Pickup,
        "d:" => StopKind::Dropoff,
        _ => return None,
    };
    (!order.is_empty()).then_some((order, kind))
}

/// A driver's plan as regions see it (published by the driver actor after every
/// change; `version` is what a proposal is checked against).
#[derive(Debug, Clone, PartialEq)]
pub struct DriverPlan {
    pub driver_id: Arc<str>,
    pub version: u64,
    pub capacity: u32,
    pub position: (f64, f64),
    pub stops: Vec<LiveStop>,
}

impl DriverPlan {
    /// Units on board now: dropoffs whose pickup is no longer on the plan.
    pub fn load(&self) -> u32 {
        self.stops
            .iter()
            .filter(|s| s.kind == StopKind::Dropoff && !self.has_pickup(&s.order_id))
            .map(|s| s.size)
            .sum()
    }

    fn has_pickup(&self, order_id: &str) -> bool {
        self.stops
            .iter()
            .any(|s| s.kind == StopKind::Pickup && &*s.order_id == order_id)
    }
}

/// An order waiting for a driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub order_id: Arc<str>,
    pub pickup: LiveStop,
    pub dropoff: LiveStop,
    pub priority: i32,
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Improvement iterations per changed route.
    pub improve_iterations: usize,
    /// Routes end within this many seconds (stops without `due_ms` must be done by then).
    pub horizon_s: f64,
    /// A driver this close to its next stop is serving it: that stop is pinned.
    pub pin_radius_m: f64,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            improve_iterations: 100,
            horizon_s: 12.0 * 3600.0,
            pin_radius_m: 150.0,
            seed: 1,
        }
    }
}

/// Why an order found no driver this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDriver {
    NoneNearby,
    TooLarge,
    Windows,
    WindowClosed,
}

impl NoDriver {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoneNearby => "no available driver nearby",
            Self::TooLarge => "order size exceeds the capacity of nearby drivers",
            Self::Windows => "no nearby driver can meet its time windows",
            Self::WindowClosed => "its dropoff window has already closed",
        }
    }
}

/// The plan of one driver after a batch: the whole new stop list and the jobs added.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRoute {
    /// Index into the drivers given to [`assign_batch`].
    pub driver: usize,
    pub stops: Vec<LiveStop>,
    /// Indices into the jobs given to [`assign_batch`].
    pub jobs: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub routes: Vec<NewRoute>,
    pub unassigned: Vec<(usize, NoDriver)>,
}

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
    let rel = |ms: Millis| (ms as f64 - now_ms as f64) / 1000.0;
    let mut live_jobs = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        if job.dropoff.due_ms.is_some_and(|d| rel(d) < 0.0)
            || job.pickup.due_ms.is_some_and(|d| rel(d) < 0.0)
        {
            out.unassigned.push((j, NoDriver::WindowClosed));
        } else if candidates[j].is_empty() {
            out.unassigned.push((j, NoDriver::NoneNearby));
        } else {
            live_jobs.push(j);
        }
    }
    if live_jobs.is_empty() {
        return out;
    }
    let mut used: Vec<usize> = live_jobs
        .iter()
        .flat_map(|&j| candidates[j].iter().copied())
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut b = Builder::new(now_ms, travel, params);
    let mut vehicle_of = vec![usize::MAX; drivers.len()];
    for &d in &used {
        vehicle_of[d] = b.add_driver(d, &drivers[d]);
    }
    let mut job_nodes = vec![(0usize, 0usize); jobs.len()];
    for &j in &live_jobs {
        job_nodes[j] = b.add_job(j, &jobs[j]);
    }
    let Some(mut lp) = b.finish() else {
        // Cannot happen for validated input; never assign on a problem we cannot trust.
        for j in live_jobs {
            out.unassigned.push((j, NoDriver::Windows));
        }
        return out;
    };
    let request = |j: usize| Request {
        first: job_nodes[j].0,
        second: Some(job_nodes[j].1),
    };
    // Regret-2 insertion with cached per-(job, vehicle) costs, refreshed for the one
    // route that changed after each step.
    let mut cost: Vec<Vec<(usize, Option<Insertion>)>> = vec![Vec::new(); jobs.len()];
    for &j in &live_jobs {
        cost[j] = candidates[j]
            .iter()
            .filter_map(|&d| {
                let v = vehicle_of[d];
                let route = lp.routes[v].as_ref()?;
                Some((v, best_in_route(&lp.problem, route, request(j), None)))
            })
            .collect();
    }
    let mut open = live_jobs;
    let mut added: Vec<Vec<usize>> = vec![Vec::new(); lp.routes.len()];
    while !open.is_empty() {
        // Jobs that fit nowhere any more leave the batch.
        let mut k = 0;
        while k < open.len() {
            let j = open[k];
            if cost[j].iter().any(|(_, c)| c.is_some()) {
                k += 1;
                continue;
            }
            open.swap_remove(k);
            let size = jobs[j].pickup.size;
            let fits = candidates[j].iter().any(|&d| drivers[d].capacity >= size);
            out.unassigned.push((
                j,
                if fits {
                    NoDriver::Windows
                } else {
                    NoDriver::TooLarge
                },
            ));
        }
        let mut pick: Option<(f64, usize, usize, Insertion)> = None;
        for (k, &j) in open.iter().enumerate() {
            let mut feasible: Vec<(usize, Insertion)> = cost[j]
                .iter()
                .filter_map(|(v, c)| c.map(|c| (*v, c)))
                .collect();
            feasible.sort_by(|a, b| a.1.cost.total_cmp(&b.1.cost).then(a.0.cmp(&b.0)));
            let (v, best) = feasible[0];
            let regret = feasible
                .get(1)
                .map_or(ONLY_CHOICE, |s| s.1.cost - best.cost)
                + f64::from(jobs[j].priority) * PRIORITY_WEIGHT_M
                - best.cost * 1e-6;
            if pick.as_ref().is_none_or(|(r, ..)| regret > *r) {
                pick = Some((regret, k, v, best));
            }
        }
        let Some((_, k, v, ins)) = pick else { break };
        let j = open.swap_remove(k);
        let route = lp.routes[v].as_mut().expect("candidate routes exist");
        apply(&lp.problem, route, request(j), &ins);
        added[v].push(j);
        let route = lp.routes[v].as_ref().expect("candidate routes exist");
        for &o in &open {
            for entry in cost[o].iter_mut().filter(|(w, _)| *w == v) {
                entry.1 = best_in_route(&lp.problem, route, request(o), None);
            }
        }
    }
    for (v, jobs_added) in added.into_iter().enumerate() {
        if jobs_added.is_empty() {
            continue;
        }
        let route = lp.routes[v].as_mut().expect("changed routes exist");
        improve_route(
            &lp.problem,
            route,
            params.improve_iterations,
            params.seed ^ v as u64,
        );
        let mut stops: Vec<LiveStop> = lp.head[v].iter().cloned().collect();
        stops.extend(
            route
                .stops()
                .iter()
                .map(|&n| lp.node_stop[n].clone().expect("stop node")),
        );
        out.routes.push(NewRoute {
            driver: lp.driver_of[v],
            stops,
            jobs: jobs_added,
        });
    }
    out.unassigned.sort_by_key(|(j, _)| *j);
    out
}

/// Expected service start of every stop, driving from `position` at `now_ms`.
pub fn etas(
    position: (f64, f64),
    stops: &[LiveStop],
    now_ms: Millis,
    travel: &Travel,
) -> Vec<Millis> {
    let mut t = now_ms as f64;
    let mut at = position;
    stops
        .iter()
        .map(|s| {
            t += travel.duration_s(at, s.point(), t as Millis) * 1000.0;
            if let Some(r) = s.ready_ms {
                t = t.max(r as f64);
            }
            let eta = t.round() as Millis;
            t += f64::from(s.service_s) * 1000.0;
            at = s.point();
            eta
        })
        .collect()
}

/// The problem being built, with the maps back to stops.
struct Builder<'a> {
    now_ms: Millis,
    travel: &'a Travel,
    params: &'a Params,
    points: Vec<LatLon>,
    nodes: Vec<Node>,
    node_stop: Vec<Option<LiveStop>>,
    vehicles: Vec<Vehicle>,
    /// Per vehicle: its existing stop nodes (after the pinned head), in order.
    existing: Vec<Vec<usize>>,
    head: Vec<Option<LiveStop>>,
    driver_of: Vec<usize>,
    overfull: Vec<bool>,
}

struct LiveProblem {
    problem: Problem,
    /// Per vehicle: its route, `None` when its current plan could not be rebuilt.
    routes: Vec<Option<Route>>,
    head: Vec<Option<LiveStop>>,
    node_stop: Vec<Option<LiveStop>>,
    driver_of: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn new(now_ms: Millis, travel: &'a Travel, params: &'a Params) -> Self {
        Self {
            now_ms,
            travel,
            params,
            points: Vec::new(),
            nodes: Vec::new(),
            node_stop: Vec::new(),
            vehicles: Vec::new(),
            existing: Vec::new(),
            head: Vec::new(),
            driver_of: Vec::new(),
            overfull: Vec::new(),
        }
    }

    fn rel(&self, ms: Millis) -> f64 {
        (ms as f64 - self.now_ms as f64) / 1000.0
    }

    fn push_node(&mut self, stop: Option<&LiveStop>, at: (f64, f64), node: Node) -> usize {
        let i = self.nodes.len();
        self.points.push(LatLon {
            lat: at.0,
            lon: at.1,
        });
        self.nodes.push(Node { id: i, ..node });
        self.node_stop.push(stop.cloned());
        i
    }

    fn window(&self, s: &LiveStop) -> (f64, f64) {
        let ready = s.ready_ms.map_or(0.0, |r| self.rel(r).max(0.0));
        let due = s.due_ms.map_or(self.params.horizon_s, |d| self.rel(d));
        (ready, due.max(ready))
    }

    /// Adds a driver as a vehicle; returns the vehicle index.
    fn add_driver(&mut self, driver: usize, plan: &DriverPlan) -> usize {
        let v = self.vehicles.len();
        let mut load = i64::from(plan.load());
        let mut start_at = plan.position;
        let mut start_time = 0.0;
        let mut rest: &[LiveStop] = &plan.stops;
        let mut head = None;
        let serving = plan.stops.first().filter(|first| {
            crate::core::geo_util::haversine_m(
                plan.position.0,
                plan.position.1,
                first.lat,
                first.lon,
            ) <= self.params.pin_radius_m
        });
        if let (Some(first), Some((_, tail))) = (serving, plan.stops.split_first()) {
            // The stop being served is pinned: the route starts where and when it ends.
            let eta = etas(
                plan.position,
                std::slice::from_ref(first),
                self.now_ms,
                self.travel,
            )[0];
            start_time = self.rel(eta).max(0.0) + f64::from(first.service_s);
            start_at = first.point();
            load += match first.kind {
                StopKind::Pickup => i64::from(first.size),
                StopKind::Dropoff => -i64::from(first.size),
            };
            head = Some(first.clone());
            rest = tail;
        }
        let depot = self.push_node(
            None,
            start_at,
            Node {
                id: 0,
                kind: NodeKind::Depot,
                demand: 0,
                ready: 0.0,
                due: f64::INFINITY,
                service: 0.0,
                vehicle: None,
            },
        );
        // Current schedule, to relax the windows of stops already running late.
        let mut t = start_time;
        let mut at = start_at;
        let mut nodes = Vec::with_capacity(rest.len());
        let mut pickup_node: Vec<(Arc<str>, usize)> = Vec::new();
        for s in rest {
            let (ready, due) = self.window(s);
            t = (t + self.travel.distance_m(at, s.point()) / self.travel.speed_at(self.now_ms))
                .max(ready);
            let due = due.max(t + 1e-6);
            at = s.point();
            t += f64::from(s.service_s);
            let size = s.size as i32;
            let paired_pickup = pickup_node.iter().position(|(o, _)| *o == s.order_id);
            let kind_demand = match (s.kind, paired_pickup) {
                (StopKind::Pickup, _) => (NodeKind::Single, size), // fixed below once the dropoff is seen
                (StopKind::Dropoff, Some(_)) => (NodeKind::Single, -size),
                (StopKind::Dropoff, None) => (NodeKind::Single, -size),
            };
            let node = self.push_node(
                Some(s),
                s.point(),
                Node {
                    id: 0,
                    kind: kind_demand.0,
                    demand: kind_demand.1,
                    ready,
                    due,
                    service: f64::from(s.service_s),
                    vehicle: Some(v),
                },
            );
            match (s.kind, paired_pickup) {
                (StopKind::Pickup, _) => pickup_node.push((s.order_id.clone(), node)),
                (StopKind::Dropoff, Some(k)) => {
                    let (_, p) = pickup_node.swap_remove(k);
                    self.nodes[p].kind = NodeKind::Pickup { delivery: node };
                    self.nodes[node].kind = NodeKind::Delivery { pickup: p };
                }
                (StopKind::Dropoff, None) => {}
            }
            nodes.push(node);
        }
        // A driver carrying more than its capacity (it cannot happen through the engine,
        // but a plan is data) keeps its plan and gets nothing new.
        self.overfull.push(load > i64::from(plan.capacity));
        let capacity = i64::from(plan.capacity).max(load.max(0));
        self.vehicles.push(Vehicle {
            start: depot,
            end: None,
            start_time,
            shift_end: self.params.horizon_s.max(t + 1.0),
            capacity: capacity as i32,
            start_load: load.max(0) as i32,
            pinned: Vec::new(),
        });
        self.existing.push(nodes);
        self.head.push(head);
        self.driver_of.push(driver);
        v
    }

    fn add_job(&mut self, _j: usize, job: &Job) -> (usize, usize) {
        let (pr, pd) = self.window(&job.pickup);
        let (dr, dd) = self.window(&job.dropoff);
        let size = job.pickup.size as i32;
        let p = self.nodes.len();
        let d = p + 1;
        self.push_node(
            Some(&job.pickup),
            job.pickup.point(),
            Node {
                id: 0,
                kind: NodeKind::Pickup { delivery: d },
                demand: size,
                ready: pr,
                due: pd,
                service: f64::from(job.pickup.service_s),
                vehicle: None,
            },
        );
        self.push_node(
            Some(&job.dropoff),
            job.dropoff.point(),
            Node {
                id: 0,
                kind: NodeKind::Delivery { pickup: p },
                demand: -size,
                ready: dr,
                due: dd,
                service: f64::from(job.dropoff.service_s),
                vehicle: None,
            },
        );
        (p, d)
    }

    fn finish(self) -> Option<LiveProblem> {
        let matrix = Matrix::from_points(&self.points, &self.travel.planner_model(self.now_ms));
        let mut nodes = self.nodes;
        // Paired existing stops are free to move between each other but stay on their
        // driver: a pair's vehicle restriction is carried by its pickup only.
        for n in nodes.iter_mut() {
            if let NodeKind::Pickup { .. } | NodeKind::Delivery { .. } = n.kind {
                n.vehicle = None;
            }
        }
        let problem = Problem::new_for_insertion("live", nodes, self.vehicles, matrix).ok()?;
        let routes = self
            .existing
            .iter()
            .enumerate()
            .map(|(v, stops)| {
                if self.overfull[v] {
                    None
                } else {
                    Route::from_stops(&problem, v, stops)
                }
            })
            .collect();
        Some(LiveProblem {
            problem,
            routes,
            head: self.head,
            node_stop: self.node_stop,
            driver_of: self.driver_of,
        })
    }
}

/// An order the periodic rebalance would move: off driver `from` (its plan's version
/// is the one the move was computed on) onto `to`, saving `gain_m` metres net.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub order_id: Arc<str>,
    pub from: usize,
    pub to: usize,
    pub gain_m: f64,
}

/// Moves not-yet-picked-up orders between drivers while that lowers the total
/// distance by more than `margin_m` per move (at most `max_moves`). `movable` lists
/// `(driver, order id, receivers)`: an order on that driver's plan that may move, and
/// the drivers that may take it. An order whose pickup is its driver's next stop never
/// moves (no flip-flopping where a driver is heading).
pub fn rebalance(
    drivers: &[Arc<DriverPlan>],
    movable: &[(usize, Arc<str>, Vec<usize>)],
    now_ms: Millis,
    travel: &Travel,
    params: &Params,
    margin_m: f64,
    max_moves: usize,
) -> Vec<Move> {
    let mut used: Vec<usize> = movable
        .iter()
        .flat_map(|(d, _, r)| std::iter::once(*d).chain(r.iter().copied()))
        .collect();
    used.sort_unstable();
    used.dedup();
    if used.len() < 2 {
        return Vec::new();
    }
    let mut b = Builder::new(now_ms, travel, params);
    let mut vehicle_of = vec![usize::MAX; drivers.len()];
    for &d in &used {
        vehicle_of[d] = b.add_driver(d, &drivers[d]);
    }
    let Some(mut lp) = b.finish() else {
        return Vec::new();
    };
    // The request (pickup node) of each movable order on its driver's route.
    let mut options: Vec<(usize, Request, Arc<str>, Vec<usize>)> = Vec::new();
    for (d, order_id, receivers) in movable {
        if drivers[*d]
            .stops
            .first()
            .is_some_and(|s| s.order_id == *order_id)
        {
            continue;
        }
        let v = vehicle_of[*d];
        let Some(route) = lp.routes[v].as_ref() else {
            continue;
        };
        let pickup = route.stops().iter().copied().find(|&n| {
            lp.node_stop[n]
                .as_ref()
                .is_some_and(|s| s.kind == StopKind::Pickup && s.order_id == *order_id)
        });
        let Some(pickup) = pickup else { continue };
        let ri = lp.problem.request_of[pickup];
        if ri == dispatch_plan::model::NONE {
            continue;
        }
        let to: Vec<usize> = receivers
            .iter()
            .map(|&r| vehicle_of[r])
            .filter(|&w| w != v && lp.routes[w].is_some())
            .collect();
        options.push((v, lp.problem.requests[ri], order_id.clone(), to));
    }
    let mut moves = Vec::new();
    let mut moved = vec![false; options.len()];
    while moves.len() < max_moves {
        let mut best: Option<(f64, usize, usize, Insertion)> = None;
        for (k, (v, req, _, to)) in options.iter().enumerate() {
            if moved[k] {
                continue;
            }
            let from = lp.routes[*v].as_ref().expect("checked");
            let mut without = from.clone();
            let nodes: Vec<usize> = req.nodes().collect();
            without.remove_nodes(&lp.problem, &nodes);
            let saving = from.distance - without.distance;
            for &w in to {
                let Some(ins) = best_in_route(
                    &lp.problem,
                    lp.routes[w].as_ref().expect("checked"),
                    *req,
                    None,
                ) else {
                    continue;
                };
                let gain = saving - ins.cost;
                if gain > margin_m && best.as_ref().is_none_or(|(g, ..)| gain > *g) {
                    best = Some((gain, k, w, ins));
                }
            }
        }
        let Some((gain, k, w, ins)) = best else { break };
        let (v, req, order_id, _) = &options[k];
        let nodes: Vec<usize> = req.nodes().collect();
        lp.routes[*v]
            .as_mut()
            .expect("checked")
            .remove_nodes(&lp.problem, &nodes);
        apply(
            &lp.problem,
            lp.routes[w].as_mut().expect("checked"),
            *req,
            &ins,
        );
        moved[k] = true;
        moves.push(Move {
            order_id: order_id.clone(),
            from: lp.driver_of[*v],
            to: lp.driver_of[w],
            gain_m: gain,
        });
    }
    moves
}
