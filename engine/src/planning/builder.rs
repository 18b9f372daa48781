//! The planner problem of a batch or a rebalance: drivers' current plans as vehicles
//! with their existing stops, new jobs as free pickup/delivery pairs, and the maps from
//! planner nodes and vehicles back to stops and drivers.

use super::{etas, DriverPlan, Job, LiveStop, Params};
use crate::planning::travel::Travel;
use dispatch_plan::model::{Node, NodeKind, Problem, Vehicle};
use dispatch_plan::route::Route;
use dispatch_plan::travel::LatLon;
use dispatch_protocol::{Millis, StopKind};
use std::sync::Arc;

/// The problem being built, with the maps back to stops.
pub(super) struct Builder<'a> {
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
    /// Existing pairs stay with their driver (a batch search moves new jobs only).
    keep_existing: bool,
}

pub(super) struct LiveProblem {
    pub problem: Problem,
    /// Per vehicle: its route, `None` when its current plan could not be rebuilt.
    pub routes: Vec<Option<Route>>,
    /// Per vehicle: the stop being served, folded into the route's start.
    pub head: Vec<Option<LiveStop>>,
    pub node_stop: Vec<Option<LiveStop>>,
    pub driver_of: Vec<usize>,
}

impl LiveProblem {
    /// Vehicle `v`'s whole stop list for its driver: the stop being served (folded into
    /// the start), then `route`'s stops.
    pub fn stops_of(&self, v: usize, route: &Route) -> Vec<LiveStop> {
        self.head[v]
            .iter()
            .cloned()
            .chain(
                route
                    .stops()
                    .iter()
                    .filter_map(|&n| self.node_stop.get(n).cloned().flatten()),
            )
            .collect()
    }
}

/// Where and when a driver's route starts: at its position now, or where the stop it
/// is serving ends (that stop is the `head`, the rest of the plan follows).
struct Start<'p> {
    at: (f64, f64),
    time: f64,
    load: i64,
    head: Option<&'p LiveStop>,
    rest: &'p [LiveStop],
}

impl<'a> Builder<'a> {
    /// A builder holding the drivers `used` (indices into `drivers`) as vehicles, and
    /// driver → vehicle index (`usize::MAX` for drivers not used).
    pub fn with_drivers(
        drivers: &[Arc<DriverPlan>],
        used: &[usize],
        now_ms: Millis,
        travel: &'a Travel,
        params: &'a Params,
    ) -> (Self, Vec<usize>) {
        let mut b = Self {
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
            keep_existing: false,
        };
        let mut vehicle_of = vec![usize::MAX; drivers.len()];
        for &d in used {
            vehicle_of[d] = b.add_driver(d, &drivers[d]);
        }
        (b, vehicle_of)
    }

    /// Existing pairs stay with their driver, also in a search (their pickup keeps the
    /// driver's vehicle restriction).
    pub fn keep_existing(&mut self) {
        self.keep_existing = true;
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
        let start = self.start_of(plan);
        // Drivers starting at the same point and time (idle at a depot at the start of
        // a shift) share one start node: the planner then sees them as interchangeable
        // and tries one empty route instead of each of theirs.
        let shared = self.vehicles.iter().find(|other| {
            let at = &self.points[other.start];
            other.start_time == start.time && at.lat == start.at.0 && at.lon == start.at.1
        });
        let depot = match shared {
            Some(other) => other.start,
            None => self.push_depot(start.at),
        };
        let (nodes, end_time) = self.push_existing(v, &start);
        let load = start.load;
        // A driver carrying more than its capacity (it cannot happen through the engine,
        // but a plan is data) keeps its plan and gets nothing new.
        self.overfull.push(load > i64::from(plan.capacity));
        let capacity = i64::from(plan.capacity).max(load.max(0));
        self.vehicles.push(Vehicle {
            start: depot,
            end: None,
            start_time: start.time,
            shift_end: self.params.horizon_s.max(end_time + 1.0),
            capacity: capacity as i32,
            start_load: load.max(0) as i32,
            pinned: Vec::new(),
        });
        self.existing.push(nodes);
        self.head.push(start.head.cloned());
        self.driver_of.push(driver);
        v
    }

    /// A start node (where a vehicle's route begins).
    fn push_depot(&mut self, at: (f64, f64)) -> usize {
        self.push_node(
            None,
            at,
            Node {
                id: 0,
                kind: NodeKind::Depot,
                demand: 0,
                ready: 0.0,
                due: f64::INFINITY,
                service: 0.0,
                vehicle: None,
            },
        )
    }

