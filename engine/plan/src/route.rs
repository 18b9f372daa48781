//! A route with its cached schedule, and a solution (one route per vehicle).
//!
//! `seq` is `[start, stops..., end]`. For every position `k` the route caches the
//! earliest service start `start[k]`, the latest service start `latest[k]` that keeps the
//! rest of the route feasible (forward time slack in its backward form), the load after
//! the stop and suffix max/min loads: with these, one insertion position is checked in
//! O(1).

use crate::check::RoutePlan;
use crate::model::{Problem, NONE};

#[derive(Debug, Default)]
pub struct Route {
    pub vehicle: usize,
    /// `[start, stops..., end]` as node indices.
    pub seq: Vec<usize>,
    /// Number of pinned stops (they follow `seq[0]`).
    pub n_pinned: usize,
    /// The vehicle is at work whatever this route holds (see [`Problem::set_working`]).
    pub working: bool,
    pub(crate) start: Vec<f64>,
    pub(crate) latest: Vec<f64>,
    pub(crate) load: Vec<i32>,
    pub(crate) smax: Vec<i32>,
    pub(crate) smin: Vec<i32>,
    /// Total distance, start to end.
    pub distance: f64,
}

impl Clone for Route {
    fn clone(&self) -> Self {
        let mut r = Route::default();
        r.clone_from(self);
        r
    }
    fn clone_from(&mut self, o: &Self) {
        self.vehicle = o.vehicle;
        self.seq.clone_from(&o.seq);
        self.n_pinned = o.n_pinned;
        self.working = o.working;
        self.start.clone_from(&o.start);
        self.latest.clone_from(&o.latest);
        self.load.clone_from(&o.load);
        self.smax.clone_from(&o.smax);
        self.smin.clone_from(&o.smin);
        self.distance = o.distance;
    }
}

impl Route {
    /// The route of `vehicle` with only its pinned stops.
    pub fn new(p: &Problem, vehicle: usize) -> Route {
        let veh = &p.vehicles[vehicle];
        let mut seq = Vec::with_capacity(veh.pinned.len() + 2);
        seq.push(veh.start);
        seq.extend_from_slice(&veh.pinned);
        seq.push(p.end_node(vehicle));
        let mut r = Route {
            vehicle,
            seq,
            n_pinned: veh.pinned.len(),
            working: p.working[vehicle],
            ..Route::default()
        };
        r.update(p);
        r
    }

    /// The route of `vehicle` visiting `stops` (pinned stops first), e.g. a driver's current
    /// plan. Returns `None` when the pinned prefix is not kept or the schedule is
    /// infeasible.
    pub fn from_stops(p: &Problem, vehicle: usize, stops: &[usize]) -> Option<Route> {
        let mut r = Route::new(p, vehicle);
        if stops.len() < r.n_pinned || stops[..r.n_pinned] != r.seq[1..1 + r.n_pinned] {
            return None;
        }
        if stops.iter().any(|&s| s >= p.nodes.len()) {
            return None;
        }
        let end = r.seq[r.seq.len() - 1];
        r.seq.truncate(1);
        r.seq.extend_from_slice(stops);
        r.seq.push(end);
        r.update(p);
        r.is_feasible(p).then_some(r)
    }

    /// Stops (pinned included), start and end excluded.
    pub fn stops(&self) -> &[usize] {
        &self.seq[1..self.seq.len() - 1]
    }

    /// Stops the planner may move.
    pub fn free_stops(&self) -> &[usize] {
        &self.seq[1 + self.n_pinned..self.seq.len() - 1]
    }

    pub fn is_empty(&self) -> bool {
        self.seq.len() == 2
    }

    /// Whether the route's vehicle counts as used: it has stops, or it is at work anyway.
    pub fn in_use(&self) -> bool {
        self.working || !self.is_empty()
    }

    pub fn len(&self) -> usize {
        self.seq.len() - 2
    }

    /// Whether the cached schedule is feasible (routes built by the planner always are).
    pub fn is_feasible(&self, p: &Problem) -> bool {
        let cap = p.vehicles[self.vehicle].capacity;
        (0..self.seq.len()).all(|k| self.start[k] <= self.latest[k])
            && self.smax[0] <= cap
            && self.smin[0] >= 0
    }

    /// Service start at each position of `seq` (the start's departure first, the
    /// arrival at the end last).
    pub fn schedule(&self) -> &[f64] {
        &self.start
    }

    /// Arrival time at the end of the route.
    pub fn end_time(&self) -> f64 {
        self.start[self.seq.len() - 1]
    }