    /// The start of `plan`'s route: a driver within `pin_radius_m` of its next stop is
    /// serving it, so that stop is pinned and the route starts where and when it ends.
    fn start_of<'p>(&self, plan: &'p DriverPlan) -> Start<'p> {
        let mut start = Start {
            at: plan.position,
            time: 0.0,
            load: i64::from(plan.load()),
            head: None,
            rest: &plan.stops,
        };
        let serving = plan.stops.first().filter(|first| {
            crate::core::geo_util::haversine_m(
                plan.position.0,
                plan.position.1,
                first.lat,
                first.lon,
            ) <= self.params.pin_radius_m
        });
        if let (Some(first), Some((_, tail))) = (serving, plan.stops.split_first()) {
            // Service started on arrival (or at the window's opening), so it ends that
            // long after; never before now, as the stop is not done yet.
            let serving_from = match plan.arrived_ms {
                Some(arrived) => arrived.max(first.ready_ms.unwrap_or(0)),
                None => etas(
                    plan.position,
                    std::slice::from_ref(first),
                    self.now_ms,
                    self.travel,
                )[0],
            };
            start.time = (self.rel(serving_from) + f64::from(first.service_s)).max(0.0);
            start.at = first.point();
            start.load += match first.kind {
                StopKind::Pickup => i64::from(first.size),
                StopKind::Dropoff => -i64::from(first.size),
            };
            start.head = Some(first);
            start.rest = tail;
        }
        start
    }

    /// Adds the stops of `start.rest` as nodes restricted to vehicle `v`: a pickup and
    /// its dropoff become a pair, a dropoff alone (goods on board) a single stop with a
    /// negative demand. Returns the nodes in order and when the current schedule ends.
    fn push_existing(&mut self, v: usize, start: &Start) -> (Vec<usize>, f64) {
        // Current schedule, to relax the windows of stops already running late.
        let mut t = start.time;
        let mut at = start.at;
        let mut nodes = Vec::with_capacity(start.rest.len());
        let mut pickup_node: Vec<(Arc<str>, usize)> = Vec::new();
        for s in start.rest {
            let (ready, due) = self.window(s);
            t = (t + self.travel.duration_s(at, s.point(), self.now_ms)).max(ready);
            let due = due.max(t + 1e-6);
            at = s.point();
            t += f64::from(s.service_s);
            let size = s.size as i32;
            // Single until its pair is known (fixed below once the dropoff is seen).
            let demand = match s.kind {
                StopKind::Pickup => size,
                StopKind::Dropoff => -size,
            };
            let node = self.push_node(
                Some(s),
                s.point(),
                Node {
                    id: 0,
                    kind: NodeKind::Single,
                    demand,
                    ready,
                    due,
                    service: f64::from(s.service_s),
                    vehicle: Some(v),
                },
            );
            let paired_pickup = pickup_node.iter().position(|(o, _)| *o == s.order_id);
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
        (nodes, t)
    }

    /// Adds a job as a free pickup/delivery pair; returns its two nodes.
    pub fn add_job(&mut self, job: &Job) -> (usize, usize) {
        let size = job.pickup.size as i32;
        let p = self.nodes.len();
        let d = p + 1;
        self.push_free_stop(&job.pickup, NodeKind::Pickup { delivery: d }, size);
        self.push_free_stop(&job.dropoff, NodeKind::Delivery { pickup: p }, -size);
        (p, d)
    }

    /// A stop of a new job: any vehicle may serve it, within its own window.
    fn push_free_stop(&mut self, s: &LiveStop, kind: NodeKind, demand: i32) -> usize {
        let (ready, due) = self.window(s);
        self.push_node(
            Some(s),
            s.point(),
            Node {
                id: 0,
                kind,
                demand,
                ready,
                due,
                service: f64::from(s.service_s),
                vehicle: None,
            },
        )
    }

    /// The problem and every vehicle's current route; `None` when the planner refuses
    /// the problem.
    pub fn finish(self) -> Option<LiveProblem> {
        self.finish_for(false)
    }

    /// [`finish`](Self::finish) with the neighbour lists the ruin-and-recreate search
    /// reads (`search`: for re-optimisation).
    pub fn finish_for(self, search: bool) -> Option<LiveProblem> {
        let matrix = self.travel.matrix(&self.points, self.now_ms);
        let mut nodes = self.nodes;
        // Existing pairs (not picked up) are free requests: a batch only inserts new
        // ones, so they stay where `existing` puts them, and a re-optimisation may move
        // them to another driver; a batch search keeps them (their pickup carries the
        // restriction). Goods on board (single dropoffs) stay restricted.
        for n in nodes.iter_mut() {
            match n.kind {
                NodeKind::Pickup { .. } if self.keep_existing => {}
                NodeKind::Pickup { .. } | NodeKind::Delivery { .. } => n.vehicle = None,
                _ => {}
            }
        }
        let mut problem = if search {
            Problem::new("live", nodes, self.vehicles, matrix).ok()?
        } else {
            Problem::new_for_insertion("live", nodes, self.vehicles, matrix).ok()?
        };
        // A driver serving a stop works whatever else it is given.
        for (v, head) in self.head.iter().enumerate() {
            if head.is_some() {
                problem.set_working(v);
            }
        }
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