    /// Recomputes the cached schedule after `seq` changed. O(length).
    pub fn update(&mut self, p: &Problem) {
        let n = self.seq.len();
        let veh = &p.vehicles[self.vehicle];
        let m = &p.matrix;
        self.start.resize(n, 0.0);
        self.latest.resize(n, 0.0);
        self.load.resize(n, 0);
        self.smax.resize(n, 0);
        self.smin.resize(n, 0);
        self.start[0] = veh.start_time;
        self.load[0] = veh.start_load;
        let mut dist = 0.0;
        for k in 1..n {
            let (a, b) = (self.seq[k - 1], self.seq[k]);
            let arr = p.arrival_at(a, self.start[k - 1] + p.service[a], b);
            self.start[k] = if k + 1 == n { arr } else { arr.max(p.ready[b]) };
            self.load[k] = self.load[k - 1] + p.demand[b];
            dist += m.dist(a, b);
        }
        self.distance = dist;
        self.latest[n - 1] = veh.shift_end;
        self.smax[n - 1] = self.load[n - 1];
        self.smin[n - 1] = self.load[n - 1];
        for k in (0..n - 1).rev() {
            let (a, b) = (self.seq[k], self.seq[k + 1]);
            let l = self.latest[k + 1] - m.time(a, b) - p.service[a];
            self.latest[k] = if k == 0 { l } else { l.min(p.due[a]) };
            self.smax[k] = self.smax[k + 1].max(self.load[k]);
            self.smin[k] = self.smin[k + 1].min(self.load[k]);
        }
    }

    /// Removes the given nodes (free stops) and updates the cache.
    pub fn remove_nodes(&mut self, p: &Problem, nodes: &[usize]) {
        self.seq.retain(|x| !nodes.contains(x));
        self.update(p);
    }

    pub fn plan(&self) -> RoutePlan {
        RoutePlan {
            vehicle: self.vehicle,
            stops: self.stops().to_vec(),
        }
    }
}

/// One route per vehicle (unused vehicles have empty routes) and the requests not served.
#[derive(Debug, Default)]
pub struct Solution {
    pub routes: Vec<Route>,
    /// Request indices not in any route.
    pub unassigned: Vec<usize>,
    /// Node → route index, or [`NONE`].
    pub route_of: Vec<usize>,
}

impl Clone for Solution {
    fn clone(&self) -> Self {
        let mut s = Solution::default();
        s.clone_from(self);
        s
    }
    fn clone_from(&mut self, o: &Self) {
        self.routes.clone_from(&o.routes);
        self.unassigned.clone_from(&o.unassigned);
        self.route_of.clone_from(&o.route_of);
    }
}

impl Solution {
    /// Every vehicle with its pinned stops only; every request unassigned.
    pub fn empty(p: &Problem) -> Solution {
        let routes: Vec<Route> = (0..p.vehicles.len()).map(|v| Route::new(p, v)).collect();
        let mut route_of = vec![NONE; p.nodes.len()];
        for (r, route) in routes.iter().enumerate() {
            for &s in route.stops() {
                route_of[s] = r;
            }
        }
        Solution {
            routes,
            unassigned: (0..p.requests.len()).collect(),
            route_of,
        }
    }

    /// A solution of the given routes (one per vehicle, in vehicle order); every
    /// request on none of them is unassigned.
    pub fn from_routes(p: &Problem, routes: Vec<Route>) -> Solution {
        let mut route_of = vec![NONE; p.nodes.len()];
        for (r, route) in routes.iter().enumerate() {
            for &s in route.stops() {
                route_of[s] = r;
            }
        }
        let unassigned = (0..p.requests.len())
            .filter(|&rq| route_of[p.requests[rq].first] == NONE)
            .collect();
        Solution {
            routes,
            unassigned,
            route_of,
        }
    }

    pub fn distance(&self) -> f64 {
        self.routes.iter().map(|r| r.distance).sum::<f64>()
            - self
                .routes
                .iter()
                .filter(|r| r.is_empty())
                .map(|r| r.distance)
                .sum::<f64>()
    }

    /// Vehicles used: routes with at least one stop, and vehicles at work anyway.
    pub fn vehicles(&self) -> usize {
        self.routes.iter().filter(|r| r.in_use()).count()
    }

    /// Hierarchical objective: fewer unassigned, then fewer vehicles, then distance.
    pub fn better_than(&self, o: &Solution) -> bool {
        (self.unassigned.len(), self.vehicles())
            .cmp(&(o.unassigned.len(), o.vehicles()))
            .then(self.distance().total_cmp(&o.distance()))
            .is_lt()
    }

    pub fn plans(&self) -> Vec<RoutePlan> {
        self.routes
            .iter()
            .filter(|r| !r.is_empty())
            .map(Route::plan)
            .collect()
    }
}
